"""TWFE placebo estimates by Frisch-Waugh-Lovell: fixed effects absorbed once.

In ``y = tau D + X b + a_i + l_t + u`` the coefficient on a placebo treatment ``D_b`` is
``tau_b = D~_b' y~_x / D~_b' M_x D~_b``, where ``y~_x`` is the outcome net of the fixed effects
and covariates (computed once) and ``D~_b`` the two-way demeaned placebo dummy (Frisch & Waugh
1933; Lovell 1963). A permutation therefore costs the demeaning of one vector, and a batch of
permutations is demeaned as one matrix with the closed-form within transform of a balanced panel
(or pyfixest's alternating projections otherwise; see :mod:`..core.fe_ols`). With ``by`` the
placebo dummy is split by trait level and each permutation solves a K x K system. The numbers are
those of ``twfe``'s fixed-effects OLS core: same rows (singletons dropped), same estimate.

On a balanced panel without ``by`` even the demeaning is unnecessary: ``D_b' y~_x`` and
``D_b' X~`` are sums over units of per-unit tail sums that depend on the unit's placebo adoption
period only, and ``D~_b' D~_b`` is the same for every assignment with the real cohort sizes (the
two-way ANOVA decomposition of a balanced panel), so a permutation costs O(units) look-ups.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from ...data.panel import Panel
from ..core.fe_ols import demean, factor_codes, is_balanced_two_way, usable_rows
from .permute import treatment_matrix


@dataclass(frozen=True)
class TWFEDesign:
    """Everything a TWFE placebo permutation needs, computed once per panel.

    ``y_x`` is the outcome net of fixed effects and covariates; ``x_tilde`` the demeaned
    covariates and ``x_pinv`` their pseudo-inverse; ``fe_codes`` unit and period codes of the
    kept rows; ``unit_index`` the position of each row's unit in ``panel.units``; ``levels``
    (row codes of the ``by`` trait) or None.
    """

    y_x: np.ndarray
    x_tilde: np.ndarray
    x_pinv: np.ndarray
    fe_codes: np.ndarray
    unit_index: np.ndarray
    time: np.ndarray
    levels: np.ndarray | None
    n_levels: int
    sums: "CohortSums | None" = None


@dataclass(frozen=True)
class CohortSums:
    """Per-unit tail sums for the balanced look-up path: ``s_y[i, c]`` is the sum of ``y~_x``
    over unit i's periods from ``values[c]`` on (0 for ``values[c] == 0``, never treated),
    ``s_x`` the same for each demeaned covariate; ``dd`` is ``D~' D~`` of every assignment with
    the real cohort sizes and ``xtx_pinv`` the pseudo-inverse of ``X~' X~``."""

    values: np.ndarray
    s_y: np.ndarray
    s_x: np.ndarray
    xtx_pinv: np.ndarray
    dd: float


def cohort_sums(design: TWFEDesign, cohorts: np.ndarray) -> CohortSums | None:
    """The look-up tables of a balanced design without ``by`` (None otherwise); ``cohorts`` are
    the real adoption periods per unit (their multiset is kept by every permutation)."""
    if design.levels is not None or not is_balanced_two_way(design.fe_codes):
        return None
    periods, t_idx = np.unique(design.time, return_inverse=True)
    n_units, p = len(cohorts), design.x_tilde.shape[1]
    Y = np.zeros((n_units, len(periods)))
    Y[design.unit_index, t_idx] = design.y_x
    X = np.zeros((n_units, len(periods), p))
    X[design.unit_index, t_idx] = design.x_tilde
    values = np.unique(np.concatenate([[0], cohorts]))
    post = ((periods[None, :] >= values[:, None]) & (values[:, None] > 0)).astype(float)
    D = demean(treatment_matrix(design.unit_index, design.time, cohorts[None, :]),
               design.fe_codes)[:, 0]
    xtx_pinv = np.linalg.pinv(design.x_tilde.T @ design.x_tilde)
    return CohortSums(values, Y @ post.T, np.einsum("ntp,ct->ncp", X, post), xtx_pinv,
                      float(D @ D))


def lookup_estimates(sums: CohortSums, assignments: np.ndarray) -> np.ndarray:
    """TWFE placebo coefficients (``size x 1``) from the tail sums of :func:`cohort_sums`."""
    k = np.searchsorted(sums.values, assignments)
    units = np.arange(assignments.shape[1])[None, :]
    num = sums.s_y[units, k].sum(axis=1)
    dx = sums.s_x[units, k].sum(axis=1)
    den = sums.dd - np.einsum("bp,pq,bq->b", dx, sums.xtx_pinv, dx)
    return (num / den)[:, None]


def twfe_design(panel: Panel, covariates: Sequence[str], by: str | None = None) -> TWFEDesign:
    """Absorb unit and period fixed effects and ``covariates`` out of the panel's outcome once."""
    frame = panel.frame
    y = frame[panel.outcome].to_numpy(dtype=float)
    X = frame.loc[:, list(covariates)].to_numpy(dtype=float).reshape(len(frame), len(covariates))
    codes = factor_codes([frame[panel.unit].to_numpy(), frame[panel.time].to_numpy()])
    keep = usable_rows(y, X, codes, drop_singletons=True)
    codes = codes[keep]
    if not keep.all():
        codes = np.column_stack([np.unique(c, return_inverse=True)[1] for c in codes.T])
    yx = demean(np.column_stack([y[keep], X[keep]]), codes)
    y_t, x_t = yx[:, 0], yx[:, 1:]
    if x_t.shape[1]:
        x_pinv = np.linalg.pinv(x_t)
        y_t = y_t - x_t @ (x_pinv @ y_t)
    else:
        x_pinv = np.zeros((0, len(y_t)))
    levels, n_levels = None, 1
    if by is not None:
        level_codes, uniques = panel.codes(by)
        levels, n_levels = level_codes[keep], len(uniques)
    return TWFEDesign(y_t, x_t, x_pinv, codes, panel.unit_codes[keep],
                      frame[panel.time].to_numpy()[keep], levels, n_levels)


def _residualised(design: TWFEDesign, Z: np.ndarray) -> np.ndarray:
    """Columns of ``Z`` net of the fixed effects and the covariates."""
    Zt = demean(Z, design.fe_codes)
    if design.x_tilde.shape[1]:
        Zt -= design.x_tilde @ (design.x_pinv @ Zt)
    return Zt


def with_cohort_sums(design: TWFEDesign, cohorts: np.ndarray) -> TWFEDesign:
    """``design`` with the balanced look-up tables for assignments of these cohort sizes."""
    return replace(design, sums=cohort_sums(design, np.asarray(cohorts, dtype=np.int64)))


def twfe_estimates(design: TWFEDesign, assignments: np.ndarray) -> np.ndarray:
    """TWFE coefficients of the placebo treatments ``assignments`` (``size x n_units`` adoption
    periods): ``size x 1`` (ATT) or ``size x K`` (one per trait level with ``by``).

    A permutation under which some level has no treated observation gives NaN for it.
    """
    if design.sums is not None:
        return lookup_estimates(design.sums, np.atleast_2d(assignments))
    D = treatment_matrix(design.unit_index, design.time, np.atleast_2d(assignments))
    size, K = D.shape[1], design.n_levels
    if design.levels is None:
        Dt = _residualised(design, D)
        with np.errstate(invalid="ignore", divide="ignore"):
            return ((Dt.T @ design.y_x) / np.einsum("ib,ib->b", Dt, Dt))[:, None]
    onehot = np.eye(K)[design.levels]
    Z = (D[:, :, None] * onehot[:, None, :]).reshape(len(D), size * K)
    Zt = _residualised(design, Z).reshape(len(D), size, K)
    A = np.einsum("ibk,ibl->bkl", Zt, Zt)
    r = np.einsum("ibk,i->bk", Zt, design.y_x)
    out = np.full((size, K), np.nan)
    ok = (np.diagonal(A, axis1=1, axis2=2) > 1e-10).all(axis=1)
    if ok.any():
        out[ok] = np.linalg.solve(A[ok], r[ok][:, :, None])[:, :, 0]
    return out
