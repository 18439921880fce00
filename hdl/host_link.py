"""Host link of the transformer: commands over a byte stream (``HostLink``), the same over a UART
(``TransformerTop``). The protocol (opcodes, answer layout, host-side codec) is :mod:`atis.protocol`.

The link drives either a bare :class:`Transformer` (``SEQUENCE``: the host sends the keep bits) or the whole
digital side, :class:`ScoredTransformer` (``SCORE``: the board scores each token on the FPAA pins); a command meant
for the other one is answered ``'?'``.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from atis.protocol import ANSWER_COUNTERS, FLAG_CLEAR, FLAG_DROP, HostOp, HostReply, answer_bytes

from .pipeline import ScoredTransformer
from .scorer import forward_fpaa_pins, fpaa_pins
from .sequenced import SequencedTransformer
from .transformer import Transformer
from .uart import UartRx, UartTx

__all__ = ["HostLink", "TransformerTop"]


class HostLink(wiring.Component):
    """Byte commands in (``i_bytes``) -> the target -> answer bytes out (``o_bytes``); see the module docstring.
    One command at a time; every byte is taken as soon as the target can use it. With a
    :class:`ScoredTransformer` target the link also carries its FPAA pins and ``framing_error``, and with its
    keep-rate watchdog it answers ``STATUS`` (else ``'?'``)."""

    def __init__(self, target: Transformer | SequencedTransformer | ScoredTransformer):
        self._t = target
        self._scored = isinstance(target, ScoredTransformer)
        pins = {**fpaa_pins(target.sequencer), "framing_error": Out(1)} if self._scored else {}
        super().__init__({"i_bytes": In(stream.Signature(8)), "o_bytes": Out(stream.Signature(8)), **pins})

    def elaborate(self, platform):
        m = Module()
        m.submodules.target = t = self._t
        d, n_max, C = t.spec.d, t.spec.max_len, t.spec.classes
        rx, tx = self.i_bytes, self.o_bytes
        remaining = Signal(32)                       # bytes left in the weight load
        first = Signal()
        drop = Signal()
        n_minus_1, token = Signal(8), Signal(range(n_max + 1))
        elem = Signal(range(d + 1))
        row = Signal(8 * d)
        mask = Signal(n_max)
        # A result answer is read byte by byte out of the target's held result (acknowledged after its last byte),
        # not copied: a copy would cost ~500 flip-flops and their load muxes, a tenth of the UP5K.
        reply, short = Signal(8), Signal()           # a one-byte answer ('?' or 'L')
        at = Signal(range(answer_bytes(C, n_max)))
        left = Signal(range(answer_bytes(C, n_max) + 1))
        res = t.o_result.payload
        tail, tail_running = Signal(32), Signal()  # last token in -> result (see atis.protocol)
        with m.If(tail_running & ~t.o_result.valid):      # stops when the result is there
            m.d.sync += tail.eq(tail + 1)
        last_in = Signal()                           # the target takes the sequence's last token this cycle
        m.d.comb += t.drop.eq(drop)
        run_op = HostOp.SCORE if self._scored else HostOp.SEQUENCE
        watchdog = self._scored and t.watchdog is not None
        if self._scored:
            forward_fpaa_pins(m, self, t, t.sequencer)
            m.d.comb += self.framing_error.eq(t.framing_error)
            keep_index = Signal(range(n_max))        # the board's keep bits, as rows enter the transformer
            with m.If(t.row_strobe):
                m.d.sync += [mask.bit_select(keep_index, 1).eq(t.row_keep), keep_index.eq(keep_index + 1)]
            m.d.comb += last_in.eq(t.row_strobe & (keep_index == n_max - 1))
        else:
            m.d.comb += last_in.eq(t.i_tokens.valid & t.i_tokens.ready & t.i_tokens.payload.last)
        with m.If(last_in):
            m.d.sync += [tail.eq(1), tail_running.eq(1)]

        with m.FSM():
            with m.State("COMMAND"):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid):
                    with m.Switch(rx.payload):
                        with m.Case(HostOp.LOAD):
                            m.d.sync += [remaining.eq(0), elem.eq(0)]
                            m.next = "LENGTH"
                        with m.Case(run_op):
                            m.next = "FLAGS"
                        if watchdog:
                            with m.Case(HostOp.STATUS):
                                m.next = "STATUS"
                        with m.Default():
                            m.d.sync += [reply.eq(HostReply.UNKNOWN), short.eq(1), left.eq(1)]
                            m.next = "ANSWER"
            with m.State("LENGTH"):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid):
                    m.d.sync += [remaining.eq(Cat(remaining[8:], rx.payload)), elem.eq(elem + 1), first.eq(1)]
                    with m.If(elem == 3):
                        m.next = "LOAD"
            with m.State("LOAD"):
                with m.If(remaining == 0):
                    m.d.sync += [reply.eq(HostReply.LOADED), short.eq(1), left.eq(1)]
                    m.next = "ANSWER"
                with m.Else():
                    m.d.comb += [t.i_load.valid.eq(rx.valid), t.i_load.payload.byte.eq(rx.payload),
                                 t.i_load.payload.first.eq(first), rx.ready.eq(t.i_load.ready)]
                    with m.If(rx.valid & t.i_load.ready):
                        m.d.sync += [remaining.eq(remaining - 1), first.eq(0)]
            with m.State("FLAGS"):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid):
                    m.d.sync += [drop.eq((rx.payload & FLAG_DROP) != 0), token.eq(0), elem.eq(0), mask.eq(0)]
                    if self._scored:                 # a scored sequence is always max_len (= model.seq_len) long
                        m.d.sync += [n_minus_1.eq(n_max - 1), keep_index.eq(0)]
                        m.next = "ELEMENTS"
                    else:
                        m.next = "COUNT"
            if watchdog:
                with m.State("STATUS"):              # the status as it is, then (flag) cleared
                    m.d.comb += [rx.ready.eq(1), t.clear.eq(rx.valid & ((rx.payload & FLAG_CLEAR) != 0))]
                    with m.If(rx.valid):
                        m.d.sync += [reply.eq(t.status), short.eq(1), left.eq(1)]
                        m.next = "ANSWER"
            if self._scored:
                self._elements(m, rx, t.i_token, elem, token, n_minus_1, d)
            else:
                self._tokens(m, rx, t.i_tokens, elem, token, n_minus_1, row, mask, d, n_max)
                self._skip(m, rx, n_minus_1, d, n_max, reply, short, left)
            with m.State("RESULT"):
                with m.If(t.o_result.valid):
                    m.d.sync += [short.eq(0), at.eq(0), tail_running.eq(0),
                                 left.eq(4 * C + ANSWER_COUNTERS + ((n_minus_1 + 8) >> 3))]
                    m.next = "ANSWER"
            with m.State("ANSWER"):
                kept16 = Cat(res.kept, Const(0, 16 - len(res.kept)))
                result = Cat(res.logits, kept16, res.attention_cycles, res.total_cycles, tail, mask,
                             Const(0, -n_max % 8))
                m.d.comb += [tx.valid.eq(1), tx.payload.eq(Mux(short, reply, result.word_select(at, 8)))]
                with m.If(tx.ready):
                    m.d.sync += [at.eq(at + 1), left.eq(left - 1)]
                    with m.If(left == 1):
                        m.d.comb += t.o_result.ready.eq(~short)
                        m.next = "COMMAND"
        return m

    @staticmethod
    def _tokens(m, rx, i_tokens, elem, token, n_minus_1, row, mask, d, n_max) -> None:
        with m.State("COUNT"):
            m.d.comb += rx.ready.eq(1)
            with m.If(rx.valid):
                m.d.sync += n_minus_1.eq(rx.payload)
                m.next = "TOKENS"
                if n_max < 256:
                    with m.If(rx.payload >= n_max):
                        m.next = "SKIP"
        with m.State("TOKENS"):                     # d element bytes, then the keep byte hands the token over
            last_token = token == n_minus_1
            with m.If(elem < d):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid):
                    m.d.sync += [row.eq(Cat(row[8:], rx.payload)), elem.eq(elem + 1)]
            with m.Else():
                m.d.comb += [i_tokens.valid.eq(rx.valid), i_tokens.payload.x.eq(row),
                             i_tokens.payload.keep.eq(rx.payload[0]), i_tokens.payload.last.eq(last_token),
                             rx.ready.eq(i_tokens.ready)]
                with m.If(rx.valid & i_tokens.ready):
                    m.d.sync += [elem.eq(0), token.eq(token + 1),
                                 mask.eq(mask | (rx.payload[0].as_unsigned() << token))]
                    with m.If(last_token):
                        m.next = "RESULT"

    @staticmethod
    def _skip(m, rx, n_minus_1, d, n_max, reply, short, left) -> None:
        """A SEQUENCE longer than the transformer's ``max_len``: its n·(d + 1) bytes are read to the frame's end
        (so none of them is taken as a command) and answered ``'?'``; the transformer sees none of them."""
        if n_max >= 256:
            return
        skipped = Signal(range(256 * (d + 1) + 1))
        with m.State("SKIP"):
            m.d.comb += rx.ready.eq(1)
            with m.If(rx.valid):
                m.d.sync += skipped.eq(skipped + 1)
                with m.If(skipped == (n_minus_1 + 1) * (d + 1) - 1):
                    m.d.sync += [skipped.eq(0), reply.eq(HostReply.UNKNOWN), short.eq(1), left.eq(1)]
                    m.next = "ANSWER"

    @staticmethod
    def _elements(m, rx, i_token, elem, token, n_minus_1, d) -> None:
        with m.State("ELEMENTS"):                   # every byte is one element into the scorer
            last_elem = elem == d - 1
            m.d.comb += [i_token.valid.eq(rx.valid), i_token.payload.data.eq(rx.payload),
                         i_token.payload.first.eq(elem == 0), i_token.payload.last.eq(last_elem),
                         rx.ready.eq(i_token.ready)]
            with m.If(rx.valid & i_token.ready):
                m.d.sync += elem.eq(elem + 1)
                with m.If(last_elem):
                    m.d.sync += [elem.eq(0), token.eq(token + 1)]
                    with m.If(token == n_minus_1):
                        m.next = "RESULT"


class TransformerTop(wiring.Component):
    """:class:`HostLink` behind an 8N1 UART (``uart_divisor`` = clock / baud): the board top of the transformer,
    or of the whole digital side with a :class:`ScoredTransformer` (then with its FPAA pins). LEDs:
    ``led_heartbeat`` (the clock runs), ``led_keep`` (the last token's keep bit; scored only), ``led_error``
    (sticky: UART framing error or overrun — the host must wait for each answer before the next command — or a
    token framing error)."""

    def __init__(self, target: Transformer | ScoredTransformer, uart_divisor: int):
        self._t, self._div = target, uart_divisor
        self._scored = isinstance(target, ScoredTransformer)
        super().__init__({"uart_rx": In(1, init=1), "uart_tx": Out(1, init=1), "led_heartbeat": Out(1),
                          "led_keep": Out(1), "led_error": Out(1),
                          **(fpaa_pins(target.sequencer) if self._scored else {})})

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = link = HostLink(self._t)
        m.submodules.rx = rx = UartRx(self._div)
        m.submodules.tx = tx = UartTx(self._div)
        m.d.comb += [rx.rx.eq(self.uart_rx), self.uart_tx.eq(tx.tx)]
        wiring.connect(m, rx.o_data, link.i_bytes)
        wiring.connect(m, link.o_bytes, tx.i_data)
        beat = Signal(24)
        m.d.sync += beat.eq(beat + 1)
        m.d.comb += self.led_heartbeat.eq(beat[-1])
        error = rx.framing_error | rx.overrun
        if self._scored:
            forward_fpaa_pins(m, self, link, self._t.sequencer)
            error |= link.framing_error
            with m.If(self._t.row_strobe):
                m.d.sync += self.led_keep.eq(self._t.row_keep)
        with m.If(error):
            m.d.sync += self.led_error.eq(1)
        return m
