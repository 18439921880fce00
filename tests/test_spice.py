"""The behavioral FPAA model against ngspice (analog_models.spice): the laws it states, measured on netlists built
from the config, and the ``fpaa.spice_fit`` key. Tests needing ngspice skip, with the install line, without it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from atis.analog_models.spice import INSTALL_LINE
from atis.config import ConfigError, config_from_dict, load_config
from atis.config_analog import SPICE_FIT_FORMAT

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None,
                                   reason=f"ngspice not installed; the SPICE checks need it: {INSTALL_LINE}")


@pytest.fixture(scope="module")
def cfg():
    return load_config()


@needs_ngspice
def test_ota_follows_the_tanh_law_with_v_l_near_2nUT(cfg):
    from atis.analog_models.spice.ota_checks import tanh_fit
    r = tanh_fit(cfg, points=41)
    assert r["tanh_error"] <= 0.05, r["tanh_error"]                     # the goal, after the V_L fit
    assert abs(r["v_l_fit_V"] / r["v_l_model_V"] - 1) < 0.10, (r["v_l_fit_V"], r["v_l_model_V"])
    assert np.all(np.diff(r["i_A"]) < 0)                                 # monotonic, the bench's sign


@needs_ngspice
def test_fitted_temperature_law_tracks_spice_within_10_percent(cfg):
    from atis.analog_models.spice.ota_checks import temperature_sweep
    r = temperature_sweep(cfg, slope_n_fit=cfg.fpaa.ota.slope_n)
    assert r["temperature_error_fit"] <= 0.10, (r["drift_spice"], r["drift_fit"])
    assert np.all(np.diff(r["drift_spice"]) < 0)        # warmer, smaller drift per 10 °C: what U_T(T) captures
    assert 0.2 < r["drift_spice"][r["step_from_C"] == 10.0][0] < 0.45   # 10 -> 20 °C: the seed's 30-40 % order


@needs_ngspice
def test_a_planted_threshold_shift_is_measured_as_input_offset(cfg):
    from atis.analog_models.spice.bench import OtaBench
    from atis.analog_models.spice.ota_checks import _fit_tanh, dac_input_range
    i_b = cfg.fpaa.ota.i_bias_nA * 1e-9
    bench = OtaBench(cfg, np.full(2, i_b), [None, {"m2": (2e-3, 1.0)}])   # +2 mV on the output-side pair device
    v = np.linspace(*dac_input_range(cfg), 41)
    i = bench.sweep(v, cfg.fpaa.program_temperature_C)
    offsets = [_fit_tanh(v, i[:, k], i_b, 0.078)[1] for k in range(2)]
    assert offsets[1] - offsets[0] == pytest.approx(2e-3, abs=0.2e-3), offsets


@needs_ngspice
def test_noise_is_shot_like_of_order_2qI(cfg):
    from atis.analog_models.spice.ota_checks import noise
    r = noise(cfg)
    assert 0.5 < r["gamma_white"] < 4.0 and r["gamma_in_band"] <= r["gamma_white"] * 1.01, r


@needs_ngspice
def test_comparator_hysteresis_band_is_near_the_configured_fraction(cfg):
    from atis.analog_models.spice.comparator_check import comparator_check
    r = comparator_check(cfg, bias_current_A=1.2e-6, overdrives_V=np.array([0.02]))
    assert 0.6 * r["config_hysteresis_frac"] < r["band_frac"] < 1.4 * r["config_hysteresis_frac"], r["band_frac"]
    assert np.isfinite(r["delay_rise_ns"][0]) and r["delay_rise_ns"][0] < 100.0


@needs_ngspice
def test_keep_bits_through_the_array_agree_outside_the_noise_band(cfg):
    from atis.analog_models.spice.keep_bits import keep_bit_check
    r = keep_bit_check(cfg, n_tokens=300, m=16, n_reference=400)
    assert r["keep_agreement"] >= 0.99, r
    assert 0.15 < r["keep_spice"] < 0.45 and r["score_error_rms_mV"] < 0.1 * r["score_spread_mV"], r


def test_missing_ngspice_prints_the_install_line_and_exits_2(tmp_path):
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}      # the venv's python, no ngspice
    proc = subprocess.run([sys.executable, "-m", "atis.cli", "spice", "-o", str(tmp_path)], capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 2, proc.stderr
    assert INSTALL_LINE in proc.stderr and "Traceback" not in proc.stderr


@needs_ngspice
@pytest.mark.parametrize("args, yaml_text, message", [
    (["--m", "99"], None, "--m 99: projection.m = 99: must be in 1..model.d_model (64)"),
    ([], "fpaa:\n  comparator:\n    hysteresis_frac: 0\n", "fpaa.comparator.hysteresis_frac = 0, theta_V = 0.05"),
])
def test_inputs_the_checks_cannot_use_are_refused_before_any_spice_run(tmp_path, args, yaml_text, message):
    if yaml_text is not None:
        (tmp_path / "c.yaml").write_text(yaml_text)
        args = [*args, "-c", str(tmp_path / "c.yaml")]
    proc = subprocess.run([sys.executable, "-m", "atis.cli", "spice", "-o", str(tmp_path / "out"), *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()                  # nothing written


def _fit(tmp_path, **ota):
    keys = {"slope_n": 1.5, "vth_tempco_mV_per_K": 1.08, "gain_mismatch": 0.015, "offset_mV": 1.9,
            "noise_factor": 2.0, **ota}
    path = tmp_path / "fit.json"
    path.write_text(json.dumps({"format": SPICE_FIT_FORMAT, "fpaa": {"ota": keys}}))
    return path


def test_spice_fit_replaces_the_yaml_ota_keys(tmp_path):
    path = _fit(tmp_path, vth_tempco_mV_per_K=1.11)
    cfg = config_from_dict({"fpaa": {"spice_fit": str(path), "ota": {"vth_tempco_mV_per_K": 1.3, "i_bias_nA": 50}}})
    assert cfg.fpaa.ota.vth_tempco_mV_per_K == 1.11 and cfg.fpaa.ota.noise_factor == 2.0
    assert cfg.fpaa.ota.i_bias_nA == 50.0                                # keys the fit does not set stay


def test_overrides_of_fitted_keys_hold_on_a_config_with_a_fit(tmp_path):
    """The fit is applied at load; a later override (e.g. `atis spice`'s ideal model: no mismatch) must win."""
    from atis.config import with_overrides
    cfg = config_from_dict({"fpaa": {"spice_fit": str(_fit(tmp_path))}})
    ideal = with_overrides(cfg, {"fpaa": {"ota": {"gain_mismatch": 0.0, "offset_mV": 0.0}}})
    assert (ideal.fpaa.ota.gain_mismatch, ideal.fpaa.ota.offset_mV) == (0.0, 0.0)
    assert ideal.fpaa.ota.slope_n == 1.5 and ideal.fpaa.ota.noise_factor == 2.0    # the other fitted keys stay
    assert with_overrides(cfg, {}).fpaa.ota == cfg.fpaa.ota


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a readable JSON file"),
    (json.dumps({"format": "other", "fpaa": {}}), "not an atis SPICE fit"),
    (json.dumps({"format": SPICE_FIT_FORMAT, "fpaa": {"ota": {"slope_n": 1.5}}}), "fpaa.ota with exactly"),
])
def test_a_bad_spice_fit_file_is_rejected_by_name(tmp_path, content, message):
    path = tmp_path / "fit.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as e:
        config_from_dict({"fpaa": {"spice_fit": str(path)}})
    assert str(e.value).startswith("fpaa.spice_fit = ")


def test_a_fitted_value_out_of_range_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"fpaa.ota.slope_n = 7: must be a number in 1..3"):
        config_from_dict({"fpaa": {"spice_fit": str(_fit(tmp_path, slope_n=7))}})
