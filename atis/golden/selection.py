"""Which tokens of a sequence are kept, from the readout's codes (issue 18): a global threshold, an exact budget
(top-k) or a capped threshold. The definition the RTL (``hdl/topk.py``) must reproduce bit for bit.

Codes are the readout's b-bit codes (``atis.golden.readout``; the comparator's keep bit is a 1-bit code), and the
code ``2^(b-1)`` starts at the trimmed θ, so ``code >= 2^(b-1)`` is the comparator's threshold decision.

* ``threshold``: keep ``code >= 2^(b-1)``; the kept count varies from sequence to sequence.
* ``topk``: keep exactly k = max(1, round(keep·n)) (at most n): the k highest codes; equal codes are ranked by
  position, the lower index first.
* ``cap``: k = clip(#(code >= 2^(b-1)), round(keep_min·n), round(keep_max·n)), then top-k as above: the
  threshold's tokens, but never more than k_max (the best first) and never fewer than k_min.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import AtisConfig

__all__ = ["SelectionSpec", "resolve_selection", "select", "select_stream", "budget"]


@dataclass(frozen=True)
class SelectionSpec:
    mode: str            # "threshold" | "topk" | "cap"
    n: int               # tokens per sequence
    bits: int            # code bits
    keep: float
    keep_min: float = 0.0
    keep_max: float = 1.0

    @property
    def k(self) -> int:
        return budget(self.keep, self.n)

    @property
    def k_min(self) -> int:
        return min(round(self.keep_min * self.n), self.n)

    @property
    def k_max(self) -> int:
        return min(round(self.keep_max * self.n), self.n)

    @property
    def theta_code(self) -> int:
        return 1 << (self.bits - 1)


def budget(keep: float, n: int) -> int:
    """Tokens a top-k keeps of ``n``: max(1, round(keep·n)), at most n."""
    return min(max(1, round(keep * n)), n)


def resolve_selection(cfg: AtisConfig) -> SelectionSpec:
    s, r = cfg.fpga.selection, cfg.fpaa.readout
    return SelectionSpec(s.mode, cfg.model.seq_len, r.bits if r.mode == "sar" else 1, s.keep, s.keep_min,
                         s.keep_max)


def _top(codes: np.ndarray, k: int) -> np.ndarray:
    order = np.lexsort((np.arange(len(codes)), -codes))       # highest code first, then the lower index
    keep = np.zeros(len(codes), dtype=bool)
    keep[order[:k]] = True
    return keep


def select(codes: np.ndarray, spec: SelectionSpec) -> np.ndarray:
    """Keep bits of one sequence's codes (any length n; the budgets scale with it)."""
    codes = np.asarray(codes, dtype=np.int64)
    n = len(codes)
    above = codes >= spec.theta_code
    if spec.mode == "threshold":
        return above
    if spec.mode == "topk":
        return _top(codes, budget(spec.keep, n))
    if spec.mode == "cap":
        k_min, k_max = min(round(spec.keep_min * n), n), min(round(spec.keep_max * n), n)
        return _top(codes, int(np.clip(above.sum(), k_min, k_max)))
    raise ValueError(f"selection mode {spec.mode!r}: expected threshold, topk or cap")


def select_stream(codes: np.ndarray, spec: SelectionSpec) -> np.ndarray:
    """Keep bits of a token stream cut into sequences of ``spec.n``; a trailing partial sequence is not decided
    (the RTL waits for its last token), so the result covers the whole sequences only."""
    codes = np.asarray(codes, dtype=np.int64)
    whole = len(codes) // spec.n * spec.n
    return np.concatenate([select(codes[a:a + spec.n], spec) for a in range(0, whole, spec.n)] or
                          [np.zeros(0, dtype=bool)])
