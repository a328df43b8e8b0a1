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

from ...data.panel import COHORT
from ...progress import track
from ...results.effect import EffectResult, TestResult, level_equality_test, wald_table
from ...results.parts import Facts, Message
from ..core.fixest import design_frame
from ..core.inference import WildBootstrapResult, wild_bootstrap_coef, wild_label
from ..core.seeds import RandomState, child_seeds
from ...estimands.aggregate import CellEffects, aggregate


@dataclass(frozen=True)
class Combined:
    """Linear combinations ``W b`` of cell effects with covariance ``W V W'``."""

    terms: list[str]
    estimates: np.ndarray
    vcov: np.ndarray
    weights: np.ndarray
    #: Distinct treated units behind each term (None when not counted).
    n_treated: np.ndarray | None = None


@dataclass(frozen=True)
class Inference:
    """Facts every result of one fit shares: sample size, clusters, df and interval kind, the
    settings it reports and its messages."""

    n_obs: int
    n_clusters: int | None
    df: float | None
    interval_kind: str
    interval_prob: float
    settings: dict[str, Any] = field(default_factory=dict)
    messages: tuple[Message, ...] = ()


def cell_counts(frame: pd.DataFrame, *, time: str, level: str | None = None) -> pd.DataFrame:
    """One row per (cohort, time[, level]) cell of ``frame``: rel_time and weight = observations.

    Cells are sorted by cohort, time and level.
    """
    cohort = frame[COHORT].to_numpy(dtype=np.int64)
    period = frame[time].to_numpy(dtype=np.int64)
    columns = [cohort, period]
    if level:
        level_codes, levels = pd.factorize(frame[level], sort=True)
        columns.append(level_codes)
    rows = np.column_stack(columns).reshape(len(frame), len(columns))
    keys, counts = np.unique(rows[rows[:, 2] >= 0] if level else rows, axis=0,
                             return_counts=True)
    cells = pd.DataFrame({"cohort": keys[:, 0], "time": keys[:, 1],
                          "rel_time": keys[:, 1] - keys[:, 0],
                          "weight": counts.astype(float)})
    if level:
        cells["level"] = np.asarray(levels)[keys[:, 2]]
    return cells


def cell_members(frame: pd.DataFrame, cells: pd.DataFrame, *, unit: str, time: str,
                 level: str | None = None) -> tuple[np.ndarray, ...]:
    """The units of ``frame`` in each (cohort, time[, level]) cell of ``cells``, in cell order."""
    row_keys, cell_keys = _cell_keys(frame, cells, time, level)
    order = np.argsort(cell_keys, kind="stable")
    pos = np.clip(np.searchsorted(cell_keys[order], row_keys), 0, max(len(order) - 1, 0))
    hit = np.flatnonzero(cell_keys[order][pos] == row_keys) if len(order) else np.zeros(0, int)
    code = order[pos[hit]]
    rows = hit[np.argsort(code, kind="stable")]
    bounds = np.searchsorted(np.sort(code), np.arange(len(cells) + 1))
    labels = frame[unit].to_numpy()[rows]
    return tuple(labels[bounds[k]:bounds[k + 1]] for k in range(len(cells)))


def _cell_keys(frame: pd.DataFrame, cells: pd.DataFrame, time: str,
               level: str | None) -> tuple[np.ndarray, np.ndarray]:
    """One int64 key per row of ``frame`` and per cell, equal when they share the cell."""
    g = np.concatenate([frame[COHORT].to_numpy(np.int64), cells["cohort"].to_numpy(np.int64)])
    t = np.concatenate([frame[time].to_numpy(np.int64), cells["time"].to_numpy(np.int64)])
    key = pd.factorize(g)[0].astype(np.int64) * (int(t.max() - t.min()) + 1) + (t - t.min())
    if level:
        lv = pd.factorize(np.concatenate([frame[level].astype(str).to_numpy(),
                                          cells["level"].astype(str).to_numpy()]))[0]
        key = key * (int(lv.max()) + 1) + lv
    return key[:len(frame)], key[len(frame):]


def aggregate_cells(cells: pd.DataFrame, estimates: np.ndarray, vcov: np.ndarray, estimand: str,
                    *, trait: str | None = None, post_only: bool = True,
                    cell_units: tuple[np.ndarray, ...] | None = None) -> Combined:
    """Aggregate cell effects with the shared treated-cell weights ``W``: ``W b``, ``W V W'``;
    ``cell_units`` (see :func:`cell_members`) lets each term count its distinct treated units."""
    b = np.asarray(estimates, dtype=float)
    agg = aggregate(CellEffects(cells.reset_index(drop=True), b, cell_units=cell_units), estimand,
                    trait=trait, post_only=post_only)
    W = np.atleast_2d(np.asarray(agg.weights, dtype=float))
    return Combined([str(t) for t in agg.terms], W @ b, W @ vcov @ W.T, W, agg.n_treated)


def effect_result(method: str, estimand: str, c: Combined, inf: Inference,
                  tests: Sequence[TestResult] = (), normalised: Sequence[str] = (),
                  boots: Sequence[WildBootstrapResult] | None = None,
                  seed: np.random.SeedSequence | None = None, **settings: Any) -> EffectResult:
    """An :class:`EffectResult` with Wald intervals (t with ``inf.df`` degrees of freedom).

    Terms in ``normalised`` are fixed by normalisation (a reference period): their standard
    error, interval and p-value are NaN rather than a spurious zero-width interval. With
    ``boots`` (one per other term, in order) the intervals and p-values are those of the wild
    cluster bootstrap and the standard errors stay analytic.
    """
    table = wald_table(c.terms, c.estimates, c.vcov, interval_prob=inf.interval_prob, df=inf.df)
    if c.n_treated is not None:
        table["n_treated"] = np.asarray(c.n_treated, dtype=np.int64)
    fixed = np.isin(np.asarray(c.terms, dtype=str), [str(t) for t in normalised])
    if fixed.any():
        for col in ("std_error", "lower", "upper", "p_value"):
            table[col] = np.where(fixed, np.nan, table[col].to_numpy())
    kind = inf.interval_kind
    if boots is not None:
        for col in ("lower", "upper", "p_value"):
            values = table[col].to_numpy().copy()
            values[~fixed] = [getattr(b, col) for b in boots]
            table[col] = values
        kind = boots[0].interval_kind
        settings = {**wild_info(boots, str(inf.settings.get("vcov")), seed),
                    "tests": "analytic Wald tests", **settings}
    return EffectResult(method=method, paradigm="frequentist", estimand=estimand, table=table,
                        n_obs=inf.n_obs, interval_prob=inf.interval_prob, interval_kind=kind,
                        n_clusters=inf.n_clusters, tests=tuple(tests), vcov=c.vcov,
                        messages=inf.messages,
                        parts=[Facts("settings", {**inf.settings, **settings})])


def wild_info(boots: Sequence[WildBootstrapResult], vcov_type: str,
              seed: np.random.SeedSequence | None) -> dict[str, Any]:
    """What a result reports about its wild cluster bootstrap."""
    first = boots[0]
    return {"std_error": f"analytic {vcov_type} (fixest conventions); p_value and interval "
                         f"from the wild cluster bootstrap ({first.bootstrap_type}, "
                         "test inversion)",
            "bootstrap_type": first.bootstrap_type, "wild_weights": first.weights,
            "n_boot": first.n_boot, "full_enumeration": first.full_enumeration,
            "wild_t_stat": [b.t_stat for b in boots],
            "seed_entropy": None if seed is None else seed.entropy,
            "seed_spawn_key": None if seed is None else tuple(seed.spawn_key)}


def reparametrised(design: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Columns spanning the space of ``design`` whose first coefficient is ``w'b``.

    With pivot ``j`` (the largest ``|w_j|``): ``z_0 = x_j / w_j`` and ``x_k - (w_k / w_j) x_j``
    for ``k != j``, since ``X b = (w'b) z_0 + sum_{k != j} b_k (x_k - w_k x_j / w_j)``. The fit,
    residuals and CRV1 variance are those of the original regression.
    """
    w = np.asarray(w, dtype=float).ravel()
    j = int(np.argmax(np.abs(w)))
    pivot = design[:, j]
    others = np.delete(design - np.outer(pivot, w / w[j]), j, axis=1)
    return np.column_stack([pivot / w[j], others])


def wild_combinations(data: pd.DataFrame, outcome: str, design: np.ndarray, W: np.ndarray, *,
                      covariates: Sequence[str], fixed_effects: Sequence[str], cluster: str,
                      random_state: RandomState, **options: Any) -> list[WildBootstrapResult]:
    """WCR11 wild cluster bootstrap of each linear combination ``W[r] @ b`` of the coefficients
    on ``design`` in ``outcome ~ design + covariates | fixed_effects``.

    Each combination becomes one coefficient of a reparametrised design (:func:`reparametrised`)
    and is bootstrapped by :func:`.inference.wild_bootstrap_coef` (Cameron, Gelbach & Miller
    2008; Roodman et al. 2019); row ``r`` uses the r-th child seed of ``random_state``.
    """
    out = []
    rows = list(zip(np.atleast_2d(W), child_seeds(random_state, len(np.atleast_2d(W)))))
    for w, seed in track(rows, wild_label(options)):
        Z = reparametrised(design, w)
        names = [f"_combination_{k}" for k in range(Z.shape[1])]
        out.append(wild_bootstrap_coef(design_frame(data, names, Z), outcome, names[0],
                                       cluster=cluster, regressors=[*names[1:], *covariates],
                                       fixed_effects=fixed_effects, random_state=seed,
                                       **options))
    return out


def equality_tests(by: str, c: Combined, df: float | None) -> tuple[TestResult, ...]:
    """Wald test that the effect is equal across the levels of ``by`` (F with ``df`` when given)."""
    test = level_equality_test(by, c.estimates, c.vcov, df_denom=df, terms=c.terms)
    return () if test is None else (test,)


