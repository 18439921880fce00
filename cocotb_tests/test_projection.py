"""cocotb bench of hdl.projection: every DAC code compared with atis.golden.projection, under gaps/backpressure.

Launched by ``cocotb_tests.runner`` (pytest or ``atis regress``), which passes through the environment (read by
:class:`atis.cocotb_tests.harness.BenchEnv`): ``ATIS_BENCH_CONFIG`` (YAML the Verilog was generated from),
``ATIS_BENCH_TOKENS`` (random tokens), ``ATIS_BENCH_SEED`` and ``ATIS_BENCH_METRICS`` (a JSON file this bench
writes its measurements into).
"""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import cocotb
import numpy as np
from cocotb.handle import HierarchyObject
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, with_timeout

from atis.cocotb_tests.bfm import StreamBus, StreamMonitor, StreamSink, StreamSource
from atis.cocotb_tests.bfm.pause import make_pause
from atis.cocotb_tests.harness import TbBase
from atis.golden.projection import projection_codes
from atis.hdl.layouts import codes_layout, element_layout

__all__ = ["TB", "edge_tokens", "random_tokens"]

CLOCK_NS = 10


def edge_tokens(d: int) -> np.ndarray:
    """All −128, all 127, alternating both ways, all zero, and a one-hot ramp: saturation and sign corner cases."""
    alt = np.where(np.arange(d) % 2 == 0, -128, 127)
    return np.stack([np.full(d, -128), np.full(d, 127), alt, -alt - 1, np.zeros(d, int),
                     np.where(np.arange(d) == d // 2, 127, 0)])


class TB(TbBase):
    """Clock, reset and the two stream BFMs around one Projection instance."""
    CLOCK_NS = CLOCK_NS

    def __init__(self, dut: HierarchyObject):
        super().__init__(dut)
        self.spec = self.env.design.projection
        self.cycles_per_token = max(self.spec.d, self.spec.m * -(-self.spec.d // self.spec.lanes))
        token_bus = StreamBus.from_prefix(dut, "i_token")
        self.source = StreamSource(token_bus, dut.clk, dut.rst, layout=element_layout())
        self.accepted = StreamMonitor(token_bus, dut.clk, dut.rst, layout=element_layout(),   # what the DUT took
                                      follow=self.source)
        self.sink = StreamSink(StreamBus.from_prefix(dut, "o_codes"), dut.clk, dut.rst,
                               layout=codes_layout(self.spec.dac_bits))
        self.stamps = self.sink.stamps                 # the clock cycle of each received code
        self.sink.stamp_with = lambda: round(get_sim_time("ns") / CLOCK_NS)

    def set_pauses(self, source: str | None, sink: str | None) -> None:
        self.source.set_pause_generator(make_pause(source, self.seed + 1))
        self.sink.set_pause_generator(make_pause(sink, self.seed + 2))

    def send(self, tokens: np.ndarray, framing: Callable[[int], tuple[bool, bool]] | None = None) -> None:
        d = self.spec.d
        for t in tokens:
            for j, x in enumerate(t):
                first, last = (j == 0, j == d - 1) if framing is None else framing(j)
                self.source.send_nowait({"data": int(x), "first": int(first), "last": int(last)})

    async def check(self, tokens: np.ndarray, slack: float = 6.0) -> int:
        """Receive and compare every code of ``tokens``; assert nothing lost, duplicated, reordered or corrupted.
        Returns the number of codes checked."""
        expected = projection_codes(tokens, self.spec)
        m = self.spec.m
        budget = int(len(tokens) * self.cycles_per_token * slack + 200 * self.spec.d) * CLOCK_NS
        mismatches = []
        # One timeout for the whole check (it is the whole run's budget), not one timer task per code.
        items = await with_timeout(self.sink.recv_many(expected.size), budget, "ns")
        for n, item in enumerate(items):
            tok, ch = divmod(n, m)
            want = {"code": int(expected[tok, ch]), "first": int(ch == 0), "last": int(ch == m - 1)}
            if item != want:
                mismatches.append(f"token {tok} channel {ch}: got {item}, expected {want}")
        await ClockCycles(self.dut.clk, 4 * self.cycles_per_token)
        assert self.sink.empty(), f"{self.sink.count()} extra codes after the last expected one (duplicates)"
        assert not mismatches, f"{len(mismatches)} of {expected.size} codes differ; first: {mismatches[:3]}"
        assert not self.sink.protocol_errors, self.sink.protocol_errors[:3]
        assert self.source.idle(), "source still holds elements the DUT never accepted"
        taken = [self.accepted.recv_nowait()["data"] for _ in range(self.accepted.count())]
        assert taken == tokens.reshape(-1).tolist(), "the input stream did not transfer exactly the tokens sent"
        assert not self.accepted.protocol_errors, self.accepted.protocol_errors[:3]
        assert self.dut.framing_error.value == 0, "framing_error set by a well-framed stream"
        return expected.size


def random_tokens(tb: TB, n: int) -> np.ndarray:
    return tb.rng.integers(-128, 128, size=(n, tb.spec.d))


@cocotb.test()
async def test_matches_golden_under_gaps_and_backpressure(dut: HierarchyObject) -> None:
    """≥1000 random tokens + edge tokens, random input gaps and random output backpressure (p = 0.3 each)."""
    tb = TB(dut)
    await tb.reset()
    tb.set_pauses("random", "random")
    tokens = np.concatenate([edge_tokens(tb.spec.d), random_tokens(tb, tb.env.tokens)])
    tb.send(tokens)
    codes = await tb.check(tokens)
    tb.record_metric("golden_random", {"kind": tb.cfg.projection.kind, "tokens_checked": len(tokens),
                                    "codes_checked": codes})


@cocotb.test()
async def test_throughput_with_ready_sink(dut: HierarchyObject) -> None:
    """No pauses: the measured cycles/token must equal max(d, m·ceil(d/L)) (overlap of load and MACs)."""
    tb = TB(dut)
    await tb.reset()
    tokens = np.concatenate([edge_tokens(tb.spec.d), random_tokens(tb, 24)])
    tb.send(tokens)
    await tb.check(tokens, slack=2.0)
    m = tb.spec.m
    firsts = tb.stamps[::m]
    measured = Fraction(firsts[-1] - firsts[1], len(firsts) - 2)   # skip token 0: it includes the pipeline fill
    tb.record_metric("throughput", {"cycles_per_token": float(measured),
                                    "model_cycles_per_token": tb.cycles_per_token,
                                    "d": tb.spec.d, "m": m, "lanes": tb.spec.lanes})
    assert measured == tb.cycles_per_token, f"{measured} cycles/token, expected {tb.cycles_per_token}"


@cocotb.test()
@cocotb.parametrize(source=["none", "cycle", "random"], sink=["none", "cycle", "random"])
async def test_keeps_order_under_pause_matrix(dut: HierarchyObject, source: str, sink: str) -> None:
    """Every source × sink pause pattern: no code lost, duplicated, reordered or changed."""
    tb = TB(dut)
    await tb.reset()
    tb.set_pauses(source, sink)
    tokens = np.concatenate([edge_tokens(tb.spec.d)[:2], random_tokens(tb, 6)])
    tb.send(tokens)
    await tb.check(tokens)


@cocotb.test()
async def test_flags_bad_framing(dut: HierarchyObject) -> None:
    """A token whose markers disagree with the d-element framing sets the sticky framing_error."""
    tb = TB(dut)
    await tb.reset()
    tb.send(random_tokens(tb, 1), framing=lambda j: (j == 1, False))
    await tb.source.wait()
    await ClockCycles(dut.clk, 2)
    assert dut.framing_error.value == 1, "framing_error stayed low for a mis-framed token"
