"""Energy model vs the seed's figures (§4.2, §4.3), its variants, and `atis energy` as a user runs it."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from atis.analog_models.energy import energy_report
from atis.config import config_from_dict, load_config


@pytest.fixture(scope="module")
def seed_figures() -> dict:
    return energy_report(load_config()).summary


@pytest.mark.parametrize("key, seed_value", [
    ("analog_core_static_uW", 6.4),                 # 64 OTAs x 100 nA x 1 V
    ("analog_core_dynamic_uW", 1.0),                # "dynamic power adds roughly 1 µW"
    ("dac_pJ_per_token", 384.0),                    # 64 x 6 bit x 1 pJ
    ("dac_uW_at_1MHz", 384.0),                      # the seed writes "384 mW": 384 pJ x 1e6/s is 384 µW
    ("dac_mW_at_1MHz", 0.384),
    ("atis_pJ_per_token", 391.4),                   # "~391 pJ (DAC-dominated)"
    ("digital_scorer_pJ_per_token", 64.0),          # 64 MACs x 1 pJ
    ("attention_elements_dense", 1024 ** 2),        # "approximately 1M elements"
    ("attention_elements_pruned", 307 ** 2),        # "approximately 90K": 70 % of 1024 pruned leaves 307
])
def test_reproduces_the_seed_figure(seed_figures, key, seed_value):
    assert seed_figures[key] == pytest.approx(seed_value, rel=1e-9)


def test_core_under_10uW_and_attention_shrinks_11x(seed_figures):
    assert seed_figures["analog_core_total_uW"] < 10.0
    assert seed_figures["attention_reduction"] == pytest.approx(11.1, abs=0.05)
    assert seed_figures["system_saving"] < seed_figures["attention_reduction"]     # scoring is not free


def test_variants_follow_the_unit_costs():
    report = energy_report(config_from_dict({"projection": {"dac_bits": 4},
                                             "energy": {"dac_static_uW_per_channel": 10.0}}))
    rows = report.per_token
    full, mux = rows["ATIS, 64 DACs x 4 b"], rows["ATIS, 8 DACs x 8 rounds"]
    assert full["dac_conversions"] == mux["dac_conversions"] == 64 * 4       # time-mux saves no conversions ...
    assert full["dac_bias"] == 64 * 10.0 and mux["dac_bias"] == 8 * 10.0     # ... only bias (µW / MHz = pJ)
    assert rows["ATIS sensor mode (no DAC)"]["dac_conversions"] == 0
    assert "ATIS, 3-bit DACs" in rows and "ATIS, 4-bit DACs" not in rows     # only widths below the configured one


def test_time_multiplexed_heads_pay_reprogramming_and_replicated_heads_pay_area():
    mux = energy_report(config_from_dict({"fpaa": {"heads": {"count": 4, "groups": 4,
                                                             "multiplex": "time_multiplexed"}}}))
    rep = energy_report(config_from_dict({"fpaa": {"heads": {"count": 4, "groups": 4}}}))
    assert mux.summary["analog_core_static_uW"] == pytest.approx(6.4)
    assert rep.summary["analog_core_static_uW"] == pytest.approx(4 * 6.4)
    assert mux.per_token["ATIS, 64 DACs x 6 b"]["reprogramming"] == pytest.approx(4 * 1e3)
    assert rep.per_token["ATIS, 64 DACs x 6 b"]["reprogramming"] == 0


def test_atis_energy_cli_prints_tables_plot_and_json(tmp_path):
    plot = tmp_path / "energy.png"
    proc = subprocess.run([sys.executable, "-m", "atis.cli", "energy", "--json", "--plot", str(plot)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("analog_core_static_uW", "analog_core_total_uW", "dac_pJ_per_token", "dac_mW_at_1MHz",
                "atis_pJ_per_token", "digital_scorer_pJ_per_token", "attention_elements_dense",
                "attention_elements_pruned", "attention_reduction"):
        assert key in figures
    assert figures["attention_elements_pruned"] == 94249
    assert "scoring energy per token" in proc.stdout
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"


def test_break_even_counts_the_projection_and_solves_for_n(tmp_path):
    import numpy as np

    from atis.analog_models.breakeven import break_even_n, break_even_table, projection_pJ, scorer_pJ
    from atis.config import load_config, with_overrides
    from atis.golden.projection import projection_matrix
    cfg = load_config()
    assert projection_pJ(cfg) == np.count_nonzero(projection_matrix(cfg)) * cfg.energy.add_pJ
    np.savez(tmp_path / "P.npz", P=np.ones((cfg.projection.m, cfg.model.d_model), dtype=np.int64))
    learned = with_overrides(cfg, {"projection": {"kind": "learned", "weights": str(tmp_path / "P.npz")}})
    assert projection_pJ(learned) == cfg.model.d_model * cfg.projection.m * cfg.energy.mac_pJ
    per = scorer_pJ(learned)
    assert per["ATIS sensor mode"] < cfg.model.d_model      # no projection: the sensor drives the OTAs
    a = cfg.energy.attention_pJ_per_element
    for s in per.values():
        n = break_even_n(s, 0.3, a)
        for scale, cheaper in ((0.9, False), (1.1, True)):
            x = n * scale
            assert (x * s + (0.3 * x) ** 2 * a < x * x * a) == cheaper
    table = break_even_table(cfg, ns=(64,), keeps=(0.3,))
    row = table["rows"][0]
    assert row["dense attention"] == 64 * 64 * a * 1e-3
    assert row["digital scorer"] == (64 * table["per_token_pJ"]["digital scorer"] + 19 * 19 * a) * 1e-3
