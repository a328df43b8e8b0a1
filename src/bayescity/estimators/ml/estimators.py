"""``dml`` and ``causal_forest``: machine learning of effect heterogeneity on the staggered panel.

Both form per-city-year pseudo-outcomes by one of three designs -- ``imputation`` (default:
unit-time effects of the BJS first stage on every untreated city-year, :mod:`.imputation`),
``long_difference`` (doubly robust long differences with cross-fitted nuisances, :mod:`.cells`)
or ``within`` (the two-way demeaned partially linear model, for comparison, :mod:`.within`) --,
aggregate their cell effects with the shared treated-cell weights, and model the heterogeneity
of each city's pseudo-outcome over the effect modifiers: linearly (``dml``) or with an honest
forest (``causal_forest``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
from ..core.base import Estimator, Fitted, ParamError
from ..core.covariates import Reported
from ..core.cs_gt import CONTROL_GROUPS, cell_specs
from .cells import fit_cells
from .folds import FoldLog
from .heterogeneity import CateSettings, Heterogeneity, fit_heterogeneity
from .imputation import (first_year_covariates, impute, imputation_cells, imputation_notes,
                         imputation_rows)
from .learners import LEARNERS
from .sample import MLSample, build_sample
from .scores import ScoreRows, project
from .within import within_scores

DESIGNS = ("imputation", "long_difference", "within")
ESTIMANDS = ("ATT", "ATT_event", "ATT_cohort", "ATT_calendar")


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


@dataclass(frozen=True, eq=False)
class _Run:
    """One fit's sample and what every result of it reports."""

    sample: MLSample
    n_obs: int
    covariates: tuple[str, ...]
    cluster_col: str


@dataclass(frozen=True, eq=False)
class MLState:
    """What a fit keeps: the sample (``sample_``), the per-city-year pseudo-outcomes
    (``scores_``), the cell effects (``gt_``, ``cells_``), the cross-fitting record
    (``fold_log_``), the imputation first stage (``imputed_``, imputation design) and the CATE
    model with its heterogeneity summaries (``cate_model_``, ``heterogeneity_``)."""

    sample: MLSample
    scores: ScoreRows
    gt: pd.DataFrame | None = None
    cells: object = None
    fold_log: FoldLog | None = None
    imputed: object = None
    cate_model: object = None
    heterogeneity: Heterogeneity | None = None


class _StaggeredML(Estimator):
    """Shared orchestration of ``dml`` and ``causal_forest`` (see their docstrings)."""

    paradigm = "ml"
    cate_kind: ClassVar[str] = "linear"
    params = {"control_group": P.Spec("choice", "comparison units: never treated, or not yet "
                                                "treated (as callaway_santanna)",
                                      choices=CONTROL_GROUPS),
              "design": P.Spec("choice", "imputation: BJS unit-time effects on every untreated "
                                         "city-year; long_difference: doubly robust ATT(g,t) "
                                         "cells with learned nuisances; within: the two-way "
                                         "demeaned partially linear model",
                               choices=DESIGNS),
              "covariates": P.COVARIATES, "effect_modifiers": P.EFFECT_MODIFIERS, "by": P.BY,
              "by_bins": P.BY_BINS,
              "outcome_model": P.Spec("choice", "learner of the control outcome change in "
                                                "long_difference and within (null: lasso); "
                                                "imputation takes null or linear only",
                                      choices=LEARNERS, none=True),
              "propensity_model": P.Spec("choice", "learner of the propensity score in "
                                                   "long_difference (null: lasso); imputation "
                                                   "takes null or linear only",
                                         choices=LEARNERS, none=True),
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
        if self.design == "imputation":
            for name in ("outcome_model", "propensity_model"):
                learner = getattr(self, name)
                if learner not in (None, "linear"):
                    raise ParamError(
                        f"{name}: {learner!r} is learned in design long_difference; the "
                        "imputation design (the default) fits Y(0) by city and year effects "
                        "and year-specific covariate slopes, linear in the outcome as its "
                        f"standard errors require -- set design: long_difference to use "
                        f"{learner}, or leave {name} out")

    def _check_panel(self, panel) -> None:
        if (self.design != "imputation" and self.control_group == "never_treated"
                and not (panel.unit_table()[COHORT] == 0).any()):
            raise ParamError("control_group: never_treated, but no unit is never treated; use "
                             "control_group: not_yet_treated")

    def _modifiers(self, panel) -> list[str]:
        return list(panel.traits if self.effect_modifiers is None else self.effect_modifiers)

    def _covariates(self, panel) -> list[str]:
        return list(panel.covariates if self.covariates is None else self.covariates)

    def _outcome_learner(self) -> str:
        """``outcome_model``, or the design's default: ``linear`` (BJS's first stage, no ML
        adjustment) for ``imputation``, ``lasso`` otherwise."""
        if self.outcome_model is not None:
            return self.outcome_model
        return "linear" if self.design == "imputation" else "lasso"

    def _propensity_learner(self) -> str | None:
        """``propensity_model``, or ``lasso``; None in the imputation design (no propensity)."""
        if self.design == "imputation":
            return None
        return "lasso" if self.propensity_model is None else self.propensity_model

    # ------------------------------------------------------------------ fit
    def _fit(self, panel) -> Fitted:
        seeds = _seeds(self.random_state, 3)
        control = "not_yet_treated" if self.design == "imputation" else self.control_group
        sample = build_sample(
            panel, method=self.method, control_group=control,
            covariates=self._covariates(panel), modifiers=self._modifiers(panel),
            cluster=self.cluster or panel.cluster_col, by=self.by, by_bins=self.by_bins,
            min_cohort_size=self.min_cohort_size, n_folds=self.n_folds,
            rng=np.random.default_rng(seeds[0]), mc_iters=self.mc_iters)
        run = _Run(sample, len(sample.frame), tuple(self._covariates(panel)),
                   self.cluster or panel.cluster_col)
        notes = list(sample.notes)
        design = {"imputation": self._imputation_results, "long_difference": self._cell_results,
                  "within": self._within_results}[self.design]
        out, scores, kept = design(run, seeds[1], notes)
        het = None
        if sample.modifiers.columns:
            more, het = self._heterogeneity_results(run, scores, seeds[2], notes)
            out += more
        state = MLState(sample=sample, scores=scores, gt=kept.get("gt"), cells=kept.get("cells"),
                        fold_log=kept.get("fold_log"), imputed=kept.get("imputed"),
                        cate_model=None if het is None else het.model, heterogeneity=het)
        return Fitted(tuple(out), state)

    def _info(self, run: _Run, notes: list[str]) -> Reported:
        sample = run.sample
        settings = dict(design=self.design, control_group=self.control_group,
                        covariates=run.covariates,
                        effect_modifiers=sample.modifiers.traits,
                        outcome_model=self._outcome_learner(),
                        propensity_model=self._propensity_learner(),
                        n_folds=int(self.n_folds), mc_iters=int(self.mc_iters),
                        n_units=int(len(sample.wide.units)), cluster=run.cluster_col,
                        cross_fitting=f"{self.n_folds} folds grouped by {run.cluster_col}: "
                                      f"no {run.cluster_col} is in both a training and an "
                                      "evaluation fold")
        return Reported(settings, warn(*sample.warnings) + note(*notes))

    def _result(self, agg: Aggregation, run: _Run, notes: list[str],
                parts: Sequence[Part] = (), tests=(), df: float | None = None) -> EffectResult:
        """An EffectResult of ``agg``. Without ``df`` (the ATT aggregations) the clustered
        influence is scaled by ``G / (G - 1)`` and read with t(G - 1), as fixest and grf do."""
        sample = run.sample
        if df is None:
            g = sample.n_clusters
            df = max(g - 1, 1)
            if agg.influence is not None and g > 1:
                agg = replace(agg, influence=agg.influence * np.sqrt(g / (g - 1)))
        reported = self._info(run, notes)
        return to_effect_result(agg, method=self.method, paradigm=self.paradigm,
                                n_obs=run.n_obs, interval_prob=self.interval_prob,
                                n_clusters=sample.n_clusters, clusters=sample.cluster_labels,
                                settings=reported.settings, messages=reported.messages,
                                parts=parts, tests=tests, df=df)

    def _cell_results(self, run: _Run, seed: int, notes: list[str]):
        sample = run.sample
        specs = cell_specs(sample.wide, self.control_group, post_only=True)
        fit = fit_cells(sample.cells, specs, self._outcome_learner(), self._propensity_learner(),
                        _seeds(seed, len(specs)), self._jobs(), sample.levels)
        notes += list(fit.notes)
        notes.append("long-difference design: cells Y_t - Y_(g-1) for t >= g against "
                     f"{self.control_group.replace('_', '-')} controls (one base year per cell, "
                     "doubly robust scores); post-treatment cells only")
        out = [self._result(aggregate(fit.cells, e), run, notes) for e in ESTIMANDS]
        if self.by:
            out.append(self._result(aggregate(fit.cells_by, f"ATT_by_{self.by}"), run, notes))
        return out, fit.scores, dict(gt=fit.table, cells=fit.cells, fold_log=fit.fold_log)

    def _imputation_results(self, run: _Run, seed: int, notes: list[str]):
        sample = run.sample
        wide = sample.wide
        imp = impute(wide, first_year_covariates(wide))
        # no nuisance is learned: an empty record (the CATE model's folds are checked apart)
        fold_log = FoldLog(len(wide.units), sample.folds.shape[0] * sample.n_folds)
        gt, cells = imputation_cells(imp, wide)
        notes += [*imp.notes, *imputation_notes(imp, list(run.covariates), run.cluster_col)]
        df = max(sample.n_clusters - 1, 1)
        out = [self._result(aggregate(cells, e), run, notes, df=df) for e in ESTIMANDS]
        if self.by:
            _, cells_by = imputation_cells(imp, wide, sample.levels)
            out.append(self._result(aggregate(cells_by, f"ATT_by_{self.by}"), run, notes,
                                    df=df))
        return out, imputation_rows(imp), dict(gt=gt, cells=cells, fold_log=fold_log,
                                               imputed=imp)

    def _within_results(self, run: _Run, seed: int, notes: list[str]):
        sample = run.sample
        scores, fold_log = within_scores(sample.wide, sample.folds, sample.n_folds,
                                         self._outcome_learner(), seed, self._jobs())
        notes.append("within design (two-way demeaned, partially linear DML): the TWFE "
                     "estimand, a variance-weighted average that also compares treated cities "
                     "with already-treated ones; shown for comparison, not the treated-cell ATT")
        ones = project(scores, np.ones((scores.n_units, 1)))
        treated = sample.wide.cohort > 0
        out = [self._result(_score_aggregation("ATT", ["overall"], ones.coef, ones.influence,
                                               np.array([treated.sum()])), run, notes)]
        if self.by:
            levels = np.unique(sample.levels[scores.unit_weight() > 0])
            dummies = (sample.levels[:, None] == levels[None, :]).astype(float)
            proj = project(scores, dummies)
            counts = (dummies[treated] > 0).sum(axis=0)
            out.append(self._result(_score_aggregation(f"ATT_by_{self.by}", list(levels),
                                                       proj.coef, proj.influence, counts),
                                    run, notes))
        return out, scores, dict(fold_log=fold_log)

    def _jobs(self) -> int:
        return 1 if self.n_jobs is None else int(self.n_jobs)

    # ------------------------------------------------------------------ heterogeneity
    def _cate_settings(self, seed: int) -> CateSettings:
        n_models = 1 + int(self.n_folds) + int(getattr(self, "n_seeds", 0))
        return CateSettings(kind=self.cate_kind, seeds=tuple(_seeds(seed, n_models)),
                            n_folds=int(self.n_folds), tree_depth=int(self.tree_depth),
                            n_jobs=self._jobs())

    def _heterogeneity_results(self, run: _Run, scores: ScoreRows, seed: int,
                               notes: list[str]) -> tuple[list[EffectResult], Heterogeneity]:
        sample = run.sample
        explained = (scores.unit_weight() > 0) & (sample.wide.cohort > 0)
        het = fit_heterogeneity(scores, sample.modifiers, sample.folds[0], sample.cluster_labels,
                                explained, self._cate_settings(seed))
        notes += list(het.notes)
        if self.cate_kind == "forest" and sample.cluster_labels is not None:
            notes.append(f"CATE intervals (forest_blb) treat cities as independent; BLP, ATT "
                         f"and the calibration test are clustered by {run.cluster_col}")
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
        return [self._cate_result(run, scores, het, notes, df),
                self._result(blp, run, notes, parts=[ref], tests=(joint,), df=df)], het

    def _cate_result(self, run: _Run, scores: ScoreRows, het: Heterogeneity,
                     notes: list[str], df: float) -> EffectResult:
        sample = run.sample
        terms = [str(u) for u in sample.wide.units[het.explained]]
        parts = [Table("drivers", het.drivers), Text("cate_tree", str(het.tree)),
                 Table("unit_scores", self._unit_table(sample, scores, het))]
        if het.cate_influence is not None:
            agg = _score_aggregation("CATE", terms, het.cate, het.cate_influence)
            return self._result(agg, run, notes, parts=parts, tests=het.tests, df=df)
        crit = stats.norm.ppf(0.5 + self.interval_prob / 2)
        se = het.cate_se
        with np.errstate(divide="ignore", invalid="ignore"):
            p_value = 2 * stats.norm.sf(np.abs(het.cate / se))
        table = pd.DataFrame({"term": terms, "estimate": het.cate, "std_error": se,
                              "lower": het.cate - crit * se, "upper": het.cate + crit * se,
                              "p_value": p_value, "prob_positive": np.nan})
        reported = self._info(run, notes)
        return EffectResult(method=self.method, paradigm=self.paradigm, estimand="CATE",
                            table=table, n_obs=run.n_obs, interval_prob=self.interval_prob,
                            interval_kind="forest_blb", n_clusters=sample.n_clusters,
                            tests=het.tests, vcov=np.diag(se ** 2), messages=reported.messages,
                            parts=[Facts("settings", reported.settings), *parts])

    @staticmethod
    def _unit_table(sample: MLSample, scores: ScoreRows, het: Heterogeneity) -> pd.DataFrame:
        """Per scored unit: ``unit_effect`` (its pseudo-outcome averaged over its post periods:
        mean imputed ``tau_it``, or doubly robust effect), its weight, CATE and held-out CATE."""
        score, weight = scores.unit_scores()
        on = weight > 0
        cate = np.full(len(on), np.nan)
        cate[het.explained] = het.cate
        return pd.DataFrame({"unit": sample.wide.units[on], "cohort": sample.wide.cohort[on],
                             "unit_effect": score[on], "weight": weight[on], "cate": cate[on],
                             "cate_heldout": het.heldout[on]})

