"""The keep-rate watchdog RTL (hdl.keep_watchdog) against its golden model on random keep streams, with random
input gaps, output backpressure and host clears; a watchdog that never fires must be caught."""
from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from atis.config import config_from_dict
from atis.golden.keep_watchdog import KEEP_ALL, TRIPPED, WatchdogSpec, resolve_watchdog, watchdog_trace
from atis.hdl.keep_watchdog import KeepWatchdog

D = 2     # elements per token: the count happens at `last`, the override covers every element


def rtl_trace(spec: WatchdogSpec, keep, clears, seed: int, dut: KeepWatchdog | None = None):
    """(keep of each token as it leaves, status after each token) of the RTL on raw keep bits ``keep``."""
    dut = dut if dut is not None else KeepWatchdog(spec)
    rng = np.random.default_rng(seed)
    out, status, problems = [], [], []

    async def bench(ctx):
        i, o = dut.i_elements, dut.o_elements
        for n, k in enumerate(keep):
            if n in clears:
                ctx.set(dut.clear, 1)
                await ctx.tick()
                ctx.set(dut.clear, 0)
            seen = []
            for j in range(D):
                while rng.random() < 0.3:                 # an idle gap: valid low
                    ctx.set(i.valid, 0)
                    await ctx.tick()
                ctx.set(i.valid, 1)
                for name, v in (("data", n % 100 + j), ("first", j == 0), ("last", j == D - 1), ("keep", k),
                                ("index", n)):
                    ctx.set(getattr(i.payload, name), int(v))
                while True:
                    ctx.set(o.ready, int(rng.random() < 0.7))
                    _, _, valid, ready, payload = await ctx.tick().sample(o.valid, o.ready, o.payload)
                    if valid and ready:
                        seen.append(int(payload.keep))
                        if int(payload.data) != n % 100 + j or int(payload.index) != n:
                            problems.append(f"token {n} element {j}: payload changed")
                        break
            ctx.set(i.valid, 0)
            if len(set(seen)) != 1:
                problems.append(f"token {n}: keep differs between its elements {seen}")
            out.append(seen[0])
            status.append(ctx.get(dut.status))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert not problems, problems[:3]
    return np.array(out, dtype=bool), np.array(status)


SPECS = [WatchdogSpec(window=8, lo_count=2, hi_count=5, keep_all=True, run=6),
         WatchdogSpec(window=5, lo_count=1, hi_count=3, keep_all=False),
         WatchdogSpec(window=16, lo_count=0, hi_count=16, keep_all=True, run=5),   # only runs can trip it
         WatchdogSpec(window=16, lo_count=0, hi_count=16, keep_all=True)]         # nothing can trip it


def _stream(rng, n: int) -> np.ndarray:
    """Stretches of keep rates 0.05 / 0.4 / 0.95: both sides of every band above, and normal windows."""
    rates = rng.choice([0.05, 0.4, 0.95], size=n // 12 + 1)
    return rng.random(n) < np.repeat(rates, 12)[:n]


@pytest.mark.parametrize("case", range(len(SPECS)))
def test_rtl_equals_golden_on_random_keep_streams(case, rng):
    spec = SPECS[case]
    keep = _stream(rng, 240)
    clears = set(rng.choice(np.arange(1, 240), size=6, replace=False).tolist())
    got_keep, got_status = rtl_trace(spec, keep, clears, seed=case)
    want = watchdog_trace(keep, spec, clears)
    assert got_status.tolist() == want.status.tolist()
    assert got_keep.tolist() == want.keep.tolist()
    if case < 3:     # the stream trips these: the check above saw trips, overrides and clears
        assert len(want.trips) >= 3 and (want.status & TRIPPED).any()
    if spec.keep_all and want.trips:
        assert (want.status & KEEP_ALL).any() and (got_keep & ~keep).any()


def test_a_watchdog_that_never_fires_fails_the_comparison(rng):
    spec = SPECS[0]
    keep = _stream(rng, 96)
    mutant = KeepWatchdog(WatchdogSpec(window=spec.window, lo_count=0, hi_count=spec.window, keep_all=True))
    _, got_status = rtl_trace(spec, keep, set(), seed=9, dut=mutant)
    assert got_status.tolist() != watchdog_trace(keep, spec).status.tolist()


def test_config_band_becomes_integer_counts():
    cfg = config_from_dict({"fpga": {"watchdog": {"window": 1024, "keep_lo": 0.25, "keep_hi": 0.375}}})
    assert resolve_watchdog(cfg) == WatchdogSpec(window=1024, lo_count=256, hi_count=384, keep_all=True, run=64)
    assert resolve_watchdog(config_from_dict({"fpga": {"watchdog": {"window": 0}}})) is None
    spec = resolve_watchdog(config_from_dict({"fpga": {"watchdog": {"window": 10, "keep_lo": 0.21,
                                                                     "keep_hi": 0.49}}}))
    assert (spec.lo_count, spec.hi_count) == (3, 4)          # ceil(2.1), floor(4.9)


def test_a_band_holding_no_whole_count_is_a_config_error():
    """0.21..0.29 of a 10-token window holds no whole count (ceil 2.1 = 3 > floor 2.9 = 2): one message naming
    the keys, at load, not a ValueError when the RTL is built."""
    from atis.config import ConfigError
    with pytest.raises(ConfigError, match=r"fpga\.watchdog\.keep_lo\.\.keep_hi = 0\.21\.\.0\.29: no whole count"):
        config_from_dict({"fpga": {"watchdog": {"window": 10, "keep_lo": 0.21, "keep_hi": 0.29}}})
