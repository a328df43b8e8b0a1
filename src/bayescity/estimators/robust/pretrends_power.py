"""Power of the pre-trend test and the bias it leaves (``method: pretrends_power``)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ...constants import INTERVAL_PROB
from ...data.panel import Panel
from ...results.effect import EffectResult
from ..core.base import Estimator, ParamError, resolve_by
from ..core.checks import check_prob
from ..core.seeds import RandomState
from ..registry import register
from .honest import REFERENCE, event_coefficients
from .inner import check_inner, check_inner_panel, make_inner, notes_of, relabel
from .pretrend_power import (CURVE_ABSEPS, bayes_factor, likelihood_ratio, mean_after_pretest,
                             rejection_probability, slope_for_power)

EVENT_ESTIMATORS = ("event_study", "callaway_santanna", "sun_abraham")
SLOPE_ESTIMAND = "pretrend_slope"
BIAS_ESTIMAND = "pretrend_bias"
#: Points of the power curve, from slope 0 to 2.5 times the slope with the highest power asked.
CURVE_POINTS = 21


def power_analysis(beta: np.ndarray, sigma: np.ndarray, t: np.ndarray, powers: Sequence[float],
                   alpha: float) -> dict[str, Any]:
    """Roth (2022) for one event study: the slopes the pre-test detects with each of ``powers``,
    and, under the slope it detects with the first of them, the violation, each coefficient's
    mean after passing the pre-test and the post-period biases (unconditional and conditional
    on passing), plus pretrends' Bayes factor, likelihood ratio and a power curve."""
    pre = t < REFERENCE
    rel = t - REFERENCE
    s11 = sigma[np.ix_(pre, pre)]
    slopes = [slope_for_power(p, s11, rel[pre], alpha) for p in powers]
    delta = slopes[0] * rel
    after = mean_after_pretest(delta, sigma, pre, alpha)
    grid = np.linspace(0, 2.5 * max(slopes), CURVE_POINTS)
    curve = pd.DataFrame({"slope": grid, "power": [
        rejection_probability(g * rel[pre], s11, alpha, CURVE_ABSEPS) for g in grid]})
    plot = pd.DataFrame({"event_time": t, "estimate": beta, "std_error": np.sqrt(np.diag(sigma)),
                         "violation": delta, "mean_after_pretest": after})
    post = ~pre
    return {"slopes": slopes, "power_curve": curve, "event_plot": plot,
            "bias_unconditional": delta[post], "bias_conditional": after[post],
            "post_times": t[post],
            "bayes_factor": bayes_factor(delta[pre], s11, alpha),
            "likelihood_ratio": likelihood_ratio(beta[pre], delta[pre], s11)}


@register("pretrends_power")
class PretrendsPower(Estimator):
    """Roth (2022) power analysis of the pre-trend test of an event study (R ``pretrends``).

    ``estimator`` (``event_study`` by default, ``callaway_santanna`` or ``sun_abraham``, with
    ``estimator_params``) gives the event-time effects and their covariance; the reference
    period is e = -1 and the earlier leads are tested. The pre-test is R pretrends' "no lead
    individually significant" at level ``alpha`` (two-sided ``z`` of ``1 - alpha/2``; R uses
    1.96). ``powers`` (default 0.5 and 0.8) are the detection probabilities whose linear-trend
    slopes ``gamma`` (``delta_e = gamma (e + 1)``) are reported as ``pretrend_slope``; under the
    slope detected with the first of them, ``pretrend_bias`` reports the bias of every
    post-period event time and of their average, conditional on the pre-test passing (Roth's
    ``meanAfterPretesting`` minus the true effect); the unconditional bias (the trend itself),
    the Bayes factor, the likelihood ratio, a power curve and the event plot are in its
    ``info``. With ``event_study``'s default binning the first lead pools every earlier event
    time, so its trend is taken at the bin's end point.
    """

    paradigm = "frequentist"
    param_choices = {"estimator": EVENT_ESTIMATORS}

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
        check_prob("alpha", self.alpha)
        check_prob("interval_prob", self.interval_prob)
        window = (self.estimator_params or {}).get("window") or \
            (self.estimator_params or {}).get("event_window")
        if window is not None and window[0] >= REFERENCE:
            raise ParamError(f"estimator_params: window {list(window)} has no lead before the "
                             f"reference period {REFERENCE}; the pre-test needs at least one")
        powers = self.powers
        if isinstance(powers, str) or not isinstance(powers, Sequence) or not powers:
            raise ParamError(f"powers: {powers!r} must be a list of probabilities, e.g. [0.5, 0.8]")
        for p in powers:
            check_prob("powers", p)
            if p <= self.alpha:
                raise ParamError(f"powers: {p} must exceed the test's size alpha = {self.alpha}")

    def check_panel(self, panel: Panel) -> None:
        resolve_by(panel, self.by, self.by_bins)
        check_inner_panel(self.estimator, self.estimator_params, panel)

    def _fit(self, panel: Panel) -> list[EffectResult]:
        self.check_panel(panel)
        panel = resolve_by(panel, self.by, self.by_bins)
        fit = make_inner(self.estimator, self.estimator_params, by=self.by,
                         random_state=self.random_state).fit(panel)
        events = fit.effect("ATT_event")
        coefs = event_coefficients(events)
        out = power_analysis(coefs.betahat, coefs.sigma, coefs.event_times, list(self.powers),
                             float(self.alpha))
        inner = [relabel(r, self.method) for r in fit.results()
                 if r.estimand in ("ATT", "ATT_event") or r.estimand == f"ATT_by_{self.by}"]
        return inner + [self._slopes(out, events), self._bias(out, events)]

    def _result(self, estimand: str, terms: list[str], estimates: np.ndarray,
                events: EffectResult, info: dict) -> EffectResult:
        table = pd.DataFrame({"term": terms, "estimate": estimates, "std_error": np.nan,
                              "lower": np.nan, "upper": np.nan, "p_value": np.nan,
                              "prob_positive": np.nan})
        return EffectResult(method=self.method, paradigm=self.paradigm, estimand=estimand,
                            table=table, n_obs=events.n_obs, interval_prob=self.interval_prob,
                            interval_kind="none (power analysis)", n_clusters=events.n_clusters,
                            info=info)

    def _slopes(self, out: dict, events: EffectResult) -> EffectResult:
        terms = [f"power={p:g}" for p in self.powers]
        z = stats.norm.ppf(1 - self.alpha / 2)
        note = (f"slope gamma of a linear violation delta_e = gamma (e + 1) that the pre-test "
                f"(no lead significant at {self.alpha:g}) detects with each probability "
                f"(Roth 2022; {self.estimator}); critical value {z:.6f} (R pretrends: 1.96)")
        return self._result(SLOPE_ESTIMAND, terms, np.array(out["slopes"]), events,
                            {"power_curve": out["power_curve"], "notes": notes_of(note)})

    def _bias(self, out: dict, events: EffectResult) -> EffectResult:
        t = out["post_times"]
        cond, uncond = out["bias_conditional"], out["bias_unconditional"]
        terms = [str(int(e)) for e in t] + ["average"]
        table = pd.DataFrame({"event_time": terms, "bias_conditional": np.append(cond, cond.mean()),
                              "bias_unconditional": np.append(uncond, uncond.mean())})
        p0 = self.powers[0]
        note = (f"bias of the post-period coefficients under the linear trend the pre-test "
                f"detects with probability {p0:g} (slope {out['slopes'][0]:.4g}), conditional "
                f"on the pre-test passing; Bayes factor {out['bayes_factor']:.3g}, likelihood "
                f"ratio {out['likelihood_ratio']:.3g}")
        info = {"bias": table, "event_plot": out["event_plot"],
                "bayes_factor": out["bayes_factor"], "likelihood_ratio": out["likelihood_ratio"],
                "slope": out["slopes"][0], "power": p0, "notes": notes_of(note)}
        return self._result(BIAS_ESTIMAND, terms, np.append(cond, cond.mean()), events, info)
