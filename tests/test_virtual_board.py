"""The virtual board (iCEBreaker pipeline top under Verilator, UART at bit level, AD5628 monitor + FPAA BFM) driven
by the unchanged host program over pyserial's socket:// — the check `atis run --virtual` makes, in pytest."""
from __future__ import annotations

import numpy as np
import pytest

from atis.analog_models.scoring import expected_keep
from atis.config import bundled_config, load_config
from atis.digits import load_embedding, load_split
from atis.golden.transformer import forward_int, load_bytes, load_weights
from atis.host import BoardLink, run_digits
from atis.protocol import HostOp
from atis.virtual_board import VirtualBoard

pytestmark = pytest.mark.cocotb

IMAGES = 10


def test_digits_on_the_virtual_board_match_golden_and_the_fpaa_model_and_survive_a_broken_command(tmp_path):
    vb = VirtualBoard("icebreaker", load_config(bundled_config("icebreaker")), keep=0.3, work_dir=tmp_path)
    with vb:
        cfg, t, d, n = vb.cfg, vb.cfg.transformer, vb.cfg.model.d_model, vb.cfg.model.seq_len
        with BoardLink(f"socket://127.0.0.1:{vb.port}", baud=vb.baud, classes=t.classes, n=n,
                       timeout_s=120) as link:
            report = run_digits(link, cfg, vb.design, board="icebreaker", images=IMAGES,
                                model_keep=lambda tokens: expected_keep(cfg, tokens).keep)
            # A host that dies mid-command leaves the board out of step: 900 of a SCORE's 2 + n·d bytes.
            link._write(bytes([HostOp.SCORE, 0]) + bytes(900))
            link.resync()
            w = load_weights(t, d)
            link.load(load_bytes(w))
            x = load_embedding(t.weights, d).tokens(load_split().x_test[IMAGES:IMAGES + 1])[0]
            after = link.score(x, drop=t.mask == "drop")
    board = vb.wait()
    assert report.images == IMAGES and report.logit_mismatches == 0 and report.keep_mismatches == 0
    assert report.accuracy == report.golden_accuracy and report.accuracy >= 0.8
    assert 0.2 < report.mean_kept_fraction < 0.4
    assert report.tail_cycles_per_image > 0 and report.compute_cycles_per_image > report.scoring_cycles_per_image
    assert after.logits == forward_int(x, np.array(after.mask, dtype=bool), w, t.mask).tolist()
    assert not board["protocol_errors"]
    # The clean run never overran the board; the probes of the resync may have (the board does not read while it
    # computes), which lights the sticky led_error, as on a real board.
    clean = len(load_bytes(w)) + 5 + IMAGES * (2 + n * d)
    assert board["led_error_after_bytes_in"] is None or board["led_error_after_bytes_in"] > clean
    assert board["tokens_scored"] >= (IMAGES + 2) * n     # the broken command's sequence was scored too
    again = VirtualBoard("icebreaker", load_config(bundled_config("icebreaker")), keep=0.3, work_dir=tmp_path)
    with again:                              # the second start reuses the Verilator build and comes up
        assert again.port
    assert again.wait()["bytes_in"] == 0
