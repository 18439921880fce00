"""The atis CLI as a user runs it (subprocess): help, verilog, bad arguments."""
from __future__ import annotations

import subprocess
import sys

import pytest


def atis(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "atis.cli", *args], capture_output=True, text=True)


def test_help_lists_every_command():
    proc = atis("--help")
    assert proc.returncode == 0
    for command in ("verilog", "regress", "demo", "fpaa", "energy"):
        assert command in proc.stdout


def test_help_names_the_blocks_and_benches_and_shows_flags_as_flags():
    from atis.cocotb_tests.runner import select_benches
    from atis.commands.rtl import BENCH_NAMES, BLOCK_NAMES
    from atis.hdl.export import BLOCKS
    assert BLOCK_NAMES == tuple(BLOCKS) and BENCH_NAMES == tuple(b.name for b in select_benches(None))
    assert "attention_head" in atis("verilog", "--help").stdout
    proc = atis("sweep", "--help")
    assert "fpaa-Nb-adaptive" in proc.stdout and "<bool>" not in proc.stdout
    assert atis("energy", "--json", "true").returncode == 2      # a flag takes no value


def test_verilog_writes_and_lints_the_projection(tmp_path):
    proc = atis("verilog", "--config", "configs/default.yaml", "--out", str(tmp_path), "--lint",
                "--block", "projection", "--block", "softmax")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("lint clean") == 2
    assert "module atis_projection(" in (tmp_path / "atis_projection.v").read_text()


def test_unknown_block_and_unmatched_pattern_exit_2(tmp_path):
    proc = atis("verilog", "--block", "attention", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--block attention: unknown block" in proc.stderr
    proc = atis("regress", "-k", "no-such-bench")
    assert proc.returncode == 2 and "matches no bench" in proc.stderr


def test_fpaa_characterization_reports_drift_trim_and_fidelity(tmp_path):
    plot = tmp_path / "fpaa.png"
    proc = atis("fpaa", "--n", "3000", "--json", "--plot", str(plot))
    assert proc.returncode == 0, proc.stderr
    import json
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    hot = figures["drift"]["10.0"]
    assert 1.30 <= hot["gm_ratio"] <= 1.40
    assert abs(hot["uncalibrated"] - 0.3) > abs(hot["threshold_trim"] - 0.3)     # the trim brings it back
    assert figures["spearman_by_bits"]["6"] >= 0.9
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_bad_analog_config_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("fpaa: {heads: {count: 4, groups: 3}}\n")
    proc = atis("energy", "--config", str(bad), "--plot", str(tmp_path / "e.png"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: fpaa.heads.groups = 3: must divide fpaa.heads.count (4)"
    assert not (tmp_path / "e.png").exists()


@pytest.mark.cocotb
def test_bench_scorer_reports_the_issue_figures(tmp_path):
    proc = atis("bench", "scorer", "--n", "12", "--json", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    import json
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["mask_mismatches"] == 0 and figures["tokens"] == 12
    assert figures["spi_utilization"] >= 0.95 and figures["cycles_per_token"] == 8448
    assert figures["tokens_per_s_sim"] == pytest.approx(1e8 / 8448)


@pytest.mark.parametrize("args, message", [
    (("--n", "200"), "--n 200: above model.seq_len = 128"),
    (("--keep", "0"), "--keep 0: at least one token must be kept"),
])
def test_bench_attention_rejects_bad_arguments_before_building(tmp_path, args, message):
    proc = atis("bench", "attention", "--out", str(tmp_path), *args)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("bench, option, value", [("scorer", "--fpaa", "nope"), ("attention", "--mask", "soft"),
                                                  ("digits", "--dac", "serial")])
def test_bench_choices_are_checked_by_typer(tmp_path, bench, option, value):
    proc = atis("bench", bench, "--out", str(tmp_path), option, value)
    usage = " ".join(proc.stderr.replace("│", " ").split())     # typer's error box, unwrapped
    assert proc.returncode == 2 and f"Invalid value for '{option}'" in usage and f"'{value}'" in usage, proc.stderr
    assert not any(tmp_path.iterdir())


def test_verilog_explains_why_the_transformer_cannot_be_built(tmp_path):
    cfg = tmp_path / "odd.yaml"
    cfg.write_text("model: {d_model: 10}\nprojection: {m: 5, lanes: 2}\n")
    proc = atis("verilog", "--config", str(cfg), "--out", str(tmp_path / "v"), "--block", "transformer")
    assert proc.returncode == 2 and "d_model = 10: the transformer RTL needs a power of two" in proc.stderr
