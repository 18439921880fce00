"""The datapath units of :class:`atis.hdl.sequenced.SequencedTransformer`; they share its two block RAMs.

One unit runs at a time (the transformer's program starts it and waits for ``busy`` to fall); each drives the
RAM ports only while busy, so the port drivers never overlap. Every block-RAM read is synchronous (the data is
there the cycle after the address) and every product, LUT read and shift has a register on each side.
"""
from __future__ import annotations

import functools
import operator

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from atis.golden.transformer import EXP_LUT

from .common import sat
from .sequenced_map import MemoryMap

__all__ = ["Rams", "MatOp", "Divider", "LogitChain", "mat_unit", "softmax_unit", "addnorm_unit", "pool_unit",
           "bias_unit"]

ACC_BITS = 32


class _ReadPort:
    def __init__(self, depth: int, name: str):
        self.addr = Signal(range(depth), name=f"{name}_rd_addr")


class _WritePort:
    def __init__(self, depth: int, name: str):
        self.addr = Signal(range(depth), name=f"{name}_wr_addr")
        self.data, self.en = Signal(8, name=f"{name}_wr_data"), Signal(name=f"{name}_wr_en")


def _byte_ram(m: Module, name: str, depth: int, bank: int) -> tuple[_ReadPort, _WritePort, Signal, int]:
    """A byte RAM behind plain port signals: returns (read port, write port, registered read data, latency).
    ``bank = 0``: one Memory, its data registered once (latency 2). Otherwise the read address and the write
    port are registered (both a cycle late, so a read still sees every earlier write), then banks of ``bank``
    bytes are each read into their own register, then one registered mux (latency 4; 3 for a RAM of one bank):
    the mux of a deep cascade straight out of the block RAMs limits the clock."""
    rd, wr, data = _ReadPort(depth, name), _WritePort(depth, name), Signal(8, name=f"{name}_data")
    at = rd.addr
    if bank:
        # the units' address adders and the mux between them are a cycle by themselves at 75 MHz on the ECP5
        at = Signal.like(rd.addr, name=f"{name}_rd_at")
        m.d.sync += at.eq(rd.addr)
    sizes = [min(bank, depth - lo) for lo in range(0, depth, bank)] if bank else [depth]
    outs = []
    low = (bank - 1).bit_length() if len(sizes) > 1 else len(rd.addr)
    w_addr, w_data = wr.addr, wr.data
    if bank:
        # the write goes in a cycle late, like the read address, so reads and writes keep their order; each
        # bank's enable comes straight from its own register (the program state into a far bank's write enable
        # was the 75 MHz critical path, almost all routing)
        w_addr, w_data = Signal.like(wr.addr, name=f"{name}_wr_at"), Signal(8, name=f"{name}_wr_byte")
        m.d.sync += [w_addr.eq(wr.addr), w_data.eq(wr.data)]
    for n, size in enumerate(sizes):
        m.submodules[f"{name}_bank{n}" if len(sizes) > 1 else name] = mem = \
            Memory(shape=unsigned(8), depth=size, init=[])
        rp, wp = mem.read_port(), mem.write_port()
        hit = wr.addr[low:] == n if len(sizes) > 1 else 1
        w_en = wr.en & hit
        if bank:
            w_en = Signal(name=f"{name}_bank{n}_wr_en")
            m.d.sync += w_en.eq(wr.en & hit)
        m.d.comb += [rp.addr.eq(at[:low]), wp.addr.eq(w_addr[:low]), wp.data.eq(w_data), wp.en.eq(w_en)]
        outs.append(rp.data)
    if len(sizes) == 1:
        m.d.sync += data.eq(outs[0])
        return rd, wr, data, 3 if bank else 2
    regs = [Signal(8, name=f"{name}_bank{n}_data") for n in range(len(sizes))]
    pick, picked = Signal(range(len(sizes))), Signal(range(len(sizes)))
    m.d.sync += [*(r.eq(o) for r, o in zip(regs, outs)), pick.eq(at[low:]), picked.eq(pick),
                 data.eq(Array(regs)[picked])]
    return rd, wr, data, 4


class Rams:
    """RAM A (left operands, byte wide) and RAM B (weights, K, V), one read and one write port each; the units
    drive the read addresses and the write ports (0 when no unit does). Read data is registered after the RAM
    (``a_u``/``b_u``, signed views ``a_data``/``b_data``): it is there ``latency`` cycles after its address (2, or
    4 with ``bank``: see :func:`_byte_ram`), because on the ECP5 a cascade of ~17 DP16KD and its output mux
    take most of a 75 MHz cycle by themselves."""

    def __init__(self, m: Module, mem: MemoryMap, bank: int = 0):
        self.a_rd, self.a_wr, self.a_u, lat_a = _byte_ram(m, "ram_a", mem.depth_a, bank)
        self.b_rd, self.b_wr, self.b_u, lat_b = _byte_ram(m, "ram_b", mem.depth_b, bank)
        self.latency = max(lat_a, lat_b)
        # the shallower RAM's data waits for the deeper one's, so every unit sees both after `latency` cycles
        for name, latency in (("a_u", lat_a), ("b_u", lat_b)):
            for _ in range(latency, self.latency):
                late = Signal(8, name=f"{name}_late")
                m.d.sync += late.eq(getattr(self, name))
                setattr(self, name, late)
        self.a_data, self.b_data = self.a_u.as_signed(), self.b_u.as_signed()


class MatOp:
    """The registers of one matrix product ``out[i, j] = post(Σ_t A[a + i·a_rs + t·a_ts] · B[b + j·b_cs + t·b_ts])``
    for ``i < rows, j < cols, t < inner``, written at ``o + i·o_rs + j·o_cs`` (into RAM B if ``o_b``).
    ``post``: rq(acc, shift) (then ReLU if ``relu``), or with ``raw`` push ``logits[0] + acc`` into the
    :class:`LogitChain` (columns in order). ``a_unsigned``:
    the A bytes are 0..255 (the Q7 probabilities, 128 = 1.0)."""

    FLAGS = ("o_b", "relu", "raw", "a_unsigned")

    def __init__(self, mem: MemoryMap, max_dim: int):
        wa, wb = range(mem.depth_a + 1), range(mem.depth_b + 1)
        wo = range(max(mem.depth_a, mem.depth_b) + 1)
        self.fields = {"rows": range(max_dim + 1), "cols": range(max_dim + 1), "inner": range(max_dim + 1),
                       "a": wa, "a_rs": wa, "a_ts": wa, "b": wb, "b_cs": wb, "b_ts": wb, "o": wo, "o_rs": wo,
                       "o_cs": wo, "shift": 5, **{f: 1 for f in self.FLAGS}}
        for name, shape in self.fields.items():
            setattr(self, name, Signal(shape, name=f"mat_{name}"))

    def set(self, **values) -> list:
        """Assignments of every field (missing ones to 0), for one program step."""
        unknown = set(values) - set(self.fields)
        assert not unknown, unknown
        return [getattr(self, n).eq(values.get(n, 0)) for n in self.fields]


class Divider(wiring.Component):
    """Unsigned restoring division ``quotient = ⌊num / den⌋``: ``bits`` cycles after ``start`` (``busy`` meanwhile).
    ``den = 0`` gives all ones (never asked for)."""

    def __init__(self, bits: int, den_bits: int):
        self._bits, self._den = bits, den_bits
        super().__init__({"start": In(1), "num": In(bits), "den": In(den_bits), "quotient": Out(bits),
                          "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        num, rem = Signal(self._bits), Signal(self._den + 1)
        step = Signal(range(self._bits + 1))
        trial = Cat(num[-1], rem[:self._den])
        fits = trial >= self.den
        with m.If(self.start):
            m.d.sync += [num.eq(self.num), rem.eq(0), step.eq(self._bits), self.busy.eq(1)]
        with m.Elif(self.busy):
            m.d.sync += [num.eq(num << 1), rem.eq(Mux(fits, trial - self.den, trial)),
                         self.quotient.eq(Cat(fits, self.quotient[:-1])), step.eq(step - 1)]
            with m.If(step == 1):
                m.d.sync += self.busy.eq(0)
        return m


class LogitChain:
    """The C int32 logits as a shift register: ``push`` moves every logit one place towards ``logits[0]`` and puts
    ``value`` in the last place. The bias unit pushes the C biases; the classifier then pushes
    ``logits[0] + acc`` per column, so after C columns ``logits[c] = bias_c + acc_c``. (A per-logit adder and
    decoder would cost ~60 LUT4 per class.)"""

    def __init__(self, m: Module, classes: int):
        self.logits = [Signal(signed(ACC_BITS), name=f"logit{c}") for c in range(classes)]
        self.push, self.value = Signal(), Signal(signed(ACC_BITS))
        with m.If(self.push):
            m.d.sync += [a.eq(b) for a, b in zip(self.logits, [*self.logits[1:], self.value])]


def _pipe(m: Module, *signals) -> list[Signal]:
    """Registered copies of ``signals`` (one pipeline stage; the first is the stage's valid bit)."""
    regs = [Signal(s.shape(), name=f"stage_{n}") for n, s in enumerate(signals)]
    m.d.sync += [r.eq(s) for r, s in zip(regs, signals)]
    return regs


def mat_unit(m: Module, op: MatOp, start, rams: Rams, chain: LogitChain) -> Signal:
    """Issue one product term per cycle; 7 pipeline stages (address, RAM (``rams.latency − 1`` stages), operand,
    product, accumulate, round, shift, saturate + write). Returns ``busy``. Cycles: rows·cols·inner + 7 (+ 2
    with banked RAMs; every unit's read takes those two cycles more)."""
    issuing = Signal()
    # Counters run down to 0 and every next row/column start is kept ready in a register: no cycle holds a
    # subtract-and-compare or an adder in front of the pointer muxes (at 82.5 MHz on the ECP5 the `cols - 1`
    # compare into the B pointer was the critical path).
    t_left, j_left, i_left = Signal.like(op.inner), Signal.like(op.cols), Signal.like(op.rows)
    inner_m1, cols_m1 = Signal.like(op.inner), Signal.like(op.cols)
    a_row, a_ptr, a_next_row = Signal.like(op.a), Signal.like(op.a), Signal.like(op.a)
    b_ptr, b_next_col, b_first_next = Signal.like(op.b), Signal.like(op.b), Signal.like(op.b)
    o_ptr, o_next_row = Signal.like(op.o), Signal.like(op.o)
    first0 = Signal()
    with m.If(start):
        m.d.sync += [issuing.eq((op.rows != 0) & (op.cols != 0) & (op.inner != 0)), t_left.eq(op.inner - 1),
                     j_left.eq(op.cols - 1), i_left.eq(op.rows - 1), inner_m1.eq(op.inner - 1),
                     cols_m1.eq(op.cols - 1), first0.eq(1),
                     a_row.eq(op.a), a_ptr.eq(op.a), a_next_row.eq(op.a + op.a_rs),
                     b_ptr.eq(op.b), b_next_col.eq(op.b + op.b_cs), b_first_next.eq(op.b + op.b_cs),
                     o_ptr.eq(op.o), o_next_row.eq(op.o + op.o_rs)]
    with m.If(issuing):
        m.d.comb += [rams.a_rd.addr.eq(a_ptr), rams.b_rd.addr.eq(b_ptr)]
        with m.If(t_left != 0):
            m.d.sync += [t_left.eq(t_left - 1), first0.eq(0), a_ptr.eq(a_ptr + op.a_ts), b_ptr.eq(b_ptr + op.b_ts)]
        with m.Elif(j_left != 0):
            m.d.sync += [t_left.eq(inner_m1), first0.eq(1), j_left.eq(j_left - 1), a_ptr.eq(a_row),
                         b_ptr.eq(b_next_col), b_next_col.eq(b_next_col + op.b_cs), o_ptr.eq(o_ptr + op.o_cs)]
        with m.Else():
            m.d.sync += [t_left.eq(inner_m1), first0.eq(1), j_left.eq(cols_m1), b_ptr.eq(op.b),
                         b_next_col.eq(b_first_next), i_left.eq(i_left - 1), a_row.eq(a_next_row),
                         a_ptr.eq(a_next_row), a_next_row.eq(a_next_row + op.a_rs), o_ptr.eq(o_next_row),
                         o_next_row.eq(o_next_row + op.o_rs)]
            with m.If(i_left == 0):
                m.d.sync += issuing.eq(0)
    last0 = Signal()
    m.d.comb += last0.eq(t_left == 0)
    # stage 1: the RAMs answer; stage 2: operands registered; stage 3: product; stage 4: accumulator
    v0, (v1, f1, l1, o1) = _read(m, rams, issuing, first0, last0, o_ptr)
    a2, b2 = Signal(signed(9)), Signal(signed(8))
    m.d.sync += [a2.eq(Mux(op.a_unsigned, rams.a_u, rams.a_data)), b2.eq(rams.b_data)]
    v2, f2, l2, o2 = _pipe(m, v1, f1, l1, o1)
    prod = Signal(signed(17))
    m.d.sync += prod.eq(a2 * b2)
    v3, f3, l3, o3 = _pipe(m, v2, f2, l2, o2)
    acc = Signal(signed(ACC_BITS))
    with m.If(v3):
        m.d.sync += acc.eq(Mux(f3, prod, acc + prod))
    v4, o4 = _pipe(m, v3 & l3, o3)
    # stage 5: round (add half an LSB of the shift, or push the logit); stage 6: shift
    rounded = Signal(signed(ACC_BITS + 1))
    m.d.sync += rounded.eq(acc + ((Const(1, ACC_BITS) << op.shift) >> 1))
    with m.If(v4 & op.raw):
        m.d.comb += [chain.push.eq(1), chain.value.eq(chain.logits[0] + acc)]
    v5, o5 = _pipe(m, v4 & ~op.raw, o4)
    shifted = Signal.like(rounded)
    m.d.sync += shifted.eq(rounded >> op.shift)
    # stage 7: saturate (and ReLU), write (the shift and the saturation in one stage miss 24 MHz on the UP5K)
    v6, o6 = _pipe(m, v5, o5)
    value = sat(shifted)
    out = Mux(op.relu & (value < 0), 0, value)
    with m.If(v6):
        with m.If(op.o_b):
            m.d.comb += [rams.b_wr.addr.eq(o6), rams.b_wr.data.eq(out), rams.b_wr.en.eq(1)]
        with m.Else():
            m.d.comb += [rams.a_wr.addr.eq(o6), rams.a_wr.data.eq(out), rams.a_wr.en.eq(1)]
    busy = Signal()
    m.d.comb += busy.eq(issuing | v0 | v1 | v2 | v3 | v4 | v5 | v6)
    return busy


def _read(m: Module, rams: Rams, *signals) -> tuple[Signal, list[Signal]]:
    """Copies of ``signals`` (issued with a RAM address) for the cycle its registered data is there: returns
    (whether one is still in the stages between, the copies)."""
    stages = [list(signals)]
    for _ in range(rams.latency):
        stages.append(_pipe(m, *stages[-1]))
    pending = Signal()
    m.d.comb += pending.eq(functools.reduce(operator.or_, (st[0] for st in stages[1:-1])))
    return pending, stages[-1]


def _row_issue(m: Module, start, count):
    """An index 0..count-1 issued one per cycle after ``start``; returns (issuing, index, last)."""
    issuing, index = Signal(), Signal(count.shape(), name="issue_index")
    with m.If(start):
        m.d.sync += [issuing.eq(count != 0), index.eq(0)]
    with m.Elif(issuing):
        m.d.sync += index.eq(index + 1)
        with m.If(index == count - 1):
            m.d.sync += issuing.eq(0)
    return issuing, index, index == count - 1


def softmax_unit(m: Module, start, k, s_base: int, p_base: int, rams: Rams, div: Divider) -> Signal:
    """P[j] = (EXP_LUT[max − S[j]]·⌊2^31/ΣE⌋) >> 24 for the k logits at ``s_base`` (golden ``softmax_int``, every
    key kept). Two passes over the row (max, then E and ΣE, then E·r) around a 32-cycle division: 3k + 53 cycles.
    Returns ``busy``."""
    m.submodules.exp_lut = lut = Memory(shape=unsigned(16), depth=256, init=[int(e) for e in EXP_LUT])
    lut_rd = lut.read_port()
    busy = Signal()
    go = Signal()
    issuing, index, _ = _row_issue(m, go, k)
    top, total, recip = Signal(signed(8)), Signal(div.den.shape()), Signal(17)   # r ≤ 2^16: ΣE ≥ 2^15
    phase = Signal(2)                       # 0 max, 1 sum, 2 out
    with m.If(issuing):
        m.d.comb += rams.a_rd.addr.eq(s_base + index)
    v0, (v1, j1) = _read(m, rams, issuing, index)
    z = Signal(9)
    m.d.sync += z.eq(top - rams.a_data)
    v2, j2 = _pipe(m, v1, j1)
    m.d.comb += lut_rd.addr.eq(z)
    with m.If(v1 & (phase == 0)):
        m.d.sync += top.eq(Mux(j1 == 0, rams.a_data, Mux(rams.a_data > top, rams.a_data, top)))
    v3, j3 = _pipe(m, v2, j2)      # the LUT answers in stage 3; registered before the multiplier (ECP5 timing)
    e = Signal(16)
    m.d.sync += e.eq(lut_rd.data)
    v4, j4 = _pipe(m, v3, j3)
    prod = Signal(33)
    m.d.sync += prod.eq(e * recip)
    with m.If(v4 & (phase == 1)):
        m.d.sync += total.eq(total + e)
    v5, j5 = _pipe(m, v4, j4)
    with m.If(v5 & (phase == 2)):
        m.d.comb += [rams.a_wr.addr.eq(p_base + j5), rams.a_wr.data.eq(prod >> 24), rams.a_wr.en.eq(1)]
    draining = issuing | v0 | v1 | v2 | v3 | v4 | v5      # not `go`: it is driven from ~draining
    with m.If(busy):
        m.d.comb += [div.num.eq(1 << 31), div.den.eq(total)]
    with m.FSM(name="softmax"):
        with m.State("IDLE"):
            with m.If(start):
                m.d.sync += [phase.eq(0), total.eq(0), busy.eq(1)]
                m.d.comb += go.eq(1)
                m.next = "PASS"
        with m.State("PASS"):
            with m.If(~draining):
                with m.If(phase == 0):
                    m.d.sync += phase.eq(1)
                    m.d.comb += go.eq(1)
                with m.Elif(phase == 1):
                    m.d.comb += div.start.eq(1)
                    m.next = "DIVIDE"
                with m.Else():
                    m.d.sync += busy.eq(0)
                    m.next = "IDLE"
        with m.State("DIVIDE"):
            with m.If(~div.busy & ~div.start):
                m.d.sync += [recip.eq(div.quotient), phase.eq(2)]
                m.d.comb += go.eq(1)
                m.next = "PASS"
    return busy


def addnorm_unit(m: Module, start, k, mem: MemoryMap, rams: Rams) -> Signal:
    """Per row i < k: X[i] ← sat8(X[i] + Bk[i]) (the branch in B's K rows), then X[i] ← sat8(X[i] − ⌊ΣX[i]/d⌋)
    (golden ``_meannorm``; d a power of two, so the floor division is an arithmetic shift). 2d + 6 cycles per row.
    Returns ``busy``."""
    d = mem.spec.d
    busy, go, second = Signal(), Signal(), Signal()
    row = Signal(range(mem.depth_a + 1))
    rows_left = Signal.like(k)
    issuing, index, _ = _row_issue(m, go, Const(d, range(d + 1)))
    total = Signal(signed(8 + d.bit_length() + 1))
    mean = total >> (d.bit_length() - 1)
    with m.If(issuing):
        m.d.comb += [rams.a_rd.addr.eq(row + index), rams.b_rd.addr.eq(mem.k + row + index)]
    v0, (v1, j1) = _read(m, rams, issuing, index)
    y = Signal(signed(8))
    m.d.sync += y.eq(sat(Mux(second, rams.a_data - mean, rams.a_data + rams.b_data)))
    v2, j2 = _pipe(m, v1, j1)
    with m.If(v2):
        m.d.comb += [rams.a_wr.addr.eq(row + j2), rams.a_wr.data.eq(y), rams.a_wr.en.eq(1)]
        with m.If(~second):
            m.d.sync += total.eq(total + y)
    draining = issuing | v0 | v1 | v2
    with m.FSM(name="addnorm"):
        with m.State("IDLE"):
            with m.If(start & (k != 0)):
                m.d.sync += [busy.eq(1), row.eq(mem.x), rows_left.eq(k), second.eq(0), total.eq(0)]
                m.d.comb += go.eq(1)
                m.next = "ROW"
        with m.State("ROW"):
            with m.If(~draining):
                with m.If(~second):
                    m.d.sync += second.eq(1)
                    m.d.comb += go.eq(1)
                with m.Elif(rows_left != 1):
                    m.d.sync += [second.eq(0), total.eq(0), row.eq(row + d), rows_left.eq(rows_left - 1)]
                    m.d.comb += go.eq(1)
                with m.Else():
                    m.d.sync += busy.eq(0)
                    m.next = "IDLE"
    return busy


def pool_unit(m: Module, start, k, mem: MemoryMap, rams: Rams, div: Divider) -> Signal:
    """pooled[j] = ⌊Σ_i<k X[i, j] / k⌋ (golden: floor division; −⌈|s|/k⌉ for s < 0), written to A's pooled row.
    k + 40 cycles per dimension. Returns ``busy``."""
    d = mem.spec.d
    busy, go = Signal(), Signal()
    dim = Signal(range(d + 1))
    issuing, index, _ = _row_issue(m, go, k)
    total = Signal(signed(8 + mem.spec.max_len.bit_length() + 1))
    with m.If(issuing):
        m.d.comb += rams.a_rd.addr.eq(mem.x + index * d + dim)
    v0, (v1,) = _read(m, rams, issuing)
    with m.If(v1):
        m.d.sync += total.eq(total + rams.a_data)
    draining = issuing | v0 | v1
    negative = total < 0
    with m.If(busy):
        m.d.comb += [div.num.eq(Mux(negative, -total + k - 1, total)), div.den.eq(k)]
    with m.FSM(name="pool"):
        with m.State("IDLE"):
            with m.If(start):
                m.d.sync += [busy.eq(1), dim.eq(0), total.eq(0)]
                m.d.comb += go.eq(1)
                m.next = "SUM"
        with m.State("SUM"):
            with m.If(~draining):
                m.d.comb += div.start.eq(1)
                m.next = "DIVIDE"
        with m.State("DIVIDE"):
            with m.If(~div.busy & ~div.start):
                mean = Mux(negative, -div.quotient, div.quotient)
                m.d.comb += [rams.a_wr.addr.eq(mem.pooled + dim), rams.a_wr.data.eq(mean), rams.a_wr.en.eq(1)]
                m.d.sync += [dim.eq(dim + 1), total.eq(0)]
                with m.If(dim == d - 1):
                    m.d.sync += busy.eq(0)
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += go.eq(1)
                    m.next = "SUM"
    return busy


def bias_unit(m: Module, start, mem: MemoryMap, rams: Rams, chain: LogitChain) -> Signal:
    """Push the C biases (4 little-endian bytes each at B's bias table) into the logit chain: 4·C + 3 cycles.
    Returns ``busy``."""
    n = 4 * len(chain.logits)
    issuing, index, _ = _row_issue(m, start, Const(n, range(n + 1)))
    with m.If(issuing):
        m.d.comb += rams.b_rd.addr.eq(mem.bias + index)
    v0, (v1, j1) = _read(m, rams, issuing, index)
    word = Signal(ACC_BITS)
    v2, = _pipe(m, v1 & (j1[:2] == 3))
    with m.If(v1):
        m.d.sync += word.eq(Cat(word[8:], rams.b_u))
    with m.If(v2):
        m.d.comb += [chain.push.eq(1), chain.value.eq(word)]
    busy = Signal()
    m.d.comb += busy.eq(start | issuing | v0 | v1 | v2)
    return busy
