"""Per-sequence keep budget on the readout's codes (issue 18): top-k, capped threshold, or the plain threshold.

Golden: ``atis.golden.selection.select`` (the k highest codes, equal codes by position, the lower index first).
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from atis.golden.selection import SelectionSpec

from .common import counter
from .layouts import INDEX_BITS, keep_layout, readout_layout

__all__ = ["TopKSelector"]


class TopKSelector(wiring.Component):
    """Keep bits of each sequence of n = ``spec.n`` codes, decided once the sequence's codes are in.

    Parameters:  spec : ``atis.golden.selection.SelectionSpec`` (mode, n, code bits b, k or k_min/k_max).

    Members
    -------
    i_code : In(stream.Signature(readout_layout(b)))
        One code per token, in order; sequences are consecutive runs of n codes from reset.
    o_keep : Out(stream.Signature(keep_layout()))
        ``{keep, index}`` per token, in order (``index`` as it came in); honours ``ready``.

    ``threshold`` passes each code straight through (keep = code >= 2^(b-1); no buffer, no latency). ``topk`` and
    ``cap`` buffer the codes in a block RAM of two banks of n (2·n·b bits, synchronous read), count the codes at
    or above θ (cap), then find the threshold code T by binary search over 0..2^b: b passes over the bank, each
    counting the codes >= mid (the largest T with at least k codes >= T), and the ``need`` = k - #(code > T)
    tokens at T to keep. An emit pass then keeps code > T, and code = T while fewer than ``need`` such were kept
    (the lower index first). k: ``spec.k`` (topk), or clip(#(code >= 2^(b-1)), k_min, k_max) (cap).

    Latency (topk/cap): b·(n + 2) + 2 cycles from the transfer of a sequence's last code to its first keep bit's
    ``valid`` (when the previous sequence has left); then one keep bit per cycle. Throughput: one code per cycle
    into a free bank; the next sequence fills the other bank meanwhile, and a bank is free again once its emit pass
    has read it, so sustained input is n codes per about b·(n + 2) + n + 3 cycles (input stalls while both banks
    hold sequences not yet emitted). The scorer gives it one code per token, hundreds of cycles apart.
    Backpressure: both streams honour ``ready``. Buffer: 2·n codes of b bits (one block RAM), plus counters of
    about log2(n) bits.
    """

    def __init__(self, spec: SelectionSpec):
        if spec.mode not in ("threshold", "topk", "cap"):
            raise ValueError(f"selection mode {spec.mode!r}: expected threshold, topk or cap")
        if spec.n < 1 or not 1 <= spec.bits <= 16:
            raise ValueError(f"selection n = {spec.n} (>= 1), bits = {spec.bits} (1..16)")
        self._spec = spec
        super().__init__({"i_code": In(stream.Signature(readout_layout(spec.bits))),
                          "o_keep": Out(stream.Signature(keep_layout()))})

    def elaborate(self, platform):
        m = Module()
        s = self._spec
        i, o = self.i_code, self.o_keep
        if s.mode == "threshold":
            m.d.comb += [o.valid.eq(i.valid), o.payload.keep.eq(i.payload.code >= s.theta_code),
                         o.payload.index.eq(i.payload.index), i.ready.eq(o.ready)]
            return m
        n, b = s.n, s.bits
        m.submodules.codes = codes = Memory(shape=b, depth=2 * n, init=[])
        w_port, r_port = codes.write_port(), codes.read_port(transparent_for=())
        full, base = Signal(2), [Signal(INDEX_BITS, name=f"base{k}") for k in range(2)]
        above = [Signal(range(n + 1), name=f"above{k}") for k in range(2)]

        # --- fill: bank wr_bank takes the codes of one sequence ---
        wr_bank, wr_pos = Signal(), counter(n, "wr_pos")
        take = i.valid & i.ready
        m.d.comb += [i.ready.eq(~full.bit_select(wr_bank, 1)), w_port.addr.eq(wr_bank * n + wr_pos),
                     w_port.data.eq(i.payload.code), w_port.en.eq(take)]
        with m.If(take):
            m.d.sync += wr_pos.eq(wr_pos + 1)
            for k in range(2):
                with m.If(wr_bank == k):
                    start = wr_pos == 0
                    m.d.sync += above[k].eq(Mux(start, 0, above[k]) + (i.payload.code >= s.theta_code))
                    with m.If(start):
                        m.d.sync += base[k].eq(i.payload.index)
            with m.If(wr_pos == n - 1):
                m.d.sync += [wr_pos.eq(0), wr_bank.eq(~wr_bank)]

        # --- decide and emit on bank rd_bank ---
        rd_bank, done = Signal(), Signal()
        self._decide_and_emit(m, r_port, rd_bank, done, full, base, above)
        for k in range(2):
            m.d.sync += full[k].eq((full[k] | (take & (wr_pos == n - 1) & (wr_bank == k)))
                                   & ~(done & (rd_bank == k)))
        with m.If(done):
            m.d.sync += rd_bank.eq(~rd_bank)
        return m

    def _decide_and_emit(self, m, r_port, rd_bank, done, full, base, above):
        s, o = self._spec, self.o_keep
        n, b = s.n, s.bits
        lo, hi = Signal(b + 1), Signal(b + 1)
        need, taken, count, count_hi = (Signal(range(n + 1), name=x) for x in ("need", "taken", "count",
                                                                                  "count_hi"))
        k_eff = Signal(range(n + 1))
        addr, read = counter(n + 1, "addr"), Signal()        # address issued; its data is valid next cycle
        mid = (lo + hi) >> 1
        data = r_port.data
        m.d.comb += r_port.addr.eq(rd_bank * n + addr)
        m.d.sync += read.eq(0)
        above_now = Mux(rd_bank, above[1], above[0])
        with m.FSM():
            with m.State("Idle"):
                with m.If(full.bit_select(rd_bank, 1)):
                    k = s.k if s.mode == "topk" else Mux(above_now < s.k_min, s.k_min,
                                                         Mux(above_now > s.k_max, s.k_max, above_now))
                    m.d.sync += [k_eff.eq(k), lo.eq(0), hi.eq(1 << b), count_hi.eq(0), addr.eq(0), count.eq(0)]
                    m.next = "Search"
            with m.State("Search"):                  # one pass per bit: count the codes >= mid
                with m.If(addr < n):
                    m.d.sync += [addr.eq(addr + 1), read.eq(1)]
                with m.If(read):
                    m.d.sync += count.eq(count + (data >= mid))
                with m.If((addr == n) & ~read):      # the pass is over: halve the range
                    with m.If(count >= k_eff):
                        m.d.sync += lo.eq(mid)
                    with m.Else():
                        m.d.sync += [hi.eq(mid), count_hi.eq(count)]
                    m.d.sync += [count.eq(0), addr.eq(0)]
                    with m.If(hi - lo == 2):         # this pass decided the last bit
                        m.next = "Resolve"
            with m.State("Resolve"):                 # T = lo; keep need of the codes equal to T
                m.d.sync += [need.eq(k_eff - count_hi), taken.eq(0), addr.eq(1)]
                m.d.comb += r_port.addr.eq(rd_bank * n)
                m.next = "Emit"
            with m.State("Emit"):                    # r_port.data holds code addr - 1
                pos = addr - 1
                at_t = data == lo
                keep = (data > lo) | (at_t & (taken < need))
                m.d.comb += [o.valid.eq(1), o.payload.keep.eq(keep),
                             o.payload.index.eq(Mux(rd_bank, base[1], base[0]) + pos)]
                with m.If(o.ready):
                    m.d.sync += [addr.eq(addr + 1), taken.eq(taken + (at_t & keep))]
                    with m.If(pos == n - 1):
                        m.d.comb += done.eq(1)
                        m.next = "Idle"
                with m.Else():
                    m.d.comb += r_port.addr.eq(rd_bank * n + pos)    # hold: read the same code again
        return m
