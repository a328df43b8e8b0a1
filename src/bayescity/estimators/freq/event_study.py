"""Dynamic two-way fixed-effects event study (leads and lags around approval)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ...constants import INTERVAL_PROB
from ...data.panel import COHORT, REL_TIME, Panel
from ...results.effect import EffectResult, wald_test
from ..base import Estimator
from ..registry import register
from .es_common import (Combined, Inference, aggregate_cells, cell_counts, check_by,
                        covariates_of, drop_always_treated, effect_result, equality_tests)
from .fixest import Coefs, coefs_of, feols, safe_name

EVENT = "_event"


def event_sample(frame: pd.DataFrame, window: tuple[int, int], binning: bool) -> pd.DataFrame:
    """Add the event-time regressor ``_event`` (NaN for never-treated units).

    With ``binning`` the end-points are binned: every e < window[0] joins the first bin and every
    e > window[1] the last (Schmidheiny & Siegloch 2023, J. Appl. Econometrics). Without it the
    observations of treated units outside the window are dropped (a trimmed event window), so
    that periods outside the window do not silently join the reference period.
    """
    lo, hi = int(window[0]), int(window[1])
    if lo >= 0 or hi < 0:
        raise ValueError(f"window must contain leads and lags, lo < 0 <= hi, got {window}")
    e = frame[REL_TIME].to_numpy(dtype=float)
    out = frame.copy()
    if binning:
        out[EVENT] = np.clip(e, lo, hi)
        return out
    inside = np.isnan(e) | ((e >= lo) & (e <= hi))
    out[EVENT] = e
    return out.loc[inside].copy()


def dummy_name(e: int, level=None) -> str:
    """Formula-safe name of the dummy of event time ``e`` (and trait level)."""
    name = f"ev_m{-e}" if e < 0 else f"ev_p{e}"
    return name if level is None else f"{name}__{safe_name(level)}"


def event_keys(frame: pd.DataFrame, reference: int, by: str | None) -> list[tuple]:
    """Sorted (event time[, level]) pairs present in ``frame``, the reference excluded."""
    rows = frame.loc[frame[EVENT].notna() & (frame[EVENT] != reference)]
    cols = [EVENT] + ([by] if by else [])
    keys = rows[cols].drop_duplicates().itertuples(index=False, name=None)
    return sorted(((int(k[0]), *k[1:]) for k in keys), key=lambda k: (str(k[1:]), k[0]))


def dynamic_twfe(frame: pd.DataFrame, *, unit: str, time: str, outcome: str,
                 covariates: Sequence[str], vcov: str, cluster: str, reference: int,
                 by: str | None = None) -> tuple[list[tuple], Coefs]:
    """Fit ``y ~ sum_{e != ref} 1{event = e} [x 1{level}] + X | unit + time`` with pyfixest.

    The dynamic specification of the event-study literature (e.g. Freyaldenhoven, Hansen & Shapiro
    2019; Schmidheiny & Siegloch 2023); never-treated units have every dummy zero.
    """
    keys = event_keys(frame, reference, by)
    dummies = {}
    for key in keys:
        hit = frame[EVENT] == key[0]
        if by:
            hit &= frame[by] == key[1]
        dummies[dummy_name(key[0], key[1] if by else None)] = hit.to_numpy(dtype=float)
    names = list(dummies)
    work = pd.concat([frame, pd.DataFrame(dummies, index=frame.index)], axis=1)
    fit = feols(work, outcome, [*names, *covariates], [unit, time], vcov=vcov, cluster=cluster)
    c = coefs_of(fit, vcov)
    dropped = [n for n in names if n not in c.names]
    if dropped:
        raise ValueError(f"event_study: event-time dummies {dropped} are collinear with the fixed "
                         "effects (no never-treated units and no binning?); bin the end-points "
                         "or narrow the window")
    return keys, c.select(names)


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
    binned = np.clip(cells["rel_time"].to_numpy(), window[0], window[1])
    M = np.zeros((len(cells), len(keys)))
    levels = cells["level"] if "level" in cells.columns else [None] * len(cells)
    for row, (e, level) in enumerate(zip(binned, levels)):
        key = (int(e),) if level is None else (int(e), level)
        if int(e) != reference:
            M[row, pos[key]] = 1.0
    return M


def post_cells(frame: pd.DataFrame, time: str, by: str | None) -> pd.DataFrame:
    """Treated (cohort x time[, level]) cells of the estimation sample with their counts."""
    treated = frame.loc[(frame[COHORT] > 0) & (frame[REL_TIME] >= 0)]
    return cell_counts(treated, time=time, level=by)


@register("event_study")
class EventStudy(Estimator):
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
    """

    paradigm = "frequentist"

    def __init__(self, window: Sequence[int] = (-5, 5), binning: bool = True, reference: int = -1,
                 covariates: Sequence[str] | None = None, cluster: str | None = None,
                 vcov: str = "CRV1", by: str | None = None, interval_prob: float = INTERVAL_PROB):
        self.window = window
        self.binning = binning
        self.reference = reference
        self.covariates = covariates
        self.cluster = cluster
        self.vcov = vcov
        self.by = by
        self.interval_prob = interval_prob

    def _spec(self, panel: Panel) -> dict:
        return dict(unit=panel.unit, time=panel.time, outcome=panel.outcome,
                    covariates=covariates_of(panel, self.covariates), vcov=self.vcov,
                    cluster=self.cluster or panel.cluster_col, reference=int(self.reference))

    def _inference(self, sample: pd.DataFrame, c: Coefs, n_dropped: int) -> Inference:
        info = {"vcov": c.vcov_type, "df": c.df_t, "window": tuple(int(w) for w in self.window),
                "binning": bool(self.binning), "reference": int(self.reference),
                "dropped_always_treated_units": n_dropped}
        return Inference(c.n_obs, c.n_clusters, c.df_t, f"t_{c.vcov_type}", self.interval_prob,
                         info)

    def _fit(self, panel: Panel) -> list[EffectResult]:
        check_by(panel, self.by)
        window = (int(self.window[0]), int(self.window[1]))
        if not window[0] <= self.reference < 0:
            raise ValueError(f"reference={self.reference} must be a lead inside window {window}")
        spec = self._spec(panel)
        frame, n_dropped = drop_always_treated(panel.data, unit=panel.unit, time=panel.time)
        sample = event_sample(frame, window, bool(self.binning))
        keys, c = dynamic_twfe(sample, **spec)
        inf = self._inference(sample, c, n_dropped)
        out = [self._event_result(keys, c, inf),
               self._att(sample, panel.time, keys, c, inf, None, window)]
        if self.by:
            keys_by, c_by = dynamic_twfe(sample, **spec, by=self.by)
            out.append(self._att(sample, panel.time, keys_by, c_by, inf, self.by, window))
        return out

    def _event_result(self, keys: list[tuple], c: Coefs, inf: Inference) -> EffectResult:
        ref = int(self.reference)
        leads = [i for i, k in enumerate(keys) if k[0] < 0]
        tests = []
        if leads:
            R = np.zeros((len(leads), len(keys)))
            R[np.arange(len(leads)), leads] = 1.0
            tests.append(wald_test("pre-trends: all leads zero", c.estimates, c.vcov, R,
                                   df_denom=inf.df, note=f"reference period e={ref}"))
        return effect_result(self.method, "ATT_event", with_reference(keys, c, ref), inf, tests,
                             normalised=(str(ref),))

    def _att(self, sample: pd.DataFrame, time: str, keys: list[tuple], c: Coefs, inf: Inference,
             by: str | None, window: tuple[int, int]) -> EffectResult:
        cells = post_cells(sample, time, by)
        M = cells_to_coefs(cells, keys, window, int(self.reference))
        estimand = f"ATT_by_{by}" if by else "ATT"
        agg = aggregate_cells(cells, M @ c.estimates, M @ c.vcov @ M.T, estimand, trait=by)
        tests = equality_tests(by, agg, inf.df) if by else ()
        return effect_result(self.method, estimand, agg, inf, tests)

