"""Sensitivity of event-study conclusions to violations of parallel trends (``method:
honest_did``), through moderndid's implementation of Rambachan & Roth (2023)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ...constants import INTERVAL_PROB
from ...data.panel import Panel
from ...progress import track
from ...results.effect import EffectResult, TestResult
from ...results.parts import Facts, Table, notes
from ..core import params as P
from ..core.base import Estimator, ParamError, resolve_by
from ..core.seeds import RandomState, child_seeds
from ..registry import register
from .inner import check_inner, check_inner_panel, make_inner, relabel

RESTRICTIONS = ("relative_magnitude", "smoothness")
EVENT_ESTIMATORS = ("event_study", "callaway_santanna")
CI_METHODS = {"relative_magnitude": ("C-LF", "Conditional"),
              "smoothness": ("FLCI", "Conditional", "C-F", "C-LF")}
#: Estimand of the sensitivity analysis: one term per restriction bound (``Mbar=0.5``, ``M=0.02``).
SENSITIVITY_ESTIMAND = "ATT_sensitivity"
REFERENCE = -1
#: moderndid's (and R HonestDiD's) default grid of M-bar under relative magnitudes.
RM_DEFAULT_BOUNDS = tuple(np.linspace(0, 2, 10))


@dataclass(frozen=True)
class EventCoefficients:
    """Event-study coefficients without the reference period, split into pre and post."""

    event_times: np.ndarray
    betahat: np.ndarray
    sigma: np.ndarray
    num_pre: int
    num_post: int


def event_coefficients(result: EffectResult) -> EventCoefficients:
    """The ``ATT_event`` estimates and covariance with e = -1 removed (as moderndid does for
    an aggregated event study); pre- and post-periods must be consecutive."""
    e = np.array([int(float(t)) for t in result.terms])
    keep = e != REFERENCE
    e, beta = e[keep], result.table["estimate"].to_numpy(dtype=float)[keep]
    sigma = np.asarray(result.vcov, dtype=float)[np.ix_(keep, keep)]
    pre, post = e[e < REFERENCE], e[e > REFERENCE]
    if len(pre) < 1 or len(post) < 1:
        raise ValueError("honest_did: the event study needs at least one lead before e = -1 and "
                         "one post-period effect")
    if (np.diff(pre) != 1).any() or (np.diff(post) != 1).any():
        raise ValueError(f"honest_did: event times must be consecutive, got {e.tolist()}")
    return EventCoefficients(e, beta, (sigma + sigma.T) / 2, len(pre), len(post))


def target_weights(coefs: EventCoefficients, event_time: int | None) -> np.ndarray:
    """``l``: the post-period effect of ``event_time`` (a basis vector), or the average of all
    post-period effects (None)."""
    post = coefs.event_times[coefs.num_pre:]
    if event_time is None:
        return np.full(coefs.num_post, 1.0 / coefs.num_post)
    if event_time not in post:
        raise ValueError(f"honest_did: event_time: {event_time} is not a post-period event time; "
                         f"available: {post.tolist()}")
    return (post == event_time).astype(float)


def sensitivity(coefs: EventCoefficients, l_vec: np.ndarray, restriction: str,
                bounds: Sequence[float] | None, method: str | None, alpha: float,
                grid_points: int) -> tuple[pd.DataFrame, tuple[float, float]]:
    """Robust confidence sets over ``bounds`` (M-bar or M) and the original confidence interval,
    by moderndid's ``create_sensitivity_results_rm``/``_sm`` and ``construct_original_cs``
    (Rambachan & Roth 2023, "A more credible approach to parallel trends", Rev. Econ. Stud.
    90(5)): relative magnitudes bound post-period violations by M-bar times the largest
    pre-period one; smoothness bounds the change in the slope of the violation by M."""
    from moderndid.didhonest import (construct_original_cs, create_sensitivity_results_rm,
                                     create_sensitivity_results_sm)

    args = dict(betahat=coefs.betahat, sigma=coefs.sigma, num_pre_periods=coefs.num_pre,
                num_post_periods=coefs.num_post, l_vec=l_vec, alpha=alpha, grid_points=grid_points)
    if bounds is None and restriction == "relative_magnitude":
        bounds = RM_DEFAULT_BOUNDS
    # Each bound's interval is computed on its own, so one call per bound (progress per bound)
    # gives moderndid's numbers; smoothness's default grid is data-driven and stays one call.
    grids = [None] if bounds is None else [np.array([b], dtype=float) for b in bounds]
    parts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for grid in track(grids, f"HonestDiD sensitivity ({restriction}): bounds"):
            if restriction == "relative_magnitude":
                out = create_sensitivity_results_rm(**args, m_bar_vec=grid,
                                                    method=method or "C-LF")
            else:
                out = create_sensitivity_results_sm(**args, m_vec=grid, method=method)
            parts.append(pd.DataFrame(out.to_dicts()))
        original = construct_original_cs(coefs.betahat, coefs.sigma, coefs.num_pre,
                                          coefs.num_post, l_vec=l_vec, alpha=alpha)
    table = pd.concat(parts, ignore_index=True).rename(columns={"Mbar": "bound", "m": "bound"})
    return table, (float(original.lb), float(original.ub))


def breakdown_value(table: pd.DataFrame) -> float:
    """The breakdown value of a sensitivity grid: the smallest bound whose robust interval
    includes zero (``inf`` when no bound of the grid does). It is read from the robust
    intervals alone: the original interval does not enter (under relative magnitudes the
    robust interval at M-bar = 0 can exclude zero when the original one does not, since the
    pre-period coefficients then inform the post-period bias). An empty robust set (NaN
    bounds: the data reject the restriction) does not include zero."""
    covers = (table["lb"] <= 0.0) & (table["ub"] >= 0.0)
    return float(table.loc[covers, "bound"].min()) if covers.any() else float("inf")


def breakdown_sentence(value: float, symbol: str, bounds: pd.Series) -> str:
    """What the breakdown value says, in words."""
    if value == float("inf"):
        return (f"no {symbol} in the grid (up to {bound_label(bounds.max())}) brings 0 into the "
                "robust interval")
    if value <= bounds.min():
        return (f"breakdown {symbol} = {bound_label(value)}: already the smallest bound of the "
                "grid includes 0")
    return f"breakdown {symbol} = {bound_label(value)}"


def bound_label(value: float) -> str:
    """A bound as a term label: 3 significant digits (``0.0664``, not ``0.0663996``)."""
    return f"{float(value):.3g}"


def bound_terms(bounds: Sequence[float], symbol: str) -> list[str]:
    """Term labels ``M=0.0664`` for a grid, with more digits where 3 would make two equal."""
    for digits in range(3, 17):
        labels = [f"{symbol}={float(b):.{digits}g}" for b in bounds]
        if len(set(labels)) == len(labels):
            return labels
    return [f"{symbol}={float(b)!r}" for b in bounds]


@register("honest_did")
class HonestDiD(Estimator):
    """Rambachan & Roth (2023) sensitivity of an event study to violations of parallel trends.

    ``estimator`` (``event_study`` or ``callaway_santanna``, with ``estimator_params``) gives
    the event-time effects and their covariance; the reference period e = -1 is removed (as
    moderndid's ``honest_did`` does), the earlier leads are the pre-periods. The target is the
    effect at ``event_time`` (default 0, as HonestDiD) or, with ``event_time: null``, the average
    of the post-period effects. ``restriction="smoothness"`` (moderndid's default) bounds changes
    in the slope of the violation by ``bounds`` (M, default moderndid's data-driven grid; FLCI
    intervals); ``"relative_magnitude"`` bounds post-period violations by ``bounds`` (M-bar,
    default 0..2 in 10 steps) times the largest pre-period violation (C-LF intervals, whose
    least-favourable critical value costs seconds per bound). ``ci_method`` overrides
    the interval method; ``grid_points`` is the test-inversion grid (moderndid's ``honest_did``
    default, 100; R HonestDiD uses 1,000, finer and ten times slower). Computed by moderndid.
    With ``event_study``'s default binning the first lead and the last lag pool all earlier and
    later event times; ``binning: false`` gives a trimmed window of single event times.

    Results: ``ATT`` and ``ATT_event`` of the wrapped estimator, and ``ATT_sensitivity`` with one
    term per bound (the target's estimate and its robust interval; std_error and p_value empty),
    carrying the breakdown value (the smallest bound whose interval includes zero) as a test.
    """

    paradigm = "frequentist"
    params = {"estimator": P.Spec("choice", "the event-study estimator whose coefficients "
                                            "are bounded", choices=EVENT_ESTIMATORS),
              "estimator_params": P.ESTIMATOR_PARAMS,
              "restriction": P.Spec("choice", "relative_magnitude (Mbar) or smoothness (M) "
                                              "restriction on post-period violations",
                                    choices=RESTRICTIONS),
              "bounds": P.Spec("numbers", "values of Mbar or M; null: a default grid",
                               low=0, none=True),
              "event_time": P.Spec("int", "the event time bounded; null: the average "
                                          "post-period effect", low=0, none=True),
              "ci_method": P.Spec("str", "confidence-set method (C-LF or Conditional for "
                                         "relative_magnitude; FLCI, Conditional, C-F or C-LF for "
                                         "smoothness); null: HonestDiD's default", none=True),
              "grid_points": P.Spec("int", "grid points of the confidence set search", low=10),
              "by": P.BY, "by_bins": P.BY_BINS, "interval_prob": P.INTERVAL_PROB,
              "random_state": P.RANDOM_STATE}
    smoke_params = {"bounds": [0.5], "grid_points": 10}

    def __init__(self, estimator: str = "event_study",
                 estimator_params: Mapping[str, Any] | None = None,
                 restriction: str = "smoothness", bounds: Sequence[float] | None = None,
                 event_time: int | None = 0, ci_method: str | None = None,
                 grid_points: int = 100, by: str | None = None,
                 by_bins: str | int | None = None, interval_prob: float = INTERVAL_PROB,
                 random_state: RandomState = None):
        self.estimator = estimator
        self.estimator_params = estimator_params
        self.restriction = restriction
        self.bounds = bounds
        self.event_time = event_time
        self.ci_method = ci_method
        self.grid_points = grid_points
        self.by = by
        self.by_bins = by_bins
        self.interval_prob = interval_prob
        self.random_state = random_state

    def _validate(self) -> None:
        check_inner(self.estimator, self.estimator_params, EVENT_ESTIMATORS)
        methods = CI_METHODS[self.restriction]
        if self.ci_method is not None and self.ci_method not in methods:
            raise ParamError(f"ci_method: {self.ci_method!r} is not one of {list(methods)} for "
                             f"restriction {self.restriction}")

    def _check_panel(self, panel: Panel) -> None:
        check_inner_panel(self.estimator, self.estimator_params, panel)

    def _fit(self, panel: Panel) -> list[EffectResult]:
        panel = resolve_by(panel, self.by, self.by_bins)
        seed = child_seeds(self.random_state, 1)[0]
        fit = make_inner(self.estimator, self.estimator_params, by=self.by,
                         random_state=seed).fit(panel)
        events = fit.effect("ATT_event")
        coefs = event_coefficients(events)
        l_vec = target_weights(coefs, self.event_time)
        table, original = sensitivity(coefs, l_vec, self.restriction, self.bounds,
                                      self.ci_method, 1.0 - self.interval_prob,
                                      int(self.grid_points))
        out = [relabel(r, self.method) for r in fit.results()
               if r.estimand in ("ATT", "ATT_event") or r.estimand == f"ATT_by_{self.by}"]
        return out + [self._result(coefs, l_vec, table, original, events)]

    def _result(self, coefs: EventCoefficients, l_vec: np.ndarray, table: pd.DataFrame,
                original: tuple[float, float], events: EffectResult) -> EffectResult:
        theta = float(l_vec @ coefs.betahat[coefs.num_pre:])
        symbol = "Mbar" if self.restriction == "relative_magnitude" else "M"
        terms = bound_terms(table["bound"], symbol)
        rows = pd.DataFrame({"term": terms, "estimate": theta, "std_error": np.nan,
                             "lower": table["lb"].to_numpy(float),
                             "upper": table["ub"].to_numpy(float), "p_value": np.nan,
                             "prob_positive": np.nan})
        target = "average post-period effect" if self.event_time is None \
            else f"effect at e = {self.event_time}"
        value = breakdown_value(table)
        grid = f"{bound_label(table['bound'].min())}..{bound_label(table['bound'].max())}"
        test = TestResult(f"HonestDiD breakdown value ({self.restriction}, {target})", value,
                          float(len(table)), float("nan"), "breakdown",
                          note=f"smallest {symbol} in the grid {grid} whose {self.interval_prob:.0%}"
                               " robust interval includes 0 (inf: none)")
        method = str(table["method"].iloc[0])
        note = (f"Rambachan-Roth {self.restriction} sensitivity of the {target} of "
                f"{self.estimator} ({method} intervals, moderndid); original interval "
                f"[{original[0]:.4g}, {original[1]:.4g}]; "
                + breakdown_sentence(value, symbol, table["bound"]))
        shown = pd.concat([pd.DataFrame({"bound": [np.nan], "lb": [original[0]],
                                         "ub": [original[1]], "method": ["Original"]}),
                           table], ignore_index=True)
        settings = {"original_ci": list(original), "target": target,
                    "l_vec": list(np.asarray(l_vec, dtype=float)),
                    "event_times": coefs.event_times.tolist(), "restriction": self.restriction,
                    "ci_method": method, "estimator": self.estimator, "breakdown": value}
        return EffectResult(method=self.method, paradigm=self.paradigm,
                            estimand=SENSITIVITY_ESTIMAND, table=rows, n_obs=events.n_obs,
                            interval_prob=self.interval_prob,
                            interval_kind=f"honest_did_{method}", n_clusters=events.n_clusters,
                            tests=(test,), messages=notes(note),
                            parts=[Facts("settings", settings), Table("sensitivity", shown),
                                   Facts("check", {"kind": "sensitivity",
                                                   "expects": "an interval that excludes 0 "
                                                              "up to a large bound"})])
