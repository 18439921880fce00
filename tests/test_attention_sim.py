"""One attention head in the Amaranth simulator vs the golden integer model; cycles grow with k²."""
from __future__ import annotations

import numpy as np
import pytest
from simhelpers import run_with_clock, stream_put, stream_take

from atis.golden.quant import requantize_signed
from atis.golden.transformer import softmax_int
from atis.hdl.attention import AttentionHead

MAX_LEN, DH, SHIFT = 8, 6, 7


def golden_head(q, k, v, shift, keys=None):
    keys = np.ones(len(k), dtype=bool) if keys is None else keys
    p = softmax_int(requantize_signed(q @ k.T, shift), keys)
    return requantize_signed(p @ v, 7)


def run_head(seqs, lanes, keys=None):
    dut = AttentionHead(max_len=MAX_LEN, dh=DH, lanes=lanes)
    rows, cycles = [], []

    async def source(ctx):
        ctx.set(dut.shift, SHIFT)
        for n, (q, k, v) in enumerate(seqs):
            key = np.ones(len(q), dtype=bool) if keys is None else keys[n]
            for i in range(len(q)):
                await stream_put(ctx, dut.i_qkv, {"q": q[i].tolist(), "k": k[i].tolist(), "v": v[i].tolist(),
                                                  "key": int(key[i]), "last": i == len(q) - 1})

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


def test_head_keymask_attends_to_flagged_keys_only(rng):
    """keymask: every token is a query, only flagged tokens are keys; with no key at all the rows are 0."""
    seqs, keys = [], []
    for n, n_keys in ((8, 3), (5, 1), (6, 0), (1, 0), (7, 7)):
        seqs.append(tuple(rng.integers(-128, 128, size=(n, DH)) for _ in range(3)))
        flags = np.zeros(n, dtype=bool)
        flags[rng.choice(n, size=n_keys, replace=False)] = True
        keys.append(flags)
    rows, _ = run_head(seqs, 2, keys)
    for (q, k, v), flags, got in zip(seqs, keys, rows):
        assert np.array_equal(got, golden_head(q, k, v, SHIFT, flags)), f"n = {len(q)}, keys = {flags.sum()}"
