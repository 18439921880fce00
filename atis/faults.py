"""Faults of the analog side, detected and survived (``atis faults``): every fault kind of
:mod:`atis.analog_models.faults` on the scorer RTL with its keep-rate watchdog (co-simulated, the proof), and on the
vectorized model over a long stream and every channel (the precise keep rates and what undetected faults do).

The run's shape is the fault bench's (``cocotb_tests/test_faults.py``): the config's analog side and watchdog at
d = m = 16 with the parallel DAC (a short co-simulation); tokens in sequences of 64, the host's STATUS read after
each, one re-trim (``recalibrate("threshold")``) and clear on the first trip, the fallback left on after a second.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .config import AtisConfig, with_overrides

__all__ = ["FAULTS_SHAPE", "SEQUENCE", "standard_faults", "faults_config", "run_tokens", "model_run", "model_sweep",
           "run_faults", "FaultsReport", "detection_problems"]

#: The co-simulated shape: 16-wide tokens and array, parallel DAC bus (fast to co-simulate).
FAULTS_SHAPE = {"model": {"d_model": 16}, "projection": {"m": 16}, "dac": {"part": "parallel"},
                "transformer": {"weights": None}}
SEQUENCE = 64            # tokens per host sequence (the digits' seq_len): the host reads STATUS after each
AT_TOKEN = 300           # fault onset: inside the first window and inside a sequence (not on a boundary)


def standard_faults(at_token: int = AT_TOKEN):
    """One of each kind (channel 0; ±20 °C; I_bias −20 %), all from ``at_token`` on."""
    from .analog_models.faults import Fault
    return [Fault("comparator_stuck_0", at_token), Fault("comparator_stuck_1", at_token),
            Fault("dac_dead", at_token), Fault("dac_saturated", at_token), Fault("ota_open", at_token),
            Fault("temperature_step", at_token, value=20.0), Fault("temperature_step", at_token, value=-20.0),
            Fault("supply_droop", at_token, value=-0.2)]


def faults_config(cfg: AtisConfig) -> AtisConfig:
    """``cfg`` in the fault run's shape; its watchdog must be on (ValueError otherwise)."""
    if cfg.fpga.watchdog.window == 0:
        raise ValueError("fpga.watchdog.window = 0: the fault run needs the keep-rate watchdog (window > 0)")
    if cfg.fpga.scorer != "fpaa":
        raise ValueError(f"fpga.scorer = {cfg.fpga.scorer}: the fault run puts the FPAA model on the scorer's pins")
    return with_overrides(cfg, FAULTS_SHAPE)


def run_tokens(window: int, at_token: int = AT_TOKEN) -> int:
    """Tokens per co-simulated fault: the onset, two windows to detect, one to show the recovery (whole
    sequences)."""
    return -(-(at_token + 3 * window) // SEQUENCE) * SEQUENCE


def model_run(cfg: AtisConfig, fault, tokens: np.ndarray, spec=None) -> dict:
    """The bench's run on the vectorized model and the golden watchdog (``spec``, default the config's): raw keep
    bits under ``fault``, STATUS after each sequence, the host's one re-trim. Returns the bench's row figures."""
    from .analog_models.scoring import scorer_model
    from .golden.keep_watchdog import TRIPPED, resolve_watchdog, watchdog_trace
    from .golden.projection import projection_codes, resolve_projection
    spec_p, spec = resolve_projection(cfg), spec or resolve_watchdog(cfg)
    codes = projection_codes(tokens, spec_p)
    model = scorer_model(cfg, spec_p)
    if fault is not None:
        model.inject(fault)
    raw, clears, recal, hard = np.zeros(0, bool), [], None, None
    for start in range(0, len(codes), SEQUENCE):
        raw = np.concatenate([raw, model.score(codes[start:start + SEQUENCE]).keep])
        if watchdog_trace(raw, spec, clears).status[-1] & TRIPPED:
            if recal is None:
                model.recalibrate("threshold")
                recal = len(raw)
                clears.append(recal)
            elif hard is None:
                hard = len(raw)
    trace = watchdog_trace(raw, spec, clears)
    at = fault.at_token if fault is not None else len(raw)
    trip = next((i for i in trace.trips if i >= at), None)
    stop = recal or len(raw)
    return {"fault": fault.label if fault is not None else None, "at_token": at, "detected": trip is not None,
            "trip_token": trip, "latency_tokens": None if trip is None else trip - at + 1,
            "recalibrated_at": recal, "hard_fault_at": hard,
            "keep_faulty": float(raw[at:stop].mean()) if at < stop else None,
            "keep_after_recovery": float(raw[recal:].mean()) if recal is not None and recal < len(raw) else None,
            "out_keep_after_trip": float(trace.keep[trip + 1:].mean()) if trip is not None and trip + 1 < len(raw)
            else None, "fallback": "keep_all" if spec.keep_all else "recalibrate"}


def model_sweep(cfg: AtisConfig, n: int = 20000, seed: int = 5) -> list[dict]:
    """Each fault kind on every channel it has, on ``n`` tokens of the vectorized model (no watchdog): the kept
    fraction under the fault and after one re-trim, keep bits flipped and the rank correlation of the scores
    with the fault-free ones (what an undetected fault does to the ranking)."""
    from scipy.stats import spearmanr

    from .analog_models.faults import Fault
    from .analog_models.scoring import scorer_model
    from .golden.projection import projection_codes, resolve_projection
    from .golden.reference import random_tokens
    spec_p = resolve_projection(cfg)
    codes = projection_codes(random_tokens(cfg, n, seed), spec_p)
    base = scorer_model(cfg, spec_p).score(codes)
    channels = {"dac_dead": min(cfg.dac.n_channels, cfg.projection.m), "ota_open": cfg.projection.m}
    channels["dac_saturated"] = channels["dac_dead"]
    rows = []
    for proto in standard_faults(0):
        for c in range(channels.get(proto.kind, 1)):
            model = scorer_model(cfg, spec_p)
            model.inject(Fault(proto.kind, 0, c, proto.value))
            hit = model.score(codes)
            model.recalibrate("threshold")
            rows.append({"fault": Fault(proto.kind, 0, c, proto.value).label, "kind": proto.kind,
                         "value": proto.value, "keep_fault_free": float(base.keep.mean()),
                         "keep_faulty": float(hit.keep.mean()), "flipped": float(np.mean(hit.keep != base.keep)),
                         "spearman": float(spearmanr(hit.score, base.score).statistic),
                         "keep_after_retrim": float(model.score(codes).keep.mean())})
    return rows


@dataclass
class FaultsReport:
    """Per fault the bench's figures (``rows``), the model sweep over channels, and the run's settings."""
    rows: list[dict]
    sweep: list[dict]
    settings: dict
    problems: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)


def detection_problems(row: dict, band: tuple[float, float]) -> list[str]:
    """What a fault row shows wrong: a fault whose kept fraction left the band but was never flagged, a stuck
    comparator scoring a sequence past its detection without the flag or the keep-all fallback, a bench mismatch."""
    out = []
    lo, hi = band
    faulty = row.get("keep_faulty")
    leaves = faulty is not None and not lo <= faulty <= hi
    if leaves and not row["detected"]:
        out.append(f"{row['fault']}: kept fraction {faulty:.3f} outside [{lo:g}, {hi:g}] but never flagged")
    if row["fault"] and row["fault"].startswith("comparator_stuck"):
        if not row["detected"]:
            out.append(f"{row['fault']}: a stuck comparator was never flagged")
        elif row.get("out_keep_after_trip") not in (None, 1.0) and row.get("fallback") == "keep_all":
            out.append(f"{row['fault']}: tokens after the trip were pruned by the stuck comparator")
    for key in ("capture_mismatches", "status_mismatches", "mask_mismatches"):
        if row.get(key):
            out.append(f"{row['fault']}: {row[key]} {key.replace('_', ' ')}")
    return out


def run_faults(cfg: AtisConfig, *, work_dir: Path, faults=None, seed: int = 1, sweep_tokens: int = 20000,
               progress=None) -> FaultsReport:
    """Co-simulate every fault (one Verilator build, one simulator run) and sweep the model (``sweep_tokens``
    per channel; 0: no sweep); see the module."""
    import time

    from .cocotb_tests.runner import Bench, run_bench
    started = time.monotonic()
    cfg = faults_config(cfg)
    w = cfg.fpga.watchdog
    faults = standard_faults() if faults is None else faults
    tokens = run_tokens(w.window, max(f.at_token for f in faults))
    bench = Bench("faults", "watched_scorer", "atis.cocotb_tests.test_faults", FAULTS_SHAPE)
    if progress:
        progress(f"co-simulating {len(faults)} faults × {tokens} tokens through scorer + watchdog RTL ...")
    result = run_bench(bench, cfg, work_dir=work_dir, tokens=tokens, seed=seed,
                       extra_env={"ATIS_FAULTS": json.dumps([asdict(f) for f in faults]),
                                  "ATIS_FAULT_SEQUENCE": str(SEQUENCE)})
    rows, problems = [], []
    for i, f in enumerate(faults):
        row = result.metrics.get(f"fault:{i}")
        if row is None:
            problems.append(f"{f.label}: the bench reported nothing")
            continue
        row = {**row, "kind": f.kind, "fallback": w.fallback}
        rows.append(row)
        problems += detection_problems(row, (w.keep_lo, w.keep_hi))
    if not result.passed:
        problems += [f"bench {t}: {c}" for t, c in result.causes.items()] + ([result.error] if result.error else [])
    if progress and sweep_tokens:
        progress(f"sweeping every channel on the vectorized model ({sweep_tokens} tokens each) ...")
    sweep = model_sweep(cfg, sweep_tokens) if sweep_tokens else []
    settings = {"window": w.window, "keep_lo": w.keep_lo, "keep_hi": w.keep_hi, "fallback": w.fallback,
                "keep_target": cfg.fpaa.comparator.keep_target, "m": cfg.projection.m,
                "n_dac": min(cfg.dac.n_channels, cfg.projection.m), "sequence": SEQUENCE, "tokens": tokens,
                "sweep_tokens": sweep_tokens,
                "bench_log": str(result.log), "sim_wall_s": round(result.sim_wall_s, 1)}
    return FaultsReport(rows, sweep, settings, problems, round(time.monotonic() - started, 1))
