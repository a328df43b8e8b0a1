"""Stacked DID (Cengiz, Dube, Lindner & Zipperer 2019) with the corrective weights of Wing,
Freedman & Hollingsworth (2024)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...constants import INTERVAL_PROB
from ...data.panel import COHORT, Panel
from ...results.effect import EffectResult, level_equality_test, wald_table
from ...results.parts import Facts, Message, notes
from ..core import params as P
from ..core.base import Fitted, ParamError
from ..registry import register
from .common import FreqEstimator

#: Clean controls of an adoption event a: cohorts treated after the window (not yet treated
#: through a + kappa_post), after a + kappa_post + kappa_pre (strict), or never.
CONTROL_GROUPS = ("not_yet_treated", "strict", "never_treated")


@dataclass(frozen=True)
class Stack:
    """The stacked data: one sub-experiment per adoption event, rows of the original frame (a
    ``stacked`` fit's state: ``est.events_``, ``est.trimmed_``, ``est.weight_`` ...)."""

    rows: np.ndarray
    event: np.ndarray
    event_time: np.ndarray
    treated: np.ndarray
    weight: np.ndarray
    events: tuple[int, ...]
    trimmed: tuple[int, ...]


@dataclass(frozen=True)
class StackedFit:
    """Event-time effects and the trimmed aggregate ATT with their covariance."""

    terms: list[str]
    estimates: np.ndarray
    vcov: np.ndarray
    n_treated: np.ndarray
    n_obs: int
    n_clusters: int
    stack: Stack


def clean_controls(cohort: np.ndarray, a: int, kappa_pre: int, kappa_post: int,
                   control_group: str) -> np.ndarray:
    """Units (by their cohort, 0 = never) that are clean controls of adoption event ``a``."""
    never = cohort == 0
    if control_group == "never_treated":
        return never
    last = a + kappa_post + (kappa_pre if control_group == "strict" else 0)
    return never | (cohort > last)


def build_stack(cohort: np.ndarray, time: np.ndarray, *, kappa_pre: int, kappa_post: int,
                control_group: str) -> Stack:
    """Sub-experiments of every adoption event whose window [a - kappa_pre, a + kappa_post] lies
    in the panel and that has clean controls (Wing et al. 2024, inclusion criteria IC1-IC2),
    with the aggregate corrective weights Q: 1 for treated rows and
    ``(N^D_ae / N^D_e) / (N^C_ae / N^C_e)`` for control rows of event a at event time e
    (shares of the stack's treated and control rows at e; R ``stackedev``'s compute_weights)."""
    t_min, t_max = int(time.min()), int(time.max())
    parts, events, trimmed = [], [], []
    for a in np.unique(cohort[cohort > 0]).astype(int):
        controls = clean_controls(cohort, a, kappa_pre, kappa_post, control_group)
        inside = (time >= a - kappa_pre) & (time <= a + kappa_post)
        if a - kappa_pre < t_min or a + kappa_post > t_max or not controls.any():
            trimmed.append(int(a))
            continue
        rows = np.flatnonzero(inside & ((cohort == a) | controls))
        parts.append((rows, np.full(rows.size, a), time[rows] - a, cohort[rows] == a))
        events.append(int(a))
    if not parts:
        raise ValueError("stacked: every adoption event was trimmed (its window "
                         f"[-kappa_pre, kappa_post] leaves {t_min}-{t_max} or it has no clean "
                         "controls)")
    rows, event, e, d = (np.concatenate(x) for x in zip(*parts))
    return Stack(rows, event, e, d, q_weights(event, e, d), tuple(events), tuple(trimmed))


def q_weights(event: np.ndarray, e: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Wing et al.'s aggregate corrective weights (see :func:`build_stack`)."""
    ev, ev_idx = np.unique(event, return_inverse=True)
    et, et_idx = np.unique(e, return_inverse=True)
    ev_idx, et_idx = ev_idx.ravel(), et_idx.ravel()
    n = np.zeros((len(ev), len(et), 2))
    np.add.at(n, (ev_idx, et_idx, d.astype(int)), 1.0)
    stack = n.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = (n[..., 1] / stack[None, :, 1]) / (n[..., 0] / stack[None, :, 0])
    q = np.where(np.isfinite(q), q, 1.0)
    return np.where(d, 1.0, q[ev_idx, et_idx])


def wls_cluster(X: np.ndarray, y: np.ndarray, w: np.ndarray, clusters: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, int]:
    """Weighted least squares with CR1S cluster-robust covariance
    (``G/(G-1) * (n-1)/(n-k)``, Stata and clubSandwich CR1S). Returns (coef, vcov, G)."""
    Xw = X * w[:, None]
    bread = np.linalg.inv(X.T @ Xw)
    beta = bread @ (Xw.T @ y)
    g = pd.factorize(clusters)[0]
    G = int(g.max()) + 1
    scores = np.zeros((G, X.shape[1]))
    np.add.at(scores, g, Xw * (y - X @ beta)[:, None])
    n, k = X.shape
    c = G / (G - 1) * (n - 1) / (n - k)
    return beta, c * bread @ (scores.T @ scores) @ bread, G


def stacked_fit(frame: pd.DataFrame, *, unit: str, time: str, outcome: str, cluster: str,
                kappa_pre: int, kappa_post: int, control_group: str) -> StackedFit:
    """The stacked event-study regression ``y = a0 + a1 D + sum_e [l_e + d_e D] 1(e)`` (e = -1
    left out) by WLS with the Q weights on the stack of :func:`build_stack`, errors clustered by
    ``cluster`` (Wing, Freedman & Hollingsworth 2024, eq. 5; diff-diff ``StackedDiD``). Terms:
    the event times and ``overall``, the trimmed aggregate ATT (mean of d_e for e >= 0)."""
    stack = build_stack(frame[COHORT].to_numpy(dtype=np.int64),
                        frame[time].to_numpy(dtype=np.int64), kappa_pre=kappa_pre,
                        kappa_post=kappa_post, control_group=control_group)
    times = [h for h in range(-kappa_pre, kappa_post + 1) if h != -1]
    E = (stack.event_time[:, None] == np.asarray(times)[None, :]).astype(float)
    d = stack.treated.astype(float)
    X = np.column_stack([np.ones_like(d), d, E, E * d[:, None]])
    y = frame[outcome].to_numpy(dtype=float)[stack.rows]
    clusters = frame[cluster].to_numpy()[stack.rows]
    beta, V, G = wls_cluster(X, y, stack.weight, clusters)
    m = len(times)
    W = np.zeros((m + 1, X.shape[1]))
    W[np.arange(m), 2 + m + np.arange(m)] = 1.0
    post = [j for j, h in enumerate(times) if h >= 0]
    W[m, [2 + m + j for j in post]] = 1.0 / len(post)
    units = frame[unit].to_numpy()[stack.rows]
    n_treated = [pd.unique(units[stack.treated & (stack.event_time == h)]).size for h in times]
    n_treated.append(pd.unique(units[stack.treated & (stack.event_time >= 0)]).size)
    return StackedFit([str(h) for h in times] + ["overall"], W @ beta, W @ V @ W.T,
                      np.asarray(n_treated), len(y), G, stack)


@register("stacked")
class Stacked(FreqEstimator):
    """Stacked DID (Cengiz et al. 2019) with Wing, Freedman & Hollingsworth's (2024) corrective
    weights (R ``stackedev``, diff-diff ``StackedDiD`` with ``weighting="aggregate"``).

    One sub-experiment per adoption cohort a: its units and the ``control_group`` clean
    controls over event times ``-kappa_pre..kappa_post``; cohorts whose window leaves the panel
    or that lack clean controls are trimmed (a note). The weighted stacked event-study
    regression gives ``ATT_event`` (e = -1 the reference) and ``ATT``, the trimmed aggregate
    ATT: the mean of the post event-time effects -- equal weights across event times, not the
    treated-cell weights of the other estimators (a note says so). Errors are clustered by
    ``cluster`` (the panel's cluster column) with the CR1S small-sample factor; intervals use
    t with G-1 df (diff-diff 3.x: residual df, the same standard errors). ``by=<trait>`` fits
    each level's units on their own (``ATT_by_<trait>``, with a Wald test of equality).
    Covariates are not used (the stacked regression has none).
    """

    params = {"kappa_pre": P.Spec("int", "event times before adoption in each "
                                         "sub-experiment (e = -kappa_pre..-1)", low=1),
              "kappa_post": P.Spec("int", "event times after adoption in each sub-experiment "
                                          "(e = 0..kappa_post)", low=0),
              "control_group": P.Spec("choice", "clean controls of an adoption event: not yet "
                                                "treated by its window's end, not yet treated "
                                                "by kappa_pre after it (strict), or never "
                                                "treated", choices=CONTROL_GROUPS),
              "cluster": P.CLUSTER, "by": P.BY, "interval_prob": P.INTERVAL_PROB,
              "by_bins": P.BY_BINS}

    def __init__(self, kappa_pre: int = 1, kappa_post: int = 1,
                 control_group: str = "not_yet_treated", cluster: str | None = None,
                 by: str | None = None, interval_prob: float = INTERVAL_PROB,
                 by_bins: str | int | None = None):
        self.kappa_pre = kappa_pre
        self.kappa_post = kappa_post
        self.control_group = control_group
        self.cluster = cluster
        self.by = by
        self.interval_prob = interval_prob
        self.by_bins = by_bins

    def _check_panel(self, panel: Panel) -> None:
        lo, hi = int(panel.periods[0]), int(panel.periods[-1])
        fits = [g for g in panel.cohorts if g - self.kappa_pre >= lo and g + self.kappa_post <= hi]
        if not fits:
            raise ParamError(f"kappa_pre: {self.kappa_pre} and kappa_post: {self.kappa_post}: no "
                             f"cohort's window [g - kappa_pre, g + kappa_post] lies within "
                             f"{lo}-{hi}; use smaller windows")

    def _spec(self, panel: Panel) -> dict:
        return dict(unit=panel.unit, time=panel.time, outcome=panel.outcome,
                    cluster=self.cluster or panel.cluster_col, kappa_pre=int(self.kappa_pre),
                    kappa_post=int(self.kappa_post), control_group=self.control_group)

    def _fit(self, panel: Panel) -> Fitted:
        panel = self._panel(panel)
        fit = stacked_fit(panel.frame, **self._spec(panel))
        settings, messages = self._reported(fit, panel)
        post = len(fit.terms) - 1
        out = [self._result("ATT", fit, [post], settings, messages),
               self._result("ATT_event", fit, list(range(post)), settings, messages)]
        if self.by:
            out.append(self._by_result(panel, settings, messages))
        return Fitted(tuple(out), fit.stack)

    def _reported(self, fit: StackedFit, panel: Panel) -> tuple[dict, tuple[Message, ...]]:
        """The settings and notes every result of the fit reports."""
        said = [f"stacked on adoption events {list(fit.stack.events)} over event times "
                f"{-int(self.kappa_pre)}..{int(self.kappa_post)} with {self.control_group} clean "
                "controls and Wing et al.'s aggregate weights",
                "ATT is the trimmed aggregate ATT: the mean of the post event-time effects "
                "(equal weights across event times, not the treated-cell weights of "
                "callaway_santanna or imputation)"]
        if fit.stack.trimmed:
            said.append(f"adoption events {list(fit.stack.trimmed)} trimmed: window outside "
                        "the panel or no clean controls")
        if panel.covariates:
            said.append("the panel's covariates are not used (the stacked regression has none)")
        settings = {"vcov": "CR1S", "df": fit.n_clusters - 1,
                    "cluster": self.cluster or panel.cluster_col, "covariates": [],
                    "events": list(fit.stack.events), "trimmed_events": list(fit.stack.trimmed),
                    "control_group": self.control_group, "kappa_pre": int(self.kappa_pre),
                    "kappa_post": int(self.kappa_post)}
        return settings, notes(*said)

    def _result(self, estimand: str, fit: StackedFit, idx: list[int], settings: dict,
                messages: tuple[Message, ...], terms: list[str] | None = None,
                tests=()) -> EffectResult:
        V = fit.vcov[np.ix_(idx, idx)]
        table = wald_table(terms or [fit.terms[i] for i in idx], fit.estimates[idx], V,
                           interval_prob=self.interval_prob, df=fit.n_clusters - 1)
        table["n_treated"] = fit.n_treated[idx]
        return EffectResult(method=self.method, paradigm=self.paradigm, estimand=estimand,
                            table=table, n_obs=fit.n_obs, interval_prob=self.interval_prob,
                            interval_kind="t_CR1S", n_clusters=fit.n_clusters,
                            tests=tuple(tests), vcov=V, messages=messages,
                            parts=[Facts("settings", settings)])

    def _by_result(self, panel: Panel, settings: dict,
                   messages: tuple[Message, ...]) -> EffectResult:
        levels = sorted(pd.unique(panel.frame[self.by]), key=str)
        fits = [stacked_fit(panel.frame.loc[panel.frame[self.by] == lv], **self._spec(panel))
                for lv in levels]
        terms = [str(lv) for lv in levels]
        est = np.array([f.estimates[-1] for f in fits])
        V = np.diag([f.vcov[-1, -1] for f in fits])
        G = sum(f.n_clusters for f in fits)
        combined = StackedFit(terms, est, V, np.array([f.n_treated[-1] for f in fits]),
                              sum(f.n_obs for f in fits), G, fits[0].stack)
        test = level_equality_test(self.by, est, V, df_denom=G - 1, terms=terms)
        return self._result(f"ATT_by_{self.by}", combined, list(range(len(terms))), settings,
                            messages, terms, () if test is None else (test,))
