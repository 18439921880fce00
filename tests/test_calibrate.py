"""The public calibration API (atis.calibrate), the one-file ScorerSpec and the FPAA model's reset."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from atis.analog_models import FpaaModel
from atis.calibrate import CalibrationError, calibrate, received_attention
from atis.config import ConfigError, config_from_dict, load_config
from atis.golden.projection import jl_matrix, project, projection_codes, resolve_projection
from atis.scorer_spec import Int8Frontend, ScorerSpec


def _synthetic(seed: int = 0, d: int = 48, sequences: int = 40):
    """Tokens whose attention received grows with one hidden direction (the same for every seed), heavy-tailed
    like real attention."""
    w = np.random.default_rng(99).standard_normal(d)
    rng = np.random.default_rng(seed)
    hidden, received = [], []
    for _ in range(sequences):
        x = rng.standard_normal((int(rng.integers(20, 60)), d)) * 0.7
        a = np.exp(0.5 * x @ w)
        hidden.append(x)
        received.append(a / a.sum() * len(x))
    return hidden, received


def _rho(results, received) -> float:
    return float(np.mean([spearmanr(r.score, a).statistic for r, a in zip(results, received)]))


def test_learned_projection_ranks_what_a_random_one_cannot():
    hidden, received = _synthetic()
    jl = calibrate(hidden, received, m=16, projection="jl")
    learned = calibrate(hidden, received, m=16, projection="learned")
    held_out = _synthetic(seed=1)
    rho_jl, rho_learned = (_rho(s.score(held_out[0]), held_out[1]) for s in (jl, learned))
    assert rho_learned > 0.95 > rho_jl
    kept = np.concatenate(learned.keep_masks(hidden))
    assert abs(kept.mean() - 0.3) < 0.02           # θ trimmed for keep 0.3 on the calibration tokens


def test_fold_uses_the_static_query_through_wk():
    hidden, received = _synthetic()
    rng = np.random.default_rng(4)
    wk = rng.standard_normal((8, 48))
    mean_query = rng.standard_normal(8)
    scorer = calibrate(hidden, received, m=16, projection="fold", wk=wk, mean_query=mean_query)
    first = wk.T @ mean_query
    assert np.array_equal(scorer.spec.matrix[0], np.round(127 * first / np.abs(first).max()))


def test_spec_file_is_the_scorer_for_golden_fpaa_and_config(tmp_path):
    hidden, received = _synthetic()
    scorer = calibrate(hidden, received, m=16, projection="learned", keep=0.25)
    path = scorer.spec.save(tmp_path / "scorer.npz")
    again = ScorerSpec.load(path)
    assert np.array_equal(again.matrix, scorer.spec.matrix) and np.array_equal(again.prototypes,
                                                                                scorer.spec.prototypes)
    assert (again.shift, again.theta_V, again.int8_exponent) == (scorer.spec.shift, scorer.spec.theta_V,
                                                                 scorer.spec.int8_exponent)
    cfg = config_from_dict({"scorer": {"spec": str(path)}})
    spec = resolve_projection(cfg)
    assert np.array_equal(spec.matrix, scorer.spec.matrix) and spec.shift == scorer.spec.shift
    x = scorer.spec.frontend(np.concatenate(hidden))
    codes = projection_codes(x, spec)
    assert np.array_equal(codes, scorer.codes(np.concatenate(hidden)))
    # The config's model (θ fixed from the file) keeps exactly what the fitted scorer's model (θ trimmed) keeps.
    assert np.array_equal(FpaaModel(cfg).score(codes).keep, scorer.model().score(codes).keep)


def test_spec_conflicts_and_bad_files_name_the_key(tmp_path):
    hidden, received = _synthetic()
    path = calibrate(hidden, received, m=16).spec.save(tmp_path / "s.npz")
    with pytest.raises(ConfigError, match=r"projection\.m = 8: conflicts with scorer\.spec \(16\)"):
        config_from_dict({"scorer": {"spec": str(path)}, "projection": {"m": 8}})
    config_from_dict({"scorer": {"spec": str(path)}, "projection": {"m": 16}})     # agreeing is fine
    (tmp_path / "empty.npz").write_bytes(b"")
    np.savez(tmp_path / "partial.npz", P=np.ones((2, 3), dtype=np.int64), q=np.ones((1, 2)))
    np.savez(tmp_path / "pickled.npz", P=np.array([{"a": 1}], dtype=object))
    good = dict(np.load(path))
    np.savez(tmp_path / "nan.npz", **(good | {"q": np.full_like(good["q"], np.nan)}))
    np.savez(tmp_path / "wide.npz", **(good | {"P": good["P"] * 300}))
    (tmp_path / "text.npz").write_text("P = 1\n")
    for name, message in (("empty", "the file is empty"), ("partial", "missing kind, shift"),
                          ("pickled", "holds Python objects"), ("nan", "q holds NaN"),
                          ("wide", "values in -128..127"), ("text", "no zip header")):
        with pytest.raises(ConfigError, match=rf"scorer\.spec = '.*{name}\.npz'.*{message}"):
            config_from_dict({"scorer": {"spec": str(tmp_path / f"{name}.npz")}})


@pytest.mark.parametrize("hidden, received, message", [
    ([], [], "hidden: no sequences"),
    ([np.zeros((4, 8))], [np.ones(3)], r"received\[0\]: must be \[n = 4\]"),
    ([np.zeros((4, 8)), np.zeros((4, 9))], [np.ones(4)] * 2, r"hidden\[1\]: must be float \[n >= 1, d = 8\]"),
    ([np.full((4, 8), np.nan)], [np.ones(4)], r"hidden\[0\]: holds NaN"),
    ([np.ones((4, 8))], [np.array([1, np.inf, 1, 1])], r"received\[0\]: holds NaN or infinite"),
    ([np.ones((4, 8))], [np.ones(4), np.ones(4)], "received: 2 sequences for 1"),
])
def test_bad_calibration_input_is_named(hidden, received, message):
    with pytest.raises(CalibrationError, match=message):
        calibrate(hidden, received, m=4)


def test_bad_options_are_named():
    hidden, received = _synthetic(sequences=4)
    for kwargs, message in ((dict(m=99), r"m = 99: must be in 1\.\.d \(48\)"), (dict(keep=0.0), "keep = 0.0"),
                            (dict(projection="pca"), "projection = 'pca'"),
                            (dict(projection="fold"), "needs wk"),
                            (dict(matrix=np.ones((4, 47), dtype=int)), "matrix: must be int8-valued")):
        with pytest.raises(CalibrationError, match=message):
            calibrate(hidden, received, **({"m": 8} | kwargs))
    scorer = calibrate(hidden, received, m=8)
    with pytest.raises(CalibrationError, match="d = 5, the scorer was fitted for d = 48"):
        scorer.score([np.zeros((3, 5))])


def test_attention_matrices_are_summed_into_attention_received():
    a = np.random.default_rng(0).random((3, 5, 5))
    a /= a.sum(axis=-1, keepdims=True)
    assert np.allclose(received_attention(a), a.mean(axis=0).sum(axis=0))
    hidden = [np.random.default_rng(1).standard_normal((5, 8))]
    assert calibrate(hidden, [a], m=4).spec.m == 4


def test_int8_frontend_is_a_power_of_two_with_coverage():
    x = np.random.default_rng(0).standard_normal(10000)
    f = Int8Frontend.fit(x, coverage=0.999)
    top = np.quantile(np.abs(x), 0.999)
    assert top * 2.0 ** f.exponent <= 127 < top * 2.0 ** (f.exponent + 1)
    assert f(np.array([1e9, -1e9, 0.5 * 2.0 ** -f.exponent])).tolist() == [127, -128, 0]   # saturates; half even
    with pytest.raises(ValueError, match="all zero"):
        Int8Frontend.fit(np.zeros(10))


def test_reset_makes_a_sequence_independent_of_the_one_before():
    cfg = load_config()
    codes = projection_codes(np.random.default_rng(0).integers(-128, 128, (200, 64)), resolve_projection(cfg))
    a, b = codes[:100], codes[100:]
    fresh = FpaaModel(cfg, reference_codes=codes).score(a)
    model = FpaaModel(cfg, reference_codes=codes)
    model.score(b)
    after_b = model.score(a)
    assert not np.array_equal(after_b.score, fresh.score)          # state (settling, noise) carried over
    model.reset()
    assert np.array_equal(model.score(a).score, fresh.score)
    one, two = FpaaModel(cfg, reference_codes=codes).score_sequences([a, b], noise=True)
    two_first = FpaaModel(cfg, reference_codes=codes).score_sequences([b, a], noise=True)
    assert np.array_equal(one.score, two_first[1].score) and np.array_equal(two.keep, two_first[0].keep)


def test_projection_is_exact_on_the_float_path():
    x = np.random.default_rng(0).integers(-128, 128, (500, 384))
    P = np.random.default_rng(1).integers(-128, 128, (64, 384))
    assert np.array_equal(project(x, P), x.astype(np.int64) @ P.T)
    P = jl_matrix(64, 384, 1)
    assert np.array_equal(project(x, P), x.astype(np.int64) @ P.T)


def test_a_shipped_config_supplies_the_analog_side_for_any_width():
    hidden, received = _synthetic(sequences=6)      # d = 48, while default.yaml's transformer weights are d = 64
    scorer = calibrate(hidden, received, m=16, cfg=load_config())
    assert scorer.spec.d == 48 and scorer.cfg.dac == load_config().dac
