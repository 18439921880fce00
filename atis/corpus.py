"""A frozen text corpus for real-model validation: the docstrings of installed Python packages.

Read from the packages' source with ``ast`` (nothing is imported or executed), in sorted file order, so the same
package versions give the same corpus; :func:`docstring_corpus` reports a SHA-256 of it and the versions, so two
runs can tell whether they saw the same text. The split is by source module (a hash of the module name), so
calibration and evaluation never share a file. ``/usr/share/doc`` and Python's pydoc topics are not used: that
text is kept for an independent check.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Corpus", "docstring_corpus", "PACKAGES"]

PACKAGES = ("numpy", "scipy", "matplotlib", "sklearn")
DISTRIBUTIONS = {"sklearn": "scikit-learn"}
MIN_CHARS = 200                 # shorter docstrings are mostly one-liners: too few tokens to prune
EVAL_EVERY = 4                  # one module in four (by hash) goes to evaluation


@dataclass(frozen=True)
class Corpus:
    calibration: list[str]
    evaluation: list[str]
    sha256: str
    versions: dict[str, str]

    def summary(self) -> dict:
        return {"sha256": self.sha256, "versions": self.versions, "calibration_texts": len(self.calibration),
                "evaluation_texts": len(self.evaluation)}


def _docstrings(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []
    nodes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                  ast.ClassDef))]
    texts = (ast.get_docstring(n, clean=False) for n in nodes)
    return [inspect.cleandoc(t) for t in texts if t and len(t) >= MIN_CHARS]


def docstring_corpus(packages: tuple[str, ...] = PACKAGES) -> Corpus:
    """Every docstring of at least MIN_CHARS characters in ``packages`` (tests folders excluded), split by module."""
    calibration, evaluation, versions = [], [], {}
    digest = hashlib.sha256()
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(f"corpus: package {package!r} is not installed")
        versions[package] = importlib.metadata.version(DISTRIBUTIONS.get(package, package))
        root = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root.parent)
            if "tests" in rel.parts:
                continue
            module = ".".join(rel.with_suffix("").parts)
            texts = _docstrings(path)
            to_eval = hashlib.sha256(module.encode()).digest()[0] % EVAL_EVERY == 0
            (evaluation if to_eval else calibration).extend(texts)
            for t in texts:
                digest.update(module.encode() + b"\0" + t.encode() + b"\0")
    return Corpus(calibration, evaluation, digest.hexdigest(), versions)
