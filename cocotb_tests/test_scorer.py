"""cocotb bench of hdl.scorer with the FPAA model in the loop (DESIGN.md §3, the pin boundary).

Environment (from ``cocotb_tests.runner``, read by :class:`atis.cocotb_tests.harness.BenchEnv`):
``ATIS_BENCH_CONFIG``, ``ATIS_BENCH_TOKENS`` (tokens of the mask comparison), ``ATIS_BENCH_SEED``,
``ATIS_BENCH_METRICS``; ``ATIS_BENCH_FPAA=constant`` replaces the FPAA model by a constant comparator (to measure
the model's co-simulation overhead).
"""
from __future__ import annotations

import time

import cocotb
import numpy as np
from cocotb.handle import HierarchyObject
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout

from atis.analog_models.scoring import expected_keep
from atis.cocotb_tests.bfm import StreamBus, StreamMonitor, StreamSink, StreamSource
from atis.cocotb_tests.bfm.fpaa import FpaaBfm
from atis.cocotb_tests.bfm.pause import make_pause
from atis.cocotb_tests.harness import BenchEnv, TbBase, check_scored_elements
from atis.golden.reference import random_tokens
from atis.hdl.layouts import INDEX_BITS, element_layout, scored_layout

__all__ = ["TB"]


class TB(TbBase):
    """Clock, reset, token source/sink/monitor, a DAC monitor and the FPAA BFM around one Scorer."""

    def __init__(self, dut: HierarchyObject, glitch: bool = False):
        env = BenchEnv.from_env()
        self.spec, self.seq = env.design.projection, env.design.sequencer
        super().__init__(dut, env, clock_ns=self.seq.clock_ns)   # self.elapsed: one time base for every BFM
        self.d = self.spec.d
        bus = StreamBus.from_prefix(dut, "i_token")
        self.source = StreamSource(bus, dut.clk, dut.rst, layout=element_layout())
        self.accepted = StreamMonitor(bus, dut.clk, dut.rst, layout=element_layout(), follow=self.source)
        self.sink = StreamSink(StreamBus.from_prefix(dut, "o_token"), dut.clk, dut.rst, layout=scored_layout())
        self.fpaa = FpaaBfm.attach(dut, self.cfg, elapsed=self.elapsed, spec=self.spec, seq=self.seq,
                                   glitch=np.random.default_rng(self.seed + 7) if glitch else None,
                                   constant=True if env.constant_fpaa else None)
        self.dac = self.fpaa.dac
        self.evaluations: list[tuple[float, int]] = []     # (time ns, SPI bits clocked so far)
        cocotb.start_soon(self._count_evaluations())

    async def _count_evaluations(self) -> None:
        while True:
            await RisingEdge(self.dut.o_evaluate)
            self.evaluations.append((self.elapsed.ns(), getattr(self.dac, "bits_clocked", 0)))

    def send(self, tokens: np.ndarray) -> None:
        for t in tokens:
            for j, x in enumerate(t):
                self.source.send_nowait({"data": int(x), "first": int(j == 0), "last": int(j == self.d - 1)})

    async def receive(self, tokens: np.ndarray) -> np.ndarray:
        """Collect every output element; check data/order/framing/index and one keep bit per token. -> keep[N]"""
        budget_ns = round((len(tokens) + 4) * (self.seq.token_cycles() + self.seq.settle_cycles + 4 * self.d)
                          * self.clock_ns * 3)
        # One timeout for the whole stream (it is the whole run's budget), not one timer task per element.
        items = await with_timeout(self.sink.recv_many(tokens.size), budget_ns, "ns")
        keep, problems = check_scored_elements(tokens, items, INDEX_BITS)
        await ClockCycles(self.dut.clk, 2 * self.seq.token_cycles() + 100)
        assert self.sink.empty(), f"{self.sink.count()} elements after the last token (duplicates)"
        assert not problems, f"{len(problems)} output problems; first: {problems[:3]}"
        for bfm in (self.sink, self.accepted, self.dac, self.fpaa):
            assert not bfm.protocol_errors, bfm.protocol_errors[:3]
        taken = [self.accepted.recv_nowait()["data"] for _ in range(self.accepted.count())]
        assert taken == tokens.reshape(-1).tolist(), "the scorer did not take exactly the tokens sent"
        assert self.dut.framing_error.value == 0
        assert len(self.fpaa.decisions) == len(tokens), \
            f"{len(self.fpaa.decisions)} evaluations for {len(tokens)} tokens"
        return np.array(keep, dtype=bool)


@cocotb.test()
async def test_keep_mask_equals_vectorized_model(dut: HierarchyObject) -> None:
    """Co-sim keep bits == the FPAA BFM's decisions == the vectorized model on the same seed and schedule."""
    tb = TB(dut)
    await tb.reset()
    tokens = random_tokens(tb.cfg, tb.env.tokens, tb.seed)
    started = time.monotonic()
    tb.send(tokens)
    keep = await tb.receive(tokens)
    wall = time.monotonic() - started
    decided = np.array(tb.fpaa.decisions, dtype=bool)
    capture_mismatches = int(np.sum(keep != decided))
    metrics = {"tokens": len(tokens), "capture_mismatches": capture_mismatches, "wall_s": round(wall, 2),
               "fpaa": "constant" if tb.fpaa.constant is not None else "model", "part": tb.seq.part,
               "m": tb.seq.m, "n_dac": tb.seq.n_dac, "keep_ratio": float(keep.mean())}
    times, bits = np.array(tb.evaluations).T
    span_ns = times[-1] - times[0]
    clock = tb.clock_ns                      # the simulated period (whole picoseconds)
    metrics["cycles_per_token"] = span_ns / clock / (len(times) - 1)
    # The slower of projection and DAC port; exact unless settle + capture outlast the first round's writes.
    projection_cycles = max(tb.d, tb.seq.m * -(-tb.d // tb.spec.lanes))
    metrics["model_cycles_per_token"] = max(projection_cycles, tb.seq.token_cycles())
    metrics["tokens_per_s_sim"] = (len(times) - 1) / (span_ns * 1e-9)
    if tb.seq.part == "ad5628":
        metrics["spi_utilization"] = (bits[-1] - bits[0]) / (span_ns / (clock * tb.seq.sclk_divider))
    if tb.fpaa.constant is None:
        expected = expected_keep(tb.cfg, tokens)
        metrics["mask_mismatches"] = int(np.sum(keep != expected.keep))
        ages = np.array(tb.fpaa.ages_ns)
        # the schedule in cycles, at the simulated period (equal to the configured one unless it was rounded)
        schedule = tb.seq.write_ages_ns() * (tb.clock_ns / tb.seq.clock_ns)
        off_schedule = np.any(np.abs(ages - schedule) > 1e-3, axis=1)
        metrics["schedule_mismatches"] = int(np.sum(off_schedule))
        if off_schedule.any():
            first = int(np.argmax(off_schedule))
            metrics["first_off_schedule"] = {"token": first, "ages_ns": ages[first].tolist(),
                                             "schedule_ns": schedule.tolist()}
        metrics["max_score_error_V"] = float(np.max(np.abs(np.array(tb.fpaa.scores) - expected.score)))
    tb.record_metric("scorer", metrics)
    assert metrics.get("max_score_error_V", 0.0) < 1e-9, "co-sim scores differ from the vectorized model's"
    assert capture_mismatches == 0, f"{capture_mismatches} keep bits differ from the comparator's decisions"
    assert metrics.get("schedule_mismatches", 0) == 0, "OTA inputs settled for another time than the schedule"
    assert metrics.get("mask_mismatches", 0) == 0, f"{metrics['mask_mismatches']} keep bits differ from the model"
    assert metrics["cycles_per_token"] >= metrics["model_cycles_per_token"]


@cocotb.test()
async def test_backpressure_loses_nothing(dut: HierarchyObject) -> None:
    """Random input gaps and random output backpressure: every token once, in order, with its own keep bit."""
    tb = TB(dut)
    await tb.reset()
    tb.source.set_pause_generator(make_pause("random", tb.seed + 1))
    tb.sink.set_pause_generator(make_pause("random", tb.seed + 2, 0.7))
    tokens = random_tokens(tb.cfg, 40, tb.seed + 3)
    tb.send(tokens)
    keep = await tb.receive(tokens)
    assert keep.tolist() == tb.fpaa.decisions


@cocotb.test()
async def test_comparator_toggling_at_the_sample_point(dut: HierarchyObject) -> None:
    """The pin toggles within ±2 ns of the synchronizer's sampling edge: one resolvable keep bit per token."""
    tb = TB(dut, glitch=True)
    await tb.reset()
    tokens = random_tokens(tb.cfg, 40, tb.seed + 4)
    tb.send(tokens)
    keep = await tb.receive(tokens)      # checks count, order, index and resolvable payloads
    assert len(keep) == len(tokens)
