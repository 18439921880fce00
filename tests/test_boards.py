"""Boards: bitstream builds (marked `board`), flashing commands, pin maps and the errors users see."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from atis.boards.pins import PINS, wiring_table


def atis(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "atis.cli", *args], capture_output=True, text=True)


@pytest.mark.parametrize("board, loader_args", [("icebreaker", ["-b", "ice40_generic", "-f"]),
                                                ("ulx3s-85f", ["-b", "ulx3s"])])
def test_flash_dry_run_prints_the_openfpgaloader_command(tmp_path, board, loader_args):
    bitstream = tmp_path / "design.bin"
    bitstream.write_bytes(b"\0" * 16)
    proc = atis("flash", "--board", board, "--bitstream", str(bitstream), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    argv = proc.stdout.split()
    assert argv[0].endswith(("openfpgaloader-cli", "openFPGALoader")) and argv[1:-1] == loader_args
    assert argv[-1] == str(bitstream.resolve())


def test_flash_without_a_board_is_one_line_exit_1(tmp_path):
    bitstream = tmp_path / "design.bin"
    bitstream.write_bytes(b"\0" * 16)
    proc = atis("flash", "--board", "icebreaker", "--bitstream", str(bitstream))
    assert proc.returncode == 1
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: ") and "Traceback" not in proc.stderr
    # the loader's real cause, whichever this machine has: no libusb/libftdi, or no board on the USB bus
    assert "the OS library" in errors[0] or "unable to open ftdi device" in errors[0], errors[0]
    assert "write to flash" not in errors[0] and "empty" not in errors[0]


@pytest.mark.parametrize("stderr, stdout, cause", [
    ("unable to open ftdi device: -3 (device not found)\nError: Failed to claim cable\n", "empty\nwrite to flash\n",
     "programming failed: unable to open ftdi device: -3 (device not found) (is the board connected and powered?)"),
    ("/x/bin/openFPGALoader: error while loading shared libraries: libusb-1.0.so.0: cannot open shared object", "",
     "the OS library libusb-1.0 is missing"),
    ("", "empty\n", "openFPGALoader exited with code 1 after 'empty'"),
])
def test_flash_failure_names_the_loaders_cause(stderr, stdout, cause):
    from atis.boards.build import loader_failure
    assert cause in loader_failure(stderr, stdout, 1)


def test_flash_needs_a_bitstream(tmp_path):
    proc = atis("flash", "--board", "ulx3s-85f", "--out", str(tmp_path))
    assert proc.returncode == 1 and "run `atis build --board ulx3s-85f`" in proc.stderr


def test_flash_dry_run_prints_the_command_before_a_build_and_says_the_file_is_missing(tmp_path):
    proc = atis("flash", "--board", "icebreaker", "--out", str(tmp_path), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == str((tmp_path / "icebreaker" / "atis.bin").resolve())
    assert "note: no bitstream at" in proc.stderr


def test_flash_refuses_a_bitstream_its_build_report_does_not_describe(tmp_path):
    """A bitstream left by a build that did not finish (or was overwritten) must not be programmed."""
    import hashlib
    where = tmp_path / "icebreaker"
    where.mkdir()
    (where / "atis.bin").write_bytes(b"\1" * 64)
    (where / "atis_report.json").write_text(json.dumps({"bitstream_sha256": hashlib.sha256(b"\0").hexdigest()}))
    proc = atis("flash", "--board", "icebreaker", "--out", str(tmp_path))
    assert proc.returncode == 1 and "is not the bitstream its build report" in proc.stderr
    (where / "atis_report.json").write_text(json.dumps({"bitstream_sha256": hashlib.sha256(b"\1" * 64).hexdigest()}))
    proc = atis("flash", "--board", "icebreaker", "--out", str(tmp_path), "--dry-run")
    assert proc.returncode == 0 and "note:" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["build", "--board", "de0"], "error: --board de0: unknown board (known: icebreaker, ulx3s-85f)"),
    (["build", "--board", "icebreaker", "--config", "configs/default.yaml"],
     "error: fpga.clock_MHz = 100: the icebreaker build runs at 24 MHz (use configs/icebreaker.yaml)"),
    (["build", "--board", "icebreaker", "--top", "pipeline", "--config", "configs/icebreaker-digital.yaml"],
     "error: --top pipeline: fpga.scorer = digital: the pipeline scores on the FPAA pins (use --top scorer)"),
])
def test_bad_board_or_config_is_one_line_exit_2(args, message):
    proc = atis(*args)
    assert proc.returncode == 2 and proc.stderr.strip() == message


def test_wiring_table_covers_dac_channels_and_comparators():
    rows = wiring_table("icebreaker", n_dac=8, heads=2)
    signals = [r["signal"] for r in rows]
    assert signals[:3] == ["sync_n", "din", "sclk"] and signals.count("comparator0") == 1
    assert [r["pmod_da4"] for r in rows[:3]] == ["J1.1", "J1.2", "J1.4"]
    assert sum(s.startswith("VOUT") for s in signals) == 8
    assert all(len(p.comparator_pins) >= 1 for p in PINS.values())


@pytest.mark.board
@pytest.mark.parametrize("board, target, bitstream", [("icebreaker", 24.0, "atis.bin")])
def test_board_build_fits_and_meets_its_clock(tmp_path, board, target, bitstream):
    """The iCE40 build in the regression; every board's figures: benchmarks/board_builds.py."""
    proc = atis("build", "--board", board, "--out", str(tmp_path), "--blocks", "--seeds", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (tmp_path / board / bitstream).stat().st_size > 10_000
    assert not (tmp_path / f".{board}.building").exists()     # built aside, moved into place on success
    assert atis("flash", "--board", board, "--out", str(tmp_path), "--dry-run").stderr == ""  # its hash matches
    assert report["meets_timing"] and min(report["fmax_MHz"].values()) >= target and report["top"] == "pipeline"
    used = {k: v for k, v in report["utilization"].items() if v["used"]}
    assert used and all(v["used"] <= v["available"] for v in used.values())
    assert report["critical_path"]["delay_ns"] > 0
    seeds = report["fmax_seeds"]      # placed and routed twice: the margin is judged on the worse seed
    assert seeds["seeds"] == 2 and seeds["min"] == min(report["seed_fmax_MHz"].values()) and seeds["margin_MHz"] == 26.4
    assert (tmp_path / board / "atis_report.md").read_text().startswith(f"# atis build: {board}")
    blocks = report["blocks"]     # where the area goes: scorer, transformer, host link, UART
    core = "top.link.target"      # (not `target`: that is the clock this test is parametrized with)
    assert blocks[f"{core}.transformer"]["lut"] > 0 and blocks[f"{core}.transformer"]["bram"] > 0
    assert blocks[f"{core}.scorer"]["lut"] > 0 and blocks["top.link"]["lut"] > blocks[core]["lut"]
    assert blocks["top"]["lut"] >= blocks[f"{core}.transformer"]["lut"] + blocks[f"{core}.scorer"]["lut"] \
        + blocks["top.rx"]["lut"]


def test_fpaa_export_writes_the_program_and_its_quantization_error(tmp_path):
    from atis.config import load_config
    from atis.fpaa_export import fpaa_program, write_fpaa_program
    cfg = load_config()
    fine, coarse = fpaa_program(cfg, steps=255), fpaa_program(cfg, steps=7)
    assert len(fine["rows"]) == cfg.projection.m
    assert fine["quantization"]["max_abs_weight_error"] <= 0.5 / 255 + 1e-12
    assert coarse["quantization"]["max_abs_weight_error"] > fine["quantization"]["max_abs_weight_error"]
    assert coarse["quantization"]["spearman_programmed_vs_ideal"] < fine["quantization"]["spearman_programmed_vs_ideal"]
    assert {r["dac_channel"] for r in fine["rows"]} == set(range(8))
    table, full = write_fpaa_program(fine, tmp_path)
    assert table.read_text().splitlines()[0] == "input,dac_channel,round,weight,polarity,gain_steps,gain,error"
    assert len(table.read_text().splitlines()) == cfg.projection.m + 1 and full.is_file()


def test_failed_build_names_the_error_in_the_tool_log(tmp_path):
    """Yosys -q writes its error to atis.rpt, not to the script's output: the message must quote it."""
    from atis.boards.build import _first_error
    (tmp_path / "build.log").write_text("")
    (tmp_path / "atis.rpt").write_text("2.46.18.7. Executing ABC_OPS_REINTEGRATE pass\nERROR: Assert `x' failed\n")
    assert _first_error(tmp_path) == ("atis.rpt", "ERROR: Assert `x' failed")
    (tmp_path / "atis.rpt").write_text("fine\n")
    assert _first_error(tmp_path) == ("build.log", None)


def _fake_toolchain(where, failures: list[str]):
    """A build script that fails with the given logs' errors, one per run, then succeeds."""
    (where / "atis.ys").write_text("read_rtlil atis.il\n    synth_ecp5  -top atis\n")
    (where / "runs").write_text("0")
    logs = {"abc9": ("atis.rpt", "Executing ABC_OPS_REINTEGRATE pass\nERROR: Assert `x' failed"),
            "driven": ("atis.tim", "ERROR: Net 'p[12]' is multiply driven by cell ports w.DOA12 and w.DOA6"),
            "other": ("atis.tim", "ERROR: Unable to place cell 'x'")}
    for i, f in enumerate(failures):
        (where / f"fail_{i}").write_text(logs[f][1] + "\n")
    steps = "\n".join(f'[ "$n" = {i} ] && {{ cp fail_{i} {logs[f][0]}; echo $((n + 1)) > runs; exit 1; }}'
                      for i, f in enumerate(failures))
    (where / "build_atis.sh").write_text(f"n=$(cat runs)\ncp atis.ys atis_$n.ys\n{steps}\nexit 0\n")


def test_known_yosys_failures_are_retried_with_other_options(tmp_path):
    from atis.boards.build import YOSYS_RETRIES, _run_toolchain
    _fake_toolchain(tmp_path, ["abc9", "driven"])
    proc, options, tries = _run_toolchain(tmp_path)
    assert proc.returncode == 0 and tries == 3 and options == YOSYS_RETRIES[2]
    assert [("synth_ecp5 " + YOSYS_RETRIES[i]).strip() in (tmp_path / f"atis_{i}.ys").read_text()
            for i in range(3)] == [True] * 3
    _fake_toolchain(tmp_path, ["other", "other"])           # a real error is not retried
    proc, options, tries = _run_toolchain(tmp_path)
    assert proc.returncode == 1 and tries == 1
