"""PSM-DID: difference-in-differences on a propensity-score matched sample (``method: psm_did``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ...constants import INTERVAL_PROB
from ...data.panel import COHORT, TREAT, Panel
from ...results.effect import EffectResult, level_equality_test, wald_table
from ...results.parts import Facts, Table, notes as note, warnings as warn
from ..core import params as P
from ..core.base import Estimator, Fitted, ParamError, resolve_by
from ..core.covariates import Reported
from ..core.fixest import VCOV, Coefs, fit_coefs
from ..core.levels import level_dummies, treated_units_by
from ..core.seeds import RandomState, child_seeds
from ..registry import register
from .psm import (MATCHING, PROPENSITY_MODELS, Matching, balance_table, kernel_matching,
                  nearest_neighbour, propensity_scores)

WEIGHT = "_psm_weight"


def baseline_periods(panel: Panel, periods: Sequence[int] | None) -> tuple[int, int]:
    """The pre-period whose covariate means enter the propensity score: ``periods`` or every
    period before the first adoption (the first period when units adopt in it)."""
    if periods is not None:
        return int(periods[0]), int(periods[1])
    first = int(panel.periods[0])
    adoption = panel.cohorts
    end = int(adoption.min()) - 1 if adoption.size else int(panel.periods[-1])
    return first, max(first, end)


def unit_baseline(panel: Panel, covariates: Sequence[str], span: tuple[int, int]) -> pd.DataFrame:
    """Per unit (in ``panel.units`` order): the mean of each covariate over the baseline span."""
    frame = panel.frame
    t = frame[panel.time].to_numpy()
    rows = frame.loc[(t >= span[0]) & (t <= span[1])]
    means = rows.groupby(panel.unit, sort=True)[list(covariates)].mean()
    return means.reindex(panel.units)


def matched_did(data: pd.DataFrame, *, unit: str, time: str, outcome: str,
                covariates: Sequence[str], cluster: str, vcov: str,
                by: str | None) -> tuple[Coefs, list[str]]:
    """Weighted TWFE ``y ~ D [x levels] + X | unit + time`` on the matched sample (weights
    :data:`WEIGHT`); returns the treatment coefficients and their terms."""
    if by is None:
        c = fit_coefs(data, outcome, [TREAT, *covariates], [unit, time], vcov=vcov,
                      cluster=cluster, weights=WEIGHT)
        return c.select([TREAT]), ["overall"]
    work, terms, names = level_dummies(data, by)
    c = fit_coefs(work, outcome, [*names, *covariates], [unit, time], vcov=vcov,
                  cluster=cluster, weights=WEIGHT)
    return c.select(names), terms


@dataclass(frozen=True, eq=False)
class PSMState:
    """Each unit's propensity score (``scores_``)."""

    scores: pd.Series


@register("psm_did")
class PSMDID(Estimator):
    """Difference-in-differences on a propensity-score matched sample.

    The score P(ever treated | X) is fitted on the units' means of ``ps_covariates`` (default:
    the panel's covariates) over ``baseline_periods`` (default: the periods before the first
    adoption), by an unpenalised ``logit`` or a cross-fitted learner (``gradient_boosting``,
    ``random_forest``). ``matching="nearest"``: greedy nearest-neighbour matching as R MatchIt
    (``ratio`` controls per treated unit, ``caliper`` in standard deviations of the score,
    ``replace``; MatchIt's defaults: 1:1, no caliper, without replacement); ``"kernel"``:
    Epanechnikov kernel weights with ``bandwidth``. See :mod:`.psm`. The DID is the two-way
    fixed-effects regression ``y ~ D + covariates | unit + time`` weighted by the matching
    weights (pyfixest), errors clustered by ``cluster`` (default the panel's). The ``balance`` part
    holds the balance table before and after matching (standardised mean differences, variance
    ratios, the score included).
    """

    paradigm = "frequentist"
    params = {"ps_covariates": P.Spec("columns", "baseline characteristics of the propensity "
                                                "score; null: the panel's covariates", none=True,
                                      role="numeric_columns"),
              "baseline_periods": P.Spec("window", "periods [first, last] whose means enter the "
                                                   "propensity score; null: before the first "
                                                   "adoption", none=True),
              "propensity": P.Spec("choice", "propensity score model", choices=PROPENSITY_MODELS),
              "matching": P.Spec("choice", "nearest-neighbour or kernel matching",
                                 choices=MATCHING),
              "ratio": P.Spec("int", "controls matched to each treated unit (nearest)", low=1),
              "caliper": P.Spec("float", "largest propensity distance, in standard deviations "
                                         "of the score (nearest); null: none", low=0,
                                open_low=True, none=True),
              "replace": P.Spec("bool", "match controls with replacement (nearest)"),
              "bandwidth": P.Spec("float", "kernel bandwidth on the propensity score (kernel)",
                                  low=0, open_low=True),
              "covariates": P.COVARIATES, "cluster": P.CLUSTER, "vcov": VCOV, "by": P.BY,
              "by_bins": P.BY_BINS, "interval_prob": P.INTERVAL_PROB,
              "random_state": P.RANDOM_STATE}

    def __init__(self, ps_covariates: Sequence[str] | None = None,
                 baseline_periods: Sequence[int] | None = None, propensity: str = "logit",
                 matching: str = "nearest", ratio: int = 1, caliper: float | None = None,
                 replace: bool = False, bandwidth: float = 0.06,
                 covariates: Sequence[str] | None = None, cluster: str | None = None,
                 vcov: str = "CRV1", by: str | None = None, by_bins: str | int | None = None,
                 interval_prob: float = INTERVAL_PROB, random_state: RandomState = None):
        self.ps_covariates = ps_covariates
        self.baseline_periods = baseline_periods
        self.propensity = propensity
        self.matching = matching
        self.ratio = ratio
        self.caliper = caliper
        self.replace = replace
        self.bandwidth = bandwidth
        self.covariates = covariates
        self.cluster = cluster
        self.vcov = vcov
        self.by = by
        self.by_bins = by_bins
        self.interval_prob = interval_prob
        self.random_state = random_state

    def _check_panel(self, panel: Panel) -> None:
        if not self._ps_covariates(panel):
            raise ParamError("ps_covariates: the panel has no covariates; name the baseline "
                             "characteristics of the propensity score")
        lo, hi = baseline_periods(panel, self.baseline_periods)
        if not ((panel.periods >= lo) & (panel.periods <= hi)).any():
            raise ParamError(f"baseline_periods: no period of the panel lies in [{lo}, {hi}]")

    def _ps_covariates(self, panel: Panel) -> list[str]:
        return list(panel.covariates if self.ps_covariates is None else self.ps_covariates)

    def _match(self, score: np.ndarray, treated: np.ndarray) -> Matching:
        if self.matching == "kernel":
            return kernel_matching(score, treated, float(self.bandwidth))
        return nearest_neighbour(score, treated, ratio=int(self.ratio), replace=bool(self.replace),
                                 caliper=None if self.caliper is None else float(self.caliper))

    def _fit(self, panel: Panel) -> list[EffectResult]:
        panel = resolve_by(panel, self.by, self.by_bins)
        span = baseline_periods(panel, self.baseline_periods)
        X = unit_baseline(panel, self._ps_covariates(panel), span)
        if X.isna().any().any():
            raise ParamError(f"baseline_periods: some units are not observed in {list(span)}")
        treated = np.zeros(panel.n_units, dtype=bool)
        treated[panel.unit_codes] = panel.frame[COHORT].to_numpy() > 0
        seed = int(child_seeds(self.random_state, 1)[0].generate_state(1)[0])
        score = propensity_scores(X.to_numpy(), treated, self.propensity, seed)
        match = self._match(score, treated)
        balance = balance_table(X.assign(propensity_score=score), treated, match.weights)
        state = PSMState(pd.Series(score, index=panel.units, name="propensity_score"))
        return Fitted(tuple(self._did(panel, match, balance, span, treated)), state)

    def _did(self, panel: Panel, match: Matching, balance: pd.DataFrame, span, treated) -> list:
        w_rows = match.weights[panel.unit_codes]
        data = panel.frame.assign(**{WEIGHT: w_rows}).loc[w_rows > 0]
        if not (data[COHORT] > 0).any() or not (data[COHORT] == 0).any():
            raise ValueError("psm_did: the matched sample has no treated or no control units; "
                             "widen the caliper or bandwidth")
        spec = dict(unit=panel.unit, time=panel.time, outcome=panel.outcome,
                    covariates=list(panel.covariates if self.covariates is None else self.covariates),
                    cluster=self.cluster or panel.cluster_col, vcov=self.vcov)
        info = self._info(match, balance, span, treated)
        out = [self._result("ATT", *matched_did(data, **spec, by=None), info,
                            n_treated=treated_units_by(data, panel.unit))]
        if self.by:
            c, terms = matched_did(data, **spec, by=self.by)
            test = level_equality_test(self.by, c.estimates, c.vcov, df_denom=c.df_t)
            out.append(self._result(f"ATT_by_{self.by}", c, terms, info,
                                    () if test is None else (test,),
                                    treated_units_by(data, panel.unit, self.by)))
        return out

    def _info(self, match: Matching, balance: pd.DataFrame, span, treated) -> Reported:
        n_treated, n_matched = int(treated.sum()), int(match.matched_treated.sum())
        n_controls = int(((~treated) & (match.weights > 0)).sum())
        notes = [f"PSM-DID on {n_matched} of {n_treated} treated units and {n_controls} matched "
                 f"controls ({self.matching}, propensity by {self.propensity} on means over "
                 f"{span[0]}-{span[1]})"]
        warnings = [] if n_matched == n_treated else [
            f"{n_treated - n_matched} of {n_treated} treated units found no control within the "
            "caliper/bandwidth and are left out: the estimate is the ATT of the matched treated "
            "units"]
        settings = {"n_treated": n_treated, "n_matched_treated": n_matched,
                    "n_matched_controls": n_controls, "propensity": self.propensity,
                    "matching": self.matching, "caliper_width": match.caliper_width,
                    "baseline_periods": list(span)}
        return Reported(settings, warn(*warnings) + note(*notes), (Table("balance", balance),))

    def _result(self, estimand: str, c: Coefs, terms: list[str], info: Reported,
                tests=(), n_treated: np.ndarray | None = None) -> EffectResult:
        """One result; ``n_treated`` counts the matched treated units behind each term."""
        table = wald_table(terms, c.estimates, c.vcov, interval_prob=self.interval_prob,
                           df=c.df_t)
        if n_treated is not None:
            table["n_treated"] = n_treated
        return EffectResult(method=self.method, paradigm=self.paradigm, estimand=estimand,
                            table=table, n_obs=c.n_obs, interval_prob=self.interval_prob,
                            interval_kind=f"t_{c.vcov_type}", n_clusters=c.n_clusters,
                            tests=tuple(tests), vcov=c.vcov, messages=info.messages,
                            parts=[Facts("settings", {**info.settings, "vcov": c.vcov_type}),
                                   *info.parts])
