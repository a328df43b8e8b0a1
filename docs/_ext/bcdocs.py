"""Pages generated from the code, and the docstring check that fails the build.

* :func:`missing_docstrings` walks ``bayescity.__all__`` and the ``__all__`` of every public
  module (a module whose dotted path has no part starting with ``_``) and returns the public
  names without a docstring: modules, classes, functions, and the public methods and
  properties that classes define themselves. ``tests/test_docs.py`` runs it too.
* :func:`api_markdown` writes the API reference: every public name once, under the shortest
  module path that exports it, as autodoc directives (so the text is the docstrings').
* :func:`parameters_markdown` writes the methods table and every method's parameters from the
  declarations (:mod:`bayescity.estimators.reference`).

Sphinx calls :func:`setup`; on ``builder-inited`` the pages are written to
``docs/_generated/`` (ignored by git) and the build stops when a docstring is missing.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

GENERATED = Path(__file__).resolve().parents[1] / "_generated"


def public_modules() -> list[str]:
    """``bayescity`` and every importable submodule whose path has no private part."""
    import bayescity
    names = ["bayescity"]
    for info in pkgutil.walk_packages(bayescity.__path__, "bayescity."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        names.append(info.name)
    return names


def exported(module_name: str) -> list[tuple[str, object]]:
    """The ``(name, object)`` pairs of a module's ``__all__`` (empty when it has none)."""
    module = importlib.import_module(module_name)
    return [(name, getattr(module, name)) for name in getattr(module, "__all__", [])]


def _has_doc(obj: object) -> bool:
    return bool((getattr(obj, "__doc__", None) or "").strip())


def _own_members(cls: type) -> list[tuple[str, object]]:
    """Public methods and properties a class defines itself (inherited ones are checked on
    the class that defines them)."""
    out = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property):
            out.append((name, value))
        elif isinstance(value, (staticmethod, classmethod)):
            out.append((name, value.__func__))
        elif inspect.isfunction(value):
            out.append((name, value))
    return out


def missing_docstrings() -> list[str]:
    """Dotted names of public modules, classes, functions, methods and properties that have
    no docstring."""
    missing: list[str] = []
    seen: set[int] = set()
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        if not hasattr(module, "__all__"):
            continue
        if not _has_doc(module):
            missing.append(module_name)
        for name, obj in exported(module_name):
            if id(obj) in seen or not (inspect.isclass(obj) or inspect.isroutine(obj)):
                continue
            seen.add(id(obj))
            if not _has_doc(obj) or (inspect.isclass(obj) and "__doc__" not in vars(obj)):
                missing.append(f"{module_name}.{name}")
            if inspect.isclass(obj):
                missing += [f"{module_name}.{name}.{member}"
                            for member, value in _own_members(obj) if not _has_doc(value)]
    return sorted(set(missing))


def _directive(path: str, obj: object) -> list[str]:
    """reST autodoc lines (autodoc writes reST, so the page wraps them in ``eval-rst``)."""
    if inspect.isclass(obj):
        return [f".. autoclass:: {path}", "   :members:", "   :show-inheritance:", ""]
    if inspect.isroutine(obj):
        return [f".. autofunction:: {path}", ""]
    return []


def documented_names() -> list[str]:
    """The dotted paths the API reference documents, one per public object."""
    return [line.split(":: ", 1)[1] for line in api_markdown().splitlines()
            if line.startswith((".. autoclass::", ".. autofunction::"))]


#: Sections of the API reference: module, title, one line of context.
API_SECTIONS = [
    ("bayescity", "The package", "What ``import bayescity as bc`` gives."),
    ("bayescity.datasets", "Built-in and simulated data", ""),
    ("bayescity.data", "Loading and validating panels", ""),
    ("bayescity.results", "Results", ""),
    ("bayescity.estimators", "Estimators", ""),
    ("bayescity.experiments", "Experiments", ""),
    ("bayescity.tfp", "TFP from city inputs", ""),
    ("bayescity.estimands", "One aggregation for every paradigm", ""),
    ("bayescity.diagnostics", "Sampler diagnostics", ""),
    ("bayescity.reports", "Reports", ""),
]


def api_markdown() -> str:
    """The API reference: each public name once, under the first section that exports it;
    public modules with an ``__all__`` that no section names follow when they export a name
    documented nowhere before."""
    seen: set[int] = set()
    named = {m for m, _, _ in API_SECTIONS}
    extra = [(m, f"`{m}`", "") for m in public_modules()
             if m not in named and hasattr(importlib.import_module(m), "__all__")]
    lines: list[str] = []
    for module_name, title, _ in [*API_SECTIONS, *extra]:
        body: list[str] = []
        for name, obj in sorted(exported(module_name), key=lambda kv: kv[0].lower()):
            if id(obj) in seen or inspect.ismodule(obj):
                continue
            directive = _directive(f"{module_name}.{name}", obj)
            if directive:
                seen.add(id(obj))
                body += directive
        if body or module_name in named:
            lines += [f"## {title}", "", "```{eval-rst}", f".. automodule:: {module_name}",
                      "   :no-members:", "", *body, "```", ""]
    return "\n".join(lines)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def parameters_markdown() -> str:
    """Every registered method: a table of methods, then each one's parameters."""
    from bayescity.estimators import get_estimator
    from bayescity.estimators.reference import methods_table, parameter_table
    rows = methods_table()
    lines = ["| method | paradigm | class | what it is |", "|---|---|---|---|"]
    lines += [f"| [`{r['method']}`](#{r['method']}) | {r['paradigm']} | "
              f"{{class}}`~bayescity.{get_estimator(r['method']).__name__}` | "
              f"{_cell(r['summary'])} |" for r in rows]
    for r in rows:
        cls = get_estimator(r["method"])
        lines += ["", f"## {r['method']}", "",
                  f"*{r['paradigm']}*, class {{class}}`bayescity.{cls.__name__}`, "
                  f"`bayescity methods {r['method']}`. {_cell(r['summary'])}", "",
                  "| parameter | default | allowed | what it does |", "|---|---|---|---|"]
        lines += [f"| `{p['name']}` | `{_cell(p['default'])}` | {_cell(p['allowed'])} | "
                  f"{_cell(p['help'])} |" for p in parameter_table(r["method"])]
        smoke = dict(getattr(cls, "smoke_params", {}) or {})
        if smoke:
            lines += ["", f"`--smoke` runs use {', '.join(f'`{k}: {v}`' for k, v in smoke.items())}"
                      " unless the config's `smoke:` says otherwise."]
    return "\n".join(lines) + "\n"


def write_generated(app=None) -> None:
    """Write the generated pages; stop the build when a public name lacks a docstring."""
    missing = missing_docstrings()
    if missing:
        from sphinx.errors import ExtensionError
        raise ExtensionError("public names without a docstring:\n  " + "\n  ".join(missing))
    GENERATED.mkdir(exist_ok=True)
    for name, text in {"api.md": api_markdown(), "parameters.md": parameters_markdown()}.items():
        path = GENERATED / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def check_documented(app, env) -> None:
    """Stop the build when a name of the API reference did not become a documented object
    (an autodoc directive that rendered nothing)."""
    from sphinx.errors import ExtensionError
    objects = env.get_domain("py").objects
    lost = [name for name in documented_names() if name not in objects]
    if lost:
        raise ExtensionError("the API reference documents nothing for: " + ", ".join(lost))


def setup(app):
    """Sphinx entry point."""
    app.connect("builder-inited", write_generated)
    app.connect("env-check-consistency", check_documented)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
