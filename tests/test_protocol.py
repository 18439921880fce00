"""The host protocol codec (atis.protocol): frames byte for byte, answers decoded, bad input named."""
from __future__ import annotations

import numpy as np
import pytest

from atis.protocol import (
    FLAG_DROP,
    HostOp,
    HostReply,
    answer_bytes,
    decode_answer,
    encode_load,
    encode_scored_sequence,
    encode_sequence,
)


def test_opcodes_are_the_documented_bytes():
    assert (HostOp.LOAD, HostOp.SEQUENCE, HostReply.LOADED, HostReply.UNKNOWN) == tuple(map(ord, "LSK?"))


def test_load_frame_is_opcode_length_then_bytes():
    assert encode_load(b"\x01\x02\x03") == b"L\x03\x00\x00\x00\x01\x02\x03"


def test_sequence_frame_carries_flags_count_tokens_and_keep_bytes():
    x = np.array([[-1, 2], [127, -128]])
    assert encode_sequence(x, [1, 0], drop=True) == bytes([ord("S"), FLAG_DROP, 1, 0xFF, 2, 1, 0x7F, 0x80, 0])
    assert encode_sequence(x, [True, True], drop=False)[1] == 0


def test_scored_sequence_frame_is_opcode_flags_then_elements():
    assert encode_scored_sequence(np.array([[1, -1], [-128, 0]]), drop=False) == bytes([ord("R"), 0, 1, 0xFF, 0x80, 0])
    with pytest.raises(ValueError, match="int8"):
        encode_scored_sequence(np.array([[300]]), drop=True)


def test_answer_round_trip():
    classes, n = 3, 11
    logits, kept, att, total, tail = [-5, 2**31 - 1, -2**31], 4, 1234, 99999, 2**32 - 1
    mask = [1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0]
    bits = sum(b << i for i, b in enumerate(mask))
    raw = (np.array(logits, dtype="<i4").tobytes() + kept.to_bytes(2, "little") + att.to_bytes(4, "little")
           + total.to_bytes(4, "little") + tail.to_bytes(4, "little") + bits.to_bytes(2, "little"))
    assert len(raw) == answer_bytes(classes, n)
    got = decode_answer(raw, classes, n)
    assert (got.logits, got.kept, got.attention_cycles, got.total_cycles, got.tail_cycles, got.mask) == (
        logits, kept, att, total, tail, mask)


@pytest.mark.parametrize("call, message", [
    (lambda: encode_sequence(np.zeros((0, 4)), [], True), "1..256 tokens"),
    (lambda: encode_sequence(np.zeros((257, 4)), [1] * 257, True), "1..256 tokens"),
    (lambda: encode_sequence(np.zeros((2, 4)), [1], True), "2 tokens with 1 keep bits"),
    (lambda: encode_sequence(np.full((1, 4), 200), [1], True), "int8"),
    (lambda: decode_answer(b"\x00" * 5, 2, 4), "answer of 5 bytes"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
