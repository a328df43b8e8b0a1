"""Static two-way fixed-effects DID with cluster-robust or wild cluster bootstrap inference."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ...constants import INTERVAL_PROB
from ...data.panel import TREAT, Panel
from ...results.effect import EffectResult, level_equality_test, wald_table
from ...results.parts import Facts, notes, warnings
from ..core.controls import covariates_of, with_trend_controls
from ..core.covariates import Reported, covariate_report
from ..core import params as P
from ..core.fixest import VCOV, Coefs, fit_coefs
from ..core.inference import (WILD_WEIGHTS_PARAM, WildBootstrapResult, wild_bootstrap_terms,
                              wild_term_table)
from ..core.levels import level_dummies, treated_units_by
from ..core.seeds import RandomState, child_seeds
from ..registry import register
from .common import INFERENCE, FreqEstimator, validate_wild
from .es_common import wild_info


def twfe_att(data: pd.DataFrame, *, unit: str, time: str, outcome: str, covariates: Sequence[str],
             vcov: str, cluster: str) -> Coefs:
    """ATT as the coefficient on the treatment dummy in ``y ~ D + X | unit + time``."""
    c = fit_coefs(data, outcome, [TREAT, *covariates], [unit, time], vcov=vcov, cluster=cluster)
    return c.select([TREAT])


def twfe_att_by(work: pd.DataFrame, names: Sequence[str], *, unit: str, time: str, outcome: str,
                covariates: Sequence[str], vcov: str, cluster: str) -> Coefs:
    """ATT per level: the level dummies ``names`` of :func:`level_dummies` (treatment x level)
    in ``y ~ D x levels + X | unit + time``, common fixed effects."""
    c = fit_coefs(work, outcome, [*names, *covariates], [unit, time], vcov=vcov, cluster=cluster)
    return c.select(names)


def twfe_wild(data: pd.DataFrame, targets: Sequence[str], *, unit: str, time: str, outcome: str,
              covariates: Sequence[str], cluster: str, weights: str, n_boot: int,
              random_state: RandomState, interval_prob: float) -> list[WildBootstrapResult]:
    """Wild cluster bootstrap (WCR11) for each of ``targets`` in ``y ~ targets + X | unit + time``."""
    return wild_bootstrap_terms(data, outcome, targets, cluster=cluster, regressors=covariates,
                                fixed_effects=[unit, time], random_state=random_state,
                                weights=weights, n_boot=n_boot, interval_prob=interval_prob)


@register("twfe")
class TWFE(FreqEstimator):
    """Two-way fixed-effects DID: ``y_it = a_i + l_t + tau D_it + X_it'b + e_it``.

    The regression runs on the fixed-effects OLS core of ``fe_ols`` (pyfixest for CRV3).

    Errors are clustered by the panel's cluster column (the unit unless set) with CRV1 as in
    fixest/Stata; ``cluster`` names any other column (e.g. ``province``), ``vcov`` picks CRV1,
    CRV3 (jackknife), hetero or iid. Analytic intervals and p-values use the t distribution with
    the regression's df (G-1 when clustered); ``interval_kind`` is ``t_<vcov>``.

    ``inference="wild"`` replaces the p-value and interval of every term by the restricted wild
    cluster bootstrap (WCR11, Cameron, Gelbach & Miller 2008; test inversion as in Roodman et al.
    2019), with ``wild_weights`` Rademacher (fully enumerated when ``2**G <= n_boot``) or Webb
    (Webb 2023, for fewer than about 12 clusters); ``interval_kind`` is then
    ``wild_cluster_bootstrap_<weights>``. ``std_error`` stays the analytic one of ``vcov`` (the
    bootstrap defines no standard error) and the ``settings`` part says so. ``random_state`` is
    an int, a SeedSequence or None (fresh entropy, recorded as the ``seed_entropy`` setting).

    ``by=<trait>`` adds ATT per level with a Wald F test that all levels are equal (analytic
    under either inference); a numeric trait needs ``by_bins`` (quantile bins).
    ``n_treated`` counts the units with a treated observation behind each term; the
    ``settings`` part records the covariates used and those dropped (absorbed by the fixed
    effects, collinear). Under staggered adoption with dynamic or heterogeneous effects the
    coefficient is a weighted average that can be biased (Goodman-Bacon 2021; de Chaisemartin &
    D'Haultfoeuille 2020).
    ``trend_covariates`` names unit characteristics (e.g. ``ln_gdp_pc_2003``, ``region3``) that
    are interacted with period dummies, so that untreated trends may differ with them (see
    :func:`~bayescity.estimators.core.controls.with_trend_controls`).
    """

    params = {"covariates": P.COVARIATES, "trend_covariates": P.TREND_COVARIATES,
              "cluster": P.CLUSTER, "vcov": VCOV, "by": P.BY, "interval_prob": P.INTERVAL_PROB,
              "inference": INFERENCE, "wild_weights": WILD_WEIGHTS_PARAM, "n_boot": P.N_BOOT,
              "random_state": P.RANDOM_STATE, "by_bins": P.BY_BINS}

    def __init__(self, covariates: Sequence[str] | None = None,
                 trend_covariates: Sequence[str] | None = None, cluster: str | None = None,
                 vcov: str = "CRV1", by: str | None = None, interval_prob: float = INTERVAL_PROB,
                 inference: str = "analytic", wild_weights: str = "rademacher",
                 n_boot: int = 9999, random_state: RandomState = None,
                 by_bins: str | int | None = None):
        self.by_bins = by_bins
        self.covariates = covariates
        self.trend_covariates = trend_covariates
        self.cluster = cluster
        self.vcov = vcov
        self.by = by
        self.interval_prob = interval_prob
        self.inference = inference
        self.wild_weights = wild_weights
        self.n_boot = n_boot
        self.random_state = random_state

    def _validate(self) -> None:
        validate_wild(self.inference, self.vcov, self.n_boot)

    def _spec(self, panel: Panel, trends: Sequence[str] = ()) -> dict:
        return dict(unit=panel.unit, time=panel.time, outcome=panel.outcome,
                    covariates=covariates_of(panel, self.covariates, trends), vcov=self.vcov,
                    cluster=self.cluster or panel.cluster_col)

    def _wild(self, data: pd.DataFrame, spec: dict, targets: list[str],
              seed: np.random.SeedSequence) -> list[WildBootstrapResult]:
        args = {k: v for k, v in spec.items() if k != "vcov"}
        return twfe_wild(data, targets, **args, weights=self.wild_weights,
                         n_boot=int(self.n_boot), random_state=seed,
                         interval_prob=self.interval_prob)

    def _result(self, estimand: str, terms: list[str], c: Coefs, cluster: str, n_treated,
                reported: Reported, tests=(), boots: list[WildBootstrapResult] | None = None,
                seed: np.random.SeedSequence | None = None) -> EffectResult:
        info: dict[str, Any] = {"vcov": c.vcov_type, "df": c.df_t, "cluster": cluster,
                                "inference": self.inference, **reported.settings}
        if boots is None:
            table = wald_table(terms, c.estimates, c.vcov, interval_prob=self.interval_prob,
                               df=c.df_t)
            kind = f"t_{c.vcov_type}"
        else:
            table = wild_term_table(terms, c.estimates, np.sqrt(np.diag(c.vcov)), boots)
            kind = boots[0].interval_kind
            info.update(wild_info(boots, c.vcov_type, seed))
        table["n_treated"] = n_treated
        return EffectResult(method=self.method, paradigm=self.paradigm, estimand=estimand,
                            table=table, n_obs=c.n_obs, interval_prob=self.interval_prob,
                            interval_kind=kind, n_clusters=c.n_clusters, tests=tuple(tests),
                            vcov=c.vcov, messages=reported.messages,
                            parts=[Facts("settings", info)])

    def _fit(self, panel: Panel) -> list[EffectResult]:
        panel, trends = with_trend_controls(self._panel(panel), self.trend_covariates)
        spec = self._spec(panel, trends)
        data = panel.frame
        wild = self.inference == "wild"
        seeds = child_seeds(self.random_state, 2) if wild else [None, None]
        att = twfe_att(data, **spec)
        reported = self._covariate_info(panel, data, att)
        boots = self._wild(data, spec, [TREAT], seeds[0]) if wild else None
        out = [self._result("ATT", ["overall"], att, spec["cluster"],
                            treated_units_by(data, panel.unit), reported, boots=boots,
                            seed=seeds[0])]
        if self.by:
            out.append(self._fit_by(data, panel.unit, spec, reported, seeds[1]))
        return out

    def _covariate_info(self, panel: Panel, data: pd.DataFrame, c: Coefs) -> Reported:
        info, note, warning = covariate_report(self._covariates(panel), c.fitted_names, data,
                                               unit=panel.unit, time=panel.time,
                                               default=self.covariates is None)
        return Reported(info, warnings(warning) + notes(note))

    def _fit_by(self, data: pd.DataFrame, unit: str, spec: dict, reported: Reported,
                seed: np.random.SeedSequence | None) -> EffectResult:
        work, terms, names = level_dummies(data, self.by)
        c = twfe_att_by(work, names, **spec)
        test = level_equality_test(self.by, c.estimates, c.vcov, df_denom=c.df_t,
                                   note=f"analytic {c.vcov_type} Wald F test", terms=terms)
        tests = [] if test is None else [test]
        boots = None if seed is None else self._wild(work, spec, names, seed)
        return self._result(f"ATT_by_{self.by}", terms, c, spec["cluster"],
                            treated_units_by(data, unit, self.by), reported, tests, boots, seed)

