"""Covariates and baseline-trait x period trend controls, and units with no untreated period.

Shared by every paradigm: :func:`covariates_of` (the covariates to adjust for),
:func:`with_trend_controls` (unit characteristics interacted with period dummies) and
:func:`drop_always_treated` (units treated in every period they are observed).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ...data.panel import COHORT, Panel
from ...data.validate import constant_within_unit
from .fixest import safe_name


def always_treated(frame: pd.DataFrame, *, unit: str, time: str) -> np.ndarray:
    """Rows of units treated from their first observed period (they have no untreated period)."""
    codes = pd.factorize(frame[unit])[0]
    times = frame[time].to_numpy()
    first_seen = np.full(codes.max() + 1 if len(codes) else 0, np.inf)
    np.minimum.at(first_seen, codes, times)
    cohort = frame[COHORT].to_numpy()
    return (cohort > 0) & (cohort <= first_seen[codes])


def drop_always_treated(frame: pd.DataFrame, *, unit: str, time: str) -> tuple[pd.DataFrame, int]:
    """Rows of ``frame`` without units treated from their first observed period (they have no
    untreated period) and the number of units dropped. The result may be ``frame`` itself and
    is only to be read."""
    always = always_treated(frame, unit=unit, time=time)
    if not always.any():
        return frame, 0
    return frame.loc[~always], int(frame.loc[always, unit].nunique())


def covariates_of(panel: Panel, covariates: Sequence[str] | None,
                  trends: Sequence[str] = ()) -> list[str]:
    """The covariates to adjust for: the panel's when ``covariates`` is None, plus ``trends``."""
    return [*(panel.covariates if covariates is None else covariates), *trends]


def with_trend_controls(panel: Panel,
                        trend_covariates: Sequence[str] | None) -> tuple[Panel, list[str]]:
    """The panel with unit characteristics interacted with period dummies, and the new columns.

    Each name in ``trend_covariates`` must be constant within units (e.g. 2003 income, initial
    population, provincial-capital status, a region); numeric ones enter as ``x_i * 1{t = s}``
    and categorical ones as one dummy per level but the first, for every period ``s`` but the
    first. These are the "baseline characteristics x year" controls of the place-based policy
    literature: they let untreated trends differ with observed characteristics, which a unit
    fixed effect alone cannot absorb. The caller's panel is not modified.
    """
    if not trend_covariates:
        return panel, []
    frame = panel.frame.copy()
    missing = [c for c in trend_covariates if c not in frame.columns]
    if missing:
        raise ValueError(f"trend_covariates: {missing} are not columns of the panel")
    varying = [c for c in trend_covariates
               if constant_within_unit(frame, panel.unit, c, "trend covariate")]
    if varying:
        raise ValueError(f"trend_covariates: must be constant within units; {varying} vary")
    period = frame[panel.time].to_numpy()
    columns, names = {}, []
    for c in trend_covariates:
        for label, values in _trend_bases(frame[c]).items():
            for s in panel.periods[1:]:
                name = f"trend__{safe_name(label)}__{s}"
                columns[name] = values * (period == s)
                names.append(name)
    frame = pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)
    return panel.replace(frame=frame), names


def _trend_bases(values: pd.Series) -> dict[str, np.ndarray]:
    """A numeric column as itself; a categorical one as dummies of every level but the first."""
    if pd.api.types.is_numeric_dtype(values):
        return {str(values.name): values.to_numpy(dtype=float)}
    levels = sorted(pd.unique(values), key=str)
    return {f"{values.name}_{lv}": (values == lv).to_numpy(dtype=float) for lv in levels[1:]}

