"""Fixed-effects OLS on arrays: the fast path behind :mod:`bayescity.estimators.core.fixest`.

``y = X b + sum_f alpha_f[fe_f] + u`` is estimated by partialling the fixed effects out of ``y``
and ``X`` (Frisch-Waugh-Lovell) and solving OLS on the demeaned data, as pyfixest and R fixest do
(Berge 2018, "Efficient estimation of maximum likelihood models with multiple fixed-effects: the
R package FENmlm"), but without formula parsing or model-matrix construction. The numbers are
pyfixest's defaults, reproduced exactly:

* rows with a missing outcome, regressor or fixed effect are dropped, then singleton
  observations (``fixef_rm="singleton"``, pyfixest's detector);
* the demeaning is pyfixest's compiled alternating projections, except on a balanced two-way
  panel, where the closed-form within transform ``x_it - x_i. - x_.t + x_..`` is exact and
  used instead. The tolerance is 1e-10 rather than pyfixest's default 1e-6: at 1e-6 the
  result of an unbalanced panel carries an error of relative order 1e-8 that depends on the
  order in which pyfixest happens to list the fixed effects, so pyfixest run with
  ``demeaner=MapDemeaner(fixef_tol=1e-10)`` is the reference that this core matches;
* regressors collinear with the fixed effects or each other are dropped with pyfixest's
  detector (``collin_tol`` 1e-9) and reported in ``dropped``;
* covariances use pyfixest's default small-sample correction ``ssc()``: ``k_adj`` with
  ``(N-1)/(N-K)`` (``N/(N-K)`` for ``hetero``), ``G/(G-1)`` when clustered, and ``K`` = the
  regressors plus the fixed-effect levels less one per additional factor, where a fixed effect
  nested in the cluster counts one parameter only (``k_fixef="nonnested"``, as fixest);
  t degrees of freedom are ``G-1`` when clustered and ``N-K`` otherwise.

Supported: one-way clustering with CRV1, ``hetero`` (HC1) and ``iid`` errors, no weights, at
least one fixed effect. Everything else (CRV3, which refits the model without each cluster;
weights; multiway clustering; models without fixed effects) is left to pyfixest by
:func:`bayescity.estimators.core.fixest.fit_coefs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import sparse

FAST_VCOV = ("CRV1", "hetero", "iid")
FIXEF_TOL = 1e-10
COLLIN_TOL = 1e-9


@dataclass(frozen=True)
class FEOLSFit:
    """Coefficients of a fixed-effects OLS fit, their covariance and the facts for inference.

    ``names`` are the estimated coefficients (collinear regressors removed, listed in
    ``dropped``); ``kept`` flags the rows of the input used in the fit.
    """

    names: tuple[str, ...]
    estimates: np.ndarray
    vcov: np.ndarray
    n_obs: int
    n_clusters: int | None
    df_t: float
    df_k: int
    vcov_type: str
    dropped: tuple[str, ...]
    kept: np.ndarray


def factor_codes(columns: Sequence[np.ndarray]) -> np.ndarray:
    """An ``n x F`` integer matrix with the codes (0..k-1) of each fixed-effect column."""
    return np.column_stack([pd.factorize(np.asarray(c))[0] for c in columns]).astype(np.int64)


def recode(codes: np.ndarray) -> np.ndarray:
    """Codes renumbered 0..k-1 column by column (after rows were removed)."""
    out = np.empty_like(codes)
    for j in range(codes.shape[1]):
        out[:, j] = np.unique(codes[:, j], return_inverse=True)[1]
    return out


def singleton_rows(codes: np.ndarray) -> np.ndarray:
    """Rows that are alone in a level of some fixed effect (pyfixest's iterative detector)."""
    from pyfixest.core.detect_singletons import detect_singletons

    return np.asarray(detect_singletons(codes), dtype=bool)


def is_balanced_two_way(codes: np.ndarray) -> bool:
    """Whether two fixed effects form a balanced grid: every (i, t) pair exactly once."""
    if codes.shape[1] != 2:
        return False
    n_i, n_t = int(codes[:, 0].max()) + 1, int(codes[:, 1].max()) + 1
    if n_i * n_t != len(codes):
        return False
    cells = np.bincount(codes[:, 0] * n_t + codes[:, 1], minlength=n_i * n_t)
    return bool((cells == 1).all())


def within_two_way(m: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Closed-form two-way within transform of the columns of ``m`` on a balanced grid."""
    n = len(m)
    rows = np.arange(n)
    unit = sparse.csr_matrix((np.ones(n), (codes[:, 0], rows)))
    period = sparse.csr_matrix((np.ones(n), (codes[:, 1], rows)))
    unit_mean = (unit @ m) / (n / unit.shape[0])
    time_mean = (period @ m) / (n / period.shape[0])
    return m - unit_mean[codes[:, 0]] - time_mean[codes[:, 1]] + m.mean(axis=0)


def demean(m: np.ndarray, codes: np.ndarray, tol: float = FIXEF_TOL) -> np.ndarray:
    """Columns of ``m`` net of the fixed effects ``codes`` (closed form or pyfixest's MAP)."""
    m = np.ascontiguousarray(m, dtype=np.float64)
    if is_balanced_two_way(codes):
        return within_two_way(m, codes)
    from pyfixest.core.demean import demean as demean_map

    out, converged = demean_map(m, np.ascontiguousarray(codes, dtype=np.uintp),
                                np.ones(len(m)), tol=tol, maxiter=10_000)
    if not converged:
        raise RuntimeError("fixed-effect demeaning did not converge")
    return np.asarray(out)


def nested_in_cluster(codes: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """For each fixed effect, whether every one of its levels lies in a single cluster."""
    out = np.zeros(codes.shape[1], dtype=bool)
    for j in range(codes.shape[1]):
        k = int(codes[:, j].max()) + 1
        lo = np.full(k, np.iinfo(np.int64).max)
        hi = np.full(k, -1)
        np.minimum.at(lo, codes[:, j], cluster)
        np.maximum.at(hi, codes[:, j], cluster)
        out[j] = bool((lo == hi).all())
    return out


def fe_parameters(codes: np.ndarray, cluster: np.ndarray | None) -> int:
    """Fixed-effect parameters counted in K (pyfixest ``ssc(k_fixef="nonnested")``)."""
    k_fe = codes.max(axis=0) + 1
    n_fe = codes.shape[1]
    k_fe_adj = int(k_fe.sum()) - (n_fe - 1)
    if cluster is None:
        return k_fe_adj
    nested = nested_in_cluster(codes, cluster)
    if not nested.any():
        return k_fe_adj
    return k_fe_adj - int(k_fe[nested].sum()) + int(nested.sum())


def cluster_meat(scores: np.ndarray, cluster: np.ndarray, n_clusters: int) -> np.ndarray:
    """``sum_g (X_g' u_g)(X_g' u_g)'`` for cluster codes ``cluster`` (0..G-1)."""
    n = len(cluster)
    csum = sparse.csr_matrix((np.ones(n), (cluster, np.arange(n))), shape=(n_clusters, n))
    sums = np.asarray(csum @ scores)
    return sums.T @ sums


def covariance(X: np.ndarray, resid: np.ndarray, bread: np.ndarray, vcov: str,
               cluster: np.ndarray | None, df_k: int) -> tuple[np.ndarray, float, int | None]:
    """Covariance of the coefficients with pyfixest's default small-sample correction.

    Returns ``(V, df_t, G)``: CRV1 ``(N-1)/(N-K) G/(G-1) B M B``; hetero (HC1)
    ``N/(N-K) B (sum x x' u^2) B``; iid ``u'u/(N-K) B``.
    """
    n = len(resid)
    if vcov == "iid":
        return bread * (resid @ resid) / (n - df_k), float(n - df_k), None
    scores = X * resid[:, None]
    if vcov == "hetero":
        return n / (n - df_k) * (bread @ (scores.T @ scores) @ bread), float(n - df_k), None
    g = int(cluster.max()) + 1
    ssc = (n - 1) / (n - df_k) * g / (g - 1)
    return ssc * (bread @ cluster_meat(scores, cluster, g) @ bread), float(g - 1), g


def collinear_columns(xtx: np.ndarray, tol: float = COLLIN_TOL) -> np.ndarray:
    """Indices of regressors to drop given the demeaned ``X'X`` (pyfixest's detector)."""
    from pyfixest.core.collinear import find_collinear_variables

    if xtx.shape[0] == 0:
        return np.zeros(0, dtype=int)
    excluded, n_excl, all_removed = find_collinear_variables(np.ascontiguousarray(xtx), tol)
    if all_removed:
        raise ValueError("every regressor is collinear with the fixed effects")
    return np.flatnonzero(np.asarray(excluded, dtype=bool)) if n_excl else np.zeros(0, dtype=int)


def usable_rows(y: np.ndarray, X: np.ndarray, codes: np.ndarray, drop_singletons: bool) -> np.ndarray:
    """Rows with an outcome and all regressors, not singletons of a fixed effect."""
    keep = np.isfinite(y) & np.isfinite(X).all(axis=1) & (codes >= 0).all(axis=1)
    if drop_singletons:
        sub = np.flatnonzero(keep)
        alone = singleton_rows(recode(codes[sub]))
        keep[sub[alone]] = False
    return keep


def fe_ols(y: np.ndarray, X: np.ndarray, names: Sequence[str], fe_codes: np.ndarray, *,
           vcov: str = "CRV1", cluster: np.ndarray | None = None,
           drop_singletons: bool = True, fixef_tol: float = FIXEF_TOL,
           collin_tol: float = COLLIN_TOL) -> FEOLSFit:
    """OLS of ``y`` on ``X`` with the fixed effects ``fe_codes`` (``n x F`` integer codes).

    ``cluster`` holds one cluster label per row (required for CRV1). See the module docstring
    for the conventions (all pyfixest/fixest defaults).
    """
    if vcov not in FAST_VCOV:
        raise ValueError(f"fe_ols supports vcov in {FAST_VCOV}, got {vcov!r}")
    if vcov == "CRV1" and cluster is None:
        raise ValueError("vcov='CRV1' needs cluster labels")
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float).reshape(len(y), -1)
    codes = np.asarray(fe_codes).reshape(len(y), -1)
    keep = usable_rows(y, X, codes, drop_singletons)
    codes = recode(codes[keep]) if not keep.all() else codes
    yx = demean(np.column_stack([y[keep], X[keep]]), codes, fixef_tol)
    cross = yx.T @ yx
    names = [str(n) for n in names]
    drop = collinear_columns(cross[1:, 1:], collin_tol)
    cols = np.setdiff1d(np.arange(len(names)), drop)
    dropped = tuple(names[i] for i in drop)
    return _solve(yx[:, 1 + cols], cross[np.ix_(1 + cols, 1 + cols)], cross[1 + cols, 0],
                  yx[:, 0], [names[i] for i in cols], codes, vcov, cluster, keep, dropped)


def _solve(Xd: np.ndarray, xtx: np.ndarray, xty: np.ndarray, yd: np.ndarray, names: list[str],
           codes: np.ndarray, vcov: str, cluster: np.ndarray | None, keep: np.ndarray,
           dropped: tuple[str, ...]) -> FEOLSFit:
    beta = np.linalg.solve(xtx, xty)
    resid = yd - Xd @ beta
    cl = None
    if vcov == "CRV1":
        cl = pd.factorize(np.asarray(cluster)[keep])[0]
        if (cl < 0).any():
            raise ValueError("cluster labels must not be missing")
    df_k = Xd.shape[1] + fe_parameters(codes, cl)
    V, df_t, g = covariance(Xd, resid, np.linalg.inv(xtx), vcov, cl, df_k)
    return FEOLSFit(tuple(names), beta, V, int(len(yd)), g, df_t, df_k, vcov, dropped, keep)
