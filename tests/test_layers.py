"""The layers of atis point one way (docs/architecture.md): every import in the package is parsed and checked.

0. core      config (and the scorer spec it reads), golden models, design specs, protocol, toolchain, digits data
1. models    atis.hdl, atis.analog_models            (import only the core)
2. benches   atis.cocotb_tests, atis.boards           (import the models and the core)
3. flows     everything else in atis: CLI, commands, demo, sweep, train, reports

A module may import its own package and any lower layer; never a higher layer, nor a sibling package of its
layer (hdl and analog_models know nothing of each other). Imports inside functions count too.
"""
from __future__ import annotations

import ast
import shutil
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CORE = ("atis.config", "atis.config_analog", "atis.golden", "atis.design", "atis.protocol", "atis.toolchain",
        "atis.digits", "atis.configs", "atis.scorer_spec", "atis.npz")
LAYERS: dict[str, int] = {**dict.fromkeys(CORE, 0), "atis.hdl": 1, "atis.analog_models": 1,
                          "atis.cocotb_tests": 2, "atis.boards": 2}
NAMES = ("core", "models", "benches", "flows")


def _package_dirs(root: Path) -> dict[str, Path]:
    """Package -> folder, from pyproject's setuptools mapping (the same one that installs them)."""
    setup = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    return {pkg: root / folder for pkg, folder in setup["package-dir"].items()}


def _modules(root: Path) -> dict[str, Path]:
    """Every module of the installed package, by dotted name."""
    found = {}
    for pkg, folder in _package_dirs(root).items():
        for path in folder.rglob("*.py"):
            parts = [p for p in path.relative_to(folder).with_suffix("").parts if p != "__init__"]
            found[".".join([pkg, *parts])] = path
    return found


def _group(module: str) -> str:
    """The package group a module belongs to: its prefix in LAYERS; the bare ``atis`` (version only) is core;
    anything else in atis is a flow."""
    if module == "atis":
        return "atis.config"
    return next((p for p in LAYERS if module == p or module.startswith(p + ".")), "flows")


def _layer(module: str) -> int:
    return LAYERS.get(_group(module), 3)


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[int, str]]:
    """(line, module) of every atis import in one file, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for a in node.names:   # `from atis import sweep` imports the module atis.sweep
                out.append((node.lineno, f"{base}.{a.name}" if f"{base}.{a.name}" in known else base))
    return list(dict.fromkeys((line, mod) for line, mod in out if mod == "atis" or mod.startswith("atis.")))


def violations(root: Path) -> list[str]:
    """Every import that points up a layer or across to a sibling package, as 'file:line: a -> b (why)'."""
    modules = _modules(root)
    found = []
    for name, path in sorted(modules.items()):
        here, here_group = _layer(name), _group(name)
        for line, target in _imports(name, path, set(modules)):
            there, there_group = _layer(target), _group(target)
            where = f"{path.relative_to(root)}:{line}: {name} -> {target}"
            if there > here:
                found.append(f"{where} (a {NAMES[here]} module imports the {NAMES[there]} layer)")
            elif there == here and here in (1, 2) and there_group != here_group:
                found.append(f"{where} (sibling packages of the {NAMES[here]} layer)")
    return found


def test_every_import_points_down():
    assert violations(ROOT) == []


def test_the_checker_sees_every_package():
    modules = _modules(ROOT)
    for expected in ("atis.cli", "atis.golden.projection", "atis.hdl.projection", "atis.analog_models.fpaa",
                     "atis.cocotb_tests.bfm.stream", "atis.boards.platforms"):
        assert expected in modules
    assert _layer("atis.golden.quant") == 0 and _layer("atis.hdl.linear") == 1 and _layer("atis.sweep") == 3


@pytest.fixture
def tree(tmp_path) -> Path:
    """A copy of the package sources to plant imports in."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for folder in {p.relative_to(ROOT).parts[0] for p in _package_dirs(ROOT).values()}:
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.mark.parametrize("file, planted, why", [
    ("hdl/projection.py", "from atis.sweep import run_sweep\n", "models module imports the flows"),
    ("atis/golden/quant.py", "def f():\n    from ..hdl import projection\n", "core module imports the models"),
    ("hdl/linear.py", "from atis.analog_models import FpaaModel\n", "sibling packages of the models"),
    ("analog_models/ota.py", "import atis.cocotb_tests.runner\n", "models module imports the benches"),
    ("boards/build.py", "from atis import demo\n", "benches module imports the flows"),
])
def test_a_planted_upward_import_fails(tree, file, planted, why):
    with (tree / file).open("a") as f:
        f.write(planted)
    found = violations(tree)
    assert len(found) == 1 and found[0].startswith(file) and why in found[0], found
