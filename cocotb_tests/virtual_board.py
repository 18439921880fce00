"""The virtual board: the pipeline board top (``TransformerTop`` around ``ScoredTransformer``, the Verilog of the
bitstream without PLL and I/O buffers) under Verilator, with its UART at bit level bridged to a TCP socket, and the
FPAA BFM (behind the AD5628 pin monitor) answering the comparator pin. A host connects with pyserial's
``socket://127.0.0.1:PORT`` and runs :mod:`atis.host` unchanged. Launched by :mod:`atis.virtual_board`.

Environment, besides :class:`atis.cocotb_tests.harness.BenchEnv`'s ``ATIS_BENCH_CONFIG``/``ATIS_BENCH_METRICS``:
``ATIS_VBOARD_PORT`` (TCP port, 0 = any free one), ``ATIS_VBOARD_PORT_FILE`` (where the bound port is written
once the board listens), ``ATIS_VBOARD_DIVISOR`` (the top's UART divisor), ``ATIS_VBOARD_ONCE`` (1: end after the
first host disconnects). The clock is the config's, rounded up to whole picoseconds
(:func:`atis.cocotb_tests.harness.sim_clock_ns`).

The host's bytes go onto ``uart_rx`` back to back at the simulated baud, as a USB-UART bridge sends them; nothing
throttles them, so a host that overruns the board is seen as it would be on the hardware (``led_error``).
"""
from __future__ import annotations

import os
import select
import socket
from pathlib import Path

import cocotb
from cocotb.handle import HierarchyObject
from cocotb.triggers import RisingEdge, Timer

from atis.cocotb_tests.bfm.fpaa import FpaaBfm
from atis.cocotb_tests.bfm.uart import UartFramingError, UartSink, UartSource
from atis.cocotb_tests.harness import BenchEnv, TbBase

__all__ = ["VirtualBoard"]

#: With ``ATIS_VBOARD_ONCE``: end when no host connects for this long.
ACCEPT_TIMEOUT_S = 300


class VirtualBoard(TbBase):
    """Clock, reset, the UART pair on ``uart_rx``/``uart_tx`` and the FPAA BFM on the DAC/comparator pins."""

    def __init__(self, dut: HierarchyObject):
        env = BenchEnv.from_env()
        self.divisor = int(os.environ["ATIS_VBOARD_DIVISOR"])
        super().__init__(dut, env, clock_ns=env.design.sequencer.clock_ns)
        clock_ns = self.clock_ns
        self.fpaa = FpaaBfm.attach(dut, self.cfg, elapsed=self.elapsed, spec=env.design.projection,
                                   seq=env.design.sequencer)
        self.to_board = UartSource(dut.uart_rx, bit_cycles=self.divisor, clock_ns=clock_ns)
        self.from_board = UartSink(dut.uart_tx, bit_cycles=self.divisor, clock_ns=clock_ns)
        self.bytes_in = self.bytes_out = 0
        self.error_after_bytes: int | None = None     # bytes_in when led_error rose
        cocotb.start_soon(self._watch_error())

    async def _watch_error(self) -> None:
        await RisingEdge(self.dut.led_error)
        self.error_after_bytes = self.bytes_in
        self.log.warning(f"led_error after {self.bytes_in} host bytes: the UART overran or a frame was malformed")

    async def answer_to(self, conn: socket.socket) -> None:
        """Every byte the board sends, to the host, as it arrives."""
        while True:
            try:
                byte = await self.from_board.recv()
            except UartFramingError as e:
                self.log.error(str(e))
                continue
            self.bytes_out += 1
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                return

    async def serve(self, conn: socket.socket) -> None:
        """Bridge one host connection until it closes: poll the socket every two byte times of simulated time."""
        conn.setblocking(False)
        poll = 20 * self.divisor
        sender = cocotb.start_soon(self.answer_to(conn))
        try:
            while True:
                ready, _, _ = select.select([conn], [], [], 0)
                if ready:
                    try:
                        data = conn.recv(65536)
                    except BlockingIOError:
                        data = None
                    except ConnectionResetError:
                        data = b""
                    if data == b"":          # the host closed the port
                        return
                    if data:
                        self.bytes_in += len(data)
                        self.to_board.send_nowait(data)
                await Timer(poll * self.clock_ns, "ns")
        finally:
            sender.cancel()


def _listen() -> socket.socket:
    server = socket.create_server(("127.0.0.1", int(os.environ.get("ATIS_VBOARD_PORT", "0"))))
    port_file = os.environ.get("ATIS_VBOARD_PORT_FILE")
    if port_file:
        tmp = Path(port_file).with_suffix(".tmp")
        tmp.write_text(str(server.getsockname()[1]))
        tmp.replace(port_file)               # the launcher never reads a half-written port
    return server


@cocotb.test()
async def virtual_board(dut: HierarchyObject) -> None:
    board = VirtualBoard(dut)
    await board.reset()
    server = _listen()
    once = os.environ.get("ATIS_VBOARD_ONCE") == "1"
    try:
        while True:
            server.settimeout(ACCEPT_TIMEOUT_S if once else None)
            try:
                conn, _ = server.accept()     # the simulation waits, frozen in time, for a host
            except TimeoutError:
                break
            with conn:
                await board.serve(conn)
            if once:
                break
    finally:
        server.close()
    board.record_metric("virtual_board", {
        "bytes_in": board.bytes_in, "bytes_out": board.bytes_out, "tokens_scored": len(board.fpaa.decisions),
        "decisions": [int(k) for k in board.fpaa.decisions], "led_error": int(dut.led_error.value),
        "led_error_after_bytes_in": board.error_after_bytes,
        "protocol_errors": [*board.fpaa.protocol_errors, *board.fpaa.dac.protocol_errors,
                            *board.from_board.protocol_errors][:20]})
    assert not board.fpaa.dac.protocol_errors, board.fpaa.dac.protocol_errors[:3]
    assert not board.fpaa.protocol_errors, board.fpaa.protocol_errors[:3]
