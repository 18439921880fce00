"""Projection z = P·x (d -> m) with requantization to DAC codes; golden: ``atis.golden.projection``."""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Shape, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from atis.golden.projection import ProjectionSpec

from .common import counter, requantize_expr
from .layouts import codes_layout, element_layout

__all__ = ["Projection"]


class Projection(wiring.Component):
    """z = P·x for a stream of int8 tokens, requantized to offset-binary DAC codes.

    Parameters
    ----------
    spec : ProjectionSpec
        Matrix ``P[m, d]``, ``shift``, ``dac_bits``, ``lanes`` (L) and ``acc_bits``, resolved by
        ``atis.golden.projection.resolve_projection`` from the config, so RTL and golden share every number.

    Members
    -------
    i_token : In(stream.Signature(element_layout()))
        Token elements x[0..d-1], one per transfer. Honors ``ready`` (low while both token buffers are full).
    o_codes : Out(stream.Signature(codes_layout(dac_bits)))
        Codes for channels 0..m-1, one per transfer. Honors ``ready``: the whole MAC pipeline stalls while a code
        waits, so nothing is lost under backpressure.
    framing_error : Out(1)
        Sticky. Set when an accepted element's ``first``/``last`` disagree with the element counter (the counter
        wins: the block keeps its d-element framing).

    The token is written into one bank of a double buffer (W = ceil(d/L) words of L elements, zero padded), while
    the other bank is multiplied: row i of P is applied W words at a time, one word (L MACs) per cycle.

    Latency: W + 5 cycles from the transfer of a token's last element to ``o_codes.valid`` of its channel 0 (when
    the MAC array is idle). Throughput: one token per max(d, m·W) cycles with an always-ready sink, since loading
    token i+1 overlaps the MACs of token i. Accumulator: signed ``acc_bits``, never overflows for int8 input.
    Golden: ``atis.golden.projection.projection_codes``.
    """

    def __init__(self, spec: ProjectionSpec):
        self._spec = spec   # ProjectionSpec checks lanes in 1..d when it is made
        super().__init__({
            "i_token": In(stream.Signature(element_layout())),
            "o_codes": Out(stream.Signature(codes_layout(spec.dac_bits))),
            "framing_error": Out(1),
        })

    @property
    def words(self) -> int:
        """W: buffer words per token (L elements each)."""
        return -(-self._spec.d // self._spec.lanes)

    def _weight_rom(self) -> Memory:
        spec, W, L = self._spec, self.words, self._spec.lanes
        lo, hi = min(int(spec.matrix.min()), -1), max(int(spec.matrix.max()), 1)
        layout = data.ArrayLayout(Shape.cast(range(lo, hi + 1)), L)
        padded = [[int(spec.matrix[i, w * L + k]) if w * L + k < spec.d else 0 for k in range(L)]
                  for i in range(spec.m) for w in range(W)]
        return Memory(shape=layout, depth=spec.m * W, init=padded)

    def elaborate(self, platform):
        m = Module()
        spec, W, L, d = self._spec, self.words, self._spec.lanes, self._spec.d
        m.submodules.weights = weights = self._weight_rom()
        m.submodules.tokens = tokens = Memory(shape=data.ArrayLayout(signed(8), L), depth=2 * W, init=[])
        w_port = tokens.write_port()
        t_port = tokens.read_port()
        p_port = weights.read_port()
        full = Signal(2)   # bank b holds a complete token not yet multiplied

        # --- load side: pack L elements per word into bank wr_bank ---
        wr_bank, wr_elem = Signal(), counter(d, "wr_elem")
        wr_word, wr_lane = counter(W, "wr_word"), counter(L, "wr_lane")
        packed = Signal(data.ArrayLayout(signed(8), L))
        elem = self.i_token.payload
        do_take = self.i_token.valid & self.i_token.ready
        last_elem = wr_elem == d - 1
        m.d.comb += self.i_token.ready.eq(~full.bit_select(wr_bank, 1))
        word = Signal(data.ArrayLayout(signed(8), L))
        for k in range(L):   # lanes above wr_lane are zero: they pad the last word when L does not divide d
            below = Mux(wr_lane > k, packed[k], 0) if k < L - 1 else 0
            m.d.comb += word[k].eq(Mux(wr_lane == k, elem.data, below))
        m.d.comb += [w_port.addr.eq(wr_bank * W + wr_word), w_port.data.eq(word)]
        with m.If(do_take):
            m.d.sync += packed.eq(word)
            with m.If((elem.first != (wr_elem == 0)) | (elem.last != last_elem)):
                m.d.sync += self.framing_error.eq(1)
            with m.If((wr_lane == L - 1) | last_elem):
                m.d.comb += w_port.en.eq(1)
                m.d.sync += [wr_lane.eq(0), wr_word.eq(wr_word + 1)]
            with m.Else():
                m.d.sync += wr_lane.eq(wr_lane + 1)
            m.d.sync += wr_elem.eq(wr_elem + 1)
            with m.If(last_elem):
                m.d.sync += [wr_elem.eq(0), wr_word.eq(0), wr_bank.eq(~wr_bank)]
        load_done = do_take & last_elem

        # --- MAC side: stage 0 issues reads, 1 registers the words, 2 multiplies L lanes, 3 sums them, 4 accumulates
        # and requantizes ---
        en = Signal()   # the pipeline advances unless a code is waiting on a stalled sink
        m.d.comb += en.eq(~(self.o_codes.valid & ~self.o_codes.ready))
        rd_bank, row, rd_word = Signal(), counter(spec.m, "row"), counter(W, "rd_word")
        p_addr = counter(spec.m * W, "p_addr")
        issue = full.bit_select(rd_bank, 1)
        last_issue = issue & (row == spec.m - 1) & (rd_word == W - 1)
        m.d.comb += [t_port.addr.eq(rd_bank * W + rd_word), p_port.addr.eq(p_addr),
                     t_port.en.eq(en), p_port.en.eq(en)]
        with m.If(en & issue):
            m.d.sync += [rd_word.eq(rd_word + 1), p_addr.eq(p_addr + 1)]
            with m.If(rd_word == W - 1):
                m.d.sync += [rd_word.eq(0), row.eq(row + 1)]
            with m.If(last_issue):
                m.d.sync += [row.eq(0), p_addr.eq(0), rd_bank.eq(~rd_bank)]
        unload_done = en & last_issue
        for b in range(2):
            set_b = load_done & (wr_bank == b)
            clr_b = unload_done & (rd_bank == b)
            m.d.sync += full[b].eq((full[b] | set_b) & ~clr_b)

        flags = data.StructLayout({"valid": 1, "first_word": 1, "last_word": 1, "first_row": 1, "last_row": 1})
        s0, s1, s2, s3 = Signal(flags), Signal(flags), Signal(flags), Signal(flags)
        psum = Signal(signed(spec.acc_bits))
        # The memory words, products and their sum get a register each: one cycle for memory -> L multipliers
        # would otherwise also hold the adder tree, and that path bounded the ECP5 build to ~53 MHz; the block
        # RAM's clock-to-output (5.6 ns) into the multipliers then bounded it to ~74 MHz.
        t_word, p_word = Signal.like(t_port.data), Signal.like(p_port.data)
        products = [Signal(signed(8 + weights.shape.elem_shape.width), name=f"product{k}") for k in range(L)]
        with m.If(en):
            m.d.sync += [s0.eq(Cat(issue, rd_word == 0, rd_word == W - 1, row == 0, row == spec.m - 1)),
                         s1.eq(s0), s2.eq(s1), s3.eq(s2), t_word.eq(t_port.data), p_word.eq(p_port.data)]
            m.d.sync += [products[k].eq(t_word[k] * p_word[k]) for k in range(L)]
            m.d.sync += psum.eq(sum(products[1:], products[0]))

        acc = Signal(signed(spec.acc_bits))
        acc_next = Signal(signed(spec.acc_bits))
        m.d.comb += acc_next.eq(Mux(s3.first_word, psum, acc + psum))
        with m.If(self.o_codes.ready):
            m.d.sync += self.o_codes.valid.eq(0)
        with m.If(en & s3.valid):
            m.d.sync += acc.eq(acc_next)
            with m.If(s3.last_word):
                m.d.sync += [self.o_codes.valid.eq(1),
                             self.o_codes.payload.code.eq(requantize_expr(acc_next, spec.shift, spec.dac_bits)),
                             self.o_codes.payload.first.eq(s3.first_row),
                             self.o_codes.payload.last.eq(s3.last_row)]
        return m
