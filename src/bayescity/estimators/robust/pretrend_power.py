"""Power of the pre-trend test against linear violations (Roth 2022), as plain functions.

Roth (2022, "Pretest with Caution: Event-Study Estimates after Testing for Parallel Trends",
AER: Insights 4(3)) and his R package ``pretrends``: the usual pre-test passes when no lead
is individually significant (``|beta_t| <= z se_t`` for every lead t, the "NIS" box). Against a
linear violation ``delta_t = gamma (t - ref)`` the test rejects with probability
``1 - P(beta_pre in box)``, ``beta_pre ~ N(delta_pre, Sigma_pre)``; ``slope_for_power`` finds the
``gamma`` it detects with a given probability. Conditional on passing, the post-period
coefficients are biased by ``E[beta_post | pass] - tau = delta_post +
Sigma_21 Sigma_11^{-1} (E[beta_pre | pass] - delta_pre)`` (``meanBetaPost_NIS``); the truncated
normal mean ``E[beta_pre | pass]`` comes from Tallis (1961) / Manjunath & Wilhelm (2012),
what R's ``tmvtnorm::mtmvnorm`` computes.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

#: Accuracy of the multivariate normal box probabilities (Genz's algorithm, seeded): slopes
#: and conditional means; the power curve (a figure) is drawn at :data:`CURVE_ABSEPS`.
ABSEPS = 1e-5
CURVE_ABSEPS = 1e-4


def box_probability(lower: np.ndarray, upper: np.ndarray, cov: np.ndarray,
                    abseps: float = ABSEPS) -> float:
    """``P(lower <= X <= upper)`` for ``X ~ N(0, cov)`` (exact for one dimension)."""
    if lower.size == 0:
        return 1.0
    if lower.size == 1:
        sd = np.sqrt(cov[0, 0])
        return float(stats.norm.cdf(upper[0] / sd) - stats.norm.cdf(lower[0] / sd))
    return float(stats.multivariate_normal.cdf(upper, lower_limit=lower, cov=cov,
                                               allow_singular=True, abseps=abseps,
                                               releps=abseps, maxpts=200_000 * lower.size,
                                               rng=np.random.default_rng(0)))


def nis_box(sigma_pre: np.ndarray, alpha: float) -> np.ndarray:
    """Half-widths ``z_{1-alpha/2} se_t`` of the no-individually-significant acceptance box."""
    return stats.norm.ppf(1 - alpha / 2) * np.sqrt(np.diag(sigma_pre))


def rejection_probability(delta_pre: np.ndarray, sigma_pre: np.ndarray, alpha: float,
                          abseps: float = ABSEPS) -> float:
    """Power of the pre-test against the violation ``delta_pre`` (``rejectionProbability_NIS``)."""
    h = nis_box(sigma_pre, alpha)
    return 1.0 - box_probability(-h - delta_pre, h - delta_pre, sigma_pre, abseps)


def slope_for_power(target: float, sigma_pre: np.ndarray, rel_pre: np.ndarray,
                    alpha: float) -> float:
    """The slope ``gamma`` of ``delta_t = gamma (t - ref)`` that the pre-test detects with
    probability ``target`` (``slope_for_power``; root on ``[0, 8 max se]`` as R's ``uniroot``,
    widened when the power there is still short of the target)."""
    def gap(g: float) -> float:
        return rejection_probability(g * rel_pre, sigma_pre, alpha) - target

    if gap(0.0) >= 0:
        return 0.0
    hi = 8 * float(np.sqrt(np.diag(sigma_pre)).max())
    while gap(hi) < 0:
        hi *= 2
    return float(optimize.brentq(gap, 0.0, hi, xtol=1e-10, rtol=1e-8))


def truncated_mean(mean: np.ndarray, cov: np.ndarray, lower: np.ndarray,
                   upper: np.ndarray) -> np.ndarray:
    """Mean of ``N(mean, cov)`` truncated to the box ``[lower, upper]`` (Tallis 1961;
    Manjunath & Wilhelm 2012, eq. 14): ``mean + cov (F(a) - F(b)) / P(box)`` with
    ``F_k(x) = phi_k(x) P(box of the others | X_k = x)``."""
    a, b = lower - mean, upper - mean
    d = mean.size
    alpha = box_probability(a, b, cov)
    F = np.zeros(d)
    for k in range(d):
        o = np.delete(np.arange(d), k)
        s_kk = cov[k, k]
        cond = cov[np.ix_(o, o)] - np.outer(cov[o, k], cov[k, o]) / s_kk
        for x, sign in ((a[k], 1.0), (b[k], -1.0)):
            m = cov[o, k] * x / s_kk
            dens = stats.norm.pdf(x, scale=np.sqrt(s_kk))
            F[k] += sign * dens * box_probability(a[o] - m, b[o] - m, cond)
    return mean + cov @ F / alpha


def mean_after_pretest(delta: np.ndarray, sigma: np.ndarray, pre: np.ndarray,
                       alpha: float) -> np.ndarray:
    """``E[beta_hat | pre-test passes]`` for every coefficient when the truth is ``delta``
    (``meanBetaPost_NIS`` for the post-period, the truncated mean for the leads)."""
    post = ~pre
    s11 = sigma[np.ix_(pre, pre)]
    h = nis_box(s11, alpha)
    pre_mean = truncated_mean(delta[pre], s11, -h, h)
    out = delta.astype(float).copy()
    out[pre] = pre_mean
    out[post] = delta[post] + sigma[np.ix_(post, pre)] @ np.linalg.solve(s11, pre_mean - delta[pre])
    return out


def bayes_factor(delta_pre: np.ndarray, sigma_pre: np.ndarray, alpha: float) -> float:
    """``P(pass | delta) / P(pass | parallel trends)`` (pretrends' "Bayes factor")."""
    h = nis_box(sigma_pre, alpha)
    return box_probability(-h - delta_pre, h - delta_pre, sigma_pre) / box_probability(
        -h, h, sigma_pre)


def likelihood_ratio(beta_pre: np.ndarray, delta_pre: np.ndarray, sigma_pre: np.ndarray) -> float:
    """Likelihood of the estimated leads under ``delta`` relative to parallel trends."""
    dist = stats.multivariate_normal(cov=sigma_pre, allow_singular=True)
    return float(np.exp(dist.logpdf(beta_pre - delta_pre) - dist.logpdf(beta_pre)))
