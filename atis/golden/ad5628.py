"""AD5628 (PmodDA4) serial-interface timing: the data sheet's minima and the SPI master's frame in clock cycles.

One table, :data:`AD5628_TIMING`, serves everything that must respect the part's timing: the config check
(:mod:`atis.config` rejects a clock/divider pair the port cannot serve), the port's schedule
(:func:`ad5628_schedule`, built into ``hdl.dac_port.Ad5628Port`` through :mod:`atis.golden.sequencer`) and the
bench's monitor (``cocotb_tests.bfm.dac.Ad5628Monitor``), which measures every frame in simulated time.
Figures, their source and which of them could be confirmed: ``docs/reference/ad5628-timing.md``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Ad5628Minimum", "AD5628_TIMING", "Ad5628Schedule", "ad5628_schedule", "ad5628_violations",
           "ad5628_limits", "ad5628_config_problem"]


@dataclass(frozen=True, slots=True)
class Ad5628Minimum:
    symbol: str
    what: str
    ns: float


#: AD5628/AD5648/AD5668 data sheet, "Timing Characteristics", VDD = 2.7 V to 5.5 V (the PmodDA4 runs at 3.3 V),
#: limits at T_MIN..T_MAX, all minima.
AD5628_TIMING: dict[str, Ad5628Minimum] = {m.symbol: m for m in (
    Ad5628Minimum("t1", "SCLK cycle time", 20.0),
    Ad5628Minimum("t2", "SCLK high time", 8.0),
    Ad5628Minimum("t3", "SCLK low time", 8.0),
    Ad5628Minimum("t4", "SYNC to SCLK falling edge setup time", 13.0),
    Ad5628Minimum("t5", "data setup time", 5.0),
    Ad5628Minimum("t6", "data hold time", 4.5),
    Ad5628Minimum("t7", "SCLK falling edge to SYNC rising edge", 0.0),
    Ad5628Minimum("t8", "minimum SYNC high time", 15.0),
    Ad5628Minimum("t9", "SYNC rising edge to SCLK fall ignore", 13.0),
    Ad5628Minimum("t10", "SCLK falling edge to SYNC fall ignore", 0.0),
)}


def _divider_cycles(divider: int) -> dict[str, int]:
    """The parameters fixed by SCLK = clk / divider at 50 % duty (DIN changes with SCLK's rising edge, half a
    period before the falling edge that samples it, and holds half a period after it)."""
    half = divider // 2
    return {"t1": divider, "t2": half, "t3": half, "t5": half, "t6": half, "t7": half}


@dataclass(frozen=True, slots=True)
class Ad5628Schedule:
    """One frame of the SPI master, in clock cycles. SYNC falls with DIN = DB31 and SCLK high; ``setup_cycles``
    later SCLK falls for the first time, then every ``divider`` cycles, 32 times; SCLK rises (and DIN takes the
    next bit) ``divider/2`` cycles after each fall; SYNC rises with the 32nd rise and stays high ``high_cycles``
    before the next frame (back to back)."""
    divider: int
    setup_cycles: int
    high_cycles: int

    def __post_init__(self):
        if self.divider < 2 or self.divider % 2:
            raise ValueError(f"AD5628 SCLK divider = {self.divider}: must be even and >= 2")
        if self.setup_cycles < self.divider // 2 or self.high_cycles < 1:
            raise ValueError(f"AD5628 schedule {self}: SYNC setup >= divider/2 and SYNC high >= 1 cycle")

    @property
    def frame_cycles(self) -> int:
        """Cycles per write, back to back: setup, 31 SCLK periods, half a period to SYNC rising, SYNC high."""
        return self.setup_cycles + 31 * self.divider + self.divider // 2 + self.high_cycles

    def cycles(self) -> dict[str, int]:
        """Every timing parameter of the table as this schedule makes it, in clock cycles (worst case over the
        frame: DB31 is set up from SYNC's fall, the others from SCLK's rise)."""
        half = self.divider // 2
        return {**_divider_cycles(self.divider), "t4": self.setup_cycles, "t5": min(half, self.setup_cycles),
                "t8": self.high_cycles, "t9": self.high_cycles + self.setup_cycles, "t10": half + self.high_cycles}

    def times_ns(self, clock_ns: float) -> dict[str, float]:
        return {symbol: n * clock_ns for symbol, n in self.cycles().items()}


def _at_least(ns: float, clock_ns: float) -> int:
    return max(0, math.ceil(ns / clock_ns - 1e-9))


def ad5628_schedule(clock_ns: float, divider: int) -> Ad5628Schedule:
    """The port's frame at this clock: SYNC falls ``divider/2`` cycles before the first SCLK fall, or as many more
    as t4 (and t5 for DB31) need; SYNC stays high one SCLK period between frames, or as long as t8, t9 and t10
    need. The SCLK-derived minima (t1-t3, t5-t7) the port cannot stretch: :func:`ad5628_violations` names them."""
    t = {s: _at_least(m.ns, clock_ns) for s, m in AD5628_TIMING.items()}
    half = divider // 2
    setup = max(half, t["t4"], t["t5"])
    high = max(divider, t["t8"], t["t9"] - setup, t["t10"] - half)
    return Ad5628Schedule(divider, setup, high)


def ad5628_violations(clock_ns: float, divider: int) -> list[tuple[Ad5628Minimum, float]]:
    """(minimum, the time the port would make) of every parameter the port would violate at this clock/divider."""
    times = ad5628_schedule(clock_ns, divider).times_ns(clock_ns)
    return [(m, times[s]) for s, m in AD5628_TIMING.items() if times[s] < m.ns - 1e-9]


def ad5628_limits(clock_MHz: float, divider: int, max_divider: int = 256) -> tuple[int | None, float]:
    """(smallest even divider that meets every minimum at ``clock_MHz`` (None above ``max_divider``), highest
    clock in MHz at which ``divider`` meets them)."""
    clock_ns = 1e3 / clock_MHz
    fits = (d for d in range(2, max_divider + 1, 2) if not ad5628_violations(clock_ns, d))
    max_clock = min(n * 1e3 / AD5628_TIMING[s].ns for s, n in _divider_cycles(divider).items()
                    if AD5628_TIMING[s].ns > 0)
    return next(fits, None), max_clock


def ad5628_config_problem(clock_MHz: float, divider: int) -> str | None:
    """The config check's one-line message for a ``fpga.clock_MHz``/``dac.sclk_divider`` pair the port cannot
    serve (what SCLK = clock / divider fixes: cycle, high and low time, data setup and hold), else None."""
    broken = ad5628_violations(1e3 / clock_MHz, divider)
    if not broken:
        return None
    (first, got), others = broken[0], [m.symbol for m, _ in broken[1:]]
    also = f" (also {', '.join(others)})" if others else ""
    min_divider, max_clock = ad5628_limits(clock_MHz, divider)
    allowed = f"dac.sclk_divider >= {min_divider} (even) at this clock, or " if min_divider else ""
    return (f"fpga.clock_MHz = {clock_MHz:g}, dac.sclk_divider = {divider}: the AD5628's {first.symbol} "
            f"({first.what}) would be {got:.4g} ns, below its {first.ns:g} ns minimum{also}; allowed: "
            f"{allowed}fpga.clock_MHz <= {max_clock:g} at this divider")
