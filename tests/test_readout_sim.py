"""Issue 18's RTL in the Amaranth simulator: the top-k selector (hdl.topk) against the golden selection on random
code streams with ties, input gaps and output backpressure (and a selector built for k + 1 is caught); the SAR
readout (hdl.readout) against the golden successive approximation, with its decide strobe exactly settle_cycles
after each θ update."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from amaranth.hdl import Fragment, Module, Signal
from amaranth.sim import Simulator
from simhelpers import stream_put

from atis.golden.readout import ReadoutSpec, sar_code, sar_trials
from atis.golden.selection import SelectionSpec, select_stream
from atis.hdl.readout import SarReadout
from atis.hdl.topk import TopKSelector


def run_selector(dut: TopKSelector, codes: np.ndarray, seed: int, gap: float = 0.3,
                 ready: float = 0.6) -> tuple[list[tuple[int, int]], int]:
    """(keep, index) pairs the RTL emits for ``codes`` (index = position + 5), and the cycles from the first
    sequence's last code to its first keep bit."""
    rng = np.random.default_rng(seed)
    n = dut._spec.n
    expected = len(codes) // n * n if dut._spec.mode != "threshold" else len(codes)
    out, first = [], {}

    async def source(ctx):
        i = dut.i_code
        for pos, c in enumerate(codes):
            while rng.random() < gap:
                ctx.set(i.valid, 0)
                await ctx.tick()
            ctx.set(i.valid, 1)
            ctx.set(i.payload.code, int(c))
            ctx.set(i.payload.index, pos + 5)
            await ctx.tick().until(i.ready)
        ctx.set(i.valid, 0)

    async def sink(ctx):
        o, i = dut.o_keep, dut.i_code
        edge, taken_in = 0, 0
        while len(out) < expected:
            ctx.set(o.ready, int(rng.random() < ready))
            _, _, valid, taken, payload, iv, ir = await ctx.tick().sample(o.valid, o.ready, o.payload, i.valid,
                                                                          i.ready)
            edge += 1
            taken_in += iv and ir
            if taken_in == n and "in" not in first:
                first["in"] = edge                 # the edge that took the first sequence's last code
            if valid and "out" not in first:
                first["out"] = edge - 1            # the first keep bit was valid from the edge before
            if valid and taken:
                out.append((int(payload.keep), int(payload.index)))

    top = Module()                             # threshold mode is combinational: give the bench a clock domain
    top.submodules.dut = dut
    top.d.sync += Signal(name="tick").eq(1)
    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    sim.run()
    return out, first.get("out", 0) - first.get("in", 0)


CASES = [SelectionSpec("topk", 8, 3, 0.3), SelectionSpec("topk", 7, 1, 0.5), SelectionSpec("topk", 16, 4, 0.25),
         SelectionSpec("cap", 8, 3, 0.3, 0.25, 0.5), SelectionSpec("cap", 9, 2, 0.3, 0.0, 0.34),
         SelectionSpec("threshold", 8, 3, 0.3)]


@pytest.mark.parametrize("spec", CASES, ids=[f"{s.mode}-n{s.n}-b{s.bits}" for s in CASES])
def test_selector_equals_golden_under_gaps_and_backpressure(spec, rng):
    # few distinct codes: many ties, so the position rule is exercised; whole sequences of one code too
    codes = rng.integers(0, 1 << spec.bits, size=spec.n * 9)
    codes[:spec.n] = rng.integers(0, 2)
    codes[spec.n:2 * spec.n] = (1 << spec.bits) - 1
    got, _ = run_selector(TopKSelector(spec), codes, seed=spec.n)
    want = select_stream(codes, spec)
    assert [i for _, i in got] == [p + 5 for p in range(len(want))], "lost, duplicated or reordered"
    assert [k for k, _ in got] == want.astype(int).tolist()
    if spec.mode == "topk":
        assert all(sum(k for k, _ in got[a:a + spec.n]) == spec.k for a in range(0, len(got), spec.n))


def test_selector_latency_is_the_stated_one(rng):
    spec = SelectionSpec("topk", 16, 4, 0.25)
    _, wait = run_selector(TopKSelector(spec), rng.integers(0, 16, size=32), seed=0, gap=0.0, ready=1.0)
    assert wait == spec.bits * (spec.n + 2) + 2, wait


def test_selector_built_for_one_more_token_is_caught(rng):
    spec = SelectionSpec("topk", 8, 3, 0.3)
    mutant = TopKSelector(dataclasses.replace(spec, keep=(spec.k + 1) / spec.n))
    codes = rng.integers(0, 8, size=32)
    got, _ = run_selector(mutant, codes, seed=1)
    assert [k for k, _ in got] != select_stream(codes, spec).astype(int).tolist()


def run_sar(spec: ReadoutSpec, scores: list[float], seed: int):
    """Codes, θ trials and update -> decide distances of the RTL with an ideal comparator (score > trial + 0.5
    fires, driven at the strobe) and a θ DAC that updates 1..6 cycles after each write."""
    dut = SarReadout(spec)
    rng = np.random.default_rng(seed)
    codes, trials, distances = [], [], []

    async def analog(ctx):
        pending, since, token = None, None, 0
        started = 0
        while True:
            await ctx.tick()
            ctx.set(dut.i_theta_updated, 0)
            ctx.set(dut.i_start, 0)
            if ctx.get(dut.o_ready) and started < len(scores) and rng.random() < 0.5:
                ctx.set(dut.i_start, 1)
                token, started = started, started + 1
            ctx.set(dut.o_theta.ready, int(pending is None and rng.random() < 0.7))   # the port may be busy
            if ctx.get(dut.o_theta.valid) and ctx.get(dut.o_theta.ready):
                trial = ctx.get(dut.o_theta.payload.code) >> (spec.part_bits - spec.bits)
                trials.append(trial)
                pending = (trial, int(rng.integers(1, 7)))
            elif pending is not None:
                trial, left = pending
                if left == 1:
                    ctx.set(dut.i_theta_updated, 1)
                    since, pending = 0, None
                    level = scores[token] > trial + 0.5
                else:
                    pending = (trial, left - 1)
            if since is not None:
                since += 1
                if ctx.get(dut.o_decide):
                    distances.append(since - 1)
                    ctx.set(dut.comparator, int(level))
                    since = None

    async def sink(ctx):
        o = dut.o_code
        while len(codes) < len(scores):
            ctx.set(o.ready, int(rng.random() < 0.5))
            _, _, valid, ready, payload = await ctx.tick().sample(o.valid, o.ready, o.payload)
            if valid and ready:
                codes.append((int(payload.code), int(payload.index)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(analog, background=True)
    sim.add_testbench(sink)
    sim.run()
    return codes, trials, distances


@pytest.mark.parametrize("bits,part_bits", [(4, 12), (2, 2), (6, 6)])
def test_sar_codes_trials_and_settle_equal_golden(bits, part_bits, rng):
    spec = ReadoutSpec("sar", bits, "ad5628", 7, part_bits, settle_cycles=5, wait_cycles=2, clock_ns=10.0)
    scores = rng.uniform(-1, 1 << bits, size=24).tolist()
    codes, trials, distances = run_sar(spec, scores, seed=bits)
    want = [sar_code(lambda t, s=s: s > t + 0.5, bits) for s in scores]
    assert codes == [(c, n) for n, c in enumerate(want)]
    assert trials == [t for c in want for t in sar_trials(c, bits)]
    assert distances == [spec.settle_cycles] * (bits * len(scores))


def scorer_token_period(overrides: dict, tokens: int = 6) -> tuple[int, object]:
    """The steady cycles between evaluations of the whole scorer (projection, sequencer, SAR readout) with
    always-valid tokens and an always-ready output, and the design's sequencer spec."""
    from atis.config import config_from_dict
    from atis.design import resolve_design
    from atis.hdl.scorer import Scorer
    design = resolve_design(config_from_dict(overrides))
    dut, d, evaluations = Scorer(design.projection, design.sequencer), design.projection.d, []

    async def source(ctx):
        for t in range(tokens):
            for j in range(d):
                element = {"data": (7 * t + j) % 100 - 50, "first": j == 0, "last": j == d - 1}
                await stream_put(ctx, dut.i_token, element)

    async def sink(ctx):
        ctx.set(dut.o_token.ready, 1)
        for cycle in range(50_000):
            _, _, evaluate = await ctx.tick().sample(dut.o_evaluate)
            ctx.set(dut.comparator, cycle % 3 == 0)
            if evaluate:
                evaluations.append(cycle)
                if len(evaluations) == tokens:
                    return

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    sim.run()
    periods = set(np.diff(evaluations[1:]).tolist())
    assert len(periods) == 1, f"no steady rate: {np.diff(evaluations).tolist()}"
    return periods.pop(), design.sequencer


BASE = {"fpga": {"scorer": "fpaa", "clock_MHz": 100}, "transformer": {"weights": None}}


@pytest.mark.parametrize(("overrides", "exact"), [
    # conversion-bound on the AD5628: three input frames slip between the θ frames and delay them
    ({**BASE, "model": {"d_model": 4}, "projection": {"m": 4, "lanes": 4}, "dac": {"sclk_divider": 2},
     "fpaa": {"readout": {"mode": "sar", "bits": 4, "settle_ns": 500}}}, False),
    # port-bound on the AD5628: (m + b) frames, exactly token_cycles()
    ({**BASE, "model": {"d_model": 8}, "projection": {"m": 8, "lanes": 8}, "dac": {"sclk_divider": 2},
     "fpaa": {"readout": {"mode": "sar", "bits": 4, "settle_ns": 50}}}, True),
    # conversion-bound on the parallel bus with its own θ pins
    ({**BASE, "model": {"d_model": 8}, "projection": {"m": 8, "lanes": 8}, "dac": {"part": "parallel"},
     "fpaa": {"readout": {"mode": "sar", "bits": 6, "settle_ns": 200}}}, False),
], ids=["ad5628-conversion-bound", "ad5628-port-bound", "parallel-conversion-bound"])
def test_sar_token_period_lies_within_the_sequencer_bounds(overrides, exact):
    """The host link's baud check uses token_cycles_max: it must never be below the RTL's period (a faster
    link would overrun the board), and token_cycles never above it."""
    period, seq = scorer_token_period(overrides)
    assert seq.token_cycles() <= period <= seq.token_cycles_max(), (seq.token_cycles(), period,
                                                                    seq.token_cycles_max())
    if exact:
        assert period == seq.token_cycles()


def test_sar_settle_of_one_cycle_builds():
    """fpaa.readout.settle_ns below one clock is accepted by the config; the RTL needs 2 cycles: it gets them."""
    from atis.config import config_from_dict
    from atis.golden.readout import resolve_readout
    spec = resolve_readout(config_from_dict({"fpga": {"scorer": "fpaa"},
                                             "fpaa": {"readout": {"mode": "sar", "settle_ns": 5}}}))
    assert spec.settle_cycles == 2
    Fragment.get(SarReadout(spec), None)          # constructs and elaborates
