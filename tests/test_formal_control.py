"""Bounded proofs (SymbiYosys, :mod:`formalhelpers`) of the control blocks: the comparator capture answers each
evaluation with exactly one keep bit; the host link frames any byte sequence as :mod:`atis.protocol` says and is
back in its command state whenever a frame and its answer are through. Each proof also runs on a planted bug."""
from __future__ import annotations

import pytest
from amaranth.asserts import AnySeq
from amaranth.hdl import Assume, Elaboratable, Module, Signal
from formalhelpers import Properties, Scoreboard, check, check_sink, past, proof_fails_on, proof_passes
from hostlinkproof import HostLinkProof, ObservedLink, ScoredStub, SequenceStub

from atis.hdl.comparator_capture import ComparatorCapture

WAIT, COMPARATORS, CONSENSUS = 2, 3, 2


class CaptureProof(Elaboratable):
    """Each ``i_evaluate`` gives one ``o_keep`` entry, in order, indexed 0, 1, 2, …; its bit is the consensus of
    the comparator pins ``wait_cycles`` cycles after the evaluation (the pins are free: any value, any cycle);
    once the output is free, no result waits. The sequencer's side of the contract is assumed: it evaluates only
    after it saw ``o_ready`` (and then holds off the next token until the evaluation)."""

    def __init__(self, dut: ComparatorCapture):
        self.dut, self.props = dut, Properties()

    def elaborate(self, platform):
        m, p = Module(), self.props
        m.submodules.dut = dut = self.dut
        out = dut.o_keep
        check_sink(m, p, out)
        evaluate, grant = AnySeq(1), AnySeq(1)
        m.d.comb += [dut.comparator.eq(AnySeq(COMPARATORS)), dut.i_evaluate.eq(evaluate)]
        credit = Signal()                        # the sequencer saw o_ready: it may evaluate once
        with m.If(evaluate):
            m.d.sync += credit.eq(0)
        with m.Elif(dut.o_ready & grant):
            m.d.sync += credit.eq(1)
        m.d.comb += Assume(~evaluate | credit)
        sampled = evaluate
        for _ in range(WAIT):
            sampled = past(m, sampled)
        votes = sum(dut.comparator[i].as_unsigned() for i in range(COMPARATORS))
        emit = out.valid & out.ready
        bits = Scoreboard(m, p, "capture", 1, capacity=5)
        bits.push(sampled, votes >= CONSENSUS)
        bits.pop(emit, out.payload.keep)
        p.check(m, "capture: entry k carries index k", ~emit | (out.payload.index == bits.n_out))
        evaluations = Signal(5)
        with m.If(evaluate):
            m.d.sync += evaluations.eq(evaluations + 1)
        idle = Signal(range(WAIT + 6))
        m.d.sync += idle.eq(0)
        with m.If(out.ready & ~evaluate & (idle < WAIT + 5)):
            m.d.sync += idle.eq(idle + 1)
        p.check(m, "capture: one result per evaluation, none waits once the output is free",
                (idle < WAIT + 5) | (evaluations == bits.n_out))
        return m


class DoubleWriteCapture(ComparatorCapture):
    """Writes every result twice into its FIFO."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        results = m.submodules.results
        with m.If(past(m, results.w_en)):
            m.d.comb += results.w_en.eq(1)
        return m


class SwallowingLink(ObservedLink):
    """Takes (and loses) host bytes while it sends an answer."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.o_bytes.valid):
            m.d.comb += self.i_bytes.ready.eq(1)
        return m


class StuckAfterAnswerLink(ObservedLink):
    """After a sequence's answer goes on waiting for flags instead of a command."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self._t.o_result.valid & self._t.o_result.ready):
            m.d.sync += self.state.eq(self.encoding["FLAGS"])
        return m


CAPTURE = {"wait_cycles": WAIT, "comparators": COMPARATORS, "consensus_k": CONSENSUS}
# Depths. Capture: two evaluations (wait_cycles + 4 cycles each to the output). Host link, any timing (host,
# target and answer stalls): 10 cycles, every short frame ('?', a load of up to 4 bytes with its 'K') and the first
# token of a sequence; without stalls, only the byte values free: 28 cycles, a whole SCORE (2 tokens) or
# SEQUENCE (1 token) with its 19-byte answer and the return to COMMAND (step 27; the stuck-after-answer mutant
# shows the proof gets there).
SHALLOW, DEEP = 10, 28
PROOFS = {
    "capture": (lambda: CaptureProof(ComparatorCapture(**CAPTURE)), 14),
    "host_link_score_any_timing": (lambda: HostLinkProof(ObservedLink(ScoredStub())), SHALLOW),
    "host_link_sequence_any_timing": (lambda: HostLinkProof(ObservedLink(SequenceStub())), SHALLOW),
    "host_link_score_whole_frames": (lambda: HostLinkProof(ObservedLink(ScoredStub(stalls=False))), DEEP),
    "host_link_sequence_whole_frames": (lambda: HostLinkProof(ObservedLink(SequenceStub(stalls=False))), DEEP),
}
MUTANTS = {
    "capture_writes_twice": ("capture", lambda: CaptureProof(DoubleWriteCapture(**CAPTURE))),
    "link_swallows_bytes": ("host_link_score_any_timing", lambda: HostLinkProof(SwallowingLink(ScoredStub()))),
    "link_stuck_after_answer": ("host_link_score_whole_frames",
                                lambda: HostLinkProof(StuckAfterAnswerLink(ScoredStub(stalls=False)))),
}


@pytest.mark.parametrize("name", PROOFS)
def test_control_block_proof(name, tmp_path):
    proof_passes(name, PROOFS, tmp_path)


@pytest.mark.parametrize("mutant", MUTANTS)
def test_control_proof_fails_on_a_planted_bug(mutant, tmp_path):
    proof_fails_on(mutant, MUTANTS, PROOFS, tmp_path)


def test_sequence_link_frames_any_token_count(tmp_path):
    proof = HostLinkProof(ObservedLink(SequenceStub(stalls=False)), limit_n=False)
    result = check(proof, depth=DEEP, workdir=tmp_path, props=proof.props)
    assert result.status == "PASS", f"{result.failed} (trace {result.trace})"
