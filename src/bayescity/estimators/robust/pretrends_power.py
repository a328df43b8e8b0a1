"""Power of the pre-trend test and the bias it leaves (``method: pretrends_power``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ...constants import INTERVAL_PROB
from ...data.panel import Panel
from ...results.effect import EffectResult
from ...results.parts import Facts, Part, Table, notes
from ..core import params as P
from ..core.base import Estimator, Fitted, ParamError, resolve_by
from ..core.seeds import RandomState
from ..registry import register
from .honest import REFERENCE, event_coefficients
from .inner import check_inner, check_inner_panel, make_inner, relabel
from .pretrend_power import (CURVE_ABSEPS, bayes_factor, likelihood_ratio, mean_after_pretest,
                             rejection_probability, slope_for_power)

EVENT_ESTIMATORS = ("event_study", "callaway_santanna", "sun_abraham")
SLOPE_ESTIMAND = "pretrend_slope"
BIAS_ESTIMAND = "pretrend_bias"
#: Points of the power curve, from slope 0 to 2.5 times the slope with the highest power asked.
CURVE_POINTS = 21


@dataclass(frozen=True)
class PowerAnalysis:
    """Roth (2022) for one event study (a fit's state: ``est.slopes_``, ``est.power_curve_``
    ...): the slope detected with each power asked; under the first, the violation at every
    event time, the post-period biases (unconditional: the trend itself; conditional on
    passing the pre-test), pretrends' Bayes factor and likelihood ratio; the power curve
    (``slope, power, reported``: the rows of the slopes asked for marked) and the event plot
    (coefficients, violation and their means after passing)."""

    powers: tuple[float, ...]
    slopes: tuple[float, ...]
    power_curve: pd.DataFrame
    event_plot: pd.DataFrame
    post_times: np.ndarray
    bias_unconditional: np.ndarray
    bias_conditional: np.ndarray
    bayes_factor: float
    likelihood_ratio: float


def power_analysis(beta: np.ndarray, sigma: np.ndarray, t: np.ndarray, powers: Sequence[float],
                   alpha: float) -> PowerAnalysis:
    """Roth (2022, "Pretest with Caution", AER: Insights 4(3)) for one event study: the slopes
    the pre-test detects with each of ``powers`` and, under the slope it detects with the first
    of them, the violation, each coefficient's mean after passing the pre-test and the
    post-period biases, plus R pretrends' Bayes factor, likelihood ratio and a power curve."""
    pre = t < REFERENCE
    rel = t - REFERENCE
    s11 = sigma[np.ix_(pre, pre)]
    slopes = [slope_for_power(p, s11, rel[pre], alpha) for p in powers]
    delta = slopes[0] * rel
    after = mean_after_pretest(delta, sigma, pre, alpha)
    grid = np.linspace(0, 2.5 * max(slopes), CURVE_POINTS)
    curve = pd.DataFrame({"slope": np.append(grid, slopes), "power": [
        rejection_probability(g * rel[pre], s11, alpha, CURVE_ABSEPS) for g in grid]
        + list(powers), "reported": np.repeat([False, True], [grid.size, len(slopes)])})
    plot = pd.DataFrame({"event_time": t, "estimate": beta, "std_error": np.sqrt(np.diag(sigma)),
                         "violation": delta, "mean_after_pretest": after})
    post = ~pre
    return PowerAnalysis(tuple(float(p) for p in powers), tuple(slopes), curve, plot, t[post],
                         delta[post], after[post], bayes_factor(delta[pre], s11, alpha),
                         likelihood_ratio(beta[pre], delta[pre], s11))


@register("pretrends_power")
class PretrendsPower(Estimator):
    """Roth (2022) power analysis of the pre-trend test of an event study (R ``pretrends``).

    ``estimator`` (``event_study`` by default, ``callaway_santanna`` or ``sun_abraham``, with
    ``estimator_params``) gives the event-time effects and their covariance; the reference
    period is e = -1 and the earlier leads are tested. The pre-test is R pretrends' "no lead
    individually significant" at level ``alpha`` (two-sided ``z`` of ``1 - alpha/2``; R uses
    1.96). ``powers`` (default 0.5 and 0.8) are the detection probabilities whose linear-trend
    slopes ``gamma`` (``delta_e = gamma (e + 1)``) are reported as ``pretrend_slope`` (with the
    power curve as its part ``pretrend_power_curve``); under the slope detected with the first
    of them, ``pretrend_bias`` reports the bias of every post-period event time and of their
    average, conditional on the pre-test passing (Roth's ``meanAfterPretesting`` minus the true
    effect); its parts hold the unconditional bias (the trend itself, ``pretrend_biases``), the
    event plot (``pretrend_event_plot``) and the Bayes factor and likelihood ratio
    (``pretrend_violation``). With ``event_study``'s default binning the first lead pools every
    earlier event time, so its trend is taken at the bin's end point.
    """

    paradigm = "frequentist"
    params = {"estimator": P.Spec("choice", "the event-study estimator whose leads are tested",
                                  choices=EVENT_ESTIMATORS),
              "estimator_params": P.ESTIMATOR_PARAMS,
              "powers": P.Spec("numbers", "detection probabilities whose linear-trend slopes "
                                          "are reported (each above alpha); the first sets the "
                                          "violation the biases are computed under",
                               low=0, high=1, open_low=True, open_high=True),
              "alpha": P.Spec("prob", "size of each lead's two-sided test (R pretrends: 0.05)"),
              "by": P.BY, "by_bins": P.BY_BINS, "interval_prob": P.INTERVAL_PROB,
              "random_state": P.RANDOM_STATE}

    def __init__(self, estimator: str = "event_study",
                 estimator_params: Mapping[str, Any] | None = None,
                 powers: Sequence[float] = (0.5, 0.8), alpha: float = 0.05,
                 by: str | None = None, by_bins: str | int | None = None,
                 interval_prob: float = INTERVAL_PROB, random_state: RandomState = None):
        self.estimator = estimator
        self.estimator_params = estimator_params
        self.powers = powers
        self.alpha = alpha
        self.by = by
        self.by_bins = by_bins
        self.interval_prob = interval_prob
        self.random_state = random_state

    def _validate(self) -> None:
        check_inner(self.estimator, self.estimator_params, EVENT_ESTIMATORS)
        window = (self.estimator_params or {}).get("window") or \
            (self.estimator_params or {}).get("event_window")
        if window is not None and window[0] >= REFERENCE:
            raise ParamError(f"estimator_params: window {list(window)} has no lead before the "
                             f"reference period {REFERENCE}; the pre-test needs at least one")
        for p in self.powers:
            if p <= self.alpha:
                raise ParamError(f"powers: {p} must exceed the test's size alpha = {self.alpha}")

    def _check_panel(self, panel: Panel) -> None:
        check_inner_panel(self.estimator, self.estimator_params, panel)

    def _fit(self, panel: Panel) -> Fitted:
        panel = resolve_by(panel, self.by, self.by_bins)
        fit = make_inner(self.estimator, self.estimator_params, by=self.by,
                         random_state=self.random_state).fit(panel)
        events = fit.effect("ATT_event")
        coefs = event_coefficients(events)
        out = power_analysis(coefs.betahat, coefs.sigma, coefs.event_times, list(self.powers),
                             float(self.alpha))
        settings = {"estimator": self.estimator, "alpha": float(self.alpha),
                    "powers": [float(p) for p in self.powers],
                    "critical_value": float(stats.norm.ppf(1 - self.alpha / 2)),
                    "pre_test": "no lead individually significant (R pretrends)"}
        inner = [relabel(r, self.method, settings=settings) for r in fit.results()
                 if r.estimand in ("ATT", "ATT_event") or r.estimand == f"ATT_by_{self.by}"]
        results = inner + [self._slopes(out, events, settings), self._bias(out, events, settings)]
        return Fitted(tuple(results), out)

    def _result(self, estimand: str, terms: list[str], estimates: np.ndarray,
                events: EffectResult, note: str, parts: Sequence[Part]) -> EffectResult:
        table = pd.DataFrame({"term": terms, "estimate": estimates, "std_error": np.nan,
                              "lower": np.nan, "upper": np.nan, "p_value": np.nan,
                              "prob_positive": np.nan})
        return EffectResult(method=self.method, paradigm=self.paradigm, estimand=estimand,
                            table=table, n_obs=events.n_obs, interval_prob=self.interval_prob,
                            interval_kind="none (power analysis)", n_clusters=events.n_clusters,
                            messages=notes(note), parts=parts)

    def _slopes(self, out: PowerAnalysis, events: EffectResult,
                settings: dict) -> EffectResult:
        terms = [f"power={p:g}" for p in self.powers]
        z = stats.norm.ppf(1 - self.alpha / 2)
        note = (f"slope gamma of a linear violation delta_e = gamma (e + 1) that the pre-test "
                f"(no lead significant at {self.alpha:g}) detects with each probability "
                f"(Roth 2022; {self.estimator}); critical value {z:.6f} (R pretrends: 1.96)")
        return self._result(SLOPE_ESTIMAND, terms, np.array(out.slopes), events, note,
                            [Facts("settings", settings),
                             Table("pretrend_power_curve", out.power_curve)])

    def _bias(self, out: PowerAnalysis, events: EffectResult, settings: dict) -> EffectResult:
        cond, uncond = out.bias_conditional, out.bias_unconditional
        terms = [str(int(e)) for e in out.post_times] + ["average"]
        table = pd.DataFrame({"event_time": terms, "bias_conditional": np.append(cond, cond.mean()),
                              "bias_unconditional": np.append(uncond, uncond.mean())})
        p0, slope = out.powers[0], out.slopes[0]
        note = (f"bias of the post-period coefficients under the linear trend the pre-test "
                f"detects with probability {p0:g} (slope {slope:.4g}), conditional "
                f"on the pre-test passing; Bayes factor {out.bayes_factor:.3g}, likelihood "
                f"ratio {out.likelihood_ratio:.3g}")
        violation = Facts("pretrend_violation", {
            "slope": slope, "power": p0, "bayes_factor": out.bayes_factor,
            "likelihood_ratio": out.likelihood_ratio})
        return self._result(BIAS_ESTIMAND, terms, np.append(cond, cond.mean()), events, note,
                            [Facts("settings", settings), violation,
                             Table("pretrend_biases", table),
                             Table("pretrend_event_plot", out.event_plot)])
