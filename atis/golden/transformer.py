"""Golden integer transformer (the digital engine behind the pruning, seed §4.3, §6.2) and its float twin.

Integer semantics — what the RTL of the attention issue must reproduce bit for bit:

* Activations int8; weights int8 with power-of-two scales, so every requantization is ``rq(acc, s)`` =
  round half up by ``s`` bits, saturate to int8 (:func:`atis.golden.quant.requantize_signed`).
  Accumulators: int32 is enough for every product sum here (|acc| ≤ 128·128·max(d, f, n) < 2^31).
* Per block (H heads of width dh = d/H):
  Q, K, V = rq(x·Wq, s_q), rq(x·Wk, s_k), rq(x·Wv, s_v);
  S8 = rq(Q_h·K_hᵀ, s_s) — a logit in units of 1/8 (``LOGIT_FRAC`` bits);
  softmax: z = S8 − rowmax over kept keys (z ∈ [−255, 0]), E = EXP_LUT[−z] (2^15·e^(z/8), uint16), masked keys
  E = 0, sum = ΣE, r = ⌊2^31 / sum⌋, P = (E·r) >> 24 (Q7: 128 = 1.0);
  A = rq(P·V_h, 7); x ← sat8(x + rq(A·Wo, s_o)); x ← meannorm(x);
  x ← sat8(x + rq(relu(rq(x·W1, s_1))·W2, s_2)); x ← meannorm(x).
  meannorm(x) = sat8(x − ⌊Σ_j x_j / d⌋) per token: mean removal only (no variance division — scales are fixed
  powers of two; documented choice, cheap in RTL: a shift when d is a power of two).
* Pooling over **kept** tokens: p = ⌊Σ_kept x / k⌋ (floor division); logits = p·Wc + bc (int32, no requant).
  With no token kept the pooled vector is 0 (logits = bc).
* Mask semantics: ``drop`` — pruned tokens leave the sequence before the first block; ``keymask`` — they stay as
  queries (their rows are computed) but are masked as keys in every block. Because pruned rows never feed a kept
  row and are not pooled, both give the same logits; they differ in what the hardware computes (k² vs k·n rows).

The float twin runs the same graph with real arithmetic (no rounding or saturation, exact exp and division), so
``forward_int − forward_float`` is the quantization error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import ConfigError, TransformerConfig
from .quant import requantize_signed, saturate

__all__ = ["LOGIT_FRAC", "EXP_LUT", "Block", "TransformerWeights", "random_weights", "load_weights",
           "load_bytes", "softmax_int", "forward_int", "forward_float", "attention_received"]

LOGIT_FRAC = 3                                                   # S8 counts 1/8 of a natural-log unit
EXP_LUT = np.round(2.0 ** 15 * np.exp(-np.arange(256) / 2 ** LOGIT_FRAC)).astype(np.int64)
SHIFTS = ("q", "k", "v", "s", "o", "f1", "f2")
MATRICES = ("wq", "wk", "wv", "wo", "w1", "w2")


@dataclass(frozen=True)
class Block:
    wq: np.ndarray      # int8 [d, d]
    wk: np.ndarray
    wv: np.ndarray
    wo: np.ndarray
    w1: np.ndarray      # int8 [d, f]
    w2: np.ndarray      # int8 [f, d]
    shifts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TransformerWeights:
    blocks: list[Block]
    wc: np.ndarray      # int8 [d, C]
    bc: np.ndarray      # int32 [C]
    heads: int

    def save(self, path: Path) -> None:
        self.save_with(path)

    def save_with(self, path: Path, **extra: np.ndarray) -> None:
        """Save with extra arrays (e.g. a task's embedding). Weights as int8, biases as int32: a few kB."""
        arrays = {"heads": np.array(self.heads), "wc": self.wc.astype(np.int8), "bc": self.bc.astype(np.int32)}
        for i, b in enumerate(self.blocks):
            arrays.update({f"b{i}_{n}": getattr(b, n).astype(np.int8) for n in MATRICES})
            arrays[f"b{i}_shifts"] = np.array([b.shifts[s] for s in SHIFTS], dtype=np.int8)
        np.savez(path, **arrays, **extra)


def _shift_for(fan_in: int, sigma_w: float) -> int:
    """Shift that keeps an int8 input of σ ≈ 32 at σ ≈ 32 after a fan_in-wide product with weights of σ_w."""
    return max(0, int(round(np.log2(np.sqrt(fan_in) * sigma_w))))


def random_weights(d: int, heads: int, ffn: int, layers: int, classes: int, seed: int) -> TransformerWeights:
    """Seeded random int8 weights with shifts that keep activations in range (for tests and benches)."""
    rng = np.random.default_rng(seed)

    def mat(rows, cols):
        return np.clip(np.round(rng.normal(0, 40, size=(rows, cols))), -127, 127).astype(np.int64)

    blocks = []
    for _ in range(layers):
        shifts = {"q": _shift_for(d, 40), "k": _shift_for(d, 40), "v": _shift_for(d, 40),
                  "s": _shift_for(d // heads, 32 * 32 / 2 ** LOGIT_FRAC),   # S8 of σ ≈ 8..16: 1-2 nats
                  # residual branches enter at half scale, so the residual stream stays inside int8
                  "o": _shift_for(d, 40) + 1, "f1": _shift_for(d, 40), "f2": _shift_for(ffn, 40) + 1}
        blocks.append(Block(mat(d, d), mat(d, d), mat(d, d), mat(d, d), mat(d, ffn), mat(ffn, d), shifts))
    return TransformerWeights(blocks, mat(d, classes), rng.integers(-1000, 1000, size=classes), heads)


def load_weights(cfg: TransformerConfig, d: int, npz=None) -> TransformerWeights:
    """Weights from ``cfg.weights`` (.npz written by :meth:`TransformerWeights.save`; ``npz``: that file already
    read by :func:`atis.npz.read_npz`), else seeded random."""
    if cfg.weights is None:
        return random_weights(d, cfg.heads, cfg.ffn, cfg.layers, cfg.classes, cfg.seed)
    from ..npz import read_npz
    z = npz or read_npz(cfg.weights, "transformer.weights")
    f = cfg.ffn
    shapes = {"wq": (d, d), "wk": (d, d), "wv": (d, d), "wo": (d, d), "w1": (d, f), "w2": (f, d)}
    blocks = [Block(*(z.ints(f"b{i}_{n}", shapes[n], -128, 127) for n in MATRICES),
                    dict(zip(SHIFTS, z.ints(f"b{i}_shifts", (len(SHIFTS),), 0, 31).tolist())))
              for i in range(cfg.layers)]
    heads = int(z.ints("heads", (), 1, d))
    if heads != cfg.heads:
        raise ConfigError(f"transformer.weights = '{cfg.weights}': trained with {heads} heads, the config says "
                          f"transformer.heads = {cfg.heads}")
    w = TransformerWeights(blocks, z.ints("wc", (d, cfg.classes), -128, 127),
                           z.ints("bc", (cfg.classes,), -(1 << 31), (1 << 31) - 1), heads)
    return w


def load_bytes(w: TransformerWeights) -> bytes:
    """The weights as the RTL's load stream (``hdl.linear`` load chain), in chain order. Per block:
    shifts q, k, v, then [Wq|Wk|Wv] column by column (all of output 0's inputs, then output 1's ...);
    shift s; shift o, Wo; shift f1, W1; shift f2, W2. Then the classifier Wc column by column and each bias as 4
    little-endian bytes. Weights are two's-complement bytes."""
    def columns(mat: np.ndarray) -> bytes:
        return np.asarray(mat, dtype=np.int64).T.astype(np.int8).tobytes()

    out = bytearray()
    for b in w.blocks:
        sh = b.shifts
        out += bytes([sh["q"], sh["k"], sh["v"]]) + columns(np.concatenate([b.wq, b.wk, b.wv], axis=1))
        out += bytes([sh["s"], sh["o"]]) + columns(b.wo)
        out += bytes([sh["f1"]]) + columns(b.w1) + bytes([sh["f2"]]) + columns(b.w2)
    out += columns(w.wc) + np.asarray(w.bc, dtype="<i4").tobytes()
    return bytes(out)


def softmax_int(s8: np.ndarray, key_kept: np.ndarray) -> np.ndarray:
    """Q7 probabilities ``P[n_q, n_k]`` from int8 logits ``s8`` (LUT exp, exact integer reciprocal)."""
    masked = np.where(key_kept[None, :], s8, -(1 << 20))
    z = masked - masked.max(axis=1, keepdims=True)
    e = np.where(key_kept[None, :], EXP_LUT[np.minimum(-z, 255)], 0)
    total = e.sum(axis=1, keepdims=True)
    recip = np.where(total > 0, (1 << 31) // np.maximum(total, 1), 0)
    return (e * recip) >> 24


def _meannorm(x: np.ndarray) -> np.ndarray:
    return saturate(x - np.floor_divide(x.sum(axis=1, keepdims=True), x.shape[1]))


def _block_int(x: np.ndarray, b: Block, heads: int, key_kept: np.ndarray) -> np.ndarray:
    sh = b.shifts
    q, k, v = (requantize_signed(x @ w, sh[n]) for w, n in ((b.wq, "q"), (b.wk, "k"), (b.wv, "v")))
    dh = x.shape[1] // heads
    att = np.zeros_like(x)
    for h in range(heads):
        cols = slice(h * dh, (h + 1) * dh)
        p = softmax_int(requantize_signed(q[:, cols] @ k[:, cols].T, sh["s"]), key_kept)
        att[:, cols] = requantize_signed(p @ v[:, cols], 7)
    x = _meannorm(saturate(x + requantize_signed(att @ b.wo, sh["o"])))
    hidden = np.maximum(requantize_signed(x @ b.w1, sh["f1"]), 0)
    return _meannorm(saturate(x + requantize_signed(hidden @ b.w2, sh["f2"])))


def attention_received(tokens: np.ndarray, w: TransformerWeights) -> np.ndarray:
    """Layer-1 attention each token receives on the full sequence (seed §2.3): the Q7 probabilities of block 0
    summed over queries and heads, divided by 128·H·n (so a uniform row gives 1/n per key). The oracle scorer."""
    x = np.asarray(tokens, dtype=np.int64)
    b, n = w.blocks[0], len(x)
    q, k = requantize_signed(x @ b.wq, b.shifts["q"]), requantize_signed(x @ b.wk, b.shifts["k"])
    dh = x.shape[1] // w.heads
    total = np.zeros(n)
    for h in range(w.heads):
        cols = slice(h * dh, (h + 1) * dh)
        total += softmax_int(requantize_signed(q[:, cols] @ k[:, cols].T, b.shifts["s"]), np.ones(n, bool)).sum(0)
    return total / (128.0 * w.heads * n)


def _prepare(tokens: np.ndarray, keep: np.ndarray, mask: str) -> tuple[np.ndarray, np.ndarray]:
    keep = np.asarray(keep, dtype=bool)
    x = np.asarray(tokens, dtype=np.int64)
    if mask == "drop":
        return x[keep], np.ones(int(keep.sum()), dtype=bool)
    if mask != "keymask":
        raise ValueError(f"mask must be drop or keymask, not {mask!r}")
    return x, keep


def forward_int(tokens: np.ndarray, keep: np.ndarray, w: TransformerWeights, mask: str = "keymask") -> np.ndarray:
    """Integer logits (int64 [C]) of one sequence ``tokens[n, d]`` (int8) with keep mask ``keep[n]``."""
    x, kept = _prepare(tokens, keep, mask)
    k = int(kept.sum())
    if not k:                                       # nothing to pool (and, with drop, no sequence left)
        return np.zeros(w.wc.shape[0], dtype=np.int64) @ w.wc + w.bc
    for b in w.blocks:
        x = _block_int(x, b, w.heads, kept)
    return np.floor_divide(x[kept].sum(axis=0), k) @ w.wc + w.bc


def _block_float(x: np.ndarray, b: Block, heads: int, key_kept: np.ndarray) -> np.ndarray:
    sh = b.shifts
    q, k, v = (x @ w / 2.0 ** sh[n] for w, n in ((b.wq, "q"), (b.wk, "k"), (b.wv, "v")))
    dh = x.shape[1] // heads
    att = np.zeros_like(x)
    for h in range(heads):
        cols = slice(h * dh, (h + 1) * dh)
        logits = np.where(key_kept[None, :], q[:, cols] @ k[:, cols].T / 2.0 ** (sh["s"] + LOGIT_FRAC), -np.inf)
        if key_kept.any():
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            att[:, cols] = (e / e.sum(axis=1, keepdims=True)) @ v[:, cols]
    x = x + att @ b.wo / 2.0 ** sh["o"]
    x = x - x.mean(axis=1, keepdims=True)
    hidden = np.maximum(x @ b.w1 / 2.0 ** sh["f1"], 0.0)
    x = x + hidden @ b.w2 / 2.0 ** sh["f2"]
    return x - x.mean(axis=1, keepdims=True)


def forward_float(tokens: np.ndarray, keep: np.ndarray, w: TransformerWeights, mask: str = "keymask") -> np.ndarray:
    """The same network in float (no rounding, saturation, LUT or integer division): float logits [C]."""
    x, kept = _prepare(tokens, keep, mask)
    if not kept.any():
        return np.zeros(w.wc.shape[0]) @ w.wc + w.bc
    x = x.astype(np.float64)
    for b in w.blocks:
        x = _block_float(x, b, w.heads, kept)
    return x[kept].mean(axis=0) @ w.wc + w.bc
