"""``dml`` and ``causal_forest``: double machine learning on the staggered panel.

Both estimate ATT(g,t) on the long-difference cells of :mod:`.cells` (or, for comparison, the
two-way demeaned design of :mod:`.within`) with cross-fitted nuisances, aggregate them with the
shared treated-cell weights, and model the heterogeneity of the per-city doubly robust scores
over the effect modifiers: linearly (``dml``) or with an honest forest (``causal_forest``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ...data.panel import COHORT
from ...estimands.aggregate import Aggregation, aggregate
from ...estimands.summarize import to_effect_result
from ...results.effect import EffectResult, wald_test
from ...results.parts import Facts, Part, Table, Text, notes as note, warnings as warn
from ..core import params as P
from ..core.base import Estimator, ParamError
from ..core.covariates import Reported
from ..core.cs_gt import CONTROL_GROUPS, cell_specs
from .cells import fit_cells
from .heterogeneity import CateSettings, Heterogeneity, fit_heterogeneity
from .learners import LEARNERS
from .sample import MLSample, build_sample
from .scores import ScoreRows, project
from .within import within_scores

DESIGNS = ("cells", "within")


def _seeds(random_state, n: int) -> list[int]:
    """``n`` independent 31-bit seeds from ``random_state`` (SeedSequence children)."""
    children = np.random.SeedSequence(random_state).spawn(n)
    return [int(c.generate_state(1, dtype=np.uint32)[0] >> 1) for c in children]


def _score_aggregation(estimand: str, terms: list[str], proj_coef: np.ndarray,
                       influence: np.ndarray, n_treated: np.ndarray | None = None) -> Aggregation:
    """An :class:`Aggregation` of projection coefficients (influence rescaled to the
    ``IF' IF / n^2`` convention of the shared summaries)."""
    n = influence.shape[0]
    return Aggregation(estimand=estimand, terms=terms, estimates=np.asarray(proj_coef, float),
                       weights=np.zeros((len(terms), 0)), influence=influence * n,
                       n_treated=n_treated)


class _StaggeredML(Estimator):
    """Shared orchestration of ``dml`` and ``causal_forest`` (see their docstrings)."""

    paradigm = "ml"
    cate_kind: ClassVar[str] = "linear"
    params = {"control_group": P.Spec("choice", "comparison units: never treated, or not yet "
                                                "treated (as callaway_santanna)",
                                      choices=CONTROL_GROUPS),
              "design": P.Spec("choice", "cells: long-difference ATT(g,t) cells; within: the "
                                         "two-way demeaned partially linear model",
                               choices=DESIGNS),
              "covariates": P.COVARIATES, "effect_modifiers": P.EFFECT_MODIFIERS, "by": P.BY,
              "by_bins": P.BY_BINS,
              "outcome_model": P.Spec("choice", "learner of the control outcome change",
                                      choices=LEARNERS),
              "propensity_model": P.Spec("choice", "learner of the propensity score",
                                         choices=LEARNERS),
              "n_folds": P.Spec("int", "cross-fitting folds (grouped by cluster)", low=2),
              "mc_iters": P.Spec("int", "repetitions of the cross-fitting split", low=1),
              "cluster": P.CLUSTER,
              "min_cohort_size": P.Spec("int", "cohorts with fewer units are left out", low=1),
              "tree_depth": P.Spec("int", "depth of the CATE tree", low=1),
              "random_state": P.RANDOM_STATE,
              "n_jobs": P.Spec("int", "parallel jobs of the forests (-1: all cores)", low=-1),
              "interval_prob": P.INTERVAL_PROB}

    # ------------------------------------------------------------------ checks
    def _validate(self) -> None:
        if self.n_jobs == 0:
            raise ParamError(f"n_jobs: a positive integer or -1 (all cores), got {self.n_jobs!r}")

    def _check_panel(self, panel) -> None:
        if self.control_group == "never_treated" and not (panel.unit_table()[COHORT] == 0).any():
            raise ParamError("control_group: never_treated, but no unit is never treated; use "
                             "control_group: not_yet_treated")

    def _modifiers(self, panel) -> list[str]:
        return list(panel.traits if self.effect_modifiers is None else self.effect_modifiers)

    def _covariates(self, panel) -> list[str]:
        return list(panel.covariates if self.covariates is None else self.covariates)

    # ------------------------------------------------------------------ fit
    def _fit(self, panel) -> list[EffectResult]:
        seeds = _seeds(self.random_state, 3)
        sample = build_sample(
            panel, method=self.method, control_group=self.control_group,
            covariates=self._covariates(panel), modifiers=self._modifiers(panel),
            cluster=self.cluster or panel.cluster_col, by=self.by, by_bins=self.by_bins,
            min_cohort_size=self.min_cohort_size, n_folds=self.n_folds,
            rng=np.random.default_rng(seeds[0]), mc_iters=self.mc_iters)
        self.sample_ = sample
        self._n_obs = len(sample.frame)
        self._covariates_used = self._covariates(panel)
        self._cluster_col = self.cluster or panel.cluster_col
        notes = list(sample.notes)
        if self.design == "cells":
            out, scores = self._cell_results(sample, seeds[1], notes)
        else:
            out, scores = self._within_results(sample, seeds[1], notes)
        self.scores_ = scores
        if sample.modifiers.columns:
            out += self._heterogeneity_results(sample, scores, seeds[2], notes)
        return out

    def _info(self, sample: MLSample, notes: list[str]) -> Reported:
        settings = dict(design=self.design, control_group=self.control_group,
                        covariates=self._covariates_used,
                        effect_modifiers=sample.modifiers.traits,
                        outcome_model=self.outcome_model, propensity_model=self.propensity_model,
                        n_folds=int(self.n_folds), mc_iters=int(self.mc_iters),
                        n_units=int(len(sample.wide.units)), cluster=self._cluster_col,
                        cross_fitting=f"{self.n_folds} folds grouped by {self._cluster_col}: "
                                      f"no {self._cluster_col} is in both a training and an "
                                      "evaluation fold")
        return Reported(settings, warn(*sample.warnings) + note(*notes))

    def _result(self, agg: Aggregation, sample: MLSample, notes: list[str],
                parts: Sequence[Part] = (), tests=(), df: float | None = None) -> EffectResult:
        """An EffectResult of ``agg``. Without ``df`` (the ATT aggregations) the clustered
        influence is scaled by ``G / (G - 1)`` and read with t(G - 1), as fixest and grf do."""
        if df is None:
            g = sample.n_clusters
            df = max(g - 1, 1)
            if agg.influence is not None and g > 1:
                agg = replace(agg, influence=agg.influence * np.sqrt(g / (g - 1)))
        reported = self._info(sample, notes)
        return to_effect_result(agg, method=self.method, paradigm=self.paradigm,
                                n_obs=self._n_obs, interval_prob=self.interval_prob,
                                n_clusters=sample.n_clusters, clusters=sample.cluster_labels,
                                settings=reported.settings, messages=reported.messages,
                                parts=parts, tests=tests, df=df)

    def _cell_results(self, sample: MLSample, seed: int, notes: list[str]):
        specs = cell_specs(sample.wide, self.control_group, post_only=True)
        fit = fit_cells(sample.cells, specs, self.outcome_model, self.propensity_model,
                        _seeds(seed, len(specs)), self._jobs(), sample.levels)
        self.gt_, self.cells_, self.fold_log_ = fit.table, fit.cells, fit.fold_log
        notes += list(fit.notes)
        notes.append("long-difference cells Y_t - Y_(g-1) for t >= g against "
                     f"{self.control_group.replace('_', '-')} controls; post-treatment cells only")
        out = [self._result(aggregate(fit.cells, e), sample, notes)
               for e in ("ATT", "ATT_event", "ATT_cohort", "ATT_calendar")]
        if self.by:
            out.append(self._result(aggregate(fit.cells_by, f"ATT_by_{self.by}"), sample, notes))
        return out, fit.scores

    def _within_results(self, sample: MLSample, seed: int, notes: list[str]):
        scores, self.fold_log_ = within_scores(sample.wide, sample.folds, sample.n_folds,
                                               self.outcome_model, seed, self._jobs())
        notes.append("within design (two-way demeaned, partially linear DML): the TWFE "
                     "estimand, a variance-weighted average that also compares treated cities "
                     "with already-treated ones; shown for comparison, not the treated-cell ATT")
        ones = project(scores, np.ones((scores.n_units, 1)))
        treated = sample.wide.cohort > 0
        out = [self._result(_score_aggregation("ATT", ["overall"], ones.coef, ones.influence,
                                               np.array([treated.sum()])), sample, notes)]
        if self.by:
            levels = np.unique(sample.levels[scores.unit_weight() > 0])
            dummies = (sample.levels[:, None] == levels[None, :]).astype(float)
            proj = project(scores, dummies)
            counts = (dummies[treated] > 0).sum(axis=0)
            out.append(self._result(_score_aggregation(f"ATT_by_{self.by}", list(levels),
                                                       proj.coef, proj.influence, counts),
                                    sample, notes))
        return out, scores

    def _jobs(self) -> int:
        return 1 if self.n_jobs is None else int(self.n_jobs)

    # ------------------------------------------------------------------ heterogeneity
    def _cate_settings(self, seed: int) -> CateSettings:
        n_models = 1 + int(self.n_folds) + int(getattr(self, "n_seeds", 0))
        return CateSettings(kind=self.cate_kind, seeds=tuple(_seeds(seed, n_models)),
                            n_folds=int(self.n_folds), tree_depth=int(self.tree_depth),
                            n_jobs=self._jobs())

    def _heterogeneity_results(self, sample: MLSample, scores: ScoreRows, seed: int,
                               notes: list[str]) -> list[EffectResult]:
        explained = (scores.unit_weight() > 0) & (sample.wide.cohort > 0)
        het = fit_heterogeneity(scores, sample.modifiers, sample.folds[0], sample.cluster_labels,
                                explained, self._cate_settings(seed))
        self.cate_model_ = het.model
        self.heterogeneity_ = het
        notes += list(het.notes)
        if self.cate_kind == "forest" and sample.cluster_labels is not None:
            notes.append(f"CATE intervals (forest_blb) treat cities as independent; BLP, ATT "
                         f"and the calibration test are clustered by {self._cluster_col}")
        blp = _score_aggregation("BLP", het.modifiers.columns, het.blp.coef[1:],
                                 het.blp.robust_influence(sample.cluster_labels)[:, 1:])
        ref = Facts("blp", {"reference_levels": dict(het.modifiers.reference),
                            "intercept": float(het.blp.coef[0])})
        slopes = np.eye(len(het.blp.coef))[1:]
        df = max(pd.unique(sample.clusters[het.explained]).size - 1, 1)
        joint = wald_test("heterogeneity: all BLP slopes = 0", het.blp.coef,
                          het.blp.vcov(sample.cluster_labels), slopes, df_denom=df,
                          note="cluster-robust (CR3) Wald test of the best linear projection, "
                               "F with treated clusters - 1 denominator df")
        return [self._cate_result(sample, scores, het, notes, df),
                self._result(blp, sample, notes, parts=[ref], tests=(joint,), df=df)]

    def _cate_result(self, sample: MLSample, scores: ScoreRows, het: Heterogeneity,
                     notes: list[str], df: float) -> EffectResult:
        terms = [str(u) for u in sample.wide.units[het.explained]]
        parts = [Table("drivers", het.drivers), Text("cate_tree", str(het.tree)),
                 Table("unit_scores", self._unit_table(sample, scores, het))]
        if het.cate_influence is not None:
            agg = _score_aggregation("CATE", terms, het.cate, het.cate_influence)
            return self._result(agg, sample, notes, parts=parts, tests=het.tests, df=df)
        crit = stats.norm.ppf(0.5 + self.interval_prob / 2)
        se = het.cate_se
        with np.errstate(divide="ignore", invalid="ignore"):
            p_value = 2 * stats.norm.sf(np.abs(het.cate / se))
        table = pd.DataFrame({"term": terms, "estimate": het.cate, "std_error": se,
                              "lower": het.cate - crit * se, "upper": het.cate + crit * se,
                              "p_value": p_value, "prob_positive": np.nan})
        reported = self._info(sample, notes)
        return EffectResult(method=self.method, paradigm=self.paradigm, estimand="CATE",
                            table=table, n_obs=self._n_obs, interval_prob=self.interval_prob,
                            interval_kind="forest_blb", n_clusters=sample.n_clusters,
                            tests=het.tests, vcov=np.diag(se ** 2), messages=reported.messages,
                            parts=[Facts("settings", reported.settings), *parts])

    @staticmethod
    def _unit_table(sample: MLSample, scores: ScoreRows, het: Heterogeneity) -> pd.DataFrame:
        score, weight = scores.unit_scores()
        on = weight > 0
        cate = np.full(len(on), np.nan)
        cate[het.explained] = het.cate
        return pd.DataFrame({"unit": sample.wide.units[on], "cohort": sample.wide.cohort[on],
                             "dr_score": score[on], "weight": weight[on], "cate": cate[on],
                             "cate_heldout": het.heldout[on]})
