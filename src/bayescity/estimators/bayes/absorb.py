"""Unit and period fixed effects and time-varying covariates absorbed once (Frisch-Waugh-Lovell).

With flat priors on the fixed effects and on the covariate coefficients, the Gaussian likelihood
of ``y = unit + period + X beta + Z theta + e`` integrated over them depends on the data only
through ``A = Z'MZ``, ``b = Z'My`` and ``y'My`` with ``M`` the annihilator of the fixed effects
and covariates, and on the residual degrees of freedom ``n - rank[FE, X]`` (Lindley & Smith
1972; the Bayesian counterpart of Frisch & Waugh 1933 / Lovell 1963). The demeaning is the one of
:func:`bayescity.estimators.core.fe_ols.demean` (closed form on a balanced panel, pyfixest's
alternating projections otherwise); the covariates are then partialled out through an
orthonormal basis of their demeaned columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse
from scipy.sparse.csgraph import connected_components

from ..core.fe_ols import demean

#: Columns demeaned at a time: bounds the temporaries of the within transform.
CHUNK_ENTRIES = 4_000_000
#: Relative pivot below which a demeaned covariate counts as collinear.
COLLINEAR_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class Absorber:
    """The annihilator ``M`` of two-way fixed effects (``codes``, n x 2) and covariates.

    ``q`` is an orthonormal basis (n x r) of the demeaned covariates, so that
    ``M m = demean(m) - q (q' demean(m))``; ``rank`` counts every absorbed dimension and
    ``kept`` lists the covariate columns that span ``q`` (the others are collinear with the
    fixed effects or with one another).
    """

    codes: np.ndarray
    q: np.ndarray
    rank: int
    kept: tuple[int, ...] = ()

    @property
    def n_obs(self) -> int:
        return len(self.codes)

    def apply(self, m: np.ndarray) -> np.ndarray:
        """``M m`` for an n-row array (columns demeaned in chunks)."""
        m = np.asarray(m, dtype=float)
        flat = m.reshape(len(m), -1)
        out = np.empty_like(flat)
        step = max(1, CHUNK_ENTRIES // max(len(flat), 1))
        for lo in range(0, flat.shape[1], step):
            block = demean(flat[:, lo:lo + step], self.codes)
            if self.q.shape[1]:
                block -= self.q @ (self.q.T @ block)
            out[:, lo:lo + step] = block
        return out.reshape(m.shape)


def fe_rank(codes: np.ndarray) -> int:
    """Rank of the two-way dummy matrix: levels of both factors less the connected components."""
    n_u, n_t = int(codes[:, 0].max()) + 1, int(codes[:, 1].max()) + 1
    graph = sparse.coo_matrix((np.ones(len(codes)), (codes[:, 0], n_u + codes[:, 1])),
                              shape=(n_u + n_t, n_u + n_t))
    n_comp = connected_components(graph, directed=False)[0]
    return n_u + n_t - n_comp


def covariate_basis(x_demeaned: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """Orthonormal basis of the column space of the demeaned covariates and the columns kept
    (pivoted QR; a column whose pivot is negligible is collinear and dropped)."""
    if x_demeaned.shape[1] == 0:
        return np.zeros((len(x_demeaned), 0)), ()
    q, r, pivot = linalg.qr(x_demeaned, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    keep = diag > COLLINEAR_TOL * max(diag.max(initial=0.0), 1.0)
    return q[:, keep], tuple(sorted(int(j) for j in pivot[keep]))


def make_absorber(unit_codes: np.ndarray, time_codes: np.ndarray, x: np.ndarray) -> Absorber:
    """The annihilator of unit and period effects and the covariate columns ``x`` (n x k)."""
    codes = np.column_stack([unit_codes, time_codes]).astype(np.int64)
    x = np.asarray(x, dtype=float).reshape(len(codes), -1)
    q, kept = covariate_basis(demean(x, codes)) if x.shape[1] else (np.zeros((len(codes), 0)), ())
    return Absorber(codes=codes, q=q, rank=fe_rank(codes) + q.shape[1], kept=kept)


@dataclass(frozen=True, eq=False)
class CrossProducts:
    """Sufficient statistics of the absorbed Gaussian likelihood for the basis columns ``B``:
    ``A = B'MB``, ``b = B'My``, ``yMy`` and the residual degrees of freedom ``dof``;
    ``y_absorbed`` is ``My``."""

    A: np.ndarray
    b: np.ndarray
    yMy: float
    dof: int
    y_absorbed: np.ndarray


def cross_products(absorber: Absorber, y: np.ndarray, basis: sparse.csr_matrix) -> CrossProducts:
    """``B'MB``, ``B'My`` and ``y'My`` with ``M`` the absorber, computed once per fit."""
    y_t = absorber.apply(np.asarray(y, dtype=float)[:, None])[:, 0]
    b_t = absorber.apply(basis.toarray())
    A = b_t.T @ b_t
    dof = absorber.n_obs - absorber.rank
    if dof < 2:
        raise ValueError(f"{dof} residual degrees of freedom after absorbing the fixed effects "
                         "and covariates: too few observations")
    return CrossProducts(A=0.5 * (A + A.T), b=b_t.T @ y_t, yMy=float(y_t @ y_t), dof=int(dof),
                         y_absorbed=y_t)
