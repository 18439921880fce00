"""Golden model of the mask gate: kept tokens compacted in order, with their position in the sequence, and the
number kept per sequence (the attention engine's k). Shared with ``hdl.mask_gate``."""
from __future__ import annotations

import numpy as np

__all__ = ["mask_gate"]


def mask_gate(tokens: np.ndarray, keep: np.ndarray, seq_len: int) -> tuple[list[dict], list[int]]:
    """``tokens[N, d]`` (N a multiple of seq_len), ``keep[N]`` -> (elements, counts).

    elements: one dict per element of every kept token, in order: ``data``, ``first``/``last`` (element 0 / d-1)
    and ``pos`` (the token's position 0..seq_len-1 in its sequence). counts: kept tokens per sequence.
    """
    tokens, keep = np.asarray(tokens), np.asarray(keep, dtype=bool)
    if len(tokens) % seq_len or len(keep) != len(tokens):
        raise ValueError("tokens must be whole sequences and keep one flag per token")
    d = tokens.shape[1]
    elements = [{"data": int(x), "first": int(j == 0), "last": int(j == d - 1), "pos": n % seq_len}
                for n in np.flatnonzero(keep) for j, x in enumerate(tokens[n])]
    counts = keep.reshape(-1, seq_len).sum(axis=1).tolist()
    return elements, counts
