"""Amaranth-simulator checks of the 8N1 UART: loopback under backpressure, bit timing, framing and overrun."""
from __future__ import annotations

from amaranth.hdl import Module
from amaranth.sim import Simulator
from simhelpers import stream_put

from atis.hdl.uart import UartRx, UartTx

DIV = 8


def test_loopback_bytes_in_order_with_exact_bit_time(rng):
    m = Module()
    m.submodules.tx = tx = UartTx(DIV)
    m.submodules.rx = rx = UartRx(DIV)
    m.d.comb += rx.rx.eq(tx.tx)
    data = [0x00, 0xFF, 0x55, 0xAA, *rng.integers(0, 256, 20).tolist()]
    got, edges, errors, line_trace = [], [], [], []

    async def source(ctx):
        for byte in data:
            await stream_put(ctx, tx.i_data, byte)

    async def sink(ctx):
        cycle, prev = 0, 1
        while len(got) < len(data):
            ctx.set(rx.o_data.ready, cycle % 3 == 0)
            _, _, valid, ready, payload, line = await ctx.tick().sample(rx.o_data.valid, rx.o_data.ready,
                                                                        rx.o_data.payload, tx.tx)
            if valid and ready:
                got.append(int(payload))
            line_trace.append(line)
            if line != prev:
                edges.append((cycle, line))
            prev, cycle = line, cycle + 1
        errors.extend([ctx.get(rx.framing_error), ctx.get(rx.overrun)])

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    sim.run()
    assert got == data and errors == [0, 0]
    runs = [(b[0] - a[0], a[1]) for a, b in zip(edges, edges[1:])]          # (length, level) of each run
    assert all(length % DIV == 0 for length, level in runs if level == 0)   # low only inside frames: bit grid
    assert min(length for length, _ in runs) >= DIV                        # no bit (stop bit included) is short
    # Back-to-back bytes: frame k starts exactly 10·DIV·k after frame 0 (start bit low, previous stop bit high).
    start = edges[0][0]
    for k in range(1, len(data)):
        at = start + 10 * DIV * k
        assert line_trace[at + DIV // 2] == 0 and line_trace[at - DIV // 2] == 1, f"frame {k} off the 10-bit grid"


def drive_frame(bits: list[int]):
    async def bench(ctx, rx):
        for level in bits:
            ctx.set(rx.rx, level)
            await ctx.tick().repeat(DIV)
        ctx.set(rx.rx, 1)
        await ctx.tick().repeat(4 * DIV)
    return bench


def run_rx(frames: list[list[int]], ready: bool):
    rx = UartRx(DIV)
    out = {}

    async def bench(ctx):
        ctx.set(rx.o_data.ready, ready)
        ctx.set(rx.rx, 1)
        await ctx.tick().repeat(3)
        for bits in frames:
            await drive_frame(bits)(ctx, rx)
        out.update(valid=ctx.get(rx.o_data.valid), payload=ctx.get(rx.o_data.payload),
                   framing=ctx.get(rx.framing_error), overrun=ctx.get(rx.overrun))

    sim = Simulator(rx)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out


def frame(byte: int, stop: int = 1) -> list[int]:
    return [0, *[(byte >> i) & 1 for i in range(8)], stop]


def test_bad_stop_bit_sets_framing_error_and_drops_the_byte():
    out = run_rx([frame(0x3C, stop=0)], ready=False)
    assert out["framing"] == 1 and out["valid"] == 0


def test_a_byte_nobody_takes_is_not_overwritten():
    out = run_rx([frame(0x12), frame(0x34)], ready=False)
    assert out["valid"] == 1 and out["payload"] == 0x12 and out["overrun"] == 1 and out["framing"] == 0
