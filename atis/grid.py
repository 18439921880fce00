"""Run a grid of independent cells (sweep rows) serially or on dask.distributed, with a result cache.

Each cell is a pure function of (its key, the config, the code): every random draw in a cell is seeded from the
config or the cell itself, so where a cell runs cannot change its result, and a parallel run equals a serial one
(tested). Results are cached as JSON under ``cache_dir``, one file per cell, named by a SHA-256 of the config
(with the contents of every file it references), the cell key and the source of the code that computes it: a
re-run computes only the cells whose inputs changed.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .config import AtisConfig, config_to_dict

__all__ = ["run_grid", "config_digest", "SERIAL", "LOCAL"]

SERIAL, LOCAL = "serial", "local"
_CODE = ("atis.sweep", "atis.validate", "atis.minilm", "atis.corpus", "atis.calibrate", "atis.digits", "atis.golden",
         "atis.analog_models")


def _code_digest() -> str:
    """SHA-256 of the source that computes a cell (each module, or every module of a package)."""
    import importlib
    digest = hashlib.sha256()
    for name in _CODE:
        path = Path(importlib.import_module(name).__file__)
        for f in sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path]:
            digest.update(f.read_bytes())
    return digest.hexdigest()


def config_digest(cfg: AtisConfig) -> str:
    """SHA-256 of the config and of the bytes of every file it references."""
    tree = config_to_dict(cfg)
    digest = hashlib.sha256(json.dumps(tree, sort_keys=True).encode())

    def files(node):
        for value in node.values():
            if isinstance(value, dict):
                yield from files(value)
            elif isinstance(value, str) and Path(value).is_file():
                yield Path(value)
    for path in sorted(set(files(tree))):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run_grid(fn: Callable[[AtisConfig, Any], dict], cfg: AtisConfig, cells: Sequence[Any], *,
             scheduler: str = SERIAL, cache_dir: Path | None = None,
             progress: Callable[[Any, bool], None] | None = None) -> tuple[list[dict], int]:
    """``[fn(cfg, cell) for cell in cells]`` in order, and how many were computed (not from the cache).

    ``scheduler``: ``serial``, ``local`` (a dask LocalCluster of one single-threaded worker per core) or the
    address of a running dask scheduler. ``progress(cell, cached)`` is called as each cell finishes."""
    done = progress or (lambda cell, cached: None)
    base = hashlib.sha256((config_digest(cfg) + _code_digest() + fn.__module__ + fn.__qualname__).encode())
    results: dict[int, dict] = {}
    todo = []
    for i, cell in enumerate(cells):
        key = hashlib.sha256(base.digest() + json.dumps(cell).encode()).hexdigest()
        path = cache_dir / f"{key}.json" if cache_dir else None
        if path is not None and path.is_file():
            results[i] = json.loads(path.read_text())
            done(cell, True)
        else:
            todo.append((i, cell, path))

    def store(i, cell, path, row):
        results[i] = row
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(row))
            tmp.replace(path)
        done(cell, False)

    if scheduler == SERIAL or not todo:
        for i, cell, path in todo:
            store(i, cell, path, fn(cfg, cell))
    else:
        _run_dask(fn, cfg, todo, scheduler, store)
    return [results[i] for i in range(len(cells))], len(todo)


def _run_dask(fn, cfg, todo, scheduler, store) -> None:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise RuntimeError('--scheduler needs dask.distributed: pip install "dask[distributed]"') from None
    import os
    cluster = None
    if scheduler == LOCAL:
        cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    try:
        try:
            client = Client(cluster or scheduler, timeout="10s")
        except OSError as e:
            raise RuntimeError(f"--scheduler {scheduler}: cannot reach it ({e})") from None
        except ValueError as e:         # not an address at all
            raise RuntimeError(f"--scheduler {scheduler}: {e} (give local, serial or tcp://HOST:PORT)") from None
        with client:
            futures = {client.submit(fn, cfg, cell, pure=False): (i, cell, path) for i, cell, path in todo}
            for future in as_completed(futures):
                store(*futures[future], future.result())
    finally:
        if cluster is not None:
            cluster.close()
