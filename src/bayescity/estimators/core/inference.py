"""Wild cluster bootstrap inference for one regression coefficient.

The restricted wild cluster bootstrap (WCR, null imposed; Cameron, Gelbach & Miller 2008) with
the CRV1-studentised statistic ("WCR11"), computed as in Roodman, MacKinnon, Nielsen & Webb
(2019), "Fast and wild: Bootstrap inference in Stata using boottest", Stata Journal 19(1):
fixed effects and other regressors are partialled out once (Frisch-Waugh-Lovell), every
bootstrap statistic is a function of G-vectors and G x G matrices, and all draws are
evaluated at once from an ``n_boot x G`` weight matrix. Because the restricted residuals are
linear in the hypothesised value, the bootstrap numerator is linear and the squared
denominator quadratic in it, so the p-value function is cheap and the confidence interval is
found by inverting the test (root search on the p-value).

Everything here works on arrays or a DataFrame and is shared by every frequentist estimator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from ...constants import INTERVAL_PROB
from ...progress import track
from .params import Spec
from .seeds import RandomState, child_seeds, seed_sequence
from .fe_ols import demean
from .fe_ols import factor_codes

WILD_WEIGHTS = ("rademacher", "webb", "mammen")
#: ``wild_weights`` as a declared parameter.
WILD_WEIGHTS_PARAM = Spec("choice", "wild bootstrap weights: rademacher (fully enumerated when "
                                    "2^G <= n_boot), webb (fewer than about 12 clusters) or "
                                    "mammen", choices=WILD_WEIGHTS)
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
_MAMMEN = np.array([-(np.sqrt(5) - 1) / 2, (np.sqrt(5) + 1) / 2])
_MAMMEN_P = np.array([(np.sqrt(5) + 1) / (2 * np.sqrt(5)), (np.sqrt(5) - 1) / (2 * np.sqrt(5))])


def rademacher_enumeration(n_clusters: int) -> np.ndarray:
    """All ``2**G`` Rademacher sign vectors as a ``2**G x G`` matrix (full enumeration)."""
    bits = (np.arange(2**n_clusters)[:, None] >> np.arange(n_clusters)[None, :]) & 1
    return (2.0 * bits - 1.0)


def wild_weights(kind: str, n_clusters: int, n_boot: int,
                 rng: np.random.Generator) -> np.ndarray:
    """An ``n_boot x G`` matrix of wild bootstrap weights.

    ``rademacher``: +-1 with probability 1/2; ``webb``: the six-point distribution
    +-sqrt(1/2), +-1, +-sqrt(3/2) (Webb 2023, "Reworking wild bootstrap-based inference for
    clustered errors", Canadian Journal of Economics); ``mammen``: Mammen (1993) two-point.
    """
    if kind == "rademacher":
        return rng.integers(0, 2, size=(n_boot, n_clusters)) * 2.0 - 1.0
    if kind == "webb":
        return rng.choice(_WEBB, size=(n_boot, n_clusters))
    if kind == "mammen":
        return rng.choice(_MAMMEN, size=(n_boot, n_clusters), p=_MAMMEN_P)
    raise ValueError(f"wild_weights: {kind!r} is not one of {list(WILD_WEIGHTS)}")


def bootstrap_weights(kind: str, n_clusters: int, n_boot: int, random_state: RandomState = None,
                      full_enumeration: bool | None = None) -> tuple[np.ndarray, bool]:
    """Weights and whether they are the full enumeration.

    With Rademacher weights and ``2**G <= n_boot`` (``full_enumeration=None``) every sign vector
    is used once, as boottest does; the p-value is then exact and needs no seed.
    """
    if kind not in WILD_WEIGHTS:
        raise ValueError(f"wild_weights: {kind!r} is not one of {list(WILD_WEIGHTS)}")
    if full_enumeration is None:
        full_enumeration = kind == "rademacher" and 2**n_clusters <= n_boot
    if full_enumeration:
        if kind != "rademacher":
            raise ValueError("full enumeration is defined for Rademacher weights only")
        return rademacher_enumeration(n_clusters), True
    rng = np.random.default_rng(seed_sequence(random_state))
    return wild_weights(kind, n_clusters, n_boot, rng), False


# ----------------------------------------------------------------------------- partialling out
@dataclass(frozen=True)
class Projection:
    """The annihilator ``M_Z`` of fixed effects (integer codes) and covariates.

    ``covariates`` are stored already demeaned by the fixed effects, so that
    ``M_Z m = M_W (demean(m))`` (Frisch-Waugh-Lovell).
    """

    fe_codes: np.ndarray | None
    covariates: np.ndarray
    tol: float = 1e-10


def demean_fixed_effects(m: np.ndarray, fe_codes: np.ndarray | None, tol: float) -> np.ndarray:
    """Columns of ``m`` net of the fixed effects (the demeaning of :func:`.fe_ols.demean`)."""
    m = np.asarray(m, dtype=float)
    if fe_codes is None:
        return m.copy()

    return demean(m.reshape(len(m), -1), fe_codes, tol).reshape(m.shape)


def fe_projection(data: pd.DataFrame, fixed_effects: Sequence[str] = (),
                  covariates: Sequence[str] = (), tol: float = 1e-10) -> Projection:
    """The :class:`Projection` onto fixed effects ``fixed_effects`` and regressors ``covariates``."""
    fe = None
    if fixed_effects:

        fe = factor_codes([data[f].to_numpy() for f in fixed_effects])
    w = data.loc[:, list(covariates)].to_numpy(dtype=float).reshape(len(data), len(covariates))
    return Projection(fe, demean_fixed_effects(w, fe, tol), tol)


def residualize(projection: Projection | None, m: np.ndarray) -> np.ndarray:
    """``M_Z m``: the residuals of ``m`` (vector or matrix) on fixed effects and covariates."""
    if projection is None:
        return np.asarray(m, dtype=float).copy()
    out = demean_fixed_effects(m, projection.fe_codes, projection.tol)
    w = projection.covariates
    if w.shape[1]:
        coef, *_ = np.linalg.lstsq(w, out, rcond=None)
        out = out - w @ coef
    return out


# ----------------------------------------------------------------------------- the bootstrap
@dataclass(frozen=True)
class WildStatistics:
    """What the WCR11 bootstrap of one coefficient needs, for any hypothesised value ``b0``.

    With ``V`` the weights, ``a`` the cluster sums of ``x~ * u~(b0)`` and ``K`` the G x G
    matrix mapping weights to bootstrap cluster scores (Roodman et al. 2019, sec. 3), the
    bootstrap statistic of draw ``b`` is
    ``t*_b = (numer_y - b0 numer_x)_b / sqrt(q0 - 2 b0 q1 + b0^2 q2)_b`` and the observed one
    ``(beta_hat - b0) / scale``; neither carries a small-sample factor, which would cancel in
    the p-value.
    """

    beta_hat: float
    scale: float
    numer_y: np.ndarray
    numer_x: np.ndarray
    q0: np.ndarray
    q1: np.ndarray
    q2: np.ndarray
    n_clusters: int
    n_obs: int


def _cluster_sum_matrix(codes: np.ndarray, n_clusters: int) -> sparse.csr_matrix:
    n = len(codes)
    return sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_clusters, n))


def _rows_sum_to(k: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``k`` with its row sums set to ``target``, an identity that holds in exact arithmetic.

    With all weights equal to one the bootstrap sample is the data, so ``K_y 1`` are the
    observed cluster scores and ``K_x 1 = 0``; removing the demeaning tolerance from these
    sums keeps the +-1 draws tied with the observed statistic far from the estimate.
    """
    return k + (target - k.sum(axis=1))[:, None] / k.shape[1]


def wild_statistics(y: np.ndarray, x: np.ndarray, cluster: np.ndarray, weights: np.ndarray,
                    projection: Projection | None = None) -> WildStatistics:
    """Precompute the WCR11 bootstrap of the coefficient on ``x`` in ``y ~ x + Z``.

    ``Z`` (fixed effects and other regressors) is described by ``projection``; ``weights`` is
    ``n_boot x G`` with columns in the order of the sorted cluster levels. Implements the
    restricted wild cluster bootstrap of Cameron, Gelbach & Miller (2008) in the closed form of
    Roodman, MacKinnon, Nielsen & Webb (2019): bootstrap scores are ``K v`` with
    ``K[g, h] = x~_g' (M_X (u~ * 1_h))_g``, linear in the hypothesised value.
    """
    y_t, x_t = residualize(projection, y), residualize(projection, x)
    codes, levels = pd.factorize(np.asarray(cluster), sort=True)
    n, g = len(y_t), len(levels)
    if weights.shape[1] != g:
        raise ValueError(f"weights have {weights.shape[1]} columns for {g} clusters")
    csum = _cluster_sum_matrix(codes, g)
    a_y, a_x = csum @ (x_t * y_t), csum @ (x_t * x_t)
    denom = float(a_x.sum())
    if denom <= 1e-12 * max(float(np.dot(x, x)), 1.0):
        raise ValueError("the tested regressor is collinear with the fixed effects/covariates")
    split = np.zeros((n, 2 * g))
    split[np.arange(n), codes], split[np.arange(n), g + codes] = y_t, x_t
    k1 = csum @ (x_t[:, None] * residualize(projection, split))
    beta = float(a_y.sum() / denom)
    scores = a_y - beta * a_x
    k_y = _rows_sum_to(k1[:, :g] - np.outer(a_x, a_y) / denom, scores)
    k_x = _rows_sum_to(k1[:, g:] - np.outer(a_x, a_x) / denom, np.zeros(g))
    scale = float(np.sqrt(np.sum(scores**2)) / denom)
    vk_y, vk_x = weights @ k_y.T, weights @ k_x.T
    return WildStatistics(beta, scale, weights @ a_y, weights @ a_x,
                          np.einsum("bg,bg->b", vk_y, vk_y), np.einsum("bg,bg->b", vk_y, vk_x),
                          np.einsum("bg,bg->b", vk_x, vk_x), g, n)


def wild_tstats(stats: WildStatistics, null: float = 0.0) -> tuple[float, np.ndarray]:
    """The observed and the bootstrap t-statistics (unscaled) for ``H0: beta = null``."""
    numer = stats.numer_y - null * stats.numer_x
    den2 = np.clip(stats.q0 - 2.0 * null * stats.q1 + null * null * stats.q2, 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_boot = numer / np.sqrt(den2)
    return (stats.beta_hat - null) / stats.scale, t_boot


def wild_pvalue(stats: WildStatistics, null: float = 0.0) -> float:
    """Symmetric bootstrap p-value ``mean(|t*| >= |t|)`` (Roodman et al. 2019, sec. 3.5).

    Draws that tie with the observed statistic up to rounding count as at least as extreme:
    under full enumeration the all-ones and all-minus-ones weight vectors reproduce ``+-t``
    exactly, so the p-value is the exact randomisation p-value and never below ``2 / 2**G``.
    """
    t_obs, t_boot = wild_tstats(stats, null)
    bound = abs(t_obs) * (1.0 - 1e-7) - 1e-12
    return float(np.mean(np.abs(t_boot) >= bound))


def _interval_end(stats: WildStatistics, alpha: float, direction: int, rel_tol: float,
                  max_doublings: int) -> float:
    inside, step = stats.beta_hat, 2.0 * stats.scale
    for _ in range(max_doublings):
        outside = stats.beta_hat + direction * step
        if wild_pvalue(stats, outside) <= alpha:
            break
        inside, step = outside, 2.0 * step
    else:
        return direction * np.inf
    while abs(outside - inside) > rel_tol * stats.scale:
        mid = 0.5 * (inside + outside)
        if wild_pvalue(stats, mid) <= alpha:
            outside = mid
        else:
            inside = mid
    return 0.5 * (inside + outside)


def wild_confint(stats: WildStatistics, interval_prob: float = INTERVAL_PROB, *,
                 rel_tol: float = 1e-8, max_doublings: int = 20) -> tuple[float, float]:
    """Confidence interval ``{b0 : p(b0) > 1 - interval_prob}`` by test inversion.

    Each end is bracketed by stepping out from the estimate and found by bisection to
    ``rel_tol`` standard errors, as boottest does (Roodman et al. 2019, sec. 3.5). An end
    that is not reached within ``2**(max_doublings + 1)`` (about two million) standard errors
    is reported as infinite: so it is when no value can be rejected (fully enumerated
    Rademacher weights with ``2 / 2**G > 1 - interval_prob``, i.e. G <= 5 at 95%).
    """
    if stats.scale == 0.0:
        return stats.beta_hat, stats.beta_hat
    alpha = 1.0 - interval_prob
    return (_interval_end(stats, alpha, -1, rel_tol, max_doublings),
            _interval_end(stats, alpha, +1, rel_tol, max_doublings))


@dataclass(frozen=True)
class WildBootstrapResult:
    """A restricted wild cluster bootstrap (WCR11) test and interval for one coefficient.

    ``t_stat`` is the CRV1 t-statistic with the G/(G-1) factor only; ``p_value`` and the
    interval come from the bootstrap and do not depend on any small-sample factor.
    """

    estimate: float
    t_stat: float
    p_value: float
    lower: float
    upper: float
    null: float
    interval_prob: float
    weights: str
    n_boot: int
    n_clusters: int
    full_enumeration: bool
    bootstrap_type: str = "WCR11"

    @property
    def interval_kind(self) -> str:
        return f"wild_cluster_bootstrap_{self.weights}"


def wild_cluster_bootstrap(y: np.ndarray, x: np.ndarray, cluster: np.ndarray, *,
                           projection: Projection | None = None, null: float = 0.0,
                           weights: str = "rademacher", n_boot: int = 9999,
                           random_state: RandomState = None,
                           interval_prob: float = INTERVAL_PROB,
                           full_enumeration: bool | None = None) -> WildBootstrapResult:
    """WCR11 wild cluster bootstrap p-value for ``H0: beta = null`` and test-inversion interval.

    ``beta`` is the coefficient on ``x`` in ``y ~ x + Z`` (``Z`` given by ``projection``),
    errors clustered by ``cluster``. Cameron, Gelbach & Miller (2008); computation and interval
    as Roodman, MacKinnon, Nielsen & Webb (2019); Webb (2023) weights for few clusters.
    ``random_state``: int, SeedSequence, Generator or None (ignored under full enumeration).
    """
    n_clusters = int(pd.Series(np.asarray(cluster)).nunique())
    w, enumerated = bootstrap_weights(weights, n_clusters, n_boot, random_state, full_enumeration)
    stats = wild_statistics(np.asarray(y, float), np.asarray(x, float), cluster, w, projection)
    lower, upper = wild_confint(stats, interval_prob)
    t_stat = (stats.beta_hat - null) / (stats.scale * np.sqrt(n_clusters / (n_clusters - 1)))
    return WildBootstrapResult(stats.beta_hat, float(t_stat), wild_pvalue(stats, null),
                               float(lower), float(upper), null, interval_prob, weights,
                               len(w), n_clusters, enumerated)


def wild_bootstrap_coef(data: pd.DataFrame, outcome: str, target: str, *, cluster: str,
                        regressors: Sequence[str] = (), fixed_effects: Sequence[str] = (),
                        **options) -> WildBootstrapResult:
    """:func:`wild_cluster_bootstrap` for ``target`` in ``outcome ~ target + regressors | FE``.

    ``options`` are the keywords of :func:`wild_cluster_bootstrap` (``weights``, ``n_boot``,
    ``random_state``, ``null``, ``interval_prob``, ``full_enumeration``).
    """
    others = [r for r in regressors if r != target]
    projection = fe_projection(data, fixed_effects, others)
    return wild_cluster_bootstrap(data[outcome].to_numpy(float), data[target].to_numpy(float),
                                  data[cluster].to_numpy(), projection=projection, **options)


def wild_bootstrap_terms(data: pd.DataFrame, outcome: str, targets: Sequence[str], *,
                         cluster: str, regressors: Sequence[str] = (),
                         fixed_effects: Sequence[str] = (), random_state: RandomState = None,
                         **options) -> list[WildBootstrapResult]:
    """One :func:`wild_bootstrap_coef` per coefficient in ``targets`` of the same regression.

    ``regressors`` are the other right-hand-side variables (the targets are added to them);
    the i-th target draws its weights from the i-th child seed of ``random_state`` (see
    :func:`child_seeds`), so every term has its own reproducible stream.
    """
    seeds = child_seeds(random_state, len(targets))
    return [wild_bootstrap_coef(data, outcome, target, cluster=cluster,
                                regressors=list(dict.fromkeys([*targets, *regressors])),
                                fixed_effects=fixed_effects,
                                random_state=seed, **options)
            for target, seed in track(list(zip(targets, seeds)), wild_label(options))]


def wild_label(options: dict) -> str:
    """The progress label of a wild bootstrap over several terms."""
    return f"wild cluster bootstrap ({options.get('n_boot', 9999)} draws): terms"


def wild_term_table(terms: Sequence[object], estimates: np.ndarray, std_errors: np.ndarray,
                    boots: Sequence[WildBootstrapResult]) -> pd.DataFrame:
    """Term rows with analytic standard errors and bootstrap intervals and p-values."""
    return pd.DataFrame({"term": [str(t) for t in terms],
                         "estimate": np.asarray(estimates, dtype=float),
                         "std_error": np.asarray(std_errors, dtype=float),
                         "lower": [b.lower for b in boots], "upper": [b.upper for b in boots],
                         "p_value": [b.p_value for b in boots], "prob_positive": np.nan})
