"""Data envelopment analysis on a unit x time table: input checks, frontiers and efficiency scores.

Each period has its own frontier. Before the scores are solved, the reference set of a period is
cut down to the units that can span its technology: a unit Pareto-dominated by another (no more of
every input, no less of every output) lies inside the technology, and so does any unit with an
efficiency score below one; dropping them leaves the technology, and hence every score measured
against it, unchanged. The programmes are then small and are solved in one batch per period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..data.errors import PanelError, Problem, problem_at
from ..data.validate import missing_columns, time_problems
from .lp import (ORIENTATION_CHOICES, RTS_CHOICES, TFPParamError, check_choice,
                 efficiency_from_optima, envelopment_optima)

#: Units scoring at least ``1 - FRONTIER_TOL`` in their own period are kept as frontier units.
FRONTIER_TOL = 1e-6
MISSING_CHOICES = ("error", "skip")


@dataclass(frozen=True)
class DEAData:
    """Clean DEA inputs: ``frame`` holds the usable rows (unit, time as integers, inputs,
    outputs) sorted by time then unit, ``position`` their 0-based rows in the caller's table;
    ``X``/``Y`` are the inputs and outputs divided by their means (DEA scores do not depend on
    units of measurement); ``skipped`` lists the rows left out and why."""

    frame: pd.DataFrame
    unit: str
    time: str
    X: np.ndarray
    Y: np.ndarray
    position: np.ndarray
    skipped: pd.DataFrame
    n_rows: int

    @property
    def periods(self) -> np.ndarray:
        return np.unique(self.frame[self.time].to_numpy())

    def rows_of(self, period) -> np.ndarray:
        return np.flatnonzero(self.frame[self.time].to_numpy() == period)

    def to_rows(self, values: np.ndarray) -> np.ndarray:
        """Values of the clean rows placed at the caller's row positions (NaN elsewhere)."""
        out = np.full(self.n_rows, np.nan)
        out[self.position] = values
        return out


def _key_problems(df: pd.DataFrame, unit: str, time: str) -> list[Problem]:
    """Missing unit identifiers, non-integer periods and duplicated (unit, time) pairs."""
    out = time_problems(df, time)
    missing = df[unit].isna().to_numpy()
    if missing.any():
        out.append(problem_at(unit, "unit identifier is missing", np.flatnonzero(missing)))
    dup = df.duplicated([unit, time], keep=False).to_numpy() & ~missing
    if dup.any():
        out.append(problem_at(f"{unit}, {time}", "duplicate (unit, time) pairs", np.flatnonzero(dup)))
    return out


def _value_problems(df: pd.DataFrame, column: str, role: str) -> tuple[list[Problem], np.ndarray]:
    """Non-numeric values are always an error; missing, infinite or non-positive ones are returned
    as a row mask so the caller can refuse them or skip them."""
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    text = values.isna() & raw.notna()
    problems = []
    if text.any():
        problems.append(problem_at(column, f"{role} has non-numeric values (e.g. "
                                           f"{raw[text].iloc[0]!r})", np.flatnonzero(text)))
    bad = ~np.isfinite(values.to_numpy()) | (values.to_numpy() <= 0)
    return problems, bad & ~text.to_numpy()


def _unusable_problems(df, columns, masks) -> list[Problem]:
    return [problem_at(c, "DEA needs positive, finite values; missing, zero, negative or "
                          "infinite here (use missing: skip to leave these unit-years out)",
                       np.flatnonzero(m)) for c, m in zip(columns, masks) if m.any()]


def prepare_inputs(frame: pd.DataFrame, *, unit: str, time: str, inputs: Sequence[str],
                   outputs: Sequence[str], missing: str = "error",
                   source: str = "<DataFrame>") -> DEAData:
    """Check and extract DEA inputs and outputs; never fills a missing value.

    Rows with a missing, zero, negative or infinite input or output raise a :class:`PanelError`
    naming the column and rows (``missing="error"``) or are left out and listed in ``skipped``
    (``missing="skip"``). Missing columns, non-numeric values and duplicated (unit, time) pairs
    are always errors.
    """
    check_choice("missing", missing, MISSING_CHOICES)
    inputs, outputs = list(inputs), list(outputs)
    if not inputs or not outputs:
        raise TFPParamError("inputs and outputs: give at least one column each")
    named = [unit, time, *inputs, *outputs]
    if twice := sorted({str(c) for c in named if named.count(c) > 1}):
        raise TFPParamError(f"inputs and outputs: each column once, and neither the unit nor the "
                            f"time column; named more than once: {', '.join(map(repr, twice))}")
    df = frame.reset_index(drop=True)
    problems = missing_columns(df, [unit, time, *inputs, *outputs])
    if problems:
        raise PanelError(source, problems)
    problems = _key_problems(df, unit, time)
    masks = []
    for col, role in [(c, "input") for c in inputs] + [(c, "output") for c in outputs]:
        found, bad = _value_problems(df, col, role)
        problems += found
        masks.append(bad)
    if missing == "error":
        problems += _unusable_problems(df, inputs + outputs, masks)
    if problems:
        raise PanelError(source, problems)
    return _clean(df, unit, time, inputs, outputs, masks)


def _clean(df, unit, time, inputs, outputs, masks) -> DEAData:
    columns = inputs + outputs
    bad = np.any(np.column_stack(masks), axis=1)
    reasons = [", ".join(c for c, m in zip(columns, masks) if m[i]) for i in np.flatnonzero(bad)]
    skipped = pd.DataFrame({unit: df.loc[bad, unit].to_numpy(), time: df.loc[bad, time].to_numpy(),
                            "columns": reasons})
    keep = df.loc[~bad, [unit, time, *columns]].copy()
    keep[time] = pd.to_numeric(keep[time]).round().astype(np.int64)
    for c in columns:
        keep[c] = pd.to_numeric(keep[c]).astype(float)
    keep = keep.sort_values([time, unit], kind="mergesort")
    position = keep.index.to_numpy()
    keep = keep.reset_index(drop=True)
    values = keep[columns].to_numpy(float)
    values = values / values.mean(axis=0) if len(values) else values
    return DEAData(frame=keep, unit=unit, time=time, X=values[:, : len(inputs)],
                   Y=values[:, len(inputs):], position=position, skipped=skipped, n_rows=len(df))



def pareto_efficient(X: np.ndarray, Y: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Units that no other unit dominates (no more of every input, no less of every output, and
    strictly better in one); dominated units lie inside any DEA technology spanned by the rest."""
    Z = np.hstack([X, -Y])  # smaller is better in every column
    dominated = np.zeros(len(Z), bool)
    for start in range(0, len(Z), chunk):
        block = Z[start:start + chunk]
        le = (Z[None, :, :] <= block[:, None, :]).all(axis=2)
        lt = (Z[None, :, :] < block[:, None, :]).any(axis=2)
        dominated[start:start + chunk] = (le & lt).any(axis=1)
    return ~dominated


def scores(Xe, Ye, Xr, Yr, rts: str, orientation: str, *, feasible: bool = False) -> np.ndarray:
    """Farrell efficiency of each evaluated row against the reference rows (NaN if infeasible).

    ``feasible=True`` promises that every evaluated row lies inside the reference technology
    (its own period), which skips the VRS feasibility check.
    """
    return efficiency_from_optima(envelopment_optima(Xe, Ye, Xr, Yr, rts=rts,
                                                     orientation=orientation,
                                                     check_feasible=not feasible), orientation)


def frontier_units(X: np.ndarray, Y: np.ndarray, candidates: np.ndarray, rts: str,
                   orientation: str) -> np.ndarray:
    """The candidates that span the technology of all of them with as few units as possible.

    Pareto-dominated candidates lie inside the technology, and so do those scoring below one
    against the others; what remains (the frontier units) spans the same technology.
    """
    pareto = candidates[pareto_efficient(X[candidates], Y[candidates])]
    eff = scores(X[pareto], Y[pareto], X[pareto], Y[pareto], rts, orientation, feasible=True)
    return pareto[eff >= 1 - FRONTIER_TOL]


def own_frontier(X: np.ndarray, Y: np.ndarray, rts: str,
                 orientation: str) -> tuple[np.ndarray, np.ndarray]:
    """Efficiency of each unit against its own period, and the indices of the frontier units."""
    frontier = frontier_units(X, Y, np.arange(len(X)), rts, orientation)
    eff = scores(X, Y, X[frontier], Y[frontier], rts, orientation, feasible=True)
    return eff, frontier


def efficiency(frame: pd.DataFrame, *, unit: str, time: str, inputs: Sequence[str],
               outputs: Sequence[str], rts: str = "crs", orientation: str = "output",
               missing: str = "error", source: str = "<DataFrame>") -> pd.DataFrame:
    """Technical efficiency of every unit-year against its own year's DEA frontier.

    Output orientation reports ``1 / phi`` and input orientation ``theta`` (Farrell measures, at
    most one, one on the frontier), under constant (Charnes, Cooper & Rhodes 1978) or variable
    (Banker, Charnes & Cooper 1984) returns to scale. Returns ``unit, time, efficiency`` for
    every row of ``frame`` (empty where the row was skipped for a missing input or output).
    """
    check_choice("rts", rts, RTS_CHOICES)
    check_choice("orientation", orientation, ORIENTATION_CHOICES)
    data = prepare_inputs(frame, unit=unit, time=time, inputs=inputs, outputs=outputs,
                          missing=missing, source=source)
    eff = np.full(len(data.frame), np.nan)
    for period in data.periods:
        rows = data.rows_of(period)
        eff[rows] = own_frontier(data.X[rows], data.Y[rows], rts, orientation)[0]
    return frame[[unit, time]].reset_index(drop=True).assign(efficiency=data.to_rows(eff))
