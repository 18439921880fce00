"""One attention head in the Amaranth simulator vs the golden integer model; cycles grow with k²."""
from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from atis.golden.quant import requantize_signed
from atis.golden.transformer import softmax_int
from hdl.attention import AttentionHead
from simhelpers import stream_put

MAX_LEN, DH, SHIFT = 8, 6, 7


def golden_head(q, k, v, shift):
    p = softmax_int(requantize_signed(q @ k.T, shift), np.ones(len(k), dtype=bool))
    return requantize_signed(p @ v, 7)


def run_head(seqs, lanes):
    dut = AttentionHead(MAX_LEN, DH, lanes, SHIFT)
    rows, cycles = [], []

    async def source(ctx):
        for q, k, v in seqs:
            for i in range(len(q)):
                await stream_put(ctx, dut.i_qkv, {"q": q[i].tolist(), "k": k[i].tolist(), "v": v[i].tolist(),
                                                  "last": i == len(q) - 1})

    async def sink(ctx):
        cycle, current = 0, []
        while len(rows) < len(seqs):
            ctx.set(dut.o_rows.ready, cycle % 4 != 3)
            _, _, valid, ready, payload = await ctx.tick().sample(dut.o_rows.valid, dut.o_rows.ready,
                                                                   dut.o_rows.payload)
            if valid and ready:
                current.append([int(x) for x in payload.a])
                if payload.last:
                    rows.append(np.array(current))
                    current = []
                    await ctx.tick()
                    cycles.append(ctx.get(dut.cycles))
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    sim.run()
    return rows, cycles


@pytest.mark.parametrize("lanes", [1, 3, 6])
def test_head_matches_golden_for_every_kept_count(rng, lanes):
    seqs = []
    for k in list(range(1, MAX_LEN + 1)) + [MAX_LEN]:
        seqs.append(tuple(rng.integers(-128, 128, size=(k, DH)) for _ in range(3)))
    extreme = np.full((MAX_LEN, DH), 127)
    seqs.append((extreme, -extreme - 1, extreme))
    rows, cycles = run_head(seqs, lanes)
    for (q, k, v), got in zip(seqs, rows):
        assert np.array_equal(got, golden_head(q, k, v, SHIFT)), f"k = {len(q)}"
    # Measured cost is quadratic in the kept tokens k: k²·(⌈dh/lanes⌉ + 2) + O(k) (the docstring's contract).
    quad, lin, _ = np.polyfit(np.arange(1, MAX_LEN + 1), cycles[:MAX_LEN], 2)
    assert abs(quad - (-(-DH // lanes) + 2)) < 0.5, (quad, lin)
