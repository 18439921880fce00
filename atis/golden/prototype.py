"""Query prototypes programmed into the OTA array (seed §3.2 (a) learned static; §5.2 heads); the RC moving
average (b) is analog and lives in ``atis.analog_models.prototype``.

Prototypes live in the projected space (m dims, the DAC's units: code minus mid-scale). All sources return a float
array ``q[H, m]``; :func:`group_weights` averages heads into the G scoring circuits (consensus, seed §5.2 (a)) and
normalizes each to ``max |w| = 1`` (the full-scale floating-gate current).
"""
from __future__ import annotations

import numpy as np

from ..config import ConfigError, PrototypeConfig

__all__ = ["mean_query", "least_squares_prototype", "load_prototypes", "group_weights"]


def mean_query(queries: np.ndarray) -> np.ndarray:
    """Learned static prototype as the mean of calibration queries ``[N, m]`` or ``[N, H, m]`` -> ``[H, m]``."""
    q = np.asarray(queries, dtype=np.float64)
    return np.atleast_2d(q.mean(axis=0))


def least_squares_prototype(keys: np.ndarray, attention: np.ndarray, ridge: float = 1e-6) -> np.ndarray:
    """Prototype whose score ``k·q`` best predicts the attention a token receives (ridge least squares).

    ``keys[N, m]`` projected tokens, ``attention[N]`` or ``[N, H]`` attention received -> ``q[H, m]``.
    """
    k = np.asarray(keys, dtype=np.float64)
    a = np.asarray(attention, dtype=np.float64).reshape(len(k), -1)
    gram = k.T @ k
    gram += ridge * (np.trace(gram) / len(gram) + 1e-12) * np.eye(len(gram))
    return np.linalg.solve(gram, k.T @ a).T


def load_prototypes(cfg: PrototypeConfig, m: int, heads: int) -> np.ndarray:
    """``q[heads, m]`` from the configured source (errors name ``fpaa.prototype.file``)."""
    if cfg.source == "random":
        q = np.random.default_rng(cfg.seed).standard_normal((heads, m))
    else:
        from ..npz import read_npz
        npz = read_npz(cfg.file, "fpaa.prototype.file")
        if cfg.source == "file":
            q = np.atleast_2d(npz.floats("q", ndims=(1, 2)))
        elif cfg.source == "mean":
            q = mean_query(npz.floats("queries", ndims=(2, 3)))
        else:
            keys = npz.floats("keys", ndims=(2,))
            att = npz.floats("attention", ndims=(1, 2))
            if len(att) != len(keys):
                raise ConfigError(f"fpaa.prototype.file: attention has {len(att)} rows, keys {len(keys)}")
            q = least_squares_prototype(keys, att)
    if q.shape != (heads, m):
        raise ConfigError(f"fpaa.prototype.file: prototypes have shape {list(q.shape)}, expected "
                          f"[fpaa.heads.count, projection.m] = [{heads}, {m}]")
    return q


def group_weights(q: np.ndarray, groups: int) -> np.ndarray:
    """Average the H head prototypes into ``groups`` circuits and normalize each row to max |w| = 1."""
    heads, m = q.shape
    w = q.reshape(groups, heads // groups, m).mean(axis=1)
    peak = np.abs(w).max(axis=1, keepdims=True)
    return np.divide(w, peak, out=np.zeros_like(w), where=peak > 0)
