"""Per-block synthesis (atis.boards.utilization): sequence state lands in block RAM, not in flip-flops."""
from __future__ import annotations

import pytest

from atis.boards.utilization import UtilizationError, block_utilization, utilization_markdown
from atis.config import bundled_config, load_config
from atis.design import resolve_design
from atis.hdl.export import write_verilog


@pytest.fixture(scope="module")
def head_areas(tmp_path_factory):
    where = tmp_path_factory.mktemp("utilization")
    design = resolve_design(load_config(bundled_config("icebreaker")))
    (path,) = write_verilog(design, where, ["attention_head"])
    return {a.path: a for a in block_utilization(path, "atis_attention_head", "ice40", where / "syn")}


def test_attention_memories_map_to_block_ram(head_areas):
    """Q, K, V (64 rows × 8 bytes each) and the softmax row: were ~12,600 flip-flops with comb read ports."""
    head, softmax = head_areas["attention_head"], head_areas["attention_head.softmax"]
    assert head.total["bram"] >= 12 and softmax.total["bram"] == 2
    assert head.total["ff"] < 1500 and softmax.total["ff"] < 300
    assert head.total["lut"] == head.own["lut"] + softmax.total["lut"]


def test_table_indents_children(head_areas):
    table = utilization_markdown({path: a.total for path, a in head_areas.items()})
    assert table.splitlines()[0] == "| block | lut | ff | dsp | bram | spram |"
    assert "| \u2003softmax | " in table


def test_a_failing_synthesis_names_the_block_and_log(tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text("module atis_bad(input a); this is not verilog\n")
    with pytest.raises(UtilizationError, match=r"atis_bad: yosys exited with \d+; see .*atis_bad\.yosys\.log"):
        block_utilization(bad, "atis_bad", "ice40", tmp_path / "syn")
