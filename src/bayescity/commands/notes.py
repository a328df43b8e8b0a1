"""What a run tells its user under the closing table: every estimator's notes and the terms
that rest on fewer than two treated units, as warnings."""

from __future__ import annotations

from typing import Iterable, Mapping

import pandas as pd
from rich.console import Console

from ..constants import MIN_TREATED_UNITS
from ..results.effect import EffectResult


def treated_cell(n) -> str:
    """``n_treated`` as shown in a terminal table: marked ``!`` below two units."""
    if n is None or pd.isna(n):
        return "-"
    return f"{int(n)} !" if n < MIN_TREATED_UNITS else str(int(n))


def run_warnings(results: Mapping[str, Iterable[EffectResult]]) -> list[str]:
    """One line per estimator note (each once) and per estimator with thin terms, in run order."""
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
