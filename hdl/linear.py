"""Row-at-a-time int8 matrix products of the transformer; weights arrive over the load chain
(:mod:`atis.hdl.load_chain`)."""
from __future__ import annotations

import enum

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .common import SHIFT_BITS, counter, rq_var
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

    Per row: 1 cycle to take it, ``fan_out·⌈fan_in/lanes⌉`` MAC cycles, then it waits on ``o_rows`` (one row in
    flight; the next is taken after the output transfer).
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
        # Synchronous read ports (block RAM): each is addressed with the value its counter takes next cycle, so
        # the data of the current address is there when the MAC uses it, at the same cycle count as before.
        w_wr, w_rd = weights.write_port(), weights.read_port()
        shifts = [Signal(SHIFT_BITS, name=f"shift{g}") for g in range(self.groups)]
        bias_rd = None
        if self.mode is LinearMode.RAW:
            m.submodules.bias = bias = Memory(shape=signed(32), depth=fo, init=[])
            bias_wr, bias_rd = bias.write_port(), bias.read_port()
        self._load(m, w_wr, shifts, bias_wr if bias_rd is not None else None)

        x = Signal(fi * 8)
        tag = Signal(TAG)
        elem_bits = 32 if self.mode is LinearMode.RAW else 8
        y = Signal(fo * elem_bits)
        j, w, addr = counter(fo, "j"), counter(words, "w"), counter(fo * words, "addr")
        acc = Signal(signed(32))
        xw = Cat(x, Const(0, (words * L - fi) * 8)).word_select(w, 8 * L)
        acc_next = Signal(signed(32))
        m.d.comb += acc_next.eq(acc + sum(xw.word_select(lane, 8).as_signed() * w_rd.data[lane]
                                          for lane in range(L)))
        result = Signal(signed(elem_bits))
        if self.mode is LinearMode.RAW:
            m.d.comb += result.eq(acc_next + bias_rd.data)
        else:
            group_size = fo // self.groups
            shift = shifts[0]
            for g in range(1, self.groups):
                shift = Mux(j >= g * group_size, shifts[g], shift)
            q = rq_var(acc_next, shift)
            m.d.comb += result.eq(Mux(q < 0, 0, q) if self.mode is LinearMode.RELU else q)

        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.comb += self.i_rows.ready.eq(1)
                with m.If(self.i_rows.valid):
                    m.d.sync += [x.eq(self.i_rows.payload.x), tag.eq(self.i_rows.payload.tag),
                                 j.eq(0), w.eq(0), addr.eq(0), acc.eq(0)]
                    m.next = "MAC"
            with m.State("MAC"):
                m.d.sync += addr.eq(addr + 1)
                with m.If(w == words - 1):
                    # Outputs shift in from the top, so after fo of them output 0 sits in the lowest bits.
                    m.d.sync += [y.eq(Cat(y[elem_bits:], result[:elem_bits])), acc.eq(0), w.eq(0), j.eq(j + 1)]
                    with m.If(j == fo - 1):
                        m.next = "EMIT"
                with m.Else():
                    m.d.sync += [acc.eq(acc_next), w.eq(w + 1)]
            with m.State("EMIT"):
                m.d.comb += [self.o_rows.valid.eq(1), self.o_rows.payload.x.eq(y), self.o_rows.payload.tag.eq(tag)]
                with m.If(self.o_rows.ready):
                    m.next = "IDLE"
        in_mac = fsm.ongoing("MAC")
        m.d.comb += w_rd.addr.eq(Mux(in_mac, addr + 1, 0))
        if bias_rd is not None:
            m.d.comb += bias_rd.addr.eq(Mux(in_mac, j + (w == words - 1), 0))
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
