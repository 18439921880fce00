"""Bounded proofs (SymbiYosys, :mod:`formalhelpers`) that the stream blocks lose, duplicate and reorder nothing:
the row mask gate, the row packer and the DAC sequencer's code buffer. Inputs are any values the stream rules
allow, outputs see any backpressure; each proof also runs on a planted bug (a mutant subclass) and must fail."""
from __future__ import annotations

import pytest
from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assume, Cat, Elaboratable, Module, Mux, Signal
from formalhelpers import Properties, Scoreboard, check_sink, drive_source, past, proof_fails_on, proof_passes

from atis.config import config_from_dict
from atis.golden.sequencer import resolve_sequencer
from atis.hdl.dac_sequencer import DacSequencer
from atis.hdl.mask_gate import RowMaskGate
from atis.hdl.pipeline import RowPacker


def quiet_for(m: Module, cycles: int, ready, busy):
    """High once ``ready`` has been high and ``busy`` low for ``cycles`` cycles in a row (bounded liveness)."""
    count = Signal(range(cycles + 1))
    m.d.sync += count.eq(Mux(ready & ~busy, Mux(count == cycles, cycles, count + 1), 0))
    return count == cycles


class MaskGateProof(Elaboratable):
    """Kept rows (drop) or every row (keymask) come out once, in order, with their key; ``last`` on the row the
    sequence really ends with; nothing waits once the output is free, except a kept row whose successor is not
    known yet. ``drop`` is any constant."""

    def __init__(self, dut: RowMaskGate, d: int):
        self.dut, self.d, self.props = dut, d, Properties()

    def elaborate(self, platform):
        m, p, g = Module(), self.props, self.dut
        m.submodules.dut = g
        drive_source(m, g.i_tokens, data=[g.i_tokens.payload.x[i] for i in range(self.d)])
        check_sink(m, p, g.o_rows)
        drop = Signal()
        m.d.comb += [drop.eq(AnyConst(1)), g.drop.eq(drop)]
        t, out = g.i_tokens.payload, g.o_rows
        take, emit = g.i_tokens.valid & g.i_tokens.ready, out.valid & out.ready
        seq_kept = Signal()                      # a kept token came earlier in this sequence
        with m.If(take):
            m.d.sync += seq_kept.eq(~t.last & (seq_kept | t.keep))
        goes_on = ~drop | t.keep | (t.last & ~seq_kept)      # the golden _prepare: which tokens go on
        board = Scoreboard(m, p, "mask gate", 8 * self.d + 1, capacity=2)
        board.push(take & goes_on, Cat(t.x.as_value(), t.keep))   # key = the keep bit in both modes
        board.pop(emit, Cat(out.payload.x.as_value(), out.payload.tag.key))
        # last: known when the watched row goes on (keymask; or it ends its sequence), else from the next token
        final, known = Signal(), Signal()
        watched_in = take & goes_on & (board.n_in == board.watch)
        with m.If(watched_in):
            m.d.sync += [final.eq(t.last), known.eq(~drop | t.last)]
        with m.Elif(take & board.held & ~known & (t.keep | t.last)):
            m.d.sync += [final.eq(~t.keep), known.eq(1)]
        p.check(m, "mask gate: last on the row that ends the sequence",
                ~(emit & (board.n_out == board.watch)) | (known & (out.payload.tag.last == final)))
        open_tail = Signal()                     # drop: the newest kept row may wait for its successor
        with m.If(take & (goes_on | t.last)):
            m.d.sync += open_tail.eq(drop & t.keep & ~t.last)
        p.check(m, "mask gate: nothing waits once the output is free",
                ~quiet_for(m, 3, out.ready, take) | (board.pending <= open_tail))
        return m


class PackerProof(Elaboratable):
    """Element k comes out as element k mod d of row k div d, once, in order; each row carries its token's keep
    bit, and ``last`` on every ``seq_len``-th row. Inputs are framed (``first``/``last`` every d elements, one
    keep bit per token), as the scorer sends them."""

    def __init__(self, dut: RowPacker, d: int, n: int):
        self.dut, self.d, self.n, self.props = dut, d, n, Properties()

    def elaborate(self, platform):
        m, p, d = Module(), self.props, self.d
        m.submodules.dut = dut = self.dut
        e, out = dut.i_elements, dut.o_rows
        drive_source(m, e, data=[e.payload.data])
        check_sink(m, p, out)
        take, emit = e.valid & e.ready, out.valid & out.ready
        elem, keep = Signal(range(d)), Signal()
        with m.If(take):
            m.d.sync += [elem.eq(Mux(elem == d - 1, 0, elem + 1)), keep.eq(e.payload.keep)]
        m.d.comb += Assume(~e.valid | ((e.payload.first == (elem == 0)) & (e.payload.last == (elem == d - 1))
                                       & ((elem == 0) | (e.payload.keep == keep))))
        elements = Scoreboard(m, p, "packer elements", 8, capacity=2 * d - 1)
        elements.push(take, e.payload.data)
        elements.pop(emit, *(out.payload.x[i] for i in range(d)))
        rows = Scoreboard(m, p, "packer rows", 1, capacity=1)
        rows.push(take & e.payload.last, e.payload.keep)
        rows.pop(emit, out.payload.keep)
        row = Signal(range(self.n))
        with m.If(emit):
            m.d.sync += row.eq(Mux(row == self.n - 1, 0, row + 1))
        p.check(m, "packer: last on every seq_len-th row", ~emit | (out.payload.last == (row == self.n - 1)))
        p.check(m, "packer: a whole row never waits once the output is free",
                ~quiet_for(m, 2, out.ready, take) | (elements.pending < d))
        return m


class SequencerProof(Elaboratable):
    """Every code taken is written to the DAC pins once, in order, left-aligned, on channel j mod n_dac for input
    j; every round's last write is followed by one update; ``evaluate`` exactly ``settle_cycles`` after each
    token's last update. Any ``i_eval_ready``; codes framed (``first``/``last``) as the projection sends them."""

    def __init__(self, dut: DacSequencer, spec):
        self.dut, self.spec, self.props = dut, spec, Properties()

    def elaborate(self, platform):
        m, p, s = Module(), self.props, self.spec
        m.submodules.dut = dut = self.dut
        c = dut.i_codes
        drive_source(m, c)
        m.d.comb += dut.i_eval_ready.eq(AnySeq(1))
        take = c.valid & c.ready
        idx = Signal(range(s.m))
        with m.If(take):
            m.d.sync += idx.eq(Mux(idx == s.m - 1, 0, idx + 1))
        m.d.comb += Assume(~c.valid | ((c.payload.first == (idx == 0)) & (c.payload.last == (idx == s.m - 1))))
        shift = s.part_bits - s.dac_bits
        codes = Scoreboard(m, p, "code buffer", s.part_bits, capacity=2 * s.m)
        codes.push(take, c.payload.code << shift)
        codes.pop(dut.dac_strobe, dut.dac_code)
        j = Signal(range(s.m))                   # input index of the next write
        with m.If(dut.dac_strobe):
            m.d.sync += j.eq(Mux(j == s.m - 1, 0, j + 1))
        p.check(m, "sequencer: input j on channel j mod n_dac",
                ~dut.dac_strobe | (dut.dac_channel == j % s.n_dac))
        round_end = dut.dac_strobe & ((j % s.n_dac == s.n_dac - 1) | (j == s.m - 1))
        p.check(m, "sequencer: one update after each round's last write", dut.dac_update == past(m, round_end))
        settled = dut.dac_update & past(m, dut.dac_strobe & (j == s.m - 1))
        for _ in range(s.settle_cycles):
            settled = past(m, settled)
        p.check(m, "sequencer: evaluate exactly settle_cycles after the last update", dut.o_evaluate == settled)
        p.check(m, "sequencer: no framing error on framed codes", ~dut.framing_error)
        return m


# --- planted bugs: each must make its proof fail ---

class DropsRowsMaskGate(RowMaskGate):
    """Loses the held (last kept) row when an unkept token ends the sequence."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        t = self.i_tokens
        with m.If(t.valid & t.ready & ~t.payload.keep & t.payload.last & self.drop):
            m.d.sync += self.o_rows.valid.eq(0)
        return m


class DropsRowsPacker(RowPacker):
    """Loses the rows of unkept tokens."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        e = self.i_elements
        with m.If(e.valid & e.ready & e.payload.last & ~e.payload.keep):
            m.d.sync += self.o_rows.valid.eq(0)
        return m


class DuplicatesRowsPacker(RowPacker):
    """Sends a kept row twice when no element follows at once."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.o_rows.valid & self.o_rows.ready & self.o_rows.payload.keep & ~self.i_elements.valid):
            m.d.sync += self.o_rows.valid.eq(1)
        return m


class OverwritingSequencer(DacSequencer):
    """Takes codes while both banks are full: overwrites a token not yet written out."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.i_codes.ready.eq(1)
        return m


D, N = 2, 3
SEQ = resolve_sequencer(config_from_dict({
    "model": {"d_model": 4}, "projection": {"m": 3, "dac_bits": 3, "lanes": 2},
    "dac": {"part": "parallel", "n_channels": 2, "part_bits": 4, "settle_ns": 20.0}}))

# depth: the mask gate and packer cover a 3-token sequence plus drain; the sequencer two tokens (3 codes each,
# 2 rounds, settle) through the double buffer.
PROOFS = {
    "mask_gate": (lambda: MaskGateProof(RowMaskGate(D), D), 10),
    "row_packer": (lambda: PackerProof(RowPacker(d=D, seq_len=N), D, N), 14),
    "code_buffer": (lambda: SequencerProof(DacSequencer(SEQ), SEQ), 16),
}
MUTANTS = {
    "mask_gate_drops_row": ("mask_gate", lambda: MaskGateProof(DropsRowsMaskGate(D), D)),
    "packer_drops_row": ("row_packer", lambda: PackerProof(DropsRowsPacker(d=D, seq_len=N), D, N)),
    "packer_duplicates_row": ("row_packer", lambda: PackerProof(DuplicatesRowsPacker(d=D, seq_len=N), D, N)),
    "sequencer_overwrites": ("code_buffer", lambda: SequencerProof(OverwritingSequencer(SEQ), SEQ)),
}


@pytest.mark.parametrize("name", PROOFS)
def test_stream_block_loses_duplicates_and_reorders_nothing(name, tmp_path):
    proof_passes(name, PROOFS, tmp_path)


@pytest.mark.parametrize("mutant", MUTANTS)
def test_stream_proof_fails_on_a_planted_bug(mutant, tmp_path):
    proof_fails_on(mutant, MUTANTS, PROOFS, tmp_path)
