"""Linear (hdl/linear.py) in the Amaranth simulator: weights over the load chain, reloaded, vs numpy."""
from __future__ import annotations

import numpy as np
import pytest
from simhelpers import run_with_clock, stream_put, stream_take

from atis.golden.quant import requantize_signed
from atis.hdl.linear import Linear, LinearMode


def segment(w: np.ndarray, shifts: list[int], bias=None) -> list[int]:
    """The load-chain segment of one Linear (the order atis.golden.transformer.load_bytes uses)."""
    out = list(shifts) + [int(v) & 0xFF for v in w.T.reshape(-1)]
    if bias is not None:
        out += list(np.asarray(bias, dtype="<i4").tobytes())
    return out


def expected(x, w, mode, shifts, bias):
    acc = x @ w
    if mode == "raw":
        return acc + bias
    g = w.shape[1] // len(shifts)
    y = np.concatenate([requantize_signed(acc[:, i * g:(i + 1) * g], s) for i, s in enumerate(shifts)], axis=1)
    return np.maximum(y, 0) if mode == "relu" else y


@pytest.mark.parametrize("mode,lanes,groups", [("rq", 2, 2), ("relu", 5, 1), ("raw", 3, 1)])
def test_linear_matches_numpy_after_reloads(rng, mode, lanes, groups):
    fi, fo = 5, 4
    dut = Linear(fan_in=fi, fan_out=fo, lanes=lanes, mode=LinearMode(mode), groups=groups)
    models = []
    for _ in range(2):
        w = rng.integers(-128, 128, size=(fi, fo))
        shifts = [] if mode == "raw" else [int(s) for s in rng.integers(0, 12, size=groups)]
        bias = rng.integers(-2**31, 2**31, size=fo) if mode == "raw" else None
        models.append((w, shifts, bias, rng.integers(-128, 128, size=(6, fi))))
    got = []
    trailing = [0x5A, 0x11]                      # bytes for the next unit on the chain: must pass through

    async def source(ctx):
        for n, (w, shifts, bias, xs) in enumerate(models):
            while len(got) < 6 * n:                # load between rows only: a reload mid-row changes its weights
                await ctx.tick()
            for i, byte in enumerate(segment(w, shifts, bias) + trailing):
                await stream_put(ctx, dut.i_load, {"byte": byte, "first": i == 0})
            for x in xs:
                await stream_put(ctx, dut.i_rows, {"x": x.tolist(), "tag": {"key": 1, "last": 0}})

    async def sink(ctx):
        passed = []
        cycle = 0
        while len(got) < 12:
            ctx.set(dut.o_load.ready, 1)
            if ctx.get(dut.o_load.valid):
                passed.append((ctx.get(dut.o_load.payload.byte), ctx.get(dut.o_load.payload.first)))
            payload = await stream_take(ctx, dut.o_rows, cycle % 3 != 2)
            if payload is not None:
                got.append([int(v) for v in payload.x])
            cycle += 1
        assert passed == [(0x5A, 1), (0x11, 0)] * 2      # the next unit's `first` is marked once per load

    run_with_clock(dut, source, sink)
    want = np.concatenate([expected(xs, w, mode, shifts, bias) for w, shifts, bias, xs in models])
    assert np.array_equal(np.array(got), want), (np.array(got) - want)
