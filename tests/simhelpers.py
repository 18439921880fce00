"""Helpers shared by the Amaranth-simulator tests."""
from __future__ import annotations

from amaranth.sim import Simulator


async def stream_put(ctx, port, payload):
    """Offer one payload on an ``amaranth.lib.stream`` port and wait for its transfer."""
    ctx.set(port.payload, payload)
    ctx.set(port.valid, 1)
    await ctx.tick().until(port.ready)
    ctx.set(port.valid, 0)


async def stream_take(ctx, port, ready: bool):
    """One clock of a sink on ``port``: drive ``ready``, tick, and return the payload transferred (else None)."""
    ctx.set(port.ready, ready)
    _, _, valid, taken, payload = await ctx.tick().sample(port.valid, port.ready, port.payload)
    return payload if valid and taken else None


def answer_sink(port, lengths: list[int], answers: list[list[int]]):
    """A testbench taking answer bytes from ``port`` until ``len(lengths)`` answers of those lengths are in
    ``answers``."""
    async def sink(ctx):
        current = []
        while len(answers) < len(lengths):
            byte = await stream_take(ctx, port, True)
            if byte is not None:
                current.append(int(byte))
                if len(current) == lengths[len(answers)]:
                    answers.append(current)
                    current = []
    return sink


def byte_source(port, commands: list[bytes]):
    """A testbench sending every byte of ``commands`` on the byte stream ``port``, in order."""
    async def host(ctx):
        for command in commands:
            for byte in command:
                await stream_put(ctx, port, byte)
    return host


def comparator_model(dut, decisions: list[int], evaluations: list[int]):
    """A testbench playing the FPAA's comparator: on evaluation k (``dut.o_evaluate``) it drives ``dut.comparator``
    to ``decisions[k]`` (0 past the end) and appends k to ``evaluations``."""
    async def fpaa(ctx):
        async for _, _, evaluate in ctx.tick().sample(dut.o_evaluate):
            if evaluate:
                k = len(evaluations)
                ctx.set(dut.comparator, decisions[k] if k < len(decisions) else 0)
                evaluations.append(k)
    return fpaa


def run_with_clock(dut, source, sink, *models) -> None:
    """A 100 MHz clock, ``source`` (and any device ``models``) in the background, until ``sink`` returns."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for bench in (source, *models):
        sim.add_testbench(bench, background=True)
    sim.add_testbench(sink)
    sim.run()
