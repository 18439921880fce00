"""What every BFM shares (cocotbext-axi style): a bus bound by prefix, a queue, idle/active events, a logger, reset.

A BFM binds its signals through a :class:`Bus` subclass (``_signals`` and ``_optional_signals``), so a renamed
port fails loudly in one place. :class:`BfmBase` holds ``bus``, ``clock``, ``reset``, the item queue with
``count()``/``empty()``/``clear()``, ``idle_event``/``active_event``, ``protocol_errors`` and a logger named
``cocotb.<dut>.<bus>``; :meth:`BfmBase._start` launches the background ``_run()`` and, when a reset signal is
given, a watcher that calls ``_handle_reset(True)`` when reset is asserted and ``_handle_reset(False)`` when it is
released. :class:`SourceBfm` adds ``send``/``send_nowait``/``idle()``/``wait()``; :class:`ReceiverBfm` adds
``recv``/``recv_nowait``.
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Any

import cocotb
from cocotb.handle import HierarchyObject
from cocotb.task import Task
from cocotb.triggers import Event, FallingEdge, RisingEdge

__all__ = ["Bus", "BfmBase", "SourceBfm", "ReceiverBfm", "read_bits", "read_bit"]


def read_bits(handle) -> str:
    """A signal's value as cocotb's VPI string of 0/1 (x, z, ... where unresolvable), MSB first. BFMs read a
    payload or a strobe on every transfer; this skips building a ``LogicArray`` of ``Logic`` objects per read,
    which cost more than the read itself (cocotb 2.1's handle keeps the simulator object in ``_handle``)."""
    raw = getattr(handle, "_handle", None)
    return raw.get_signal_val_binstr() if raw is not None else str(handle.value)


def read_bit(handle) -> bool:
    """A 1-bit signal is 1 (an unresolvable value is not)."""
    return read_bits(handle) == "1"


class Bus:
    """Signals of one interface, bound by name: ``<prefix><_separator><signal>`` (the bare name without prefix).

    Subclasses list ``_signals`` (must exist) and ``_optional_signals`` (``None`` when absent)."""
    _signals: tuple[str, ...] = ()
    _optional_signals: tuple[str, ...] = ()
    _separator = "_"
    _kind = "port"

    def __init__(self, dut: HierarchyObject, prefix: str | None = None):
        self.dut_name: str = dut._name
        self.prefix = prefix
        for name in (*self._signals, *self._optional_signals):
            full = f"{prefix}{self._separator}{name}" if prefix else name
            try:
                handle = getattr(dut, full)
            except AttributeError:
                if name in self._optional_signals:
                    handle = None
                else:
                    raise AttributeError(f"{self._kind} {prefix!r}: DUT has no signal {full!r}") from None
            setattr(self, name, handle)

    @classmethod
    def from_prefix(cls, dut: HierarchyObject, prefix: str | None) -> Bus:
        return cls(dut, prefix)

    @property
    def name(self) -> str:
        return self.prefix or type(self).__name__


class BfmBase:
    """Bus, clock, optional reset (active high unless ``reset_active_level=0``), queue, events, logger.

    Subclasses implement ``async _run()`` and call :meth:`_start` at the end of their ``__init__``. The default
    ``_handle_reset(True)`` empties the queue; subclasses extend it (a driver also stops and idles its outputs).
    Protocol problems go through :meth:`_error`, which logs them and keeps them in ``protocol_errors`` for the
    bench to assert on (a violation fails the bench)."""

    def __init__(self, bus: Bus | None, clock=None, reset=None, *, name: str | None = None,
                 dut_name: str | None = None, reset_active_level: int = 1):
        self.bus, self.clock, self.reset = bus, clock, reset
        dut_name = dut_name or (bus.dut_name if bus is not None else "dut")
        self.name = name or (bus.name if bus is not None else type(self).__name__)
        self.log = logging.getLogger(f"cocotb.{dut_name}.{self.name}")
        self.queue: deque[Any] = deque()
        self.idle_event, self.active_event = Event(), Event()
        self.idle_event.set()
        self.protocol_errors: list[str] = []
        self._reset_level = int(reset_active_level)
        self._task: Task | None = None

    # -- queue ----------------------------------------------------------------------------------------------
    def count(self) -> int:
        return len(self.queue)

    def empty(self) -> bool:
        return not self.queue

    def clear(self) -> None:
        self.queue.clear()
        self.active_event.clear()

    # -- errors ---------------------------------------------------------------------------------------------
    def _error(self, what: str) -> None:
        self.log.error("protocol violation: %s", what)
        self.protocol_errors.append(what)

    # -- background task and reset --------------------------------------------------------------------------
    def _start(self) -> None:
        self._task = cocotb.start_soon(self._run())
        if self.reset is not None:
            cocotb.start_soon(self._watch_reset())

    def _in_reset(self) -> bool:
        return self.reset is not None and read_bits(self.reset) == "01"[self._reset_level]

    async def _watch_reset(self) -> None:
        assert_edge, release_edge = (RisingEdge, FallingEdge) if self._reset_level else (FallingEdge, RisingEdge)
        while True:
            if self._in_reset():
                self.log.debug("reset asserted")
                self._handle_reset(True)
                await release_edge(self.reset)
                self.log.debug("reset released")
                self._handle_reset(False)
            else:
                await assert_edge(self.reset)

    def _handle_reset(self, active: bool) -> None:
        if active:
            self.clear()

    def _stop_task(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    def _restart_task(self) -> None:
        if self._task is None:
            self._task = cocotb.start_soon(self._run())

    async def _run(self) -> None:
        raise NotImplementedError


class SourceBfm(BfmBase):
    """A driver: items queued by ``send``/``send_nowait`` leave through ``_run()``, which sets ``_busy`` while an
    item is on the bus. On reset the driver stops, forgets its queue and the item in flight, idles its outputs
    (``_drive_idle``) and restarts when reset is released."""

    def __init__(self, bus: Bus | None, clock=None, reset=None, **kwargs):
        self._busy = False
        super().__init__(bus, clock, reset, **kwargs)

    async def send(self, item: Any) -> None:
        self.send_nowait(item)

    def send_nowait(self, item: Any) -> None:
        self.queue.append(item)
        self.idle_event.clear()
        self.active_event.set()

    def idle(self) -> bool:
        return self.empty() and not self._busy

    async def wait(self) -> None:
        while not self.idle():
            await self.idle_event.wait()

    async def _wait_for_work(self) -> None:
        """Sleep until something is queued (setting the idle event meanwhile); returns at once if it is."""
        if not self.queue:
            self.active_event.clear()
            self.idle_event.set()
            await self.active_event.wait()

    def _drive_idle(self) -> None:
        """Put the outputs in their idle state (reset, start)."""

    def _handle_reset(self, active: bool) -> None:
        if active:
            self._stop_task()
            if self._busy or self.queue:
                self.log.warning("reset: dropped %d queued item(s)%s", len(self.queue),
                                 " and the one on the bus" if self._busy else "")
            self._busy = False
            self.clear()
            self._drive_idle()
            self.idle_event.set()
        else:
            self._restart_task()


class ReceiverBfm(BfmBase):
    """A sink or monitor: ``_put`` queues what the bus delivered; ``recv`` waits for it, ``recv_nowait`` takes it
    or raises ``IndexError``; ``recv_many(n)`` waits for ``n`` items at once (one wake-up, not ``n``). An item that
    is an exception (a framing error, say) is raised by ``recv`` in its turn instead of returned."""

    _wanted = 0          # items a recv_many waits for: the event is set only once that many are queued

    def _put(self, item: Any) -> None:
        self.queue.append(item)
        if len(self.queue) >= self._wanted:
            self.active_event.set()

    async def recv_many(self, count: int) -> list[Any]:
        """The next ``count`` items, in order."""
        self._wanted = count
        try:
            while len(self.queue) < count:
                self.active_event.clear()
                await self.active_event.wait()
        finally:
            self._wanted = 0
        return [self.recv_nowait() for _ in range(count)]

    def recv_nowait(self) -> Any:
        if not self.queue:
            raise IndexError(f"{self.name}: no item received")
        item = self.queue.popleft()
        if not self.queue:
            self.active_event.clear()
        if isinstance(item, BaseException):
            raise item
        return item

    async def recv(self) -> Any:
        while not self.queue:
            self.active_event.clear()
            await self.active_event.wait()
        return self.recv_nowait()
