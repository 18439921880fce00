"""cocotb bench of a faulty FPAA on the pins of the scorer RTL with its keep-rate watchdog (issue 16).

DUT: ``hdl.keep_watchdog.WatchedScorer`` (the ``watched_scorer`` block). ``ATIS_FAULTS`` is a JSON list of
:class:`atis.analog_models.faults.Fault` fields (``null``: a fault-free run): one cocotb test per entry, in one
simulator process on one Verilator build; each test's FPAA BFM model gets its fault through
:meth:`FpaaModel.inject`, and its figures go to the metrics under ``fault:<index>``. Tokens go in as a host would
send them: sequences of ``ATIS_FAULT_SEQUENCE`` tokens (64), each fully answered before the next; after each the
bench reads ``status`` like the host's STATUS command. On the first trip it plays the host's recovery: re-trim the
FPAA (``model.recalibrate("threshold")``) and clear the status; a trip after that recalibration is a hard fault, and
its fallback stays on (no second clear).

Checked, token by token: every element once, in order, framed; the raw keep bits (the BFM's decisions) == the
vectorized model's with the same fault and the same recalibration point; the RTL's keep bits == the golden
watchdog's on those raw bits (the keep-all override from the token after the trip); the RTL status == the golden
status after every sequence. Environment: ``ATIS_BENCH_CONFIG``/``TOKENS``/``SEED``/``METRICS`` (harness) plus
``ATIS_FAULTS``, ``ATIS_FAULT_SEQUENCE``; ``ATIS_SOAK=1``: the soak instead (random gaps, backpressure and a
comparator toggling at the sampling edge, no fault, no watchdog checks beyond count/order).
"""
from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.handle import HierarchyObject
from cocotb.triggers import ClockCycles, FallingEdge, with_timeout

from atis.analog_models.faults import Fault
from atis.analog_models.scoring import scorer_model
from atis.cocotb_tests.bfm import StreamBus, StreamSink, StreamSource
from atis.cocotb_tests.bfm.fpaa import FpaaBfm
from atis.cocotb_tests.bfm.pause import make_pause
from atis.cocotb_tests.harness import BenchEnv, TbBase
from atis.golden.keep_watchdog import KEEP_ALL, TRIPPED, watchdog_trace
from atis.golden.projection import projection_codes
from atis.golden.reference import random_tokens
from atis.hdl.layouts import INDEX_BITS, element_layout, scored_layout

__all__ = ["TB", "FAULTS"]

#: The faults of this run (``ATIS_FAULTS``), read when the simulator imports the bench.
FAULTS: list[Fault | None] = [None if f is None else Fault(**f)
                              for f in json.loads(os.environ.get("ATIS_FAULTS") or "[null]")]


class TB(TbBase):
    """Clock, reset, token source and sink, the FPAA BFM (faulty model) around one WatchedScorer."""

    def __init__(self, dut: HierarchyObject, fault: Fault | None = None, glitch: bool = False):
        env = BenchEnv.from_env()
        self.spec, self.seq, self.wd = env.design.projection, env.design.sequencer, env.design.watchdog
        super().__init__(dut, env, clock_ns=self.seq.clock_ns)
        self.d = self.spec.d
        self.source = StreamSource(StreamBus.from_prefix(dut, "i_token"), dut.clk, dut.rst, layout=element_layout())
        self.sink = StreamSink(StreamBus.from_prefix(dut, "o_token"), dut.clk, dut.rst, layout=scored_layout())
        self.fpaa = FpaaBfm.attach(dut, self.cfg, elapsed=self.elapsed, spec=self.spec, seq=self.seq,
                                   glitch=np.random.default_rng(self.seed + 7) if glitch else None)
        self.fault = fault
        if fault is not None:
            self.fpaa.model.inject(self.fault)

    def on_reset(self) -> None:
        self.dut.clear.value = 0

    def send(self, tokens: np.ndarray) -> None:
        for t in tokens:
            for j, x in enumerate(t):
                self.source.send_nowait({"data": int(x), "first": int(j == 0), "last": int(j == self.d - 1)})

    async def receive(self, tokens: np.ndarray, first: int, problems: list[str]) -> list[int]:
        """The keep bit of every token of ``tokens`` (numbered from ``first``), checking each element."""
        budget_ns = round((len(tokens) + 4) * (self.seq.token_cycles() + self.seq.settle_cycles + 4 * self.d)
                          * self.clock_ns * 3)
        keep = []
        for n, token in enumerate(tokens, start=first):
            for j, x in enumerate(token):
                item = await with_timeout(self.sink.recv(), budget_ns, "ns")
                want = {"data": int(x), "first": int(j == 0), "last": int(j == self.d - 1),
                        "index": n % (1 << INDEX_BITS)}
                if {k: item[k] for k in want} != want:
                    problems.append(f"token {n} element {j}: got {item}, expected {want}")
                if j == 0:
                    keep.append(item["keep"])
                elif item["keep"] != keep[-1]:
                    problems.append(f"token {n}: keep changed within the token")
        return keep

    async def clear(self) -> None:
        """One cycle of ``clear`` (from a falling edge: the caller may be in a read-only phase)."""
        await FallingEdge(self.dut.clk)
        self.dut.clear.value = 1
        await FallingEdge(self.dut.clk)
        self.dut.clear.value = 0


def _expected_raw(tb: TB, tokens: np.ndarray, recal_at: int | None) -> np.ndarray:
    """The vectorized model's keep bits with the same fault, recalibrated before token ``recal_at``."""
    model = scorer_model(tb.cfg, tb.spec, tb.seq)
    if tb.fault is not None:
        model.inject(tb.fault)
    codes = projection_codes(tokens, tb.spec)
    cut = len(codes) if recal_at is None else recal_at
    keep = [model.score(codes[:cut]).keep]
    if recal_at is not None:
        model.recalibrate("threshold")
        keep.append(model.score(codes[cut:]).keep)
    return np.concatenate(keep)


@cocotb.test(skip=os.environ.get("ATIS_SOAK") == "1")
@cocotb.parametrize(index=range(len(FAULTS)))
async def test_fault_is_flagged_and_survived(dut: HierarchyObject, index: int) -> None:
    """Sequences through the faulty analog side; the watchdog's status and keep bits == golden, token by token."""
    tb = TB(dut, FAULTS[index])
    assert tb.wd is not None, "the fault bench needs fpga.watchdog.window > 0"
    await tb.reset()
    seq_len = int(os.environ.get("ATIS_FAULT_SEQUENCE", "64"))
    tokens = random_tokens(tb.cfg, tb.env.tokens, tb.seed)
    started = time.monotonic()
    problems, out, statuses, clears = [], [], [], []
    recal_at = hard_fault_at = None
    for first in range(0, len(tokens), seq_len):
        chunk = tokens[first:first + seq_len]
        tb.send(chunk)
        out += await tb.receive(chunk, first, problems)
        await ClockCycles(dut.clk, 2)                    # the status register follows the last transfer's edge
        status = int(tb.dut.status.value)
        statuses.append((first + len(chunk), status))
        if status & TRIPPED:
            if recal_at is None:                        # the host's recovery: re-trim, clear, watch again
                tb.fpaa.model.recalibrate("threshold")
                recal_at = first + len(chunk)
                clears.append(recal_at)
                await tb.clear()
            elif hard_fault_at is None:
                hard_fault_at = first + len(chunk)       # tripped again after the re-trim: leave the fallback on
    await ClockCycles(dut.clk, 10)
    assert tb.sink.empty(), f"{tb.sink.count()} elements after the last token (duplicates)"
    raw = np.array(tb.fpaa.decisions, dtype=bool)
    out = np.array(out, dtype=bool)
    golden = watchdog_trace(raw, tb.wd, clears)
    want_raw = _expected_raw(tb, tokens, recal_at)
    status_mismatches = [(n, s, int(golden.status[n - 1])) for n, s in statuses if s != golden.status[n - 1]]
    at = tb.fault.at_token if tb.fault else len(tokens)
    trip = next((i for i in golden.trips if i >= at), None)
    # sequences scored under the fault before the host's STATUS read first showed a flag (tripped or keep-all)
    flagged = next((n for n, s in statuses if n > at and s & (TRIPPED | KEEP_ALL)), None)
    unflagged = sum(1 for n, s in statuses if n > at and (flagged is None or n < flagged))
    tb.record_metric(f"fault:{index}", {
        "fault": tb.fault.label if tb.fault else None, "at_token": at, "tokens": len(tokens),
        "window": tb.wd.window, "band": [tb.wd.lo_count, tb.wd.hi_count], "sequence": seq_len,
        "detected": trip is not None, "trip_token": trip, "latency_tokens": None if trip is None else trip - at + 1,
        "trips": golden.trips, "recalibrated_at": recal_at, "hard_fault_at": hard_fault_at,
        "keep_before": float(raw[:at].mean()) if at else None,
        "keep_faulty": float(raw[at:recal_at or len(raw)].mean()) if at < (recal_at or len(raw)) else None,
        "keep_after_recovery": float(raw[recal_at:].mean()) if recal_at is not None and recal_at < len(raw) else None,
        "out_keep_after_trip": float(out[trip + 1:].mean()) if trip is not None and trip + 1 < len(out) else None,
        "unflagged_sequences": unflagged, "flag_seen_after_token": flagged,
        "capture_mismatches": int(np.sum(out != golden.keep)), "status_mismatches": len(status_mismatches),
        "first_capture_mismatch": [int(i) for i in np.flatnonzero(out != golden.keep)[:3]],
        "mask_mismatches": int(np.sum(raw != want_raw)), "wall_s": round(time.monotonic() - started, 2)})
    assert not problems, f"{len(problems)} stream problems; first: {problems[:3]}"
    assert len(raw) == len(tokens), f"{len(raw)} evaluations for {len(tokens)} tokens"
    assert np.array_equal(raw, want_raw), f"{int(np.sum(raw != want_raw))} raw keep bits differ from the model"
    assert np.array_equal(out, golden.keep), f"{int(np.sum(out != golden.keep))} keep bits differ from golden"
    assert not status_mismatches, f"status (after token, RTL, golden): {status_mismatches[:3]}"


@cocotb.test(skip=os.environ.get("ATIS_SOAK") != "1")
async def test_soak(dut: HierarchyObject) -> None:
    """ATIS_BENCH_TOKENS tokens, random input gaps and output backpressure, a comparator pin toggling around the
    sampling edge: every element exactly once, in order, one keep bit per token (count, order, index)."""
    tb = TB(dut, glitch=True)
    await tb.reset()
    tb.source.set_pause_generator(make_pause("random", tb.seed + 1))
    tb.sink.set_pause_generator(make_pause("random", tb.seed + 2, 0.5))
    started, problems, received, block = time.monotonic(), [], 0, 2000
    for first in range(0, tb.env.tokens, block):     # blocks bound the memory of the queues, not the flow
        tokens = random_tokens(tb.cfg, min(block, tb.env.tokens - first), tb.seed + first)
        tb.send(tokens)
        received += len(await tb.receive(tokens, first, problems))
    await ClockCycles(dut.clk, 2 * tb.seq.token_cycles() + 100)
    tb.record_metric("soak", {"tokens": tb.env.tokens, "received": received, "problems": len(problems),
                              "first_problems": problems[:3], "left_over": tb.sink.count(),
                              "evaluations": len(tb.fpaa.decisions), "wall_s": round(time.monotonic() - started, 1)})
    assert not problems and received == tb.env.tokens and tb.sink.empty(), problems[:3]
    assert len(tb.fpaa.decisions) == tb.env.tokens
