"""Wild cluster bootstrap of a joint Wald test (e.g. equal effects across regions).

The restricted wild cluster bootstrap (WCR; Cameron, Gelbach & Miller 2008) of the CRV1 Wald
statistic for ``H0: R b = 0`` in ``y = X b + Z a + u`` (``Z``: fixed effects and covariates,
partialled out once by Frisch-Waugh-Lovell with :mod:`..core.inference`'s projection). As in
Roodman, MacKinnon, Nielsen & Webb (2019, Stata Journal 19(1), sec. 3-4), every bootstrap
cluster score is linear in the weights, ``s_g(v) = sum_h Q[g, :, h] v_h``, so all draws are
evaluated from G x K x G arrays without re-estimating: the restricted residuals are split by
cluster and partialled out once. With one restriction the statistic is the squared WCR11 t of
:func:`..core.inference.wild_bootstrap_coef` and gives the same p-value on the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ..core.inference import Projection, demean_fixed_effects

#: Bootstrap draws evaluated together (memory: draws x clusters x regressors).
DRAW_BATCH = 2000


@dataclass(frozen=True)
class WildWald:
    """A wild-bootstrap Wald test: the observed statistic (Wald / q, CRV1 without small-sample
    factors, which cancel) and the share of bootstrap statistics at least as large."""

    statistic: float
    q: int
    p_value: float
    n_boot: int
    n_clusters: int


def _cluster_matrix(codes: np.ndarray, n_clusters: int) -> sparse.csr_matrix:
    n = len(codes)
    return sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_clusters, n))


def _annihilator(projection: Projection | None):
    """``m -> M_Z m`` for the projection's fixed effects and covariates, with the covariates'
    orthonormal basis computed once (instead of a least-squares solve per call)."""
    if projection is None:
        return lambda m: np.asarray(m, dtype=float).copy()
    W, Q = projection.covariates, None
    if W.shape[1]:
        U, sv, _ = np.linalg.svd(W, full_matrices=False)
        Q = U[:, sv > sv.max() * max(W.shape) * np.finfo(float).eps]  # rank-revealing basis

    def apply(m: np.ndarray) -> np.ndarray:
        out = demean_fixed_effects(m, projection.fe_codes, projection.tol)
        return out if Q is None else out - Q @ (Q.T @ out)

    return apply


def _wald(rb: np.ndarray, rvr: np.ndarray) -> np.ndarray:
    """``rb' rvr^{-1} rb`` for stacked draws (``rb``: B x q, ``rvr``: B x q x q)."""
    return np.einsum("bq,bq->b", rb, np.linalg.solve(rvr, rb[:, :, None])[:, :, 0])


def wild_wald_test(y: np.ndarray, X: np.ndarray, cluster: np.ndarray, R: np.ndarray,
                   weights: np.ndarray, projection: Projection | None = None) -> WildWald:
    """WCR bootstrap p-value of ``H0: R b = 0`` for the coefficients on ``X`` (n x K).

    ``weights`` is ``n_boot x G`` (columns in the order of the sorted cluster labels, e.g. from
    :func:`..core.inference.bootstrap_weights`); ``projection`` describes ``Z``.
    """
    residualize = _annihilator(projection)
    y_t, X_t = residualize(y), residualize(np.atleast_2d(X.T).T)
    R = np.atleast_2d(R)
    codes, levels = pd.factorize(np.asarray(cluster), sort=True)
    G, K = len(levels), X_t.shape[1]
    if weights.shape[1] != G:
        raise ValueError(f"weights have {weights.shape[1]} columns for {G} clusters")
    csum = _cluster_matrix(codes, G)
    A_inv = np.linalg.inv(X_t.T @ X_t)
    b = A_inv @ (X_t.T @ y_t)
    b_r = b - A_inv @ R.T @ np.linalg.solve(R @ A_inv @ R.T, R @ b)
    scores = np.asarray(csum @ (X_t * (y_t - X_t @ b)[:, None]))
    V = A_inv @ scores.T @ scores @ A_inv
    observed = float(_wald((R @ b)[None, :], (R @ V @ R.T)[None])[0])
    u_r = y_t - X_t @ b_r
    split = np.zeros((len(u_r), G))
    split[np.arange(len(u_r)), codes] = u_r
    U = residualize(split)
    KK = np.stack([np.asarray(csum @ (X_t[:, [k]] * U)) for k in range(K)], axis=1)
    C = np.stack([np.column_stack([csum @ (X_t[:, k] * X_t[:, m]) for m in range(K)])
                  for k in range(K)], axis=1)
    S0 = np.asarray(csum @ (X_t * u_r[:, None])).T
    Q = KK - np.einsum("gkl,lm,mh->gkh", C, A_inv, S0)
    RAS = R @ A_inv @ S0
    boot = np.concatenate([_boot_stats(Q, A_inv, R, RAS, weights[i:i + DRAW_BATCH])
                           for i in range(0, len(weights), DRAW_BATCH)])
    p = float(np.mean(boot >= observed * (1.0 - 1e-7) - 1e-12))
    q = R.shape[0]
    return WildWald(observed / q, q, p, len(weights), G)


def _boot_stats(Q: np.ndarray, A_inv: np.ndarray, R: np.ndarray, RAS: np.ndarray,
                v: np.ndarray) -> np.ndarray:
    """Bootstrap Wald statistics of the draws ``v`` (B x G)."""
    s = np.einsum("gkh,bh->bgk", Q, v)
    meat = np.einsum("bgk,bgl->bkl", s, s)
    RA = R @ A_inv
    rvr = np.einsum("qk,bkl,pl->bqp", RA, meat, RA)
    return _wald(v @ RAS.T, rvr)
