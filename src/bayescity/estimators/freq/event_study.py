"""Dynamic two-way fixed-effects event study (leads and lags around approval)."""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np
import pandas as pd

from ...constants import INTERVAL_PROB
from ...data.panel import COHORT, REL_TIME, Panel
from ...results.effect import EffectResult, lead_restriction, wald_test
from ...results.parts import notes, warnings
from ..core import params as P
from ..core.base import ParamError
from ..core.checks import check_window
from ..core.controls import covariates_of, drop_always_treated, with_trend_controls
from ..core.covariates import always_treated_note, covariate_report
from ..core.fixest import VCOV, Coefs, design_frame, fit_design, safe_name
from ..core.inference import WILD_WEIGHTS_PARAM, WildBootstrapResult, wild_bootstrap_terms
from ..core.seeds import RandomState, child_seeds
from ..registry import register
from .common import INFERENCE, FreqEstimator, validate_wild
from .es_common import (Combined, Inference, aggregate_cells, cell_counts, cell_members,
                        effect_result, equality_tests, wild_combinations)


def event_sample(frame: pd.DataFrame, window: tuple[int, int],
                 binning: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """The estimation rows of ``frame`` and their event time (NaN for never-treated units).

    With ``binning`` the end-points are binned: every e < window[0] joins the first bin and every
    e > window[1] the last (Schmidheiny & Siegloch 2023, J. Appl. Econometrics). Without it the
    observations of treated units outside the window are dropped (a trimmed event window), so
    that periods outside the window do not silently join the reference period. The returned
    frame may be ``frame`` itself and is only read.
    """
    lo, hi = int(window[0]), int(window[1])
    if lo >= 0 or hi < 0:
        raise ValueError(f"window: [{lo}, {hi}] must contain leads and lags (first < 0 <= last)")
    e = frame[REL_TIME].to_numpy(dtype=float)
    if binning:
        return frame, np.clip(e, lo, hi)
    inside = np.isnan(e) | ((e >= lo) & (e <= hi))
    return (frame, e) if inside.all() else (frame.loc[inside], e[inside])


def dummy_name(e: int, level=None) -> str:
    """Formula-safe name of the dummy of event time ``e`` (and trait level)."""
    name = f"ev_m{-e}" if e < 0 else f"ev_p{e}"
    return name if level is None else f"{name}__{safe_name(level)}"


def event_design(sample: pd.DataFrame, event: np.ndarray, reference: int,
                 by: str | None) -> tuple[list[tuple], np.ndarray]:
    """Sorted (event time[, level]) keys present in the sample (reference excluded) and the
    ``n x K`` matrix of their dummies ``1{event = e}[ x 1{level}]``."""
    rows = np.flatnonzero(~np.isnan(event) & (event != reference))
    codes, levels = pd.factorize(sample[by]) if by else (np.zeros(len(sample), int), [None])
    rows = rows[codes[rows] >= 0]
    pairs, inverse = np.unique(np.column_stack([event[rows].astype(np.int64), codes[rows]]),
                               axis=0, return_inverse=True)
    keys = [(int(e),) + ((levels[c],) if by else ()) for e, c in pairs]
    order = sorted(range(len(keys)), key=lambda i: (str(keys[i][1:]), keys[i][0]))
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys))
    D = np.zeros((len(sample), len(keys)))
    D[rows, rank[inverse.ravel()]] = 1.0
    return [keys[i] for i in order], D


def dynamic_twfe(sample: pd.DataFrame, event: np.ndarray, *, unit: str, time: str, outcome: str,
                 covariates: Sequence[str], vcov: str, cluster: str, reference: int,
                 by: str | None = None) -> tuple[list[tuple], Coefs, np.ndarray]:
    """Fit ``y ~ sum_{e != ref} 1{event = e} [x 1{level}] + X | unit + time``.

    The dynamic specification of the event-study literature (e.g. Freyaldenhoven, Hansen & Shapiro
    2019; Schmidheiny & Siegloch 2023); never-treated units have every dummy zero. Returns the
    keys, their coefficients and the dummy matrix.
    """
    keys, D = event_design(sample, event, reference, by)
    names = [dummy_name(k[0], k[1] if by else None) for k in keys]
    c = fit_design(sample, outcome, names, D, covariates, [unit, time], vcov=vcov,
                   cluster=cluster)
    dropped = [n for n in names if n not in c.names]
    if dropped:
        raise ValueError(f"event_study: event-time dummies {dropped} are collinear with the fixed "
                         "effects (no never-treated units and no binning?); bin the end-points "
                         "or narrow the window")
    return keys, c.select(names), D


def with_reference(keys: list[tuple], c: Coefs, reference: int) -> Combined:
    """Event-time coefficients with the reference period inserted (estimate 0, variance 0)."""
    events = sorted([k[0] for k in keys] + [reference])
    pos = {k[0]: i for i, k in enumerate(keys)}
    P = np.zeros((len(events), len(keys)))
    for row, e in enumerate(events):
        if e != reference:
            P[row, pos[e]] = 1.0
    return Combined([str(e) for e in events], P @ c.estimates, P @ c.vcov @ P.T, P)


def cells_to_coefs(cells: pd.DataFrame, keys: list[tuple], window: tuple[int, int],
                   reference: int) -> np.ndarray:
    """Matrix M with M[cell, k] = 1 when the cell's (binned) event time is coefficient k."""
    pos = {k: i for i, k in enumerate(keys)}
    binned = np.clip(cells["rel_time"].to_numpy(), window[0], window[1]).astype(int)
    levels = cells["level"].tolist() if "level" in cells.columns else None
    M = np.zeros((len(cells), len(keys)))
    for row, e in enumerate(binned.tolist()):
        if e != reference:
            M[row, pos[(e,) if levels is None else (e, levels[row])]] = 1.0
    return M


def post_cells(sample: pd.DataFrame, time: str, by: str | None) -> pd.DataFrame:
    """Treated (cohort x time[, level]) cells of the estimation sample with their counts."""
    treated = (sample[COHORT].to_numpy() > 0) & (sample[REL_TIME].to_numpy() >= 0)
    return cell_counts(sample.loc[treated], time=time, level=by)


def event_time_units(sample: pd.DataFrame, event: np.ndarray, unit: str,
                     terms: list[str]) -> np.ndarray:
    """Distinct treated units observed at each (binned) event time in ``terms``."""
    treated = ~np.isnan(event)
    counts = pd.Series(sample[unit].to_numpy()[treated]).groupby(
        event[treated].astype(np.int64)).nunique()
    return np.array([int(counts.get(int(t), 0)) for t in terms], dtype=np.int64)


def binning_note(rel_time: np.ndarray, window: tuple[int, int]) -> str | None:
    """How many treated observations (event times ``rel_time``, NaN for never-treated units)
    the binned end-points collect beyond the window."""
    raw = rel_time[~np.isnan(rel_time)]
    n_out = int(((raw < window[0]) | (raw > window[1])).sum())
    if not n_out:
        return None
    return (f"{n_out} treated observations beyond the window [{window[0]}, {window[1]}] are "
            "binned into its end-points (fixest's i(rel_time, ref = -1) estimates every event "
            "time; widen `window:` or set binning: false to trim instead)")


@register("event_study")
class EventStudy(FreqEstimator):
    """Dynamic TWFE event study: ``y_it = a_i + l_t + sum_{e != ref} b_e 1{t - g_i = e} + X'g + u``.

    Leads and lags inside ``window`` are estimated relative to ``reference`` (default e = -1);
    with ``binning`` the end-points collect all earlier/later event times (Schmidheiny & Siegloch
    2023), otherwise observations of treated units outside the window are dropped. Never-treated
    units are the controls; units treated in their first observed period are dropped.

    Results: ``ATT_event`` with one term per event time in the window, the reference included as
    a normalisation (estimate 0, standard error, interval and p-value NaN), and the joint Wald F
    test (G-1 denominator df) that all leads are zero; ``ATT`` = the post coefficients averaged
    with the shared treated-cell weights (each treated post-period cell of the sample weighted by
    its number of observations, so the binned last lag counts once per cell it covers);
    ``ATT_by_<by>`` from event dummies interacted with the levels (common unit and time effects),
    with a Wald test of equal ATT across levels. Errors are clustered (CRV1 or CRV3) by
    ``cluster`` (default the panel's cluster column), intervals use t with G-1 df. The lead/lag
    coefficients are only interpretable as dynamic ATTs under homogeneous effects across cohorts
    (Sun & Abraham 2021); see ``sun_abraham`` and ``imputation`` for robust alternatives.

    ``inference="wild"`` replaces the p-value and interval of every event-time coefficient, of
    the overall ATT and of each ``by`` level by the restricted wild cluster bootstrap (WCR11,
    Cameron, Gelbach & Miller 2008; test inversion as in Roodman et al. 2019) with
    ``wild_weights`` Rademacher, Webb (Webb 2023) or Mammen and ``n_boot`` draws;
    ``interval_kind`` is then ``wild_cluster_bootstrap_<weights>``. An ATT is a linear
    combination ``w'b`` of the coefficients; it is bootstrapped as the coefficient of a
    reparametrised design with the same column space (``es_common.reparametrised``), so the
    null ``w'b = b0`` is imposed exactly. ``std_error`` and the Wald tests stay analytic and
    ``info`` says so. ``random_state`` (int, SeedSequence or None) seeds the draws: its first
    child seed the event-time terms, the second the ATT, the third the ``by`` levels.
    ``trend_covariates`` names unit characteristics (e.g. ``ln_gdp_pc_2003``, ``region3``) that
    are interacted with period dummies, so that untreated trends may differ with them (see
    :func:`~bayescity.estimators.core.controls.with_trend_controls`).
    """

    params = {"window": P.Spec("window", "event times estimated [first, last]; beyond them "
                                         "binned into the end-points (see binning)"),
              "binning": P.Spec("bool", "bin event times outside the window into its "
                                        "end-points (fixest's ref/bin convention)"),
              "reference": P.Spec("int", "the omitted (reference) event time, a lead inside the "
                                         "window"),
              "covariates": P.COVARIATES, "trend_covariates": P.TREND_COVARIATES,
              "cluster": P.CLUSTER, "vcov": VCOV, "by": P.BY, "interval_prob": P.INTERVAL_PROB,
              "inference": INFERENCE, "wild_weights": WILD_WEIGHTS_PARAM, "n_boot": P.N_BOOT,
              "random_state": P.RANDOM_STATE, "by_bins": P.BY_BINS}

    def __init__(self, window: Sequence[int] = (-5, 5), binning: bool = True, reference: int = -1,
                 covariates: Sequence[str] | None = None,
                 trend_covariates: Sequence[str] | None = None, cluster: str | None = None,
                 vcov: str = "CRV1", by: str | None = None, interval_prob: float = INTERVAL_PROB,
                 inference: str = "analytic", wild_weights: str = "rademacher",
                 n_boot: int = 9999, random_state: RandomState = None,
                 by_bins: str | int | None = None):
        self.by_bins = by_bins
        self.window = window
        self.binning = binning
        self.reference = reference
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

    def _spec(self, panel: Panel, trends: Sequence[str] = ()) -> dict:
        return dict(unit=panel.unit, time=panel.time, outcome=panel.outcome,
                    covariates=covariates_of(panel, self.covariates, trends), vcov=self.vcov,
                    cluster=self.cluster or panel.cluster_col, reference=int(self.reference))

    def _validate(self) -> None:
        check_window("window", self.window, allow_none=False, around_zero=True)
        lo, hi = int(self.window[0]), int(self.window[1])
        if not lo <= self.reference < 0:
            raise ParamError(f"reference: {self.reference} must be a lead inside window "
                             f"[{lo}, {hi}] (e.g. -1)")
        validate_wild(self.inference, self.vcov, self.n_boot)

    def _inference(self, panel: Panel, sample: pd.DataFrame, c: Coefs,
                   n_dropped: int) -> Inference:
        window = (int(self.window[0]), int(self.window[1]))
        info, note, warning = covariate_report(self._covariates(panel), c.fitted_names, sample,
                                               unit=panel.unit, time=panel.time,
                                               default=self.covariates is None)
        noted = [note, always_treated_note(n_dropped),
                 binning_note(sample[REL_TIME].to_numpy(dtype=float), window)
                 if self.binning else None]
        info.update({"vcov": c.vcov_type, "df": c.df_t, "window": window,
                     "binning": bool(self.binning), "reference": int(self.reference),
                     "dropped_always_treated_units": n_dropped, "inference": self.inference})
        return Inference(c.n_obs, c.n_clusters, c.df_t, f"t_{c.vcov_type}", self.interval_prob,
                         info, warnings(warning) + notes(*noted))

    def _sample(self, panel: Panel, window: tuple[int, int]):
        """Estimation rows, their event time and the number of always-treated units dropped."""
        frame, n_dropped = drop_always_treated(panel.frame, unit=panel.unit, time=panel.time)
        return (*event_sample(frame, window, bool(self.binning)), n_dropped)

    def _fit(self, panel: Panel) -> list[EffectResult]:
        window = (int(self.window[0]), int(self.window[1]))
        panel, trends = with_trend_controls(self._panel(panel), self.trend_covariates)
        spec = self._spec(panel, trends)
        sample, event, n_dropped = self._sample(panel, window)
        keys, c, D = dynamic_twfe(sample, event, **spec)
        inf = self._inference(panel, sample, c, n_dropped)
        seeds = child_seeds(self.random_state, 3) if self.inference == "wild" else [None] * 3
        wild = _Wild(self, sample, spec) if self.inference == "wild" else None
        units = event_time_units(sample, event, panel.unit,
                                 sorted([k[0] for k in keys] + [int(self.reference)]))
        out = [self._event_result(keys, c, inf, D, wild, seeds[0], units),
               self._att(sample, panel, keys, c, inf, None, window, D, wild, seeds[1])]
        if self.by:
            keys_by, c_by, D_by = dynamic_twfe(sample, event, **spec, by=self.by)
            out.append(self._att(sample, panel, keys_by, c_by, inf, self.by, window, D_by,
                                 wild, seeds[2]))
        return out

    def _event_result(self, keys: list[tuple], c: Coefs, inf: Inference, D: np.ndarray,
                      wild: "_Wild | None", seed, units: np.ndarray) -> EffectResult:
        ref = int(self.reference)
        terms = [k[0] for k in keys]
        leads = lead_restriction(terms, None)
        tests = []
        if leads is not None:
            tests.append(wald_test("pre-trends: all leads zero", c.estimates, c.vcov, leads[0],
                                   df_denom=inf.df, note=f"reference period e = {ref}",
                                   terms=[str(t) for t in terms]))
        boots = wild.terms(keys, D, seed) if wild else None
        combined = replace(with_reference(keys, c, ref), n_treated=units)
        return effect_result(self.method, "ATT_event", combined, inf, tests,
                             normalised=(str(ref),), boots=boots, seed=seed)

    def _att(self, sample: pd.DataFrame, panel: Panel, keys: list[tuple], c: Coefs,
             inf: Inference, by: str | None, window: tuple[int, int], D: np.ndarray,
             wild: "_Wild | None", seed) -> EffectResult:
        cells = post_cells(sample, panel.time, by)
        M = cells_to_coefs(cells, keys, window, int(self.reference))
        estimand = f"ATT_by_{by}" if by else "ATT"
        members = cell_members(sample, cells, unit=panel.unit, time=panel.time, level=by)
        agg = aggregate_cells(cells, M @ c.estimates, M @ c.vcov @ M.T, estimand, trait=by,
                              cell_units=members)
        tests = equality_tests(by, agg, inf.df) if by else ()
        boots = wild.combinations(D, agg.weights @ M, seed) if wild else None
        return effect_result(self.method, estimand, agg, inf, tests, boots=boots, seed=seed)


class _Wild:
    """The wild cluster bootstrap of one event-study fit (estimation sample and options)."""

    def __init__(self, est: EventStudy, sample: pd.DataFrame, spec: dict):
        self.sample, self.spec = sample, spec
        self.options = dict(weights=est.wild_weights, n_boot=int(est.n_boot),
                            interval_prob=est.interval_prob)

    def terms(self, keys: list[tuple], D: np.ndarray, seed) -> list[WildBootstrapResult]:
        """One bootstrap per event-time coefficient (the i-th from the i-th child seed)."""
        names = [dummy_name(k[0]) for k in keys]
        s = self.spec
        return wild_bootstrap_terms(design_frame(self.sample, names, D), s["outcome"], names,
                                    cluster=s["cluster"], regressors=s["covariates"],
                                    fixed_effects=[s["unit"], s["time"]], random_state=seed,
                                    **self.options)

    def combinations(self, D: np.ndarray, W: np.ndarray, seed) -> list[WildBootstrapResult]:
        """One bootstrap per row of ``W``, a linear combination of the coefficients on ``D``."""
        s = self.spec
        return wild_combinations(self.sample, s["outcome"], D, W, covariates=s["covariates"],
                                 fixed_effects=[s["unit"], s["time"]], cluster=s["cluster"],
                                 random_state=seed, **self.options)
