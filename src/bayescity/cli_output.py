"""What the command line prints after a run: the headline table, then each estimator's notes.

Terms resting on fewer than two treated units are flagged in the table (``n_treated`` marked
``!``) and listed under it, next to every result's ``info["notes"]``.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import pandas as pd
from rich.console import Console
from rich.table import Table

from .constants import MIN_TREATED_UNITS
from .results.effect import EffectResult

NUMBERS = ("estimate", "std_error", "lower", "upper")


def _treated_cell(n) -> str:
    if pd.isna(n):
        return "-"
    return f"{int(n)} !" if n < MIN_TREATED_UNITS else str(int(n))


def headline_table(table: pd.DataFrame) -> Table:
    """The overall and by-trait ATT rows of a run, one line each."""
    keep = (table["estimand"] == "ATT") | table["estimand"].str.startswith("ATT_by_")
    shown = Table(title="ATT overall and by trait level", title_justify="left")
    for col in ("estimator", "estimand", "term", *NUMBERS, "interval_kind", "n_treated"):
        shown.add_column(col, justify="right" if col in (*NUMBERS, "n_treated") else "left")
    for _, row in table[keep].iterrows():
        nums = [f"{row[c]:.4f}" if row[c] == row[c] else "-" for c in NUMBERS]
        shown.add_row(str(row["estimator"]), str(row["estimand"]), str(row["term"]), *nums,
                      str(row["interval_kind"]), _treated_cell(row.get("n_treated")))
    return shown


def run_warnings(results: Mapping[str, Iterable[EffectResult]]) -> list[str]:
    """One line per estimator note (each once) and per estimand with thin terms, in run order."""
    lines = []
    for est_id, group in results.items():
        seen: dict[str, None] = {}
        thin = []
        for r in group:
            seen.update(dict.fromkeys(r.notes))
            terms = r.thin_terms()
            if terms:
                thin.append(f"{r.estimand} {', '.join(terms)}")
        lines += [f"{est_id}: {note}" for note in seen]
        if thin:
            lines.append(f"{est_id}: terms resting on fewer than {MIN_TREATED_UNITS} treated "
                         f"units (n_treated marked !): {'; '.join(thin)}")
    return lines


def print_warnings(console: Console, lines: Iterable[str]) -> None:
    for line in lines:
        console.print(f"[yellow]warning:[/] {line}", markup=True, highlight=False,
                      soft_wrap=True)
