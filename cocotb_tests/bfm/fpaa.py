"""FPAA BFM: the analog side at the pin boundary (DESIGN.md §3).

It owns one pin-level ``analog_models`` object (:class:`analog_models.FpaaPins`). DAC output updates (from a DAC
monitor) move OTA input group ``o_round`` to the new codes at the update's time; on ``evaluate`` it asks the model
for the comparator decision at that instant and drives the comparator pin after the modelled delay. It
re-implements nothing of the model: channel voltages, settling, noise, hysteresis and θ all come from it.

:meth:`FpaaBfm.attach` builds the whole analog side on a scorer DUT: the calibrated model of the config and the
DAC monitor of the configured part (AD5628 SPI pins or the parallel DAC bus), feeding the model.
"""
from __future__ import annotations

import cocotb
import numpy as np
from cocotb.handle import HierarchyObject
from cocotb.triggers import RisingEdge, Timer

from atis.analog_models import FpaaModel
from atis.analog_models.scoring import scorer_model
from atis.config import AtisConfig
from atis.golden.projection import ProjectionSpec, resolve_projection
from atis.golden.sequencer import SequencerSpec, resolve_sequencer

from .dac import Ad5628Bus, Ad5628Monitor, DacMonitor, ParallelDacBus, ParallelDacMonitor
from .simtime import Elapsed

__all__ = ["FpaaBfm"]


class FpaaBfm:
    """Pins: ``round_signal`` (which OTA input group follows the DAC), ``evaluate`` (in), ``comparator`` (out: the
    consensus keep, or with ``per_circuit`` one bit per head-group circuit for the FPGA's k-of-G vote).

    ``decisions``/``scores`` hold, per evaluation in order, the keep bit and analog score the model produced;
    ``ages_ns`` the time each OTA input had settled since its last update (what the vectorized model assumes).
    ``glitch`` (a numpy Generator, optional): after each decision the pin also toggles randomly at −2, −1, 0 and
    +1 ns around the capture's sampling edge (``sample_after_ns`` after evaluate), then returns to the decision.
    """

    def __init__(self, model: FpaaModel, *, round_signal, evaluate, comparator, n_dac: int, code_shift: int,
                 per_circuit: bool = False, sample_after_ns: float | None = None,
                 glitch: np.random.Generator | None = None, constant: bool | None = None,
                 elapsed: Elapsed | None = None):
        self.model, self.pins = model, model.pins()
        self.elapsed = elapsed or Elapsed()     # the DAC monitor's time base: pass the same one
        self.round_signal, self.evaluate, self.comparator = round_signal, evaluate, comparator
        self.n_dac, self.code_shift, self.m = n_dac, code_shift, model.m
        self.sample_after_ns, self.glitch = sample_after_ns, glitch
        self.constant = constant           # a constant comparator (overhead measurement): no model at all
        self.per_circuit = per_circuit     # one pin per circuit (bit g = circuit g fired); else the consensus pin
        self.width = len(comparator) if per_circuit else 1
        self.decisions: list[bool] = []
        self.scores: list[float] = []
        self.ages_ns: list[np.ndarray] = []
        self.protocol_errors: list[str] = []
        self._written = np.full(self.m, -np.inf)
        self.dac: DacMonitor | None = None  # the DAC monitor feeding on_dac_update (set by attach)
        # A SAR readout (issue 18, bfm/sar.py) takes the θ channel's updates and drives the pin on its own
        # decide strobes; evaluate then only holds the score (held_score).
        self.theta_channel: int | None = None
        self.on_theta = None
        self.drive_on_evaluate = True
        self.held_score = 0.0
        comparator.value = 0
        cocotb.start_soon(self._watch_evaluate())

    @classmethod
    def attach(cls, dut: HierarchyObject, cfg: AtisConfig, *, elapsed: Elapsed, spec: ProjectionSpec | None = None,
               seq: SequencerSpec | None = None, glitch: np.random.Generator | None = None,
               constant: bool | None = None) -> FpaaBfm:
        """The FPAA BFM (the calibrated model of ``cfg``) on the DUT's scorer pins (``o_round``, ``o_evaluate``,
        ``comparator``), fed by the monitor of the sequencer's DAC part, which it keeps in ``.dac``:
        :class:`Ad5628Monitor` on ``dac_sync_n``/``dac_sclk``/``dac_din`` for ``ad5628``, else
        :class:`ParallelDacMonitor` on ``dac_channel``/``dac_code``/``dac_strobe``/``dac_update``. A DUT without
        the part's pins fails here, naming the missing one."""
        spec = spec if spec is not None else resolve_projection(cfg)
        seq = seq if seq is not None else resolve_sequencer(cfg)
        fpaa = cls(scorer_model(cfg, spec, seq), round_signal=dut.o_round, evaluate=dut.o_evaluate,
                   comparator=dut.comparator, n_dac=seq.n_dac, code_shift=seq.part_bits - seq.dac_bits,
                   per_circuit=seq.comparators > 1, sample_after_ns=(seq.wait_cycles + 1) * seq.clock_ns,
                   glitch=glitch, constant=constant, elapsed=elapsed)
        if seq.part == "ad5628":
            fpaa.dac = Ad5628Monitor(Ad5628Bus.from_prefix(dut, "dac"), on_update=fpaa.on_dac_update,
                                     elapsed=elapsed)
        else:
            fpaa.dac = ParallelDacMonitor(ParallelDacBus.from_prefix(dut, "dac"), dut.clk, channels=seq.n_dac,
                                          on_update=fpaa.on_dac_update, elapsed=elapsed)
        return fpaa

    def _advance_to(self, t_ns: float) -> None:
        self.pins.advance(t_ns - self.pins.now_ns)

    def on_dac_update(self, changes: dict[int, int], t_ns: float) -> None:
        """DAC monitor callback: the outputs of ``changes`` channels now carry these (part-width) codes."""
        if self.constant is not None:
            return
        group = int(self.round_signal.value)
        self._advance_to(t_ns)
        for channel, data in changes.items():
            if channel == self.theta_channel:
                self.on_theta(data, t_ns)
                continue
            j = group * self.n_dac + channel
            if channel >= self.n_dac or j >= self.m:
                continue                    # an unused DAC channel, or a short last round: no OTA input wired
            if data & ((1 << self.code_shift) - 1):
                self.protocol_errors.append(f"DAC data {data:#x} has bits below the {self.code_shift}-bit shift")
            self.pins.apply(j, data >> self.code_shift)
            self._written[j] = t_ns

    async def _watch_evaluate(self) -> None:
        while True:
            await RisingEdge(self.evaluate)
            t = self.elapsed.ns()
            if self.constant is not None:
                keep, level = self.constant, (1 << self.width) - 1 if self.constant else 0
            else:
                self._advance_to(t)
                result = self.pins.evaluate()
                keep = bool(result.keep[0])
                fired = result.fired[0]
                level = sum(int(f) << g for g, f in enumerate(fired)) if self.per_circuit else int(keep)
                self.scores.append(float(result.score[0]))
                self.held_score = float(result.score[0])
                self.ages_ns.append(t - self._written)
            self.decisions.append(keep)
            if self.drive_on_evaluate:
                cocotb.start_soon(self._drive(level, t))

    async def _drive(self, level: int, t_eval: float) -> None:
        await Timer(self.model.cfg.fpaa.comparator.delay_ns, "ns")
        self.comparator.value = level
        if self.glitch is None or self.sample_after_ns is None:
            return
        edge = t_eval + self.sample_after_ns
        now = self.elapsed.ns()
        for offset in (-2.0, -1.0, 0.0, 1.0):
            at = edge + offset
            if at > now:
                await Timer(at - now, "ns")
                now = at
            self.comparator.value = int(self.glitch.integers(0, 1 << self.width))
        await Timer(2.0, "ns")
        self.comparator.value = level
