"""Multiplier bootstrap for estimators with unit-level influence functions.

Implements the multiplier (weighted) bootstrap of Callaway & Sant'Anna (2021, J. Econometrics
225(2), sec. 4.1) as in R ``did::mboot``: each draw perturbs the (cluster-summed) influence
functions with i.i.d. mean-zero, unit-variance multipliers (Mammen 1993 or Rademacher); the
standard error is the draws' interquartile range over that of the normal; simultaneous (sup-t)
bands use the ``interval_prob`` quantile of the largest studentised deviation across terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..constants import INTERVAL_PROB
from .aggregate import cluster_sums

MULTIPLIERS = ("mammen", "rademacher")


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap standard errors, critical value and covariance of a set of terms."""

    std_error: np.ndarray
    crit: float
    vcov: np.ndarray
    bands: str
    n_boot: int
    multiplier: str


def draw_multipliers(rng: np.random.Generator, n_boot: int, n_clusters: int,
                     kind: str = "mammen") -> np.ndarray:
    """(n_boot, n_clusters) i.i.d. multipliers with mean 0 and variance 1."""
    if kind == "mammen":
        s5 = np.sqrt(5.0)
        low = rng.random((n_boot, n_clusters)) < (s5 + 1) / (2 * s5)
        return np.where(low, (1 - s5) / 2, (1 + s5) / 2)
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=(n_boot, n_clusters))
    raise ValueError(f"multiplier: {kind!r} is not one of {list(MULTIPLIERS)}")


def multiplier_bootstrap(influence: np.ndarray, multipliers: np.ndarray, *,
                         clusters: np.ndarray | None = None, bands: str = "uniform",
                         interval_prob: float = INTERVAL_PROB, multiplier: str = "mammen"
                         ) -> BootstrapResult:
    """Bootstrap inference for terms with influence ``(n_units, k)`` (convention IF'IF/n^2).

    ``multipliers`` is (n_boot, n_clusters) from :func:`draw_multipliers`, one column per
    cluster (per unit without ``clusters``), so every aggregate of one fit shares the draws.
    """
    if bands not in ("uniform", "pointwise"):
        raise ValueError(f"bands: {bands!r} is not one of ['uniform', 'pointwise']")
    n = influence.shape[0]
    psi = influence if clusters is None else cluster_sums(influence, clusters)
    if multipliers.shape[1] != psi.shape[0]:
        raise ValueError(f"{multipliers.shape[1]} multipliers per draw for {psi.shape[0]} clusters")
    boot = multipliers @ psi / n
    q75, q25 = np.quantile(boot, [0.75, 0.25], axis=0, method="inverted_cdf")
    se = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    crit = float(stats.norm.ppf(0.5 + interval_prob / 2))
    if bands == "uniform":
        crit = uniform_critical_value(boot, se, interval_prob, fallback=crit)
    return BootstrapResult(std_error=se, crit=crit, vcov=np.atleast_2d(np.cov(boot, rowvar=False)),
                           bands=bands, n_boot=multipliers.shape[0], multiplier=multiplier)


def uniform_critical_value(boot: np.ndarray, se: np.ndarray, interval_prob: float,
                           fallback: float) -> float:
    """Quantile of ``max_k |boot_k / se_k|`` over draws: the sup-t simultaneous band's critical value."""
    ok = se > np.sqrt(np.finfo(float).eps) * 10
    if not ok.any():
        return fallback
    sup = np.max(np.abs(boot[:, ok] / se[ok]), axis=1)
    return float(np.quantile(sup, interval_prob, method="inverted_cdf"))
