"""The one first-order RC recurrence the analog models share (DAC settling, EMA prototype)."""
from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

__all__ = ["rc_track"]


def rc_track(targets: np.ndarray, start: np.ndarray, a: float) -> tuple[np.ndarray, np.ndarray]:
    """Node driven toward ``targets[n]`` for one step each, keeping fraction ``a`` of its distance per step:
    x[n+1] = a·x[n] + (1 - a)·targets[n], x[0] = ``start``.

    Returns the node value just before each step (``x[0..N-1]``, shape of ``targets``) and after the last (x[N]).
    """
    if len(targets) == 0:
        return targets.copy(), start
    after, _ = lfilter([1.0 - a], [1.0, -a], targets, axis=0, zi=(a * start)[None])
    return np.concatenate([start[None], after[:-1]], axis=0), after[-1]
