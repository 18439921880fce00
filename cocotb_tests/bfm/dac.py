"""DAC-side BFMs: an AD5628 SPI monitor (decodes and checks frames, models the part's registers) and a parallel
DAC bus monitor, both passive and on one base (:class:`DacMonitor`). Each output update is reported as a
:class:`DacUpdate` ``({channel: code}, t_ns)``, time on the ``elapsed`` clock they are given (share it with the
FPAA BFM): to the ``on_update`` callback when one is given (synchronously, at the update's instant: the FPAA BFM
reads the OTA group select then), otherwise into the queue (``recv()``/``recv_nowait()``/``count()``/``empty()``).
Protocol and timing problems are logged and kept in ``protocol_errors``; a bench asserts that list is empty.

AD5628 facts: ``../shared/reference/ad5628-spi.md``. Decoding is written from the data sheet, not from the RTL.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cocotb
from cocotb.triggers import FallingEdge, First, ReadOnly, RisingEdge

from .base import Bus, ReceiverBfm
from .simtime import Elapsed

__all__ = ["DacUpdate", "DacMonitor", "Ad5628Bus", "Ad5628Monitor", "ParallelDacBus", "ParallelDacMonitor"]

UpdateCallback = Callable[[dict[int, int], float], None]


@dataclass(frozen=True)
class DacUpdate:
    """DAC outputs that changed at ``t_ns``: channel -> the part-width code now on that output."""
    codes: dict[int, int]
    t_ns: float


class Ad5628Bus(Bus):
    """The AD5628's three SPI pins: ``<prefix>_sync_n``, ``<prefix>_sclk``, ``<prefix>_din``."""
    _signals = ("sync_n", "sclk", "din")
    _kind = "AD5628 SPI port"


class ParallelDacBus(Bus):
    """A parallel DAC bus: ``<prefix>_channel``, ``<prefix>_code``, ``<prefix>_strobe``, ``<prefix>_update``."""
    _signals = ("channel", "code", "strobe", "update")
    _kind = "parallel DAC port"


class DacMonitor(ReceiverBfm):
    """Input and DAC registers of a multi-channel DAC, updates to ``on_update`` or the queue."""

    def __init__(self, bus: Bus, clock, *, name: str, channels: int, on_update: UpdateCallback | None,
                 elapsed: Elapsed | None):
        self.elapsed = elapsed or Elapsed()
        super().__init__(bus, clock, None, name=name)
        self.channels = channels
        self.input_regs = [0] * channels
        self.dac_regs = [0] * channels
        self.on_update = on_update
        self.writes = self.updates = 0

    def recv_nowait(self) -> DacUpdate:
        return super().recv_nowait()

    async def recv(self) -> DacUpdate:
        return await super().recv()

    def _update(self, channels: list[int]) -> None:
        changes = {}
        for ch in channels:
            self.dac_regs[ch] = self.input_regs[ch]
            changes[ch] = self.dac_regs[ch]
        self.updates += 1
        if self.on_update is not None:
            self.on_update(changes, self.elapsed.ns())
        else:
            self._put(DacUpdate(changes, self.elapsed.ns()))


class Ad5628Monitor(DacMonitor):
    """Watches ``sync_n``/``sclk``/``din``: a frame starts at SYNC's falling edge, DIN is taken at each falling
    SCLK edge (MSB first) and the 32nd edge executes the command. Checks: SYNC may not rise before 32 bits (an
    aborted frame), no 33rd SCLK edge, SCLK period and SYNC high time above the part's minima, resolvable DIN,
    the internal reference enabled before the first write."""

    MIN_SCLK_NS = 20.0        # 50 MHz
    MIN_SYNC_HIGH_NS = 15.0

    def __init__(self, bus: Ad5628Bus, *, on_update: UpdateCallback | None = None, elapsed: Elapsed | None = None):
        super().__init__(bus, None, name="ad5628", channels=8, on_update=on_update, elapsed=elapsed)
        self.sync_n, self.sclk, self.din = bus.sync_n, bus.sclk, bus.din
        self.reference_on = False
        self.bits_clocked = 0
        self.frames = 0
        self._bits: list[int] | None = None
        self._last_fall: float | None = None
        self._sync_rose: float | None = None
        self._start()

    async def _run(self) -> None:
        cocotb.start_soon(self._watch_sclk())
        await self._watch_sync()

    async def _watch_sync(self) -> None:
        while True:
            await FallingEdge(self.sync_n)
            now = self.elapsed.ns()
            if self._sync_rose is not None and now - self._sync_rose < self.MIN_SYNC_HIGH_NS:
                self._error(f"SYNC high for {now - self._sync_rose} ns (< {self.MIN_SYNC_HIGH_NS})")
            self._bits, self._last_fall = [], None
            await RisingEdge(self.sync_n)
            self._sync_rose = self.elapsed.ns()
            if self._bits is not None and len(self._bits) < 32:
                self._error(f"SYNC rose after {len(self._bits)} bits: frame aborted")
            self._bits = None

    async def _watch_sclk(self) -> None:
        while True:
            await FallingEdge(self.sclk)
            if self._bits is None:
                continue                      # SCLK while SYNC is high: the part ignores it
            now = self.elapsed.ns()
            if self._last_fall is not None and now - self._last_fall < self.MIN_SCLK_NS:
                self._error(f"SCLK period {now - self._last_fall} ns (< {self.MIN_SCLK_NS})")
            self._last_fall = now
            await ReadOnly()
            value = self.din.value
            if not value.is_resolvable:
                self._error(f"DIN is {value} at a falling SCLK edge")
            self._bits.append(int(value) if value.is_resolvable else 0)
            self.bits_clocked += 1
            if len(self._bits) == 32:
                self._execute(int("".join(map(str, self._bits)), 2))
            elif len(self._bits) > 32:
                self._error("more than 32 SCLK edges in one SYNC frame")

    def _execute(self, word: int) -> None:
        self.frames += 1
        command, address, data = (word >> 24) & 0xF, (word >> 20) & 0xF, (word >> 8) & 0xFFF
        targets = list(range(8)) if address == 0xF else [address] if address < 8 else []
        if command == 0b1000:
            self.reference_on = bool(word & 1)
            return
        if command in (0b0000, 0b0010, 0b0011):
            if not self.reference_on:
                self._error(f"write (command {command:04b}) before the internal reference was enabled")
            if not targets:
                self._error(f"address {address:04b} is no DAC channel")
            for ch in targets:
                self.input_regs[ch] = data
            self.writes += 1
        if command == 0b0010:
            self._update(list(range(8)))
        elif command in (0b0001, 0b0011):
            self._update(targets)
        elif command not in (0b0000, 0b0010):
            self._error(f"command {command:04b} not expected from the sequencer")


class ParallelDacMonitor(DacMonitor):
    """``strobe`` writes ``code`` into input register ``channel``; ``update`` copies all inputs to the outputs."""

    def __init__(self, bus: ParallelDacBus, clock, *, channels: int, on_update: UpdateCallback | None = None,
                 elapsed: Elapsed | None = None):
        super().__init__(bus, clock, name="parallel_dac", channels=channels, on_update=on_update, elapsed=elapsed)
        self.channel, self.code, self.strobe, self.update = bus.channel, bus.code, bus.strobe, bus.update
        self._start()

    async def _run(self) -> None:
        while True:
            await First(RisingEdge(self.strobe), RisingEdge(self.update))     # sleep while the bus is idle
            await ReadOnly()
            while self.strobe.value == 1 or self.update.value == 1:
                if self.strobe.value == 1:
                    ch = int(self.channel.value)
                    if ch >= self.channels:
                        self._error(f"strobe to channel {ch} of {self.channels}")
                    else:
                        self.input_regs[ch] = int(self.code.value)
                        self.writes += 1
                if self.update.value == 1:
                    self._update(list(range(self.channels)))
                await RisingEdge(self.clock)
                await ReadOnly()
