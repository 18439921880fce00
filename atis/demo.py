"""``atis demo``: the whole chain on one config — Verilog, lint, the projection bench against the golden model,
the scorer co-simulated with the FPAA model in the loop, the FPAA model's characterization, the energy account, and
(with trained weights) the digits accuracy unpruned and pruned by the FPAA model vs oracle and random."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from atis.analog_models.energy import EnergyReport, energy_report
from atis.cocotb_tests.runner import Bench, BenchResult, run_bench
from atis.hdl.export import lint_verilog, write_verilog

from .config import AtisConfig
from .design import resolve_design
from .fpaa_report import FpaaReport, characterize
from .golden.projection import ProjectionSpec

__all__ = ["DemoReport", "run_demo"]


@dataclass
class DemoReport:
    config: AtisConfig
    spec: ProjectionSpec
    verilog: list[Path]
    lint_clean: bool
    lint_output: str
    bench: BenchResult
    scorer: BenchResult
    fpaa: FpaaReport
    energy: EnergyReport
    digits: dict | None         # the reduced digits sweep when the config has trained weights
    wall_s: float

    @property
    def passed(self) -> bool:
        return self.lint_clean and self.bench.passed and self.scorer.passed


def run_demo(cfg: AtisConfig, out_dir: Path, *, tokens: int = 1000, scorer_tokens: int = 100,
             progress=None) -> DemoReport:
    """Generate and lint the Verilog of every block, run the projection bench of the config's kind and the scorer
    co-simulation, characterize the FPAA model and account the energy.

    ``progress(step: str)`` is called before each step (the CLI shows it in a status line).
    """
    step = progress or (lambda _: None)
    started = time.monotonic()
    design = resolve_design(cfg)     # fails early, before anything is written, on bad weight/calibration files
    step("generating Verilog")
    paths = write_verilog(design, out_dir / "verilog")
    step("linting with verilator -Wall")
    results = [lint_verilog(p) for p in paths]
    lint_clean = all(ok for ok, _ in results)
    step(f"running the projection bench ({tokens} random tokens + edge tokens, Verilator)")
    # The config exactly as given (its own kind and weight/calibration files), unlike the regression's variants.
    bench = Bench(f"projection-{cfg.projection.kind}", "projection", "atis.cocotb_tests.test_projection")
    result = run_bench(bench, cfg, work_dir=out_dir / "sim", tokens=tokens)
    step(f"co-simulating the scorer with the FPAA model in the loop ({scorer_tokens} tokens, Verilator)")
    scorer = run_bench(Bench("scorer", "scorer", "atis.cocotb_tests.test_scorer"), cfg, work_dir=out_dir / "sim",
                       tokens=scorer_tokens, testcase="test_keep_mask_equals_vectorized_model")
    step("characterizing the FPAA model on projected tokens")
    fpaa = characterize(cfg, n=5000, progress=lambda s: step(f"FPAA model: {s}"))
    digits = None
    if cfg.transformer.weights is not None and cfg.model.seq_len >= 64:
        from .sweep import run_sweep
        digits = run_sweep(cfg, keeps=(1.0, cfg.fpaa.comparator.keep_target),
                           scorers=["oracle", "random", f"fpaa-{cfg.projection.dac_bits}b"],
                           progress=lambda s: step(f"digits: {s}"))
    lint_output = "\n".join(o for _, o in results if o)
    return DemoReport(cfg, design.projection, paths, lint_clean, lint_output, result, scorer, fpaa,
                      energy_report(cfg), digits, time.monotonic() - started)
