"""Pieces shared by the event-time estimators (event study, Sun-Abraham, imputation).

Cell effects (cohort x period, optionally x trait level) are turned into ATT, ATT by event time,
by cohort or by trait level with the weights of :mod:`bayescity.estimands.aggregate` (treated
cells, weighted by their number of observations), so that these estimators report the same
quantities as every other paradigm; the covariance is each estimator's own, ``W V W'``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ...data.panel import COHORT, Panel
from ...results.effect import (EffectResult, TestResult, equality_restriction, wald_table,
                               wald_test)


@dataclass(frozen=True)
class Combined:
    """Linear combinations ``W b`` of cell effects with covariance ``W V W'``."""

    terms: list[str]
    estimates: np.ndarray
    vcov: np.ndarray
    weights: np.ndarray


@dataclass(frozen=True)
class Inference:
    """Facts every result of one fit shares: sample size, clusters, df and interval kind."""

    n_obs: int
    n_clusters: int | None
    df: float | None
    interval_kind: str
    interval_prob: float
    info: dict[str, Any] = field(default_factory=dict)


def drop_always_treated(frame: pd.DataFrame, *, unit: str, time: str) -> tuple[pd.DataFrame, int]:
    """Remove units treated from their first observed period (they have no untreated period)."""
    first_seen = frame.groupby(unit)[time].transform("min")
    always = (frame[COHORT] > 0) & (frame[COHORT] <= first_seen)
    return frame.loc[~always].copy(), int(frame.loc[always, unit].nunique())


def cell_counts(frame: pd.DataFrame, *, time: str, level: str | None = None) -> pd.DataFrame:
    """One row per (cohort, time[, level]) cell of ``frame``: rel_time and weight = observations."""
    keys = [COHORT, time] + ([level] if level else [])
    grouped = frame.groupby(keys, sort=True).size().reset_index(name="weight")
    cells = pd.DataFrame({"cohort": grouped[COHORT].to_numpy(dtype=np.int64),
                          "time": grouped[time].to_numpy(dtype=np.int64)})
    cells["rel_time"] = cells["time"] - cells["cohort"]
    cells["weight"] = grouped["weight"].to_numpy(dtype=float)
    if level:
        cells["level"] = grouped[level].to_numpy()
    return cells


def aggregate_cells(cells: pd.DataFrame, estimates: np.ndarray, vcov: np.ndarray, estimand: str,
                    *, trait: str | None = None, post_only: bool = True) -> Combined:
    """Aggregate cell effects with the shared treated-cell weights ``W``: ``W b``, ``W V W'``."""
    from ...estimands.aggregate import CellEffects, aggregate

    b = np.asarray(estimates, dtype=float)
    agg = aggregate(CellEffects(cells.reset_index(drop=True), b), estimand, trait=trait,
                    post_only=post_only)
    W = np.atleast_2d(np.asarray(agg.weights, dtype=float))
    return Combined([str(t) for t in agg.terms], W @ b, W @ vcov @ W.T, W)


def effect_result(method: str, estimand: str, c: Combined, inf: Inference,
                  tests: Sequence[TestResult] = (), normalised: Sequence[str] = (),
                  **info: Any) -> EffectResult:
    """An :class:`EffectResult` with Wald intervals (t with ``inf.df`` degrees of freedom).

    Terms in ``normalised`` are fixed by normalisation (a reference period): their standard
    error, interval and p-value are NaN rather than a spurious zero-width interval.
    """
    table = wald_table(c.terms, c.estimates, c.vcov, interval_prob=inf.interval_prob, df=inf.df)
    fixed = table["term"].isin([str(t) for t in normalised])
    table.loc[fixed, ["std_error", "lower", "upper", "p_value"]] = np.nan
    return EffectResult(method=method, paradigm="frequentist", estimand=estimand, table=table,
                        n_obs=inf.n_obs, interval_prob=inf.interval_prob,
                        interval_kind=inf.interval_kind, n_clusters=inf.n_clusters,
                        tests=tuple(tests), vcov=c.vcov, info={**inf.info, **info})


def equality_tests(by: str, c: Combined, df: float | None) -> tuple[TestResult, ...]:
    """Wald test that the effect is equal across the levels of ``by`` (F with ``df`` when given)."""
    if len(c.terms) < 2:
        return ()
    return (wald_test(f"equal ATT across {by}", c.estimates, c.vcov,
                      equality_restriction(len(c.terms)), df_denom=df),)


def check_by(panel: Panel, by: str | None) -> None:
    """Raise a clear error when ``by`` is not a column of the panel."""
    if by is not None and by not in panel.frame.columns:
        raise ValueError(f"by={by!r} is not a column of the panel; traits: {list(panel.traits)}")


def covariates_of(panel: Panel, covariates: Sequence[str] | None) -> list[str]:
    """The covariates to adjust for: the panel's when ``covariates`` is None."""
    return list(panel.covariates if covariates is None else covariates)
