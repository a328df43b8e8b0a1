"""de Chaisemartin & D'Haultfoeuille's dynamic DID (``did_multiplegt_dyn``) for staggered
adoption of a binary, absorbing treatment: effects and placebos by horizon."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...constants import INTERVAL_PROB
from ...data.panel import COHORT, Panel
from ...results.effect import EffectResult, level_equality_test, wald_table
from ...results.parts import Facts, Message, notes
from ..core import params as P
from ..core.controls import drop_always_treated
from ..core.covariates import always_treated_note
from ..registry import register
from .common import FreqEstimator


@dataclass(frozen=True)
class Wide:
    """Outcomes as units x periods, each unit's first-treated period index (-1: never)."""

    y: np.ndarray
    observed: np.ndarray
    first: np.ndarray
    units: np.ndarray


@dataclass(frozen=True)
class _Shared:
    """What every result of one fit reports."""

    n_obs: int
    n_clusters: int
    settings: dict
    messages: tuple[Message, ...]


@dataclass(frozen=True)
class Horizon:
    """One effect or placebo: the estimate, its switchers and its influence per unit."""

    estimate: float
    n_switchers: int
    influence: np.ndarray


def to_wide(frame: pd.DataFrame, *, unit: str, time: str, outcome: str) -> Wide:
    """The wide panel of a frame without always-treated units."""
    units, u = np.unique(frame[unit].to_numpy(), return_inverse=True)
    periods, t = np.unique(frame[time].to_numpy(), return_inverse=True)
    u, t = u.ravel(), t.ravel()
    y = np.full((len(units), len(periods)), np.nan)
    y[u, t] = frame[outcome].to_numpy(dtype=float)
    cohort = np.zeros(len(units), dtype=np.int64)
    cohort[u] = frame[COHORT].to_numpy(dtype=np.int64)
    first = np.where(cohort > 0, np.searchsorted(periods, cohort), -1)
    return Wide(y, ~np.isnan(y), first, units)


def last_control_period(first: np.ndarray, n_periods: int) -> int:
    """The last period index at which some unit is still untreated (T_g of the paper)."""
    return int(np.where(first < 0, n_periods - 1, first - 1).max())


def horizon(w: Wide, l: int, placebo: bool = False) -> Horizon:
    """DID_l (``placebo``: DID^pl_l) of de Chaisemartin & D'Haultfoeuille (2024, REStat,
    "Difference-in-differences estimators of intertemporal treatment effects", eq. 3 and
    Sec. 3.3), with each unit's contribution U_g so that the estimate is ``sum U_g / N_l``.

    Switcher g (first treated in period F_g) compares ``Y[F_g-1+l] - Y[F_g-1]`` (placebo:
    ``Y[F_g-1-l] - Y[F_g-1]``) with the mean change of units still untreated at ``F_g-1+l``;
    it counts when that period is at most the last period with an untreated unit.
    """
    n_periods = w.y.shape[1]
    T = last_control_period(w.first, n_periods)
    U = np.zeros(len(w.first))
    did_sum, n_sw = 0.0, 0
    for F in np.unique(w.first[w.first >= 1]):
        ref, fwd = F - 1, F - 1 + l
        out = ref - l if placebo else fwd
        if fwd > min(T, n_periods - 1) or out < 0:
            continue
        need = w.observed[:, ref] & w.observed[:, out]
        switchers = np.flatnonzero((w.first == F) & need)
        ctrl_need = need & w.observed[:, fwd] if placebo else need
        controls = np.flatnonzero(((w.first > fwd) | (w.first < 0)) & ctrl_need)
        if switchers.size == 0 or controls.size == 0:
            continue
        change = w.y[:, out] - w.y[:, ref]
        U[switchers] += change[switchers]
        U[controls] -= switchers.size / controls.size * change[controls]
        did_sum += change[switchers].sum() - switchers.size * change[controls].mean()
        n_sw += switchers.size
    return Horizon(did_sum / n_sw if n_sw else np.nan, n_sw, U)


def recentred(U: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Contributions less their mean within cohorts of the same first-treated period (never
    treated: one cohort), the centring of the paper's variance estimator (Sec. 3.2)."""
    codes, inverse = np.unique(first, return_inverse=True)
    inverse = inverse.ravel()
    means = np.bincount(inverse, weights=U) / np.bincount(inverse)
    return U - means[inverse]


def dcdh_horizons(w: Wide, effects: int, placebo: int, clusters: np.ndarray
                  ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Placebos ``placebo..1`` (event times -(l+1)) and effects ``1..effects`` (event times
    l-1): estimates, joint covariance from the recentred contributions summed within
    ``clusters`` (one label per unit), and switchers per term. Terms without switchers are
    left out."""
    parts = [(str(-(l + 1)), horizon(w, l, placebo=True)) for l in range(placebo, 0, -1)]
    parts += [(str(l - 1), horizon(w, l)) for l in range(1, effects + 1)]
    parts = [(t, h) for t, h in parts if h.n_switchers > 0]
    terms = [t for t, _ in parts]
    est = np.array([h.estimate for _, h in parts])
    n = np.array([h.n_switchers for _, h in parts])
    psi = np.column_stack([recentred(h.influence, w.first) for _, h in parts]) / n[None, :]
    g = pd.factorize(clusters)[0]
    S = np.zeros((g.max() + 1, psi.shape[1]))
    np.add.at(S, g, psi)
    return terms, est, S.T @ S, n


def total_effect_weights(terms: list[str], n: np.ndarray) -> np.ndarray:
    """Weights of the average total effect on the terms: effects weighted by their switchers
    (``did_multiplegt_dyn``'s average cumulative effect per treatment unit, binary treatment)."""
    post = np.array([int(t) >= 0 for t in terms])
    return np.where(post, n, 0) / n[post].sum()


@register("dcdh")
class DCDH(FreqEstimator):
    """de Chaisemartin & D'Haultfoeuille's (2024) dynamic DID (R/Stata ``did_multiplegt_dyn``,
    diff-diff ``ChaisemartinDHaultfoeuille`` with ``L_max``) for staggered adoption.

    Effect l (``effects`` of them) compares switchers' outcome change from the period before
    adoption to l-1 periods after it with that of units not yet treated by then; placebo l
    (``placebo`` of them) does the same l periods before the last untreated one. ``ATT_event``
    holds placebos at event times -(l+1) and effects at l-1 (the usual event-study axis, -1 the
    reference), ``ATT`` the average total effect (effects weighted by their switchers,
    ``did_multiplegt_dyn``'s "Av_tot_eff"). Standard errors come from the paper's
    cohort-recentred influence functions, clustered by ``cluster`` (the unit by default, as
    ``did_multiplegt_dyn``); the covariance across horizons enters the ATT's error (diff-diff
    3.13 adds horizon variances as if independent). Normal intervals. ``by=<trait>`` runs the
    estimator within each level (R's ``by``), ``ATT_by_<trait>`` with a Wald test of equality.
    Defaults are R's (``effects = 1``, ``placebo = 0``); covariates are not used. Units treated
    in their first observed period are dropped.
    """

    params = {"effects": P.Spec("int", "number of dynamic effects (horizons l = 1..effects, "
                                       "event times 0..effects-1)", low=1),
              "placebo": P.Spec("int", "number of placebos (event times -2..-(placebo+1))",
                                low=0),
              "cluster": P.CLUSTER, "by": P.BY, "interval_prob": P.INTERVAL_PROB,
              "by_bins": P.BY_BINS}
    cluster_within_units = True

    def __init__(self, effects: int = 1, placebo: int = 0, cluster: str | None = None,
                 by: str | None = None, interval_prob: float = INTERVAL_PROB,
                 by_bins: str | int | None = None):
        self.effects = effects
        self.placebo = placebo
        self.cluster = cluster
        self.by = by
        self.interval_prob = interval_prob
        self.by_bins = by_bins

    def _fit(self, panel: Panel) -> list[EffectResult]:
        panel = self._panel(panel)
        frame, n_dropped = drop_always_treated(panel.frame, unit=panel.unit, time=panel.time)
        w = to_wide(frame, unit=panel.unit, time=panel.time, outcome=panel.outcome)
        clusters = self._clusters(frame, panel, w)
        terms, est, V, n = dcdh_horizons(w, int(self.effects), int(self.placebo), clusters)
        n_cl = int(pd.unique(clusters).size)
        shared = _Shared(len(frame), n_cl, {
            "effects": int(self.effects), "placebo": int(self.placebo),
            "cluster": self.cluster or panel.cluster_col, "covariates": [],
            "dropped_always_treated_units": n_dropped,
            "n_switchers": dict(zip(terms, n.tolist()))},
            notes(always_treated_note(n_dropped), self._covariate_note(panel)))
        W = total_effect_weights(terms, n)
        out = [self._result("ATT", ["overall"], np.array([W @ est]), np.atleast_2d(W @ V @ W),
                            [int(n[W > 0].max())], shared),
               self._result("ATT_event", terms, est, V, n, shared)]
        if self.by:
            out.append(self._by_result(frame, panel, w, clusters, shared))
        return out

    def _clusters(self, frame: pd.DataFrame, panel: Panel, w: Wide) -> np.ndarray:
        column = self.cluster or panel.cluster_col
        return frame.groupby(panel.unit)[column].first().reindex(w.units).to_numpy()

    @staticmethod
    def _covariate_note(panel: Panel) -> str | None:
        return ("the panel's covariates are not used (did_multiplegt_dyn's controls are not "
                "implemented)") if panel.covariates else None

    def _result(self, estimand: str, terms, est, V, n_treated, shared: "_Shared",
                tests=()) -> EffectResult:
        table = wald_table(terms, est, V, interval_prob=self.interval_prob)
        table["n_treated"] = np.asarray(n_treated, dtype=np.int64)
        return EffectResult(method=self.method, paradigm=self.paradigm, estimand=estimand,
                            table=table, n_obs=shared.n_obs, interval_prob=self.interval_prob,
                            interval_kind="normal_dcdh_if", n_clusters=shared.n_clusters,
                            tests=tuple(tests), vcov=V, messages=shared.messages,
                            parts=[Facts("settings", shared.settings)])

    def _by_result(self, frame: pd.DataFrame, panel: Panel, w: Wide, clusters: np.ndarray,
                   shared: "_Shared") -> EffectResult:
        """Each level on its own units; influence functions stacked over all units so that
        clusters spanning levels are accounted for."""
        level = frame.groupby(panel.unit)[self.by].first().reindex(w.units).astype(str)
        levels = sorted(pd.unique(level))
        est, psi, n_sw = [], [], []
        for lv in levels:
            keep = (level == lv).to_numpy()
            sub = Wide(w.y[keep], w.observed[keep], w.first[keep], w.units[keep])
            hs = [horizon(sub, l) for l in range(1, int(self.effects) + 1)]
            n = np.array([h.n_switchers for h in hs], dtype=float)
            weights = n / n.sum()
            est.append(float(sum(wt * h.estimate for wt, h in zip(weights, hs) if wt > 0)))
            col = np.zeros(len(w.units))
            col[keep] = sum(wt * recentred(h.influence, sub.first) / h.n_switchers
                            for wt, h in zip(weights, hs) if wt > 0)
            psi.append(col)
            n_sw.append(int(n.max()))
        g = pd.factorize(clusters)[0]
        S = np.zeros((g.max() + 1, len(levels)))
        np.add.at(S, g, np.column_stack(psi))
        V = S.T @ S
        test = level_equality_test(self.by, np.array(est), V, terms=levels)
        return self._result(f"ATT_by_{self.by}", levels, np.array(est), V, n_sw, shared,
                            () if test is None else (test,))
