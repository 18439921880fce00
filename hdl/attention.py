"""One attention head over the kept tokens only: S8 = rq(Q·Kᵀ, s), P = softmax, A = rq(P·V, 7).

Golden: ``atis.golden.transformer`` (the per-head part of ``_block_int``, all keys kept — the mask gate has removed
pruned tokens before the head sees them).
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .projection import _counter, requantize_expr
from .softmax import Softmax

__all__ = ["AttentionHead", "qkv_layout", "head_out_layout"]


def qkv_layout(dh: int) -> data.StructLayout:
    """One kept token's query, key and value rows (int8 each); ``last`` marks the sequence's last kept token."""
    row = data.ArrayLayout(signed(8), dh)
    return data.StructLayout({"q": row, "k": row, "v": row, "last": 1})


def head_out_layout(dh: int) -> data.StructLayout:
    return data.StructLayout({"a": data.ArrayLayout(signed(8), dh), "last": 1})


class AttentionHead(wiring.Component):
    """Attention of k kept tokens (1 ≤ k ≤ ``max_len``) for one head of width ``dh`` with ``lanes`` MAC lanes.

    Members
    -------
    i_qkv : In(stream.Signature(qkv_layout(dh)))
        The sequence's k kept tokens, one per transfer. Taken only while the head is idle (one sequence at a time).
    o_rows : Out(stream.Signature(head_out_layout(dh)))
        k output rows ``A_i = rq(Σ_j P_ij·V_j, 7)`` in query order; honours ``ready``.
    cycles : Out(32)
        Cycles from the first input transfer to the last output transfer of the latest sequence.

    Per query: k·⌈dh/lanes⌉ cycles for the logits (``lanes`` multipliers) overlapped with the softmax unit's load,
    then its exp/sum, 32-cycle reciprocal and output, which A·V consumes one key per cycle (dh multipliers):
    cycles ≈ k²·(⌈dh/lanes⌉ + 2) + ≈34·k (measured in tests/test_attention_sim.py) — quadratic in the number of
    kept tokens, which is where pruning pays (seed §4.3). One sequence at a time; no overlap across queries yet.
    """

    def __init__(self, max_len: int, dh: int, lanes: int, score_shift: int):
        if not 1 <= lanes <= dh:
            raise ValueError("lanes must be in 1..dh")
        self._n, self._dh, self._lanes, self._shift = max_len, dh, lanes, score_shift
        super().__init__({"i_qkv": In(stream.Signature(qkv_layout(dh))),
                          "o_rows": Out(stream.Signature(head_out_layout(dh))), "cycles": Out(32)})

    def elaborate(self, platform):
        m = Module()
        n, dh, L = self._n, self._dh, self._lanes
        words = -(-dh // L)
        row = data.ArrayLayout(signed(8), dh)
        m.submodules.q = q_mem = Memory(shape=row, depth=max(n, 2), init=[])
        m.submodules.k = k_mem = Memory(shape=row, depth=max(n, 2), init=[])
        m.submodules.v = v_mem = Memory(shape=row, depth=max(n, 2), init=[])
        m.submodules.softmax = softmax = Softmax(n)
        ports = [mem.write_port() for mem in (q_mem, k_mem, v_mem)]
        q_rd, k_rd, v_rd = (mem.read_port(domain="comb") for mem in (q_mem, k_mem, v_mem))
        length, qi, kj = _counter(n + 1, "length"), _counter(n, "qi"), _counter(n, "kj")
        word, vj = _counter(words, "word"), _counter(n, "vj")
        dot = Signal(signed(32))
        acc = Signal(data.ArrayLayout(signed(32), dh))
        counting, cycles = Signal(), Signal(32)     # running count; `self.cycles` holds the last finished one
        with m.If(counting):
            m.d.sync += cycles.eq(cycles + 1)
        t = self.i_qkv.payload

        # Lane products of the current word: q_i[w·L + l]·k_j[w·L + l] (zero beyond dh).
        lane_sum = 0
        for lane in range(L):
            idx = Signal(range(words * L), name=f"idx{lane}")
            m.d.comb += idx.eq(word * L + lane)
            qv = Mux(idx < dh, q_rd.data.as_value().word_select(idx, 8).as_signed(), 0)
            kv = Mux(idx < dh, k_rd.data.as_value().word_select(idx, 8).as_signed(), 0)
            lane_sum = lane_sum + qv * kv
        m.d.comb += [q_rd.addr.eq(qi), k_rd.addr.eq(kj), v_rd.addr.eq(vj)]

        with m.FSM():
            with m.State("LOAD"):
                m.d.comb += self.i_qkv.ready.eq(1)
                for port, name in zip(ports, ("q", "k", "v")):
                    m.d.comb += [port.addr.eq(length), port.data.eq(getattr(t, name)), port.en.eq(self.i_qkv.valid)]
                with m.If(self.i_qkv.valid):
                    m.d.sync += length.eq(length + 1)
                    with m.If(length == 0):
                        m.d.sync += [counting.eq(1), cycles.eq(1)]
                    with m.If(t.last | (length == n - 1)):
                        m.d.sync += [qi.eq(0), kj.eq(0), word.eq(0), dot.eq(0)]
                        m.next = "SCORE"
            with m.State("SCORE"):                  # one logit per ⌈dh/L⌉ cycles into the softmax unit
                total = Signal(signed(32))
                m.d.comb += total.eq(dot + lane_sum)
                last_word = word == words - 1
                m.d.comb += [softmax.i_logits.valid.eq(last_word),
                             softmax.i_logits.payload.s8.eq(_rq8(total, self._shift)),
                             softmax.i_logits.payload.first.eq(kj == 0),
                             softmax.i_logits.payload.last.eq(kj == length - 1)]
                with m.If(~last_word):
                    m.d.sync += [dot.eq(total), word.eq(word + 1)]
                with m.Elif(softmax.i_logits.ready):
                    m.d.sync += [dot.eq(0), word.eq(0), kj.eq(kj + 1)]
                    with m.If(kj == length - 1):
                        m.d.sync += [kj.eq(0), vj.eq(0), acc.eq(0)]
                        m.next = "WEIGH"
            with m.State("WEIGH"):                  # A_i += P_ij·V_j, one key per softmax output
                m.d.comb += softmax.o_probs.ready.eq(1)
                p = softmax.o_probs.payload
                with m.If(softmax.o_probs.valid):
                    m.d.sync += vj.eq(vj + 1)
                    for d in range(dh):
                        m.d.sync += acc[d].eq(acc[d] + p.p * v_rd.data[d])   # p: 0..128, unsigned
                    with m.If(p.last):
                        m.next = "EMIT"
            with m.State("EMIT"):
                m.d.comb += [self.o_rows.valid.eq(1), self.o_rows.payload.last.eq(qi == length - 1)]
                for d in range(dh):
                    m.d.comb += self.o_rows.payload.a[d].eq(_rq8(acc[d], 7))
                with m.If(self.o_rows.ready):
                    m.d.sync += qi.eq(qi + 1)
                    m.next = "SCORE"
                    with m.If(qi == length - 1):
                        m.d.sync += [length.eq(0), counting.eq(0), self.cycles.eq(cycles + 1)]
                        m.next = "LOAD"
        return m


def _rq8(value, shift: int):
    """Signed requantization to int8 (round half up, saturate): the signed form of ``requantize_expr``."""
    return (requantize_expr(value, shift, 8) - 128)[:8]
