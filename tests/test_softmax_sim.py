"""Integer softmax unit vs ``softmax_int`` (bit-exact), rows of every length, extremes, backpressure."""
from __future__ import annotations

import numpy as np
from simhelpers import run_with_clock, stream_put, stream_take

from atis.golden.transformer import softmax_int
from atis.hdl.softmax import Softmax

MAX_LEN = 12


def test_rows_match_the_golden_softmax_bit_for_bit(rng):
    rows = [rng.integers(-128, 128, size=k) for k in range(1, MAX_LEN + 1)]
    rows += [np.full(MAX_LEN, 5), np.array([127, -128]), np.array([-128] * 3 + [127]),
             np.arange(-6, 6) * 20, rng.integers(-128, 128, size=MAX_LEN)]
    expected = [softmax_int(r[None, :], np.ones(len(r), bool))[0].tolist() for r in rows]
    dut = Softmax(MAX_LEN)
    got: list[list[int]] = []

    async def source(ctx):
        for r in rows:
            for j, s in enumerate(r):
                await stream_put(ctx, dut.i_logits, {"s8": int(s), "first": j == 0, "last": j == len(r) - 1})

    async def sink(ctx):
        current: list[int] = []
        cycle = 0
        while len(got) < len(rows):
            payload = await stream_take(ctx, dut.o_probs, cycle % 3 != 1)
            if payload is not None:
                assert payload.first == (not current)
                current.append(int(payload.p))
                if payload.last:
                    got.append(current)
                    current = []
            cycle += 1

    run_with_clock(dut, source, sink)
    assert got == expected
