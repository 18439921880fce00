"""Where the sequenced transformer keeps everything: the byte addresses of its two block RAMs.

``B`` (the right operand of every product) holds the weights exactly in load-chain order
(:func:`atis.golden.transformer.load_bytes`: a load is written straight through), then K and V of the current
block. ``A`` (the left operand) holds the token rows X, then Q and the attention output (later the FFN hidden
rows, over the same bytes), one row of logits S and its probabilities P, and the pooled row. A residual branch's
output goes into B's K rows (K is dead by then), so an add-and-norm reads X and the branch in the same cycle.
"""
from __future__ import annotations

from dataclasses import dataclass

from atis.design import TransformerSpec

__all__ = ["MemoryMap"]


@dataclass(frozen=True)
class MemoryMap:
    spec: TransformerSpec

    # --- B: weights in load order, then K and V -------------------------------------------------------------
    @property
    def layer_bytes(self) -> int:
        d, f = self.spec.d, self.spec.ffn
        return 3 + 3 * d * d + 2 + d * d + 1 + d * f + 1 + f * d

    def layer(self, index: int) -> dict[str, int]:
        """Byte addresses of block ``index``'s shifts and weight columns (column j of a d-input matrix at
        ``base + j·d``: the load sends all of output j's inputs together)."""
        d, f = self.spec.d, self.spec.ffn
        base = index * self.layer_bytes
        wo = base + 5 + 3 * d * d
        w1 = wo + d * d + 1
        w2 = w1 + d * f + 1
        return {"q": base, "k": base + 1, "v": base + 2, "wq": base + 3, "wk": base + 3 + d * d,
                "wv": base + 3 + 2 * d * d, "s": base + 3 + 3 * d * d, "o": base + 4 + 3 * d * d, "wo": wo,
                "f1": wo + d * d, "w1": w1, "f2": w2 - 1, "w2": w2}

    @property
    def wc(self) -> int:
        return self.spec.layers * self.layer_bytes

    @property
    def bias(self) -> int:
        return self.wc + self.spec.d * self.spec.classes

    @property
    def load_len(self) -> int:
        """Bytes of one load (= ``len(load_bytes(w))``)."""
        return self.bias + 4 * self.spec.classes

    @property
    def k(self) -> int:
        return self.load_len

    @property
    def v(self) -> int:
        return self.k + self.spec.max_len * self.spec.d

    @property
    def depth_b(self) -> int:
        return self.v + self.spec.max_len * self.spec.d

    # --- A: X, then Q + attention output (or the FFN hidden rows), S, P, pooled row ---------------------------
    @property
    def x(self) -> int:
        return 0

    @property
    def q(self) -> int:
        return self.spec.max_len * self.spec.d

    @property
    def att(self) -> int:
        return self.q + self.spec.max_len * self.spec.d

    @property
    def hidden(self) -> int:
        return self.q

    @property
    def s(self) -> int:
        n, d, f = self.spec.max_len, self.spec.d, self.spec.ffn
        return self.q + n * max(2 * d, f)

    @property
    def p(self) -> int:
        return self.s + self.spec.max_len

    @property
    def pooled(self) -> int:
        return self.p + self.spec.max_len

    @property
    def depth_a(self) -> int:
        return self.pooled + self.spec.d
