"""Fuzzing the config loader and every file loader it drives (hypothesis): random YAML text and bytes, random
mappings built on the real schema, random ``.npz`` arrays (dtypes, shapes, NaN/inf, object arrays, wrong names)
under every config key that names a file, and truncated or damaged files. Whatever the input, the loader either
returns a config or raises one :class:`ConfigError` whose one-line message names a config key or the file —
never another exception (the CLI would print it as a traceback)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from atis.config import ConfigError, config_from_dict, config_reference, config_to_dict, load_config

ROOT = Path(__file__).resolve().parent.parent
# derandomized: CI replays the same examples; ATIS_FUZZ_EXAMPLES=2000 fuzzes longer locally
FUZZ = settings(max_examples=int(os.environ.get("ATIS_FUZZ_EXAMPLES", 40)), deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

KEYS = [k for k, *_ in config_reference()]
SECTIONS = sorted({k.rsplit(".", i)[0] for k in KEYS for i in range(k.count(".") + 1)})
DEFAULT = config_to_dict(load_config())

# YAML-representable values, nasty ones included: huge integers, NaN/inf, number-like and unicode strings.
scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**300, max_value=10**400)
           | st.floats() | st.text(max_size=12)
           | st.sampled_from(["nan", ".nan", "inf", "-inf", "1e999", "0x10", "", "~", "null", "auto", "file",
                              "random", "ad5628", "../", "\x00", "é", "🙂"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


def _check_message(err: ConfigError, *names: str) -> None:
    """One line, naming a schema key or section (or one of ``names``: the file, a key the input made up)."""
    msg = str(err)
    assert msg and "\n" not in msg, repr(msg)
    words = {w.rsplit(".", i)[0] for w in re.findall(r"\w+(?:\.\w+)*", msg) for i in range(w.count(".") + 1)}
    assert words & set(SECTIONS) or "config" in words or any(n and (n in msg or repr(n) in msg) for n in names), msg


def _set(tree: dict, path: list[str], value) -> dict:
    out = dict(tree)
    head, *rest = path
    out[head] = _set(out[head] if isinstance(out.get(head), dict) else {}, rest, value) if rest else value
    return out


@st.composite
def mutated_configs(draw):
    """The default config with a few keys (schema keys, sections or made-up ones) set to random values."""
    cfg, made_up = DEFAULT, []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(KEYS + SECTIONS)).split(".")
        if draw(st.booleans()):
            name = draw(st.text(min_size=1, max_size=6))
            path, made_up = path[:-1] + [name], made_up + [name]
        cfg = _set(cfg, path, draw(values))
    return cfg, made_up


@FUZZ
@given(mutated_configs())
@example(({**DEFAULT, "fpga": {**DEFAULT["fpga"], "clock_MHz": 10**400}}, []))     # int -> float overflow
@example(({**DEFAULT, 1: 2, "zz": 3}, []))                                       # keys of mixed types
@example(({**DEFAULT, "model": {**DEFAULT["model"], "\n": None}}, []))                  # a key with a newline
@example(({**DEFAULT, "projection": {**DEFAULT["projection"], "weights": "a\x00b"}}, []))  # NUL in a path
def test_config_from_dict_gives_a_config_or_one_config_error(case):
    data, made_up = case
    try:
        config_from_dict(data)
    except ConfigError as e:
        _check_message(e, *made_up)


@FUZZ
@given(mutated_configs())
def test_config_file_gives_a_config_or_one_config_error(tmp_path_factory, case):
    data, made_up = case
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    try:
        load_config(path)
    except ConfigError as e:
        _check_message(e, str(path), *made_up)


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode)
       | st.sampled_from([b"[" * 2000, b"- " * 2000 + b"x", b"a: &a [*a]", b"!!python/object:os.system {}",
                          b"model: !!binary aGk=", b"\xff\xfe m\x00", b"model:\n\td_model: 3\n"]))
@example(b"\x00")                                            # a control character: no line mark
def test_config_text_gives_a_config_or_one_config_error(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_bytes(raw)
    try:
        load_config(path)
    except ConfigError as e:
        _check_message(e, str(path))


# --- the files a config names: random arrays, near-valid files with one array spoiled, truncated/damaged bytes ---

WEIGHTS = Path(DEFAULT["transformer"]["weights"])
VALID = {"transformer.weights": dict(np.load(WEIGHTS)),
         "scorer.spec": {"P": np.eye(4, 64, dtype=np.int64), "q": np.ones((1, 4)), "kind": np.array("learned"),
                         **{k: np.array(v) for k, v in (("shift", 3), ("dac_bits", 6), ("int8_exponent", 0),
                                                        ("theta_V", 0.1), ("keep", 0.3), ("groups", 1),
                                                        ("consensus_k", 1))}},
         "fpaa.prototype.file": {"q": np.ones((1, 64)), "queries": np.ones((5, 64)), "keys": np.ones((5, 64)),
                                 "attention": np.ones(5)},
         "projection.weights": {"P": np.eye(64, dtype=np.int8)},
         "projection.calibration": {"tokens": np.ones((8, 64), dtype=np.int8)}}
FILE_KEYS = list(VALID)
dtypes = st.sampled_from(["i1", "i2", "i4", "i8", "u1", "u8", "f2", "f4", "f8", "c8", "?", "U3", "S3", "M8[s]"])
arrays = hnp.arrays(dtypes.map(np.dtype), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))


def _config_with(key: str, path: Path, source: str) -> dict:
    section, name = key.rsplit(".", 1)
    extra = {"projection.weights": {"kind": "learned"}, "projection.calibration": {"kind": "topvar"},
             "fpaa.prototype.file": {"source": source}}.get(key, {})
    cfg = _set(DEFAULT, section.split("."), {**_leaf(DEFAULT, section), **extra, name: str(path)})
    return cfg


def _leaf(tree: dict, dotted: str):
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def _loads_or_names_the_file(key: str, path: Path, source: str = "file") -> None:
    try:
        config_from_dict(_config_with(key, path, source))
    except ConfigError as e:
        _check_message(e)
        assert any(k in str(e) for k in FILE_KEYS) or str(path) in str(e), str(e)


@st.composite
def spoiled_files(draw):
    """A config key that names a file, and arrays for it: the valid ones with some replaced, dropped or
    renamed, or NaN/inf written in, or a wholly random set."""
    key = draw(st.sampled_from(FILE_KEYS))
    files = dict(VALID[key])
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(files) + ["extra"]))
        how = draw(st.sampled_from(["replace", "drop", "rename", "nan", "cast", "object"]))
        if how == "replace" or name not in files:
            files[name] = draw(arrays)
        elif how == "drop":
            del files[name]
        elif how == "rename":
            files[draw(st.text(min_size=1, max_size=6).filter(str.isidentifier))] = files.pop(name)
        elif how == "nan" and files[name].size and files[name].dtype.kind in "iufb":
            spoilt = files[name].astype(np.float64)
            spoilt.flat[draw(st.integers(0, spoilt.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
            files[name] = spoilt
        elif how == "cast" and files[name].dtype.kind in "iufb":
            with np.errstate(all="ignore"):
                files[name] = files[name].astype(draw(dtypes.filter(lambda t: t[0] not in "MUS")))
        elif how == "object":
            files[name] = np.array([{"a": 1}, None], dtype=object)    # savez pickles it; atis must refuse it
    return key, files, draw(st.sampled_from(["file", "mean", "lsq"]))


@FUZZ
@given(spoiled_files())
def test_file_with_bad_arrays_gives_one_config_error_naming_it(tmp_path_factory, case):
    key, files, source = case
    path = tmp_path_factory.mktemp("npz") / "f.npz"
    with path.open("wb") as f:
        np.savez(f, **files)                   # object arrays are pickled by numpy's writer, as a hostile file is
    _loads_or_names_the_file(key, path, source)


@FUZZ
@given(st.sampled_from(FILE_KEYS), st.data())
def test_truncated_or_damaged_file_gives_one_config_error_naming_it(tmp_path_factory, key, data):
    path = tmp_path_factory.mktemp("npz") / "f.npz"
    with path.open("wb") as f:
        np.savez(f, **VALID[key])
    raw = bytearray(path.read_bytes())
    if data.draw(st.booleans(), "truncate"):
        raw = raw[:data.draw(st.integers(0, len(raw) - 1), "length")]
    else:
        for _ in range(data.draw(st.integers(1, 4), "flips")):
            raw[data.draw(st.integers(0, len(raw) - 1), "at")] ^= data.draw(st.integers(1, 255), "mask")
    path.write_bytes(bytes(raw))
    _loads_or_names_the_file(key, path)
