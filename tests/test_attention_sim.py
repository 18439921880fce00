"""One attention head in the Amaranth simulator vs the golden integer model; cycles grow with k²."""
from __future__ import annotations

import numpy as np
import pytest

from atis.golden.quant import requantize_signed
from atis.golden.transformer import softmax_int
from hdl.attention import AttentionHead
from simhelpers import run_with_clock, stream_put, stream_take

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
            payload = await stream_take(ctx, dut.o_rows, cycle % 4 != 3)
            if payload is not None:
                current.append([int(x) for x in payload.a])
                if payload.last:
                    rows.append(np.array(current))
                    current = []
                    await ctx.tick()
                    cycles.append(ctx.get(dut.cycles))
            cycle += 1

    run_with_clock(dut, source, sink)
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
