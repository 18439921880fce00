"""cocotb bench of the scorer with a multi-bit readout and a per-sequence selection (issue 18), FPAA model on its
pins: every readout code equals the vectorized model's, every kept set the golden selection's.

The DUT is ``hdl.scorer`` built from a config with ``fpaa.readout`` and/or ``fpga.selection`` set (its sequencer
spec carries both). Tokens are sent in whole sequences of ``model.seq_len``. Environment: as ``test_scorer``
(``ATIS_BENCH_TOKENS`` is rounded up to whole sequences).
"""
from __future__ import annotations

import time

import cocotb
import numpy as np
from cocotb.handle import HierarchyObject
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, with_timeout

from atis.analog_models.readout import expected_readout
from atis.cocotb_tests.bfm import StreamBus, StreamMonitor, StreamSink, StreamSource
from atis.cocotb_tests.bfm.fpaa import FpaaBfm
from atis.cocotb_tests.bfm.pause import make_pause
from atis.cocotb_tests.bfm.sar import SarBfm
from atis.cocotb_tests.harness import BenchEnv, TbBase, check_scored_elements
from atis.golden.readout import sar_trials
from atis.golden.reference import random_tokens
from atis.golden.selection import select_stream
from atis.hdl.layouts import INDEX_BITS, element_layout, scored_layout

__all__ = ["TB"]


class TB(TbBase):
    """Clock, reset, token source/sink/monitor, the DAC monitor + FPAA BFM (+ SAR BFM) and a readout-tap monitor."""

    def __init__(self, dut: HierarchyObject):
        env = BenchEnv.from_env()
        self.spec, self.seq = env.design.projection, env.design.sequencer
        super().__init__(dut, env, clock_ns=self.seq.clock_ns)
        self.d, self.sel = self.spec.d, self.seq.selection
        bus = StreamBus.from_prefix(dut, "i_token")
        self.source = StreamSource(bus, dut.clk, dut.rst, layout=element_layout())
        self.accepted = StreamMonitor(bus, dut.clk, dut.rst, layout=element_layout())
        self.sink = StreamSink(StreamBus.from_prefix(dut, "o_token"), dut.clk, dut.rst, layout=scored_layout())
        self.fpaa = FpaaBfm.attach(dut, self.cfg, elapsed=self.elapsed, spec=self.spec, seq=self.seq)
        self.sar = SarBfm.attach(dut, self.fpaa, self.seq.readout) if self.seq.readout else None
        self.codes: list[tuple[int, int]] = []
        self.code_times_ns: list[float] = []
        cocotb.start_soon(self._watch_tap())

    async def _watch_tap(self) -> None:
        dut = self.dut
        while True:
            await RisingEdge(dut.readout_valid)
            await ReadOnly()
            while dut.readout_valid.value == 1:
                self.codes.append((int(dut.readout_code.value), int(dut.readout_index.value)))
                self.code_times_ns.append(self.elapsed.ns())
                await RisingEdge(dut.clk)
                await ReadOnly()

    def tokens(self, count: int, seed: int) -> np.ndarray:
        n = self.sel.n
        return random_tokens(self.cfg, -(-count // n) * n, seed)

    def send(self, tokens: np.ndarray) -> None:
        for t in tokens:
            for j, x in enumerate(t):
                self.source.send_nowait({"data": int(x), "first": int(j == 0), "last": int(j == self.d - 1)})

    async def receive(self, tokens: np.ndarray) -> np.ndarray:
        """Every output element in order with its token's index; one keep bit per token. -> keep[N]"""
        per_token = (self.seq.token_cycles() + self.seq.settle_cycles + 4 * self.d + 200) * self.clock_ns
        budget_ns = round((len(tokens) + self.sel.n + 4) * per_token * 3)
        # One timeout for the whole stream (it is the whole run's budget), not one timer task per element.
        items = await with_timeout(self.sink.recv_many(tokens.size), budget_ns, "ns")
        keep, problems = check_scored_elements(tokens, items, INDEX_BITS)
        await ClockCycles(self.dut.clk, 100)
        assert self.sink.empty(), f"{self.sink.count()} elements after the last token (duplicates)"
        assert not problems, f"{len(problems)} output problems; first: {problems[:3]}"
        for bfm in (self.sink, self.accepted, self.fpaa.dac, self.fpaa, self.sar):
            assert bfm is None or not bfm.protocol_errors, bfm.protocol_errors[:3]
        taken = [self.accepted.recv_nowait()["data"] for _ in range(self.accepted.count())]
        assert taken == tokens.reshape(-1).tolist(), "the scorer did not take exactly the tokens sent"
        assert self.dut.framing_error.value == 0
        return np.array(keep, dtype=bool)


def _kept_fractions(keep: np.ndarray, n: int) -> list[float]:
    return [float(keep[a:a + n].mean()) for a in range(0, len(keep), n)]


@cocotb.test()
async def test_codes_and_kept_sets_equal_the_model(dut: HierarchyObject) -> None:
    """RTL codes == the SAR BFM's decisions == the vectorized model's codes; RTL keep == golden selection of
    those codes; θ trials on the bus and θ settle times == the golden schedule."""
    tb = TB(dut)
    await tb.reset()
    tokens = tb.tokens(tb.env.tokens, tb.seed)
    started = time.monotonic()
    tb.send(tokens)
    keep = await tb.receive(tokens)
    wall = time.monotonic() - started
    expected = expected_readout(tb.cfg, tokens)
    codes = np.array([c for c, _ in tb.codes])
    sel, n = tb.sel, tb.sel.n
    m = {"tokens": len(tokens), "sequences": len(tokens) // n, "n": n, "mode": sel.mode, "bits": sel.bits,
         "readout": "sar" if tb.sar else "comparator", "wall_s": round(wall, 2),
         "readout_index_errors": int(sum(i != k % (1 << INDEX_BITS) for k, (_, i) in enumerate(tb.codes))),
         "readout_mismatches": int(np.sum(codes != expected.codes)) if len(codes) == len(tokens) else len(tokens),
         "selection_mismatches": int(np.sum(keep != select_stream(codes, sel))),
         "model_selection_mismatches": int(np.sum(keep != expected.keep))}
    kept = _kept_fractions(keep, n)
    m |= {"keep_fraction_min": min(kept), "keep_fraction_max": max(kept), "keep_fractions": kept,
          "k": sel.k if sel.mode == "topk" else None}
    if tb.sar:
        want_trials = [t for c in codes.tolist() for t in sar_trials(c, sel.bits)]
        ages = np.array(tb.sar.theta_ages_ns)
        m |= {"decision_mismatches": int(np.sum(codes != np.array(tb.sar.codes()))) if len(tb.sar.codes()) ==
              len(codes) else len(codes),
              "trial_mismatches": int(tb.sar.trials != want_trials),
              "theta_schedule_mismatches": int(np.sum(np.abs(ages - tb.seq.readout.settle_cycles * tb.clock_ns)
                                                      > 1e-3)),
              "decisions_per_token": len(tb.sar.decisions) / len(tokens)}
    m["max_score_error_V"] = float(np.max(np.abs(np.array(tb.fpaa.scores) - expected.result.score)))
    schedule = tb.seq.write_ages_ns() * (tb.clock_ns / tb.seq.clock_ns)
    m["schedule_mismatches"] = int(np.sum(np.any(np.abs(np.array(tb.fpaa.ages_ns) - schedule) > 1e-3, axis=1)))
    steps = np.diff(tb.code_times_ns) / tb.clock_ns       # steady state: the median, past the start-up tokens
    m["cycles_per_token"] = float(np.median(steps))
    m["model_cycles_per_token"] = tb.seq.token_cycles()      # when the DAC port is the bottleneck
    tb.record_metric("readout", m)
    for key in ("readout_index_errors", "readout_mismatches", "selection_mismatches", "model_selection_mismatches",
                "decision_mismatches", "trial_mismatches", "theta_schedule_mismatches", "schedule_mismatches"):
        assert m.get(key, 0) == 0, f"{key} = {m[key]}"
    assert m["max_score_error_V"] < 1e-9, "held scores differ from the vectorized model's"
    if sel.mode == "topk":
        assert m["keep_fraction_min"] == m["keep_fraction_max"] == sel.k / n, kept


@cocotb.test()
async def test_backpressure_loses_nothing(dut: HierarchyObject) -> None:
    """Random input gaps and random output backpressure: every token once, in order, with the golden keep bit."""
    tb = TB(dut)
    await tb.reset()
    tb.source.set_pause_generator(make_pause("random", tb.seed + 1))
    tb.sink.set_pause_generator(make_pause("random", tb.seed + 2, 0.7))
    tokens = tb.tokens(2 * tb.sel.n, tb.seed + 3)
    tb.send(tokens)
    keep = await tb.receive(tokens)
    codes = np.array([c for c, _ in tb.codes])
    assert len(codes) == len(tokens)
    assert keep.tolist() == select_stream(codes, tb.sel).tolist()
    if tb.sar:
        assert codes.tolist() == tb.sar.codes()
