"""`atis validate --model minilm` on a CI-sized slice (real all-MiniLM-L6-v2 attention, held-out docstrings)."""
from __future__ import annotations

import json
import subprocess
import sys

from atis.corpus import docstring_corpus


def atis(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "atis.cli", *args], capture_output=True, text=True)


def test_validate_ranks_real_attention(tmp_path):
    proc = atis("validate", "--limit", "24", "--calibration", "48", "-o", str(tmp_path), "--json",
                "--scheduler", "serial")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    corpus = docstring_corpus()            # frozen: this process parses the same text the command did
    assert result["corpus"]["sha256"] == corpus.sha256
    assert len(corpus.calibration) > 1000 and len(corpus.evaluation) > 300
    assert set(corpus.versions) == {"numpy", "scipy", "matplotlib", "sklearn"}
    rows = {(r["scorer"], r["keep"]): r for r in result["rows"]}
    scorers = {name for name, _ in rows}
    assert {"oracle", "random", "key-norm", "pagerank", "fpaa-jl", "fpaa-fold", "fpaa-learned",
            "fpaa-learned-3b", "fpaa-learned+10C-trimmed"} <= scorers
    assert len(rows) == len(scorers) * 3
    for (name, keep), r in rows.items():
        assert {"scorer", "keep", "mass", "recall", "spearman", "cos_mean", "cos_p5", "retrieval"} <= set(r)
        assert r["mass"] <= rows[("oracle", keep)]["mass"] + 1e-9
        assert len(r["per_layer"]) == 6
        if name.startswith("fpaa"):
            assert 0 <= r["mask_kept_p5"] <= r["mask_kept_p50"] <= r["mask_kept_p95"] <= 1
    for keep in (0.2, 0.3, 0.4):
        assert rows[("oracle", keep)]["recall"] == 1.0
        assert abs(rows[("random", keep)]["recall"] - keep) < 0.1
        # The hardware-faithful scorer must rank real attention far better than chance (it can fail).
        assert rows[("fpaa-learned", keep)]["recall"] > rows[("random", keep)]["recall"] + 0.25
    assert (tmp_path / "validate.md").read_text().count("| 0.3 |") == len(scorers)
    assert (tmp_path / "mass_recall_vs_keep.png").stat().st_size > 10_000


def test_validate_bad_input_is_one_line(tmp_path, monkeypatch):
    proc = atis("validate", "--model", "bert")
    assert proc.returncode == 2 and "--model bert: unknown model (available: minilm)" in proc.stderr
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = atis("validate", "-o", str(blocker / "sub"))
    assert proc.returncode == 2 and "cannot write there" in proc.stderr and "Traceback" not in proc.stderr
    from typer.testing import CliRunner

    from atis.cli import app
    from atis.commands import validate as command
    monkeypatch.setattr(command, "find_spec", lambda name: None if name == "torch" else object())
    result = CliRunner().invoke(app, ["validate", "-o", str(tmp_path / "v")])
    assert result.exit_code == 2 and 'pip install -e ".[real]"' in result.output
