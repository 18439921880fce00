"""Hardware faults of the analog side, injected into the FPAA model at a token index (issue 16: detect and survive).

One description, :class:`Fault`, serves both views of the model: :meth:`FpaaModel.inject` schedules it, and from
the ``at_token``-th evaluation on (counted from the model's construction, across :meth:`FpaaModel.reset`, which
models a sequence boundary, not a repair) the model behaves as the faulty circuit would. The cocotb FPAA BFM owns
a model, so the same fault reaches the pins without any BFM code of its own.

=====================  ==============================================================================================
``comparator_stuck_0``  comparator ``channel`` (circuit g) output stuck low: its pin (and vote) is 0
``comparator_stuck_1``  ... stuck high
``dac_dead``            physical DAC channel ``channel`` outputs 0 V (clipped to the rails) on every input it serves
                        (inputs j ≡ channel mod ``dac.n_channels``; time-multiplexed DACs serve several)
``dac_saturated``       ... outputs full scale (``dac.v_full``, clipped to the rails)
``ota_open``            OTA input ``channel`` delivers no current, on every array (its tail is open: g_m = 0)
``temperature_step``    die temperature steps by ``value`` °C (±20 in ``atis faults``); g_m follows the OTA law
``supply_droop``        every OTA's bias current scales by 1 + ``value`` (−0.2: I_bias −20 %)
=====================  ==============================================================================================

A DAC fault changes the channel's output from the next write on (every input is rewritten once per token); the
first token after it is scored on the settling recurrence, so the vectorized view and the pins agree on it too.
Not modelled: the open OTA's own noise (it keeps its share of the array's shot noise, < 1/m of it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Fault", "FAULT_KINDS", "FaultSchedule"]

FAULT_KINDS = ("comparator_stuck_0", "comparator_stuck_1", "dac_dead", "dac_saturated", "ota_open",
               "temperature_step", "supply_droop")


@dataclass(frozen=True)
class Fault:
    """``kind`` (one of :data:`FAULT_KINDS`) from evaluation ``at_token`` on, on ``channel`` (comparator, physical
    DAC channel or OTA input; unused by the global kinds), with ``value`` (ΔT in °C, or the relative I_bias change)."""
    kind: str
    at_token: int = 0
    channel: int = 0
    value: float = 0.0

    def __post_init__(self):
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {self.kind!r}: must be one of {', '.join(FAULT_KINDS)}")
        for name in ("at_token", "channel"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
                raise ValueError(f"fault {name} = {v!r}: must be a non-negative integer")
        if self.kind == "supply_droop" and not -1.0 < self.value <= 1.0:
            raise ValueError(f"supply_droop value = {self.value!r}: a relative bias change in (-1, 1]")

    @property
    def label(self) -> str:
        """Short name for tables: ``dac_dead[3]``, ``temperature_step(+20)``."""
        if self.kind in ("temperature_step", "supply_droop"):
            v = self.value * (100 if self.kind == "supply_droop" else 1)
            return f"{self.kind}({v:+g}{' %' if self.kind == 'supply_droop' else ' °C'})"
        return f"{self.kind}[{self.channel}]"


class FaultSchedule:
    """The faults scheduled on one :class:`~analog_models.fpaa.FpaaModel`, applied as evaluations pass their onset.

    The model calls :meth:`after_evaluation` on every evaluation's comparator outputs, and :meth:`segments` to cut a
    vectorized call at the onsets (so each onset falls between two evaluations, as on the pins)."""

    def __init__(self, model):
        self.model = model
        self.pending: list[Fault] = []
        self.active: list[Fault] = []
        self.stuck: dict[int, bool] = {}     # circuit -> level its comparator pin is stuck at
        self.direct_next = False             # score the next token on the settling recurrence (after a DAC fault)

    def add(self, faults) -> None:
        for f in faults:
            self._check(f)
            self.pending.append(f)
        self.pending.sort(key=lambda f: f.at_token)
        self.apply_due()

    def _check(self, f: Fault) -> None:
        model = self.model
        limit = {"comparator_stuck_0": model.weights.shape[0], "comparator_stuck_1": model.weights.shape[0],
                 "dac_dead": min(model.dac.input_channels, model.m),       # not a channel that drives θ
                 "dac_saturated": min(model.dac.input_channels, model.m), "ota_open": model.m}.get(f.kind)
        if limit is not None and f.channel >= limit:
            raise ValueError(f"fault {f.kind} channel = {f.channel}: must be in 0..{limit - 1}")

    def apply_due(self) -> None:
        while self.pending and self.pending[0].at_token <= self.model.evaluations:
            f = self.pending.pop(0)
            self._apply(f)
            self.active.append(f)

    def _apply(self, f: Fault) -> None:
        model, kind = self.model, f.kind
        if kind.startswith("comparator_stuck"):
            self.stuck[f.channel] = kind.endswith("1")
        elif kind in ("dac_dead", "dac_saturated"):
            d = model.cfg.dac
            level = float(np.clip(0.0 if kind == "dac_dead" else d.v_full, d.rail_low, d.rail_high))
            table = model.dac.table.copy()
            table[np.arange(model.m) % model.dac.input_channels == f.channel] = level
            model.dac.table = table
            model.drop_input_table()
            self.direct_next = True
        elif kind == "ota_open":
            gain = model.ota.gain.copy()
            gain[:, f.channel] = 0.0
            model.ota.gain = gain
        elif kind == "temperature_step":
            model.temperature_C += f.value
        else:                                # supply_droop
            model.ota.bias_scale *= 1.0 + f.value

    def after_evaluation(self, fired: np.ndarray, n: int) -> np.ndarray:
        """Comparator outputs of ``n`` evaluations with the stuck pins forced; then the faults now due apply."""
        if self.stuck:
            fired = fired.copy()
            for g, level in self.stuck.items():
                fired[:, g] = level
        self.model.evaluations += n
        self.apply_due()
        return fired

    def segments(self, n: int):
        """Cut ``n`` tokens starting at evaluation ``model.evaluations`` at the pending onsets: yields (start, stop,
        direct) where ``direct`` asks for the settling recurrence (one token, after a DAC fault)."""
        start, done = 0, self.model.evaluations
        while start < n:
            if self.direct_next:
                self.direct_next = False
                yield start, start + 1, True
                start += 1
                continue
            onset = self.pending[0].at_token - done if self.pending else n
            stop = min(n, max(onset, start + 1))
            yield start, stop, False
            start = stop
