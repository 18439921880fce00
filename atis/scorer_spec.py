"""One file for a whole fitted scorer: the float -> int8 front end, the projection, its shift, the prototype(s) and
θ. The golden projection, the FPAA model and the RTL all read it through the config key ``scorer.spec``.

The file is an ``.npz`` (never pickled) with these arrays:

* ``P[m, d]`` int8-valued projection (``kind`` says where it came from: jl, learned, fold);
* ``q[H, m]`` float prototypes in DAC units (code − mid-scale), one per head;
* scalars ``int8_exponent`` (token = clip(round(x·2^e)), see :class:`Int8Frontend`), ``shift``, ``dac_bits``,
  ``groups``, ``consensus_k``, ``keep`` (the kept fraction θ was trimmed for), ``theta_V`` and ``kind``.

The projection reads ``P`` and the prototype reads ``q`` from the same file, so nothing is copied.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import ConfigError

__all__ = ["Int8Frontend", "ScorerSpec", "KINDS"]

KINDS = ("jl", "learned", "fold")


@dataclass(frozen=True)
class Int8Frontend:
    """Float hidden states -> int8 tokens by a power-of-two scale: ``clip(round(x · 2^exponent), -128, 127)``.

    A power of two because the FPGA's requantizers are shifts; :meth:`fit` picks the largest exponent that keeps
    ``coverage`` of the calibration values inside int8 (the rest saturate)."""
    exponent: int

    @staticmethod
    def fit(values: np.ndarray, coverage: float = 0.999) -> Int8Frontend:
        v = np.abs(np.asarray(values, dtype=np.float64)).reshape(-1)
        top = float(np.quantile(v, coverage)) if v.size else 0.0
        if not np.isfinite(top) or top <= 0:
            raise ValueError("int8 front end: the calibration hidden states are all zero (no scale to fit)")
        return Int8Frontend(int(np.floor(np.log2(127.0 / top))))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.round(np.asarray(x, dtype=np.float64) * 2.0 ** self.exponent), -128, 127).astype(np.int64)


@dataclass(frozen=True)
class ScorerSpec:
    """A fitted scorer (see the module docstring); :meth:`save` / :meth:`load` round-trip it exactly."""
    kind: str
    matrix: np.ndarray          # int64 [m, d], int8-valued
    shift: int
    dac_bits: int
    prototypes: np.ndarray      # float [H, m]
    int8_exponent: int
    theta_V: float
    keep: float
    groups: int = 1
    consensus_k: int = 1

    def __post_init__(self):
        self.validate("ScorerSpec")

    @property
    def m(self) -> int:
        return self.matrix.shape[0]

    @property
    def d(self) -> int:
        return self.matrix.shape[1]

    @property
    def frontend(self) -> Int8Frontend:
        return Int8Frontend(self.int8_exponent)

    def validate(self, what: str) -> None:
        """Raise ConfigError naming ``what`` and the field for anything the hardware cannot take."""
        def bad(key, why):
            raise ConfigError(f"{what}: {key} {why}")
        P, q = np.asarray(self.matrix), np.asarray(self.prototypes)
        if self.kind not in KINDS:
            bad("kind", f"= {self.kind!r}: must be one of {', '.join(KINDS)}")
        if P.ndim != 2 or 0 in P.shape or P.dtype.kind not in "iu" or P.min() < -128 or P.max() > 127:
            bad("P", f"must be a non-empty integer matrix [m, d] with values in -128..127 (shape {list(P.shape)}, "
                     f"dtype {P.dtype})")
        if q.ndim != 2 or q.shape[1] != P.shape[0] or q.shape[0] < 1 or not np.all(np.isfinite(q)):
            bad("q", f"must be finite prototypes [H, m = {P.shape[0]}], not shape {list(q.shape)}")
        if not np.any(q):
            bad("q", "is all zero (no prototype to program)")
        for key, lo, hi in (("shift", 0, 31), ("dac_bits", 3, 8), ("int8_exponent", -64, 64)):
            value = getattr(self, key)
            if not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
                bad(key, f"= {value!r}: must be an integer in {lo}..{hi}")
        if not (np.isfinite(self.theta_V) and -5.0 <= self.theta_V <= 5.0):
            bad("theta_V", f"= {self.theta_V!r}: must be a number in -5..5 V")
        if not (np.isfinite(self.keep) and 0.0 < self.keep <= 1.0):
            bad("keep", f"= {self.keep!r}: must be in (0, 1]")
        if self.groups < 1 or q.shape[0] % self.groups or not 1 <= self.consensus_k <= self.groups:
            bad("groups", f"= {self.groups}, consensus_k = {self.consensus_k}: groups must divide H = {q.shape[0]} "
                          "and consensus_k be in 1..groups")

    def save(self, path: Path | str) -> Path:
        """Write the ``.npz`` (``path`` gets no suffix added: what you name is what is written)."""
        path = Path(path)
        with path.open("wb") as f:      # a file object keeps numpy from appending ".npz"
            np.savez(f, P=self.matrix.astype(np.int64), q=self.prototypes.astype(np.float64),
                     kind=np.array(self.kind), **{k: np.array(getattr(self, k)) for k in
                     ("shift", "dac_bits", "int8_exponent", "theta_V", "keep", "groups", "consensus_k")})
        return path

    @staticmethod
    def load(path: Path | str, what: str = "scorer spec") -> ScorerSpec:
        """Read and validate a spec; every problem is one ConfigError naming ``what``, the file and the key."""
        from .npz import read_npz
        npz = read_npz(path, what)
        where = npz.where
        fields = [f.name for f in dataclasses.fields(ScorerSpec)]
        names = {"matrix": "P", "prototypes": "q"}
        missing = [names.get(f, f) for f in fields if names.get(f, f) not in npz]
        if missing:
            raise ConfigError(f"{where}: missing {', '.join(missing)} (has: {', '.join(sorted(npz.arrays)) or 'none'})")
        values = {"matrix": npz.ints("P", lo=-128, hi=127), "prototypes": npz.floats("q", ndims=(2,))}
        for f in fields:
            key = names.get(f, f)
            if f in values:
                continue
            if npz.arrays[key].ndim != 0:
                raise ConfigError(f"{where}: {key} must be a scalar, not shape {list(npz.arrays[key].shape)}")
            if f == "kind":
                if npz.arrays[key].dtype.kind != "U":
                    raise ConfigError(f"{where}: kind must be a string ({', '.join(KINDS)})")
                values[f] = str(npz.arrays[key])
            elif f in ("theta_V", "keep"):
                values[f] = float(npz.floats(key))
            else:
                values[f] = int(npz.ints(key))
        spec = object.__new__(ScorerSpec)
        for k, v in values.items():
            object.__setattr__(spec, k, v)
        spec.validate(where)
        return spec

    def overrides(self, path: Path | str) -> dict:
        """The config keys this spec sets (``path``: where it is saved, read back by projection and prototype)."""
        return {"model": {"d_model": self.d},
                "projection": {"kind": "learned", "weights": str(path), "m": self.m, "dac_bits": self.dac_bits,
                               "shift": self.shift},
                "fpaa": {"prototype": {"source": "file", "file": str(path), "ema_tau_tokens": 0.0},
                         "heads": {"count": int(self.prototypes.shape[0]), "groups": self.groups,
                                   "consensus_k": self.consensus_k},
                         "comparator": {"threshold": "fixed", "theta_V": self.theta_V, "keep_target": self.keep}}}
