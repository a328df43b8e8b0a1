"""Gardner (2021) two-stage DID: pooled second-stage regressions with GMM standard errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ...constants import INTERVAL_PROB
from ...data.panel import COHORT, TREAT, Panel
from ...results.effect import EffectResult, level_equality_test, wald_table
from ...results.parts import Facts, Message, notes, warnings
from ..core import params as P
from ..core.controls import covariates_of, drop_always_treated, with_trend_controls
from ..core.covariates import always_treated_note, covariate_report
from ..registry import register
from .common import FreqEstimator
from .imputation import RESID, first_stage_design, gardner_vcov, impute_untreated, thin_controls


@dataclass(frozen=True)
class SecondStage:
    """Coefficients of one second-stage regression on 0/1 dummies, with their GMM covariance."""

    terms: list[str]
    estimates: np.ndarray
    vcov: np.ndarray
    n_treated: np.ndarray


def second_stage(imputed: pd.DataFrame, codes: np.ndarray, terms: Sequence[str], *, unit: str,
                 time: str, covariates: Sequence[str], cluster: str) -> SecondStage:
    """Gardner's second stage: the first-stage residual ``y - y0_hat`` regressed on the dummies
    ``1[codes == k]`` (rows with code -1 have none), with the clustered GMM covariance that
    accounts for the first-stage estimation (Gardner 2021, arXiv:2207.05943, Sec. 3; R
    ``did2s``). The dummies are disjoint, so each coefficient is its rows' mean residual.
    """
    u1 = imputed[RESID].to_numpy(dtype=float)
    coded = codes >= 0
    n_terms = len(terms)
    counts = np.bincount(codes[coded], minlength=n_terms).astype(float)
    estimates = np.bincount(codes[coded], weights=u1[coded], minlength=n_terms) / counts
    u2 = u1.copy()
    u2[coded] -= estimates[codes[coded]]
    untreated = imputed[TREAT].to_numpy() == 0
    X1 = first_stage_design(imputed, unit=unit, time=time, covariates=covariates)
    vcov = gardner_vcov(X1, untreated, codes, n_terms, u1, u2, imputed[cluster].to_numpy())
    units = imputed[unit].to_numpy()
    n_treated = np.array([pd.unique(units[codes == k]).size for k in range(n_terms)])
    return SecondStage([str(t) for t in terms], estimates, vcov, n_treated)


def term_codes(values: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, list]:
    """Per-row index into the sorted distinct ``values`` on ``rows`` (-1 elsewhere)."""
    codes = np.full(len(values), -1, dtype=np.int64)
    levels, inverse = np.unique(values[rows], return_inverse=True)
    codes[rows] = inverse.ravel()
    return codes, list(levels)


def designs(imputed: pd.DataFrame, *, time: str, pretrends: bool,
            by: str | None = None) -> dict[str, tuple[np.ndarray, list]]:
    """The second-stage dummies of each estimand: treated (``ATT``), event time (``ATT_event``;
    leads from -2 back when ``pretrends``, -1 the reference), cohort (``ATT_cohort``) and
    treated x level of ``by``."""
    treated = imputed[TREAT].to_numpy() == 1
    cohort = imputed[COHORT].to_numpy()
    rel = imputed[time].to_numpy() - cohort
    ever = cohort > 0
    event_rows = treated | (ever & (rel <= -2)) if pretrends else treated
    out = {"ATT": (np.where(treated, 0, -1), ["overall"]),
           "ATT_event": term_codes(rel, event_rows),
           "ATT_cohort": term_codes(cohort, treated)}
    if by:
        out[f"ATT_by_{by}"] = term_codes(imputed[by].astype(str).to_numpy(), treated)
    return out


@register("two_stage")
class TwoStage(FreqEstimator):
    """Two-stage DID (Gardner 2021; R ``did2s``, diff-diff ``TwoStageDiD``).

    First stage: unit and period fixed effects (and ``covariates``; None: the panel's) fitted
    exactly on the untreated observations (never and not-yet treated). Second stage: the
    residualised outcome regressed on a treatment dummy (``ATT``), on event-time dummies
    (``ATT_event``; with ``pretrends`` also the leads e <= -2, e = -1 the reference, as
    diff-diff's ``pretrends=True``), on cohort dummies (``ATT_cohort``) and, with ``by``, on
    treatment x level dummies (``ATT_by_<by>`` with a Wald test of equal levels). Point
    estimates equal the imputation estimator's; standard errors are Gardner's GMM covariance of
    the pooled second stage clustered by ``cluster`` (did2s's numbers: a pooled coefficient
    treats its cells' effects as one, so it is larger than the cell-level covariance that
    ``imputation`` aggregates). Intervals use t with G-1 df, as did2s through fixest.
    Units treated in their first observed period are dropped.
    """

    params = {"covariates": P.COVARIATES, "trend_covariates": P.TREND_COVARIATES,
              "cluster": P.CLUSTER,
              "pretrends": P.Spec("bool", "ATT_event also carries the leads e <= -2 (e = -1 the "
                                          "reference), as diff-diff's pretrends=True"),
              "by": P.BY, "interval_prob": P.INTERVAL_PROB, "by_bins": P.BY_BINS}

    def __init__(self, covariates: Sequence[str] | None = None,
                 trend_covariates: Sequence[str] | None = None, cluster: str | None = None,
                 pretrends: bool = True, by: str | None = None,
                 interval_prob: float = INTERVAL_PROB, by_bins: str | int | None = None):
        self.covariates = covariates
        self.trend_covariates = trend_covariates
        self.cluster = cluster
        self.pretrends = pretrends
        self.by = by
        self.interval_prob = interval_prob
        self.by_bins = by_bins

    def _fit(self, panel: Panel) -> list[EffectResult]:
        panel, trends = with_trend_controls(self._panel(panel), self.trend_covariates)
        frame, n_dropped = drop_always_treated(panel.frame, unit=panel.unit, time=panel.time)
        imputed, kept = impute_untreated(frame, unit=panel.unit, time=panel.time,
                                         outcome=panel.outcome,
                                         covariates=covariates_of(panel, self.covariates, trends))
        cluster = self.cluster or panel.cluster_col
        n_clusters = int(pd.unique(imputed[cluster]).size)
        settings, messages = self._reported(panel, frame, kept, trends, n_dropped, n_clusters)
        out = []
        for estimand, (codes, terms) in designs(imputed, time=panel.time,
                                                pretrends=bool(self.pretrends),
                                                by=self.by).items():
            fit = second_stage(imputed, codes, terms, unit=panel.unit, time=panel.time,
                               covariates=kept, cluster=cluster)
            out.append(self._result(estimand, fit, len(imputed), n_clusters, settings,
                                    messages))
        return out

    def _reported(self, panel: Panel, frame: pd.DataFrame, kept: Sequence[str], trends,
                  n_dropped: int, n_clusters: int) -> tuple[dict, tuple[Message, ...]]:
        """The settings and messages every result of the fit reports."""
        untreated = frame.loc[frame[TREAT] == 0]
        settings, note, warning = covariate_report(self._covariates(panel), kept, untreated,
                                                   unit=panel.unit, time=panel.time,
                                                   default=self.covariates is None)
        lead_note = ("ATT_event carries the leads e <= -2 (pretrends: true; diff-diff's default "
                     "pretrends=False omits them and leaves the other terms unchanged)"
                     if self.pretrends else None)
        settings = {**settings, "vcov": "gardner_gmm_cluster", "df": n_clusters - 1,
                    "pretrends": bool(self.pretrends), "dropped_always_treated_units": n_dropped}
        messages = (warnings(warning, *thin_controls(frame, trends, unit=panel.unit))
                    + notes(note, always_treated_note(n_dropped), lead_note))
        return settings, messages

    def _result(self, estimand: str, fit: SecondStage, n_obs: int, n_clusters: int,
                settings: dict, messages: tuple[Message, ...]) -> EffectResult:
        df = n_clusters - 1
        table = wald_table(fit.terms, fit.estimates, fit.vcov, interval_prob=self.interval_prob,
                           df=df)
        table["n_treated"] = fit.n_treated
        tests = ()
        if self.by and estimand == f"ATT_by_{self.by}":
            test = level_equality_test(self.by, fit.estimates, fit.vcov, df_denom=df,
                                       terms=fit.terms)
            tests = () if test is None else (test,)
        return EffectResult(method=self.method, paradigm=self.paradigm, estimand=estimand,
                            table=table, n_obs=n_obs, interval_prob=self.interval_prob,
                            interval_kind="t_CRV_did2s", n_clusters=n_clusters, tests=tests,
                            vcov=fit.vcov, messages=messages,
                            parts=[Facts("settings", settings)])
