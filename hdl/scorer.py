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
from .layouts import INDEX_BITS, element_layout, scored_layout
from .projection import Projection
from .readout import ParallelThetaPort, SarReadout
from .topk import TopKSelector

__all__ = ["Scorer", "fpaa_pins", "forward_fpaa_pins"]


def fpaa_pins(sequencer: SequencerSpec | None) -> dict:
    """The pin-boundary members (DAC bus, round select, evaluate, comparator); none for the digital scorer."""
    if sequencer is None:
        return {}
    r = sequencer.readout
    theta = {"theta_dac_code": Out(r.part_bits), "theta_dac_strobe": Out(1)} if r and r.theta_channel is None else {}
    sar = {} if r is None else {"o_decide": Out(1), **theta}      # a parallel θ DAC has pins of its own
    return {"o_round": Out(range(max(sequencer.rounds, 2))), "o_evaluate": Out(1),
            "comparator": In(sequencer.comparators),
            **dac_pins(sequencer.part, sequencer.n_dac, sequencer.part_bits), **sar}


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

    Issue 18, set by the sequencer spec: with ``sequencer.readout`` (SAR) a :class:`hdl.readout.SarReadout`
    replaces the capture (pins ``o_decide``, and on a parallel bus the θ DAC's ``theta_dac_code``/
    ``theta_dac_strobe``; on the AD5628 θ is its last channel), and with ``sequencer.selection`` a
    :class:`hdl.topk.TopKSelector` decides the keep bits per sequence of ``selection.n`` tokens; for top-k/cap the
    token FIFO then holds (n + 2)·d elements (a token leaves with its keep bit, after its sequence). ``readout_valid``/
    ``readout_code``/``readout_index`` show each code as it leaves the readout (for benches; no backpressure).

    Throughput: the slower of the projection (max(d, m·⌈d/L⌉) cycles/token) and the DAC port (m frames of
    ``SequencerSpec.write_cycles`` for the AD5628, 33·divider at the shipped configs); latency: projection + the
    token's DAC writes + settle + capture (see the sub-blocks).
    """

    def __init__(self, projection: ProjectionSpec, sequencer: SequencerSpec, digital: DigitalScorerSpec | None = None):
        if projection.m != sequencer.m or projection.dac_bits != sequencer.dac_bits:
            raise ValueError(f"projection (m = {projection.m}, dac_bits = {projection.dac_bits}) and sequencer "
                             f"(m = {sequencer.m}, dac_bits = {sequencer.dac_bits}) disagree")
        self._proj, self._seq, self._digital = projection, sequencer, digital
        multibit = digital is None and sequencer.selection is not None
        bits = sequencer.selection.bits if multibit else 1
        tap = {"readout_valid": Out(1), "readout_code": Out(bits), "readout_index": Out(INDEX_BITS)} if multibit else {}
        super().__init__({
            "i_token": In(stream.Signature(element_layout())),
            "o_token": Out(stream.Signature(scored_layout())),
            "framing_error": Out(1),
            **fpaa_pins(None if digital else sequencer), **tap,
        })

    @property
    def _fifo_depth(self) -> int:
        sel = None if self._digital is not None else self._seq.selection
        buffered = sel is not None and sel.mode != "threshold"
        return (sel.n + 2) * self._proj.d if buffered else 4 * self._proj.d

    def elaborate(self, platform):
        m = Module()
        s = self._seq
        m.submodules.projection = proj = Projection(self._proj)
        m.submodules.tokens = tokens = SyncFIFOBuffered(width=element_layout().size, depth=self._fifo_depth)
        if self._digital is not None:
            m.submodules.digital = digital = DigitalScorer(self._digital)
            wiring.connect(m, proj.o_codes, digital.i_codes)
            keep = digital.o_keep
            m.d.comb += self.framing_error.eq(proj.framing_error)
        else:
            m.submodules.sequencer = seq = DacSequencer(s)
            wiring.connect(m, proj.o_codes, seq.i_codes)
            for name in ("o_round", "o_evaluate", *dac_pins(s.part, s.n_dac, s.part_bits)):
                m.d.comb += getattr(self, name).eq(getattr(seq, name))
            m.d.comb += self.framing_error.eq(proj.framing_error | seq.framing_error)
            keep = self._readout(m, seq) if s.selection is not None else self._capture(m, seq).o_keep

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

    def _capture(self, m: Module, seq: DacSequencer) -> ComparatorCapture:
        s = self._seq
        m.submodules.capture = cap = ComparatorCapture(wait_cycles=s.wait_cycles, comparators=s.comparators,
                                                      consensus_k=s.consensus_k)
        m.d.comb += [cap.i_evaluate.eq(seq.o_evaluate), seq.i_eval_ready.eq(cap.o_ready),
                     cap.comparator.eq(self.comparator)]
        return cap

    def _readout(self, m: Module, seq: DacSequencer):
        """Codes (SAR, or the capture's keep bit as a 1-bit code) -> the selector; returns its keep stream."""
        s, r = self._seq, self._seq.readout
        m.submodules.selector = sel = TopKSelector(s.selection)
        if r is None:
            codes = self._capture(m, seq).o_keep
            code = codes.payload.keep
        else:
            m.submodules.readout = sar = SarReadout(r)
            m.d.comb += [sar.i_start.eq(seq.o_evaluate), seq.i_eval_ready.eq(sar.o_ready),
                         sar.comparator.eq(self.comparator), self.o_decide.eq(sar.o_decide)]
            if r.theta_channel is not None:           # θ is the AD5628's last channel: through the sequencer
                wiring.connect(m, sar.o_theta, seq.i_theta)
                m.d.comb += sar.i_theta_updated.eq(seq.o_theta_updated)
            else:
                m.submodules.theta_port = port = ParallelThetaPort(r.part_bits)
                wiring.connect(m, sar.o_theta, port.i_theta)
                m.d.comb += [sar.i_theta_updated.eq(port.updated), self.theta_dac_code.eq(port.theta_dac_code),
                             self.theta_dac_strobe.eq(port.theta_dac_strobe)]
            codes = sar.o_code
            code = codes.payload.code
        m.d.comb += [sel.i_code.valid.eq(codes.valid), sel.i_code.payload.code.eq(code),
                     sel.i_code.payload.index.eq(codes.payload.index), codes.ready.eq(sel.i_code.ready),
                     self.readout_valid.eq(codes.valid & codes.ready), self.readout_code.eq(code),
                     self.readout_index.eq(codes.payload.index)]
        return sel.o_keep
