"""``atis train`` and ``atis sweep``: the digits transformer's training and the accuracy × keep × scorer sweep."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..config import load_config
from ._common import ConfigOpt, FiguresJsonOpt, console, fail, writable, writable_file

__all__ = ["app", "train", "sweep"]

app = typer.Typer()


@app.command()
def train(config: ConfigOpt = None,
          out: Annotated[Path | None, typer.Option("--out", "-o", metavar="NPZ",
                                                      help="weights file (default: the config's transformer.weights)")]
          = None,
          seed: Annotated[int, typer.Option(min=0, metavar="S",
                                            help="torch seed (the run is reproducible from it)")] = 0,
          epochs_float: Annotated[int, typer.Option(min=0, metavar="N", help="float epochs")] = 60,
          epochs_qat: Annotated[int, typer.Option(min=0, metavar="N", help="quantization-aware epochs")] = 20) -> None:
    """Train the transformer on the 8×8 digits (float, then QAT to the golden int8 format); needs the extra
    `train` (CPU torch). Prints float, int8 and float-twin test accuracy."""
    from rich.progress import Progress

    from ..train import train as run_training
    cfg = load_config(config)
    target = out or cfg.transformer.weights
    if target is None:
        fail("no output: give --out or set transformer.weights in the config", 2)
    writable_file(Path(target), "--out" if out else "transformer.weights", (".npz",))
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
          keep: Annotated[list[float] | None, typer.Option("--keep", min=0.01, max=1.0, metavar="RATIO",
                                                              help="keep ratios (default 1.0 0.6 0.4 0.3 0.2)")]
          = None,
          scorer: Annotated[list[str] | None, typer.Option(
              "--scorer", metavar="NAME", help="only these scorers (repeatable): oracle, random, digital, fpaa-8b, "
              "fpaa-6b, fpaa-4b, fpaa-3b, fpaa-Nb+10C, fpaa-Nb-10C (each also -trimmed), fpaa-Nb-adaptive, sensor; "
              "N = projection.dac_bits")] = None,
          scheduler: Annotated[str, typer.Option(metavar="ADDRESS", help="where the cells run: local (a dask "
                                                 "LocalCluster, one worker per core), serial, or a dask "
                                                 "scheduler's address (tcp://host:8786)")] = "local",
          cache: Annotated[bool, typer.Option(help="reuse the rows of an earlier run with the same config, "
                                              "weights and code (OUT/cache)")] = True,
          as_json: FiguresJsonOpt = False) -> None:
    """Digits accuracy × keep ratio × scorer (oracle, random, digital, FPAA at 8/6/4/3 bits, ±10 °C with and
    without trim, adaptive θ, sensor mode), both mask semantics, energy per image; table, JSON and figures."""
    from rich.progress import Progress

    from ..sweep import KEEPS, run_sweep
    from ..sweep_report import write_sweep
    cfg = load_config(config)
    keeps = tuple(keep) if keep else KEEPS
    writable(out)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("sweep", total=None)

        def progress(what: str) -> None:
            done, _, total = what.partition(" ")[0].partition("/")
            bar.update(task, description=what, completed=int(done), total=int(total))
            if not console.is_terminal:       # a log or a pipe: one line per finished cell
                console.print(what, highlight=False)
        try:
            result = run_sweep(cfg, keeps, scorer, progress=progress, scheduler=scheduler,
                               cache_dir=out / "cache" if cache else None)
        except (ValueError, RuntimeError) as e:
            fail(str(e), 2)
    md = write_sweep(result, out)
    console.print(md, highlight=False, markup=False)
    console.print(f"wrote {out / 'sweep.json'}, {out / 'sweep.md'} and figures in {out} ({result['computed_cells']} "
                  f"of {result['cells']} cells computed, the rest from the cache)", highlight=False)
    if as_json:
        print(json.dumps(result))
