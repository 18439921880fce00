"""Every stream payload layout of the digital side, one name per meaning (DESIGN.md §1, in dataflow order).

Element streams carry one int8 of a token per transfer (``first``/``last`` mark its element 0 and d-1); row
streams carry a whole token (or a whole projected row) per transfer. Benches decode ports with these same
layouts, so a changed field shows up in one place.
"""
from __future__ import annotations

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

__all__ = ["INDEX_BITS", "TAG", "element_layout", "codes_layout", "write_layout", "keep_layout", "scored_layout",
           "readout_layout", "theta_layout",
           "token_row_layout", "row_layout", "qkv_layout", "head_out_layout", "logit_layout", "prob_layout",
           "result_layout", "load_layout"]

#: Token index width on the keep stream (wraps modulo 2**16).
INDEX_BITS = 16

#: What travels with a token row through the encoder: is it a key (a kept token), is it the sequence's last.
TAG = data.StructLayout({"key": 1, "last": 1})


def element_layout() -> data.StructLayout:
    """One int8 token element per transfer; ``first``/``last`` mark the token's element 0 and element d-1."""
    return data.StructLayout({"data": signed(8), "first": 1, "last": 1})


def codes_layout(dac_bits: int) -> data.StructLayout:
    """One DAC code per transfer, channel order 0..m-1; ``first``/``last`` mark channel 0 and channel m-1."""
    return data.StructLayout({"code": unsigned(dac_bits), "first": 1, "last": 1})


def write_layout(n_dac: int, part_bits: int) -> data.StructLayout:
    """One DAC write: physical channel, code left-aligned to the part's width, and whether it updates the outputs."""
    return data.StructLayout({"channel": range(max(n_dac, 2)), "code": unsigned(part_bits), "update": 1})


def keep_layout() -> data.StructLayout:
    """One token's keep decision and its index."""
    return data.StructLayout({"keep": 1, "index": INDEX_BITS})


def readout_layout(bits: int) -> data.StructLayout:
    """One token's readout code (b-bit SAR code, or the comparator's keep bit as a 1-bit code) and its index."""
    return data.StructLayout({"code": unsigned(bits), "index": INDEX_BITS})


def theta_layout(part_bits: int) -> data.StructLayout:
    """One θ DAC write of a SAR step: the trial code, left-aligned to the θ DAC's width."""
    return data.StructLayout({"code": unsigned(part_bits)})


def scored_layout() -> data.StructLayout:
    """A token element with its token's keep bit and index (every element of a token carries the same two)."""
    return data.StructLayout({"data": signed(8), "first": 1, "last": 1, "keep": 1, "index": INDEX_BITS})


def token_row_layout(d: int) -> data.StructLayout:
    """A whole token row for the transformer: its int8 elements, its keep bit, the sequence's last token."""
    return data.StructLayout({"x": data.ArrayLayout(signed(8), d), "keep": 1, "last": 1})


def row_layout(width: int, elem=signed(8), tag=TAG) -> data.StructLayout:
    """A row inside the encoder: ``width`` elements and the :data:`TAG` of its token."""
    return data.StructLayout({"x": data.ArrayLayout(elem, width), "tag": tag})


def qkv_layout(dh: int) -> data.StructLayout:
    """One token's query, key and value rows (int8 each); ``key``: the token is a key (kept); ``last`` marks the
    sequence's last token."""
    row = data.ArrayLayout(signed(8), dh)
    return data.StructLayout({"q": row, "k": row, "v": row, "key": 1, "last": 1})


def head_out_layout(dh: int) -> data.StructLayout:
    """One output row of an attention head; ``last`` on the sequence's last query."""
    return data.StructLayout({"a": data.ArrayLayout(signed(8), dh), "last": 1})


def logit_layout() -> data.StructLayout:
    """One int8 attention logit of a softmax row."""
    return data.StructLayout({"s8": signed(8), "first": 1, "last": 1})


def prob_layout() -> data.StructLayout:
    """Q7 probability (128 = 1.0) of each key, in input order."""
    return data.StructLayout({"p": unsigned(8), "first": 1, "last": 1})


def result_layout(classes: int, max_len: int) -> data.StructLayout:
    """One sequence's answer: int32 logits, kept tokens, attention-core and total cycles."""
    return data.StructLayout({"logits": data.ArrayLayout(signed(32), classes), "kept": range(max_len + 1),
                              "attention_cycles": 32, "total_cycles": 32})


def load_layout() -> data.StructLayout:
    """One byte of the weight load chain (:mod:`atis.hdl.load_chain`); ``first`` on a load's first byte."""
    return data.StructLayout({"byte": unsigned(8), "first": 1})
