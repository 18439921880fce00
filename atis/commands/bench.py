"""``atis bench scorer|attention|digits``: co-simulation measurements of RTL blocks under Verilator."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..config import bundled_config, load_config, with_overrides
from ..design import MaskMode, transformer_unsupported
from ._common import BenchDirOpt, ConfigOpt, FiguresJsonOpt, console, fail, finish_bench, writable

__all__ = ["app", "FpaaBfmKind", "DacKind", "ReadoutKind", "SelectionKind", "bench_scorer", "bench_attention",
           "bench_digits"]

app = typer.Typer(no_args_is_help=True, help="Co-simulation measurements of RTL blocks (Verilator).")


class FpaaBfmKind(str, Enum):
    """The scorer bench's FPAA BFM: the analog model or a constant comparator."""
    model = "model"
    constant = "constant"


class ReadoutKind(str, Enum):
    """The scorer's readout (``fpaa.readout.mode``): the comparator's keep bit or a b-bit SAR code."""
    comparator = "comparator"
    sar = "sar"


class SelectionKind(str, Enum):
    """The per-sequence selection (``fpga.selection.mode``)."""
    threshold = "threshold"
    topk = "topk"
    cap = "cap"


class DacKind(str, Enum):
    """The digits bench's DAC port: the config's SPI DAC or a parallel bus."""
    spi = "spi"
    parallel = "parallel"


def _needs_fpaa(cfg, command: str) -> None:
    """The scorer and digits benches put the FPAA model on the scorer's pins: a digital-scorer config has none."""
    if cfg.fpga.scorer != "fpaa":
        fail(f"{cfg.source}: fpga.scorer = {cfg.fpga.scorer}: `atis bench {command}` co-simulates the FPAA scorer's "
             f"pins (use a config with fpga.scorer: fpaa, e.g. configs/icebreaker.yaml)", 2)


@app.command("scorer")
def bench_scorer(config: ConfigOpt = None,
                 n: Annotated[int, typer.Option("--n", min=2, metavar="N", help="tokens to co-simulate")] = 200,
                 fpaa: Annotated[FpaaBfmKind, typer.Option(metavar="model|constant",
                                                           help="FPAA BFM: the analog model, or a constant "
                                                                "comparator (to measure the model's co-sim "
                                                                "overhead)")] = FpaaBfmKind.model,
                 readout: Annotated[ReadoutKind | None, typer.Option(
                     metavar="comparator|sar", help="score readout (default: the config's fpaa.readout.mode)")] = None,
                 bits: Annotated[int | None, typer.Option(min=2, max=8, metavar="B", help="SAR code bits (default: "
                                                          "the config's fpaa.readout.bits)")] = None,
                 selection: Annotated[SelectionKind | None, typer.Option(
                     metavar="threshold|topk|cap", help="per-sequence selection (default: the config's "
                                                        "fpga.selection.mode)")] = None,
                 keep: Annotated[float | None, typer.Option(min=0.0, max=1.0, metavar="RATIO", help="top-k: kept "
                                                            "fraction of every sequence (default: the config's "
                                                            "fpga.selection.keep)")] = None,
                 out: BenchDirOpt = Path("build/bench"),
                 as_json: FiguresJsonOpt = False) -> None:
    """Scorer RTL + DAC monitor + FPAA model: tokens/s (simulated), SPI utilization, cycles/token, mismatches.
    With a SAR readout or a per-sequence selection (issue 18): every code and kept set against the model and
    the golden selection, the kept fraction of every sequence; N is rounded up to whole sequences."""
    from atis.cocotb_tests.runner import Bench, run_bench
    cfg = _with_readout(load_config(config), readout, bits, selection, keep)
    _needs_fpaa(cfg, "scorer")
    writable(out)
    if cfg.fpaa.readout.mode == "sar" or cfg.fpga.selection.mode != "threshold":
        if fpaa is FpaaBfmKind.constant:
            fail("--fpaa constant: only with the comparator readout and the threshold selection", 2)
        return _bench_readout(cfg, n, out, as_json)
    bench = Bench(f"scorer-{fpaa.value}", "scorer", "atis.cocotb_tests.test_scorer")
    with console.status(f"co-simulating {n} tokens through the scorer ..."):
        result = run_bench(bench, cfg, work_dir=out, tokens=n, testcase="test_keep_mask_equals_vectorized_model",
                           extra_env={"ATIS_BENCH_FPAA": fpaa.value})
    scorer = result.metrics.get("scorer", {})
    if scorer:
        _print_figures(f"scorer co-simulation ({scorer['part']}, m = {scorer['m']}, {scorer['n_dac']} DACs, "
                       f"FPAA {scorer['fpaa']})", scorer)
    finish_bench(result, as_json, {"spi_utilization": None, **scorer})


def _print_figures(title: str, figures: dict) -> None:
    """The numeric figures of a bench's metrics as a two-column table."""
    table = Table(title=title)
    table.add_column("quantity", no_wrap=True)
    table.add_column("value", justify="right")
    for key, value in figures.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            table.add_row(key, f"{value:,.4g}" if isinstance(value, float) else f"{value:,}")
    console.print(table)


def _with_readout(cfg, readout, bits, selection, keep):
    fpaa = {k: v for k, v in (("mode", readout and readout.value), ("bits", bits)) if v is not None}
    sel = {k: v for k, v in (("mode", selection and selection.value), ("keep", keep)) if v is not None}
    return with_overrides(cfg, {"fpaa": {"readout": fpaa}, "fpga": {"selection": sel}}) if fpaa or sel else cfg


def _bench_readout(cfg, n: int, out: Path, as_json: bool) -> None:
    from atis.cocotb_tests.runner import Bench, run_bench
    seq_len = cfg.model.seq_len
    tokens = -(-n // seq_len) * seq_len
    bench = Bench("scorer-readout", "scorer", "atis.cocotb_tests.test_readout")
    with console.status(f"co-simulating {tokens} tokens ({tokens // seq_len} sequences) through the scorer ..."):
        result = run_bench(bench, cfg, work_dir=out, tokens=tokens, testcase="test_codes_and_kept_sets_equal_the_model")
    figures = result.metrics.get("readout", {})
    if figures:
        _print_figures(f"scorer co-simulation: {figures['readout']} readout, {figures['bits']} bit(s), "
                       f"{figures['mode']} per {figures['n']} tokens", figures)
    finish_bench(result, as_json, figures)


@app.command("attention")
def bench_attention(config: ConfigOpt = None,
                    n: Annotated[list[int], typer.Option("--n", min=1, metavar="N",
                                                         help="tokens per sequence (repeatable)")] = [64],
                    keep: Annotated[list[float], typer.Option("--keep", min=0.0, max=1.0, metavar="RATIO",
                                                              help="keep ratio of the gated run (repeatable)")]
                    = [0.3],
                    mask: Annotated[MaskMode | None, typer.Option(metavar="drop|keymask",
                                                                     help="mask semantics (default: the config's)")]
                    = None,
                    out: BenchDirOpt = Path("build/bench"),
                    as_json: FiguresJsonOpt = False) -> None:
    """Transformer RTL: attention-core cycles dense (all kept) vs gated on the same tokens, logits vs golden."""
    from atis.cocotb_tests.runner import Bench, run_bench
    cfg = load_config(config)
    semantics = mask.value if mask is not None else cfg.transformer.mask
    if max(n) > cfg.model.seq_len:
        fail(f"--n {max(n)}: above model.seq_len = {cfg.model.seq_len} (the RTL's sequence buffer)", 2)
    if min(keep) <= 0:
        fail("--keep 0: at least one token must be kept to measure a gated run", 2)
    why = transformer_unsupported(cfg)
    if why:
        fail(why, 2)
    writable(out)
    bench = Bench(f"attention-{semantics}", "transformer", "atis.cocotb_tests.test_transformer",
                  {"transformer": {"mask": semantics}})
    with console.status(f"building the transformer RTL and co-simulating n = {n}, keep = {keep} ({semantics}) ..."):
        result = run_bench(bench, cfg, work_dir=out, testcase="test_attention_cycles",
                           extra_env={"ATIS_BENCH_N": ",".join(map(str, n)),
                                      "ATIS_BENCH_KEEP": ",".join(map(str, keep))})
    att = result.metrics.get("attention", {})
    runs = att.get("runs", [])
    if runs:
        table = Table(title=f"attention core, {semantics}: d = {att['d_model']}, {att['heads']} heads, "
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
    finish_bench(result, as_json, {**(runs[0] if len(runs) == 1 else {"runs": runs}),
                                   **{k: v for k, v in att.items() if k != "runs"}})


@app.command("digits")
def bench_digits(config: ConfigOpt = None,
                 images: Annotated[int, typer.Option(min=1, max=539, metavar="N",
                                                     help="test images through the RTL")] = 100,
                 keep: Annotated[float, typer.Option(min=0.01, max=1.0, metavar="K", help="FPAA keep target")] = 0.3,
                 dac: Annotated[DacKind, typer.Option(metavar="spi|parallel",
                                                      help="DAC port: the config's AD5628 SPI or a parallel bus "
                                                           "(faster to co-simulate)")] = DacKind.parallel,
                 out: BenchDirOpt = Path("build/bench"),
                 as_json: FiguresJsonOpt = False) -> None:
    """Digits test images through the whole RTL: scorer with the FPAA model on its pins -> transformer; every
    keep bit and class checked against the vectorized model + golden transformer; RTL accuracy."""
    from atis.cocotb_tests.runner import pipeline_bench, run_bench
    from atis.sweep import hardware_scorer
    config = config or bundled_config("icebreaker")
    cfg = load_config(config)
    _needs_fpaa(cfg, "digits")
    if cfg.model.seq_len != 64 or cfg.transformer.weights is None:
        fail(f"{config}: the digits need model.seq_len = 64 and trained transformer.weights "
             f"(configs/icebreaker.yaml has both)", 2)
    writable(out)
    with console.status(f"co-simulating {images} digits through scorer + FPAA model + transformer ..."):
        result = run_bench(pipeline_bench(hardware_scorer(keep), dac.value), cfg, work_dir=out,
                           extra_env={"ATIS_BENCH_IMAGES": str(images)})
    figures = result.metrics.get("pipeline", {})
    for key, value in figures.items():
        console.print(f"{key}: {value}", highlight=False)
    finish_bench(result, as_json, figures)
