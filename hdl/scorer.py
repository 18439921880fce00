"""The scorer: projection -> DAC sequencer -> (FPAA) -> comparator capture, tokens and keep bits leaving together."""
from __future__ import annotations

from amaranth.hdl import Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from atis.golden.projection import ProjectionSpec
from atis.golden.sequencer import SequencerSpec

from .comparator_capture import INDEX_BITS, ComparatorCapture
from .dac_port import dac_pins
from .dac_sequencer import DacSequencer
from .projection import Projection, token_layout

__all__ = ["Scorer", "scored_layout"]


def scored_layout() -> data.StructLayout:
    """A token element with its token's keep bit and index (every element of a token carries the same two)."""
    return data.StructLayout({"data": signed(8), "first": 1, "last": 1, "keep": 1, "index": INDEX_BITS})


class Scorer(wiring.Component):
    """Scores every token on the FPAA and forwards it with its keep bit (DESIGN.md §1).

    Members
    -------
    i_token : In(stream.Signature(token_layout()))
        Token elements; each goes both to the projection and into a token FIFO (4·d deep), and is taken only when
        both can take it.
    o_token : Out(stream.Signature(scored_layout()))
        The same elements in the same order with ``keep``/``index`` of their token; a token leaves once its keep
        bit is captured. Honours ``ready``: nothing is lost, duplicated or reordered under backpressure.
    dac pins, o_round, o_evaluate : the DAC sequencer's pins to the DAC and FPAA (see ``DacSequencer``).
    comparator : In(1)
        The FPAA's (consensus) comparator output, asynchronous.
    framing_error : Out(1)
        Sticky: the projection or the sequencer saw first/last disagree with their counters.

    Throughput: the slower of the projection (max(d, m·⌈d/L⌉) cycles/token) and the DAC port (m·33·divider for
    the AD5628); latency: projection + the token's DAC writes + settle + capture (see the sub-blocks).
    """

    def __init__(self, projection: ProjectionSpec, sequencer: SequencerSpec):
        if projection.m != sequencer.m or projection.dac_bits != sequencer.dac_bits:
            raise ValueError("projection and sequencer disagree on m or dac_bits")
        self._proj, self._seq = projection, sequencer
        super().__init__({
            "i_token": In(stream.Signature(token_layout())),
            "o_token": Out(stream.Signature(scored_layout())),
            "o_round": Out(range(max(sequencer.rounds, 2))),
            "o_evaluate": Out(1),
            "comparator": In(1),
            "framing_error": Out(1),
            **dac_pins(sequencer.part, sequencer.n_dac, sequencer.part_bits),
        })

    def elaborate(self, platform):
        m = Module()
        s = self._seq
        m.submodules.projection = proj = Projection(self._proj)
        m.submodules.sequencer = seq = DacSequencer(s)
        m.submodules.capture = cap = ComparatorCapture(s.wait_cycles)
        m.submodules.tokens = tokens = SyncFIFOBuffered(width=token_layout().size, depth=4 * self._proj.d)
        wiring.connect(m, proj.o_codes, seq.i_codes)
        for name in ("o_round", "o_evaluate", *dac_pins(s.part, s.n_dac, s.part_bits)):
            m.d.comb += getattr(self, name).eq(getattr(seq, name))
        m.d.comb += [cap.i_evaluate.eq(seq.o_evaluate), seq.i_eval_ready.eq(cap.o_ready),
                     cap.comparator.eq(self.comparator),
                     self.framing_error.eq(proj.framing_error | seq.framing_error)]

        # Tee: an element is taken only when both the projection and the token FIFO can take it.
        t = self.i_token
        m.d.comb += [proj.i_token.payload.eq(t.payload), tokens.w_data.eq(t.payload),
                     proj.i_token.valid.eq(t.valid & tokens.w_rdy),
                     tokens.w_en.eq(t.valid & proj.i_token.ready),
                     t.ready.eq(proj.i_token.ready & tokens.w_rdy)]

        # Join: each element of the FIFO's head token leaves with the head keep bit, which is popped at `last`.
        elem = data.View(token_layout(), tokens.r_data)
        out, keep = self.o_token, cap.o_keep
        m.d.comb += [out.valid.eq(tokens.r_rdy & keep.valid),
                     out.payload.data.eq(elem.data), out.payload.first.eq(elem.first),
                     out.payload.last.eq(elem.last), out.payload.keep.eq(keep.payload.keep),
                     out.payload.index.eq(keep.payload.index),
                     tokens.r_en.eq(out.valid & out.ready),
                     keep.ready.eq(out.valid & out.ready & elem.last)]
        return m
