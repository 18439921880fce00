"""The digits task: split, tokens, committed trained weights, and a reduced sweep (training split only)."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from atis.config import ConfigError, load_config
from atis.digits import PIXELS, load_embedding, load_split
from atis.golden.transformer import attention_received, forward_int, load_weights


def test_split_is_fixed_and_disjoint():
    a, b = load_split(), load_split()
    assert np.array_equal(a.x_test, b.x_test) and len(a.x_train) + len(a.x_test) == 1797
    assert len(a.x_test) == 539 and a.x_train.max() == 16 and a.x_train.min() == 0
    train_rows = {r.tobytes() for r in a.x_train}
    assert sum(r.tobytes() in train_rows for r in a.x_test) < 5     # only the dataset's own duplicate images


@pytest.mark.parametrize("config", ["configs/default.yaml", "configs/icebreaker.yaml"])
def test_committed_weights_classify_the_test_split(config):
    cfg = load_config(config)
    d = cfg.model.d_model
    w = load_weights(cfg.transformer, d)
    tokens = load_embedding(cfg.transformer.weights, d).tokens(load_split().x_test)
    assert tokens.shape[1:] == (PIXELS, d) and tokens.min() >= -128 and tokens.max() <= 127
    pred = np.array([forward_int(x, np.ones(PIXELS, bool), w).argmax() for x in tokens[:200]])
    assert np.mean(pred == load_split().y_test[:200]) > 0.85
    received = attention_received(tokens[0], w)
    assert received.shape == (PIXELS,) and 0.7 < received.sum() <= 1.0     # Q7 floors lose a little


def test_reduced_sweep_ranks_the_scorers_sensibly():
    from atis.sweep import run_sweep
    result = run_sweep(load_config(), keeps=(1.0, 0.3), scorers=["oracle", "random", "fpaa-6b"])
    rows = {(r["scorer"], r["keep"]): r for r in result["rows"]}
    assert set(rows) == {("unpruned", 1.0), ("oracle", 0.3), ("random", 0.3), ("fpaa-6b", 0.3)}
    for r in rows.values():
        assert r["accuracy_drop"] == r["accuracy_keymask"]          # the two semantics give the same logits
    assert rows[("oracle", 0.3)]["kept_mean"] == round(0.3 * PIXELS)
    assert abs(rows[("fpaa-6b", 0.3)]["kept_mean"] - 0.3 * PIXELS) < 3   # θ trimmed on the training tokens
    assert rows[("oracle", 0.3)]["accuracy_drop"] > rows[("random", 0.3)]["accuracy_drop"] + 0.2
    assert rows[("fpaa-6b", 0.3)]["accuracy_drop"] > rows[("random", 0.3)]["accuracy_drop"] + 0.2
    assert rows[("random", 0.3)]["energy_nJ_drop"] < rows[("unpruned", 1.0)]["energy_nJ_drop"]


def test_sweep_refuses_untrained_weights_and_unknown_scorers():
    from atis.config import config_from_dict
    from atis.sweep import run_sweep
    with pytest.raises(ConfigError, match="needs trained weights"):
        run_sweep(config_from_dict({}), keeps=(0.3,))
    with pytest.raises(ValueError, match="unknown scorer 'magic'"):
        run_sweep(load_config(), keeps=(0.3,), scorers=["magic"])


def test_train_without_torch_says_how_to_install_it(monkeypatch):
    from atis.train import _torch
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ConfigError, match=r'pip install -e "\.\[train\]"'):
        _torch()


def test_training_is_reproducible_from_its_seed(tmp_path):
    """Needs the extra `train` (CPU torch); without it this test is skipped, and reported as skipped."""
    pytest.importorskip("torch")
    import yaml

    from atis.config import config_from_dict
    from atis.train import train
    data = yaml.safe_load(open("configs/icebreaker.yaml"))
    data["transformer"].pop("weights")
    cfg = config_from_dict(data, base_dir="configs")
    runs = [train(cfg, tmp_path / f"run{i}.npz", seed=5, epochs_float=1, epochs_qat=1) for i in range(2)]
    a, b = (np.load(r.path) for r in runs)
    assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)
    assert runs[0].int8_accuracy == runs[1].int8_accuracy
