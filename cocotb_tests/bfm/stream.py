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

Reset (the ``reset`` signal, active high): while it is asserted the source drops ``valid``, forgets its queue and
the item in flight and restarts on release; the sink and monitor record nothing and empty their queues (the
sink keeps driving its ``ready`` pattern, which a DUT in reset ignores).

Payloads are coded by :class:`PayloadCodec` from the RTL's own ``amaranth.lib.data`` layout, nested arrays and
structs included, so benches pass and receive plain dicts/lists of ints and never pack bits by hand.
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from amaranth.hdl import Shape
from amaranth.lib import data
from cocotb.triggers import FallingEdge, First, ReadOnly, RisingEdge

from .base import Bus, ReceiverBfm, SourceBfm, read_bit, read_bits

__all__ = ["StreamBus", "PayloadCodec", "StreamSource", "StreamSink", "StreamMonitor"]

class StreamBus(Bus):
    """The three signals of one stream port, bound by the Amaranth port prefix (``<prefix>__valid`` ...)."""
    _signals = ("valid", "ready", "payload")
    _separator = "__"
    _kind = "stream port"


class _Leaf:
    """A plain (un)signed field: ``width`` bits at ``offset``, two's complement when signed."""

    def __init__(self, shape, offset: int):
        shape = Shape.cast(shape)
        self.offset, self.width, self.signed = offset, shape.width, shape.signed
        self.mask = (1 << self.width) - 1

    def encode(self, value: Any) -> int:
        return (operator.index(value) & self.mask) << self.offset

    def decode(self, word: int) -> int:
        value = (word >> self.offset) & self.mask
        if self.signed and value >> (self.width - 1):
            value -= 1 << self.width
        return value


class _Raw(_Leaf):
    """An aggregate's bits as one unsigned number (an int given for a struct or array field)."""

    def __init__(self, width: int, offset: int):
        self.offset, self.width, self.signed = offset, width, False
        self.mask = (1 << width) - 1


class _Struct:
    def __init__(self, layout: data.StructLayout, offset: int, path: str):
        self.raw = _Raw(layout.size, offset)
        self.fields = {name: _node(f.shape, offset + f.offset, f"{path}.{name}" if path else name)
                       for name, f in layout}
        self.path = path or "payload"

    def encode(self, value: Any) -> int:
        if not isinstance(value, Mapping):
            return self.raw.encode(value)
        unknown = set(value) - set(self.fields)
        if unknown:
            raise ValueError(f"{self.path}: no field(s) {sorted(unknown)} in the layout "
                             f"(fields: {list(self.fields)})")
        return sum(node.encode(value.get(name, 0)) for name, node in self.fields.items())

    def decode(self, word: int) -> dict[str, Any]:
        return {name: node.decode(word) for name, node in self.fields.items()}


class _Array:
    def __init__(self, layout: data.ArrayLayout, offset: int, path: str):
        self.raw = _Raw(layout.size, offset)
        self.elems = [_node(f.shape, offset + f.offset, f"{path}[{i}]") for i, f in layout]
        self.path = path or "payload"

    def encode(self, value: Any) -> int:
        if not hasattr(value, "__len__"):
            return self.raw.encode(value)
        if len(value) != len(self.elems):
            raise ValueError(f"{self.path}: {len(value)} values for an array of {len(self.elems)}")
        return sum(node.encode(v) for node, v in zip(self.elems, value))

    def decode(self, word: int) -> list[Any]:
        return [node.decode(word) for node in self.elems]


def _node(shape, offset: int, path: str = ""):
    if isinstance(shape, data.ArrayLayout):
        return _Array(shape, offset, path)
    if isinstance(shape, data.StructLayout):
        return _Struct(shape, offset, path)
    if isinstance(shape, data.Layout):
        raise TypeError(f"{path or 'payload'}: {type(shape).__name__} is not supported (overlapping fields "
                        f"have no single encoding); use StructLayout/ArrayLayout")
    return _Leaf(shape, offset)


class PayloadCodec:
    """Encodes values into the flat payload vector of an Amaranth layout and decodes them back, recursively:
    a ``StructLayout`` is a dict (missing fields encode as 0, unknown ones raise ``ValueError``), an
    ``ArrayLayout`` a list (or any sequence of the array's length, e.g. a numpy row), every other shape an int
    (signed fields two's complement, sign-extended on decode). An int given for a struct or array is taken as its
    raw bits. Benches thereby use the RTL's own layout and cannot drift from it."""

    def __init__(self, layout):
        self.layout = layout
        self.width = Shape.cast(layout).width
        self._root = _node(layout, 0)

    def encode(self, value: Any) -> int:
        return self._root.encode(value)

    def decode(self, word: int) -> Any:
        return self._root.decode(word)


class _StreamMixin:
    """Codec, transfer count, pause generator and payload read shared by the stream BFMs."""
    bus: StreamBus
    _pause: Iterator[int] | None = None

    def _init_stream(self, layout: data.Layout) -> None:
        self.codec = PayloadCodec(layout)
        self.transfers = 0

    def set_pause_generator(self, generator: Iterator[int] | None) -> None:
        self._pause = generator

    def _paused(self) -> bool:
        return bool(next(self._pause)) if self._pause is not None else False

    def _read_payload(self) -> int:
        bits = read_bits(self.bus.payload)
        try:
            return int(bits, 2)
        except ValueError:
            self._violation(f"payload is {bits} during a transfer")
            return 0

    def _violation(self, what: str) -> None:
        self._error(f"{self.bus.prefix}: {what}")


class StreamSource(_StreamMixin, SourceBfm):
    """Drives ``valid``/``payload`` from its queue; a pause (1) delays the *start* of the next item only."""

    def __init__(self, bus: StreamBus, clock, reset=None, *, layout: data.Layout):
        super().__init__(bus, clock, reset)
        self._init_stream(layout)
        self._followers: list[StreamMonitor] = []   # monitors observing this bus at our sampling points
        self._start()

    def _sample(self) -> bool:
        """In ReadOnly: let the followers observe this cycle; is ``ready`` up?"""
        for follower in self._followers:
            follower._follow()
        return read_bit(self.bus.ready)

    def _drive_idle(self) -> None:
        self.bus.valid.value = self._valid = 0

    def _drive_valid(self) -> None:
        if self._valid != self._busy:               # a write only when it changes: a VPI write costs a callback
            self.bus.valid.value = self._valid = int(self._busy)

    async def _run(self) -> None:
        ready = False
        self._drive_idle()
        await self._wait_for_work()                 # (re)started with nothing queued: sleep until something is
        while True:
            await RisingEdge(self.clock)
            if self._busy and ready and not self._in_reset():
                self._busy = False
                self.transfers += 1
            if not self._busy and self.queue and not self._paused():
                self.bus.payload.value = self.codec.encode(self.queue.popleft())
                self._busy = True
            self._drive_valid()
            if not self._busy and not self.queue:
                await self._wait_for_work()         # sleep until something is queued
                continue
            await ReadOnly()
            ready = self._sample()
            while self._busy and not ready and not self._in_reset():
                await RisingEdge(self.bus.ready)    # sleep until the sink can take the item
                await ReadOnly()
                ready = self._sample()


class _Observer(_StreamMixin, ReceiverBfm):
    """Samples transfers and checks the stream rules; subclasses decide whether they drive ``ready``."""

    def __init__(self, bus: StreamBus, clock, reset=None, *, layout: data.Layout):
        super().__init__(bus, clock, reset)
        self._init_stream(layout)
        #: with ``stamp_with`` set (a function of no arguments, e.g. the current clock cycle), ``stamps`` gets its
        #: value at every transfer, in the order of the items
        self.stamp_with: Callable[[], Any] | None = None
        self.stamps: list[Any] = []

    def _drive_ready(self) -> None:
        """Called right after each edge (and on waking); the sink sets ``ready`` here."""

    def _may_sleep_while_stalled(self) -> bool:
        """Whether a valid-but-not-ready bus can be left alone until it changes (not if we drive ``ready``)."""
        return False

    def _observe(self, held: int | None) -> tuple[int | None, object | None]:
        """Judge this cycle (in ReadOnly); returns the payload still held and what to sleep on, if anything.
        In reset nothing is held or recorded (so a reset also forgets a pending transfer)."""
        if self._in_reset():
            return None, None
        valid = read_bits(self.bus.valid)
        if valid not in ("0", "1"):
            self._violation(f"valid is {valid}")
            return None, None
        if held is not None and valid != "1":
            self._violation("valid dropped before the transfer")
        if valid != "1":
            return None, RisingEdge(self.bus.valid)
        word = self._read_payload()
        if held is not None and word != held:
            self._violation(f"payload changed from {held:#x} to {word:#x} before the transfer")
        if read_bit(self.bus.ready):
            if self.stamp_with is not None:
                self.stamps.append(self.stamp_with())
            self._put(self.codec.decode(word))
            self.transfers += 1
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

    def __init__(self, bus: StreamBus, clock, reset=None, *, layout: data.Layout):
        super().__init__(bus, clock, reset, layout=layout)
        self._start()
        self.bus.ready.value = self._ready = 0

    def _drive_ready(self) -> None:
        ready = int(not self._paused())
        if ready != self._ready:                    # a write only when it changes
            self.bus.ready.value = self._ready = ready


class StreamMonitor(_Observer):
    """Passive: records every transfer it sees and checks the stream rules; drives nothing.

    ``follow``: the :class:`StreamSource` that drives this bus. The monitor then observes in that source's
    ``ReadOnly`` wake-ups instead of its own, with the same reads and checks: the source is awake in every cycle
    its bus can transfer or change (it sleeps only while ``valid`` is low or while it waits for ``ready`` to rise,
    and wakes to observe that rise), so nothing is missed, and each transfer costs two Python wake-ups fewer."""

    def __init__(self, bus: StreamBus, clock, reset=None, *, layout: data.Layout, follow: StreamSource | None = None):
        super().__init__(bus, clock, reset, layout=layout)
        self._held: int | None = None
        self._following = follow is not None
        if follow is not None:
            if follow.bus.prefix != bus.prefix:
                raise ValueError(f"a monitor of {bus.prefix!r} cannot follow the source of {follow.bus.prefix!r}")
            follow._followers.append(self)
        self._start()

    def _follow(self) -> None:
        self._held, _ = self._observe(self._held)

    async def _run(self) -> None:
        if not self._following:
            await super()._run()

    def _may_sleep_while_stalled(self) -> bool:
        return True
