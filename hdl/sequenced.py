"""The transformer as a micro-sequenced datapath: one MAC, two block RAMs, a fixed program (the UP5K-sized engine).

:class:`atis.hdl.transformer.Transformer` gives every block its own MAC lanes and buffers; at d = 16 that is
~11,000 LUT4 and 45 BRAMs, twice the iCE40UP5K. This engine runs the same integer graph (golden: ``forward_int``)
through one multiply-accumulate pipeline, a LUT softmax, an add-and-norm, a pooling divider and the bias loader,
all reading and writing two byte-wide block RAMs (:class:`atis.hdl.sequenced_map.MemoryMap`); a state machine
steps through the graph. Pruned tokens never reach the RAM: the engine always computes the ``drop`` semantics
(same logits as ``keymask``, whose only difference is the extra work), so the ``drop`` input is ignored.
"""
from __future__ import annotations

import functools
import operator

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from atis.design import TransformerSpec
from atis.golden.transformer import SHIFTS

from . import sequenced_units as units
from .layouts import load_layout, result_layout, token_row_layout
from .sequenced_map import MemoryMap

__all__ = ["SequencedTransformer"]


class SequencedTransformer(wiring.Component):
    """Logits of sequences of token rows, bit-exact with ``forward_int``, on one MAC; same members as
    :class:`atis.hdl.transformer.Transformer` (``i_tokens``, ``drop`` (ignored), ``i_load``, ``o_result``).

    Cost per sequence of k kept tokens, per block (one product term per cycle):
    ``k·d·(3d + d + 2f)`` MAC cycles for Q, K, V, the output projection and the FFN, plus per head
    ``k·(2·k·dh + 3k + 70)`` for the logits, the softmax and P·V (the ``attention_cycles``), plus ``k·(4d + 12)``
    for the two add-and-norms; then ``d·(k + 40)`` for pooling, ``4C`` for the biases and ``d·C`` for the
    classifier. Rows enter at d cycles per kept row (the bytes are written one per cycle) and one per pruned row.
    Weights load at one byte per cycle between sequences. ``spec.ram_bank`` splits the RAMs into registered banks
    (a few cycles more per product and pass; :class:`atis.hdl.sequenced_units.Rams`).
    """

    def __init__(self, spec: TransformerSpec):
        if spec.d & (spec.d - 1):
            self._MustUse__silence = True       # never elaborated: no "created but never used" warning
            raise ValueError(f"transformer d = {spec.d}: the sequenced engine needs a power of two (mean-norm is a "
                             "shift)")
        self.spec = spec
        self.memory_map = MemoryMap(spec)
        super().__init__({"i_tokens": In(stream.Signature(token_row_layout(spec.d))), "drop": In(1),
                          "i_load": In(stream.Signature(load_layout())),
                          "o_result": Out(stream.Signature(result_layout(spec.classes, spec.max_len)))})

    def elaborate(self, platform):
        m = Module()
        s, mem = self.spec, self.memory_map
        d, dh, f = s.d, s.dh, s.ffn
        rams = units.Rams(m, mem, s.ram_bank)
        m.submodules.divider = div = units.Divider(32, max(s.max_len << 15, s.max_len).bit_length())
        op = units.MatOp(mem, max(s.max_len, d, f, s.classes))
        chain = units.LogitChain(m, s.classes)
        k = Signal(range(s.max_len + 1))
        start = {u: Signal(name=f"start_{u}") for u in ("mat", "softmax", "addnorm", "pool", "bias")}
        busy = {"mat": units.mat_unit(m, op, start["mat"], rams, chain),
                "softmax": units.softmax_unit(m, start["softmax"], k, mem.s, mem.p, rams, div),
                "addnorm": units.addnorm_unit(m, start["addnorm"], k, mem, rams),
                "pool": units.pool_unit(m, start["pool"], k, mem, rams, div),
                "bias": units.bias_unit(m, start["bias"], mem, rams, chain)}

        loading = Signal()                    # weights load only while the program waits for rows
        shifts = self._load(m, rams, loading)
        qi, qrow = Signal(range(s.max_len)), Signal(range(s.max_len * d + 1))
        counting, attending = Signal(), Signal()
        total, attention = Signal(32), Signal(32)

        def run(name: str, unit: str, following: str, params=None, attention_step=False):
            """States ``name`` (set the unit's registers), ``name_go`` (start it), ``name_wait`` (until done).
            ``attention_step``: its cycles count as ``attention_cycles``."""
            with m.State(name):
                if params is not None:
                    m.d.sync += op.set(**params)
                m.d.comb += attending.eq(attention_step)
                m.next = f"{name}_go"
            with m.State(f"{name}_go"):
                m.d.comb += [start[unit].eq(1), attending.eq(attention_step)]
                m.next = f"{name}_wait"
            with m.State(f"{name}_wait"):
                m.d.comb += attending.eq(attention_step)
                with m.If(~busy[unit]):
                    m.next = following

        def linear(layer, b, o, shift, rows_in, n_in, n_out, *, a, o_b=0, relu=0):
            return dict(rows=k, cols=n_out, inner=n_in, a=a, a_rs=rows_in, a_ts=1, b=b, b_cs=n_in, b_ts=1, o=o,
                        o_rs=n_out, o_cs=1, o_b=o_b, relu=relu, shift=shifts[layer][shift])

        tok = self.i_tokens
        x = tok.payload.x
        element = Signal(range(d))
        # The byte of the row is picked by a one-hot copy of `element`: a binary index fanning out into the d-way
        # mux of 8·d bits was the ECP5 build's critical path (12.7 ns of routing at d = 64).
        onehot = Signal(d, init=1)
        byte = Signal(8)
        m.d.comb += byte.eq(functools.reduce(operator.or_, (x[i].as_unsigned() & onehot[i].replicate(8)
                                                             for i in range(d))))
        krow = Signal(range(s.max_len * d + 1))
        res = self.o_result
        m.d.comb += [res.payload.kept.eq(k), res.payload.total_cycles.eq(total),
                     res.payload.attention_cycles.eq(attention),
                     *(res.payload.logits[c].eq(chain.logits[c]) for c in range(s.classes))]
        with m.If(counting & ~res.valid):
            m.d.sync += total.eq(total + 1)
        with m.If(attending):
            m.d.sync += attention.eq(attention + 1)

        with m.FSM(name="program"):
            with m.State("ROWS"):             # kept rows into X, one byte per cycle; pruned rows are dropped
                m.d.comb += loading.eq(1)
                take = Signal()
                with m.If(tok.valid & tok.payload.keep):
                    m.d.comb += [rams.a_wr.addr.eq(krow + element), rams.a_wr.data.eq(byte),
                                 rams.a_wr.en.eq(1)]
                    m.d.sync += [element.eq(element + 1), onehot.eq(onehot.rotate_left(1))]
                    with m.If(onehot[d - 1]):
                        m.d.comb += take.eq(1)
                        m.d.sync += [element.eq(0), k.eq(k + 1), krow.eq(krow + d)]
                with m.Elif(tok.valid):
                    m.d.comb += take.eq(1)
                m.d.comb += tok.ready.eq(take)
                with m.If(take & ~counting):
                    m.d.sync += [counting.eq(1), total.eq(1), attention.eq(0)]
                with m.If(take & tok.payload.last):
                    m.next = "START"
            with m.State("START"):
                m.next = "L0_q" if s.layers else "POOL"
                with m.If(k == 0):
                    m.next = "BIAS"
            for layer in range(s.layers):
                w = mem.layer(layer)
                nxt = f"L{layer + 1}_q" if layer + 1 < s.layers else "POOL"
                run(f"L{layer}_q", "mat", f"L{layer}_k",
                    linear(layer, w["wq"], mem.q, "q", d, d, d, a=mem.x))
                run(f"L{layer}_k", "mat", f"L{layer}_v",
                    linear(layer, w["wk"], mem.k, "k", d, d, d, a=mem.x, o_b=1))
                run(f"L{layer}_v", "mat", f"L{layer}_h0",
                    linear(layer, w["wv"], mem.v, "v", d, d, d, a=mem.x, o_b=1))
                for h in range(s.heads):
                    head = f"L{layer}_h{h}"
                    after = f"L{layer}_h{h + 1}" if h + 1 < s.heads else f"L{layer}_o"
                    with m.State(head):
                        m.d.sync += [qi.eq(0), qrow.eq(0)]
                        m.next = f"{head}_s"
                    run(f"{head}_s", "mat", f"{head}_p",
                        dict(rows=1, cols=k, inner=dh, a=mem.q + qrow + h * dh, a_ts=1, b=mem.k + h * dh, b_cs=d,
                             b_ts=1, o=mem.s, o_cs=1, shift=shifts[layer]["s"]), True)
                    run(f"{head}_p", "softmax", f"{head}_a", None, True)
                    run(f"{head}_a", "mat", f"{head}_next",
                        dict(rows=1, cols=dh, inner=k, a=mem.p, a_ts=1, a_unsigned=1, b=mem.v + h * dh, b_cs=1,
                             b_ts=d, o=mem.att + qrow + h * dh, o_cs=1, shift=7), True)
                    with m.State(f"{head}_next"):
                        m.d.comb += attending.eq(1)
                        m.d.sync += [qi.eq(qi + 1), qrow.eq(qrow + d)]
                        m.next = f"{head}_s"
                        with m.If(qi == k - 1):
                            m.next = after
                run(f"L{layer}_o", "mat", f"L{layer}_n1",
                    linear(layer, w["wo"], mem.k, "o", d, d, d, a=mem.att, o_b=1))
                run(f"L{layer}_n1", "addnorm", f"L{layer}_f1")
                run(f"L{layer}_f1", "mat", f"L{layer}_f2",
                    linear(layer, w["w1"], mem.hidden, "f1", d, d, f, a=mem.x, relu=1))
                run(f"L{layer}_f2", "mat", f"L{layer}_n2",
                    linear(layer, w["w2"], mem.k, "f2", f, f, d, a=mem.hidden, o_b=1))
                run(f"L{layer}_n2", "addnorm", nxt)
            run("POOL", "pool", "BIAS")
            run("BIAS", "bias", "CLASSIFY")
            with m.State("CLASSIFY"):
                m.next = "EMIT"
                with m.If(k != 0):
                    m.next = "CLS"
            run("CLS", "mat", "EMIT", dict(rows=1, cols=s.classes, inner=d, a=mem.pooled, a_ts=1, b=mem.wc,
                                           b_cs=d, b_ts=1, raw=1))
            with m.State("EMIT"):
                m.d.comb += res.valid.eq(1)
                with m.If(res.ready):
                    m.d.sync += [k.eq(0), krow.eq(0), counting.eq(0)]
                    m.next = "ROWS"
        return m

    def _load(self, m: Module, rams: units.Rams, loading: Signal) -> list[dict[str, Signal]]:
        """Weight bytes go straight into RAM B at their load index; the shifts are also kept in registers.
        A taken byte is registered first and written in the next cycle (the program leaves ROWS only after
        its last row, and no unit writes RAM B in the cycle after): the UP5K's critical path ran from the
        host link's load counter into this address decode."""
        mem, ld = self.memory_map, self.i_load
        taken, byte, first = Signal(), Signal(8), Signal()
        m.d.comb += ld.ready.eq(loading)
        m.d.sync += [taken.eq(ld.valid & loading), byte.eq(ld.payload.byte), first.eq(ld.payload.first)]
        index = Signal(range(mem.load_len + 1), init=mem.load_len)      # a load starts with a `first` byte
        at = Signal.like(index)
        m.d.comb += at.eq(Mux(first, 0, index))
        write = taken & (at < mem.load_len)
        with m.If(write):
            m.d.comb += [rams.b_wr.addr.eq(at), rams.b_wr.data.eq(byte), rams.b_wr.en.eq(1)]
            m.d.sync += index.eq(at + 1)
        shifts = []
        for layer in range(self.spec.layers):
            where = mem.layer(layer)
            regs = {n: Signal(5, name=f"shift{layer}_{n}") for n in SHIFTS}
            for n, reg in regs.items():
                with m.If(write & (at == where[n])):
                    m.d.sync += reg.eq(byte)
            shifts.append(regs)
        return shifts
