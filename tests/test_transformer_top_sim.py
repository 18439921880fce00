"""The transformer's host link in the Amaranth simulator: load, run both semantics, answers vs golden."""
from __future__ import annotations

import numpy as np
from simhelpers import answer_sink, run_with_clock, stream_put

from atis.design import TransformerSpec
from atis.golden.transformer import forward_int, load_bytes, random_weights
from atis.hdl.host_link import HostLink
from atis.hdl.transformer import Transformer
from atis.protocol import HostReply, answer_bytes, decode_answer, encode_load, encode_sequence

D, N, C = 4, 4, 2


def test_host_link_loads_runs_and_answers(rng):
    w = random_weights(D, 1, 4, 1, C, seed=5)
    dut = HostLink(Transformer(TransformerSpec(d=D, heads=1, ffn=4, layers=1, classes=C, max_len=N, lanes=2)))
    weights = load_bytes(w)
    runs = [(rng.integers(-128, 128, size=(n, D)), keep, mode) for n, keep, mode in
            ((4, [1, 0, 1, 0], "drop"), (4, [0, 0, 1, 1], "keymask"), (3, [0, 0, 0], "drop"), (1, [1], "keymask"))]
    commands = [b"X", encode_load(weights)] + [encode_sequence(x, keep, mode == "drop") for x, keep, mode in runs]
    lengths = [1, 1] + [answer_bytes(C, len(x)) for x, _, _ in runs]
    answers = []

    async def host(ctx):
        for cmd in commands:
            for byte in cmd:
                await stream_put(ctx, dut.i_bytes, byte)

    run_with_clock(dut, host, answer_sink(dut.o_bytes, lengths, answers))
    assert answers[:2] == [[HostReply.UNKNOWN], [HostReply.LOADED]]
    for (x, keep, mode), answer in zip(runs, answers[2:]):
        got = decode_answer(bytes(answer), C, len(x))
        assert got.logits == forward_int(x, np.array(keep, dtype=bool), w, mode).tolist()
        assert got.kept == sum(keep) and got.mask == keep
        assert 0 < got.attention_cycles < got.total_cycles or sum(keep) == 0
        assert 0 < got.tail_cycles <= got.total_cycles
