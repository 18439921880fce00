"""The digital scorer (no FPAA): RTL keep bits equal the golden integer model, inside the whole Scorer."""
from __future__ import annotations

import numpy as np
from simhelpers import run_with_clock, stream_put, stream_take

from atis.config import config_from_dict
from atis.design import resolve_design
from atis.golden.digital_scorer import digital_keep, digital_scores
from atis.golden.projection import projection_codes
from atis.golden.reference import random_tokens
from atis.hdl.scorer import Scorer


def test_scorer_with_digital_scoring_matches_golden_under_backpressure():
    cfg = config_from_dict({"model": {"d_model": 16}, "projection": {"m": 12, "lanes": 4},
                            "fpga": {"scorer": "digital"}})
    design = resolve_design(cfg)
    projection, sequencer, digital = design.projection, design.sequencer, design.digital
    assert digital is not None
    dut = Scorer(projection, sequencer, digital)
    assert not hasattr(dut, "dac_sclk") and not hasattr(dut, "comparator")   # no pin boundary without an FPAA
    tokens = random_tokens(cfg, 60, seed=5)
    tokens[0] = 127                                # saturating edge tokens
    tokens[1] = -128
    expected = digital_keep(projection_codes(tokens, projection), digital)
    got = []

    async def source(ctx):
        for t in tokens:
            for j, x in enumerate(t):
                await stream_put(ctx, dut.i_token, {"data": int(x), "first": j == 0, "last": j == 15})

    async def sink(ctx):
        cycle = 0
        while len(got) < tokens.size:
            payload = await stream_take(ctx, dut.o_token, (cycle * 7) % 5 < 3)
            if payload is not None:
                got.append((int(payload.data), int(payload.keep), int(payload.index)))
            cycle += 1

    run_with_clock(dut, source, sink)
    data, keep, index = (np.array(c) for c in zip(*got))
    assert data.tolist() == tokens.reshape(-1).tolist()
    assert index.tolist() == np.repeat(np.arange(len(tokens)), 16).tolist()
    assert keep.reshape(-1, 16)[:, 0].astype(bool).tolist() == expected.tolist()
    assert 0 < expected.mean() < 1 and np.abs(digital_scores(projection_codes(tokens, projection),
                                                             digital)).max() < 1 << (digital.acc_bits - 1)
