"""PayloadCodec (cocotb_tests/bfm/stream.py) against Amaranth's own ``lib.data`` packing: nested structs and
arrays, two's complement, raw ints for aggregates, and loud errors for values that do not fit the layout."""
from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from atis.cocotb_tests.bfm.stream import PayloadCodec
from atis.hdl.layouts import element_layout, qkv_layout, result_layout, row_layout, scored_layout, token_row_layout

__all__: list[str] = []   # a pytest module: nothing to import


def _amaranth_bits(layout, value) -> int:
    return layout.const(value).as_value().value


@pytest.mark.parametrize("layout, value", [
    (element_layout(), {"data": -128, "first": 1, "last": 0}),
    (scored_layout(), {"data": 127, "first": 0, "last": 1, "keep": 1, "index": 65535}),
    (token_row_layout(5), {"x": [-128, -1, 0, 1, 127], "keep": 1, "last": 0}),
    (row_layout(3), {"x": [-3, 4, 127], "tag": {"key": 1, "last": 0}}),
    (qkv_layout(2), {"q": [-1, 1], "k": [-128, 127], "v": [0, -7], "key": 0, "last": 1}),
    (result_layout(4, 16), {"logits": [-1, 2, -2 ** 31, 2 ** 31 - 1], "kept": 16, "attention_cycles": 3,
                            "total_cycles": 2 ** 32 - 1}),
    (data.ArrayLayout(data.StructLayout({"a": signed(3), "b": unsigned(2)}), 3),
     [{"a": -4, "b": 3}, {"a": 3, "b": 0}, {"a": -1, "b": 1}]),
])
def test_round_trips_and_matches_amaranth_packing(layout: data.Layout, value: object) -> None:
    codec = PayloadCodec(layout)
    word = codec.encode(value)
    assert word == _amaranth_bits(layout, value)
    assert codec.decode(word) == value
    assert 0 <= word < 1 << codec.width


def test_decodes_arrays_to_lists_and_signed_fields_sign_extended() -> None:
    codec = PayloadCodec(result_layout(2, 7))
    got = codec.decode((1 << 64) - 1)        # both logits all ones, the rest zero
    assert got == {"logits": [-1, -1], "kept": 0, "attention_cycles": 0, "total_cycles": 0}
    assert isinstance(got["logits"], list)


def test_accepts_numpy_rows_and_missing_fields_encode_as_zero() -> None:
    codec = PayloadCodec(token_row_layout(4))
    row = np.array([-5, 6, -7, 8], dtype=np.int64)
    assert codec.decode(codec.encode({"x": row})) == {"x": [-5, 6, -7, 8], "keep": 0, "last": 0}


def test_an_int_for_an_aggregate_is_its_raw_bits() -> None:
    codec = PayloadCodec(token_row_layout(2))
    assert codec.decode(codec.encode({"x": 0x80FF, "keep": 1})) == {"x": [-1, -128], "keep": 1, "last": 0}


@pytest.mark.parametrize("value, error", [
    ({"x": [1, 2, 3], "keep": 0}, "3 values for an array of 2"),
    ({"x": [1, 2], "kept": 1}, "no field"),
])
def test_rejects_values_that_do_not_fit_the_layout(value: dict, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        PayloadCodec(token_row_layout(2)).encode(value)


def test_rejects_overlapping_layouts() -> None:
    with pytest.raises(TypeError, match="UnionLayout"):
        PayloadCodec(data.UnionLayout({"a": 8, "b": signed(8)}))
