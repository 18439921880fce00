"""One attention head over the kept tokens only: S8 = rq(Q·Kᵀ, s), P = softmax, A = rq(P·V, 7).

Golden: ``atis.golden.transformer`` (the per-head part of ``_block_int``; keys are the tokens flagged ``key``).
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .common import SHIFT_BITS, counter, rq_var
from .layouts import head_out_layout, qkv_layout
from .softmax import Softmax

__all__ = ["AttentionHead"]


class AttentionHead(wiring.Component):
    """Attention of n_q query tokens over their n_k key tokens (1 ≤ n_q ≤ ``max_len``) for one head of width
    ``dh`` with ``lanes`` MAC lanes. ``drop`` sends only kept tokens (n_q = n_k = k); ``keymask`` sends every token
    with ``key`` = its keep bit (n_q = n, n_k = k). With no key at all every output row is 0 (as the golden model).

    Members
    -------
    i_qkv : In(stream.Signature(qkv_layout(dh)))
        The sequence's tokens, one per transfer. Taken only while the head is idle (one sequence at a time).
    o_rows : Out(stream.Signature(head_out_layout(dh)))
        n_q output rows ``A_i = rq(Σ_j P_ij·V_j, 7)`` in query order; honours ``ready``.
    shift : In(SHIFT_BITS)
        Score requantization ``S8 = rq(Q·Kᵀ, shift)``; held while a sequence runs.
    busy : Out(1)
        The head is computing (after the load, excluding cycles where a finished row waits for ``ready``).
    cycles : Out(32)
        ``busy`` cycles of the latest sequence: the attention core's cost, independent of its neighbours' speed.

    Per query: n_k·⌈dh/lanes⌉ cycles for the logits (``lanes`` multipliers) overlapped with the softmax unit's
    load, then its exp/sum (n_k), 17-cycle reciprocal and output (n_k), which A·V consumes one key per cycle (dh
    multipliers): cycles ≈ n_q·(n_k·(⌈dh/lanes⌉ + 2) + ≈20) — with drop, k²·(⌈dh/lanes⌉ + 2) + O(k), quadratic in
    the kept tokens, which is where pruning pays (seed §4.3). One query row at a time.
    """

    def __init__(self, *, max_len: int, dh: int, lanes: int):
        if not 1 <= lanes <= dh:
            raise ValueError(f"attention head lanes = {lanes!r}: must be in 1..dh ({dh})")
        self._n, self._dh, self._lanes = max_len, dh, lanes
        super().__init__({"i_qkv": In(stream.Signature(qkv_layout(dh))),
                          "o_rows": Out(stream.Signature(head_out_layout(dh))), "shift": In(SHIFT_BITS),
                          "busy": Out(1), "cycles": Out(32)})

    def elaborate(self, platform):
        m = Module()
        n, dh, L = self._n, self._dh, self._lanes
        words = -(-dh // L)
        row = data.ArrayLayout(signed(8), dh)
        m.submodules.q = q_mem = Memory(shape=row, depth=max(n, 2), init=[])
        m.submodules.k = k_mem = Memory(shape=row, depth=max(n, 2), init=[])
        m.submodules.v = v_mem = Memory(shape=row, depth=max(n, 2), init=[])
        m.submodules.softmax = softmax = Softmax(n)
        q_wr, k_wr, v_wr = (mem.write_port() for mem in (q_mem, k_mem, v_mem))
        # Synchronous read ports (block RAM), addressed with the value their counter takes next cycle (``*_next``:
        # the counters are registered copies of them), so each row is there in the cycle that uses it.
        q_rd, k_rd, v_rd = (mem.read_port(transparent_for=(wr,)) for mem, wr in
                            ((q_mem, q_wr), (k_mem, k_wr), (v_mem, v_wr)))
        nq, nk = counter(n + 1, "nq"), counter(n + 1, "nk")
        qi, kj, vj = counter(n, "qi"), counter(n, "kj"), counter(n, "vj")
        qi_next, kj_next, vj_next = counter(n, "qi_next"), counter(n, "kj_next"), counter(n, "vj_next")
        m.d.comb += [qi_next.eq(qi), kj_next.eq(kj), vj_next.eq(vj)]
        m.d.sync += [qi.eq(qi_next), kj.eq(kj_next), vj.eq(vj_next)]
        word = counter(words, "word")
        dot = Signal(signed(32))
        acc = Signal(data.ArrayLayout(signed(32), dh))
        cycles = Signal(32)                          # running count; `self.cycles` holds the last finished one
        with m.If(self.busy):
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
        m.d.comb += [q_rd.addr.eq(qi_next), k_rd.addr.eq(kj_next), v_rd.addr.eq(vj_next)]

        with m.FSM():
            with m.State("LOAD"):                   # queries at nq; keys and values compacted at nk
                m.d.comb += self.i_qkv.ready.eq(1)
                m.d.comb += [q_wr.addr.eq(nq), q_wr.data.eq(t.q), q_wr.en.eq(self.i_qkv.valid)]
                for port, name in ((k_wr, "k"), (v_wr, "v")):
                    m.d.comb += [port.addr.eq(nk), port.data.eq(getattr(t, name)),
                                 port.en.eq(self.i_qkv.valid & t.key)]
                with m.If(self.i_qkv.valid):
                    m.d.sync += [nq.eq(nq + 1), nk.eq(nk + t.key)]
                    with m.If(t.last | (nq == n - 1)):
                        m.d.comb += [qi_next.eq(0), kj_next.eq(0)]
                        m.d.sync += [word.eq(0), dot.eq(0), acc.eq(0), cycles.eq(0)]
                        with m.If((nk == 0) & ~t.key):
                            m.next = "EMIT"         # no key: every row is 0
                        with m.Else():
                            m.next = "SCORE"
            with m.State("SCORE"):                  # one logit per ⌈dh/L⌉ cycles into the softmax unit
                m.d.comb += self.busy.eq(1)
                total = Signal(signed(32))
                m.d.comb += total.eq(dot + lane_sum)
                last_word = word == words - 1
                m.d.comb += [softmax.i_logits.valid.eq(last_word),
                             softmax.i_logits.payload.s8.eq(rq_var(total, self.shift)),
                             softmax.i_logits.payload.first.eq(kj == 0),
                             softmax.i_logits.payload.last.eq(kj == nk - 1)]
                with m.If(~last_word):
                    m.d.sync += [dot.eq(total), word.eq(word + 1)]
                with m.Elif(softmax.i_logits.ready):
                    m.d.sync += [dot.eq(0), word.eq(0)]
                    m.d.comb += kj_next.eq(kj + 1)
                    with m.If(kj == nk - 1):
                        m.d.comb += [kj_next.eq(0), vj_next.eq(0)]
                        m.d.sync += acc.eq(0)
                        m.next = "WEIGH"
            with m.State("WEIGH"):                  # A_i += P_ij·V_j, one key per softmax output
                m.d.comb += [self.busy.eq(1), softmax.o_probs.ready.eq(1)]
                p = softmax.o_probs.payload
                with m.If(softmax.o_probs.valid):
                    m.d.comb += vj_next.eq(vj + 1)
                    for d in range(dh):
                        m.d.sync += acc[d].eq(acc[d] + p.p * v_rd.data[d])   # p: 0..128, unsigned
                    with m.If(p.last):
                        m.next = "EMIT"
            with m.State("EMIT"):
                m.d.comb += [self.o_rows.valid.eq(1), self.o_rows.payload.last.eq(qi == nq - 1),
                             self.busy.eq(self.o_rows.ready)]
                for d in range(dh):
                    m.d.comb += self.o_rows.payload.a[d].eq(rq_var(acc[d], 7))
                with m.If(self.o_rows.ready):
                    m.d.comb += qi_next.eq(qi + 1)
                    with m.If(nk != 0):
                        m.next = "SCORE"
                    with m.If(qi == nq - 1):
                        m.d.sync += [nq.eq(0), nk.eq(0), self.cycles.eq(cycles + 1)]
                        m.next = "LOAD"
        return m
