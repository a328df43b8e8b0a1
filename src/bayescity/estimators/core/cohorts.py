"""Treated cohorts that rest on one unit, and cohorts left out for size.

R ``did`` keeps every cohort; a cohort of one unit makes the intervals of the terms it
dominates too narrow, which every estimator of staggered cells reports the same way.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ...data.panel import COHORT, Panel


def one_unit_cohorts(unit_cohorts: np.ndarray) -> list[int]:
    """The treated cohorts with a single unit, from each unit's cohort (0: never treated)."""
    unit_cohorts = np.asarray(unit_cohorts)
    g, n = np.unique(unit_cohorts[unit_cohorts > 0], return_counts=True)
    return [int(c) for c in g[n < 2]]


def one_unit_cohort_note(cohorts: Sequence[int]) -> str | None:
    """The warning of cohorts that rest on one unit (kept, as R ``did`` keeps them)."""
    if not cohorts:
        return None
    which = ", ".join(str(g) for g in cohorts)
    verb = "rests" if len(cohorts) == 1 else "each rest"
    return (f"cohort{'s' if len(cohorts) > 1 else ''} {which} {verb} on one unit: its ATT(g,t) "
            "standard errors omit that unit's own noise, so intervals of terms it dominates are "
            "too narrow (min_cohort_size: 2 leaves such cohorts out)")


def drop_small_cohorts(frame: pd.DataFrame, unit: str, min_size: int) -> tuple[pd.DataFrame, dict]:
    """Leave out the units of treated cohorts with fewer than ``min_size`` units."""
    sizes = frame.loc[frame[COHORT] > 0].groupby(COHORT)[unit].nunique()
    small = {int(g): int(n) for g, n in sizes.items() if n < min_size}
    if not small:
        return frame, {}
    return frame.loc[~frame[COHORT].isin(list(small))], small


def small_cohort_note(small: dict, min_size: int) -> str | None:
    """The note of cohorts left out by ``min_cohort_size`` (``small`` from
    :func:`drop_small_cohorts`)."""
    if not small:
        return None
    return (f"cohorts {small} have fewer than {min_size} units and are left out "
            "(min_cohort_size); R did keeps every cohort")


def prepare_sample(panel: Panel, control_group: str
                   ) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The estimation sample: a balanced panel without units treated in the first period, with
    the notes and warnings that say what was left out.

    As R ``did``: units treated in the first period have no pre-period and are dropped (a
    note); units not observed in every period are dropped (a warning: the sample shrinks); with
    ``not_yet_treated`` controls and no never-treated units, periods from the last cohort's
    first treated period on are dropped and that cohort serves as never treated (a warning: the
    ATT no longer covers those periods and that cohort).
    """
    frame, notes, warnings = panel.data, [], []
    first = int(panel.periods[0])
    early = (frame[COHORT] > 0) & (frame[COHORT] <= first)
    if early.any():
        notes.append(f"dropped {frame.loc[early, panel.unit].nunique()} units treated in the "
                     f"first period ({first}): no pre-treatment period")
        frame = frame[~early]
    n_periods = frame[panel.time].nunique()
    counts = frame.groupby(panel.unit)[panel.time].transform("nunique")
    if (counts < n_periods).any():
        warnings.append(f"dropped {frame.loc[counts < n_periods, panel.unit].nunique()} units "
                        "not observed in every period (balanced panel required)")
        frame = frame[counts == n_periods]
    if not (frame[COHORT] == 0).any():
        if control_group == "never_treated":
            raise ValueError("control_group: the panel has no never-treated units; use "
                             "control_group: not_yet_treated")
        last = int(frame[COHORT].max())
        frame = frame[frame[panel.time] < last].copy()
        frame.loc[frame[COHORT] == last, COHORT] = 0
        warnings.append(f"no never-treated units: periods >= {last} dropped and cohort {last} "
                        "used as never treated")
    if frame.empty:
        raise ValueError("no units left after dropping first-period adopters")
    return frame.reset_index(drop=True), notes, warnings


def unit_values(frame: pd.DataFrame, unit: str, column: str, units: np.ndarray) -> np.ndarray:
    """The value of a unit-constant column for each unit in ``units`` (error if it varies)."""
    per_unit = frame.groupby(unit)[column]
    if (per_unit.nunique(dropna=False) > 1).any():
        raise ValueError(f"column {column!r} varies within units; clusters and traits must be "
                         "constant within a unit")
    return per_unit.first().reindex(units).to_numpy()

