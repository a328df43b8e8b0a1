"""The live progress display of a run or sweep, and the run's closing table.

The display (rich, on stderr) shows which estimator is running (k of n, or "using stored fit"),
its own progress when it reports any (sampling draws, bootstrap or permutation iterations,
forest fitting -- see :mod:`bayescity.progress`), and the elapsed time. It is transient: gone
when the run ends, so the closing table and paths are what remains on screen.
"""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn)
from rich.table import Table

from ..progress import ProgressEvent
from ..reports import headline_rows, long_view
from .common import err
from .notes import treated_cell


class RunDisplay:
    """A :class:`~bayescity.experiments.runner.RunObserver` drawing a rich progress display."""

    def __init__(self, title: str = "run", console: Console | None = None):
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=console or err, transient=True)
        self.main = self.progress.add_task(title, total=None)
        self.inner = None
        self.current = ""

    def __enter__(self) -> "RunDisplay":
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def fit_started(self, est_id: str, method: str, index: int, total: int,
                    stored: bool) -> None:
        self.current = est_id
        what = "using stored fit" if stored else "fitting"
        self.progress.update(self.main, description=f"{what} {est_id} ({method})",
                             completed=index, total=total)
        self._drop_inner()

    def fit_finished(self, est_id: str, seconds: float) -> None:
        self.progress.advance(self.main)
        self._drop_inner()

    def task_progress(self, event: ProgressEvent) -> None:
        label = f"  {self.current}: {event.label}" if self.current else f"  {event.label}"
        if self.inner is None:
            self.inner = self.progress.add_task(label, total=event.total)
        self.progress.update(self.inner, description=label, completed=event.completed,
                             total=event.total)

    def stage(self, text: str) -> None:
        self.current = ""
        self.progress.update(self.main, description=text)
        self._drop_inner()

    def _drop_inner(self) -> None:
        if self.inner is not None:
            self.progress.remove_task(self.inner)
            self.inner = None


def _num(x) -> str:
    return "-" if x != x else f"{x:.4f}"


def closing_table(comparison: pd.DataFrame, table: pd.DataFrame | None = None) -> Table:
    """The overall and by-trait rows of comparison.csv: one line per estimator, the
    disagreement flags on the first line of each (estimand, term). With the run's long
    ``table`` each line also shows ``n_treated``, marked ``!`` below two treated units."""
    rows = long_view(headline_rows(comparison))
    treated = _treated_lookup(table)
    shown = Table(title="ATT overall and by trait level (all rows: comparison.csv)",
                  title_justify="left")
    for col in ("estimand", "term", "estimator", "paradigm", "estimate", "lower", "upper",
                "n_treated", "disagreement"):
        shown.add_column(col, justify="right" if col in ("estimate", "lower", "upper",
                                                         "n_treated") else "left")
    previous = None
    for _, r in rows.iterrows():
        key = (r["estimand"], r["term"])
        flag = short_flags(r["flags"]) if key != previous and isinstance(r["flags"], str) else ""
        same_estimand = previous is not None and previous[0] == key[0]
        shown.add_row("" if same_estimand else str(r["estimand"]),
                      str(r["term"]) if key != previous else "", str(r["estimator"]),
                      str(r["paradigm"]), _num(r["estimate"]), _num(r["lower"]),
                      _num(r["upper"]),
                      treated_cell(treated.get((r["estimator"], r["estimand"], str(r["term"])))),
                      f"[yellow]{flag}[/]" if flag else "",
                      end_section=False)
        previous = key
    return shown


def robustness_table(checks: pd.DataFrame) -> Table | None:
    """The robustness checks of a run (robustness.csv): placebo timing with its
    randomization p-value, placebo outcomes and fake timing as their own rows, HonestDiD's
    breakdown value; each with its reading. None when the run has none."""
    if checks is None or checks.empty:
        return None
    rows = checks[checks["term"].astype(str).isin(["overall"]) | (checks["check"] ==
                                                                 "sensitivity")]
    shown = Table(title="Robustness checks (not effects; all rows: robustness.csv)",
                  title_justify="left")
    for col in ("check", "estimator", "estimate", "lower", "upper", "p_value", "reading"):
        shown.add_column(col, justify="right" if col in ("estimate", "lower", "upper",
                                                         "p_value") else "left")
    for r in rows.itertuples():
        shown.add_row(str(r.check), str(r.estimator), _num(r.estimate), _num(r.lower),
                      _num(r.upper), _num(r.p_value), str(r.reading))
    return shown


#: Longest disagreement text shown in the terminal table (the full one is in comparison.csv).
FLAG_WIDTH = 48


def short_flags(flags: str) -> str:
    """The disagreement flags of a row, as the terminal shows them: whole when short, else
    only their kinds ("intervals disjoint; sign flip") and where to read the pairs."""
    if len(flags) <= FLAG_WIDTH:
        return flags
    kinds = [part.split(":", 1)[0] for part in flags.split("; ")]
    return f"{'; '.join(kinds)} (pairs: comparison.csv)"


def _treated_lookup(table: pd.DataFrame | None) -> dict:
    """(estimator, estimand, term) -> n_treated of a long results table."""
    if table is None or "n_treated" not in table.columns or "estimator" not in table.columns:
        return {}
    keys = zip(table["estimator"], table["estimand"], table["term"].astype(str))
    return dict(zip(keys, table["n_treated"]))
