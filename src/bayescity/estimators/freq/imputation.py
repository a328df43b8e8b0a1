"""Borusyak, Jaravel & Spiess (2024) imputation DID with Gardner (2022) two-stage GMM errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.linalg import spsolve

from ...constants import INTERVAL_PROB
from ...data.panel import COHORT, TREAT, Panel
from ...results.effect import EffectResult
from ...results.parts import Table, notes, warnings
from ..core.controls import covariates_of, drop_always_treated, with_trend_controls
from ..core import params as P
from ..core.covariates import always_treated_note, covariate_report
from ..core.fe_exact import fit_untreated
from ..registry import register
from .common import FreqEstimator
from .es_common import (Inference, aggregate_cells, cell_counts, cell_members, effect_result,
                        equality_tests)

RESID = "_y_minus_y0"


@dataclass(frozen=True)
class CellFit:
    """Cell-level imputation estimates with their clustered two-stage covariance."""

    cells: pd.DataFrame
    estimates: np.ndarray
    vcov: np.ndarray
    n_obs: int
    n_clusters: int
    #: The treated units of each cell (see :func:`.es_common.cell_members`).
    members: tuple[np.ndarray, ...] = ()


def impute_untreated(frame: pd.DataFrame, *, unit: str, time: str, outcome: str,
                     covariates: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Step 1-2 of BJS: fit ``Y(0) = a_i + l_t + X'b`` on untreated rows and impute all rows.

    Adds ``_y_minus_y0`` (first-stage residual on untreated rows, tau_it = Y - Y(0)-hat on treated
    rows) and drops treated rows whose period or unit has no untreated observation (their Y(0)
    is not identified; Borusyak, Jaravel & Spiess 2024, Rev. Econ. Stud., Sec. 4).
    Returns the frame and the covariates the first stage kept.
    """
    untreated = frame[TREAT].to_numpy() == 0
    fit = fit_untreated(frame, untreated, unit=unit, time=time, outcome=outcome,
                        covariates=covariates)
    resid = frame[outcome].to_numpy(dtype=float) - fit.yhat
    out = frame.assign(**{RESID: resid}).loc[np.isfinite(resid)]
    return out, list(fit.kept)


def cell_codes(frame: pd.DataFrame, *, time: str, by: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    """Treated (cohort, time[, level]) cells and each row's cell index (-1 for untreated rows)."""
    treated = frame[TREAT].to_numpy() == 1
    cells = cell_counts(frame.loc[treated], time=time, level=by)
    keys = [COHORT, time] + ([by] if by else [])
    index = pd.MultiIndex.from_frame(frame.loc[treated, keys])
    lookup = pd.MultiIndex.from_frame(cells[["cohort", "time"] + (["level"] if by else [])])
    codes = np.full(len(frame), -1, dtype=np.int64)
    codes[treated] = lookup.get_indexer(index)
    return cells, codes


def first_stage_design(frame: pd.DataFrame, *, unit: str, time: str,
                       covariates: Sequence[str]) -> sparse.csr_matrix:
    """Sparse first-stage design: all unit dummies, time dummies but the first, covariates."""
    u = pd.factorize(frame[unit], sort=True)[0]
    t = pd.factorize(frame[time], sort=True)[0]
    n = len(frame)
    rows = np.arange(n)
    U = sparse.csr_matrix((np.ones(n), (rows, u)), shape=(n, u.max() + 1))
    T = sparse.csr_matrix((np.ones(n), (rows, t)), shape=(n, t.max() + 1))[:, 1:]
    X = sparse.csr_matrix(frame[list(covariates)].to_numpy(dtype=float).reshape(n, -1))
    return sparse.hstack([U, T, X], format="csr")


def gardner_vcov(X1: sparse.csr_matrix, untreated: np.ndarray, codes: np.ndarray,
                 n_cells: int, u1: np.ndarray, u2: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Clustered GMM covariance of the two-stage DID (Gardner 2022, arXiv:2207.05943, Sec. 3).

    Second stage: cell dummies X2 on the first-stage residualised outcome; the first-stage
    estimation error enters through ``X2'X1 (X10'X10)^{-1}`` with X10 the untreated rows of X1.
    No small-sample factor, as in did2s (Butts & Gardner 2022) and pyfixest's ``did2s``.
    """
    n = X1.shape[0]
    treated = codes >= 0
    X2 = sparse.csr_matrix((np.ones(treated.sum()), (np.flatnonzero(treated), codes[treated])),
                           shape=(n, n_cells))
    X10 = sparse.diags(untreated.astype(float)) @ X1
    Vt = spsolve((X10.T @ X10).tocsc(), (X2.T @ X1).T.toarray())
    Vt = np.asarray(Vt).reshape(X1.shape[1], n_cells)
    g = pd.factorize(clusters)[0]
    S = sparse.csr_matrix((np.ones(n), (g, np.arange(n))), shape=(g.max() + 1, n))
    s2 = (S @ sparse.diags(u2) @ X2).toarray()
    s1 = S @ sparse.diags(u1) @ X10
    scores = s2 - np.asarray(s1 @ Vt)
    inv_counts = 1.0 / np.asarray(X2.sum(axis=0)).ravel()
    return inv_counts[:, None] * (scores.T @ scores) * inv_counts[None, :]


def imputation_cells(frame: pd.DataFrame, *, unit: str, time: str, outcome: str,
                     covariates: Sequence[str], cluster: str, by: str | None = None) -> CellFit:
    """BJS cell effects: mean of tau_it = Y_it - Y_it(0)-hat over each treated (cohort, time) cell.

    Averages of these cells with observation-count weights are the BJS imputation estimator of
    the corresponding weighted ATT, and equal Gardner's two-stage DID with cell dummies in the
    second stage; the covariance is Gardner's clustered GMM variance.
    """
    imputed, kept = impute_untreated(frame, unit=unit, time=time, outcome=outcome,
                                     covariates=covariates)
    return cell_fit(imputed, kept, unit=unit, time=time, cluster=cluster, by=by)


def cell_fit(imputed: pd.DataFrame, kept: Sequence[str], *, unit: str, time: str, cluster: str,
             by: str | None = None) -> CellFit:
    """Cell effects and their two-stage covariance from an imputed frame
    (:func:`impute_untreated`); the cells are split by ``by`` when given."""
    cells, codes = cell_codes(imputed, time=time, by=by)
    u1 = imputed[RESID].to_numpy(dtype=float)
    treated = codes >= 0
    sums = np.bincount(codes[treated], weights=u1[treated], minlength=len(cells))
    estimates = sums / cells["weight"].to_numpy()
    u2 = u1.copy()
    u2[treated] -= estimates[codes[treated]]
    X1 = first_stage_design(imputed, unit=unit, time=time, covariates=kept)
    clusters = imputed[cluster].to_numpy()
    vcov = gardner_vcov(X1, ~treated, codes, len(cells), u1, u2, clusters)
    members = cell_members(imputed.loc[treated], cells, unit=unit, time=time, level=by)
    return CellFit(cells, estimates, vcov, len(imputed), int(pd.unique(clusters).size), members)


def counterfactual(imputed: pd.DataFrame, *, unit: str, time: str, outcome: str) -> pd.DataFrame:
    """Treated units' mean observed outcome and mean untreated outcome Y(0)-hat by event time
    (before adoption the first stage's fit, from adoption on the imputation), with the number
    of units behind each event time: what the effect at each event time is the gap of."""
    ever = imputed.loc[imputed[COHORT].to_numpy() > 0]
    y = ever[outcome].to_numpy(dtype=float)
    frame = pd.DataFrame({"event_time": (ever[time] - ever[COHORT]).to_numpy(dtype=int),
                          "observed": y, "untreated": y - ever[RESID].to_numpy(dtype=float),
                          "unit": ever[unit].to_numpy()})
    return (frame.groupby("event_time")
            .agg(observed=("observed", "mean"), untreated=("untreated", "mean"),
                 n_units=("unit", "nunique")).reset_index())


#: Fewer untreated units than this behind a first-stage dummy make its clustered variance unreliable.
MIN_UNTREATED_UNITS = 5


def thin_controls(frame: pd.DataFrame, columns: Sequence[str], *, unit: str) -> tuple[str, ...]:
    """Warnings on 0/1 first-stage controls that few untreated units identify.

    A category x year dummy (e.g. provincial capital x 2019) that only a handful of untreated
    units switch on is fitted almost exactly, and the clustered two-stage variance then
    understates the imputation error (simulated coverage fell to 0.75 with such dummies).
    """
    untreated = frame.loc[frame[TREAT] == 0]
    notes = []
    for c in columns:
        values = untreated[c]
        if not values.isin([0.0, 1.0]).all():
            continue
        n = int(untreated.loc[values == 1, unit].nunique())
        if n < MIN_UNTREATED_UNITS:
            notes.append(f"{c}: identified by {n} untreated units; standard errors may be too small")
    return tuple(notes)


@register("imputation")
class Imputation(FreqEstimator):
    """Imputation DID (Borusyak, Jaravel & Spiess 2024).

    Unit and time fixed effects (and covariates) are fitted exactly on the untreated
    observations (never-treated and not-yet-treated; sparse direct solves,
    :mod:`~bayescity.estimators.core.fe_exact`), Y(0) is imputed for every treated observation and
    tau_it = Y_it - Y(0)-hat is averaged within (cohort, time) cells; the cells are aggregated with
    the shared treated-cell weights of :mod:`bayescity.estimands.aggregate` into ``ATT``,
    ``ATT_event`` (post-treatment event times), ``ATT_cohort`` and, with ``by``, ``ATT_by_<by>``
    with a Wald test that the levels are equal. Point estimates equal Gardner's (2022) two-stage
    DID; standard errors are Gardner's GMM covariance clustered by ``cluster`` (the panel's
    cluster column by default): did2s's covariance of a second stage with one dummy per cell
    (pyfixest's ``did2s`` agrees to the tolerance of its iterative fixed-effect recovery; not
    the BJS conservative variance). The aggregates combine the cells, so the overall ATT's
    standard error is not did2s's pooled one (``two_stage`` gives that). Intervals use t with G-1 df. Units treated in their first observed
    period are dropped (no untreated period to learn their unit effect from).
    ``trend_covariates`` names unit characteristics (e.g. ``ln_gdp_pc_2003``, ``region3``) that
    are interacted with period dummies, so that untreated trends may differ with them (see
    :func:`~bayescity.estimators.core.controls.with_trend_controls`).
    """

    params = {"covariates": P.COVARIATES, "trend_covariates": P.TREND_COVARIATES,
              "cluster": P.CLUSTER, "by": P.BY, "interval_prob": P.INTERVAL_PROB,
              "by_bins": P.BY_BINS}

    def __init__(self, covariates: Sequence[str] | None = None,
                 trend_covariates: Sequence[str] | None = None, cluster: str | None = None,
                 by: str | None = None, interval_prob: float = INTERVAL_PROB,
                 by_bins: str | int | None = None):
        self.by_bins = by_bins
        self.covariates = covariates
        self.trend_covariates = trend_covariates
        self.cluster = cluster
        self.by = by
        self.interval_prob = interval_prob

    def _fit(self, panel: Panel) -> list[EffectResult]:
        panel, trends = with_trend_controls(self._panel(panel), self.trend_covariates)
        frame, n_dropped = drop_always_treated(panel.frame, unit=panel.unit, time=panel.time)
        imputed, kept = impute_untreated(frame, unit=panel.unit, time=panel.time,
                                         outcome=panel.outcome,
                                         covariates=covariates_of(panel, self.covariates, trends))
        spec = dict(unit=panel.unit, time=panel.time,
                    cluster=self.cluster or panel.cluster_col)
        fit = cell_fit(imputed, kept, **spec)
        untreated = frame.loc[frame[TREAT] == 0]
        info, note, warning = covariate_report(self._covariates(panel), kept, untreated,
                                               unit=panel.unit, time=panel.time,
                                               default=self.covariates is None)
        info.update({"vcov": "gardner_gmm_cluster", "df": fit.n_clusters - 1,
                     "dropped_always_treated_units": n_dropped})
        messages = (warnings(warning, *thin_controls(frame, trends, unit=panel.unit))
                    + notes(note, always_treated_note(n_dropped)))
        inf = Inference(fit.n_obs, fit.n_clusters, fit.n_clusters - 1, "t_CRV_did2s",
                        self.interval_prob, info, messages)
        out = [self._aggregate(estimand, fit, inf) for estimand in
               ("ATT", "ATT_event", "ATT_cohort")]
        out[0] = out[0].replace(parts=(*out[0].parts, Table("counterfactual", counterfactual(
            imputed, unit=panel.unit, time=panel.time, outcome=panel.outcome))))
        if self.by:
            fit_by = cell_fit(imputed, kept, **spec, by=self.by)
            out.append(self._aggregate(f"ATT_by_{self.by}", fit_by, inf, self.by))
        return out

    def _aggregate(self, estimand: str, fit: CellFit, inf: Inference,
                   by: str | None = None) -> EffectResult:
        agg = aggregate_cells(fit.cells, fit.estimates, fit.vcov, estimand, trait=by,
                              cell_units=fit.members)
        tests = equality_tests(by, agg, inf.df) if by else ()
        return effect_result(self.method, estimand, agg, inf, tests)
