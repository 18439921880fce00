"""Build and run cocotb benches under Verilator; used by the pytest wrappers and by ``atis regress``/``atis demo``.

Each bench gets ``build/sim/<bench>/``: the config it ran with (``config.yaml``), its Verilog (``rtl/``, with the
bench wrapper when the DUT has an AD5628 port: :mod:`.tb_wrapper`), ``obj.log`` (the Verilator build, or the line
naming the cached model it reused: :mod:`.model_cache`), ``sim.log``, ``results.xml`` and ``metrics.json``.
Simulations run without tracing; when a bench fails it is rebuilt with tracing and re-run once (same seeds, so the
same failure), keeping ``dump.fst`` (or ``dump.vcd`` where the FST writer's lz4 headers are missing).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import resource
import subprocess
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import yaml

import atis
from atis.config import AtisConfig, config_to_dict, load_config, with_overrides
from atis.design import resolve_design
from atis.hdl.export import LINT_WAIVERS, MODULE_PREFIX, write_verilog
from atis.toolchain import activate_verilator

from .model_cache import PortsOnlyVerilator, cached_model
from .tb_wrapper import wrap_for_bench

__all__ = ["Bench", "BenchResult", "BENCHES", "SPEED_ARGS", "SIM_ENV", "pipeline_bench", "select_benches",
           "bench_config", "run_bench", "DEFAULT_WORK_DIR"]

log = logging.getLogger(__name__)
#: The folder holding the ``atis`` package, for the simulator's Python (an editable checkout or site-packages).
PACKAGE_PARENT = Path(atis.__file__).resolve().parent.parent
DEFAULT_WORK_DIR = Path("build") / "sim"
#: Verilator options of every bench model: its slower optimizations (-O3), X values resolved for speed rather than
#: randomized (Amaranth gives every register an init value, so no X reaches a port), and --timing for the bench
#: wrapper's clock (tb_wrapper; its half period is never 0). No --threads: 2 shared cores, and cocotb's loop runs
#: between every evaluation.
SPEED_ARGS = ["-O3", "--x-assign", "fast", "--x-initial", "fast", "--timing", "--no-sched-zero-delay"]
#: Environment of every simulation. cocotb rewrites the asserts of every module imported after it starts (pytest's
#: rewriting, for readable failures) unless told which: that recompiled numpy/scipy/sklearn code on each launch, 1
#: to 7 s of CPU per simulation. The asserts are in the benches (test_*.py) and the virtual board.
SIM_ENV = {"COCOTB_REWRITE_ASSERTION_FILES": "test_*.py virtual_board.py"}


def _learned_weights(cfg: AtisConfig, where: Path) -> dict:
    """A seeded full-range int8 P[m, d], so the bench exercises real multipliers and the .npz loader."""
    rng = np.random.default_rng(cfg.projection.seed + 101)
    path = where / "learned_P.npz"
    np.savez(path, P=rng.integers(-128, 128, size=(cfg.projection.m, cfg.model.d_model), dtype=np.int8))
    return {"projection": {"kind": "learned", "weights": str(path)}}


def _topvar_calibration(cfg: AtisConfig, where: Path) -> dict:
    """Seeded calibration tokens whose per-dim spread differs, so the top-variance choice is not trivial."""
    rng = np.random.default_rng(cfg.projection.seed + 202)
    sigma = rng.uniform(2, 60, size=cfg.model.d_model)
    tokens = np.clip(np.rint(rng.normal(0, sigma, size=(512, cfg.model.d_model))), -128, 127).astype(np.int8)
    path = where / "topvar_calibration.npz"
    np.savez(path, tokens=tokens)
    return {"projection": {"kind": "topvar", "calibration": str(path)}}


@dataclass(frozen=True)
class Bench:
    """One cocotb bench × parameter set: which block, which cocotb module, and how to derive its config."""
    name: str
    block: str
    module: str
    overrides: dict = field(default_factory=dict)
    fixtures: Callable[[AtisConfig, Path], dict] | None = None   # writes data files, returns config overrides
    #: Overrides applied only to the config the *Verilog* is generated from, never to the golden side: a
    #: mutation test uses it to prove that a bench fails when RTL and golden disagree.
    rtl_overrides: dict = field(default_factory=dict)


BENCHES: list[Bench] = [
    Bench("projection-jl", "projection", "atis.cocotb_tests.test_projection", {"projection": {"kind": "jl"}}),
    Bench("projection-learned", "projection", "atis.cocotb_tests.test_projection", fixtures=_learned_weights),
    Bench("projection-topvar", "projection", "atis.cocotb_tests.test_projection", fixtures=_topvar_calibration),
    # The scorer with the FPAA model in the loop. SPI: a 16-wide token stream keeps 2000 co-simulated tokens
    # quick (16 inputs = 2 rounds of the 8 AD5628 channels, SCLK = clk/2); parallel: the default 64 x 64.
    Bench("scorer-spi", "scorer", "atis.cocotb_tests.test_scorer",
          {"model": {"d_model": 16}, "projection": {"m": 16}, "dac": {"sclk_divider": 2},
           "transformer": {"weights": None}}),
    Bench("scorer-parallel", "scorer", "atis.cocotb_tests.test_scorer", {"dac": {"part": "parallel"}}),
    # Three replicated head groups, one comparator pin each, keep if 2 of 3 fire (vote in the capture).
    Bench("scorer-heads", "scorer", "atis.cocotb_tests.test_scorer",
          {"model": {"d_model": 16}, "projection": {"m": 16}, "dac": {"sclk_divider": 2},
           "transformer": {"weights": None},     # the d = 64 weights do not fit d = 16; the scorer needs none
           "fpaa": {"heads": {"count": 6, "groups": 3, "consensus_k": 2}}}),
    # The transformer: 2 blocks of d = 16 (2 heads), 16-token sequences, 3 lanes (so 16 = 5·3 + 1 pads a lane).
    Bench("transformer", "transformer", "atis.cocotb_tests.test_transformer",
          {"model": {"d_model": 16, "seq_len": 16}, "projection": {"m": 16},
           "transformer": {"layers": 2, "heads": 2, "ffn": 32, "classes": 4, "lanes": 3, "weights": None}}),
    # The same shapes on the one-MAC engine of the board builds (its Verilog, its block RAMs under Verilator).
    Bench("transformer-sequenced", "transformer", "atis.cocotb_tests.test_transformer",
          {"model": {"d_model": 16, "seq_len": 16}, "projection": {"m": 16},
           "transformer": {"layers": 2, "heads": 2, "ffn": 32, "classes": 4, "engine": "sequenced",
                           "weights": None}}),
]


def pipeline_bench(scorer: Callable[[AtisConfig, Path], dict], dac: str = "parallel") -> Bench:
    """Digits through scorer + FPAA BFM + transformer (``cocotb_tests.test_pipeline``); run it on a config with
    trained weights and 64-token sequences (``configs/icebreaker.yaml``). ``scorer(cfg, where)`` fits the FPAA
    scorer into the bench's config (the digits flow's ``atis.sweep.hardware_scorer(keep)``): a fixture, so this
    layer does not depend on the flows."""
    overrides = {"dac": {"part": "parallel"}} if dac == "parallel" else {}
    return Bench(f"pipeline-digits-{dac}", "pipeline", "atis.cocotb_tests.test_pipeline", overrides,
                 fixtures=scorer)


@dataclass
class BenchResult:
    name: str
    tests: int = 0
    failures: int = 0
    wall_s: float = 0.0
    metrics: dict = field(default_factory=dict)
    failed_tests: list[str] = field(default_factory=list)
    #: failed test -> its root cause ("AttributeError: ..." from results.xml), so it reaches the screen
    causes: dict[str, str] = field(default_factory=dict)
    log: Path | None = None
    waveform: Path | None = None
    error: str | None = None        # the bench could not run (build failure, simulator crash)
    #: test -> {"wall_s", "sim_ns"} from results.xml (the cocotb test's own wall time and simulated time)
    cases: dict[str, dict] = field(default_factory=dict)
    build_s: float = 0.0            # Verilator build, or finding the cached model
    sim_wall_s: float = 0.0         # the simulator process(es), start to end
    sim_cpu_s: float = 0.0          # their CPU time (user + system): robust on a shared machine

    @property
    def passed(self) -> bool:
        return self.error is None and self.failures == 0 and self.tests > 0


def select_benches(pattern: str | None = None) -> list[Bench]:
    """Benches whose name contains ``pattern`` or matches it as a glob (all when None)."""
    if not pattern:
        return list(BENCHES)
    return [b for b in BENCHES if pattern in b.name or fnmatch(b.name, pattern)]


def bench_config(bench: Bench, base: AtisConfig, where: Path) -> AtisConfig:
    """The config ``bench`` runs with on ``base`` (its overrides, then its fixtures' files written to ``where``)."""
    cfg = with_overrides(base, bench.overrides)
    if bench.fixtures is not None:
        cfg = with_overrides(cfg, bench.fixtures(cfg, where))
    return dataclasses.replace(cfg, source=where / "config.yaml")


def _read_results(xml: Path) -> tuple[int, int, dict[str, str]]:
    """(tests, failures, failed test -> "Type: message") of a cocotb results file."""
    if not xml.is_file():
        return 0, 0, {}
    tests = failures = 0
    failed = {}
    for case in ElementTree.parse(xml).getroot().iter("testcase"):
        tests += 1
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is not None:
            failures += 1
            kind, message = problem.get("type", ""), (problem.get("message") or "").strip()
            failed[case.get("name", "?")] = ": ".join(filter(None, [kind, message.splitlines()[0] if message
                                                                      else ""])) or "no message"
    return tests, failures, failed


def _case_times(xml: Path) -> dict[str, dict]:
    """test -> its wall time and simulated time (ns) as cocotb's results file reports them."""
    if not xml.is_file():
        return {}
    times = {}
    for case in ElementTree.parse(xml).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        times[case.get("name", "?")] = {"wall_s": float(case.get("time", 0)),
                                        "sim_ns": float(props.get("sim_time_duration") or 0)}
    return times


def _crash_cause(log: Path) -> str | None:
    """The last error line of a simulation that wrote no results (e.g. a clock period the simulator's
    precision cannot represent), so the bench's message can quote it."""
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    hits = [ln.strip() for ln in lines if any(w in ln for w in ("Error", "error:", "ERROR", "Exception"))]
    return hits[-1][:300] if hits else None


def trace_format() -> str:
    """"fst" when the C++ compiler finds ``lz4.h`` (Verilator's FST writer needs it, Debian: liblz4-dev), else
    "vcd", which needs nothing extra."""
    cxx = os.environ.get("CXX", "c++")
    try:
        probe = subprocess.run([cxx, "-E", "-x", "c++", "-"], input="#include <lz4.h>\n", capture_output=True,
                               text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return "vcd"
    return "fst" if probe.returncode == 0 else "vcd"


def run_bench(bench: Bench, config: AtisConfig | None = None, *, work_dir: Path | None = None,
              tokens: int = 1000, seed: int = 1, testcase: str | None = None,
              extra_env: dict[str, str] | None = None) -> BenchResult:
    """Generate the block's Verilog from the config (default: ``configs/default.yaml``), build it with Verilator
    and run the bench's cocotb tests (only ``testcase`` when given; ``extra_env`` reaches the bench)."""
    started = time.monotonic()
    activate_verilator()
    where = ((work_dir or DEFAULT_WORK_DIR) / bench.name).resolve()   # cocotb nests relative result paths
    where.mkdir(parents=True, exist_ok=True)
    for stale in ("metrics.json", "results.xml", "dump.fst", "dump.vcd", "sim.log", "sim.traced.log"):
        (where / stale).unlink(missing_ok=True)
    cfg = bench_config(bench, config if config is not None else load_config(), where)
    (where / "config.yaml").write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    rtl_cfg = with_overrides(cfg, bench.rtl_overrides) if bench.rtl_overrides else cfg
    sources, toplevel = wrap_for_bench(write_verilog(resolve_design(rtl_cfg), where / "rtl", [bench.block]),
                                       MODULE_PREFIX + bench.block)
    result = BenchResult(bench.name, log=where / "sim.log")
    env = {**SIM_ENV, "ATIS_BENCH_CONFIG": str(where / "config.yaml"), "ATIS_BENCH_TOKENS": str(tokens),
           "ATIS_BENCH_SEED": str(seed), "ATIS_BENCH_METRICS": str(where / "metrics.json"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_PARENT), os.environ.get("PYTHONPATH")])),
           **(extra_env or {})}
    runner = PortsOnlyVerilator()
    runner.log.setLevel(log.getEffectiveLevel())   # the runner forces INFO; follow the caller's logging instead

    def build(obj: str, trace: list[str]) -> Path | None:
        began = time.monotonic()
        try:
            return cached_model(runner, sources, toplevel, [*LINT_WAIVERS, *SPEED_ARGS, *trace], waves=bool(trace),
                                log_file=where / f"{obj}.log")
        except (RuntimeError, SystemExit) as e:
            result.error = f"Verilator build failed ({e}); see {where / f'{obj}.log'}"
            result.log = where / f"{obj}.log"
            return None
        finally:
            result.build_s += time.monotonic() - began

    def simulate(model: Path, waves: bool, log: str) -> None:
        began, cpu = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            runner.test(test_module=bench.module, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog",
                        build_dir=model, test_dir=where, testcase=testcase, extra_env=env,
                        results_xml=str(where / "results.xml"), log_file=where / log, waves=waves, seed=seed)
        except (RuntimeError, SystemExit):
            pass    # judged from results.xml: a crash leaves no (or a partial) results file
        done = resource.getrusage(resource.RUSAGE_CHILDREN)
        result.sim_wall_s += time.monotonic() - began
        result.sim_cpu_s += done.ru_utime - cpu.ru_utime + done.ru_stime - cpu.ru_stime

    model = build("obj", [])
    if model is None:
        result.wall_s = time.monotonic() - started
        return result
    simulate(model, waves=False, log="sim.log")
    result.tests, result.failures, result.causes = _read_results(where / "results.xml")
    result.failed_tests = list(result.causes)
    result.cases = _case_times(where / "results.xml")
    if result.tests == 0:
        cause = _crash_cause(where / "sim.log")
        result.error = f"simulation produced no results ({cause or 'no error line'}); see {where / 'sim.log'}"
    if not result.passed:
        # Same seeds, so the traced re-run reproduces the failure; its results.xml replaces the first one's.
        fmt = trace_format()
        traced = build("obj-trace", ["--trace-fst" if fmt == "fst" else "--trace-vcd", "--trace-structs"])
        if traced is not None:
            simulate(traced, waves=True, log="sim.traced.log")
            wave = where / f"dump.{fmt}"
            result.waveform = wave if wave.is_file() else None
    metrics = where / "metrics.json"
    result.metrics = json.loads(metrics.read_text()) if metrics.is_file() else {}
    result.wall_s = time.monotonic() - started
    return result
