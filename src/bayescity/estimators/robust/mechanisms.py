"""Mechanism analysis: the policy's effect on each mediator and the mediator's association with
the outcome (``method: mechanisms``).

What the two steps identify, and what they do not. Step 1 is a DID with the mediator as the
outcome: under the same parallel-trends assumption as the main estimate it identifies the
policy's average effect on the mediator (``ATT_on_<mediator>``). Step 2 is a fixed-effects
regression of the outcome on the mediator (and the treatment): a conditional association, not
a causal effect, because the mediator is not randomly assigned -- anything that moves both the
mediator and the outcome within a city over time confounds it, and the policy may change the
outcome through channels correlated with the mediator. Multiplying the two numbers does not give
a causal mediation share; that needs sequential ignorability of the mediator (Imai, Keele &
Tingley 2010) or a separate design for it. A significant ``ATT_on_<mediator>`` says the policy
moved the mediator, which is consistent with -- not proof of -- that channel (Baron & Kenny 1986
style evidence, read with the caveats of Bullock, Green & Ha 2010).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ...data.panel import TREAT, Panel
from ...progress import track
from ...results.effect import EffectResult
from ...results.parts import Table, notes
from ..core import params as P
from ..core.base import Estimator, ParamError, resolve_by
from ..core.controls import covariates_of, with_trend_controls
from ..core.fixest import fit_coefs
from ..core.seeds import RandomState, child_seeds
from ..registry import register
from .inner import check_columns, check_inner, check_inner_panel, make_inner, relabel

#: Estimand of the policy's effect on mediator m: ``ATT_on_<m>`` (term ``overall``).
ON_PREFIX = "ATT_on_"
IDENTIFICATION = ("ATT_on_<mediator> is the DID effect of the policy on the mediator (same design "
                  "and assumptions as ATT); the association is a within-city correlation of "
                  "outcome and mediator, not a causal effect; their product is not a causal "
                  "mediation share")


def mediator_association(panel: Panel, mediator: str, params: Mapping[str, Any],
                         cluster: str) -> dict[str, float]:
    """Coefficient of the mediator in ``y ~ D + m + X | unit + time`` (CRV1 by ``cluster``):
    the outcome's within-unit association with the mediator, holding the treatment fixed."""
    from scipy import stats

    work, trends = with_trend_controls(panel, params.get("trend_covariates"))
    covariates = [c for c in covariates_of(work, params.get("covariates"), trends)
                  if c != mediator]
    c = fit_coefs(work.frame, panel.outcome, [TREAT, mediator, *covariates],
                  [panel.unit, panel.time], vcov="CRV1", cluster=cluster)
    j = c.names.index(mediator)
    est, se = float(c.estimates[j]), float(np.sqrt(c.vcov[j, j]))
    return {"association": est, "association_std_error": se,
            "association_p_value": float(2 * stats.t.sf(abs(est / se), c.df_t))}


@register("mechanisms")
class Mechanisms(Estimator):
    """The policy's effect on each mediator with the main design, and each mediator's
    association with the outcome.

    For every column in ``mediators`` (default: the panel's covariates) ``estimator`` (default
    ``twfe``) with ``estimator_params`` is fitted with the mediator as the outcome; the result
    is reported as ``ATT_on_<mediator>`` (term ``overall``, the estimator's own inference).
    Mediators are removed from the covariates of every fit (a mediator is a bad control).
    ``ATT`` is the same estimator on the outcome; with ``by`` its ``ATT_by_<trait>`` too.
    The ``mechanisms`` part of ``ATT`` is the summary table: per mediator the effect on it and
    the coefficient of the mediator in ``y ~ D + mediator + covariates | unit + time``
    (:func:`mediator_association`). See the module docstring for what this two-step design
    identifies: it gives no causal mediation share.
    """

    paradigm = "frequentist"

    params = {"mediators": P.Spec("columns", "mediator columns, each fitted as an outcome; "
                                            "null: the panel's covariates", none=True,
                                  role="numeric_columns"),
              "estimator": P.ESTIMATOR, "estimator_params": P.ESTIMATOR_PARAMS, "by": P.BY,
              "by_bins": P.BY_BINS, "random_state": P.RANDOM_STATE}

    def __init__(self, mediators: Sequence[str] | None = None, estimator: str = "twfe",
                 estimator_params: Mapping[str, Any] | None = None, by: str | None = None,
                 by_bins: str | int | None = None, random_state: RandomState = None):
        self.mediators = mediators
        self.estimator = estimator
        self.estimator_params = estimator_params
        self.by = by
        self.by_bins = by_bins
        self.random_state = random_state

    def _validate(self) -> None:
        check_inner(self.estimator, self.estimator_params)

    def _mediators(self, panel: Panel) -> list[str]:
        out = list(panel.covariates if self.mediators is None else self.mediators)
        if not out:
            raise ParamError("mediators: name the mediator columns (the panel has no covariates "
                             "to default to)")
        if panel.outcome in out:
            raise ParamError(f"mediators: {panel.outcome!r} is the outcome")
        return out

    def _check_panel(self, panel: Panel) -> None:
        check_columns("mediators", self._mediators(panel), panel, numeric=True)
        check_inner_panel(self.estimator, self.estimator_params, panel)

    def _params(self, mediators: Sequence[str], panel: Panel) -> dict[str, Any]:
        """Estimator params with the mediators taken out of the covariates."""
        params = dict(self.estimator_params or {})
        covs = params.get("covariates")
        covs = list(panel.covariates if covs is None else covs)
        if any(m in covs for m in mediators):
            params["covariates"] = [c for c in covs if c not in mediators]
        return params

    def _fit(self, panel: Panel) -> list[EffectResult]:
        panel = resolve_by(panel, self.by, self.by_bins)
        mediators = self._mediators(panel)
        params = self._params(mediators, panel)
        seed = child_seeds(self.random_state, 1)[0]
        cluster = params.get("cluster") or panel.cluster_col
        main = make_inner(self.estimator, params, by=self.by, random_state=seed).fit(panel)
        rows, out = [], []
        for m in track(mediators, "mechanisms: mediators"):
            fit = make_inner(self.estimator, params, random_state=seed).fit(panel.with_outcome(m))
            att = fit.effect("ATT")
            rows.append({"mediator": m, **att.row("overall")[
                ["estimate", "std_error", "p_value"]].to_dict(),
                **mediator_association(panel, m, params, cluster)})
            out.append(relabel(att, self.method, f"{ON_PREFIX}{m}",
                               settings={"mediator": m, "estimator": self.estimator}))
        table = pd.DataFrame(rows).rename(columns={"estimate": "att_on_mediator",
                                                   "std_error": "att_std_error",
                                                   "p_value": "att_p_value"})
        head = [relabel(main.effect("ATT"), self.method, settings={"estimator": self.estimator},
                        messages=notes(IDENTIFICATION), parts=[Table("mechanisms", table)])]
        if self.by:
            head.append(relabel(main.effect(f"ATT_by_{self.by}"), self.method))
        return head + out

