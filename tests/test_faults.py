"""Analog faults, detected and survived (issue 16): fault injection in both views of the FPAA model, the golden
watchdog on faulty keep streams (a watchdog that never fires must fail), the STATUS command through the pipeline's
host link and the host, and one co-simulation of faults on the scorer RTL with its watchdog."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from simhelpers import answer_sink, byte_source, comparator_model, run_with_clock
from test_host import fake_board, read_exactly

from atis.analog_models import FpaaModel
from atis.analog_models.faults import FAULT_KINDS, Fault
from atis.config import config_from_dict, load_config, with_overrides
from atis.design import resolve_design
from atis.faults import detection_problems, faults_config, model_run, run_tokens
from atis.golden.keep_watchdog import HIGH, KEEP_ALL, LOW, TRIPPED, WatchdogSpec, resolve_watchdog
from atis.golden.reference import random_tokens
from atis.golden.transformer import forward_int, load_bytes, random_weights
from atis.hdl.host_link import HostLink
from atis.hdl.pipeline import ScoredTransformer
from atis.hdl.transformer import Transformer
from atis.host import BoardLink
from atis.protocol import (
    HostReply,
    answer_bytes,
    decode_answer,
    decode_status,
    encode_load,
    encode_scored_sequence,
    encode_status,
)

FAULTS = {"comparator_stuck_0": Fault("comparator_stuck_0", 30), "comparator_stuck_1": Fault("comparator_stuck_1", 30),
          "dac_dead": Fault("dac_dead", 30, channel=3), "dac_saturated": Fault("dac_saturated", 30, channel=5),
          "ota_open": Fault("ota_open", 30, channel=17), "temperature_step": Fault("temperature_step", 30, value=20.0),
          "supply_droop": Fault("supply_droop", 30, value=-0.2)}


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_a_fault_acts_alike_on_the_vectorized_model_and_the_pins(kind):
    """One Fault, both views: from its onset the keep bits and scores of the vectorized model equal the pins',
    and they differ from the fault-free model's (the fault acts)."""
    cfg = config_from_dict({})
    codes = np.random.default_rng(6).integers(0, 64, size=(160, 64))
    refs = np.random.default_rng(8).integers(0, 64, size=(2000, 64))
    vec, tok, clean = (FpaaModel(cfg, reference_codes=refs) for _ in range(3))
    vec.inject(FAULTS[kind])
    tok.inject(FAULTS[kind])
    first, rest = vec.score(codes[:100]), vec.score(codes[100:])       # the onset falls inside the first call
    expected = np.concatenate([first.keep, rest.keep]), np.concatenate([first.score, rest.score])
    pins, keep, score = tok.pins(), [], []
    for row in codes:                  # every input written at once, evaluated settle_ns later (the default ages)
        t0 = pins.now_ns
        for j, c in enumerate(row):
            pins.apply(j, int(c))
        pins.advance(cfg.dac.settle_ns)
        result = pins.evaluate()
        keep.append(bool(result.keep[0]))
        score.append(float(result.score[0]))
        pins.advance(t0 + vec.period_ns - pins.now_ns)
    assert np.array_equal(expected[0], keep)
    np.testing.assert_allclose(expected[1], score, rtol=0, atol=1e-12)
    fault_free = clean.score(codes)
    assert np.array_equal(fault_free.keep[:30], keep[:30])
    assert not (np.array_equal(fault_free.keep[30:], keep[30:])           # the fault acts from its onset on
                and np.allclose(fault_free.score[30:], score[30:], rtol=0, atol=1e-9))


def test_fault_descriptions_are_checked():
    with pytest.raises(ValueError, match="fault kind 'dac_stuck'"):
        Fault("dac_stuck")
    with pytest.raises(ValueError, match="fault at_token = -1"):
        Fault("ota_open", -1)
    with pytest.raises(ValueError, match=r"dac_dead channel = 8: must be in 0..7"):
        FpaaModel(config_from_dict({"fpaa": {"comparator": {"threshold": "fixed"}}})).inject(Fault("dac_dead", 0, 8))



def test_a_dac_fault_hits_the_inputs_its_channel_drives_when_one_channel_drives_theta():
    """With a SAR readout the AD5628's last channel drives θ and input j is on channel j mod 7: a dead channel 0
    moves inputs 0, 7, 14, …; channel 7 is no input channel."""
    cfg = config_from_dict({"fpga": {"scorer": "fpaa"}, "fpaa": {"readout": {"mode": "sar"},
                                                                  "comparator": {"threshold": "fixed"}}})
    model = FpaaModel(cfg)
    before = model.dac.table.copy()
    model.inject(Fault("dac_dead", 0, 0))
    moved = np.flatnonzero((model.dac.table != before).any(axis=1))
    assert moved.tolist() == list(range(0, model.m, 7))
    with pytest.raises(ValueError, match=r"dac_dead channel = 7: must be in 0..6"):
        FpaaModel(cfg).inject(Fault("dac_dead", 0, 7))


CFG = faults_config(load_config())
TOKENS = random_tokens(CFG, run_tokens(CFG.fpga.watchdog.window, 300), 1)


@pytest.mark.parametrize("fault", [Fault("comparator_stuck_0", 300), Fault("comparator_stuck_1", 300),
                                   Fault("dac_saturated", 300), Fault("temperature_step", 300, value=-20.0)],
                         ids=lambda f: f.label)
def test_the_golden_watchdog_flags_faults_and_a_mutant_that_never_fires_fails(fault):
    band = (CFG.fpga.watchdog.keep_lo, CFG.fpga.watchdog.keep_hi)
    row = model_run(CFG, fault, TOKENS)
    assert detection_problems(row, band) == [] and row["detected"], row
    assert row["latency_tokens"] <= 2 * CFG.fpga.watchdog.window
    if fault.kind.startswith("comparator_stuck"):
        assert row["hard_fault_at"] is not None
        assert row["out_keep_after_trip"] == 1.0          # keep-all: no token pruned by the stuck comparator
    else:                                                # one re-trim brings the kept fraction back
        clean = model_run(CFG, None, TOKENS)
        assert clean["trip_token"] is None
        assert abs(row["keep_after_recovery"] - CFG.fpaa.comparator.keep_target) < 0.1 * 0.3
    spec = resolve_watchdog(CFG)
    never = WatchdogSpec(window=spec.window, lo_count=0, hi_count=spec.window, keep_all=True)
    assert detection_problems(model_run(CFG, fault, TOKENS, never), band), "a mute watchdog went unnoticed"


def test_status_over_the_pipelines_host_link_trips_falls_back_to_keep_all_and_clears(rng):
    cfg = config_from_dict({"model": {"d_model": 4, "seq_len": 4}, "projection": {"m": 2, "lanes": 2},
                            "dac": {"part": "parallel", "n_channels": 2, "settle_ns": 40.0},
                            "transformer": {"heads": 1, "ffn": 4, "classes": 2, "lanes": 2}})
    design = resolve_design(cfg)
    spec = WatchdogSpec(window=4, lo_count=1, hi_count=2, keep_all=True)
    w = random_weights(4, 1, 4, 1, 2, seed=7)
    dut = HostLink(ScoredTransformer(design.projection, design.sequencer, Transformer(design.transformer), spec))
    xs = [rng.integers(-128, 128, size=(4, 4)) for _ in range(4)]
    # stuck high (trips), then low (keep-all holds), re-trimmed: normal (a probation window, then pruning again)
    comparator = [1, 1, 1, 1] + [0, 0, 0, 0] + [1, 0, 1, 0] + [0, 1, 0, 0]
    score = [encode_scored_sequence(x, True) for x in xs]
    commands = [encode_load(load_bytes(w)), score[0], encode_status(False), score[1], encode_status(True), score[2],
                encode_status(False), score[3]]
    lengths = [1, answer_bytes(2, 4), 1, answer_bytes(2, 4), 1, answer_bytes(2, 4), 1, answer_bytes(2, 4)]
    answers, evaluations = [], []

    run_with_clock(dut, byte_source(dut.i_bytes, commands), answer_sink(dut.o_bytes, lengths, answers),
                   comparator_model(dut, comparator, evaluations))
    masks = [decode_answer(bytes(answers[i]), 2, 4).mask for i in (1, 3, 5, 7)]
    # keep-all from the trip on, through the clear, until a whole window after it stayed in the band
    assert masks == [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [0, 1, 0, 0]]
    assert answers[2] == answers[4] == [TRIPPED | HIGH | KEEP_ALL] and answers[6] == [0]
    for x, mask, i in zip(xs, masks, (1, 3, 5, 7)):
        assert decode_answer(bytes(answers[i]), 2, 4).logits == forward_int(x, np.array(mask, bool), w,
                                                                             "drop").tolist()
    assert answers[0] == [HostReply.LOADED]


def test_the_host_reads_the_status_and_a_board_without_a_watchdog():
    def watched(conn):
        assert read_exactly(conn, 2) == b"T\x01"
        conn.sendall(bytes([TRIPPED | LOW]))

    with BoardLink(fake_board(watched), baud=3_000_000, classes=10, n=4, timeout_s=1) as link:
        status = link.status(clear=True)
    assert (status.tripped, status.low, status.high, status.keep_all) == (True, True, False, False)
    assert decode_status(status.byte) == status

    def unwatched(conn):                    # 'T' and its flags byte are two unknown commands: '?' each
        read_exactly(conn, 2)
        conn.sendall(b"??")
        read_exactly(conn, 9)
        conn.sendall(b"K")

    with BoardLink(fake_board(unwatched), baud=3_000_000, classes=10, n=4, timeout_s=1) as link:
        assert link.status() is None
        link.load(b"1234")                  # still in step
    with pytest.raises(ValueError, match="status byte 0x3f"):
        decode_status(ord("?"))


def test_faults_command_needs_the_watchdog(tmp_path):
    bad = tmp_path / "off.yaml"
    bad.write_text("fpga:\n  watchdog:\n    window: 0\n")
    proc = subprocess.run([sys.executable, "-m", "atis.cli", "faults", "-c", str(bad), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "fpga.watchdog.window = 0" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.cocotb
def test_faults_on_the_scorer_rtl_are_flagged_and_survived(tmp_path):
    """Co-simulation (a short window): a stuck comparator and a saturated DAC channel on the FPAA BFM's model;
    the bench checks RTL keep bits and status against the golden watchdog on the BFM's decisions, token by token,
    and those decisions against the vectorized model."""
    from atis.faults import run_faults
    cfg = with_overrides(load_config(), {"fpga": {"watchdog": {"window": 128, "keep_lo": 0.15, "keep_hi": 0.5}}})
    report = run_faults(cfg, work_dir=tmp_path, faults=[Fault("comparator_stuck_0", 100),
                                                        Fault("dac_saturated", 100)], sweep_tokens=0)
    assert not report.problems, report.problems
    stuck, dac = report.rows
    # at most the rest of the window plus a whole window's drop limit (here 108 + 1)
    assert stuck["detected"] and stuck["latency_tokens"] < 2 * 109 and stuck["hard_fault_at"] is not None
    assert stuck["out_keep_after_trip"] == 1.0
    assert dac["detected"] and dac["hard_fault_at"] is None and 0.2 < dac["keep_after_recovery"] < 0.45
