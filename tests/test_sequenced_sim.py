"""The micro-sequenced transformer in the Amaranth simulator: logits bit-exact with ``forward_int`` (drop)."""
from __future__ import annotations

import numpy as np
import pytest
from simhelpers import run_with_clock, stream_put

from atis.design import TransformerSpec
from atis.golden.transformer import forward_int, load_bytes, random_weights
from atis.hdl.sequenced import SequencedTransformer
from atis.hdl.sequenced_map import MemoryMap


def _run(spec: TransformerSpec, w, sequences):
    """Load ``w`` once, run every ``(x, keep)``; returns [(logits, kept, total, attention)] per sequence."""
    dut = SequencedTransformer(spec)
    answers = []

    async def source(ctx):
        for n, byte in enumerate(load_bytes(w)):
            await stream_put(ctx, dut.i_load, {"byte": byte, "first": n == 0})
        for x, keep in sequences:
            for i, (row, kept) in enumerate(zip(x, keep)):
                await stream_put(ctx, dut.i_tokens, {"x": [int(v) for v in row], "keep": int(kept),
                                                     "last": i == len(x) - 1})

    async def sink(ctx):
        ctx.set(dut.o_result.ready, 1)
        while len(answers) < len(sequences):
            *_, valid, result = await ctx.tick().sample(dut.o_result.valid, dut.o_result.payload)
            if valid:
                answers.append(([int(v) for v in result.logits], int(result.kept), int(result.total_cycles),
                                int(result.attention_cycles)))

    run_with_clock(dut, source, sink)
    return answers


@pytest.mark.parametrize("d, heads, ffn, layers, ram_bank", [(8, 2, 8, 2, 0), (4, 1, 8, 1, 0), (8, 2, 8, 2, 256)])
def test_sequenced_logits_equal_golden(rng, d, heads, ffn, layers, ram_bank):
    """ram_bank = 256: RAM B of ~900 bytes in four registered banks (the last one short), read latency 4."""
    n, classes = 6, 3
    spec = TransformerSpec(d=d, heads=heads, ffn=ffn, layers=layers, classes=classes, max_len=n, lanes=1,
                           engine="sequenced", ram_bank=ram_bank)
    if ram_bank:
        assert MemoryMap(spec).depth_b > 3 * ram_bank
    w = random_weights(d, heads, ffn, layers, classes, seed=3)
    masks = [np.ones(n, bool), np.zeros(n, bool), np.eye(n, dtype=bool)[2],        # all, none, one kept
             *(rng.random(n) < 0.5 for _ in range(3))]
    edge = np.full((n, d), 127), np.full((n, d), -128)                              # saturating rows
    sequences = [(rng.integers(-128, 128, size=(n, d)), keep) for keep in masks]
    sequences += [(edge[0], np.ones(n, bool)), (edge[1], np.ones(n, bool))]
    sequences.append((rng.integers(-128, 128, size=(2, d)), np.array([True, True])))   # shorter than max_len
    answers = _run(spec, w, sequences)
    for (x, keep), (logits, kept, total, attention) in zip(sequences, answers):
        assert logits == forward_int(x, keep, w, "drop").tolist(), keep
        assert kept == keep.sum()
        assert (0 < attention < total) or kept == 0


def test_memory_map_matches_load_stream():
    spec = TransformerSpec(d=8, heads=2, ffn=16, layers=2, classes=3, max_len=5, lanes=1)
    w = random_weights(8, 2, 16, 2, 3, seed=1)
    mem, stream = MemoryMap(spec), np.frombuffer(load_bytes(w), np.int8)
    assert mem.load_len == len(stream)
    for index, block in enumerate(w.blocks):
        at = mem.layer(index)
        for shift, value in block.shifts.items():
            assert stream[at[shift]] == value
        for name, width in (("wq", 8), ("wk", 8), ("wv", 8), ("wo", 8), ("w1", 8), ("w2", 16)):
            mat = getattr(block, name)
            for col in range(mat.shape[1]):
                assert stream[at[name] + col * width:][:width].tolist() == mat[:, col].tolist()
    assert stream[mem.wc + 8:][:8].tolist() == w.wc[:, 1].tolist()
    assert stream[mem.bias:].view("<i4").tolist() == w.bc.tolist()


def test_sequenced_rejects_d_not_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        SequencedTransformer(TransformerSpec(d=12, heads=1, ffn=8, layers=1, classes=2, max_len=4, lanes=1))
