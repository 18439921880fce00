"""Comparators with hysteresis and the three ways of setting θ (seed §3.4).

One comparator per scoring circuit, comparing the score ``v`` (TIA output above its zero-current level, so θ is an
importance level and "5-10 % of θ" is relative to it). With the output low it fires when ``v > θ + vos + h/2``;
with the output high it releases when ``v < θ + vos - h/2``; in between it holds (``h = hysteresis_frac · |θ|``,
state kept between tokens). θ modes:

* ``fixed``: θ = ``theta_V``.
* ``target``: θ such that ``keep_target`` of a reference token set is kept (:meth:`ComparatorBank.fit_quantile`).
* ``adaptive``: an RC low-pass of the comparator output (time constant ``activity_tau_tokens``) is the activity
  ``a``; θ integrates ``adapt_rate_V · (a - keep_target)`` per token, so too many keeps raise θ and too few lower
  it until the keep rate equals the target (integral action: no steady-state error).
"""
from __future__ import annotations

import numpy as np

from atis.config import ComparatorConfig

__all__ = ["ComparatorBank", "hysteresis"]


def hysteresis(v: np.ndarray, falling: np.ndarray, rising: np.ndarray, state: np.ndarray) -> np.ndarray:
    """Outputs ``[N, G]`` of hysteretic comparators with fixed thresholds, vectorized.

    A token above ``rising`` sets the output, below ``falling`` clears it, anything else repeats the previous
    output: so each output is the last decisive token's verdict (or ``state`` if none yet).
    """
    falling, rising, state = (np.broadcast_to(x, v.shape[1:]) for x in (falling, rising, state))
    out = np.empty(v.shape, dtype=bool)
    steps = np.arange(len(v))
    for g in range(v.shape[1]):          # column by column: 1-D gathers are ~7x cheaper than take_along_axis
        above = v[:, g] > rising[g]
        last = np.where(above | (v[:, g] < falling[g]), steps, -1)
        np.maximum.accumulate(last, out=last)
        first = int(np.searchsorted(last, 0))        # tokens before the first decisive one keep ``state``
        out[:first, g] = state[g]
        out[first:, g] = above[last[first:]]
    return out


class ComparatorBank:
    """G comparators: per-comparator offset (seeded), θ, output state and activity."""

    def __init__(self, cfg: ComparatorConfig, circuits: int, rng: np.random.Generator):
        self.cfg = cfg
        self.offset = rng.normal(0.0, cfg.offset_mV * 1e-3, size=circuits)
        self.theta = np.full(circuits, cfg.theta_V)
        self.output = np.zeros(circuits, dtype=bool)
        self.activity = np.full(circuits, cfg.keep_target)
        self._trimmed = self.theta.copy()

    def thresholds(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(falling, rising) trip points including offset and the hysteresis band."""
        half = 0.5 * self.cfg.hysteresis_frac * np.abs(theta)
        return theta + self.offset - half, theta + self.offset + half

    def run(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Compare TIA outputs ``v[N, G]`` token by token; returns outputs and the θ each token saw."""
        if self.cfg.threshold == "adaptive":
            return self._run_adaptive(v)
        falling, rising = self.thresholds(self.theta)
        fired = hysteresis(v, falling, rising, self.output)
        if len(v):
            self.output = fired[-1].copy()
        return fired, np.broadcast_to(self.theta, v.shape)

    def _run_adaptive(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # θ depends on earlier outputs, so this is a scalar recurrence; plain floats keep it fast.
        cfg = self.cfg
        alpha = 1.0 - float(np.exp(-1.0 / cfg.activity_tau_tokens))
        fired = np.empty(v.shape, dtype=bool)
        seen = np.empty(v.shape)
        for g in range(v.shape[1]):
            out, theta, act = bool(self.output[g]), float(self.theta[g]), float(self.activity[g])
            offset, frac = float(self.offset[g]), 0.5 * cfg.hysteresis_frac
            target, rate = cfg.keep_target, cfg.adapt_rate_V
            col_fired, col_theta = [], []
            for x in v[:, g].tolist():
                half = frac * abs(theta)
                out = x >= theta + offset - half if out else x > theta + offset + half
                col_fired.append(out)
                col_theta.append(theta)
                act += alpha * (out - act)
                theta += rate * (act - target)
            fired[:, g], seen[:, g] = col_fired, col_theta
            self.output[g], self.theta[g], self.activity[g] = out, theta, act
        return fired, seen

    def fit_quantile(self, v: np.ndarray, keep: float, consensus_k: int) -> None:
        """Set θ so that ``keep`` of the reference outputs ``v[N, G]``, run in order through the comparators
        (hysteresis included, starting low), pass the k-of-G consensus — a measured trim, so the comparator's own
        offset is trimmed out. All comparators sit at one per-circuit quantile ``p`` of ``v``, bisected."""
        def theta_at(p: float) -> np.ndarray:
            return np.quantile(v, 1.0 - p, axis=0) - self.offset

        def kept(p: float) -> float:
            falling, rising = self.thresholds(theta_at(p))
            fired = hysteresis(v, falling, rising, np.zeros(v.shape[1], dtype=bool))
            return float(np.mean(fired.sum(axis=1) >= consensus_k))

        lo, hi = 0.0, 1.0
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if kept(mid) < keep else (lo, mid)
        self.theta = theta_at(hi)
        self._trimmed = self.theta.copy()

    def reset(self) -> None:
        """Power-on state: outputs low, activity at the target, θ back to its trimmed value (``adaptive`` moves it)."""
        self.output[:] = False
        self.activity[:] = self.cfg.keep_target
        self.theta = self._trimmed.copy()
