"""Golden model of the keep-rate watchdog (``hdl.keep_watchdog``), token by token, integer semantics.

Per window (at most W tokens) two counters: ``kept`` and ``dropped``; across windows the length of the current
run of equal keep bits. After each token:

* ``kept > hi_count`` (``hi_count = floor(keep_hi·W)``): the window's kept fraction is already above the band:
  status ``HIGH``;
* ``dropped > W − lo_count`` (``lo_count = ceil(keep_lo·W)``): it can no longer reach the band: status ``LOW``;
* a run of ``run`` equal keep bits (``run`` > 0): status ``HIGH`` (all kept) or ``LOW`` (all dropped) at once;
* any of these, or W tokens counted: the window ends (both counters restart with the next token); a trip also
  restarts the run.

So a window's verdict is reached as soon as it is certain, and equals "kept fraction of W tokens outside [keep_lo,
keep_hi]". ``LOW``/``HIGH`` are sticky until a clear (which also restarts the window); ``TRIPPED`` = either.
Windows are fixed, not sliding: a comparator stuck at 1 trips within ``2·hi_count + 1`` tokens of its onset, one
stuck at 0 within ``2·drop_limit + 1`` (the rest of the current window, then at most a whole window's limit), and
within ``run`` tokens when the run check is on;
a fault that only moves the kept fraction out of the band trips once a whole window falls after its onset, i.e.
within about 2·W tokens, with the binomial spread of W tokens deciding at the band's edge.

With ``keep_all``, every token *after* the one that tripped leaves with keep = 1 (``KEEP_ALL`` in the status). The
watchdog goes on counting the raw keep bits. A clear (the host has re-trimmed) does not end the fallback at once: it
ends after the first *whole* window after the clear that stays in the band (probation). So a fault that outlives
the re-trim (a stuck comparator) trips again before any token is pruned by it; a repaired one costs one window of
unpruned tokens.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import AtisConfig

__all__ = ["WatchdogSpec", "band_counts", "WatchdogTrace", "resolve_watchdog", "watchdog_trace", "TRIPPED", "LOW",
           "HIGH", "KEEP_ALL", "STATUS_BITS"]

#: Status bits (the host's STATUS answer, ``atis.protocol``).
TRIPPED, LOW, HIGH, KEEP_ALL = 1, 2, 4, 8
STATUS_BITS = 4


@dataclass(frozen=True)
class WatchdogSpec:
    """W, the band as integer counts of a window, and the fallback (keep-all, or a recalibration request only)."""
    window: int
    lo_count: int
    hi_count: int
    keep_all: bool
    run: int = 0            # equal keep bits in a row that trip at once (0: no run check)

    def __post_init__(self):
        if not 1 <= self.window < 1 << 16:
            raise ValueError(f"watchdog window = {self.window!r}: must be in 1..65535")
        if not 0 <= self.lo_count <= self.hi_count <= self.window:
            raise ValueError(f"watchdog band {self.lo_count}..{self.hi_count}: must satisfy 0 <= lo <= hi <= "
                             f"window ({self.window})")
        if self.run == 1 or not 0 <= self.run < 1 << 16:
            raise ValueError(f"watchdog run = {self.run!r}: must be 0 (off) or 2..65535")

    @property
    def drop_limit(self) -> int:
        """More dropped tokens than this in a window: its kept count ends below ``lo_count``."""
        return self.window - self.lo_count


def band_counts(w) -> tuple[int, int]:
    """The kept counts per window of ``fpga.watchdog`` ``w`` that are in the band: ceil(keep_lo·W)..floor(keep_hi·W)."""
    eps = 1e-9          # 0.2·1024 = 204.8 is exact enough; 0.25·1024 must stay 256, not 257
    return math.ceil(w.keep_lo * w.window - eps), math.floor(w.keep_hi * w.window + eps)


def resolve_watchdog(cfg: AtisConfig) -> WatchdogSpec | None:
    """The watchdog of ``fpga.watchdog`` (None when ``window`` is 0)."""
    w = cfg.fpga.watchdog
    if not w.window:
        return None
    lo, hi = band_counts(w)
    return WatchdogSpec(window=w.window, lo_count=lo, hi_count=hi, keep_all=w.fallback == "keep_all", run=w.run)


@dataclass(frozen=True)
class WatchdogTrace:
    """Per token: ``keep`` as it leaves the watchdog and ``status`` after it; ``trips``: tokens that tripped it."""
    keep: np.ndarray
    status: np.ndarray
    trips: list[int]

    @property
    def first_trip(self) -> int | None:
        return self.trips[0] if self.trips else None


def watchdog_trace(keep, spec: WatchdogSpec, clears=()) -> WatchdogTrace:
    """Run the watchdog over raw keep bits; ``clears``: token indices before which the host clears the status."""
    clears = set(int(c) for c in clears)
    raw = np.asarray(keep, dtype=bool)
    out = np.empty(len(raw), dtype=bool)
    status = np.empty(len(raw), dtype=np.int64)
    kept = dropped = run = 0
    low = high = active = probation = last = False
    trips = []
    for i, k in enumerate(raw.tolist()):
        if i in clears:
            kept = dropped = run = 0
            low = high = False
            probation = active
        out[i] = k or active
        kept, dropped = kept + k, dropped + (not k)
        run, last = (run + 1 if run and k == last else 1), k
        stuck = spec.run > 0 and run == spec.run
        up, down = kept > spec.hi_count or (stuck and k), dropped > spec.drop_limit or (stuck and not k)
        if up or down:
            trips.append(i)
            run = 0
            high, low = high or up, low or down
            active, probation = active or spec.keep_all, False
        elif kept + dropped == spec.window and probation:      # a whole window in the band after the clear
            active = probation = False
        if up or down or kept + dropped == spec.window:
            kept = dropped = 0
        status[i] = TRIPPED * (low or high) | LOW * low | HIGH * high | KEEP_ALL * active
    return WatchdogTrace(out, status, trips)
