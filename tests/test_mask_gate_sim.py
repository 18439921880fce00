"""Mask gate in the Amaranth simulator vs its golden model, under random gaps and backpressure on both outputs."""
from __future__ import annotations

import numpy as np
import pytest

from atis.golden.mask_gate import mask_gate
from atis.hdl.mask_gate import MaskGate
from simhelpers import run_with_clock, stream_put

D, SEQ = 3, 5


def run(tokens: np.ndarray, keep: np.ndarray, rng) -> tuple[list[dict], list[int]]:
    dut = MaskGate(SEQ)
    elements, counts = [], []
    expected_elements, expected_counts = mask_gate(tokens, keep, SEQ)

    async def source(ctx):
        for n, token in enumerate(tokens):
            for j, x in enumerate(token):
                if rng.random() < 0.3:
                    await ctx.tick()
                await stream_put(ctx, dut.i_token, {"data": int(x), "first": j == 0, "last": j == D - 1,
                                                    "keep": int(keep[n]), "index": n})

    async def sink(ctx):
        for _ in range(40 * tokens.size):
            ctx.set(dut.o_token.ready, rng.random() < 0.6)
            ctx.set(dut.o_count.ready, rng.random() < 0.4)
            _, _, tv, tr, tp, cv, cr, cp = await ctx.tick().sample(
                dut.o_token.valid, dut.o_token.ready, dut.o_token.payload,
                dut.o_count.valid, dut.o_count.ready, dut.o_count.payload)
            if tv and tr:
                elements.append({"data": int(tp.data), "first": int(tp.first), "last": int(tp.last),
                                 "pos": int(tp.pos)})
            if cv and cr:
                counts.append(int(cp.count))

    run_with_clock(dut, source, sink)
    assert elements == expected_elements
    assert counts == expected_counts
    return elements, counts


@pytest.mark.parametrize("ratio", [0.0, 0.3, 1.0])
def test_forwards_kept_tokens_with_positions_and_counts(rng, ratio):
    tokens = rng.integers(-128, 128, size=(4 * SEQ, D))
    keep = rng.random(4 * SEQ) < ratio
    if ratio == 0.3:
        keep[:SEQ] = False            # a sequence with nothing kept: count 0
        keep[SEQ:2 * SEQ] = True      # and one with everything kept
    _, counts = run(tokens, keep, rng)
    assert len(counts) == 4
