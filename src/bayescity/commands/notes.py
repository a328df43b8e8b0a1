"""What a run tells its user under the closing table: every estimator's notes (facts, dim) and
then its warnings (problems: the results' warnings, sampler diagnostics breaches, terms that
rest on fewer than two treated units), each distinct sentence once after the ids of the
estimators that report it (:mod:`bayescity.results.messages`)."""

from __future__ import annotations

from typing import Iterable, Mapping

import pandas as pd
from rich.console import Console

from ..constants import MIN_TREATED_UNITS
from ..results import messages
from ..results.effect import EffectResult


def treated_cell(n) -> str:
    """``n_treated`` as shown in a terminal table: marked ``!`` below two units."""
    if n is None or pd.isna(n):
        return "-"
    return f"{int(n)} !" if n < MIN_TREATED_UNITS else str(int(n))


def run_warnings(results: Mapping[str, Iterable[EffectResult]]) -> list[str]:
    """One line per distinct warning, prefixed by the ids of the estimators reporting it."""
    return messages.lines(messages.run_warnings(results))


def run_notes(results: Mapping[str, Iterable[EffectResult]]) -> list[str]:
    """One line per distinct note, prefixed by the ids of the estimators reporting it."""
    return messages.lines(messages.run_notes(results))


def print_warnings(console: Console, lines: Iterable[str]) -> None:
    for line in lines:
        console.print(f"[yellow]warning:[/] {line}", markup=True, highlight=False,
                      soft_wrap=True)


def print_notes(console: Console, lines: Iterable[str]) -> None:
    for line in lines:
        console.print(f"note: {line}", style="dim", markup=False, highlight=False,
                      soft_wrap=True)


def print_messages(console: Console, panel_warnings: Iterable[str],
                   results: Mapping[str, Iterable[EffectResult]]) -> None:
    """The notes (dim), then the warnings: the panel's, then the results'."""
    print_notes(console, run_notes(results))
    print_warnings(console, [*panel_warnings, *run_warnings(results)])
