"""The RC moving-average query prototype, seed §3.2 (b): a capacitor per OTA weight tracks recent queries.

The static prototypes (file, mean, least squares, random) and their grouping are in ``atis.golden.prototype``.
"""
from __future__ import annotations

import numpy as np

from .rc import rc_track

__all__ = ["ema_prototypes"]


def ema_prototypes(queries: np.ndarray, start: np.ndarray, tau_tokens: float) -> tuple[np.ndarray, np.ndarray]:
    """RC low-pass of a query stream, seed §3.2 (b): the prototype seen by token n averages queries 0..n-1.

    ``queries[N, G, m]``, ``start[G, m]`` (capacitor state before token 0) -> per-token prototypes ``[N, G, m]``
    and the state after the last token.
    """
    return rc_track(queries, start, float(np.exp(-1.0 / tau_tokens)))
