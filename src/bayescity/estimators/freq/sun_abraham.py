"""Sun & Abraham (2021) interaction-weighted event-study estimator."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ...constants import INTERVAL_PROB
from ...data.panel import COHORT, REL_TIME, Panel
from ...estimands.summarize import PRETREND_WINDOW
from ...results.effect import EffectResult, lead_restriction, wald_test
from ...results.parts import notes, warnings
from ..core import params as P
from ..core.base import ParamError
from ..core.checks import check_window
from ..core.controls import covariates_of, drop_always_treated, with_trend_controls
from ..core.covariates import always_treated_note, covariate_report
from ..core.fixest import VCOV, Coefs, fit_design, safe_name
from ..registry import register
from .common import FreqEstimator
from .es_common import (Combined, Inference, aggregate_cells, cell_members, effect_result,
                        equality_tests)

CONTROLS = ("never", "last")


def sa_sample(frame: pd.DataFrame, *, time: str,
              control: str) -> tuple[pd.DataFrame, np.ndarray, str]:
    """The estimation sample, the design cohort of its rows and the control group used.

    ``never``: never-treated units are the controls (all periods kept). ``last``, or ``never``
    when the panel has no never-treated unit: the last-treated cohort is the control group,
    never-treated units are dropped and so are the periods from its adoption on (Sun & Abraham
    2021, Sec. 4). The design cohort is the cohort of units with interaction dummies, 0 for
    controls. The returned frame may be ``frame`` itself and is only read.
    """
    if control not in CONTROLS:
        raise ValueError(f"control_cohort: {control!r} is not one of {list(CONTROLS)}")
    cohort = frame[COHORT].to_numpy()
    if control == "never" and (cohort == 0).any():
        return frame, cohort, "never"
    last = int(cohort.max())
    rows = (cohort > 0) & (frame[time].to_numpy() < last)
    design_cohort = np.where(cohort[rows] == last, 0, cohort[rows])
    if not (design_cohort > 0).any():
        raise ValueError("sun_abraham: no treated cohort is observed before the control cohort")
    used = "last" if control == "last" else "last (the panel has no never-treated units)"
    return frame.loc[rows], design_cohort, f"{used}: cohort {last}"


def interaction_design(frame: pd.DataFrame, design_cohort: np.ndarray, reference: int,
                       by: str | None) -> tuple[list[tuple], np.ndarray, np.ndarray]:
    """Sorted (cohort, event time[, level]) cells with an interaction dummy (reference
    excluded), the ``n x K`` dummy matrix and the number of observations of each cell."""
    rel = frame[REL_TIME].to_numpy()
    rows = np.flatnonzero((design_cohort > 0) & (rel != reference))
    codes, levels = pd.factorize(frame[by]) if by else (np.zeros(len(frame), int), [None])
    rows = rows[codes[rows] >= 0]
    stacked = np.column_stack([design_cohort[rows].astype(np.int64),
                               rel[rows].astype(np.int64), codes[rows]])
    cells, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    keys = [(int(g), int(e)) + ((levels[c],) if by else ()) for g, e, c in cells]
    order = sorted(range(len(keys)), key=lambda i: (str(keys[i][2:]), keys[i]))
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys))
    D = np.zeros((len(frame), len(keys)))
    D[rows, rank[inverse.ravel()]] = 1.0
    return [keys[i] for i in order], D, counts[order].astype(float)


def interaction_name(key: tuple) -> str:
    """Formula-safe dummy name of a (cohort, event time[, level]) cell."""
    e = f"m{-key[1]}" if key[1] < 0 else f"p{key[1]}"
    name = f"sa_g{key[0]}_{e}"
    return name if len(key) == 2 else f"{name}__{safe_name(key[2])}"


def saturated_regression(frame: pd.DataFrame, design_cohort: np.ndarray, *, unit: str,
                         time: str, outcome: str, covariates: Sequence[str], vcov: str,
                         cluster: str, reference: int,
                         by: str | None = None) -> tuple[pd.DataFrame, Coefs]:
    """Cohort x event-time interactions relative to ``reference`` with unit and time effects.

    ``y_it = a_i + l_t + sum_{g, e != ref} d_ge 1{G_i = g} 1{t - g = e} + X'b + u`` on treated
    cohorts and controls; ``d_ge`` estimates CATT(g, e) (Sun & Abraham 2021, J. Econometrics,
    eq. 16). With ``by`` each cell is also split by the trait level (common fixed effects).
    Returns the cells (cohort, time, rel_time, weight[, level]) in coefficient order and the
    coefficients.
    """
    keys, D, counts = interaction_design(frame, design_cohort, reference, by)
    names = [interaction_name(k) for k in keys]
    c = fit_design(frame, outcome, names, D, covariates, [unit, time], vcov=vcov,
                   cluster=cluster)
    dropped = [n for n in names if n not in c.names]
    if dropped:
        raise ValueError(f"sun_abraham: cohort x event-time cells {dropped} are not identified "
                         "(collinear with the fixed effects)")
    return interaction_cells(keys, counts, by), c.select(names)


def interaction_cells(keys: list[tuple], counts: np.ndarray, by: str | None) -> pd.DataFrame:
    """The (cohort, time, rel_time, weight[, level]) cell of every interaction, in key order."""
    g = np.array([k[0] for k in keys], dtype=np.int64)
    e = np.array([k[1] for k in keys], dtype=np.int64)
    cells = pd.DataFrame({"cohort": g, "time": g + e, "rel_time": e, "weight": counts})
    if by:
        cells["level"] = [k[2] for k in keys]
    return cells


@register("sun_abraham")
class SunAbraham(FreqEstimator):
    """Sun & Abraham (2021) interaction-weighted (IW) estimator of dynamic ATTs.

    Cohort-specific effects CATT(g, e) come from a saturated cohort x event-time regression with
    unit and time fixed effects (and covariates), relative to ``reference`` (e = -1); controls are
    the never-treated units or, with ``control_cohort="last"`` (or when there are no never-treated
    units), the last-treated cohort. The CATTs are aggregated with the shared treated-cell weights
    of :mod:`bayescity.estimands.aggregate` -- for event time e, cohort shares among the cells
    observed at e, i.e. the IW weights -- giving ``ATT`` (post cells), ``ATT_event`` (leads as
    placebos and lags, with a joint Wald F test that the leads in ``pretrend_window`` are zero),
    ``ATT_cohort`` and, with ``by``, ``ATT_by_<by>`` from cells split by level plus a Wald test of equal levels. Standard
    errors are ``W V W'`` with V the clustered (CRV1/CRV3) covariance of the CATTs, as in fixest's
    ``sunab`` aggregation; intervals use t with G-1 df. Units treated in their first observed
    period are dropped.
    ``trend_covariates`` names unit characteristics (e.g. ``ln_gdp_pc_2003``, ``region3``) that
    are interacted with period dummies, so that untreated trends may differ with them (see
    :func:`~bayescity.estimators.core.controls.with_trend_controls`).
    """

    params = {"control_cohort": P.Spec("choice", "controls: never-treated units (never) or the "
                                                 "last-treated cohort (last)", choices=CONTROLS),
              "reference": P.Spec("int", "the omitted (reference) event time, a lead"),
              "covariates": P.COVARIATES, "trend_covariates": P.TREND_COVARIATES,
              "cluster": P.CLUSTER, "vcov": VCOV, "by": P.BY,
              "pretrend_window": P.Spec("window", "leads tested jointly for pre-trends "
                                                  "[first, last]; null: every lead", none=True),
              "interval_prob": P.INTERVAL_PROB, "by_bins": P.BY_BINS}

    def __init__(self, control_cohort: str = "never", reference: int = -1,
                 covariates: Sequence[str] | None = None,
                 trend_covariates: Sequence[str] | None = None, cluster: str | None = None,
                 vcov: str = "CRV1", by: str | None = None,
                 pretrend_window: tuple[int, int] | None = PRETREND_WINDOW,
                 interval_prob: float = INTERVAL_PROB, by_bins: str | int | None = None):
        self.by_bins = by_bins
        self.pretrend_window = pretrend_window
        self.control_cohort = control_cohort
        self.reference = reference
        self.covariates = covariates
        self.trend_covariates = trend_covariates
        self.cluster = cluster
        self.vcov = vcov
        self.by = by
        self.interval_prob = interval_prob

    def _spec(self, panel: Panel, trends: Sequence[str] = ()) -> dict:
        return dict(unit=panel.unit, time=panel.time, outcome=panel.outcome,
                    covariates=covariates_of(panel, self.covariates, trends), vcov=self.vcov,
                    cluster=self.cluster or panel.cluster_col, reference=int(self.reference))

    def _validate(self) -> None:
        if self.reference >= 0:
            raise ParamError(f"reference: {self.reference} must be a lead (e.g. -1)")
        check_window("pretrend_window", self.pretrend_window, leads_only=True)

    def _fit(self, panel: Panel) -> list[EffectResult]:
        panel, trends = with_trend_controls(self._panel(panel), self.trend_covariates)
        spec = self._spec(panel, trends)
        frame, n_dropped = drop_always_treated(panel.frame, unit=panel.unit, time=panel.time)
        sample, design_cohort, control = sa_sample(frame, time=panel.time,
                                                   control=self.control_cohort)
        cells, c = saturated_regression(sample, design_cohort, **spec)
        info, note, warning = covariate_report(self._covariates(panel), c.fitted_names, sample,
                                               unit=panel.unit, time=panel.time,
                                               default=self.covariates is None)
        info.update({"vcov": c.vcov_type, "df": c.df_t, "control_cohort": control,
                     "reference": int(self.reference), "dropped_always_treated_units": n_dropped})
        inf = Inference(c.n_obs, c.n_clusters, c.df_t, f"t_{c.vcov_type}", self.interval_prob,
                        info, warnings(warning) + notes(note, always_treated_note(n_dropped)))
        members = cell_members(sample, cells, unit=panel.unit, time=panel.time)
        out = [self._aggregate("ATT", cells, c, inf, members),
               self._event(cells, c, inf, members),
               self._aggregate("ATT_cohort", cells, c, inf, members)]
        if self.by:
            cells_by, c_by = saturated_regression(sample, design_cohort, **spec, by=self.by)
            members_by = cell_members(sample, cells_by, unit=panel.unit, time=panel.time,
                                      level=self.by)
            out.append(self._aggregate(f"ATT_by_{self.by}", cells_by, c_by, inf, members_by,
                                       by=self.by))
        return out

    def _aggregate(self, estimand: str, cells: pd.DataFrame, c: Coefs, inf: Inference,
                   members: tuple, by: str | None = None) -> EffectResult:
        agg = aggregate_cells(cells, c.estimates, c.vcov, estimand, trait=by, cell_units=members)
        tests = equality_tests(by, agg, inf.df) if by else ()
        return effect_result(self.method, estimand, agg, inf, tests)

    def _event(self, cells: pd.DataFrame, c: Coefs, inf: Inference,
               members: tuple) -> EffectResult:
        agg = aggregate_cells(cells, c.estimates, c.vcov, "ATT_event", post_only=False,
                              cell_units=members)
        window = None if self.pretrend_window is None else tuple(self.pretrend_window)
        return effect_result(self.method, "ATT_event", agg, inf, lead_test(agg, inf.df, window))


def lead_test(agg: Combined, df: float | None,
              window: tuple[int, int] | None = PRETREND_WINDOW) -> tuple:
    """Joint Wald F test that the aggregated leads with event time in ``window`` are zero.

    The default window (-5..-1) keeps long leads out: each is identified by a few late-treated
    units and a joint test over all of them over-rejects (see
    :func:`bayescity.estimands.summarize.pretrend_test`). ``window=None`` tests every lead.
    """
    leads = lead_restriction(agg.terms, window)
    if leads is None:
        return ()
    R, span = leads
    which = "all leads" if span is None else f"leads e in {span}"
    return (wald_test(f"pre-trends: {which} zero", agg.estimates, agg.vcov, R, df_denom=df,
                      terms=agg.terms),)