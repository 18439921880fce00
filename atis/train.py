"""Train the small transformer on the digits with quantization-aware fine-tuning to the golden int8 format.

Needs the optional extra ``train`` (CPU torch): ``pip install -e ".[train]"``. The trained weights are committed
(``configs/weights/``), so nothing else needs torch.

The torch model is the golden graph in the integer domain (activations in int8 units, weights as real numbers
``W_eff`` with ``W_int = round(W_eff·2^s)``, ``s`` the largest shift that keeps ``|W_int| ≤ 127``):

1. float phase: the graph without rounding or saturation (``forward_float``'s arithmetic);
2. QAT phase: every ``rq`` rounds and saturates, weights are quantized per tensor to power-of-two scales, the
   softmax is quantized to Q7, the tokens to int8 — all with straight-through gradients;
3. export: the int8 weights and shifts (:class:`atis.golden.transformer.TransformerWeights`) plus the embedding.

A quarter of the batches are pruned to the top-k tokens by the model's own layer-1 attention received, another
quarter by a linear scorer ``u·token`` trained alongside to rank tokens like that attention (k drawn from 20-60 %
of the sequence): the classifier learns to answer from the tokens a scorer keeps (seed §2.3), and the embedding
is pulled towards tokens a linear (FPAA) scorer can rank. ``u`` is not exported: the sweep fits its scorers on the
training split by itself.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import AtisConfig, ConfigError
from .digits import PIXELS, Embedding, load_embedding, load_split
from .golden.transformer import LOGIT_FRAC, Block, TransformerWeights, forward_int

__all__ = ["train", "TrainReport"]


@dataclass
class TrainReport:
    float_accuracy: float            # the torch float model (before QAT), test set
    int8_accuracy: float             # golden forward_int of the exported weights, test set
    float_twin_accuracy: float       # golden forward_float of the same int8 weights
    path: Path
    seed: int


def _torch():
    try:
        import torch
    except ImportError:
        raise ConfigError('atis train needs the optional extra "train" (CPU torch): pip install -e ".[train]"') \
            from None
    return torch


def _score_shift(dh: int) -> int:
    # S8 = q·k >> s: with q, k of σ ≈ 32 a logit of σ ≈ 1 (the random-weights convention)
    return max(0, int(round(math.log2(math.sqrt(dh) * 32 * 32 / 2 ** LOGIT_FRAC))))


def _build(torch, d: int, heads: int, ffn: int, layers: int, classes: int):
    nn = torch.nn

    def ste(x, fn):
        return x + (fn(x) - x).detach()

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            g = 1.0 / math.sqrt(d)
            self.value = nn.Parameter(torch.randn(d) * 40)
            self.pos = nn.Parameter(torch.randn(PIXELS, d) * 20)
            self.blocks = nn.ModuleList()
            for _ in range(layers):
                blk = nn.ParameterDict({n: nn.Parameter(torch.randn(d, d) * g) for n in ("wq", "wk", "wv")})
                blk["wo"] = nn.Parameter(torch.randn(d, d) * g / 2)
                blk["w1"] = nn.Parameter(torch.randn(d, ffn) * g)
                blk["w2"] = nn.Parameter(torch.randn(ffn, d) / math.sqrt(ffn) / 2)
                self.blocks.append(blk)
            self.wc = nn.Parameter(torch.randn(d, classes) * g / 8)
            self.u = nn.Parameter(torch.randn(d) * g)          # the linear scorer proxy (training only)
            self.bc = nn.Parameter(torch.zeros(classes))
            self.s_score = _score_shift(d // heads)
            self.quant = False

        def shift(self, w) -> int:
            top = float(w.detach().abs().max())
            return int(min(20, max(0, math.floor(math.log2(127.0 / top))))) if top > 0 else 0

        def wq(self, w):
            if not self.quant:
                return w
            scale = 2.0 ** self.shift(w)
            return ste(w, lambda v: torch.clamp(torch.round(v * scale), -127, 127) / scale)

        def rq(self, x):
            return ste(x, lambda v: torch.clamp(torch.floor(v + 0.5), -128, 127)) if self.quant else x

        def tokens(self, images):
            t = images[..., None] / 16.0 * self.value + self.pos
            return self.rq(t)

        def attention(self, x, b, keep):
            n_b, n, _ = x.shape
            dh = d // heads
            q, k, v = (self.rq(x @ self.wq(b[n_])) for n_ in ("wq", "wk", "wv"))
            q, k, v = (t.view(n_b, n, heads, dh).transpose(1, 2) for t in (q, k, v))
            s = q @ k.transpose(-1, -2) / 2.0 ** self.s_score
            s = self.rq(s) / 2 ** LOGIT_FRAC
            s = s.masked_fill(~keep[:, None, None, :], float("-inf"))
            p = torch.softmax(s, dim=-1)
            if self.quant:
                p = ste(p, lambda v: torch.floor(v * 128) / 128)
            a = self.rq(p @ v).transpose(1, 2).reshape(n_b, n, d)
            return a, p

        def norm(self, x):
            mean = x.mean(dim=-1, keepdim=True)
            return self.rq(x - (ste(mean, torch.floor) if self.quant else mean))

        def forward(self, images, keep):
            x = self.tokens(images)
            received = None
            for i, b in enumerate(self.blocks):
                a, p = self.attention(x, b, keep)
                if i == 0:
                    received = p.sum(dim=(1, 2))
                x = self.norm(self.rq(x + self.rq(a @ self.wq(b["wo"]))))
                h = torch.relu(self.rq(x @ self.wq(b["w1"])))
                x = self.norm(self.rq(x + self.rq(h @ self.wq(b["w2"]))))
            kf = keep.float()[..., None]
            pooled = (x * kf).sum(1) / kf.sum(1).clamp(min=1)
            if self.quant:
                pooled = ste(pooled, torch.floor)
            return pooled @ self.wq(self.wc) + self.bc, received

    return Model()


def _export(model, heads: int) -> tuple[TransformerWeights, Embedding]:
    def q(w):
        s = model.shift(w)
        return np.clip(np.round(w.detach().numpy().astype(np.float64) * 2.0 ** s), -127, 127).astype(np.int64), s

    blocks = []
    for b in model.blocks:
        mats, shifts = {}, {}
        for name, key in (("wq", "q"), ("wk", "k"), ("wv", "v"), ("wo", "o"), ("w1", "f1"), ("w2", "f2")):
            mats[name], shifts[key] = q(b[name])
        shifts["s"] = model.s_score
        blocks.append(Block(**mats, shifts=shifts))
    wc, s_c = q(model.wc)
    bc = np.round(model.bc.detach().numpy().astype(np.float64) * 2.0 ** s_c).astype(np.int64)
    emb = Embedding(model.value.detach().numpy(), model.pos.detach().numpy())      # float32 (stored as is)
    return TransformerWeights(blocks, wc, bc, heads), emb


def _rank_loss(torch, predicted, target):
    """Mean squared error of the per-image standardized scores: a differentiable stand-in for ranking."""
    def z(v):
        return (v - v.mean(dim=1, keepdim=True)) / (v.std(dim=1, keepdim=True) + 1e-6)
    return ((z(predicted) - z(target)) ** 2).mean()


def _pruned_masks(torch, received, gen):
    n_b, n = received.shape
    ks = torch.randint(int(0.2 * n), int(0.6 * n) + 1, (n_b,), generator=gen)
    order = received.argsort(dim=1, descending=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(n).expand(n_b, n))
    return ranks < ks[:, None]


def train(cfg: AtisConfig, out: Path, *, seed: int = 0, epochs_float: int = 60, epochs_qat: int = 20,
          progress: Callable[[str, int, int], None] | None = None) -> TrainReport:
    """Train on the digits split, write ``out`` (.npz: transformer + embedding), return the accuracies."""
    torch = _torch()
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    t, d = cfg.transformer, cfg.model.d_model
    split = load_split()
    model = _build(torch, d, t.heads, t.ffn, t.layers, t.classes)
    xs, ys = torch.tensor(split.x_train, dtype=torch.float32), torch.tensor(split.y_train)
    gen = torch.Generator().manual_seed(seed)
    total = epochs_float + epochs_qat
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    float_accuracy = 0.0
    for epoch in range(total):
        if epoch == epochs_float:
            float_accuracy = _torch_accuracy(torch, model, split)
            model.quant = True
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        perm = torch.randperm(len(xs), generator=gen)
        for i in range(0, len(xs), 64):
            idx = perm[i:i + 64]
            full = torch.ones(len(idx), PIXELS, dtype=torch.bool)
            logits, received = model(xs[idx], full)
            # A linear scorer u·token learns to predict the attention received; the embedding is pulled towards
            # tokens that such a scorer (what the FPAA computes) ranks well.
            linear = model.tokens(xs[idx]) @ model.u
            loss = 0.5 * _rank_loss(torch, linear, received.detach())
            kind = i // 64 % 4
            if kind < 2:
                loss = loss + torch.nn.functional.cross_entropy(logits, ys[idx])
            else:
                ranking = received if kind == 2 else linear
                keep = _pruned_masks(torch, ranking.detach(), gen)
                pruned, _ = model(xs[idx], keep)
                loss = loss + torch.nn.functional.cross_entropy(pruned, ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if progress:
            progress("float" if epoch < epochs_float else "QAT", epoch + 1, total)
    if epochs_qat == 0:
        float_accuracy = _torch_accuracy(torch, model, split)
    weights, emb = _export(model, t.heads)
    out.parent.mkdir(parents=True, exist_ok=True)
    weights.save_with(out, embed_value=emb.value, embed_pos=emb.pos, train_seed=np.array(seed),
                      train_epochs=np.array([epochs_float, epochs_qat]))
    tokens = load_embedding(out, d).tokens(split.x_test)      # as stored (float32), as everyone will use it
    keep = np.ones(PIXELS, dtype=bool)
    from .golden.transformer import forward_float
    int_pred = [int(forward_int(x, keep, weights, "drop").argmax()) for x in tokens]
    float_pred = [int(forward_float(x, keep, weights, "drop").argmax()) for x in tokens]
    return TrainReport(float_accuracy, float(np.mean(np.array(int_pred) == split.y_test)),
                       float(np.mean(np.array(float_pred) == split.y_test)), out, seed)


def _torch_accuracy(torch, model, split) -> float:
    with torch.no_grad():
        x = torch.tensor(split.x_test, dtype=torch.float32)
        logits, _ = model(x, torch.ones(len(x), PIXELS, dtype=torch.bool))
        return float((logits.argmax(1).numpy() == split.y_test).mean())
