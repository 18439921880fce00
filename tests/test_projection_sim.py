"""Quick Amaranth-simulator checks of hdl.projection (the full regression is the cocotb bench)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from amaranth.sim import Simulator
from simhelpers import stream_put, stream_take

from atis.config import AtisConfig, ModelConfig, ProjectionConfig
from atis.golden.projection import projection_codes, resolve_projection
from atis.hdl.projection import Projection


def simulate(spec, tokens, *, framing=None, sink_every: int = 1):
    """Feed tokens, collect codes with ready high one cycle in ``sink_every``; returns (codes[N, m], error)."""
    dut = Projection(spec)
    got, d = [], spec.d

    async def source(ctx):
        for t in tokens:
            for j, x in enumerate(t):
                first, last = framing(j) if framing else (j == 0, j == d - 1)
                await stream_put(ctx, dut.i_token, {"data": int(x), "first": first, "last": last})

    async def sink(ctx):
        cycle = 0
        while len(got) < tokens.shape[0] * spec.m and cycle < 200_000:
            payload = await stream_take(ctx, dut.o_codes, cycle % sink_every == 0)
            if payload is not None:
                got.append((int(payload.code), int(payload.first), int(payload.last)))
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run_until(2e-3)
    codes = np.array([g[0] for g in got]).reshape(-1, spec.m)
    markers = [(g[1], g[2]) for g in got]
    assert markers == [(int(c == 0), int(c == spec.m - 1)) for _ in range(len(codes)) for c in range(spec.m)]
    return codes, dut


@pytest.mark.parametrize("lanes", [1, 3, 10])
def test_bit_exact_for_lane_counts(small_cfg, rng, lanes):
    cfg = dataclasses.replace(small_cfg, projection=dataclasses.replace(small_cfg.projection, lanes=lanes))
    spec = resolve_projection(cfg)
    tokens = np.concatenate([np.full((1, 10), -128), np.full((1, 10), 127), rng.integers(-128, 128, (8, 10))])
    codes, _ = simulate(spec, tokens)
    assert np.array_equal(codes, projection_codes(tokens, spec))


def test_bit_exact_for_int8_matrix_under_backpressure(rng):
    cfg = AtisConfig(ModelConfig(d_model=12), ProjectionConfig(m=4, lanes=4, dac_bits=8, shift=9))
    spec = dataclasses.replace(resolve_projection(cfg), matrix=rng.integers(-128, 128, (4, 12)), acc_bits=20)
    tokens = rng.integers(-128, 128, (10, 12))
    codes, _ = simulate(spec, tokens, sink_every=3)
    assert np.array_equal(codes, projection_codes(tokens, spec))


def test_a_wrong_shift_is_caught(small_cfg, rng):
    """The comparison is sensitive: RTL built with shift+1 disagrees with the golden model."""
    spec = resolve_projection(small_cfg)
    tokens = rng.integers(-128, 128, (6, 10))
    codes, _ = simulate(dataclasses.replace(spec, shift=spec.shift + 1), tokens)
    assert not np.array_equal(codes, projection_codes(tokens, spec))


def test_rejects_more_lanes_than_elements(small_cfg):
    with pytest.raises(ValueError, match="lanes must be in 1..d"):
        dataclasses.replace(resolve_projection(small_cfg), lanes=11)


@pytest.mark.parametrize("lanes", [1, 3, 10])
def test_latency_is_words_plus_five_cycles(small_cfg, rng, lanes):
    """From the cycle the token's last element transfers to the cycle channel 0's code is valid: W + 5."""
    cfg = dataclasses.replace(small_cfg, projection=dataclasses.replace(small_cfg.projection, lanes=lanes))
    dut = Projection(resolve_projection(cfg))
    seen = {}

    async def bench(ctx):
        ctx.set(dut.o_codes.ready, 0)
        for cycle in range(200):
            j = min(cycle, 9)
            ctx.set(dut.i_token.payload, {"data": int(rng.integers(-128, 128)), "first": j == 0, "last": j == 9})
            ctx.set(dut.i_token.valid, cycle < 10)
            _, _, took, valid = await ctx.tick().sample(dut.i_token.ready, dut.o_codes.valid)
            if took and cycle == 9:
                seen["last_in"] = cycle
            if valid and "first_out" not in seen:
                seen["first_out"] = cycle
                return

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen["first_out"] - seen["last_in"] == dut.words + 5, seen
