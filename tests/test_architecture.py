"""Layers import downward only (the import-linter contract in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_layers_hold():
    script = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(script), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_contracts_include_paradigm_independence():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'type = "independence"' in text and '"bayescity.estimators.freq"' in text


def test_no_two_modules_import_each_other_directly_or_in_a_loop():
    import grimp

    graph = grimp.build_graph("bayescity")
    loops = sorted((a, b) for a in graph.modules for b in graph.find_modules_directly_imported_by(a)
                   if graph.chain_exists(importer=b, imported=a))
    assert loops == [], loops


def test_imports_inside_functions_are_for_heavy_backends_only():
    """A function-level import of a bayescity module hides a circle; only optional, heavy
    third-party backends (PyMC, JAX, ArviZ, econml, matplotlib ...) are imported late, and the
    command-line layer (``cli.py``, ``commands/``) defers each command's modules so that
    ``bayescity --help`` starts fast."""
    import ast

    late = []
    for path in sorted((ROOT / "src" / "bayescity").rglob("*.py")):
        if path.name == "cli.py" or "commands" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.level or (
                            inner.module or "").startswith("bayescity")):
                        late.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert len(late) <= LATE_IMPORT_BUDGET, "\n".join(late)


#: Function-level imports of bayescity's own modules outside the command-line layer.
LATE_IMPORT_BUDGET = 0
