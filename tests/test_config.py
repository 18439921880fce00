"""Config loading and validation: every bad input gives one message naming the key path, CLI exit code 2."""
from __future__ import annotations

import subprocess
import sys

import pytest

from atis.config import ConfigError, config_from_dict, config_to_dict, load_config


def test_default_config_loads_with_seed_dimensions():
    cfg = load_config()
    assert (cfg.model.d_model, cfg.projection.m, cfg.projection.dac_bits) == (64, 64, 6)
    assert cfg.projection.kind == "jl"


def test_numbers_accept_yaml_exponents_and_ints():
    cfg = config_from_dict({"dac": {"tau_ns": "1e2"}, "fpaa": {"vdd_V": 1}})
    assert cfg.dac.tau_ns == 100.0 and isinstance(cfg.fpaa.vdd_V, float)


def test_round_trips_through_dict():
    cfg = load_config()
    assert config_from_dict(config_to_dict(cfg)) == cfg


@pytest.mark.parametrize("data, message", [
    ({"projection": {"m": 0}}, "projection.m = 0: must be in 1..1024"),
    ({"projection": {"dac_bits": 12}}, "projection.dac_bits = 12: must be in 3..8"),
    ({"projection": {"dac_bits": 2}}, "projection.dac_bits = 2: must be in 3..8"),
    ({"projection": {"colour": 1}}, "projection.colour: unknown key"),
    ({"attention": {}}, "attention: unknown key"),
    ({"projection": {"kind": "pca"}}, "projection.kind = 'pca': must be one of jl, learned, topvar"),
    ({"model": {"d_model": "64"}}, "model.d_model = '64': must be an integer in 2..1024"),
    ({"model": {"d_model": True}}, "model.d_model = True: must be an integer"),
    ({"projection": {"shift": -1}}, "projection.shift = -1: must be in 0..31 or one of ['auto']"),
    ({"projection": {"m": 80}}, "projection.m = 80: must be in 1..model.d_model (64)"),
    ({"projection": {"lanes": 100}}, "projection.lanes = 100: must be in 1..64"),
    ({"projection": {"kind": "topvar"}}, "projection.calibration: required when projection.kind = topvar"),
    ({"projection": {"weights": "nope.npz"}}, "projection.weights = 'nope.npz': file not found"),
    ({"model": [1, 2]}, "model: must be a mapping"),
    ({"fpaa": {"ota": {"i_bias_nA": 0}}}, "fpaa.ota.i_bias_nA = 0: must be a number in 0.001..1e+06"),
    ({"fpaa": {"comparator": {"keep_target": "most"}}}, "fpaa.comparator.keep_target = 'most': must be a number"),
    ({"fpaa": {"comparator": {"threshold": "auto"}}}, "fpaa.comparator.threshold = 'auto': must be one of fixed"),
    ({"fpaa": {"heads": {"groups": 2, "count": 2, "consensus_k": 3}}}, "fpaa.heads.consensus_k = 3: must be in 1.."),
    ({"fpaa": {"prototype": {"source": "lsq"}}}, "fpaa.prototype.file: required when fpaa.prototype.source = lsq"),
    ({"fpaa": {"tia": {"v_mid": 2.0}}}, "fpaa.tia.v_mid = 2: must lie between the TIA rails"),
    ({"dac": {"part": "parallel", "part_bits": 4}}, "dac.part_bits = 4: must be >= projection.dac_bits (6)"),
    ({"dac": {"part_bits": 10}}, "dac.part_bits = 10: the AD5628 is a 12-bit part"),
    ({"dac": {"sclk_divider": 3}}, "dac.sclk_divider = 3: must be even"),
    ({"dac": {"sclk_divider": 2}, "fpga": {"clock_MHz": 200}}, "fpga.clock_MHz = 200, dac.sclk_divider = 2: the "
                                                                "AD5628's t1 (SCLK cycle time) would be 10 ns"),
    ({"transformer": {"ram_bank": 1000}}, "transformer.ram_bank = 1000: must be 0 or a power of two >= 256"),
    ({"transformer": {"ram_bank": 128}}, "transformer.ram_bank = 128: must be 0 or a power of two"),
    ({"fpga": {"compare_wait_ns": 10}}, "fpga.compare_wait_ns = 10: must be >= fpaa.comparator.delay_ns (20)"),
    ({"transformer": {"heads": 3}}, "transformer.heads = 3: must divide model.d_model (64)"),
    ({"transformer": {"mask": "soft"}}, "transformer.mask = 'soft': must be one of drop, keymask"),
    ({"dac": {"settle_ns": 2000}}, "dac.settle_ns = 2000: must be <= the token period"),
    ({"dac": {"v_zero": 3.0}}, "dac.v_zero = 3: must be below dac.v_full"),
])
def test_rejects_bad_values_naming_the_field(data, message):
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("clock_MHz, divider, broken, allowed", [
    (200, 2, "t1 (SCLK cycle time) would be 10 ns, below its 20 ns minimum (also t2, t3)",
     "dac.sclk_divider >= 4 (even) at this clock, or fpga.clock_MHz <= 100 at this divider"),
    (100.5, 2, "t1 (SCLK cycle time) would be 19.9 ns", "dac.sclk_divider >= 4 (even)"),
    (300, 4, "t1 (SCLK cycle time) would be 13.33 ns", "dac.sclk_divider >= 6 (even) at this clock, or "
                                                        "fpga.clock_MHz <= 200 at this divider"),
    (1000, 18, "t1 (SCLK cycle time) would be 18 ns", "dac.sclk_divider >= 20 (even) at this clock, or "
                                                       "fpga.clock_MHz <= 900 at this divider"),
])
def test_rejects_a_clock_and_divider_that_break_an_ad5628_minimum(clock_MHz, divider, broken, allowed):
    """The port stretches SYNC's setup and high time itself; a pair whose SCLK breaks the part's minima is refused
    in one line naming both keys, the parameter, and what is allowed."""
    with pytest.raises(ConfigError) as info:
        config_from_dict({"fpga": {"clock_MHz": clock_MHz}, "dac": {"sclk_divider": divider}})
    message = str(info.value)
    assert f"fpga.clock_MHz = {clock_MHz:g}, dac.sclk_divider = {divider}: the AD5628's {broken}" in message
    assert "allowed: " + allowed in message, message
    assert "\n" not in message
    config_from_dict({"dac": {"part": "parallel", "sclk_divider": divider}, "fpga": {"clock_MHz": clock_MHz}})


@pytest.mark.parametrize("clock_MHz, divider", [(100, 2), (24, 2), (75, 4), (1000, 20), (1, 256)])
def test_accepts_every_pair_the_ad5628_port_can_serve(clock_MHz, divider):
    cfg = config_from_dict({"fpga": {"clock_MHz": clock_MHz}, "dac": {"sclk_divider": divider}})
    assert cfg.dac.sclk_divider == divider


@pytest.mark.parametrize("text, field", [
    ("projection: {m: 0}\n", "projection.m"),
    ("projection: {dac_bits: 12}\n", "projection.dac_bits"),
    ("projection: {bogus: 1}\n", "projection.bogus"),
    ("model: {d_model: [\n", "not valid YAML"),
])
def test_cli_prints_one_line_and_exits_2(tmp_path, text, field):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    out = tmp_path / "v"
    proc = subprocess.run([sys.executable, "-m", "atis.cli", "verilog", "--config", str(bad), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert not out.exists(), "nothing may be written for a bad config"


def test_readme_config_table_is_current():
    from pathlib import Path

    from atis.config import config_reference_markdown
    readme = (Path(__file__).resolve().parent.parent / "docs" / "config.md").read_text()
    table = readme.split("<!-- config-table -->\n", 1)[1].split("\n<!-- /config-table -->", 1)[0]
    assert table == config_reference_markdown(), "docs/config.md table is stale: run `atis config --reference`"
