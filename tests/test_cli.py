"""The atis CLI as a user runs it (subprocess): help, verilog, bad arguments."""
from __future__ import annotations

import subprocess
import sys


def atis(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "atis.cli", *args], capture_output=True, text=True)


def test_help_lists_every_command():
    proc = atis("--help")
    assert proc.returncode == 0
    for command in ("verilog", "regress", "demo"):
        assert command in proc.stdout


def test_verilog_writes_and_lints_the_projection(tmp_path):
    proc = atis("verilog", "--config", "configs/default.yaml", "--out", str(tmp_path), "--lint")
    assert proc.returncode == 0, proc.stderr
    assert "lint clean" in proc.stdout
    assert "module atis_projection(" in (tmp_path / "atis_projection.v").read_text()


def test_unknown_block_and_unmatched_pattern_exit_2(tmp_path):
    proc = atis("verilog", "--block", "attention", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--block attention: unknown block" in proc.stderr
    proc = atis("regress", "-k", "no-such-bench")
    assert proc.returncode == 2 and "matches no bench" in proc.stderr
