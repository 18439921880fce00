"""BenchEnv (cocotb_tests/harness.py): the benches' environment read once, with the defaults the benches had."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from atis.cocotb_tests.harness import BenchEnv, write_metric
from atis.config import DEFAULT_CONFIG, load_config

__all__: list[str] = []   # a pytest module: nothing to import


def test_defaults_with_only_the_config_set() -> None:
    env = BenchEnv.from_env({"ATIS_BENCH_CONFIG": str(DEFAULT_CONFIG)})
    cfg = load_config(DEFAULT_CONFIG)
    assert env.cfg == cfg
    assert (env.tokens, env.seed, env.metrics, env.fpaa, env.images, env.models) == (1000, 1, None, None, 100, 3)
    assert env.n == (cfg.model.seq_len,) and env.keep == (0.3,) and not env.constant_fpaa


def test_reads_every_variable(tmp_path: Path) -> None:
    env = BenchEnv.from_env({"ATIS_BENCH_CONFIG": str(DEFAULT_CONFIG), "ATIS_BENCH_TOKENS": "20",
                             "ATIS_BENCH_SEED": "7", "ATIS_BENCH_METRICS": str(tmp_path / "m.json"),
                             "ATIS_BENCH_FPAA": "constant", "ATIS_BENCH_N": "4,16", "ATIS_BENCH_KEEP": "0.25,0.5",
                             "ATIS_BENCH_IMAGES": "30", "ATIS_BENCH_MODELS": "2"})
    assert (env.tokens, env.seed, env.metrics, env.images, env.models) == (20, 7, tmp_path / "m.json", 30, 2)
    assert env.n == (4, 16) and env.keep == (0.25, 0.5) and env.constant_fpaa


@pytest.mark.parametrize("environ, error", [
    ({}, "ATIS_BENCH_CONFIG is not set"),
    ({"ATIS_BENCH_N": "4,x"}, "ATIS_BENCH_N"),
    ({"ATIS_BENCH_TOKENS": "many"}, "ATIS_BENCH_TOKENS"),
])
def test_bad_environment_names_the_variable(environ: dict, error: str) -> None:
    if environ:
        environ = {"ATIS_BENCH_CONFIG": str(DEFAULT_CONFIG), **environ}
    with pytest.raises((RuntimeError, ValueError), match=error):
        BenchEnv.from_env(environ)


def test_write_metric_keeps_other_entries(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    write_metric(path, "a", {"x": 1})
    write_metric(path, "b", [1, 2])
    write_metric(None, "c", 3)               # no metrics file: nothing happens
    assert json.loads(path.read_text()) == {"a": {"x": 1}, "b": [1, 2]}
