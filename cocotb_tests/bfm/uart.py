"""UART BFMs, 8N1 (a start bit of 0, 8 data bits LSB first, a stop bit of 1; the line idles high).

:class:`UartSource` drives a line; :class:`UartSink` receives from one, sampling each bit at its middle, timed from
the start bit's falling edge. Both are event-driven: they sleep on the line's falling edge and on ``Timer``\\ s of
whole bit times (in simulator steps, so no rounding accumulates), never on every clock edge, so a UART at a
fraction of the clock rate costs a few Python wake-ups per bit. The bit period is given in ns (``bit_ns``) or as
clock cycles per bit (``bit_cycles`` with the bench's ``clock_ns``: the RTL's ``divisor``).

A stop bit read as 0 is a framing error: the sink logs it, keeps it in ``protocol_errors`` (a bench asserts that
list is empty) and queues a :class:`UartFramingError` in the byte's place, which ``recv()`` raises in its turn.
A start bit that is high again at its middle is a glitch and ignored (``false_starts`` counts them), as the
RTL receiver (:class:`atis.hdl.uart.UartRx`) does. With a ``reset`` signal, an asserted reset makes the source
return the line to idle and forget its queue, and the sink forget what it was receiving.
"""
from __future__ import annotations

from collections.abc import Iterable

from cocotb.simtime import convert, get_sim_time
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer

from .base import ReceiverBfm, SourceBfm

__all__ = ["UartFramingError", "UartSource", "UartSink"]


class UartFramingError(Exception):
    """A frame whose stop bit was 0: ``byte`` holds its data bits, ``t_ns`` the time the stop bit was sampled."""

    def __init__(self, byte: int, t_ns: float):
        super().__init__(f"UART framing error: stop bit of byte {byte:#04x} read 0 at {t_ns} ns")
        self.byte, self.t_ns = byte, t_ns


def _bit_ns(bit_ns: float | None, bit_cycles: int | None, clock_ns: float | None) -> float:
    if (bit_ns is None) == (bit_cycles is None):
        raise ValueError("give the UART bit period as bit_ns or as bit_cycles (with clock_ns), not both")
    if bit_cycles is not None:
        if clock_ns is None or clock_ns <= 0:
            raise ValueError(f"bit_cycles = {bit_cycles} needs the clock period clock_ns, not {clock_ns!r}")
        bit_ns = bit_cycles * clock_ns
    if bit_ns <= 0:
        raise ValueError(f"UART bit period must be positive, not {bit_ns!r} ns")
    return float(bit_ns)


class _UartTiming:
    """The bit period in ns and in whole simulator steps (needs a running simulator)."""

    def _init_timing(self, bit_ns: float | None, bit_cycles: int | None, clock_ns: float | None) -> None:
        self.bit_ns = _bit_ns(bit_ns, bit_cycles, clock_ns)
        self._bit = convert(self.bit_ns, "ns", to="step", round_mode="round")
        if self._bit < 2:
            raise ValueError(f"UART bit period {self.bit_ns} ns is under two simulator steps")


def _names(line) -> dict[str, str]:
    return {"dut_name": line._path.split(".")[0], "name": f"uart.{line._name}"}


class UartSource(_UartTiming, SourceBfm):
    """Drives ``line`` with 8N1 frames of the bytes queued by ``send``/``send_nowait``, back to back.

    ``stop_bits`` (1, 1.5 or 2) stretches the stop bit, i.e. the idle time between frames. ``stop_bit=0`` on a send
    corrupts the stop bit of those frames (then the line idles high for one bit before the next frame), for tests
    of framing-error handling."""

    def __init__(self, line, *, bit_ns: float | None = None, bit_cycles: int | None = None,
                 clock_ns: float | None = None, stop_bits: float = 1, reset=None):
        if stop_bits not in (1, 1.5, 2):
            raise ValueError(f"stop_bits must be 1, 1.5 or 2, not {stop_bits!r}")
        super().__init__(None, None, reset, **_names(line))
        self.line = line
        self._init_timing(bit_ns, bit_cycles, clock_ns)
        self._extra_stop = round((stop_bits - 1) * self._bit)
        self.frames = 0
        self.line.value = 1
        self._start()

    async def send(self, data: bytes | Iterable[int], *, stop_bit: int = 1) -> None:
        self.send_nowait(data, stop_bit=stop_bit)

    def send_nowait(self, data: bytes | Iterable[int], *, stop_bit: int = 1) -> None:
        if isinstance(data, int):
            raise TypeError("send takes bytes (or an iterable of ints 0..255), not an int")
        for byte in bytes(data):
            super().send_nowait((byte, int(stop_bit)))

    def _drive_idle(self) -> None:
        self.line.value = 1

    async def _run(self) -> None:
        self.line.value = 1
        while True:
            await self._wait_for_work()
            byte, stop = self.queue.popleft()
            self._busy = True
            for level in (0, *((byte >> i) & 1 for i in range(8)), stop):
                self.line.value = level
                await Timer(self._bit, "step")
            self.line.value = 1
            idle = self._extra_stop if stop else self._bit    # a corrupted frame: one idle bit to resynchronize
            if idle:
                await Timer(idle, "step")
            self.frames += 1
            self._busy = False


class UartSink(_UartTiming, ReceiverBfm):
    """Receives 8N1 frames from ``line``: ``recv()`` gives the next byte (an int) or raises the next
    :class:`UartFramingError`; ``count()``/``empty()`` tell what is queued."""

    def __init__(self, line, *, bit_ns: float | None = None, bit_cycles: int | None = None,
                 clock_ns: float | None = None, reset=None):
        super().__init__(None, None, reset, **_names(line))
        self.line = line
        self._init_timing(bit_ns, bit_cycles, clock_ns)
        self._half = self._bit // 2
        self.frames = self.false_starts = 0
        self._start()

    def recv_nowait(self) -> int:
        return super().recv_nowait()

    async def recv(self) -> int:
        return await super().recv()

    async def recv_bytes(self, count: int) -> bytes:
        """The next ``count`` bytes (raises at a framing error among them)."""
        return bytes([await self.recv() for _ in range(count)])

    def _handle_reset(self, active: bool) -> None:
        if active:
            self._stop_task()
            self.clear()
        else:
            self._restart_task()

    async def _sample(self, steps: int) -> int:
        await Timer(steps, "step")
        await ReadOnly()
        value = self.line.value
        if not value.is_resolvable:
            self._error(f"line is {value} at a sampling point")
            return 1
        return int(value)

    async def _run(self) -> None:
        while True:
            if self.line.value != 1:
                await RisingEdge(self.line)          # a break (or reset): wait for the idle level first
            await FallingEdge(self.line)
            if await self._sample(self._half):
                self.false_starts += 1
                self.log.warning("start bit high again at its middle: a glitch, ignored")
                continue
            byte = 0
            for i in range(8):
                byte |= await self._sample(self._bit) << i
            stop = await self._sample(self._bit)
            self.frames += 1
            if stop:
                self._put(byte)
            else:
                error = UartFramingError(byte, get_sim_time("ns"))
                self._error(str(error))
                self._put(error)
