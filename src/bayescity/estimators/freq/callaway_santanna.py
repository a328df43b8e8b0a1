"""Callaway & Sant'Anna (2021) staggered DID with the shared treated-cell aggregation."""

from __future__ import annotations

import re
from typing import Iterator, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ...constants import INTERVAL_PROB
from ...data.panel import COHORT, Panel
from ...estimands.aggregate import (Aggregation, CellEffects, aggregate, influence_vcov,
                                    second_stage_overall)
from ...estimands.bootstrap import MULTIPLIERS, draw_multipliers, multiplier_bootstrap
from ...estimands.summarize import PRETREND_WINDOW, to_effect_result
from ...progress import track
from ...results.effect import EffectResult, wald_test
from ..core.base import ParamError, resolve_by
from ..core.checks import check_bool, check_int, check_window
from ..core.cohorts import (drop_small_cohorts, one_unit_cohort_note, one_unit_cohorts,
                            prepare_sample, small_cohort_note, unit_values)
from ..core.covariates import covariate_note, sentences
from ..core.cs_drdid import EST_METHODS
from ..core.cs_gt import CONTROL_GROUPS, WidePanel, att_gt, cell_effects, to_wide
from ..registry import register
from .common import FreqEstimator

#: Interval kinds of the multiplier bootstrap.
BANDS = ("uniform", "pointwise")


def gt_cells(wide: WidePanel, control_group: str, est_method: str,
             levels: np.ndarray | None = None) -> tuple[pd.DataFrame, CellEffects]:
    """ATT(g,t) table and CellEffects, within each trait level when ``levels`` (per unit) given."""
    if levels is None:
        table, inf = att_gt(wide, control_group=control_group, est_method=est_method)
    else:
        parts = [att_gt(wide, control_group=control_group, est_method=est_method,
                        unit_mask=levels == lv) for lv in np.unique(levels)]
        table = pd.concat([p[0].assign(level=str(lv)) for p, lv in zip(parts, np.unique(levels))],
                          ignore_index=True)
        inf = np.hstack([p[1] for p in parts])
    return table, cell_effects(table, inf, wide.cohort, levels)


def gt_pretest(cells: CellEffects, vcov: np.ndarray):
    """R ``did``'s pre-test: all pre-treatment ATT(g,t) are zero (joint Wald, chi-square).

    Cells of cohorts with a single treated unit are left out: their influence function carries
    no treated-side variance, so they would inflate the statistic without bound.
    """
    rel = cells.cells["rel_time"].to_numpy()
    single = cells.cells["weight"].to_numpy() < 2
    pre = np.flatnonzero((rel < 0) & (np.diag(vcov) > 0) & ~single)
    if pre.size == 0:
        return None
    R = np.zeros((pre.size, len(cells.estimates)))
    R[np.arange(pre.size), pre] = 1.0
    n_single = int(((rel < 0) & single).sum())
    note = "did's att_gt pre-test"
    if n_single:
        note += f"; {n_single} cells of single-unit cohorts left out"
    return wald_test("pre-trends: all ATT(g,t) = 0 for t < g", cells.estimates, vcov, R, note=note)


@register("callaway_santanna")
class CallawaySantAnna(FreqEstimator):
    """Callaway & Sant'Anna (2021, J. Econometrics 225(2)) group-time ATTs, aggregated.

    ATT(g,t) are 2x2 DIDs of cohort ``g`` against ``never_treated`` or ``not_yet_treated``
    controls between ``t`` and a varying base period, by outcome regression (``"reg"``),
    normalised IPW (``"ipw"``, Abadie 2005) or the doubly robust estimator of Sant'Anna & Zhao
    (2020; ``"dr"``), with base-period ``covariates`` (None: the panel's). They are aggregated
    by :func:`bayescity.estimands.aggregate` into ``ATT``, ``ATT_event`` (pre and post event
    times within ``event_window``), ``ATT_cohort``, ``ATT_calendar`` and, with ``by=<trait>``,
    ``ATT_by_<trait>`` from ATT(g,t) estimated within each level's subsample. Anticipation is 0.

    Inference: influence-function standard errors clustered by the panel's cluster column (the
    unit unless set) or by ``cluster`` (constant within units; influence functions are summed
    within clusters), with normal intervals (``"wald_if"``); or, with
    ``bootstrap=True``, the multiplier bootstrap (``n_boot`` Mammen or Rademacher draws seeded by
    ``random_state``) with ``bands="uniform"`` (sup-t) or ``"pointwise"`` intervals. The
    ``ATT_event`` result carries the joint Wald test that ATT(e) = 0 for the leads in
    ``pretrend_window`` (default e = -5..-1; None tests every lead, which over-rejects when a few
    late-treated units alone identify the long leads), and R ``did``'s pre-test of all
    pre-period ATT(g,t) in ``info["did_gt_pretest"]`` for comparison; the second-stage overall numbers
    of R ``did::aggte`` (group, dynamic, calendar) sit in the ``info["overall"]`` of
    ``ATT_cohort``, ``ATT_event`` and ``ATT_calendar``. ``gt_`` is the ATT(g,t) table and
    ``cells_`` its :class:`~bayescity.estimands.aggregate.CellEffects`. Every cohort counts, as
    in R ``did``; a cohort of one unit (e.g. Shenzhen alone in 2008) is noted on the results,
    and its terms carry ``n_treated`` 1: its ATT(g,t) have no treated-side variance and its
    propensity score is often not identified. ``min_cohort_size: 2`` leaves such cohorts out.

    Defaults follow R ``did::att_gt`` (never-treated controls, doubly robust, varying base
    period, no anticipation, every cohort) with two differences that the results say in their
    notes: ``covariates`` default to the panel's covariates (R: none, ``xformla = ~1``), and
    intervals are analytic and pointwise unless ``bootstrap`` (R: a multiplier bootstrap with
    uniform bands).
    """

    param_choices = {"control_group": CONTROL_GROUPS, "est_method": tuple(EST_METHODS),
                     "bands": BANDS, "multiplier": MULTIPLIERS}
    cluster_within_units = True

    def __init__(self, control_group: str = "never_treated", est_method: str = "dr",
                 covariates: Sequence[str] | None = None, cluster: str | None = None,
                 bootstrap: bool = False, n_boot: int = 1000, bands: str = "uniform",
                 multiplier: str = "mammen", random_state=None, by: str | None = None,
                 event_window: tuple[int, int] | None = None,
                 pretrend_window: tuple[int, int] | None = PRETREND_WINDOW,
                 min_cohort_size: int = 1, interval_prob: float = INTERVAL_PROB,
                 by_bins: str | int | None = None):
        self.by_bins = by_bins
        self.pretrend_window = pretrend_window
        self.min_cohort_size = min_cohort_size
        self.control_group = control_group
        self.est_method = est_method
        self.covariates = covariates
        self.cluster = cluster
        self.bootstrap = bootstrap
        self.n_boot = n_boot
        self.bands = bands
        self.multiplier = multiplier
        self.random_state = random_state
        self.by = by
        self.event_window = event_window
        self.interval_prob = interval_prob

    def _validate(self) -> None:
        super()._validate()
        check_bool("bootstrap", self.bootstrap)
        check_int("n_boot", self.n_boot, minimum=2)
        check_int("min_cohort_size", self.min_cohort_size, minimum=1)
        check_window("event_window", self.event_window)
        check_window("pretrend_window", self.pretrend_window, leads_only=True)

    def check_panel(self, panel: Panel) -> None:
        super().check_panel(panel)
        if self.control_group == "never_treated" and not (panel.frame[COHORT] == 0).any():
            raise ParamError("control_group: the panel has no never-treated units; use "
                             "control_group: not_yet_treated")
        covs = self._covariates(panel)
        if self.est_method != "reg" and covs and self.min_cohort_size < 2 \
                and self._has_single_unit_cohorts(panel):
            self._check_single_unit_cohorts(resolve_by(panel, self.by, self.by_bins), covs)

    def _has_single_unit_cohorts(self, panel: Panel) -> bool:
        """Whether some cohort (within some level of ``by``) has one unit."""
        units = panel.unit_table()
        treated = units.loc[units[COHORT] > 0]
        sizes = treated.groupby([COHORT] + ([self.by] if self.by else []))[panel.unit].size()
        return bool(((sizes == 1).any() or (treated[COHORT].value_counts() == 1).any()))

    def _check_single_unit_cohorts(self, panel: Panel, covs: list[str]) -> None:
        """Refuse covariates that separate a one-unit cohort from its controls: its propensity
        score (``ipw``/``dr``) does not exist, and the fit would stop midway."""
        frame, _, _ = prepare_sample(panel, self.control_group)
        frame, _ = drop_small_cohorts(frame, panel.unit, int(self.min_cohort_size))
        wide = to_wide(frame, unit=panel.unit, time=panel.time, outcome=panel.outcome,
                       cohort=COHORT, covariates=covs)
        masks = [np.ones(len(wide.units), dtype=bool)]
        if self.by:
            levels = unit_values(frame, panel.unit, self.by, wide.units).astype(str)
            masks += [levels == lv for lv in np.unique(levels)]
        for mask in masks:
            g, n = np.unique(wide.cohort[mask & (wide.cohort > 0)], return_counts=True)
            try:
                att_gt(wide, control_group=self.control_group, est_method=self.est_method,
                       unit_mask=mask, cohorts=g[n == 1])
            except ValueError as exc:
                cohort = re.search(r"for cohort (\d+)", str(exc))
                which = f"cohort {cohort.group(1)}" if cohort else "a cohort"
                raise ParamError(
                    f"covariates: {covs} separate {which}, which has one unit"
                    f"{' within a level of ' + repr(self.by) if self.by else ''}, from its "
                    f"controls, so its propensity score (est_method: {self.est_method}) does "
                    "not exist; set min_cohort_size: 2 to leave one-unit cohorts out, "
                    "est_method: reg, or fewer covariates") from None

    def _fit(self, panel: Panel) -> list[EffectResult]:
        panel = self._panel(panel)
        frame, notes, warnings = prepare_sample(panel, self.control_group)
        frame, small = drop_small_cohorts(frame, panel.unit, int(self.min_cohort_size))
        notes += sentences(small_cohort_note(small, self.min_cohort_size))
        covs = self._covariates(panel)
        wide = to_wide(frame, unit=panel.unit, time=panel.time, outcome=panel.outcome,
                       cohort=COHORT, covariates=covs)
        singles = one_unit_cohorts(wide.cohort)
        warnings += sentences(one_unit_cohort_note(singles))
        notes += sentences(self._covariate_note(covs))
        self.clusters_ = unit_values(frame, panel.unit, self.cluster or panel.cluster_col,
                                     wide.units)
        self._n_obs = len(frame)
        self._multipliers = self._draw_multipliers()
        table, self.cells_ = gt_cells(wide, self.control_group, self.est_method)
        self.gt_ = self._gt_table(table, self.cells_)
        self._info = dict(control_group=self.control_group, est_method=self.est_method,
                          covariates=covs, covariates_used=covs, covariates_dropped={},
                          base_period="varying", anticipation=0,
                          n_units=len(wide.units), notes=tuple(notes),
                          warnings=tuple(warnings),
                          one_unit_cohorts=singles)
        results = self._aggregates(frame, panel, wide)
        if self.bootstrap:
            results = track(results, f"multiplier bootstrap ({self.n_boot} draws): estimands",
                            total=4 + bool(self.by))
        return list(results)

    def _aggregates(self, frame: pd.DataFrame, panel: Panel, wide: WidePanel
                    ) -> Iterator[EffectResult]:
        """The results of every estimand, one after another (each bootstrapped when asked)."""
        yield self._result(aggregate(self.cells_, "ATT"))
        yield self._event_result()
        for estimand in ("ATT_cohort", "ATT_calendar"):
            yield self._result(aggregate(self.cells_, estimand),
                               overall=second_stage_overall(self.cells_, estimand))
        if self.by:
            yield self._by_result(frame, panel, wide)

    def _covariate_note(self, covs: list[str]) -> str | None:
        """Which covariates enter (all of them, at the base period); R's default uses none."""
        note = covariate_note(covs, {}, self.covariates is None, where=" (at the base period)")
        if note and self.covariates is None:
            note += "; R did's default (xformla = ~1) uses none: covariates: [] reproduces it"
        return note

    def _draw_multipliers(self) -> np.ndarray | None:
        if not self.bootstrap:
            return None
        rng = np.random.default_rng(self.random_state)
        return draw_multipliers(rng, self.n_boot, pd.unique(self.clusters_).size, self.multiplier)

    def _event_result(self) -> EffectResult:
        window = None if self.event_window is None else tuple(self.event_window)
        agg = aggregate(self.cells_, "ATT_event", post_only=False, event_window=window)
        overall = second_stage_overall(self.cells_, "ATT_event", event_window=window)
        pretest = gt_pretest(self.cells_, self._gt_vcov())
        extra = {} if pretest is None else {"did_gt_pretest": {**pretest.__dict__, "caution": (
            "R did's test of all pre-period ATT(g,t); it over-rejects when few treated units "
            "identify many pre-periods (81% at 5% in the slow study with no pre-trend)")}}
        return self._result(agg, overall=overall, extra_info=extra)

    def _gt_vcov(self) -> np.ndarray:
        """Covariance of the ATT(g,t) in ``cells_`` (influence functions, clustered)."""
        return influence_vcov(self.cells_.influence, self._cluster_labels())

    def _by_result(self, frame: pd.DataFrame, panel: Panel, wide: WidePanel) -> EffectResult:
        levels = unit_values(frame, panel.unit, self.by, wide.units).astype(str)
        table, self.cells_by_ = gt_cells(wide, self.control_group, self.est_method, levels)
        self.gt_by_ = self._gt_table(table, self.cells_by_)
        return self._result(aggregate(self.cells_by_, f"ATT_by_{self.by}"))

    def _cluster_labels(self) -> np.ndarray | None:
        """Cluster labels per unit, or None when every unit is its own cluster."""
        return None if pd.unique(self.clusters_).size == len(self.clusters_) else self.clusters_

    def _inference(self, influence: np.ndarray):
        """The multiplier bootstrap of terms with ``influence`` (None without bootstrap)."""
        if self._multipliers is None:
            return None
        return multiplier_bootstrap(influence, self._multipliers, clusters=self.clusters_,
                                    bands=self.bands, interval_prob=self.interval_prob,
                                    multiplier=self.multiplier)

    def _result(self, agg: Aggregation, overall: Aggregation | None = None,
                extra_info: dict | None = None) -> EffectResult:
        info = {**self._info, **(extra_info or {})}
        if overall is not None:
            info["overall"] = self._overall_summary(overall)
        if len(agg.terms) > 1 and not self.bootstrap:
            info["notes"] = (*info["notes"], "pointwise intervals from analytic standard errors; "
                             "R did's default is a multiplier bootstrap with simultaneous "
                             "(uniform) bands: set bootstrap: true for them")
        return to_effect_result(agg, method=self.method, paradigm=self.paradigm, n_obs=self._n_obs,
                                interval_prob=self.interval_prob,
                                n_clusters=int(pd.unique(self.clusters_).size),
                                info=info, clusters=self._cluster_labels(),
                                bootstrap=self._inference(agg.influence),
                                pretrend_window=None if self.pretrend_window is None
                                else tuple(self.pretrend_window))

    def _overall_summary(self, overall: Aggregation) -> dict:
        """Estimate and standard error of a second-stage overall (R ``did::aggte``'s overall)."""
        boot = self._inference(overall.influence)
        se = float(np.sqrt(overall.vcov(self._cluster_labels())[0, 0])) if boot is None \
            else float(boot.std_error[0])
        return {"estimate": float(overall.estimates[0]), "std_error": se}

    def _gt_table(self, table: pd.DataFrame, cells: CellEffects) -> pd.DataFrame:
        """The ATT(g,t) table with standard errors and intervals of the chosen inference."""
        table = table.copy()
        boot = self._inference(cells.influence)
        if boot is None:
            se = np.sqrt(np.diag(influence_vcov(cells.influence, self._cluster_labels())))
            crit = stats.norm.ppf(0.5 + self.interval_prob / 2)
        else:
            se, crit = boot.std_error, boot.crit
        ok = ~table["skipped"].to_numpy()
        table["std_error"] = np.nan
        table.loc[ok, "std_error"] = se
        table["lower"] = table["att"] - crit * table["std_error"]
        table["upper"] = table["att"] + crit * table["std_error"]
        return table
