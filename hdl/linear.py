"""Row-at-a-time int8 matrix products of the transformer; weights arrive over the load chain
(:mod:`atis.hdl.load_chain`)."""
from __future__ import annotations

import enum

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .common import SHIFT_BITS, counter, sat
from .layouts import TAG, load_layout, row_layout
from .load_chain import load_segment

__all__ = ["Linear", "LinearMode"]


class LinearMode(enum.Enum):
    """What a :class:`Linear` does with each accumulator."""
    RQ = "rq"        # requantize to int8 by the output group's run-time shift
    RELU = "relu"    # rq, then max(0, ·)
    RAW = "raw"      # int32 x·W + b (the classifier's logits)


class Linear(wiring.Component):
    """``y = x·W`` per row, ``lanes`` int8 MACs, then per output: ``rq`` (run-time shift per output group),
    ``relu`` (rq then max 0) or ``raw`` (int32 ``x·W + b``).

    Members
    -------
    i_rows : In(stream.Signature(row_layout(fan_in)))
        One token row per transfer; its ``tag`` travels with it.
    o_rows : Out(stream.Signature(row_layout(fan_out, int8 or int32)))
    i_load, o_load : the load chain. Segment: ``groups`` shift bytes (not in raw mode), W column by column
        (``W[0, j] .. W[fan_in-1, j]`` for each output j), then in raw mode 4 little-endian bytes of each bias.

    Per row: 1 cycle to take it, ``fan_out·⌈fan_in/lanes⌉`` MAC issue cycles, 7 cycles (6 in raw mode) for the
    MAC pipeline to finish the last output (block RAM read, operands, products, their sum, accumulator, rounding,
    shift: one register each, so the ECP5 build meets its clock), then it waits on ``o_rows`` (one row in flight;
    the next is taken after the output transfer).
    """

    def __init__(self, *, fan_in: int, fan_out: int, lanes: int, mode: LinearMode = LinearMode.RQ,
                 groups: int = 1):
        if not isinstance(mode, LinearMode):
            raise TypeError(f"Linear mode must be a LinearMode, not {mode!r}")
        if groups < 1 or fan_out % groups:
            raise ValueError(f"Linear groups = {groups}: must divide fan_out = {fan_out}")
        if not 1 <= lanes <= fan_in:
            raise ValueError(f"Linear lanes = {lanes}: must be in 1..fan_in ({fan_in})")
        self.fan_in, self.fan_out, self.lanes, self.mode, self.groups = fan_in, fan_out, lanes, mode, groups
        raw = mode is LinearMode.RAW
        self.words = -(-fan_in // lanes)
        self.shift_bytes = 0 if raw else groups
        self.load_length = self.shift_bytes + fan_in * fan_out + (4 * fan_out if raw else 0)
        out = signed(32) if raw else signed(8)
        super().__init__({"i_rows": In(stream.Signature(row_layout(fan_in))),
                          "o_rows": Out(stream.Signature(row_layout(fan_out, out))),
                          "i_load": In(stream.Signature(load_layout())),
                          "o_load": Out(stream.Signature(load_layout()))})

    def elaborate(self, platform):
        m = Module()
        fi, fo, L, words = self.fan_in, self.fan_out, self.lanes, self.words
        word_layout = data.ArrayLayout(signed(8), L)
        m.submodules.weights = weights = Memory(shape=word_layout, depth=fo * words, init=[])
        # Synchronous read ports (block RAM), addressed from counter registers; their data is registered before use.
        w_wr, w_rd = weights.write_port(), weights.read_port()
        shifts = [Signal(SHIFT_BITS, name=f"shift{g}") for g in range(self.groups)]
        bias_rd = None
        if self.mode is LinearMode.RAW:
            m.submodules.bias = bias = Memory(shape=signed(32), depth=fo, init=[])
            bias_wr, bias_rd = bias.write_port(), bias.read_port()
        self._load(m, w_wr, shifts, bias_wr if bias_rd is not None else None)

        x = Signal(fi * 8)
        tag = Signal(TAG)
        raw = self.mode is LinearMode.RAW
        elem_bits = 32 if raw else 8
        y = Signal(fo * elem_bits)
        j, w, addr = counter(fo, "j"), counter(words, "w"), counter(fo * words, "addr")
        # The MAC pipeline, one register per stage (every product, sum, shift and block RAM output is registered):
        # issue (j, w) -> [W word read, flags] -> [x word, W word] -> [lane products] -> [their sum]
        # -> [acc, summed over the words of output j] -> rq: [acc + rounding half] -> [· >> shift] -> y (sat,
        # relu); raw: [acc + bias] -> y. The block RAMs are addressed straight from the counter registers.
        m.d.comb += w_rd.addr.eq(addr)
        if bias_rd is not None:
            m.d.comb += bias_rd.addr.eq(j)
        issue = Signal()
        flags = data.StructLayout({"valid": 1, "w": range(max(words, 2)), "first_word": 1, "last_word": 1,
                                   "last": 1, "shift": SHIFT_BITS})
        f0, f1, f2, f3, f4, f5, f6 = (Signal(flags, name=f"mac_flags{i}") for i in range(7))
        group_size = fo // self.groups
        shift = shifts[0]
        for g in range(1, self.groups):
            shift = Mux(j >= g * group_size, shifts[g], shift)
        x1, w1 = Signal(word_layout), Signal(word_layout)
        prod2 = Signal(data.ArrayLayout(range(-(1 << 14), (1 << 14) + 1), L))
        bound = fi << 14                              # |x·W| ≤ fan_in·128·128
        psum3, acc = Signal(range(-bound, bound + 1)), Signal(range(-bound, bound + 1))
        xw = Cat(x, Const(0, (words * L - fi) * 8)).word_select(f0.w, 8 * L)
        m.d.sync += [f0.eq(0), f0.valid.eq(issue), f0.w.eq(w), f0.first_word.eq(w == 0),
                     f0.last_word.eq(w == words - 1), f0.last.eq(j == fo - 1), f0.shift.eq(shift),
                     f1.eq(f0), x1.eq(xw), w1.eq(w_rd.data),
                     f2.eq(f1), *(prod2[lane].eq(x1[lane] * w1[lane]) for lane in range(L)),
                     f3.eq(f2), psum3.eq(sum(prod2[lane] for lane in range(L))),
                     f4.eq(f3), f4.valid.eq(f3.valid & f3.last_word),
                     f5.eq(f4), f6.eq(f5)]
        with m.If(f3.valid):
            m.d.sync += acc.eq(Mux(f3.first_word, 0, acc) + psum3)
        result = Signal(signed(elem_bits))
        done = Signal()                               # the row's last output goes into y
        if raw:
            bias = [Signal(signed(32), name=f"bias{i}") for i in range(1, 5)]   # travels with its output
            m.d.sync += [bias[0].eq(bias_rd.data), *(b.eq(a) for a, b in zip(bias, bias[1:]))]
            total = Signal(signed(33))
            m.d.sync += total.eq(acc + bias[3])
            m.d.comb += [result.eq(total), done.eq(f5.valid & f5.last)]
            out_valid = f5.valid
        else:
            rounded, shifted = Signal(signed(33)), Signal(signed(33))    # acc + 2^(shift-1) < 2^31
            m.d.sync += [rounded.eq(acc + ((Const(1, 33) << f4.shift) >> 1)), shifted.eq(rounded >> f5.shift)]
            q = sat(shifted)
            m.d.comb += [result.eq(Mux(q < 0, 0, q) if self.mode is LinearMode.RELU else q),
                         done.eq(f6.valid & f6.last)]
            out_valid = f6.valid
        with m.If(out_valid):
            # Outputs shift in from the top, so after fo of them output 0 sits in the lowest bits.
            m.d.sync += y.eq(Cat(y[elem_bits:], result[:elem_bits]))

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.i_rows.ready.eq(1)
                with m.If(self.i_rows.valid):
                    m.d.sync += [x.eq(self.i_rows.payload.x), tag.eq(self.i_rows.payload.tag),
                                 j.eq(0), w.eq(0), addr.eq(0)]
                    m.next = "MAC"
            with m.State("MAC"):                      # issue one word per cycle
                m.d.comb += issue.eq(1)
                m.d.sync += [addr.eq(addr + 1), w.eq(w + 1)]
                with m.If(w == words - 1):
                    m.d.sync += [w.eq(0), j.eq(j + 1)]
                    with m.If(j == fo - 1):
                        m.next = "DRAIN"
            with m.State("DRAIN"):                    # the pipeline finishes the row
                with m.If(done):
                    m.next = "EMIT"
            with m.State("EMIT"):
                m.d.comb += [self.o_rows.valid.eq(1), self.o_rows.payload.x.eq(y), self.o_rows.payload.tag.eq(tag)]
                with m.If(self.o_rows.ready):
                    m.next = "IDLE"
        return m

    def _load(self, m: Module, w_wr, shifts, bias_wr) -> None:
        """Shifts, then weights packed ``lanes`` to a word (zero padded per column), then biases."""
        fi, fo, L, S = self.fan_in, self.fan_out, self.lanes, self.shift_bytes
        take, index = load_segment(m, self.i_load, self.o_load, self.load_length)
        byte = self.i_load.payload.byte
        first = self.i_load.payload.first
        for g, reg in enumerate(shifts):
            with m.If(take & (index == g)):
                m.d.sync += reg.eq(byte)

        # Packing counters, restarted by a `first` byte (Mux(first, 0, ...)) so a new load always begins clean.
        lane, i, addr = counter(L, "ld_lane"), counter(fi, "ld_i"), counter(fo * self.words, "ld_addr")
        buf = Signal(data.ArrayLayout(signed(8), L))
        cur_lane, cur_i, cur_addr = (Mux(first, 0, s) for s in (lane, i, addr))
        word = Signal(data.ArrayLayout(signed(8), L))
        m.d.comb += word.eq(Mux(first, 0, buf))
        for k in range(L):
            with m.If(cur_lane == k):
                m.d.comb += word[k].eq(byte)
        in_weights = take & (index < S + fi * fo)
        if S:                                          # (index >= 0 would be a constant comparison for the linter)
            in_weights &= index >= S
        flush = (cur_lane == L - 1) | (cur_i == fi - 1)
        m.d.comb += [w_wr.addr.eq(cur_addr), w_wr.data.eq(word), w_wr.en.eq(in_weights & flush)]
        with m.If(take & first):                     # (the first byte may be a shift byte, not a weight)
            m.d.sync += [buf.eq(0), lane.eq(0), addr.eq(0), i.eq(0)]
        with m.If(in_weights):
            m.d.sync += [buf.eq(Mux(flush, 0, word)), lane.eq(Mux(flush, 0, cur_lane + 1)),
                         addr.eq(cur_addr + flush), i.eq(Mux(cur_i == fi - 1, 0, cur_i + 1))]
        if bias_wr is None:
            return
        nbyte, baddr = Signal(2), counter(fo, "ld_bias")
        value = Signal(32)
        merged = Cat(value[8:], byte)                  # little-endian: each byte enters at the top
        in_bias = take & (index >= S + fi * fo)
        m.d.comb += [bias_wr.addr.eq(baddr), bias_wr.data.eq(merged), bias_wr.en.eq(in_bias & (nbyte == 3))]
        with m.If(take & first):
            m.d.sync += [nbyte.eq(0), baddr.eq(0)]
        with m.If(in_bias):
            m.d.sync += [value.eq(merged), nbyte.eq(nbyte + 1), baddr.eq(baddr + (nbyte == 3))]
