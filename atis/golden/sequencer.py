"""The scorer's timing contract: DAC write schedule, settle and capture waits, in clock cycles (DESIGN.md §3).

One spec, resolved from the config, parameterizes the RTL (``hdl.dac_sequencer``, ``hdl.comparator_capture``) and
tells the vectorized FPAA model how long each OTA input has settled when the comparator is evaluated, so that the
co-simulated keep mask and the vectorized one can be compared bit for bit.

Schedule of one token (m inputs, ``n_dac`` physical channels, R = ⌈m / n_dac⌉ rounds): input j is written to DAC
channel ``j mod n_dac`` in round ``j div n_dac``; the round's last write also updates all DAC outputs at once
(AD5628 command 0010, or the parallel port's ``update``), and OTA input group r follows the outputs of round r.
``settle_cycles`` after the last round's update, ``evaluate`` pulses; the comparator is sampled
``wait_cycles + 2`` cycles later through a 2-flop synchronizer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import AtisConfig
from .ad5628 import Ad5628Schedule, ad5628_schedule
from .readout import ReadoutSpec, resolve_readout
from .selection import SelectionSpec, resolve_selection

__all__ = ["SequencerSpec", "resolve_sequencer", "AD5628_DATA_BITS", "ad5628_word", "AD5628_CMD"]

AD5628_DATA_BITS = 12
#: Command nibbles used by the sequencer (data sheet "Command definitions").
AD5628_CMD = {"write_input": 0b0000, "write_input_update_all": 0b0010, "internal_reference": 0b1000}


def ad5628_word(command: int, address: int, data: int) -> int:
    """32-bit frame: 4 don't-care, C3..C0, A3..A0, D11..D0, 8 don't-care (MSB first on the wire)."""
    return ((command & 0xF) << 24) | ((address & 0xF) << 20) | ((data & 0xFFF) << 8)


@dataclass(frozen=True)
class SequencerSpec:
    m: int
    n_dac: int
    dac_bits: int
    part: str                 # "ad5628" | "parallel"
    part_bits: int            # codes are left-aligned into this many bits
    sclk_divider: int
    settle_cycles: int        # last update -> evaluate
    wait_cycles: int          # evaluate -> comparator sampled, before the synchronizer's 2 cycles
    clock_ns: float
    comparators: int = 1      # comparator pins: one per replicated head group (seed §5.2)
    consensus_k: int = 1      # keep if at least k of them fire
    readout: ReadoutSpec | None = None        # a multi-bit readout (sar); None: the comparator's keep bit
    selection: SelectionSpec | None = None    # a per-sequence selection of the codes; None: the keep bit as is

    @property
    def rounds(self) -> int:
        return -(-self.m // self.n_dac)

    def round_sizes(self) -> list[int]:
        return [min(self.n_dac, self.m - r * self.n_dac) for r in range(self.rounds)]

    @property
    def spi_frame(self) -> Ad5628Schedule:
        """The AD5628 port's frame at this clock: SYNC setup, 32 SCLK periods, SYNC high (``atis.golden.ad5628``)."""
        return ad5628_schedule(self.clock_ns, self.sclk_divider)

    @property
    def write_cycles(self) -> int:
        """Cycles one DAC write occupies the port: an AD5628 frame (33·divider when half an SCLK period covers
        the part's SYNC setup, as at every shipped config), or one parallel write (plus one update cycle per
        round, counted in :meth:`token_cycles`)."""
        return self.spi_frame.frame_cycles if self.part == "ad5628" else 1

    def token_cycles(self) -> int:
        """Cycles per token with an always-ready output, when SPI (not settle/evaluate) is the bottleneck. With a
        SAR readout (its θ writes share the AD5628's bus) at least the conversion: settle, then b steps of θ settle,
        decision wait and 3 cycles; a lower bound there when the conversion, not the port, limits the rate
        (:meth:`token_cycles_max` is the upper one)."""
        updates = self.rounds if self.part == "parallel" else 0
        r = self.readout
        theta = r.theta_writes_per_token if r is not None and r.theta_channel is not None else 0
        ports = (self.m + theta) * self.write_cycles + updates
        if r is None:
            return ports
        return max(ports, self.settle_cycles + r.bits * (r.settle_cycles + r.wait_cycles + 3))

    def token_cycles_max(self) -> int:
        """An upper bound of the cycles per token in every regime; :meth:`token_cycles` itself without a
        readout. A SAR readout holds the next token's update while it converts, and the RTL overlaps the
        conversion with that token's frames only where the port is free: the rate lies between the port's and the
        one with every frame, settle and conversion step in series, which this returns (plus 4 cycles of
        handshakes per token). For what must never outrun the scorer: the host link's baud rate."""
        r = self.readout
        if r is None:
            return self.token_cycles()
        updates = self.rounds if self.part == "parallel" else 0
        serial = self.m * self.write_cycles + updates + self.settle_cycles + r.bits * r.step_cycles(self.write_cycles)
        return max(self.token_cycles(), serial + 4)

    def update_offsets(self) -> np.ndarray:
        """Cycles from the update of round r to the last round's update (0 for the last round)."""
        sizes = self.round_sizes()
        extra = 1 if self.part == "parallel" else 0
        after = [sum(n * self.write_cycles + extra for n in sizes[r + 1:]) for r in range(self.rounds)]
        return np.array(after, dtype=np.int64)

    def write_ages_ns(self) -> np.ndarray:
        """Per OTA input: time from the DAC update that set it to the comparator evaluation (ns)."""
        per_round = (self.update_offsets() + self.settle_cycles) * self.clock_ns
        return np.repeat(per_round, self.round_sizes()).astype(np.float64)


def resolve_sequencer(cfg: AtisConfig) -> SequencerSpec:
    clock_ns = 1e3 / cfg.fpga.clock_MHz
    dac = cfg.dac
    part_bits = dac.part_bits or (AD5628_DATA_BITS if dac.part == "ad5628" else cfg.projection.dac_bits)
    readout = resolve_readout(cfg)
    sar = readout.sar
    multibit = {"readout": readout if sar else None,
                "selection": resolve_selection(cfg) if sar or cfg.fpga.selection.mode != "threshold" else None}
    reserved = 1 if readout.theta_channel is not None else 0      # the AD5628's last channel drives θ
    return SequencerSpec(
        m=cfg.projection.m, n_dac=min(dac.n_channels - reserved, cfg.projection.m), dac_bits=cfg.projection.dac_bits,
        part=dac.part, part_bits=part_bits, sclk_divider=dac.sclk_divider,
        settle_cycles=max(2, math.ceil(dac.settle_ns / clock_ns - 1e-9)),
        wait_cycles=max(1, math.ceil(cfg.fpga.compare_wait_ns / clock_ns - 1e-9)),
        clock_ns=clock_ns, **_comparator_pins(cfg), **multibit)


def _comparator_pins(cfg: AtisConfig) -> dict:
    """Replicated head groups bring one comparator each to the FPGA, which takes the k-of-G vote; a time-
    multiplexed array votes inside the FPAA and brings one pin."""
    heads = cfg.fpaa.heads
    if heads.multiplex == "replicated":
        return {"comparators": heads.groups, "consensus_k": heads.consensus_k}
    return {"comparators": 1, "consensus_k": 1}
