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
        The row's probabilities in the same order, from a register; honours ``ready``.

    Phases per row of k logits: load (k cycles, tracking the max) -> exp + sum (k + 3 cycles: row read, LUT
    address register, LUT of 256 x 16 bits, E register) -> reciprocal (17 cycles, restoring division) ->
    normalize/out (k + 1 cycles with a ready sink: the row read is registered, then the product goes into the
    output register). One row at a time: about 3k + 21 cycles per row; the last probability leaves the output
    register while the next row loads. Every multiply, LUT read and compare has a register on each side (the
    d = 64 ECP5 build's critical path ran from this multiplier into the attention MAC).

    The row max contributes ``EXP_LUT[0] = 2^15`` to ΣE, so ``2^15 ≤ ΣE ≤ max_len·2^15`` and the quotient
    ``⌊2^31/ΣE⌋ ≤ 2^16`` has 17 bits: the divider starts at numerator bit 16 with the remainder ``2^31 >> 17 =
    2^14`` (< ΣE, so every higher quotient bit is 0). The normalizing product is E (16 bits) x quotient (17 bits).
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
        # Both memories read synchronously (block RAM). The row port is addressed with the index its counter takes
        # next cycle (``idx_next``), so row[idx] is on ``rd.data`` in the cycle that uses it.
        wr = row.write_port()
        rd, lut_rd = row.read_port(transparent_for=(wr,)), lut.read_port()
        length, idx, widx = counter(n + 1, "length"), counter(n + 1, "idx"), counter(n + 1, "widx")
        idx_next = counter(n + 1, "idx_next")
        m.d.comb += [idx_next.eq(idx), rd.addr.eq(idx_next)]
        m.d.sync += idx.eq(idx_next)
        top = Signal(signed(8))
        total_max = max(n, 1) << 15                  # ΣE ≤ max_len·EXP_LUT[0]
        total = Signal(range(total_max + 1))
        recip, rem, step = Signal(QUOTIENT_BITS), Signal(range(2 * total_max + 1)), Signal(range(33))
        x = self.i_logits.payload
        out = self.o_probs
        # EXP pipeline: row[i] -> LUT address register -> LUT read -> E register (written back, summed). The
        # block RAM's clock-to-output (5.6 ns on the ECP5) leaves no time for an adder behind it.
        diff, diff_valid, lut_valid, e_valid = Signal(9), Signal(), Signal(), Signal()
        e = Signal(16)
        m.d.sync += [diff.eq(top + 128 - rd.data), diff_valid.eq(0), lut_valid.eq(diff_valid),
                     e.eq(lut_rd.data), e_valid.eq(lut_valid)]
        m.d.comb += lut_rd.addr.eq(diff)
        # OUT pipeline: row[i] register -> product -> output register; both advance when the output is free.
        advance = ~out.valid | out.ready
        e1, valid1, first1, last1 = Signal(16), Signal(), Signal(), Signal()
        with m.If(out.ready):
            m.d.sync += out.valid.eq(0)

        with m.FSM():
            with m.State("LOAD"):                 # store the logits (offset by 128 to fit unsigned) and the max
                m.d.comb += [self.i_logits.ready.eq(1), wr.addr.eq(length), wr.data.eq(x.s8 + 128),
                             wr.en.eq(self.i_logits.valid), idx_next.eq(0)]   # row[0] for EXP's first cycle
                with m.If(self.i_logits.valid):
                    m.d.sync += [length.eq(length + 1), top.eq(Mux((length == 0) | (x.s8 > top), x.s8, top))]
                    with m.If(x.last | (length == n - 1)):
                        m.d.sync += [widx.eq(0), total.eq(0)]
                        m.next = "EXP"
            with m.State("EXP"):                  # E = LUT[max − s], written back in place; total = ΣE
                with m.If(idx < length):
                    m.d.comb += idx_next.eq(idx + 1)
                    m.d.sync += diff_valid.eq(1)
                with m.If(e_valid):               # E of row[widx]; reads run three elements ahead of the writes
                    m.d.comb += [wr.addr.eq(widx), wr.data.eq(e), wr.en.eq(1)]
                    m.d.sync += [total.eq(total + e), widx.eq(widx + 1)]
                    with m.If(widx == length - 1):
                        m.d.sync += [recip.eq(0), rem.eq(1 << (31 - QUOTIENT_BITS)), step.eq(0)]
                        m.next = "DIVIDE"
            with m.State("DIVIDE"):               # restoring division of 2^31 by total, one quotient bit per cycle
                trial = Signal(range(4 * total_max + 1))
                m.d.comb += trial.eq(rem << 1)                # the numerator's remaining bits are all 0
                with m.If(trial >= total):
                    m.d.sync += [rem.eq(trial - total), recip.eq((recip << 1) | 1)]
                with m.Else():
                    m.d.sync += [rem.eq(trial), recip.eq(recip << 1)]
                m.d.sync += step.eq(step + 1)
                m.d.comb += idx_next.eq(0)                    # E_0, for OUT's first cycle
                with m.If(step == QUOTIENT_BITS - 1):
                    m.d.sync += valid1.eq(0)
                    m.next = "OUT"
            with m.State("OUT"):
                with m.If(advance):
                    m.d.sync += [out.valid.eq(valid1), out.payload.p.eq((e1 * recip) >> 24),
                                 out.payload.first.eq(first1), out.payload.last.eq(last1),
                                 valid1.eq(0)]
                    with m.If(idx < length):
                        m.d.comb += idx_next.eq(idx + 1)
                        m.d.sync += [e1.eq(rd.data), valid1.eq(1), first1.eq(idx == 0),
                                     last1.eq(idx == length - 1)]
                    with m.If(valid1 & last1):    # the row's last product is in the output register
                        m.d.sync += length.eq(0)
                        m.next = "LOAD"
        return m
