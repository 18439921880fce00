"""Keep budgets on the digits (issue 18): the sweep's FPAA scorer read out by the comparator or by a b-bit SAR,
then a per-image selection (``atis.golden.selection``): the global threshold, an exact top-k or a capped threshold.

The FPAA model is the sweep's (``atis.sweep``): the training-fitted shift, the least-squares prototype, θ trimmed on
the training tokens for the keep ratio. The readout (``analog_models.readout``) centres its range on that θ, so the
SAR's MSB is the comparator's decision and ``threshold`` on SAR codes keeps what the comparator keeps.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atis.analog_models import FpaaModel
from atis.analog_models.readout import SarReadout
from atis.golden.readout import resolve_readout
from atis.golden.selection import SelectionSpec, select

from .calibrate import centered_prototype
from .config import AtisConfig, with_overrides
from .digits import PIXELS

__all__ = ["CAP_BAND", "BudgetRun", "budget_run"]

#: The sweep's ``cap`` at keep r: the threshold's tokens, at least 2/3·r·n and at most 4/3·r·n of them.
CAP_BAND = (2 / 3, 4 / 3)


@dataclass(frozen=True)
class BudgetRun:
    """Per test image (rows) and pixel: the held analog ``scores`` (V), the readout ``codes`` and the kept
    ``masks``; ``bits`` of the codes (1: the comparator's keep bit); ``readout`` the SAR model (None: comparator)."""
    scores: np.ndarray
    codes: np.ndarray
    masks: np.ndarray
    bits: int
    readout: SarReadout | None


def budget_run(data, cfg: AtisConfig, keep: float, bits: int | None, selection: str) -> BudgetRun:
    """The test images through the FPAA model at keep ratio ``keep``, read out with ``bits`` SAR bits (None: the
    comparator), selected per image by ``selection`` (threshold | topk | cap, :data:`CAP_BAND` for cap). ``data``
    is the sweep's per-config data (tokens, attention, fitted shift)."""
    c = with_overrides(data.calibrated(cfg), {"fpaa": {
        "comparator": {"keep_target": keep, "threshold": "target"},
        "readout": {"mode": "sar", "bits": bits} if bits else {"mode": "comparator"}}})
    train_codes, test_codes = data.codes(c, "train"), data.codes(c, "test")
    mid = 1 << (c.projection.dac_bits - 1)
    q = centered_prototype(train_codes - mid, data.train_att.reshape(-1))
    model = FpaaModel(c, prototypes=np.repeat(q, c.fpaa.heads.count, axis=0), reference_codes=train_codes)
    result = model.score(test_codes)
    readout = SarReadout(model, resolve_readout(c)) if bits else None
    codes = readout.codes(result.score) if readout else result.keep.astype(np.int64)
    width = bits or 1
    lo, hi = CAP_BAND
    spec = SelectionSpec(selection, PIXELS, width, keep, min(lo * keep, 1.0), min(hi * keep, 1.0))
    codes = codes.reshape(-1, PIXELS)
    masks = np.array([select(row, spec) for row in codes])
    return BudgetRun(result.score.reshape(-1, PIXELS), codes, masks, width, readout)
