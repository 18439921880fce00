"""The keep-rate watchdog on the scorer's output stream, and the scorer with it (the fault bench's DUT)."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from atis.golden.keep_watchdog import HIGH, KEEP_ALL, LOW, STATUS_BITS, TRIPPED, WatchdogSpec
from atis.golden.projection import ProjectionSpec
from atis.golden.sequencer import SequencerSpec

from .common import counter
from .layouts import element_layout, scored_layout
from .scorer import Scorer, forward_fpaa_pins, fpaa_pins

__all__ = ["KeepWatchdog", "WatchedScorer"]


class KeepWatchdog(wiring.Component):
    """Counts the kept tokens of each window of W and flags a kept fraction outside the band (issue 16).

    Parameters:  spec : WatchdogSpec  (window, lo_count, hi_count, keep_all)
    Members
    -------
    i_elements : In(stream.Signature(scored_layout()))
        The scorer's element stream; a token is counted at the transfer of its ``last`` element.
    o_elements : Out(stream.Signature(scored_layout()))
        The same transfers; ``keep`` forced to 1 while the keep-all fallback is active.
    status : Out(4)
        ``TRIPPED | LOW | HIGH | KEEP_ALL`` (``atis.golden.keep_watchdog``); the first three sticky until ``clear``,
        ``KEEP_ALL`` until a whole window after the clear stays in the band.
    clear : In(1)
        One-cycle pulse from the host while no token's last element transfers: status low, a new window starts.

    Latency: 0 cycles (``o_elements`` is ``i_elements`` with one OR on ``keep``); the status rises the cycle after
    the tripping token's last element, so the keep-all override starts with the next token. Throughput: one
    element per cycle. Backpressure: ``ready`` passes straight through. Area: three counters of ⌈log2(W)⌉ bits and
    a run counter, four equality compares with constants, five flip-flops of state (W = 1024, band [0.24, 0.37],
    run 64: 95 LUT4 + 40 flip-flops in Yosys ``synth_ice40``). Golden: ``atis.golden.keep_watchdog.watchdog_trace``.
    """

    def __init__(self, spec: WatchdogSpec):
        if not isinstance(spec, WatchdogSpec):
            raise TypeError(f"KeepWatchdog needs a WatchdogSpec, not {spec!r}")
        self._spec = spec
        super().__init__({"i_elements": In(stream.Signature(scored_layout())),
                          "o_elements": Out(stream.Signature(scored_layout())),
                          "status": Out(STATUS_BITS), "clear": In(1)})

    def elaborate(self, platform):
        m = Module()
        s = self._spec
        i, o = self.i_elements, self.o_elements
        low, high = Signal(), Signal()
        active = Signal()                     # keep-all override in force
        probation = Signal()                  # cleared while active: the next whole window in the band ends it
        # Counters restart on a trip, so each stops at its trip level: ``>`` becomes ``==`` on the count before
        # the token, and no adder feeds a compare (iCE40: a few LUTs per compare instead of a carry chain).
        kept, dropped = counter(s.hi_count + 1, "kept"), counter(s.drop_limit + 1, "dropped")
        pos = counter(s.window, "pos")
        run, last = counter(s.run, "run"), Signal()     # length of the current run of equal keep bits
        m.d.comb += [o.valid.eq(i.valid), i.ready.eq(o.ready), o.payload.eq(i.payload),
                     o.payload.keep.eq(i.payload.keep | active),
                     self.status.eq((TRIPPED * (low | high)) | (LOW * low) | (HIGH * high) | (KEEP_ALL * active))]
        do_count = i.valid & o.ready & i.payload.last
        keep = i.payload.keep
        up = keep & (kept == s.hi_count)                 # this token takes the window above the band
        down = ~keep & (dropped == s.drop_limit)         # ... or out of reach of it
        same = (run != 0) & (keep == last)
        if s.run:                                        # ... or makes a run of `run` equal bits (stuck pin)
            stuck = same & (run == s.run - 1)
            up, down = up | (keep & stuck), down | (~keep & stuck)
        full = pos == s.window - 1
        with m.If(self.clear):                           # the host link clears only while no token moves
            m.d.sync += [low.eq(0), high.eq(0), probation.eq(active), kept.eq(0), dropped.eq(0), pos.eq(0),
                         run.eq(0)]
        with m.Elif(do_count):
            with m.If(up | down | full):
                m.d.sync += [kept.eq(0), dropped.eq(0), pos.eq(0)]
            with m.Else():
                m.d.sync += [kept.eq(kept + keep), dropped.eq(dropped + ~keep), pos.eq(pos + 1)]
            if s.run:
                m.d.sync += [last.eq(keep), run.eq(Mux(up | down, 0, Mux(same, run + 1, 1)))]
            with m.If(up):
                m.d.sync += high.eq(1)
            with m.If(down):
                m.d.sync += low.eq(1)
            if s.keep_all:
                with m.If(up | down):
                    m.d.sync += [active.eq(1), probation.eq(0)]
                with m.Elif(full & probation):
                    m.d.sync += [active.eq(0), probation.eq(0)]
        return m


class WatchedScorer(wiring.Component):
    """:class:`hdl.scorer.Scorer` followed by a :class:`KeepWatchdog`: the scorer's members plus ``status`` and
    ``clear``. Latency and throughput are the scorer's (the watchdog adds no cycle). The DUT of the fault bench
    (``cocotb_tests/test_faults.py``); the board pipeline has the watchdog in the same place (``hdl.pipeline``)."""

    def __init__(self, projection: ProjectionSpec, sequencer: SequencerSpec, watchdog: WatchdogSpec):
        self._proj, self._seq, self._wd = projection, sequencer, watchdog
        super().__init__({"i_token": In(stream.Signature(element_layout())),
                          "o_token": Out(stream.Signature(scored_layout())),
                          "framing_error": Out(1), "status": Out(STATUS_BITS), "clear": In(1),
                          **fpaa_pins(sequencer)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.scorer = scorer = Scorer(self._proj, self._seq)
        m.submodules.watchdog = watchdog = KeepWatchdog(self._wd)
        forward_fpaa_pins(m, self, scorer, self._seq)
        wiring.connect(m, wiring.flipped(self.i_token), scorer.i_token)
        wiring.connect(m, scorer.o_token, watchdog.i_elements)
        wiring.connect(m, watchdog.o_elements, wiring.flipped(self.o_token))
        m.d.comb += [self.framing_error.eq(scorer.framing_error), self.status.eq(watchdog.status),
                     watchdog.clear.eq(self.clear)]
        return m
