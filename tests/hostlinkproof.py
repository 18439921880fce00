"""The host link's property harness: a reference framer of :mod:`atis.protocol` runs beside the link on the same
byte stream, and the link must agree with it byte for byte. Targets are stubs with free timing (any ``ready``,
a result any time after the last token), so the proof covers every target behaviour the link may meet."""
from __future__ import annotations

from types import SimpleNamespace

from amaranth.asserts import AnySeq
from amaranth.hdl import Assume, Cat, Elaboratable, Module, Mux, Signal
from amaranth.lib import enum, stream, wiring
from amaranth.lib.wiring import In, Out
from formalhelpers import Properties, check_sink, drive_source

from atis.config import config_from_dict
from atis.design import TransformerSpec
from atis.golden.sequencer import resolve_sequencer
from atis.hdl.host_link import HostLink
from atis.hdl.layouts import element_layout, load_layout, result_layout, token_row_layout
from atis.hdl.pipeline import ScoredTransformer
from atis.hdl.scorer import fpaa_pins
from atis.protocol import ANSWER_COUNTERS, FLAG_DROP, HostOp, HostReply

__all__ = ["SequenceStub", "ScoredStub", "ObservedLink", "HostLinkProof"]

D, N, C = 2, 2, 1
SPEC = TransformerSpec(d=D, heads=1, ffn=1, layers=1, classes=C, max_len=N, lanes=1)
SEQUENCER = resolve_sequencer(config_from_dict({"model": {"d_model": D}, "projection": {"m": 2, "lanes": 1},
                                                "dac": {"part": "parallel", "n_channels": 2},
                                                "transformer": {"lanes": 1, "heads": 1}}))


def _free(stalls: bool):
    """A free handshake bit, or always 1 (no stalls: the deep proofs, where only the byte values are free)."""
    return AnySeq(1) if stalls else 1


def _result_stub(m: Module, o_result, start, stalls: bool) -> None:
    """A result appears any time after ``start`` (the last token taken), holds until it is taken."""
    busy, valid = Signal(), Signal()
    payload = Signal(o_result.payload.shape())
    with m.If(start):
        m.d.sync += busy.eq(1)
    with m.If(busy & ~valid & _free(stalls)):
        m.d.sync += [valid.eq(1), payload.eq(AnySeq(len(payload.as_value())))]
    with m.If(valid & o_result.ready):
        m.d.sync += [valid.eq(0), busy.eq(0)]
    m.d.comb += [o_result.valid.eq(valid), o_result.payload.eq(payload)]


class SequenceStub(wiring.Component):
    """Stands in for :class:`Transformer` (host-given keep bits)."""

    def __init__(self, stalls: bool = True):
        self.spec, self.stalls = SPEC, stalls
        super().__init__({"i_tokens": In(stream.Signature(token_row_layout(D))),
                          "i_load": In(stream.Signature(load_layout())), "drop": In(1),
                          "o_result": Out(stream.Signature(result_layout(C, N)))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.i_tokens.ready.eq(_free(self.stalls)), self.i_load.ready.eq(_free(self.stalls))]
        _result_stub(m, self.o_result, self.i_tokens.valid & self.i_tokens.ready & self.i_tokens.payload.last,
                     self.stalls)
        return m


class ScoredStub(ScoredTransformer):
    """Stands in for :class:`ScoredTransformer` (the board scores): the same members, free timing."""

    def __init__(self, stalls: bool = True):
        self._t, self.sequencer, self.stalls = SimpleNamespace(spec=SPEC), SEQUENCER, stalls
        wiring.Component.__init__(self, {
            "i_token": In(stream.Signature(element_layout())), **fpaa_pins(SEQUENCER), "framing_error": Out(1),
            "drop": In(1), "i_load": In(stream.Signature(load_layout())),
            "o_result": Out(stream.Signature(result_layout(C, N))), "row_strobe": Out(1), "row_keep": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.i_token.ready.eq(_free(self.stalls)), self.i_load.ready.eq(_free(self.stalls)),
                     self.row_strobe.eq(AnySeq(1)), self.row_keep.eq(AnySeq(1))]
        token = Signal(range(N))
        take = self.i_token.valid & self.i_token.ready & self.i_token.payload.last
        with m.If(take):
            m.d.sync += token.eq(Mux(token == N - 1, 0, token + 1))
        _result_stub(m, self.o_result, take & (token == N - 1), self.stalls)
        return m


class ObservedLink(HostLink):
    """The link with its FSM's COMMAND state visible (``in_command``) to the proof."""

    def __init__(self, target):
        super().__init__(target)
        self.in_command = Signal()

    def elaborate(self, platform):
        m = super().elaborate(platform)
        fsm = m._generated["fsm"]                # Amaranth's Module keeps the FSM it built under its name
        self.state, self.encoding = fsm._data["signal"], fsm.encoding
        m.d.comb += self.in_command.eq(self.state == self.encoding["COMMAND"])
        return m


class Phase(enum.Enum, shape=3):
    CMD = 0
    LEN = 1
    LOAD = 2
    FLAGS = 3
    COUNT = 4
    DATA = 5                                     # token bytes (SEQUENCE: d elements + keep; SCORE: elements)
    ANSWER = 6


class HostLinkProof(Elaboratable):
    """Any byte stream (the host obeys only the stream rules) and any answer backpressure. The reference framer
    says where each frame ends; the link must: be in COMMAND exactly when the framer is between frames; take no
    byte while answering and send none outside an answer; pass every weight byte, token and element to the target
    exactly when the frame says, with its framing bits; answer an unknown command ``'?'`` and a load ``'K'``, and
    a sequence with answer_bytes(C, n) bytes, acknowledging the result with the last, and a SEQUENCE of more
    than ``max_len`` tokens, read to its end, with ``'?'``; start an answer within two cycles of having it.
    ``limit_n``: assume a SEQUENCE of at most ``max_len`` tokens."""

    def __init__(self, link: ObservedLink, *, limit_n: bool = True):
        self.link, self.limit_n, self.props = link, limit_n, Properties()

    def elaborate(self, platform):
        m, p, link = Module(), self.props, self.link
        m.submodules.link = link
        t = link._t
        scored = isinstance(t, ScoredTransformer)
        rx, tx = link.i_bytes, link.o_bytes
        drive_source(m, rx)
        check_sink(m, p, tx, ready=None if t.stalls else 1)
        if not t.stalls:
            m.d.comb += Assume(rx.valid)
        if scored:
            m.d.comb += link.comparator.eq(0)
        byte, take, sent = rx.payload, rx.valid & rx.ready, tx.valid & tx.ready
        phase = Signal(Phase)
        left = Signal(32)                         # bytes left in this phase (LOAD, DATA, ANSWER)
        length, k = Signal(32), Signal(2)
        elem, row = Signal(range(D + 1)), Signal(8 * D)
        short, reply, drop = Signal(), Signal(8), Signal()
        oversize = Signal()                       # a SEQUENCE of more than max_len tokens: read through, '?'


        def answer(n_bytes, reply_byte=None):
            m.d.sync += [phase.eq(Phase.ANSWER), left.eq(n_bytes), short.eq(reply_byte is not None)]
            if reply_byte is not None:
                m.d.sync += reply.eq(reply_byte)

        run_op = HostOp.SCORE if scored else HostOp.SEQUENCE
        long_answer = 4 * C + ANSWER_COUNTERS
        with m.If(take):
            with m.Switch(phase):
                with m.Case(Phase.CMD):
                    with m.If(byte == HostOp.LOAD):
                        m.d.sync += [phase.eq(Phase.LEN), k.eq(0), length.eq(0)]
                    with m.Elif(byte == run_op):
                        m.d.sync += phase.eq(Phase.FLAGS)
                    with m.Else():
                        answer(1, HostReply.UNKNOWN)
                with m.Case(Phase.LEN):
                    full = Cat(length[8:], byte)
                    m.d.sync += [length.eq(full), k.eq(k + 1), left.eq(full)]
                    with m.If(k == 3):
                        with m.If(full == 0):
                            answer(1, HostReply.LOADED)
                        with m.Else():
                            m.d.sync += phase.eq(Phase.LOAD)
                with m.Case(Phase.LOAD):
                    m.d.sync += left.eq(left - 1)
                    with m.If(left == 1):
                        answer(1, HostReply.LOADED)
                with m.Case(Phase.FLAGS):
                    m.d.sync += [drop.eq((byte & FLAG_DROP) != 0), elem.eq(0)]
                    if scored:
                        m.d.sync += [phase.eq(Phase.DATA), left.eq(N * D), reply.eq(N - 1)]
                    else:
                        m.d.sync += phase.eq(Phase.COUNT)
                with m.Case(Phase.COUNT):
                    m.d.sync += [phase.eq(Phase.DATA), left.eq((byte + 1) * (D + 1)), reply.eq(byte),
                                 oversize.eq(byte >= N)]
                with m.Case(Phase.DATA):
                    m.d.sync += [left.eq(left - 1), elem.eq(Mux(elem == (D - 1 if scored else D), 0, elem + 1))]
                    if not scored:
                        m.d.sync += row.eq(Cat(row[8:], byte))
                    with m.If(left == 1):
                        with m.If(oversize):
                            answer(1, HostReply.UNKNOWN)
                        with m.Else():
                            answer(long_answer + ((reply + 8) >> 3))
        with m.If(sent & (phase == Phase.ANSWER)):
            m.d.sync += left.eq(left - 1)
            with m.If(left == 1):
                m.d.sync += phase.eq(Phase.CMD)
        if self.limit_n and not scored:
            m.d.comb += Assume(~(rx.valid & (phase == Phase.COUNT)) | (byte < N))

        p.check(m, "host link: in COMMAND exactly between frames", link.in_command == (phase == Phase.CMD))
        p.check(m, "host link: takes no byte while answering", ~take | (phase != Phase.ANSWER))
        p.check(m, "host link: sends only answers", ~sent | (phase == Phase.ANSWER))
        p.check(m, "host link: one-byte answers are '?' / 'K'", ~(sent & short) | (tx.payload == reply))
        load = t.i_load
        loading = take & (phase == Phase.LOAD)
        p.check(m, "host link: every weight byte, once, with first on the first",
                ((load.valid & load.ready) == loading)
                & (~loading | ((load.payload.byte == byte) & (load.payload.first == (left == length)))))
        if scored:
            e = t.i_token
            framed = (e.payload.data.as_unsigned() == byte) & (e.payload.first == (elem == 0)) \
                & (e.payload.last == (elem == D - 1))
            p.check(m, "host link: every element, once, framed",
                    ((e.valid & e.ready) == (take & (phase == Phase.DATA))) & (~(e.valid & e.ready) | framed))
            p.check(m, "host link: the flag's drop mode", (phase != Phase.DATA) | (t.drop == drop))
        else:
            tok = t.i_tokens
            at_keep = take & (phase == Phase.DATA) & (elem == D) & ~oversize
            p.check(m, "host link: every token, once, with its keep bit and last",
                    ((tok.valid & tok.ready) == at_keep)
                    & (~at_keep | ((tok.payload.x.as_value() == row) & (tok.payload.keep == byte[0])
                                   & (tok.payload.last == (left == 1)))))
            p.check(m, "host link: the flag's drop mode", (phase != Phase.DATA) | (t.drop == drop))
        res = t.o_result
        p.check(m, "host link: the result is acknowledged with the answer's last byte",
                (res.valid & res.ready) == (sent & (phase == Phase.ANSWER) & ~short & (left == 1)))
        stalled = Signal(2)
        can_answer = (phase == Phase.ANSWER) & (short | res.valid) & ~tx.valid
        m.d.sync += stalled.eq(Mux(can_answer, stalled + 1, 0))
        p.check(m, "host link: an answer starts within two cycles of being ready", stalled < 3)
        return m
