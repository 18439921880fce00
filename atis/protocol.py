"""The host protocol of the transformer link, shared by the RTL (``atis.hdl.host_link``) and the host code.

All multi-byte numbers are little-endian; on a board the bytes travel 8N1 at ``fpga.uart_baud``.

* ``LOAD``: ``'L'`` N[4], then N weight bytes (:func:`atis.golden.transformer.load_bytes`). Answer: ``'K'``
  (:attr:`HostReply.LOADED`) once the last byte is in.
* ``SEQUENCE`` (transformer top): ``'S'`` flags n−1, then n tokens of d int8 bytes each followed by one keep byte
  (bit 0). Runs a sequence of n tokens; ``flags`` bit 0 (:data:`FLAG_DROP`): 1 = drop, 0 = keymask. Answer
  (:func:`answer_bytes` long, :func:`decode_answer`): the logits (C × int32), kept[2], attention_cycles[4],
  total_cycles[4], tail_cycles[4], then the keep mask as ⌈n/8⌉ bytes (token i in bit i mod 8 of byte i div 8).
  total_cycles runs from the transformer's first token to its result, so on a board it includes the wait for
  the UART; tail_cycles from the last token handed to the transformer to its result: the compute after the input.
  A SEQUENCE of more tokens than the transformer holds (n > ``max_len`` = ``model.seq_len``) is read to its end
  and answered ``'?'``; the transformer sees none of it.
* ``SCORE`` (pipeline top: the board scores): ``'R'`` flags, then ``model.seq_len`` tokens of d int8 bytes. The
  board scores every token on the FPAA pins, prunes and runs the transformer; the answer is SEQUENCE's, with the
  keep mask the comparator gave.
* ``STATUS`` (pipeline top with the keep-rate watchdog, ``fpga.watchdog.window`` > 0): ``'T'`` flags. Answer: one
  status byte (:func:`decode_status`): bit 0 tripped, 1 a window's kept fraction was below the band, 2 above it,
  3 the keep-all fallback is active (:mod:`atis.golden.keep_watchdog`), all sticky. ``flags`` bit 0
  (:data:`FLAG_CLEAR`): then clear them and start a new window (after the host has re-trimmed the FPAA).
* Any other command byte is answered with ``'?'`` (:attr:`HostReply.UNKNOWN`) and ignored (so is ``'T'`` by a
  top without a watchdog).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

__all__ = ["HostOp", "HostReply", "FLAG_DROP", "FLAG_CLEAR", "WatchdogStatus", "encode_status", "decode_status",
           "MAX_SEQUENCE", "ANSWER_COUNTERS", "Answer", "answer_bytes",
           "encode_load", "encode_sequence", "encode_scored_sequence", "decode_answer"]


class HostOp(enum.IntEnum):
    """Command bytes from the host."""
    LOAD = ord("L")
    SEQUENCE = ord("S")
    SCORE = ord("R")
    STATUS = ord("T")


class HostReply(enum.IntEnum):
    """One-byte answers."""
    LOADED = ord("K")
    UNKNOWN = ord("?")


#: ``flags`` bit of a SEQUENCE command: drop semantics (else keymask).
FLAG_DROP = 0x01
#: ``flags`` bit of a STATUS command: clear the watchdog's status after answering it.
FLAG_CLEAR = 0x01
#: Bytes of an answer's counters: kept[2], attention_cycles[4], total_cycles[4], tail_cycles[4].
ANSWER_COUNTERS = 14
#: n − 1 travels in one byte.
MAX_SEQUENCE = 256


@dataclass(frozen=True)
class Answer:
    """The board's answer to one SEQUENCE command."""
    logits: list[int]
    kept: int
    attention_cycles: int
    total_cycles: int
    tail_cycles: int         # last token in -> result: the transformer's compute after its input
    mask: list[int]          # keep bit of each token, as sent


def answer_bytes(classes: int, n: int) -> int:
    """Bytes of the answer to a SEQUENCE of n tokens."""
    return 4 * classes + ANSWER_COUNTERS + (n + 7) // 8


def encode_load(weights: bytes) -> bytes:
    """The LOAD command for a weight byte stream."""
    if len(weights) >= 1 << 32:
        raise ValueError(f"weight load of {len(weights)} bytes: at most 2**32 - 1")
    return bytes([HostOp.LOAD]) + len(weights).to_bytes(4, "little") + bytes(weights)


def _int8_tokens(tokens: np.ndarray) -> np.ndarray:
    x = np.asarray(tokens)
    if x.ndim != 2 or not 1 <= len(x) <= MAX_SEQUENCE:
        raise ValueError(f"a sequence is 1..{MAX_SEQUENCE} tokens [n, d], not shape {list(x.shape)}")
    if x.size and (x.min() < -128 or x.max() > 127):
        raise ValueError("token elements must be int8 (-128..127)")
    return x


def encode_sequence(tokens: np.ndarray, keep, drop: bool) -> bytes:
    """The SEQUENCE command for int8 ``tokens[n, d]`` with one keep bit per token."""
    x = _int8_tokens(tokens)
    keep = [int(bool(k)) for k in keep]
    if len(keep) != len(x):
        raise ValueError(f"{len(x)} tokens with {len(keep)} keep bits: one keep bit per token")
    out = bytearray([HostOp.SEQUENCE, FLAG_DROP if drop else 0, len(x) - 1])
    for row, k in zip(x, keep):
        out += bytes(int(v) & 0xFF for v in row) + bytes([k])
    return bytes(out)


def encode_scored_sequence(tokens: np.ndarray, drop: bool) -> bytes:
    """The SCORE command for int8 ``tokens[seq_len, d]`` (the board decides the keep bits)."""
    x = _int8_tokens(tokens)
    return bytes([HostOp.SCORE, FLAG_DROP if drop else 0]) + bytes(int(v) & 0xFF for v in x.reshape(-1))


def decode_answer(raw: bytes, classes: int, n: int) -> Answer:
    """Parse the answer to a SEQUENCE of n tokens; raises ValueError on a wrong length."""
    raw = bytes(raw)
    if len(raw) != answer_bytes(classes, n):
        raise ValueError(f"answer of {len(raw)} bytes: a sequence of {n} tokens with {classes} classes answers "
                         f"{answer_bytes(classes, n)}")
    c = 4 * classes
    logits = np.frombuffer(raw[:c], dtype="<i4").tolist()
    kept = int.from_bytes(raw[c:c + 2], "little")
    attention, total, tail = np.frombuffer(raw[c + 2:c + ANSWER_COUNTERS], dtype="<u4").tolist()
    mask = [(raw[c + ANSWER_COUNTERS + i // 8] >> (i % 8)) & 1 for i in range(n)]
    return Answer(logits, kept, attention, total, tail, mask)


@dataclass(frozen=True)
class WatchdogStatus:
    """The keep-rate watchdog's status byte (the answer to STATUS)."""
    tripped: bool
    low: bool
    high: bool
    keep_all: bool

    @property
    def byte(self) -> int:
        return sum(bit << i for i, bit in enumerate((self.tripped, self.low, self.high, self.keep_all)))


def encode_status(clear: bool) -> bytes:
    """The STATUS command; ``clear``: clear the status after answering (a new window starts)."""
    return bytes([HostOp.STATUS, FLAG_CLEAR if clear else 0])


def decode_status(byte: int) -> WatchdogStatus:
    """Parse a STATUS answer byte; ValueError on bits the watchdog does not have."""
    from .golden.keep_watchdog import HIGH, KEEP_ALL, LOW, STATUS_BITS, TRIPPED
    if not 0 <= byte < 1 << STATUS_BITS:
        raise ValueError(f"status byte {byte:#04x}: only bits 0..{STATUS_BITS - 1} exist")
    return WatchdogStatus(bool(byte & TRIPPED), bool(byte & LOW), bool(byte & HIGH), bool(byte & KEEP_ALL))
