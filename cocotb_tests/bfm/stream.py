"""BFMs for ``amaranth.lib.stream`` ports: StreamSource (driver), StreamSink (backpressure), StreamMonitor (passive).

Timing discipline (simulator independent): right after a rising edge each BFM decides the transfer that edge made
from values it sampled in the previous ``ReadOnly`` phase, drives its outputs for the new cycle, then samples the
settled handshake in this cycle's ``ReadOnly`` phase. So ``ready`` may depend on ``valid`` combinationally.

The sink and monitor also check the stream rules: once ``valid`` is up it stays up, with the payload unchanged,
until the transfer. Violations are logged and kept in ``protocol_errors`` for the bench to assert on.

While nothing can happen the BFMs sleep on value changes instead of waking every clock (a source waiting for
``ready``, an observer of an idle bus, a monitor of a stalled transfer): benches with long idle stretches, like
the scorer waiting on SPI, would otherwise spend their time in per-cycle Python callbacks. A sleeping sink keeps
its last ``ready``.
"""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator

import cocotb
from amaranth.hdl import Shape
from amaranth.lib import data
from cocotb.triggers import Event, FallingEdge, First, ReadOnly, RisingEdge

__all__ = ["StreamBus", "PayloadCodec", "StreamSource", "StreamSink", "StreamMonitor"]


class StreamBus:
    """The three signals of one stream port, bound by the Amaranth port prefix (``<prefix>__valid`` ...)."""
    _signals = ("valid", "ready", "payload")

    def __init__(self, dut, prefix: str):
        self.prefix = prefix
        for name in self._signals:
            full = f"{prefix}__{name}"
            try:
                setattr(self, name, getattr(dut, full))
            except AttributeError:
                raise AttributeError(f"stream port {prefix!r}: DUT has no signal {full!r}") from None

    @classmethod
    def from_prefix(cls, dut, prefix: str) -> "StreamBus":
        return cls(dut, prefix)


class PayloadCodec:
    """Packs dicts into the flat payload vector of an Amaranth ``data.StructLayout`` and back (signed fields
    sign-extended), so benches use the RTL's own layout and cannot drift from it."""

    def __init__(self, layout: data.StructLayout):
        self.layout = layout
        self._fields = [(name, f.offset, f.width, Shape.cast(f.shape).signed) for name, f in layout]

    def pack(self, item: dict[str, int]) -> int:
        word = 0
        for name, offset, width, _ in self._fields:
            word |= (int(item.get(name, 0)) & ((1 << width) - 1)) << offset
        return word

    def unpack(self, word: int) -> dict[str, int]:
        item = {}
        for name, offset, width, signed in self._fields:
            value = (word >> offset) & ((1 << width) - 1)
            if signed and value >> (width - 1):
                value -= 1 << width
            item[name] = value
        return item


class _StreamBfm:
    """Shared state: bus, clock, optional reset, queue, idle/active events, pause generator, logger."""

    def __init__(self, bus: StreamBus, clock, reset=None, *, layout: data.StructLayout):
        self.bus, self.clock, self.reset = bus, clock, reset
        self.codec = PayloadCodec(layout)
        self.log = logging.getLogger(f"cocotb.{bus.valid._path.split('.')[0]}.{bus.prefix}")
        self.queue: deque[dict[str, int]] = deque()
        self.idle_event, self.active_event = Event(), Event()
        self.idle_event.set()
        self.protocol_errors: list[str] = []
        self.transfers = 0
        self._pause: Iterator[int] | None = None
        self._task = cocotb.start_soon(self._run())

    def set_pause_generator(self, generator: Iterator[int] | None) -> None:
        self._pause = generator

    def _paused(self) -> bool:
        return bool(next(self._pause)) if self._pause is not None else False

    def _in_reset(self) -> bool:
        return self.reset is not None and self.reset.value == 1

    def count(self) -> int:
        return len(self.queue)

    def empty(self) -> bool:
        return not self.queue

    def _read_payload(self) -> int:
        value = self.bus.payload.value
        if not value.is_resolvable:
            self._violation(f"payload is {value} during a transfer")
            return 0
        return value.to_unsigned()

    def _violation(self, what: str) -> None:
        msg = f"{self.bus.prefix}: {what}"
        self.log.error("stream protocol violation: %s", msg)
        self.protocol_errors.append(msg)

    async def _run(self) -> None:
        raise NotImplementedError


class StreamSource(_StreamBfm):
    """Drives ``valid``/``payload`` from its queue; a pause (1) delays the *start* of the next item only."""

    def __init__(self, bus: StreamBus, clock, reset=None, *, layout: data.StructLayout):
        self._busy = False   # an item is on the bus, not yet transferred
        super().__init__(bus, clock, reset, layout=layout)

    async def send(self, item: dict[str, int]) -> None:
        self.send_nowait(item)

    def send_nowait(self, item: dict[str, int]) -> None:
        self.queue.append(item)
        self.idle_event.clear()
        self.active_event.set()

    def idle(self) -> bool:
        return self.empty() and not self._busy

    async def wait(self) -> None:
        while not self.idle():
            await self.idle_event.wait()

    async def _run(self) -> None:
        ready = False
        self.bus.valid.value = 0
        while True:
            await RisingEdge(self.clock)
            if self._busy and ready and not self._in_reset():
                self._busy = False
                self.transfers += 1
            if not self._busy and self.queue and not self._paused():
                self.bus.payload.value = self.codec.pack(self.queue.popleft())
                self._busy = True
            self.bus.valid.value = int(self._busy)
            if not self._busy and not self.queue:
                self.active_event.clear()
                self.idle_event.set()
                await self.active_event.wait()      # sleep until something is queued
                continue
            await ReadOnly()
            ready = self.bus.ready.value == 1
            while self._busy and not ready and not self._in_reset():
                await RisingEdge(self.bus.ready)    # sleep until the sink can take the item
                await ReadOnly()
                ready = self.bus.ready.value == 1


class _Observer(_StreamBfm):
    """Samples transfers and checks the stream rules; subclasses decide whether they drive ``ready``."""

    def recv_nowait(self) -> dict[str, int]:
        if not self.queue:
            raise IndexError(f"{self.bus.prefix}: no item received")
        item = self.queue.popleft()
        if not self.queue:
            self.active_event.clear()
        return item

    async def recv(self) -> dict[str, int]:
        while not self.queue:
            self.active_event.clear()
            await self.active_event.wait()
        return self.recv_nowait()

    def _drive_ready(self) -> None:
        """Called right after each edge (and on waking); the sink sets ``ready`` here."""

    def _may_sleep_while_stalled(self) -> bool:
        """Whether a valid-but-not-ready bus can be left alone until it changes (not if we drive ``ready``)."""
        return False

    def _observe(self, held: int | None) -> tuple[int | None, object | None]:
        """Judge this cycle (in ReadOnly); returns the payload still held and what to sleep on, if anything."""
        if self._in_reset():
            return None, None
        valid = self.bus.valid.value
        if not valid.is_resolvable:
            self._violation(f"valid is {valid}")
            return None, None
        if held is not None and valid != 1:
            self._violation("valid dropped before the transfer")
        if valid != 1:
            return None, RisingEdge(self.bus.valid)
        word = self._read_payload()
        if held is not None and word != held:
            self._violation(f"payload changed from {held:#x} to {word:#x} before the transfer")
        if self.bus.ready.value == 1:
            self.queue.append(self.codec.unpack(word))
            self.transfers += 1
            self.active_event.set()
            return None, None
        if self._may_sleep_while_stalled():
            return word, First(RisingEdge(self.bus.ready), FallingEdge(self.bus.valid),
                               self.bus.payload.value_change)
        return word, None

    async def _run(self) -> None:
        held: int | None = None   # payload of a valid not yet transferred
        while True:
            await RisingEdge(self.clock)
            self._drive_ready()
            await ReadOnly()
            held, wake = self._observe(held)
            while wake is not None:
                await wake
                self._drive_ready()
                await ReadOnly()
                held, wake = self._observe(held)


class StreamSink(_Observer):
    """Consumes transfers into its queue; a pause (1) holds ``ready`` low that cycle (backpressure)."""

    def __init__(self, bus: StreamBus, clock, reset=None, *, layout: data.StructLayout):
        super().__init__(bus, clock, reset, layout=layout)
        self.bus.ready.value = 0

    def _drive_ready(self) -> None:
        self.bus.ready.value = int(not self._paused())


class StreamMonitor(_Observer):
    """Passive: records every transfer it sees and checks the stream rules; drives nothing."""

    def _may_sleep_while_stalled(self) -> bool:
        return True
