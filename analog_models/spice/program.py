"""Floating-gate programming in SPICE: find each tail's gate voltage so it carries its target current.

A floating-gate FPAA programs each current by measure-and-inject until it reads the target (Hasler, Proc. IEEE
2020); the gate charge then stays put, so V_gs is fixed whatever the temperature. Here the same loop runs on the
netlist: an operating point reads every tail current, and each gate moves by n·U_T·ln(target/I), the subthreshold
exponential's inverse, with the slope re-estimated per device from its last two steps (a secant; it grows
above threshold, where the current is no longer exponential). Because every
device is measured, the tail's own mismatch is programmed out, as on the chip.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .runner import SpiceError

__all__ = ["program_gates", "GATE_START_V", "OFF_GATE_V"]

GATE_START_V = 0.35     # first guess: near 100 nA for the 4/4 µm tail of the PTM 180 nm card
OFF_GATE_V = 0.0        # a zero weight: gate at ground (tail leakage ~ pA, < 1e-4 of a 100 nA full scale)
_N_GUESS = 1.4          # subthreshold slope of the card's NMOS, first step only
_TOL = 1e-5             # relative current error at which programming stops


def program_gates(measure: Callable[[np.ndarray], np.ndarray], targets_A: np.ndarray, ut_V: float,
                  max_steps: int = 30) -> np.ndarray:
    """Gate voltages ``[k]`` that make ``measure(gates)`` (tail currents, A) equal ``targets_A``; zero targets get
    :data:`OFF_GATE_V` and are not measured against."""
    targets = np.asarray(targets_A, dtype=float)
    on = targets > 0
    gates = np.where(on, GATE_START_V, OFF_GATE_V)
    slope = np.full(len(targets), _N_GUESS * ut_V)          # V per e-fold of current
    prev = None
    for _ in range(max_steps):
        current = np.asarray(measure(gates), dtype=float)
        if np.any(current[on] <= 0):
            raise SpiceError("floating-gate programming: a tail carries no current (is the OTA biased?)")
        error = np.log(targets[on] / current[on])
        if np.max(np.abs(error), initial=0.0) < _TOL:
            return gates
        if prev is not None:
            d_gate, d_log = gates[on] - prev[0], np.log(current[on]) - prev[1]
            ok = np.abs(d_log) > 1e-9
            slope[np.flatnonzero(on)[ok]] = np.clip(d_gate[ok] / d_log[ok], 0.5 * ut_V, 20.0 * ut_V)
        prev = (gates[on].copy(), np.log(current[on]))
        gates = gates.copy()
        gates[on] += slope[on] * error
    raise SpiceError(f"floating-gate programming did not converge in {max_steps} steps "
                     f"(worst current error {np.max(np.abs(error)):.2e} in ln)")
