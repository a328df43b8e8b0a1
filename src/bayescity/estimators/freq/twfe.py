"""Static two-way fixed-effects DID."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ...constants import INTERVAL_PROB
from ...data.panel import TREAT, Panel
from ...results.effect import EffectResult, equality_restriction, wald_table, wald_test
from ..base import Estimator
from ..registry import register
from .fixest import Coefs, coefs_of, feols, safe_name


def twfe_att(data: pd.DataFrame, *, unit: str, time: str, outcome: str, covariates: Sequence[str],
             vcov: str, cluster: str) -> Coefs:
    """ATT as the coefficient on the treatment dummy in ``y ~ D + X | unit + time``."""
    fit = feols(data, outcome, [TREAT, *covariates], [unit, time], vcov=vcov, cluster=cluster)
    return coefs_of(fit, vcov).select([TREAT])


def twfe_att_by(data: pd.DataFrame, by: str, *, unit: str, time: str, outcome: str,
                covariates: Sequence[str], vcov: str, cluster: str) -> tuple[list[str], Coefs]:
    """ATT per level of ``by``: the treatment dummy interacted with each level, common fixed effects."""
    levels = sorted(pd.unique(data[by]), key=str)
    work = data.copy()
    names = []
    for level in levels:
        name = f"{TREAT}__{safe_name(level)}"
        work[name] = work[TREAT] * (work[by] == level).astype(float)
        names.append(name)
    fit = feols(work, outcome, [*names, *covariates], [unit, time], vcov=vcov, cluster=cluster)
    return [str(lv) for lv in levels], coefs_of(fit, vcov).select(names)


@register("twfe")
class TWFE(Estimator):
    """Two-way fixed-effects DID: ``y_it = a_i + l_t + tau D_it + X_it'b + e_it`` via pyfixest.

    Errors are clustered by the panel's cluster column (the unit unless set) with CRV1 as in
    fixest/Stata; ``cluster`` names any other column, ``vcov`` picks CRV1, CRV3, hetero or iid.
    Intervals and p-values use the t distribution with the regression's df (G-1 when clustered).
    ``by=<trait>`` adds ATT per level with a Wald F test that all levels are equal.
    Under staggered adoption with dynamic or heterogeneous effects the coefficient is a weighted
    average that can be biased (Goodman-Bacon 2021; de Chaisemartin & D'Haultfoeuille 2020).
    """

    paradigm = "frequentist"

    def __init__(self, covariates: Sequence[str] | None = None, cluster: str | None = None,
                 vcov: str = "CRV1", by: str | None = None, interval_prob: float = INTERVAL_PROB):
        self.covariates = covariates
        self.cluster = cluster
        self.vcov = vcov
        self.by = by
        self.interval_prob = interval_prob

    def _spec(self, panel: Panel) -> dict:
        covs = list(panel.covariates if self.covariates is None else self.covariates)
        return dict(unit=panel.unit, time=panel.time, outcome=panel.outcome, covariates=covs,
                    vcov=self.vcov, cluster=self.cluster or panel.cluster_col)

    def _result(self, estimand: str, terms: list[str], c: Coefs, tests=()) -> EffectResult:
        table = wald_table(terms, c.estimates, c.vcov, interval_prob=self.interval_prob, df=c.df_t)
        return EffectResult(method=self.method, paradigm=self.paradigm, estimand=estimand,
                            table=table, n_obs=c.n_obs, interval_prob=self.interval_prob,
                            interval_kind=f"t_{c.vcov_type}", n_clusters=c.n_clusters,
                            tests=tuple(tests), vcov=c.vcov,
                            info={"vcov": c.vcov_type, "df": c.df_t})

    def _fit(self, panel: Panel) -> list[EffectResult]:
        spec = self._spec(panel)
        data = panel.data
        out = [self._result("ATT", ["overall"], twfe_att(data, **spec))]
        if self.by:
            if self.by not in data.columns:
                raise ValueError(f"twfe: by={self.by!r} is not a column of the panel")
            terms, c = twfe_att_by(data, self.by, **spec)
            tests = []
            if len(terms) > 1:
                tests.append(wald_test(f"equal ATT across {self.by}", c.estimates, c.vcov,
                                       equality_restriction(len(terms)), df_denom=c.df_t))
            out.append(self._result(f"ATT_by_{self.by}", terms, c, tests))
        return out
