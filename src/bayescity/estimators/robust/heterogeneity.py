"""Heterogeneity by a unit trait: interaction and subsample estimates side by side
(``method: heterogeneity``)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ...data.panel import COHORT, Panel
from ...progress import track
from ...results.effect import EffectResult, TestResult, equality_restriction, wald_test
from ...results.parts import Facts, Table, warnings as warn
from ..core import params as P
from ..core.base import Estimator, ParamError, resolve_by
from ..core.controls import covariates_of, with_trend_controls
from ..core.inference import WILD_WEIGHTS_PARAM, bootstrap_weights, fe_projection
from ..core.levels import level_dummies
from ..core.seeds import RandomState, child_seeds
from ..registry import register
from .inner import check_inner, check_inner_panel, make_inner, relabel
from .wild_wald import wild_wald_test

#: Estimands of the subsample estimates: ``ATT_subsample_<trait>``, terms = levels.
SUBSAMPLE_PREFIX = "ATT_subsample_"
WILD_CHOICES = ("auto", "always", "never")


def clusters_per_level(panel: Panel, trait: str, cluster: str) -> pd.Series:
    """Number of distinct clusters among the units of each level of ``trait``."""
    return panel.frame.groupby(trait, sort=True)[cluster].nunique().rename(index=str)


def level_panel(panel: Panel, trait: str, level: str) -> Panel:
    """The panel of the units at one level of ``trait``."""
    keep = panel.frame[trait].astype(str).to_numpy() == str(level)
    return panel.replace(frame=panel.frame.loc[keep].reset_index(drop=True))


def subsample_table(rows: Sequence[dict]) -> pd.DataFrame:
    """Per-level estimates of independent subsample fits as a Wald table (NaN where a level
    could not be estimated)."""
    return pd.DataFrame([{"term": r["term"], "estimate": r["estimate"],
                          "std_error": r["std_error"], "lower": r["lower"], "upper": r["upper"],
                          "p_value": r["p_value"], "prob_positive": np.nan} for r in rows])


def twfe_wild_equality(panel: Panel, trait: str, params: Mapping[str, Any], cluster: str, *,
                       weights: str, n_boot: int, seed) -> TestResult:
    """Wild cluster bootstrap (WCR) of the Wald test of equal ATT across the levels of
    ``trait`` in the TWFE interaction regression ``y ~ sum_l D 1[level l] + X | unit + time``."""
    work, trends = with_trend_controls(panel, params.get("trend_covariates"))
    covariates = covariates_of(work, params.get("covariates"), trends)
    data, terms, names = level_dummies(work.frame, trait)
    projection = fe_projection(data, [panel.unit, panel.time], covariates)
    n_clusters = int(data[cluster].nunique())
    w, enumerated = bootstrap_weights(weights, n_clusters, n_boot, seed)
    test = wild_wald_test(data[panel.outcome].to_numpy(dtype=float), data[names].to_numpy(),
                          data[cluster].to_numpy(), equality_restriction(len(names)), w, projection)
    how = "full enumeration" if enumerated else f"{test.n_boot} draws"
    return TestResult(f"equal ATT across {trait} (wild cluster bootstrap)", test.statistic,
                      test.q, test.p_value, "wild_bootstrap_wald", None,
                      f"WCR of the CRV1 Wald statistic, {weights} weights, {how}, "
                      f"{n_clusters} clusters ({cluster})")


@register("heterogeneity")
class Heterogeneity(Estimator):
    """Effect heterogeneity across the levels of categorical traits (region, north/south ...).

    For each trait in ``by`` (default: every categorical trait of the panel; a numeric trait
    with ``by_bins``) two sets of estimates of ``estimator`` (default ``twfe``) are reported
    side by side: ``ATT_by_<trait>``, the estimator's own ``by`` estimates (for ``twfe`` the
    interaction of the treatment with the levels under common fixed effects), with the Wald test
    of equal effects; and ``ATT_subsample_<trait>``, the estimator fitted on each level's units
    alone, with a Wald test that treats the subsamples as independent. When a level has fewer
    than ``few_clusters`` clusters (``wild_bootstrap="auto"``; or always), the equality of the
    ``twfe`` interaction effects is also tested by a wild cluster bootstrap (WCR of the Wald
    statistic, Cameron, Gelbach & Miller 2008; :mod:`.wild_wald`) with ``wild_weights`` and
    ``n_boot`` draws. The ``heterogeneity`` part of each ``ATT_by_<trait>`` is the side-by-side
    table. ``ATT`` is the pooled estimate.
    """

    paradigm = "frequentist"
    params = {"by": P.Spec("trait", "trait(s) whose levels are compared; null: every "
                                    "categorical trait", none=True, many=True),
              "by_bins": P.BY_BINS, "estimator": P.ESTIMATOR,
              "estimator_params": P.ESTIMATOR_PARAMS,
              "wild_bootstrap": P.Spec("choice", "wild bootstrap equality test: auto (when a "
                                                 "level has few clusters), always or never",
                                       choices=WILD_CHOICES),
              "few_clusters": P.Spec("int", "clusters per level below which a level counts as "
                                            "having few", low=2),
              "wild_weights": WILD_WEIGHTS_PARAM,
              "n_boot": P.Spec("int", "wild bootstrap draws", low=99),
              "random_state": P.RANDOM_STATE}
    smoke_params = {"n_boot": 199}

    def __init__(self, by: str | Sequence[str] | None = None, by_bins: str | int | None = None,
                 estimator: str = "twfe", estimator_params: Mapping[str, Any] | None = None,
                 wild_bootstrap: str = "auto", few_clusters: int = 30,
                 wild_weights: str = "rademacher", n_boot: int = 999,
                 random_state: RandomState = None):
        self.by = by
        self.by_bins = by_bins
        self.estimator = estimator
        self.estimator_params = estimator_params
        self.wild_bootstrap = wild_bootstrap
        self.few_clusters = few_clusters
        self.wild_weights = wild_weights
        self.n_boot = n_boot
        self.random_state = random_state

    def _validate(self) -> None:
        check_inner(self.estimator, self.estimator_params)
        if self.wild_bootstrap == "always" and self.estimator != "twfe":
            raise ParamError("wild_bootstrap: the wild bootstrap equality test is built on the "
                             "twfe interaction regression; use estimator: twfe or "
                             "wild_bootstrap: auto/never")
        if self.by_bins is not None and not isinstance(self.by, str):
            raise ParamError("by_bins: give one numeric trait as `by`")

    def _traits(self, panel: Panel) -> list[str]:
        if self.by is None:
            traits = list(panel.categorical_traits)
            if not traits:
                raise ParamError("by: the panel has no categorical trait; name one (traits: in "
                                 "the data section)")
            return traits
        return [self.by] if isinstance(self.by, str) else list(self.by)

    def _check_panel(self, panel: Panel) -> None:
        for trait in self._traits(panel):
            resolve_by(panel, trait, self.by_bins)
        check_inner_panel(self.estimator, self.estimator_params, panel)

    def _fit(self, panel: Panel) -> list[EffectResult]:
        seeds = child_seeds(self.random_state, 1 + 2 * len(self._traits(panel)))
        pooled = make_inner(self.estimator, self.estimator_params,
                            random_state=seeds[0]).fit(panel).effect("ATT")
        out = [relabel(pooled, self.method)]
        for j, trait in enumerate(track(self._traits(panel), "heterogeneity: traits")):
            work = resolve_by(panel, trait, self.by_bins)
            out += self._trait(work, trait, seeds[1 + 2 * j], seeds[2 + 2 * j])
        return out

    def _cluster(self, panel: Panel) -> str:
        return (self.estimator_params or {}).get("cluster") or panel.cluster_col

    def _trait(self, panel: Panel, trait: str, seed_fit, seed_boot) -> list[EffectResult]:
        inter = make_inner(self.estimator, self.estimator_params, by=trait,
                           random_state=seed_fit).fit(panel).effect(f"ATT_by_{trait}")
        rows, warnings = self._subsamples(panel, trait, inter.terms, seed_fit)
        sub = self._subsample_result(panel, trait, rows, warnings)
        tests = list(inter.tests)
        counts = clusters_per_level(panel, trait, self._cluster(panel))
        few = bool((counts < int(self.few_clusters)).any())
        if self.estimator == "twfe" and (self.wild_bootstrap == "always"
                                         or (self.wild_bootstrap == "auto" and few)):
            tests.append(twfe_wild_equality(panel, trait, dict(self.estimator_params or {}),
                                            self._cluster(panel), weights=self.wild_weights,
                                            n_boot=int(self.n_boot), seed=seed_boot))
        elif few and self.wild_bootstrap == "auto":
            warnings.append(f"a level of {trait} has fewer than {self.few_clusters} clusters, so "
                            "the analytic equality test is unreliable; the wild bootstrap "
                            "equality test needs estimator twfe")
        table = side_by_side(panel, trait, inter, rows, counts)
        return [relabel(inter, self.method,
                        settings={"clusters_per_level": counts.to_dict()},
                        messages=warn(*warnings), parts=[Table("heterogeneity", table)],
                        tests=tuple(tests)), sub]

    def _subsamples(self, panel: Panel, trait: str, terms: Sequence[str], seed):
        rows, warnings = [], []
        for level in terms:
            part = level_panel(panel, trait, level)
            row = {"term": str(level), "estimate": np.nan, "std_error": np.nan, "lower": np.nan,
                   "upper": np.nan, "p_value": np.nan, "n_obs": part.n_obs}
            try:
                fit = make_inner(self.estimator, self.estimator_params, random_state=seed).fit(part)
                row.update(fit.effect("ATT").row("overall")[
                    ["estimate", "std_error", "lower", "upper", "p_value"]].to_dict())
                row["interval_kind"] = fit.effect("ATT").interval_kind
            except (ValueError, np.linalg.LinAlgError) as exc:
                warnings.append(f"subsample {trait}={level}: not estimable ({exc})")
            rows.append(row)
        return rows, warnings

    def _subsample_result(self, panel: Panel, trait: str, rows: list[dict],
                          warnings: list[str]) -> EffectResult:
        table = subsample_table(rows)
        se = table["std_error"].to_numpy(dtype=float)
        vcov = np.diag(se**2)
        ok = np.isfinite(table["estimate"].to_numpy(dtype=float)) & np.isfinite(se)
        tests = ()
        if ok.sum() >= 2:
            idx = np.flatnonzero(ok)
            tests = (wald_test(f"equal ATT across {trait} (independent subsamples)",
                               table["estimate"].to_numpy()[idx], vcov[np.ix_(idx, idx)],
                               equality_restriction(len(idx)),
                               note="chi-square; assumes no cluster spans two levels"),)
        kinds = {r.get("interval_kind") for r in rows if r.get("interval_kind")}
        return EffectResult(method=self.method, paradigm=self.paradigm,
                            estimand=f"{SUBSAMPLE_PREFIX}{trait}", table=table,
                            n_obs=int(sum(r["n_obs"] for r in rows)),
                            interval_kind=kinds.pop() if len(kinds) == 1 else "mixed",
                            n_clusters=int(panel.frame[self._cluster(panel)].nunique()),
                            tests=tests, vcov=vcov,
                            messages=warn(*warnings),
                            parts=[Facts("settings", {"estimator": self.estimator,
                                                      "trait": trait})])


def side_by_side(panel: Panel, trait: str, inter: EffectResult, rows: Sequence[dict],
                 counts: pd.Series) -> pd.DataFrame:
    """One row per level: units, treated units, clusters, interaction and subsample estimates."""
    units = panel.unit_table()
    units[trait] = units[trait].astype(str)
    n_units = units.groupby(trait)[panel.unit].nunique()
    n_treated = units.loc[units[COHORT] > 0].groupby(trait)[panel.unit].nunique()
    sub = pd.DataFrame(rows).set_index("term")
    it = inter.table.set_index("term")
    levels = list(inter.terms)
    return pd.DataFrame({
        "trait": trait, "level": levels,
        "n_units": n_units.reindex(levels).fillna(0).astype(int).to_numpy(),
        "n_treated_units": n_treated.reindex(levels).fillna(0).astype(int).to_numpy(),
        "n_clusters": counts.reindex(levels).fillna(0).astype(int).to_numpy(),
        "interaction_estimate": it.loc[levels, "estimate"].to_numpy(),
        "interaction_std_error": it.loc[levels, "std_error"].to_numpy(),
        "subsample_estimate": sub.loc[levels, "estimate"].to_numpy(dtype=float),
        "subsample_std_error": sub.loc[levels, "std_error"].to_numpy(dtype=float)})
