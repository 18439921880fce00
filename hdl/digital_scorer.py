"""Digital scorer: keep = q·(codes − mid) > T with one MAC per code; golden: ``atis.golden.digital_scorer``."""
from __future__ import annotations

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from atis.golden.digital_scorer import DigitalScorerSpec

from .common import counter
from .layouts import INDEX_BITS, codes_layout, keep_layout

__all__ = ["DigitalScorer"]


class DigitalScorer(wiring.Component):
    """Scores each token's m codes against an int8 prototype in place of the FPAA.

    Members
    -------
    i_codes : In(stream.Signature(codes_layout(dac_bits)))
        m codes per token (the counter frames tokens; ``first``/``last`` are not trusted).
    o_keep : Out(stream.Signature(keep_layout()))
        ``{keep, index}`` per token, ``keep = Σ q_j (code_j − mid) > T``. Honours ``ready`` (input stalls).

    Throughput: one code per cycle (m cycles per token); latency: 1 cycle after the token's last code.
    """

    def __init__(self, spec: DigitalScorerSpec):
        self._spec = spec
        super().__init__({"i_codes": In(stream.Signature(codes_layout(spec.dac_bits))),
                          "o_keep": Out(stream.Signature(keep_layout()))})

    def elaborate(self, platform):
        m = Module()
        s = self._spec
        m.submodules.weights = weights = Memory(shape=signed(8), depth=s.m, init=[int(w) for w in s.weights])
        w_port = weights.read_port(domain="comb")
        idx = counter(s.m, "idx")
        acc = Signal(signed(s.acc_bits))
        index = Signal(INDEX_BITS)
        centred = Signal(signed(s.dac_bits + 1))
        acc_next = Signal(signed(s.acc_bits))
        m.d.comb += [w_port.addr.eq(idx), centred.eq(self.i_codes.payload.code - (1 << (s.dac_bits - 1))),
                     acc_next.eq(acc + w_port.data * centred),
                     self.i_codes.ready.eq(~(self.o_keep.valid & ~self.o_keep.ready))]
        with m.If(self.o_keep.ready):
            m.d.sync += self.o_keep.valid.eq(0)
        with m.If(self.i_codes.valid & self.i_codes.ready):
            m.d.sync += [acc.eq(acc_next), idx.eq(idx + 1)]
            with m.If(idx == s.m - 1):
                m.d.sync += [acc.eq(0), idx.eq(0), index.eq(index + 1), self.o_keep.valid.eq(1),
                             self.o_keep.payload.keep.eq(acc_next > s.threshold),
                             self.o_keep.payload.index.eq(index)]
        return m
