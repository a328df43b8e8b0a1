"""Callaway & Sant'Anna (2021) staggered DID with the shared treated-cell aggregation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator, Sequence

import numpy as np
import pandas as pd
from scipy import special
from threadpoolctl import ThreadpoolController

from ...constants import INTERVAL_PROB
from ...data.panel import COHORT, Panel
from ...estimands.aggregate import Aggregation, CellEffects, aggregate, post_terms, second_stage_of
from ...estimands.bootstrap import MULTIPLIERS, draw_multipliers, multiplier_bootstrap
from ...estimands.summarize import PRETREND_WINDOW, to_effect_result
from ...progress import track
from ...results.effect import EffectResult
from ...results.parts import Facts, Message, Table, notes, warnings
from ..core import params as P
from ..core.base import Fitted, ParamError, resolve_by
from ..core.checks import check_window
from ..core.cohorts import (drop_small_cohorts, one_unit_cohort_note, one_unit_cohorts,
                            prepare_sample, small_cohort_note, unit_values)
from ..core.covariates import covariate_note, sentences
from ..core.cs_drdid import EST_METHODS
from ..core.cs_gt import (CONTROL_GROUPS, CellVariance, WidePanel, att_gt, cell_effects,
                          cells_pretest, to_wide)
from ..core.cs_gt import gt_pretest  # noqa: F401 - R did's pre-test, public here before
from ..registry import register
from .common import FreqEstimator

#: Interval kinds of the multiplier bootstrap.
BANDS = ("uniform", "pointwise")


@lru_cache(maxsize=1)
def _threadpools() -> ThreadpoolController:
    """The BLAS thread pools of the process (found once)."""
    return ThreadpoolController()


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


@dataclass(frozen=True, eq=False)
class _Run:
    """One fit's sample and what every result of it shares."""

    panel: Panel
    frame: pd.DataFrame
    wide: WidePanel
    clusters: np.ndarray
    multipliers: np.ndarray | None
    n_obs: int
    settings: dict
    messages: tuple[Message, ...]
    #: Cluster labels per unit, or None when every unit is its own cluster.
    cluster_labels: np.ndarray | None = None
    n_clusters: int = 0

    @classmethod
    def of(cls, panel: Panel, frame: pd.DataFrame, wide: WidePanel, clusters: np.ndarray,
           multipliers: np.ndarray | None, settings: dict,
           messages: tuple[Message, ...]) -> "_Run":
        n_clusters = int(pd.unique(clusters).size)
        labels = None if n_clusters == len(clusters) else clusters
        return cls(panel, frame, wide, clusters, multipliers, len(frame), settings, messages,
                   labels, n_clusters)


def estimation_sample(panel: Panel, control_group: str
                      ) -> tuple[pd.DataFrame, list[str], list[str]]:
    """:func:`~bayescity.estimators.core.cohorts.prepare_sample`, which a balanced panel with
    never-treated units and no first-period adopters passes unchanged: such a panel is taken
    as it is, without the per-unit checks."""
    frame = panel.data
    cohort, time = frame[COHORT].to_numpy(), frame[panel.time].to_numpy()
    n_units = pd.unique(frame[panel.unit].to_numpy()).size
    if len(time) == n_units * pd.unique(time).size and (cohort == 0).any() \
            and not ((cohort > 0) & (cohort <= time.min())).any():
        return frame.reset_index(drop=True), [], []
    return prepare_sample(panel, control_group)


@dataclass(frozen=True, eq=False)
class CSState:
    """What a fit keeps: the ATT(g,t) table (``gt_``) with its cell effects and influence
    functions (``cells_``), the cluster of each unit (``clusters_``) and, with ``by``, the same
    per level (``gt_by_``, ``cells_by_``)."""

    gt: pd.DataFrame
    cells: CellEffects
    clusters: np.ndarray
    gt_by: pd.DataFrame | None = None
    cells_by: CellEffects | None = None


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
    pre-period ATT(g,t) as its ``did_gt_pretest`` setting (``result.facts()``) for comparison;
    the second-stage overall numbers of R ``did::aggte`` (group, dynamic, calendar) are the
    ``overall`` part (``result.facts("overall")``) of ``ATT_cohort``, ``ATT_event`` and
    ``ATT_calendar``. ``gt_`` is the ATT(g,t) table and
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

    params = {"control_group": P.Spec("choice", "comparison units: never treated, or not yet "
                                                "treated (R did's control_group)",
                                      choices=CONTROL_GROUPS),
              "est_method": P.Spec("choice", "ATT(g,t) estimator: outcome regression (reg), "
                                             "inverse probability weighting (ipw) or doubly "
                                             "robust (dr)", choices=tuple(EST_METHODS)),
              "covariates": P.COVARIATES, "cluster": P.CLUSTER,
              "bootstrap": P.Spec("bool", "multiplier bootstrap inference (R did's default) "
                                          "instead of analytic standard errors"),
              "n_boot": P.Spec("int", "bootstrap draws", low=2),
              "bands": P.Spec("choice", "bootstrap bands: simultaneous (uniform) or pointwise",
                              choices=BANDS),
              "multiplier": P.Spec("choice", "multiplier bootstrap weights",
                                   choices=MULTIPLIERS),
              "random_state": P.RANDOM_STATE, "by": P.BY,
              "event_window": P.Spec("window", "event times reported [first, last]; null: all",
                                     none=True),
              "pretrend_window": P.Spec("window", "leads tested jointly for pre-trends "
                                                  "[first, last]; null: every lead", none=True),
              "min_cohort_size": P.Spec("int", "cohorts with fewer units are left out (R did: "
                                               "1, every cohort)", low=1),
              "interval_prob": P.INTERVAL_PROB, "by_bins": P.BY_BINS}
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
        check_window("pretrend_window", self.pretrend_window, leads_only=True)

    def _check_panel(self, panel: Panel) -> None:
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

    def _fit(self, panel: Panel) -> Fitted:
        # The products here (units x cells) are too small for BLAS threads to pay: on a busy
        # machine their spinning made a 3,000-unit fit 15 times slower. One thread, same numbers.
        with _threadpools().limit(limits=1, user_api="blas"):
            return self._fit_cells(panel)

    def _fit_cells(self, panel: Panel) -> Fitted:
        run = self._prepare(self._panel(panel))
        table, cells = gt_cells(run.wide, self.control_group, self.est_method)
        variance = CellVariance.of(cells, run.cluster_labels)
        gt_by = cells_by = None
        if self.by:
            levels = unit_values(run.frame, run.panel.unit, self.by, run.wide.units).astype(str)
            table_by, cells_by = gt_cells(run.wide, self.control_group, self.est_method, levels)
            gt_by = self._gt_table(run, table_by, cells_by)
        gt = self._gt_table(run, table, cells, variance)
        results = self._aggregates(run, cells, cells_by, variance, gt)
        if self.bootstrap:
            results = track(results, f"multiplier bootstrap ({self.n_boot} draws): estimands",
                            total=4 + bool(self.by))
        state = CSState(gt=gt, cells=cells, clusters=run.clusters, gt_by=gt_by,
                        cells_by=cells_by)
        return Fitted(tuple(results), state)

    def _prepare(self, panel: Panel) -> _Run:
        """The estimation sample, its wide form, clusters, bootstrap multipliers and what
        every result of the fit reports."""
        frame, noted, warned = estimation_sample(panel, self.control_group)
        if self.min_cohort_size > 1:  # every cohort has at least one unit
            frame, small = drop_small_cohorts(frame, panel.unit, int(self.min_cohort_size))
            noted += sentences(small_cohort_note(small, self.min_cohort_size))
        covs = self._covariates(panel)
        wide = to_wide(frame, unit=panel.unit, time=panel.time, outcome=panel.outcome,
                       cohort=COHORT, covariates=covs)
        singles = one_unit_cohorts(wide.cohort)
        warned += sentences(one_unit_cohort_note(singles))
        noted += sentences(self._covariate_note(covs))
        column = self.cluster or panel.cluster_col
        clusters = wide.units.copy() if column == panel.unit \
            else unit_values(frame, panel.unit, column, wide.units)
        settings = dict(control_group=self.control_group, est_method=self.est_method,
                        covariates=covs, covariates_used=covs, covariates_dropped={},
                        base_period="varying", anticipation=0, n_units=len(wide.units),
                        one_unit_cohorts=singles)
        return _Run.of(panel, frame, wide, clusters, self._draw_multipliers(clusters), settings,
                       warnings(*warned) + notes(*noted))

    def _aggregates(self, run: _Run, cells: CellEffects, cells_by: CellEffects | None,
                    variance: CellVariance, gt: pd.DataFrame) -> Iterator[EffectResult]:
        """The results of every estimand, one after another (each bootstrapped when asked);
        ``ATT_cohort`` carries the ATT(g,t) table (``att_gt`` part)."""
        yield self._result(run, aggregate(cells, "ATT"))
        yield self._event_result(run, cells, variance)
        for estimand in ("ATT_cohort", "ATT_calendar"):
            agg = aggregate(cells, estimand)
            extra = [Table("att_gt", gt)] if estimand == "ATT_cohort" else []
            yield self._result(run, agg, overall=second_stage_of(cells, agg), parts=extra)
        if cells_by is not None:
            yield self._result(run, aggregate(cells_by, f"ATT_by_{self.by}"))

    def _covariate_note(self, covs: list[str]) -> str | None:
        """Which covariates enter (all of them, at the base period); R's default uses none."""
        note = covariate_note(covs, {}, self.covariates is None, where=" (at the base period)")
        if note and self.covariates is None:
            note += "; R did's default (xformla = ~1) uses none: covariates: [] reproduces it"
        return note

    def _draw_multipliers(self, clusters: np.ndarray) -> np.ndarray | None:
        if not self.bootstrap:
            return None
        rng = np.random.default_rng(self.random_state)
        return draw_multipliers(rng, self.n_boot, pd.unique(clusters).size, self.multiplier)

    def _event_result(self, run: _Run, cells: CellEffects,
                      variance: CellVariance) -> EffectResult:
        window = None if self.event_window is None else tuple(self.event_window)
        agg = aggregate(cells, "ATT_event", post_only=False, event_window=window)
        overall = second_stage_of(cells, post_terms(agg))
        pretest = cells_pretest(cells, variance)
        extra = {} if pretest is None else {"did_gt_pretest": {**pretest.__dict__, "caution": (
            "R did's test of all pre-period ATT(g,t); it over-rejects when few treated units "
            "identify many pre-periods (81% at 5% in the slow study with no pre-trend)")}}
        return self._result(run, agg, overall=overall, extra_info=extra)

    def _inference(self, run: _Run, influence: np.ndarray):
        """The multiplier bootstrap of terms with ``influence`` (None without bootstrap)."""
        if run.multipliers is None:
            return None
        return multiplier_bootstrap(influence, run.multipliers, clusters=run.clusters,
                                    bands=self.bands, interval_prob=self.interval_prob,
                                    multiplier=self.multiplier)

    def _result(self, run: _Run, agg: Aggregation, overall: Aggregation | None = None,
                extra_info: dict | None = None, parts: list | None = None) -> EffectResult:
        info = {**run.settings, **(extra_info or {})}
        parts = list(parts or []) + ([] if overall is None else
                                     [Facts("overall", self._overall_summary(run, overall))])
        messages = run.messages
        if len(agg.terms) > 1 and not self.bootstrap:
            messages += notes("pointwise intervals from analytic standard errors; R did's "
                              "default is a multiplier bootstrap with simultaneous (uniform) "
                              "bands: set bootstrap: true for them")
        return to_effect_result(agg, method=self.method, paradigm=self.paradigm,
                                n_obs=run.n_obs, interval_prob=self.interval_prob,
                                n_clusters=run.n_clusters,
                                settings=info, messages=messages, parts=parts,
                                clusters=run.cluster_labels,
                                bootstrap=self._inference(run, agg.influence),
                                pretrend_window=None if self.pretrend_window is None
                                else tuple(self.pretrend_window))

    def _overall_summary(self, run: _Run, overall: Aggregation) -> dict:
        """Estimate and standard error of a second-stage overall (R ``did::aggte``'s overall)."""
        boot = self._inference(run, overall.influence)
        se = float(np.sqrt(overall.vcov(run.cluster_labels)[0, 0])) if boot is None \
            else float(boot.std_error[0])
        return {"estimate": float(overall.estimates[0]), "std_error": se}

    def _gt_table(self, run: _Run, table: pd.DataFrame, cells: CellEffects,
                  variance: CellVariance | None = None) -> pd.DataFrame:
        """The ATT(g,t) table with standard errors and intervals of the chosen inference."""
        boot = self._inference(run, cells.influence)
        if boot is None:
            variance = variance or CellVariance.of(cells, run.cluster_labels)
            se, crit = np.sqrt(variance.variances()), special.ndtri(0.5 + self.interval_prob / 2)
        else:
            se, crit = boot.std_error, boot.crit
        columns = {name: column.to_numpy() for name, column in table.items()}
        std_error = np.full(len(table), np.nan)
        std_error[~columns["skipped"]] = se
        att = columns["att"]
        return pd.DataFrame({**columns, "std_error": std_error, "lower": att - crit * std_error,
                             "upper": att + crit * std_error})
