"""One attention head over the kept tokens only: S8 = rq(Q·Kᵀ, s), P = softmax, A = rq(P·V, 7).

Golden: ``atis.golden.transformer`` (the per-head part of ``_block_int``; keys are the tokens flagged ``key``).
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .common import SHIFT_BITS, counter, rq_var, sat
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

    Per query: n_k·⌈dh/lanes⌉ cycles for the logits (``lanes`` multipliers, a 9-stage pipeline into the
    softmax unit's load), then its exp/sum (n_k + 3), 17-cycle reciprocal and output (n_k + 1), which A·V consumes
    one key per cycle (dh multipliers, 3 stages), one cycle to round the row into the output register and one to
    emit it: cycles = n_q·(n_k·(⌈dh/lanes⌉ + 2) + 36) (measured in the Amaranth simulation with n_q = n_k; 18
    instead of 36 before the pipeline registers that let the d = 64 ECP5 build meet timing) — with drop,
    k²·(⌈dh/lanes⌉ + 2) + 36k, quadratic in the kept tokens, which is where pruning pays (seed §4.3). One query row
    at a time.
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
        # Synchronous read ports (block RAM) addressed straight from the counter registers, their data registered
        # again before any logic: on the ECP5 the block RAM's clock-to-output is 5.6 ns, and an address computed
        # from the handshakes was a critical path. Row r of a counter's value is on ``data`` one cycle later.
        q_rd, k_rd, v_rd = (mem.read_port(transparent_for=(wr,)) for mem, wr in
                            ((q_mem, q_wr), (k_mem, k_wr), (v_mem, v_wr)))
        nq, nk = counter(n + 1, "nq"), counter(n + 1, "nk")
        qi, kj, vj = counter(n, "qi"), counter(n, "kj"), counter(n, "vj")
        m.d.comb += [q_rd.addr.eq(qi), k_rd.addr.eq(kj), v_rd.addr.eq(vj)]
        word = counter(words, "word")
        cycles = Signal(32)                          # running count; `self.cycles` holds the last finished one
        with m.If(self.busy):
            m.d.sync += cycles.eq(cycles + 1)
        t = self.i_qkv.payload

        # The score pipeline, one stage per register, advancing every cycle:
        # issue (word, kj) -> [q_i, k_j read] -> [q_i, k_j rows] -> [lane operands of the word] -> [lane products]
        # -> [their sum] -> [dot, summed over the words of k_j] -> [dot + rounding half] -> [· >> shift]
        # -> [S8 = sat(·)] = the softmax input: ``rq_var`` in three stages. The memories are not written while a
        # row is scored. It never stalls, so it has no clock enable (whose fan-out was the head's critical path):
        # the softmax unit takes a logit in every cycle of its load phase, and it is in that phase whenever a
        # logit can arrive: it leaves it only on a row's last logit, and the next row is scored only after the
        # head has taken that row's last probability, which the softmax sends as it returns to its load phase.
        logits = softmax.i_logits
        issue = Signal()                             # the (word, kj) in the counters is sent down the pipeline
        lane_ops = data.ArrayLayout(signed(8), L)
        flags = data.StructLayout({"valid": 1, "word": range(max(words, 2)), "first_word": 1, "last_word": 1,
                                   "first": 1, "last": 1})
        f0, f1, f2, f3, f4, f5, f6, f7 = (Signal(flags, name=f"score_flags{i}") for i in range(8))
        q1, k1 = Signal(row), Signal(row)
        q2, k2 = Signal(lane_ops), Signal(lane_ops)
        prod3 = Signal(data.ArrayLayout(range(-(1 << 14), (1 << 14) + 1), L))
        bound = dh << 14                             # |Σ q·k| ≤ dh·128·128
        psum4 = Signal(range(-bound, bound + 1))
        dot = Signal(range(-bound, bound + 1))
        rounded, shifted = Signal(signed(33)), Signal(signed(33))     # dot + 2^(shift-1) < 2^31
        pad = Const(0, (words * L - dh) * 8)
        m.d.sync += [f0.valid.eq(issue), f0.word.eq(word), f0.first_word.eq(word == 0),
                     f0.last_word.eq(word == words - 1), f0.first.eq(kj == 0), f0.last.eq(kj == nk - 1),
                     f1.eq(f0), q1.eq(q_rd.data), k1.eq(k_rd.data),
                     f2.eq(f1), q2.eq(Cat(q1.as_value(), pad).word_select(f1.word, 8 * L)),
                     k2.eq(Cat(k1.as_value(), pad).word_select(f1.word, 8 * L)),
                     f3.eq(f2), *(prod3[lane].eq(q2[lane] * k2[lane]) for lane in range(L)),
                     f4.eq(f3), psum4.eq(sum(prod3[lane] for lane in range(L))),
                     f5.eq(f4), f5.valid.eq(f4.valid & f4.last_word),
                     f6.eq(f5), rounded.eq(dot + ((Const(1, 33) << self.shift) >> 1)),
                     f7.eq(f6), shifted.eq(rounded >> self.shift),
                     logits.valid.eq(f7.valid), logits.payload.first.eq(f7.first),
                     logits.payload.last.eq(f7.last), logits.payload.s8.eq(sat(shifted))]
        with m.If(f4.valid):
            m.d.sync += dot.eq(Mux(f4.first_word, 0, dot) + psum4)

        # A·V: [p] (V_j read) -> [p, V_j] -> [p·V_j, dh products] -> acc; the softmax output is a register. The
        # row's first product replaces acc, so acc needs no clear (a fan-out to every accumulator bit).
        w1, w2, w3 = (Signal(data.StructLayout({"valid": 1, "first": 1, "last": 1}), name=f"weigh_flags{i}")
                      for i in range(1, 4))
        # p2 drives dh multipliers spread over the DSP columns: one copy per 8 of them (distinct init values keep
        # Yosys from merging the copies; p2 is only read with w3.valid, never at its reset value).
        p1 = Signal(8)
        p2 = [Signal(8, init=c, name=f"p2_{c}") for c in range(-(-dh // 8))]
        v2 = Signal(row)
        prod = Signal(data.ArrayLayout(signed(16), dh))    # 0..128 x int8
        acc = Signal(data.ArrayLayout(range(-(n << 14), (n << 14) + 1), dh))   # |Σ_j P_ij·V_j| ≤ n·128·128
        m.d.sync += [w1.valid.eq(0), w2.eq(w1), *(c.eq(p1) for c in p2), v2.eq(v_rd.data), w3.eq(w2)]
        m.d.sync += [prod[d].eq(p2[d // 8] * v2[d]) for d in range(dh)]     # p: 0..128, unsigned
        with m.If(w3.valid):
            m.d.sync += [acc[d].eq(Mux(w3.first, 0, acc[d]) + prod[d]) for d in range(dh)]
        out = Signal(data.ArrayLayout(signed(8), dh))  # A_i = rq(acc, 7), 0 when there is no key

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
                        m.d.sync += [qi.eq(0), kj.eq(0), word.eq(0), cycles.eq(0)]
                        with m.If((nk == 0) & ~t.key):
                            m.next = "ROUND"        # no key: every row is 0
                        with m.Else():
                            m.next = "SCORE"
            with m.State("SCORE"):                  # issue one word of q_i·k_j per cycle; the pipeline finishes
                m.d.comb += [self.busy.eq(1), issue.eq(1)]
                m.d.sync += word.eq(word + 1)
                with m.If(word == words - 1):
                    m.d.sync += [word.eq(0), kj.eq(kj + 1)]
                    with m.If(kj == nk - 1):
                        m.d.sync += [kj.eq(0), vj.eq(0)]
                        m.next = "WEIGH"
            with m.State("WEIGH"):                  # A_i += P_ij·V_j, one key per softmax output
                m.d.comb += [self.busy.eq(1), softmax.o_probs.ready.eq(1)]
                p = softmax.o_probs.payload
                with m.If(softmax.o_probs.valid):   # V_vj is read at this edge: it meets p one cycle later
                    m.d.sync += [vj.eq(vj + 1), w1.valid.eq(1), w1.first.eq(p.first), w1.last.eq(p.last),
                                 p1.eq(p.p)]
                with m.If(w3.valid & w3.last):      # the row's last product is in acc next cycle
                    m.next = "ROUND"
            with m.State("ROUND"):                  # the output row into a register
                m.d.comb += self.busy.eq(1)
                m.d.sync += [out[d].eq(Mux(nk == 0, 0, rq_var(acc[d], 7))) for d in range(dh)]
                m.next = "EMIT"
            with m.State("EMIT"):
                m.d.comb += [self.o_rows.valid.eq(1), self.o_rows.payload.last.eq(qi == nq - 1),
                             self.o_rows.payload.a.eq(out), self.busy.eq(self.o_rows.ready)]
                with m.If(self.o_rows.ready):
                    m.d.sync += qi.eq(qi + 1)
                    with m.If(nk != 0):
                        m.next = "SCORE"
                    with m.If(qi == nq - 1):
                        m.d.sync += [nq.eq(0), nk.eq(0), self.cycles.eq(cycles + 1)]
                        m.next = "LOAD"
        return m
