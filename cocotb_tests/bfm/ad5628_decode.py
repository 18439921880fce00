"""The AD5628 pin-level decoder: follows ``sync_n``/``sclk``/``din`` edge by edge in Python and measures every
data-sheet timing parameter (``atis.golden.ad5628``, ``docs/reference/ad5628-timing.md``).

It is the reference for :mod:`.ad5628_recorder` (the in-simulator recorder measures with the same rules) and the
:class:`~.dac.Ad5628Monitor`'s decoder for a DUT without a recorder. What it measures, per frame (from one SYNC
rise to the next): t1 between sampled SCLK falls, t2 from the last SCLK rise to a sampled fall, t3 from a sampled
fall to the next rise, t4 from SYNC falling to the frame's first fall, t5 from the last DIN change to a sampled
fall, t6 from a sampled fall to the next DIN change, t7 from the last sampled fall to SYNC rising, t8 SYNC high,
t9 from SYNC rising to the next SCLK fall, t10 from the last SCLK fall to SYNC falling. SCLK falls while SYNC is
high are not sampled (the part ignores them), but count for t9 and t10.
"""
from __future__ import annotations

from collections.abc import Callable

import cocotb
from cocotb.task import Task
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from .ad5628_recorder import FrameRecord
from .simtime import Elapsed

__all__ = ["PinDecoder"]


class PinDecoder:
    """Decodes the pins from :meth:`start` until :meth:`stop`. Calls ``on_word(word)`` at each frame's 32nd
    sampled fall (the command executes), ``on_frame(record)`` at each SYNC rise that ends a frame (a
    :class:`FrameRecord`), ``on_error(message)`` for an unresolvable DIN and ``on_bit()`` per sampled fall.

    ``at_sync_rise``: start as if SYNC had just risen (a decoder started mid-run, at a frame's end); what it has
    not seen (the last SCLK edges, the last DIN change) it does not measure until it has."""

    def __init__(self, sync_n, sclk, din, elapsed: Elapsed, *, on_word: Callable[[int], None],
                 on_frame: Callable[[FrameRecord], None], on_error: Callable[[str], None],
                 on_bit: Callable[[], None] | None = None):
        self.sync_n, self.sclk, self.din, self.elapsed = sync_n, sclk, din, elapsed
        self._on_word, self._on_frame, self._on_error, self._on_bit = on_word, on_frame, on_error, on_bit
        self._tasks: list[Task] = []

    def start(self, at_sync_rise: bool = False) -> None:
        self._bits: int | None = None             # sampled falls of the frame; None while SYNC is high
        self._word = 0                            # the last 32 sampled DIN bits
        self._frame_word = 0                      # the word at this frame's 32nd sampled fall
        self._shortest: dict[str, float] = {}     # this frame's shortest time per parameter
        self._sync_fell: float | None = None      # this frame's start
        self._sync_rose = self.elapsed.ns() if at_sync_rise else None
        self._t9_open = at_sync_rise              # SYNC rose, no SCLK fall since
        self._last_fall: float | None = None      # any SCLK fall (t10)
        self._sampled: float | None = None        # this frame's last sampled fall (t1, t7)
        self._low_since: float | None = None      # a sampled fall SCLK has not risen from yet (t3)
        self._hold_from: float | None = None      # a sampled fall DIN has not changed since (t6)
        self._last_rise: float | None = None
        self._din_changed: float | None = None
        self._tasks = [cocotb.start_soon(w()) for w in (self._watch_sclk_rise, self._watch_din, self._watch_sclk,
                                                        self._watch_sync)]

    def stop(self) -> None:
        """Stop watching (also from inside ``on_frame``: the running watcher then ends by itself)."""
        for task in self._tasks:
            try:
                task.cancel()
            except RuntimeError:
                pass                          # the task calling us: it returns when its callback does
        self._tasks = []

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def _measure(self, symbol: str, took_ns: float) -> None:
        if took_ns < self._shortest.get(symbol, float("inf")):
            self._shortest[symbol] = took_ns

    async def _watch_sync(self) -> None:
        while True:
            await FallingEdge(self.sync_n)
            now = self.elapsed.ns()
            if self._sync_rose is not None:
                self._measure("t8", now - self._sync_rose)
            if self._last_fall is not None:
                self._measure("t10", now - self._last_fall)
            self._bits, self._sync_fell, self._sampled = 0, now, None
            await RisingEdge(self.sync_n)
            # End the frame once the time step has settled: edges of the same step count in it (the recorder's
            # order), and a recorder behind pins the bench drives has seen the rise too.
            await ReadOnly()
            now = self._sync_rose = self.elapsed.ns()
            self._t9_open = True
            if self._sampled is not None:
                self._measure("t7", now - self._sampled)
            record = FrameRecord(bits=self._bits, word=self._frame_word if self._bits >= 32 else self._word,
                                 shortest_ns=self._shortest)
            self._bits, self._shortest = None, {}
            self._on_frame(record)
            if not self._tasks:
                return                        # stopped by on_frame

    async def _watch_sclk_rise(self) -> None:
        while True:
            await RisingEdge(self.sclk)
            now = self._last_rise = self.elapsed.ns()
            if self._low_since is not None:
                self._measure("t3", now - self._low_since)
                self._low_since = None

    async def _watch_din(self) -> None:
        while True:
            await self.din.value_change
            now = self._din_changed = self.elapsed.ns()
            if self._hold_from is not None:
                self._measure("t6", now - self._hold_from)
                self._hold_from = None

    async def _watch_sclk(self) -> None:
        while True:
            await FallingEdge(self.sclk)
            now = self._last_fall = self.elapsed.ns()
            if self._t9_open:
                self._measure("t9", now - self._sync_rose)
                self._t9_open = False
            if self._bits is None:
                continue                      # SCLK while SYNC is high: the part ignores it
            if self._sampled is None:
                self._measure("t4", now - self._sync_fell)
            else:
                self._measure("t1", now - self._sampled)
            if self._last_rise is not None:
                self._measure("t2", now - self._last_rise)
            self._sampled = self._low_since = self._hold_from = now
            await ReadOnly()                  # every change of this time step is in: DIN's too
            if self._din_changed is not None:
                self._measure("t5", now - self._din_changed)
            value = self.din.value
            if not value.is_resolvable:
                self._on_error(f"DIN is {value} at a falling SCLK edge")
            self._word = ((self._word << 1) | (int(value) if value.is_resolvable else 0)) & 0xFFFF_FFFF
            self._bits += 1
            if self._on_bit is not None:
                self._on_bit()
            if self._bits == 32:
                self._frame_word = self._word
                self._on_word(self._word)
