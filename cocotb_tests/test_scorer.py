"""cocotb bench of hdl.scorer with the FPAA model in the loop (DESIGN.md §3, the pin boundary).

Environment (from ``cocotb_tests.runner``): ``ATIS_BENCH_CONFIG``, ``ATIS_BENCH_TOKENS`` (tokens of the mask
comparison), ``ATIS_BENCH_SEED``, ``ATIS_BENCH_METRICS``; ``ATIS_BENCH_FPAA=constant`` replaces the FPAA model by
a constant comparator (to measure the model's co-simulation overhead).
"""
from __future__ import annotations

import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout

from atis.analog_models.scoring import expected_keep, scorer_model
from atis.cocotb_tests.bfm import StreamBus, StreamMonitor, StreamSink, StreamSource
from atis.cocotb_tests.bfm.dac import Ad5628Monitor, ParallelDacMonitor
from atis.cocotb_tests.bfm.fpaa import FpaaBfm
from atis.cocotb_tests.bfm.pause import make_pause
from atis.cocotb_tests.bfm.simtime import Elapsed
from atis.cocotb_tests.test_projection import record_metric
from atis.config import load_config
from atis.golden.projection import resolve_projection
from atis.golden.reference import random_tokens
from atis.golden.sequencer import resolve_sequencer
from atis.hdl.layouts import element_layout, scored_layout


def attach_fpaa(dut, cfg, spec, seq, elapsed: Elapsed, glitch=None, constant=None):
    """The FPAA BFM (the calibrated model of ``cfg``) on the DUT's scorer pins, fed by the DAC monitor of the
    configured part. Returns (fpaa, dac)."""
    fpaa = FpaaBfm(scorer_model(cfg, spec, seq), round_signal=dut.o_round, evaluate=dut.o_evaluate,
                   comparator=dut.comparator, n_dac=seq.n_dac, code_shift=seq.part_bits - seq.dac_bits,
                   per_circuit=seq.comparators > 1, sample_after_ns=(seq.wait_cycles + 1) * seq.clock_ns,
                   glitch=glitch, constant=constant, elapsed=elapsed)
    if seq.part == "ad5628":
        dac = Ad5628Monitor(dut.dac_sync_n, dut.dac_sclk, dut.dac_din, on_update=fpaa.on_dac_update,
                            elapsed=elapsed)
    else:
        dac = ParallelDacMonitor(dut.clk, dut.dac_channel, dut.dac_code, dut.dac_strobe, dut.dac_update,
                                 channels=seq.n_dac, on_update=fpaa.on_dac_update, elapsed=elapsed)
    return fpaa, dac


class TB:
    """Clock, reset, token source/sink/monitor, a DAC monitor and the FPAA BFM around one Scorer."""

    def __init__(self, dut, glitch: bool = False):
        self.dut = dut
        self.cfg = load_config(os.environ["ATIS_BENCH_CONFIG"])
        self.spec, self.seq = resolve_projection(self.cfg), resolve_sequencer(self.cfg)
        self.seed = int(os.environ.get("ATIS_BENCH_SEED", "1"))
        self.d = self.spec.d
        cocotb.start_soon(Clock(dut.clk, self.seq.clock_ns, unit="ns").start())
        self.elapsed = Elapsed()        # one time base, starting with the clock, for every timed BFM
        bus = StreamBus.from_prefix(dut, "i_token")
        self.source = StreamSource(bus, dut.clk, dut.rst, layout=element_layout())
        self.accepted = StreamMonitor(bus, dut.clk, dut.rst, layout=element_layout())
        self.sink = StreamSink(StreamBus.from_prefix(dut, "o_token"), dut.clk, dut.rst, layout=scored_layout())
        constant = os.environ.get("ATIS_BENCH_FPAA") == "constant"
        self.fpaa, self.dac = attach_fpaa(dut, self.cfg, self.spec, self.seq, self.elapsed,
                                          glitch=np.random.default_rng(self.seed + 7) if glitch else None,
                                          constant=True if constant else None)
        self.evaluations: list[tuple[float, int]] = []     # (time ns, SPI bits clocked so far)
        cocotb.start_soon(self._count_evaluations())

    async def _count_evaluations(self) -> None:
        while True:
            await RisingEdge(self.dut.o_evaluate)
            self.evaluations.append((self.elapsed.ns(), getattr(self.dac, "bits_clocked", 0)))

    async def reset(self) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def send(self, tokens: np.ndarray) -> None:
        for t in tokens:
            for j, x in enumerate(t):
                self.source.send_nowait({"data": int(x), "first": int(j == 0), "last": int(j == self.d - 1)})

    async def receive(self, tokens: np.ndarray) -> np.ndarray:
        """Collect every output element; check data/order/framing/index and one keep bit per token. -> keep[N]"""
        budget_ns = (len(tokens) + 4) * (self.seq.token_cycles() + self.seq.settle_cycles + 4 * self.d) \
            * self.seq.clock_ns * 3
        keep, problems = [], []
        for n, token in enumerate(tokens):
            for j, x in enumerate(token):
                item = await with_timeout(self.sink.recv(), budget_ns, "ns")
                want = {"data": int(x), "first": int(j == 0), "last": int(j == self.d - 1),
                        "index": n % (1 << 16)}
                got = {k: item[k] for k in want}
                if got != want:
                    problems.append(f"token {n} element {j}: got {got}, expected {want}")
                if j == 0:
                    keep.append(item["keep"])
                elif item["keep"] != keep[-1]:
                    problems.append(f"token {n}: keep changed within the token at element {j}")
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


def n_tokens() -> int:
    return int(os.environ.get("ATIS_BENCH_TOKENS", "1000"))


@cocotb.test()
async def test_keep_mask_equals_vectorized_model(dut):
    """Co-sim keep bits == the FPAA BFM's decisions == the vectorized model on the same seed and schedule."""
    tb = TB(dut)
    await tb.reset()
    tokens = random_tokens(tb.cfg, n_tokens(), tb.seed)
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
    clock = tb.seq.clock_ns
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
        off_schedule = np.any(ages != tb.seq.write_ages_ns(), axis=1)
        metrics["schedule_mismatches"] = int(np.sum(off_schedule))
        if off_schedule.any():
            first = int(np.argmax(off_schedule))
            metrics["first_off_schedule"] = {"token": first, "ages_ns": ages[first].tolist(),
                                             "schedule_ns": tb.seq.write_ages_ns().tolist()}
        metrics["max_score_error_V"] = float(np.max(np.abs(np.array(tb.fpaa.scores) - expected.score)))
    record_metric("scorer", metrics)
    assert metrics.get("max_score_error_V", 0.0) < 1e-9, "co-sim scores differ from the vectorized model's"
    assert capture_mismatches == 0, f"{capture_mismatches} keep bits differ from the comparator's decisions"
    assert metrics.get("schedule_mismatches", 0) == 0, "OTA inputs settled for another time than the schedule"
    assert metrics.get("mask_mismatches", 0) == 0, f"{metrics['mask_mismatches']} keep bits differ from the model"
    assert metrics["cycles_per_token"] >= metrics["model_cycles_per_token"]


@cocotb.test()
async def test_backpressure_loses_nothing(dut):
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
async def test_comparator_toggling_at_the_sample_point(dut):
    """The pin toggles within ±2 ns of the synchronizer's sampling edge: one resolvable keep bit per token."""
    tb = TB(dut, glitch=True)
    await tb.reset()
    tokens = random_tokens(tb.cfg, 40, tb.seed + 4)
    tb.send(tokens)
    keep = await tb.receive(tokens)      # checks count, order, index and resolvable payloads
    assert len(keep) == len(tokens)
