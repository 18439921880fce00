"""The host link of the whole digital side in the Amaranth simulator: load, then sequences the board scores itself
(the comparator pin answers per evaluation); every answer vs the golden transformer on the keep bits it reports."""
from __future__ import annotations

import numpy as np
from simhelpers import answer_sink, byte_source, comparator_model, run_with_clock

from atis.config import config_from_dict
from atis.design import resolve_design
from atis.golden.transformer import forward_int, load_bytes, random_weights
from atis.hdl.host_link import HostLink
from atis.hdl.pipeline import ScoredTransformer
from atis.hdl.transformer import Transformer
from atis.protocol import HostReply, answer_bytes, decode_answer, encode_load, encode_scored_sequence

D, N, C = 4, 4, 2
CONFIG = {"model": {"d_model": D, "seq_len": N}, "projection": {"m": 2, "lanes": 2},
          "dac": {"part": "parallel", "n_channels": 2, "settle_ns": 40.0},
          "transformer": {"heads": 1, "ffn": 4, "classes": C, "lanes": 2}}


def test_scored_sequences_answer_the_boards_keep_mask_and_golden_logits(rng):
    design = resolve_design(config_from_dict(CONFIG))
    w = random_weights(D, 1, 4, 1, C, seed=7)
    dut = HostLink(ScoredTransformer(design.projection, design.sequencer, Transformer(design.transformer)))
    runs = [(rng.integers(-128, 128, size=(N, D)), keep, mode) for keep, mode in
            (([1, 0, 1, 0], "drop"), ([0, 0, 0, 0], "drop"), ([1, 1, 0, 1], "keymask"))]
    comparator = [k for _, keep, _ in runs for k in keep]          # what the FPAA decides, token by token
    # 'S' (host-given keep bits) belongs to the bare transformer's link: this one answers '?'.
    commands = [b"S", encode_load(load_bytes(w))]
    commands += [encode_scored_sequence(x, mode == "drop") for x, _, mode in runs]
    lengths = [1, 1] + [answer_bytes(C, N)] * len(runs)
    answers, evaluations = [], []

    run_with_clock(dut, byte_source(dut.i_bytes, commands), answer_sink(dut.o_bytes, lengths, answers),
                   comparator_model(dut, comparator, evaluations))
    assert answers[:2] == [[HostReply.UNKNOWN], [HostReply.LOADED]]
    assert len(evaluations) == N * len(runs)
    for (x, keep, mode), answer in zip(runs, answers[2:]):
        got = decode_answer(bytes(answer), C, N)
        assert got.mask == keep and got.kept == sum(keep)
        assert 0 < got.tail_cycles < got.total_cycles
        assert got.logits == forward_int(x, np.array(keep, dtype=bool), w, mode).tolist()
