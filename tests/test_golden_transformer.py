"""Golden integer transformer: softmax LUT/reciprocal semantics, mask semantics, weights I/O, quantization error."""
from __future__ import annotations

import numpy as np
import pytest

from atis.config import ConfigError, config_from_dict
from atis.golden.transformer import EXP_LUT, forward_float, forward_int, load_weights, random_weights, softmax_int


def tokens(rng, n: int, d: int) -> np.ndarray:
    return np.clip(np.round(rng.normal(0, 32, (n, d))), -128, 127).astype(np.int64)


def test_exp_lut_is_2_15_exp_minus_k_over_8():
    assert EXP_LUT[0] == 1 << 15 and EXP_LUT[8] == round(2 ** 15 / np.e) and EXP_LUT[255] == 0
    assert np.all(np.diff(EXP_LUT) <= 0)


def test_softmax_is_q7_with_masked_keys_at_zero(rng):
    s8 = rng.integers(-128, 128, size=(40, 30))
    kept = rng.random(30) < 0.5
    p = softmax_int(s8, kept)
    assert np.all(p[:, ~kept] == 0)
    assert np.all(p.sum(axis=1) <= 128) and np.all(p.sum(axis=1) >= 128 - kept.sum())   # floor per element
    exact = np.exp((s8[:, kept] - s8[:, kept].max(axis=1, keepdims=True)) / 8.0)
    exact = 128 * exact / exact.sum(axis=1, keepdims=True)
    assert np.abs(p[:, kept] - exact).max() < 1.5
    one = np.zeros(30, dtype=bool)
    one[7] = True
    assert np.all(softmax_int(s8, one)[:, 7] == 128)
    assert np.all(softmax_int(s8, np.zeros(30, dtype=bool)) == 0)


@pytest.mark.parametrize("layers", [1, 2])
def test_drop_and_keymask_give_the_same_logits_and_ignore_pruned_tokens(rng, layers):
    w = random_weights(16, 2, 32, layers, 10, seed=3)
    x = tokens(rng, 48, 16)
    for keep_ratio in (0.2, 0.5, 1.0):
        keep = rng.random(48) < keep_ratio
        keep[0] = True
        logits = forward_int(x, keep, w, "keymask")
        assert logits.dtype == np.int64
        assert np.array_equal(logits, forward_int(x, keep, w, "drop"))
        changed = x.copy()
        changed[~keep] = tokens(rng, int((~keep).sum()), 16)
        assert np.array_equal(logits, forward_int(changed, keep, w, "keymask"))


def test_edge_masks(rng):
    w = random_weights(16, 2, 32, 1, 10, seed=4)
    x = tokens(rng, 20, 16)
    assert np.array_equal(forward_int(x, np.zeros(20, bool), w), w.bc)        # nothing kept: logits = bias
    one = np.zeros(20, bool)
    one[5] = True
    assert np.array_equal(forward_int(x, one, w), forward_int(x[5:6], np.ones(1, bool), w))
    with pytest.raises(ValueError, match="drop or keymask"):
        forward_int(x, one, w, "mask")


def test_quantization_error_against_the_float_twin(rng, record_property):
    """Untrained random models: integer logits stay close to float, and the predicted class mostly agrees."""
    errors, agree = [], 0
    for seed in range(10):
        w = random_weights(16, 2, 32, 1, 10, seed=seed)
        for _ in range(10):
            x, keep = tokens(rng, 64, 16), rng.random(64) < 0.3
            li, lf = forward_int(x, keep, w), forward_float(x, keep, w)
            errors.append(np.abs(li - lf).max() / np.abs(lf).max())
            agree += int(np.argmax(li) == np.argmax(lf))
    record_property("median_relative_logit_error", float(np.median(errors)))
    record_property("argmax_agreement", agree / 100)
    print(f"median relative logit error {np.median(errors):.3f}, argmax agreement {agree}/100")
    assert np.median(errors) < 0.1 and agree >= 85


def test_int32_accumulators_suffice_at_the_config_maxima():
    # |x·W| <= 128·128·max(d, ffn); |P·V| <= 128·128·n; all inside int32 at d = 1024, ffn = 512, n = 4096
    assert 128 * 128 * max(1024, 512) < 2 ** 31 and 128 * 128 * 4096 < 2 ** 31
    assert 2 ** 15 * ((1 << 31) // 2 ** 15) < 2 ** 32                          # E·r of the softmax fits uint32


def test_weights_round_trip_and_bad_files(tmp_path, rng):
    w = random_weights(16, 2, 32, 2, 10, seed=5)
    path = tmp_path / "tf.npz"
    w.save(path)
    cfg = config_from_dict({"model": {"d_model": 16}, "projection": {"m": 16},
                            "transformer": {"layers": 2, "ffn": 32, "weights": str(path)}})
    loaded = load_weights(cfg.transformer, 16)
    x, keep = tokens(rng, 10, 16), np.ones(10, bool)
    assert np.array_equal(forward_int(x, keep, loaded), forward_int(x, keep, w))
    # The config checks the file when it is loaded: no command starts work on it.
    with pytest.raises(ConfigError, match=r"b0_w1 has shape \[16, 32\], expected \[16, 64\]"):
        config_from_dict({"model": {"d_model": 16}, "projection": {"m": 16},
                          "transformer": {"layers": 2, "ffn": 64, "weights": str(path)}})
    junk = tmp_path / "junk.npz"
    np.savez(junk, nothing=np.zeros(1))
    with pytest.raises(ConfigError, match="transformer.weights = .*junk.npz': no array named 'b0_wq'"):
        config_from_dict({"transformer": {"weights": str(junk)}})
    arrays = dict(np.load(path))
    for key, value, message in (("b0_wq", arrays["b0_wq"].astype(np.float64) + 0.5, "b0_wq must be an integer array"),
                                ("b1_w2", np.full_like(arrays["b1_w2"], np.nan, dtype=np.float64), "b1_w2 holds NaN"),
                                ("b0_shifts", arrays["b0_shifts"] + 40, "b0_shifts must hold values in 0..31")):
        np.savez(tmp_path / "bad.npz", **(arrays | {key: value}))
        with pytest.raises(ConfigError, match=message):
            config_from_dict({"model": {"d_model": 16}, "projection": {"m": 16},
                              "transformer": {"layers": 2, "ffn": 32, "weights": str(tmp_path / "bad.npz")}})
