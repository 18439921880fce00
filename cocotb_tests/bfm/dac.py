"""DAC-side BFMs: an AD5628 SPI monitor (decodes and checks frames, models the part's registers) and a parallel
DAC bus monitor, both passive and on one base (:class:`DacMonitor`). Each output update is reported as a
:class:`DacUpdate` ``({channel: code}, t_ns)``, time on the ``elapsed`` clock they are given (share it with the
FPAA BFM): to the ``on_update`` callback when one is given (synchronously, at the update's instant: the FPAA BFM
reads the OTA group select then), otherwise into the queue (``recv()``/``recv_nowait()``/``count()``/``empty()``).
Protocol and timing problems are logged and kept in ``protocol_errors``; a bench asserts that list is empty.

AD5628 facts: ``docs/reference/ad5628-spi.md`` (frames) and ``docs/reference/ad5628-timing.md`` (timing minima,
the table in ``atis.golden.ad5628``). Decoding and checks are written from the data sheet, not from the RTL.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import First, ReadOnly, RisingEdge

from atis.golden.ad5628 import AD5628_TIMING

from .ad5628_decode import PinDecoder
from .ad5628_recorder import SYMBOLS, FrameRecord, RecorderReader
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
    """The AD5628's three SPI pins: ``<prefix>_sync_n``, ``<prefix>_sclk``, ``<prefix>_din``, and the bench
    wrapper's pin recorder ``<prefix>_recorder`` when there is one (:mod:`.ad5628_recorder`)."""
    _signals = ("sync_n", "sclk", "din")
    _optional_signals = ("recorder",)
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
    """Decodes and checks the AD5628's SPI frames: a frame starts at SYNC's falling edge, DIN is taken at each
    falling SCLK edge (MSB first) and the 32nd edge executes the command. Protocol checks: SYNC may not rise
    before 32 bits (an aborted frame), no 33rd SCLK edge, resolvable DIN, the internal reference enabled before
    the first write.

    Timing checks, on every frame in simulated time, against the data sheet's minima (``atis.golden.ad5628``, the
    one table; ``docs/reference/ad5628-timing.md``): t1 SCLK period, t2/t3 SCLK high/low, t4 SYNC falling to the
    first SCLK fall, t5/t6 DIN setup/hold around every sampled fall, t7 32nd fall to SYNC rising, t8 SYNC high,
    t9 SYNC rising to the next SCLK fall, t10 the last SCLK fall to SYNC falling. Each frame reports, per broken
    parameter, its shortest time, at the SYNC rise that ends the frame:
    ``"t4 (SYNC to SCLK falling edge setup time): 10 ns measured, minimum 13 ns"``.

    Two paths, one set of checks (:meth:`_end_frame`): with the bench wrapper's pin recorder on the bus
    (``<prefix>_recorder``, :mod:`.ad5628_recorder`) the monitor wakes once per frame (twice for a frame that
    updates DAC outputs, executed at its 32nd edge) and reads the frame from it; the pin-level
    :class:`~.ad5628_decode.PinDecoder` then runs on the first ``SHADOW_FIRST`` frames and on ``SHADOW_WINDOW``
    frames every ``shadow_every``, and any difference between the two (word, bit count, a time one measured and
    the other did not or measured otherwise) is a protocol error. Without a recorder, or with
    ``path="pins"``, the pin-level decoder does all the work. Defaults from the environment:
    ``ATIS_BENCH_AD5628`` (``pins`` forces the pin-level path) and ``ATIS_BENCH_AD5628_SHADOW`` (``shadow_every``;
    1 compares every frame)."""

    SHADOW_FIRST = 8
    SHADOW_WINDOW = 2
    SHADOW_EVERY = 256

    def __init__(self, bus: Ad5628Bus, *, on_update: UpdateCallback | None = None, elapsed: Elapsed | None = None,
                 path: str | None = None, shadow_every: int | None = None):
        super().__init__(bus, None, name="ad5628", channels=8, on_update=on_update, elapsed=elapsed)
        self.sync_n, self.sclk, self.din = bus.sync_n, bus.sclk, bus.din
        path = path or os.environ.get("ATIS_BENCH_AD5628", "auto")
        if path not in ("auto", "pins"):
            raise ValueError(f"AD5628 monitor path {path!r}: expected auto or pins")
        self.shadow_every = shadow_every or int(os.environ.get("ATIS_BENCH_AD5628_SHADOW", self.SHADOW_EVERY))
        self.recorder = (RecorderReader(bus.recorder, self.elapsed.steps_to_ns)
                         if bus.recorder is not None and path == "auto" else None)
        self.reference_on = False
        self.frames = 0               # commands executed
        self.frames_ended = 0         # SYNC rises that ended a frame
        self.frames_compared = 0      # frames the pin-level decoder checked the recorder on
        self._pin_bits = 0
        self._decoder = PinDecoder(self.sync_n, self.sclk, self.din, self.elapsed, on_word=self._execute,
                                   on_frame=self._end_frame, on_error=self._error, on_bit=self._count_bit)
        self._shadow = PinDecoder(self.sync_n, self.sclk, self.din, self.elapsed, on_word=self._compare_word,
                                  on_frame=self._compare_frame, on_error=self._error)
        self._shadow_left = 0
        self._shadow_fresh = False    # the shadow decoder's first frame after starting at a SYNC rise
        # The recorder lives in the model, across the cocotb tests of one simulation: a frame in flight when this
        # monitor starts (a test that ended mid-frame) is not this monitor's, and neither are the bits before it.
        # (At time 0 nothing ran yet, and the model's pins are not yet evaluated.)
        self._stale = self.recorder is not None and get_sim_time("step") > 0 and str(self.sync_n.value) == "0"
        self._bits_before = self.recorder.total_bits() if self.recorder is not None else 0
        self._start()

    @property
    def bits_clocked(self) -> int:
        """Falling SCLK edges inside SYNC-low windows so far."""
        return self.recorder.total_bits() - self._bits_before if self.recorder is not None else self._pin_bits

    def _count_bit(self) -> None:
        self._pin_bits += 1

    def _check(self, symbol: str, measured_ns: float) -> None:
        minimum = AD5628_TIMING[symbol]
        if measured_ns < minimum.ns - 1e-6:
            self._error(f"{symbol} ({minimum.what}): {measured_ns:.4g} ns measured, minimum {minimum.ns:g} ns")

    def _end_frame(self, record: FrameRecord) -> None:
        """Every check of one ended frame (either path)."""
        self.frames_ended += 1
        for symbol in SYMBOLS:
            if symbol in record.shortest_ns:
                self._check(symbol, record.shortest_ns[symbol])
        if record.bits < 32:
            self._error(f"SYNC rose after {record.bits} bits: frame aborted")
        elif record.bits > 32:
            self._error(f"more than 32 SCLK edges in one SYNC frame ({record.bits})")

    async def _run(self) -> None:
        if self.recorder is None:
            self._decoder.start()
            return
        # shadow_every = 1: the decoder runs alongside the recorder for the whole run
        self._start_shadow(self.SHADOW_FIRST if self.shadow_every > 1 else 1 << 62, at_sync_rise=False)
        cocotb.start_soon(self._watch_words())
        while True:
            await self.recorder.ends.value_change
            if self._stale:
                self._stale = False
                continue
            record = self.recorder.record()
            if record.bits >= 32 and not record.early:
                self._execute(record.word)        # writes no DAC output: its instant does not matter
            self._end_frame(record)
            if not self._shadow.running and self.frames_ended % self.shadow_every == 0:
                self._start_shadow(self.SHADOW_WINDOW, at_sync_rise=True)

    async def _watch_words(self) -> None:
        while True:
            await self.recorder.execs.value_change
            if not self._stale:
                self._execute(self.recorder.word())

    # -- the pin-level decoder checking the recorder --------------------------------------------------------
    def _start_shadow(self, frames: int, at_sync_rise: bool) -> None:
        if frames > 0:
            self._shadow_left = frames
            self._shadow_fresh = at_sync_rise
            self._shadow.start(at_sync_rise)

    def _disagree(self, what: str) -> None:
        self._error(f"pin recorder and pin-level decoder disagree on frame {self.frames_ended}: {what}")

    def _compare_word(self, word: int) -> None:
        if self.recorder.word() != word:
            self._disagree(f"word {self.recorder.word():#010x} recorded, {word:#010x} decoded")

    def _compare_frame(self, pins: FrameRecord) -> None:
        """At the SYNC rise that ends a frame, the recorder holds the same frame (the simulator settles before
        any callback). A decoder started mid-run has not seen what came before it, so it may measure less; what
        both measured must agree, and the recorder must have measured all the decoder did."""
        rec = self.recorder.record()
        self.frames_compared += 1
        if rec.bits != pins.bits or (pins.bits >= 32 and rec.word != pins.word):
            self._disagree(f"{rec.bits} bits / word {rec.word:#010x} recorded, {pins.bits} / {pins.word:#010x} "
                           f"decoded")
        # Started at a SYNC rise, the decoder's first frame lacks the previous frame's last SCLK fall, from
        # which the recorder also measures t3 (SCLK low) and t6 (DIN hold): it may have the shorter one.
        across = ("t3", "t6") if self._shadow_fresh else ()
        self._shadow_fresh = False
        for symbol, took in pins.shortest_ns.items():
            got = rec.shortest_ns.get(symbol)
            if got is None or (got > took + 1e-6 if symbol in across else abs(got - took) > 1e-6):
                self._disagree(f"{symbol} {got} ns recorded, {took} ns decoded")
        self._shadow_left -= 1
        if self._shadow_left <= 0:
            self._shadow.stop()

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
