"""The scorer: projection -> DAC sequencer -> (FPAA) -> comparator capture, tokens and keep bits leaving together."""
from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from atis.golden.digital_scorer import DigitalScorerSpec
from atis.golden.projection import ProjectionSpec
from atis.golden.sequencer import SequencerSpec

from .comparator_capture import ComparatorCapture
from .dac_port import dac_pins
from .dac_sequencer import DacSequencer
from .digital_scorer import DigitalScorer
from .layouts import element_layout, scored_layout
from .projection import Projection

__all__ = ["Scorer", "fpaa_pins", "forward_fpaa_pins"]


def fpaa_pins(sequencer: SequencerSpec | None) -> dict:
    """The pin-boundary members (DAC bus, round select, evaluate, comparator); none for the digital scorer."""
    if sequencer is None:
        return {}
    return {"o_round": Out(range(max(sequencer.rounds, 2))), "o_evaluate": Out(1),
            "comparator": In(sequencer.comparators),
            **dac_pins(sequencer.part, sequencer.n_dac, sequencer.part_bits)}


def forward_fpaa_pins(m, outer, scorer, sequencer: SequencerSpec | None) -> None:
    """Wire a top's FPAA pins (``fpaa_pins(sequencer)`` members of ``outer``) to the same members of its scorer."""
    for name, member in fpaa_pins(sequencer).items():
        if member.flow == In:
            m.d.comb += getattr(scorer, name).eq(getattr(outer, name))
        else:
            m.d.comb += getattr(outer, name).eq(getattr(scorer, name))


class Scorer(wiring.Component):
    """Scores every token on the FPAA and forwards it with its keep bit (DESIGN.md §1).

    Members
    -------
    i_token : In(stream.Signature(element_layout()))
        Token elements; each goes both to the projection and into a token FIFO (4·d deep), and is taken only when
        both can take it.
    o_token : Out(stream.Signature(scored_layout()))
        The same elements in the same order with ``keep``/``index`` of their token; a token leaves once its keep
        bit is captured. Honours ``ready``: nothing is lost, duplicated or reordered under backpressure.
    dac pins, o_round, o_evaluate : the DAC sequencer's pins to the DAC and FPAA (see ``DacSequencer``).
    comparator : In(comparators)
        The FPAA's comparator outputs, asynchronous: one per replicated head group (k-of-G vote in the capture),
        or one consensus pin.
    framing_error : Out(1)
        Sticky: the projection or the sequencer saw first/last disagree with their counters.

    With ``digital`` given, a :class:`hdl.digital_scorer.DigitalScorer` (m MACs per token) replaces sequencer,
    FPAA and capture, and the pin-boundary members do not exist (a board with no FPAA attached).

    Throughput: the slower of the projection (max(d, m·⌈d/L⌉) cycles/token) and the DAC port (m·33·divider for
    the AD5628); latency: projection + the token's DAC writes + settle + capture (see the sub-blocks).
    """

    def __init__(self, projection: ProjectionSpec, sequencer: SequencerSpec, digital: DigitalScorerSpec | None = None):
        if projection.m != sequencer.m or projection.dac_bits != sequencer.dac_bits:
            raise ValueError(f"projection (m = {projection.m}, dac_bits = {projection.dac_bits}) and sequencer "
                             f"(m = {sequencer.m}, dac_bits = {sequencer.dac_bits}) disagree")
        self._proj, self._seq, self._digital = projection, sequencer, digital
        super().__init__({
            "i_token": In(stream.Signature(element_layout())),
            "o_token": Out(stream.Signature(scored_layout())),
            "framing_error": Out(1),
            **fpaa_pins(None if digital else sequencer),
        })

    def elaborate(self, platform):
        m = Module()
        s = self._seq
        m.submodules.projection = proj = Projection(self._proj)
        m.submodules.tokens = tokens = SyncFIFOBuffered(width=element_layout().size, depth=4 * self._proj.d)
        if self._digital is not None:
            m.submodules.digital = digital = DigitalScorer(self._digital)
            wiring.connect(m, proj.o_codes, digital.i_codes)
            keep = digital.o_keep
            m.d.comb += self.framing_error.eq(proj.framing_error)
        else:
            m.submodules.sequencer = seq = DacSequencer(s)
            m.submodules.capture = cap = ComparatorCapture(wait_cycles=s.wait_cycles, comparators=s.comparators,
                                                          consensus_k=s.consensus_k)
            wiring.connect(m, proj.o_codes, seq.i_codes)
            for name in ("o_round", "o_evaluate", *dac_pins(s.part, s.n_dac, s.part_bits)):
                m.d.comb += getattr(self, name).eq(getattr(seq, name))
            m.d.comb += [cap.i_evaluate.eq(seq.o_evaluate), seq.i_eval_ready.eq(cap.o_ready),
                         cap.comparator.eq(self.comparator),
                         self.framing_error.eq(proj.framing_error | seq.framing_error)]
            keep = cap.o_keep

        # Tee: an element is taken only when both the projection and the token FIFO can take it.
        t = self.i_token
        m.d.comb += [proj.i_token.payload.eq(t.payload), tokens.w_data.eq(t.payload),
                     proj.i_token.valid.eq(t.valid & tokens.w_rdy),
                     tokens.w_en.eq(t.valid & proj.i_token.ready),
                     t.ready.eq(proj.i_token.ready & tokens.w_rdy)]

        # Join: each element of the FIFO's head token leaves with the head keep bit, which is popped at `last`.
        elem = data.View(element_layout(), tokens.r_data)
        out = self.o_token
        m.d.comb += [out.valid.eq(tokens.r_rdy & keep.valid),
                     out.payload.data.eq(elem.data), out.payload.first.eq(elem.first),
                     out.payload.last.eq(elem.last), out.payload.keep.eq(keep.payload.keep),
                     out.payload.index.eq(keep.payload.index),
                     tokens.r_en.eq(out.valid & out.ready),
                     keep.ready.eq(out.valid & out.ready & elem.last)]
        return m
