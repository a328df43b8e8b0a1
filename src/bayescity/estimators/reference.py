"""The parameter reference of every method, generated from the declarations.

:func:`methods_table` lists the registered methods with the first line of their docstrings;
:func:`parameter_table` one method's parameters (name, kind, default, allowed values, help) from
its :attr:`~bayescity.estimators.core.base.Estimator.params`; :func:`markdown` writes them all
as the README's parameter reference, which ``python -m bayescity.estimators.reference README.md``
regenerates between its markers (a test checks that the README is current).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .registry import available_methods, get_estimator

START = "<!-- parameter-reference:start (generated: python -m bayescity.estimators.reference README.md) -->"
END = "<!-- parameter-reference:end -->"


def summary(method: str) -> str:
    """The first sentence of a method's docstring."""
    doc = (get_estimator(method).__doc__ or "").strip()
    first = " ".join(doc.split("\n\n")[0].split())
    sentence = re.split(r"(?<=[a-z0-9)`])\. (?=[A-Z`(])", first)[0]
    return sentence.rstrip(".") + "." if sentence else ""


def methods_table() -> list[dict[str, str]]:
    """One row per registered method: its name, paradigm and summary."""
    return [{"method": m, "paradigm": get_estimator(m).paradigm, "summary": summary(m)}
            for m in available_methods()]


def parameter_table(method: str) -> list[dict[str, str]]:
    """The declared parameters of ``method``, in constructor order."""
    return get_estimator(method).describe_params()


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown() -> str:
    """The parameter reference of every method as Markdown (one collapsible table each)."""
    lines = [START, ""]
    for row in methods_table():
        method = row["method"]
        lines += [f"<details><summary><code>{method}</code> ({row['paradigm']}): "
                  f"{_cell(row['summary'])}</summary>", "",
                  "| parameter | default | allowed | what it does |", "|---|---|---|---|"]
        lines += [f"| `{p['name']}` | `{_cell(p['default'])}` | {_cell(p['allowed'])} | "
                  f"{_cell(p['help'])} |" for p in parameter_table(method)]
        lines += ["", "</details>", ""]
    return "\n".join([*lines, END])


def updated(text: str) -> str:
    """``text`` (the README) with its parameter reference replaced by the current one."""
    start, end = text.index(START), text.index(END) + len(END)
    return text[:start] + markdown() + text[end:]


if __name__ == "__main__":  # pragma: no cover
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    path.write_text(updated(path.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"parameter reference written to {path}")
