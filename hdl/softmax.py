"""Integer softmax of one attention row; golden: ``atis.golden.transformer.softmax_int`` (all keys kept — the mask
gate has already removed pruned keys)."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from atis.golden.transformer import EXP_LUT

from .common import counter
from .layouts import logit_layout, prob_layout

__all__ = ["Softmax"]

QUOTIENT_BITS = 17          # ⌊2^31 / ΣE⌋ ≤ 2^16 because ΣE ≥ EXP_LUT[0] = 2^15
assert EXP_LUT[0] == 1 << 15


class Softmax(wiring.Component):
    """P = (EXP_LUT[max − s]·⌊2^31 / ΣE⌋) >> 24 for a row of up to ``max_len`` int8 logits.

    Members
    -------
    i_logits : In(stream.Signature(logit_layout()))
        One row: ``first`` on the first logit, ``last`` on the last (rows of 1..max_len logits).
    o_probs : Out(stream.Signature(prob_layout()))
        The row's probabilities in the same order; honours ``ready``.

    Phases per row of k logits: load (k cycles, tracking the max) -> exp + sum (k cycles, LUT of 256 x 16 bits)
    -> reciprocal (17 cycles, restoring division) -> normalize/out (k cycles with a ready sink). One row at a time:
    about 3k + 19 cycles per row.

    The row max contributes ``EXP_LUT[0] = 2^15`` to ΣE, so ``2^15 ≤ ΣE`` and the quotient ``⌊2^31/ΣE⌋ ≤ 2^16``
    has 17 bits: the divider starts at numerator bit 16 with the remainder ``2^31 >> 17 = 2^14`` (< ΣE, so every
    higher quotient bit is 0).
    """

    def __init__(self, max_len: int):
        self._n = max_len
        super().__init__({"i_logits": In(stream.Signature(logit_layout())),
                          "o_probs": Out(stream.Signature(prob_layout()))})

    def elaborate(self, platform):
        m = Module()
        n = self._n
        m.submodules.row = row = Memory(shape=unsigned(16), depth=max(n, 2), init=[])
        m.submodules.lut = lut = Memory(shape=unsigned(16), depth=256, init=[int(e) for e in EXP_LUT])
        # Both memories read synchronously (block RAM) at the same cycle counts as a combinational read: the EXP
        # phase runs one element ahead (while E_i is written back, row[i+1] is already out of the row memory and
        # its LUT entry is being read), primed in LOAD's last cycle from the first logit and the final max.
        wr = row.write_port()
        rd, lut_rd = row.read_port(transparent_for=(wr,)), lut.read_port()
        length, idx = counter(n + 1, "length"), counter(n + 1, "idx")
        top = Signal(signed(8))
        first = Signal(signed(8))                 # the row's first logit: its LUT entry is read before EXP
        total = Signal(32)
        recip, rem, step = Signal(32), Signal(33), Signal(range(33))
        x = self.i_logits.payload

        with m.FSM():
            with m.State("LOAD"):                 # store the logits (offset by 128 to fit unsigned) and the max
                m.d.comb += [self.i_logits.ready.eq(1), wr.addr.eq(length), wr.data.eq(x.s8 + 128),
                             wr.en.eq(self.i_logits.valid)]
                final_top = Mux((length == 0) | (x.s8 > top), x.s8, top)
                first_logit = Mux(length == 0, x.s8, first)
                m.d.comb += [rd.addr.eq(1), lut_rd.addr.eq((final_top - first_logit)[:9])]
                with m.If(self.i_logits.valid):
                    m.d.sync += [length.eq(length + 1), top.eq(final_top), first.eq(first_logit)]
                    with m.If(x.last | (length == n - 1)):
                        m.d.sync += [idx.eq(0), total.eq(0)]
                        m.next = "EXP"
            with m.State("EXP"):                  # E = LUT[max − s], written back in place; total = ΣE
                diff = Signal(9)
                m.d.comb += [diff.eq(top + 128 - rd.data), lut_rd.addr.eq(diff), rd.addr.eq(idx + 2),   # row[i+1]
                             wr.addr.eq(idx), wr.data.eq(lut_rd.data), wr.en.eq(1)]
                m.d.sync += [total.eq(total + lut_rd.data), idx.eq(idx + 1)]
                with m.If(idx == length - 1):
                    m.d.sync += [recip.eq(0), rem.eq(1 << (31 - QUOTIENT_BITS)), step.eq(0)]
                    m.next = "DIVIDE"
            with m.State("DIVIDE"):               # restoring division of 2^31 by total, one quotient bit per cycle
                trial = Signal(33)
                m.d.comb += trial.eq(rem << 1)                # the numerator's remaining bits are all 0
                with m.If(trial >= total):
                    m.d.sync += [rem.eq(trial - total), recip.eq((recip << 1) | 1)]
                with m.Else():
                    m.d.sync += [rem.eq(trial), recip.eq(recip << 1)]
                m.d.sync += step.eq(step + 1)
                m.d.comb += rd.addr.eq(0)                     # E_0, for OUT's first cycle
                with m.If(step == QUOTIENT_BITS - 1):
                    m.d.sync += idx.eq(0)
                    m.next = "OUT"
            with m.State("OUT"):
                product = Signal(48)
                m.d.comb += [product.eq(rd.data * recip), self.o_probs.valid.eq(1),
                             self.o_probs.payload.p.eq(product >> 24),
                             self.o_probs.payload.first.eq(idx == 0),
                             self.o_probs.payload.last.eq(idx == length - 1)]
                m.d.comb += rd.addr.eq(idx + self.o_probs.ready)
                with m.If(self.o_probs.ready):
                    m.d.sync += idx.eq(idx + 1)
                    with m.If(idx == length - 1):
                        m.d.sync += length.eq(0)
                        m.next = "LOAD"
        return m
