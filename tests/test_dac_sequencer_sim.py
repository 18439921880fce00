"""Amaranth-simulator checks of the DAC sequencer, its AD5628/parallel ports and the comparator capture, decoded
from the pins cycle by cycle (the co-simulation with the FPAA model is the cocotb scorer bench)."""
from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator
from simhelpers import stream_put

from atis.config import config_from_dict
from atis.golden.ad5628 import AD5628_TIMING
from atis.golden.sequencer import resolve_sequencer
from atis.hdl.comparator_capture import ComparatorCapture
from atis.hdl.dac_sequencer import DacSequencer

PINS = {"ad5628": ("dac_sync_n", "dac_sclk", "dac_din"),
        "parallel": ("dac_channel", "dac_code", "dac_strobe", "dac_update")}


def spec_for(part: str, m: int = 5, n_dac: int = 2, divider: int = 4, settle_ns: float = 70.0,
             clock_MHz: float = 100.0):
    return resolve_sequencer(config_from_dict({
        "model": {"d_model": 16}, "projection": {"m": m}, "fpga": {"clock_MHz": clock_MHz},
        "dac": {"part": part, "n_channels": n_dac, "sclk_divider": divider, "settle_ns": settle_ns,
                "part_bits": None}}))


def run(spec, codes: np.ndarray, eval_ready=lambda cycle: True, cycles: int = 6000) -> list[dict]:
    """Feed ``codes[N, m]``; return every cycle's pins and outputs."""
    dut = DacSequencer(spec)
    trace: list[dict] = []

    async def source(ctx):
        for token in codes:
            for j, code in enumerate(token):
                await stream_put(ctx, dut.i_codes, {"code": int(code), "first": j == 0, "last": j == spec.m - 1})

    async def monitor(ctx):
        names = (*PINS[spec.part], "o_evaluate", "o_round")
        for cycle in range(cycles):
            ctx.set(dut.i_eval_ready, eval_ready(cycle))
            values = await ctx.tick().sample(*(getattr(dut, n) for n in names))
            trace.append(dict(zip(names, (int(v) for v in values[2:]))))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source, background=True)
    sim.add_testbench(monitor)
    sim.run()
    return trace


def spi_frames(trace: list[dict]) -> list[dict]:
    """Decode SYNC-framed 32-bit words: DIN at each falling SCLK edge; also the cycle of the 32nd edge."""
    frames, bits, prev = [], None, trace[0]
    for cycle, now in enumerate(trace[1:], start=1):
        if prev["dac_sync_n"] and not now["dac_sync_n"]:
            bits, start = [], cycle
        if bits is not None and prev["dac_sclk"] and not now["dac_sclk"]:
            bits.append(now["dac_din"])
            if len(bits) == 32:
                frames.append({"word": int("".join(map(str, bits)), 2), "update_cycle": cycle, "start": start,
                               "round": now["o_round"]})
        if not prev["dac_sync_n"] and now["dac_sync_n"]:
            assert bits is not None and len(bits) == 32, f"SYNC rose after {len(bits or [])} bits at {cycle}"
            frames[-1]["end"] = cycle
            bits = None
        prev = now
    return frames


@pytest.mark.parametrize("divider", [2, 4])
def test_ad5628_frames_rounds_and_settle(divider, rng):
    spec = spec_for("ad5628", divider=divider)
    codes = rng.integers(0, 64, size=(4, spec.m))
    trace = run(spec, codes)
    frames = spi_frames(trace)
    assert frames[0]["word"] == 0x0800_0001                     # internal reference on, first
    writes = frames[1:]
    assert len(writes) == codes.size
    sizes = spec.round_sizes()
    for k, f in enumerate(writes):
        j = k % spec.m
        r, c = j // spec.n_dac, j % spec.n_dac
        round_end = c == sizes[r] - 1
        assert f["word"] == ((0b0010 if round_end else 0) << 24) | (c << 20) | (int(codes.flat[k]) << 6 << 8)
        assert f["round"] == r
    gaps = [b["start"] - a["end"] for a, b in zip(frames, frames[1:])]
    assert min(gaps) >= divider                                  # SYNC high at least one SCLK period
    starts = [f["start"] for f in writes]
    # back to back: SYNC setup (clk/2 at 100 MHz: 2 cycles for t4 = 13 ns, not 1), 31.5 SCLK periods, SYNC high
    assert np.diff(starts).min() == spec.write_cycles == {2: 2 + 62 + 1 + 2, 4: 33 * 4}[divider]
    # One evaluate per token, exactly settle_cycles after its last update; tokens overlap the next load.
    evaluates = [c for c, t in enumerate(trace) if t["o_evaluate"]]
    last_updates = [f["update_cycle"] for f in writes[spec.m - 1::spec.m]]
    assert [e - u for e, u in zip(evaluates, last_updates)] == [spec.settle_cycles] * len(codes)
    assert np.diff(last_updates).tolist() == [spec.token_cycles()] * (len(codes) - 1)


def pin_timing_ns(trace: list[dict], clock_ns: float) -> dict[str, float]:
    """The shortest time of every AD5628 timing parameter over all frames, measured on the pins (data sheet
    definitions: docs/reference/ad5628-timing.md), in ns at ``clock_ns`` per traced cycle."""
    def edges(pin: str, to: int | None) -> np.ndarray:
        v = np.array([t[pin] for t in trace])
        return np.flatnonzero((v[1:] != v[:-1]) & ((v[1:] == to) if to is not None else True)) + 1
    sync_fall, sync_rise, fall, rise, din = (edges("dac_sync_n", 0), edges("dac_sync_n", 1), edges("dac_sclk", 0),
                                             edges("dac_sclk", 1), edges("dac_din", None))
    def since(events: np.ndarray, at: np.ndarray, side: str) -> list[int]:
        i = np.searchsorted(events, at, side) - 1
        return (at[i >= 0] - events[i[i >= 0]]).tolist()

    def until(events: np.ndarray, at: np.ndarray) -> list[int]:
        i = np.searchsorted(events, at)
        return (events[i[i < len(events)]] - at[i < len(events)]).tolist()

    got: dict[str, list[int]] = {s: [] for s in AD5628_TIMING}
    for start in sync_fall:
        end = sync_rise[np.searchsorted(sync_rise, start)]
        sampled = fall[(fall > start) & (fall < end)]
        assert len(sampled) == 32
        got["t1"] += np.diff(sampled).tolist()
        got["t2"] += since(rise, sampled, "left")          # SCLK is high from reset: no rise before the first
        got["t3"] += until(rise, sampled)
        got["t4"].append(sampled[0] - start)
        got["t5"] += since(din, sampled, "right")          # a DIN change in the fall's own cycle: 0 setup
        got["t6"] += until(din, sampled)
        got["t7"].append(end - sampled[-1])
        later = sync_fall[sync_fall > end]
        if len(later):
            got["t8"].append(later[0] - end)
            got["t10"].append(later[0] - fall[fall < later[0]][-1])
        if (fall > end).any():
            got["t9"].append(fall[fall > end][0] - end)
    return {s: min(v) * clock_ns for s, v in got.items()}


@pytest.mark.parametrize("clock_MHz, divider", [(100, 2), (100, 4), (80, 2), (24, 2), (75, 4), (1000, 20)])
def test_ad5628_port_meets_every_data_sheet_minimum(clock_MHz, divider, rng):
    """Every timing parameter measured on the sequencer's pins, over back-to-back frames, at clocks where half an
    SCLK period does (24 MHz, clk/2) and does not (100 MHz and 80 MHz, clk/2; 1 GHz, clk/20) cover t4."""
    spec = spec_for("ad5628", m=4, n_dac=2, divider=divider, clock_MHz=clock_MHz)
    trace = run(spec, rng.integers(0, 64, size=(2, spec.m)), cycles=9 * spec.write_cycles + 200)
    measured = pin_timing_ns(trace, spec.clock_ns)
    short = {s: (round(measured[s], 3), m.ns) for s, m in AD5628_TIMING.items() if measured[s] < m.ns - 1e-9}
    assert not short, f"{clock_MHz} MHz, clk/{divider}: (measured, minimum) ns {short}"
    assert measured["t4"] == spec.spi_frame.setup_cycles * spec.clock_ns >= 13.0
    if (clock_MHz, divider) == (100, 2):
        assert measured["t4"] == 20.0          # was half an SCLK period: 10 ns


def test_parallel_port_and_update_ages(rng):
    spec = spec_for("parallel", m=7, n_dac=3, settle_ns=30.0)
    codes = rng.integers(0, 64, size=(3, spec.m))
    trace = run(spec, codes)
    writes = [(c, t) for c, t in enumerate(trace) if t["dac_strobe"]]
    updates = [c for c, t in enumerate(trace) if t["dac_update"]]
    got = [(t["dac_channel"], t["dac_code"]) for _, t in writes]
    assert got == [(j % 3, int(codes[n, j])) for n in range(3) for j in range(7)]
    assert len(updates) == 3 * spec.rounds
    evaluates = [c for c, t in enumerate(trace) if t["o_evaluate"]]
    for n, e in enumerate(evaluates):                            # ages of each round = the spec's schedule
        ages = [e - u for u in updates[n * spec.rounds:(n + 1) * spec.rounds]]
        assert ages == (spec.update_offsets() + spec.settle_cycles).tolist()
    assert [trace[u]["o_round"] for u in updates] == list(range(spec.rounds)) * 3


def test_no_update_before_the_capture_is_ready(rng):
    spec = spec_for("ad5628", m=2, n_dac=2, divider=2, settle_ns=20.0)
    codes = rng.integers(0, 64, size=(3, spec.m))
    trace = run(spec, codes, eval_ready=lambda cycle: cycle >= 1500 or cycle < 200, cycles=3000)
    evaluates = [c for c, t in enumerate(trace) if t["o_evaluate"]]
    frames = spi_frames(trace)[1:]
    assert len(evaluates) == 3
    assert frames[3]["start"] >= 1500 and evaluates[1] - frames[3]["update_cycle"] == spec.settle_cycles


def test_capture_samples_once_per_evaluation_after_the_wait():
    dut = ComparatorCapture(wait_cycles=3)
    got = []

    async def bench(ctx):
        ctx.set(dut.o_keep.ready, 1)
        for pin_after in (1, 2, 3, 9):      # the pin rises this many cycles after evaluate
            ctx.set(dut.i_evaluate, 1)
            await ctx.tick()
            ctx.set(dut.i_evaluate, 0)
            for cycle in range(12):
                ctx.set(dut.comparator, 1 if pin_after <= cycle + 1 else 0)
                _, _, valid, payload = await ctx.tick().sample(dut.o_keep.valid, dut.o_keep.payload)
                if valid:
                    got.append((int(payload.keep), int(payload.index)))
            ctx.set(dut.comparator, 0)
            await ctx.tick().repeat(4)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    # The pin is seen if it rose within wait_cycles + 1 cycles of evaluate; one result per evaluation, in order.
    assert got == [(1, 0), (1, 1), (1, 2), (0, 3)]


def test_capture_is_not_ready_in_the_cycle_an_evaluation_arrives():
    """Busy is set only after the evaluation: without this, a sequencer whose token is shorter than the capture's
    wait could start the next update in that cycle, and the next evaluation would arrive while this one is still
    being sampled and be lost (found with a 2-input parallel scorer, settle 40 ns, wait 50 ns)."""
    dut = ComparatorCapture(wait_cycles=3)
    ready = []

    async def bench(ctx):
        ctx.set(dut.o_keep.ready, 1)
        ready.append(ctx.get(dut.o_ready))
        ctx.set(dut.i_evaluate, 1)
        ready.append(ctx.get(dut.o_ready))
        await ctx.tick()
        ctx.set(dut.i_evaluate, 0)
        for _ in range(6):
            ready.append(ctx.get(dut.o_ready))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert ready == [1, 0, 0, 0, 0, 0, 0, 1]
