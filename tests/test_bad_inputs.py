"""The bad-input tour (issue 16, first part): each bad file or value, through the commands that load it, ends in one
`error:` line naming the key, option or file, exit code 2, no traceback, nothing accepted silently."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

WEIGHTS = "configs/weights/digits_d64.npz"


def atis(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "atis.cli", *args], capture_output=True, text=True)


def _config(tmp_path, text: str | bytes):
    path = tmp_path / "c.yaml"
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def _weights(tmp_path, **changes):
    arrays = dict(np.load(WEIGHTS)) | changes
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    return path


CONFIG_TEXT = [
    (b"model:\n  d_model: 6\xe94\n", "not UTF-8 text (byte 0xe9 on line 2)"),
    ("model:\n  d_model: 64\n  d_model: 32\n", "duplicate key 'd_model' (first on line 2)"),
    ("model:\n  1: 2\n", "key 1 is not a name"),
    ("model: [\n", "not valid YAML at line 2, column 1: expected the node content"),
    ("model:\n  d_model: 65536\n", "model.d_model = 65536: must be in 2..1024"),
]


@pytest.mark.parametrize("text, message", CONFIG_TEXT, ids=[m.split(":")[0][:20] for _, m in CONFIG_TEXT])
@pytest.mark.parametrize("command", [("config",), ("energy", "--json")])
def test_config_text(tmp_path, text, message, command):
    proc = atis(*command, "-c", str(_config(tmp_path, text)))
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def _bad_weights(tmp_path, kind: str):
    if kind == "empty":
        (tmp_path / "w.npz").write_bytes(b"")
    elif kind == "text":
        (tmp_path / "w.npz").write_text("b0_wq = 1\n")
    elif kind == "npy":
        np.save(tmp_path / "w.npy", np.zeros(3))
        (tmp_path / "w.npy").rename(tmp_path / "w.npz")
    elif kind == "truncated":
        _weights(tmp_path)
        data = (tmp_path / "w.npz").read_bytes()
        (tmp_path / "w.npz").write_bytes(data[: len(data) // 2])
    elif kind == "nan":
        _weights(tmp_path, b0_w1=np.full((64, 128), np.nan))
    elif kind == "float":
        _weights(tmp_path, b0_wq=np.full((64, 64), 0.5))
    elif kind == "shape":
        _weights(tmp_path, wc=np.zeros((64, 3), dtype=np.int8))
    elif kind == "pickled":
        _weights(tmp_path, bc=np.array([{"x": 1}], dtype=object))
    return tmp_path / "w.npz"


WEIGHT_CASES = {"empty": "the file is empty", "text": "no zip header", "npy": "a single .npy array",
                "truncated": "not a readable .npz", "nan": "b0_w1 holds NaN", "float": "b0_wq must be an integer",
                "shape": "wc has shape [64, 3], expected [64, 10]", "pickled": "holds Python objects"}


@pytest.mark.parametrize("kind", list(WEIGHT_CASES))
@pytest.mark.parametrize("command", [("config",), ("energy", "--json"), ("sweep", "--scheduler", "serial")])
def test_weight_files_are_checked_when_the_config_loads(tmp_path, kind, command):
    path = _bad_weights(tmp_path, kind)
    cfg = _config(tmp_path, f"transformer:\n  weights: {path}\n")
    proc = atis(*command, "-c", str(cfg), *(("-o", str(tmp_path / "out")) if command[0] == "sweep" else ()))
    assert proc.returncode == 2, proc.stderr
    assert f"transformer.weights = '{path}'" in proc.stderr and WEIGHT_CASES[kind] in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "allow_pickle" not in proc.stderr
    assert not (tmp_path / "out" / "sweep.json").exists()


def test_degenerate_energy_numbers_stay_valid_json(tmp_path):
    cfg = _config(tmp_path, "energy:\n  mac_pJ: 0\n  dac_pJ_per_conv_bit: 0\n  attention_pJ_per_element: 0\n"
                            "fpaa:\n  comparator:\n    keep_target: 0\n")
    proc = atis("energy", "-c", str(cfg), "--json", "--break-even", "--plot", str(tmp_path / "e.png"))
    assert proc.returncode == 0, proc.stderr
    strict = json.loads(proc.stdout.strip().splitlines()[-1], parse_constant=lambda c: pytest.fail(c))
    assert strict["attention_reduction"] is None and "no token kept" in strict["attention_reduction_note"]
    assert all(v is None for v in strict["break_even"]["break_even_n"].values())


@pytest.mark.parametrize("command", [("sweep", "--scheduler", "serial"), ("validate",)])
def test_unwritable_out_fails_before_the_work(tmp_path, command):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = atis(*command, "-o", str(blocker / "sub"))
    assert proc.returncode == 2 and f"--out {blocker / 'sub'}: cannot write there" in proc.stderr, proc.stderr


def test_version():
    proc = atis("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("atis ")


OUTPUTS = [  # (command before the path, the option, the path under tmp, the message)
    (("fpaa", "--n", "100"), "--plot", "file/x.png", "cannot write there ({file} is a file)"),
    (("energy",), "--plot", "dir", "is a folder; give a file name, e.g. {dir}/figure.png"),
    (("energy",), "--plot", "dir/e", "the file name must end in .png, .pdf, .svg"),
    (("verilog", "-b", "projection"), "--out", "file/v", "cannot write there ({file} is a file)"),
    (("fpaa-export",), "--out", "file", "is a file, not a folder"),
    (("demo",), "--out", "file/d", "cannot write there"),
    (("bench", "scorer"), "--out", "file/b", "cannot write there"),
    (("build", "--board", "icebreaker"), "--out", "file/b", "cannot write there"),
    (("run", "--virtual"), "--out", "dir", "is a folder"),
    (("run", "--virtual"), "--work-dir", "file/w", "cannot write there"),
    (("train",), "--out", "dir/w.txt", "the file name must end in .npz"),
]


@pytest.mark.parametrize("command, option, where, message", OUTPUTS,
                         ids=[f"{c[0]}{o}-{w}" for c, o, w, _ in OUTPUTS])
def test_output_paths_are_checked_before_the_work(tmp_path, command, option, where, message):
    (tmp_path / "file").write_text("")
    (tmp_path / "dir").mkdir()
    path = tmp_path / where
    proc = atis(*command, option, str(path))
    expected = message.format(file=tmp_path / "file", dir=tmp_path / "dir")
    assert proc.returncode == 2 and f"{option} {path}" in proc.stderr and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_second_run_into_the_same_folder_is_refused(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
                               "from atis.outlock import lock_folder\nlock_folder(Path(sys.argv[1]))\n"
                               "print('held', flush=True)\ntime.sleep(60)", str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = atis("fpaa-export", "-o", str(tmp_path))
        assert proc.returncode == 2, proc.stderr
        assert f"another atis command (pid {holder.pid}) is writing there" in proc.stderr, proc.stderr
    finally:
        holder.kill()
        holder.wait()
    assert atis("fpaa-export", "-o", str(tmp_path)).returncode == 0     # the lock died with its process
