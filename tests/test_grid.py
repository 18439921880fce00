"""The sweep grid on dask.distributed: the same rows as a serial run, and a cache that computes only changes."""
from __future__ import annotations

import pytest

from atis.config import load_config, with_overrides
from atis.grid import run_grid
from atis.sweep import run_sweep

SCORERS = ["random", "fpaa-6b", "digital"]


def test_local_cluster_gives_the_serial_rows_and_the_cache_only_what_changed(tmp_path):
    cfg = load_config()
    serial = run_sweep(cfg, keeps=(1.0, 0.3), scorers=SCORERS)
    parallel = run_sweep(cfg, keeps=(1.0, 0.3), scorers=SCORERS, scheduler="local", cache_dir=tmp_path)
    assert parallel["rows"] == serial["rows"] and parallel["computed_cells"] == 4
    again = run_sweep(cfg, keeps=(1.0, 0.3), scorers=SCORERS, cache_dir=tmp_path)
    assert again["rows"] == serial["rows"] and again["computed_cells"] == 0
    hotter = with_overrides(cfg, {"fpaa": {"seed": 8}})        # another mismatch draw: every cell is new
    assert run_sweep(hotter, keeps=(0.3,), scorers=["random"], cache_dir=tmp_path)["computed_cells"] == 2


def test_grid_keeps_cell_order_and_names_an_unreachable_scheduler():
    cfg = load_config()
    rows, computed = run_grid(_square, cfg, [3, 1, 2])
    assert rows == [{"x": 9}, {"x": 1}, {"x": 4}] and computed == 3
    with pytest.raises(RuntimeError, match="tcp://127.0.0.1:9: cannot reach it"):
        run_grid(_square, cfg, [1], scheduler="tcp://127.0.0.1:9")


def _square(cfg, x):
    return {"x": x * x}
