"""The whole digital side in one: scorer (FPAA pins) -> row packer -> transformer (DESIGN.md: score, prune, attend).

Golden: the vectorized FPAA model (``atis.analog_models.scoring.expected_keep``) for the keep bits, then
``forward_int``.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from atis.golden.keep_watchdog import STATUS_BITS, WatchdogSpec
from atis.golden.projection import ProjectionSpec
from atis.golden.sequencer import SequencerSpec

from .common import counter
from .keep_watchdog import KeepWatchdog
from .layouts import element_layout, load_layout, result_layout, scored_layout, token_row_layout
from .scorer import Scorer, forward_fpaa_pins, fpaa_pins
from .sequenced import SequencedTransformer
from .streams import StreamBuffer
from .transformer import Transformer

__all__ = ["RowPacker", "ScoredTransformer"]


class RowPacker(wiring.Component):
    """The scorer's element stream -> whole token rows with their keep bit; every ``seq_len`` tokens make a
    sequence (``last`` on the final one). One row per d elements; a row leaves the cycle after its last element.
    Elements keep shifting in while a row waits to be taken; only a token's last element waits for the row
    register to be empty (a registered condition: the transformer's ready never reaches the ``8·d`` row flip-flops'
    enable in the same cycle, which was a 75 MHz critical path on the ECP5). At most one bubble per row."""

    def __init__(self, *, d: int, seq_len: int):
        self._d, self._n = d, seq_len
        super().__init__({"i_elements": In(stream.Signature(scored_layout())),
                          "o_rows": Out(stream.Signature(token_row_layout(d)))})

    def elaborate(self, platform):
        m = Module()
        d, n = self._d, self._n
        row = Signal(8 * d)
        token = counter(n, "token")
        e, out = self.i_elements, self.o_rows
        with m.If(out.ready):
            m.d.sync += out.valid.eq(0)
        m.d.comb += e.ready.eq(~out.valid | ~e.payload.last)
        with m.If(e.valid & e.ready):
            packed = Cat(row[8:], e.payload.data)
            m.d.sync += row.eq(packed)
            with m.If(e.payload.last):
                m.d.sync += [out.valid.eq(1), out.payload.x.eq(packed), out.payload.keep.eq(e.payload.keep),
                             out.payload.last.eq(token == n - 1), token.eq(token + 1)]
                with m.If(token == n - 1):
                    m.d.sync += token.eq(0)
        return m


class ScoredTransformer(wiring.Component):
    """Tokens (int8 elements, as into :class:`hdl.scorer.Scorer`) -> FPAA scoring over the pins -> transformer
    logits per ``seq_len`` tokens. Members: ``i_token``, the FPAA pins, ``framing_error``, ``drop``, ``i_load``
    (weights), ``o_result``, and ``row_strobe``/``row_keep`` (a token row enters the transformer this cycle, and
    its keep bit: in order, so a host link can answer the keep mask). Throughput: the scorer's token rate while the
    transformer keeps up; a sequence's tokens wait in the scorer's FIFO (then upstream) while the transformer
    finishes the previous one. With a ``watchdog`` (:class:`hdl.keep_watchdog.KeepWatchdog`, no added cycle) between
    the scorer's output buffer and the packer, also ``status`` (out) and ``clear`` (in) for the host link."""

    #: The keep-rate watchdog's spec, or None (no watchdog, no ``status``/``clear`` members).
    watchdog: WatchdogSpec | None = None

    def __init__(self, projection: ProjectionSpec, sequencer: SequencerSpec,
                 transformer: Transformer | SequencedTransformer, watchdog: WatchdogSpec | None = None):
        self._proj, self._t = projection, transformer
        self.sequencer, self.watchdog = sequencer, watchdog
        status = {"status": Out(STATUS_BITS), "clear": In(1)} if watchdog else {}
        super().__init__({"i_token": In(stream.Signature(element_layout())), **fpaa_pins(sequencer),
                          "framing_error": Out(1), "drop": In(1), "i_load": In(stream.Signature(load_layout())),
                          "o_result": Out(stream.Signature(result_layout(transformer.spec.classes,
                                                                          transformer.spec.max_len))),
                          "row_strobe": Out(1), "row_keep": Out(1), **status})

    @property
    def spec(self):
        """The transformer's :class:`atis.design.TransformerSpec` (``max_len`` = tokens per sequence)."""
        return self._t.spec

    def elaborate(self, platform):
        m = Module()
        t = self._t
        m.submodules.scorer = scorer = Scorer(self._proj, self.sequencer)
        m.submodules.packer = packer = RowPacker(d=t.spec.d, seq_len=t.spec.max_len)
        m.submodules.transformer = t
        forward_fpaa_pins(m, self, scorer, self.sequencer)
        wiring.connect(m, wiring.flipped(self.i_token), scorer.i_token)
        # the token FIFO's block RAM is far from the packer, and the transformer's ready reaches the scorer
        # through the packer: both paths end in this buffer (ECP5 at 82.5 MHz)
        m.submodules.scored = scored = StreamBuffer(scorer.o_token.payload.shape())
        wiring.connect(m, scorer.o_token, scored.i)
        if self.watchdog is None:
            wiring.connect(m, scored.o, packer.i_elements)
        else:
            m.submodules.watchdog = watchdog = KeepWatchdog(self.watchdog)
            wiring.connect(m, scored.o, watchdog.i_elements)
            wiring.connect(m, watchdog.o_elements, packer.i_elements)
            m.d.comb += [self.status.eq(watchdog.status), watchdog.clear.eq(self.clear)]
        wiring.connect(m, packer.o_rows, t.i_tokens)
        wiring.connect(m, wiring.flipped(self.i_load), t.i_load)
        wiring.connect(m, t.o_result, wiring.flipped(self.o_result))
        m.d.comb += [t.drop.eq(self.drop), self.framing_error.eq(scorer.framing_error),
                     self.row_strobe.eq(packer.o_rows.valid & packer.o_rows.ready),
                     self.row_keep.eq(packer.o_rows.payload.keep)]
        return m
