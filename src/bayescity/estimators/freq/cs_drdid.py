"""Two-group, two-period DID estimators for panel data with their influence functions.

Each function takes, for the units of one 2x2 comparison, the outcome change ``dy``, the treated
indicator ``d``, covariates ``x`` (first column the intercept) and sampling weights ``w`` and
returns the ATT with its influence function scaled so that ``var = sum(inf**2) / n**2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Propensity scores are kept in [PS_CLIP, 1 - PS_CLIP]; controls with ps >= TRIM_LEVEL get weight 0.
PS_CLIP, TRIM_LEVEL = 1e-6, 0.995


@dataclass(frozen=True)
class TwoByTwo:
    att: float
    influence: np.ndarray


def _solve_inverse(a: np.ndarray, what: str) -> np.ndarray:
    s = np.linalg.svd(a, compute_uv=False)
    if s[-1] <= s[0] * np.finfo(float).eps * a.shape[0]:
        raise np.linalg.LinAlgError(f"{what}: singular design; drop collinear or constant covariates")
    return np.linalg.inv(a)


def control_regression(dy: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted OLS of ``dy`` on ``x`` among controls: fitted changes for all units and the
    asymptotic linear representation of the coefficients (n x k)."""
    n = dy.shape[0]
    w_ols = w * (1 - d)
    xtwx = x.T @ (w_ols[:, None] * x) / n
    inv = _solve_inverse(xtwx, "outcome regression")
    beta = inv @ (x.T @ (w_ols * dy) / n)
    fitted = x @ beta
    return fitted, ((w_ols * (dy - fitted))[:, None] * x) @ inv


def logit(d: np.ndarray, x: np.ndarray, w: np.ndarray, tol: float = 1e-10,
          max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logistic regression by Newton-Raphson: fitted probabilities and (X'WX)^-1."""
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        info = x.T @ ((w * p * (1 - p))[:, None] * x)
        step = _solve_inverse(info, "propensity score (perfect separation?)") @ (x.T @ (w * (d - p)))
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    p = np.clip(1.0 / (1.0 + np.exp(-(x @ beta))), PS_CLIP, 1 - PS_CLIP)
    info = x.T @ ((w * p * (1 - p))[:, None] * x)
    return p, _solve_inverse(info, "propensity score")


def _propensity(d, x, w):
    """Propensity score, trimmed control weights and the logit's asymptotic linear representation."""
    n = d.shape[0]
    ps, cov = logit(d, x, w)
    keep = np.ones(n, dtype=bool)
    keep[d == 0] = ps[d == 0] < TRIM_LEVEL
    w_cont = keep * w * ps * (1 - d) / (1 - ps)
    lin_rep = ((w * (d - ps))[:, None] * x) @ (cov * n)
    return keep * w * d, w_cont, lin_rep


def att_reg(dy: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray) -> TwoByTwo:
    """Outcome-regression DID (Heckman, Ichimura & Todd 1997), as DRDID's ``reg_did_panel``."""
    fitted, lin_ols = control_regression(dy, d, x, w)
    w_treat = w * d
    mt = w_treat.mean()
    eta_treat = (w_treat * dy).mean() / mt
    eta_cont = (w_treat * fitted).mean() / mt
    inf_treat = w_treat * (dy - eta_treat) / mt
    inf_cont = (w_treat * (fitted - eta_cont) + lin_ols @ (w_treat[:, None] * x).mean(0)) / mt
    return TwoByTwo(eta_treat - eta_cont, inf_treat - inf_cont)


def att_ipw(dy: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray) -> TwoByTwo:
    """Normalised (Hajek) inverse-probability-weighted DID (Abadie 2005), as DRDID's
    ``std_ipw_did_panel``."""
    w_treat, w_cont, lin_ps = _propensity(d, x, w)
    mt, mc = w_treat.mean(), w_cont.mean()
    eta_treat = (w_treat * dy).mean() / mt
    eta_cont = (w_cont * dy).mean() / mc
    inf_treat = w_treat * (dy - eta_treat) / mt
    m2 = ((w_cont * (dy - eta_cont))[:, None] * x).mean(0)
    inf_cont = (w_cont * (dy - eta_cont) + lin_ps @ m2) / mc
    return TwoByTwo(eta_treat - eta_cont, inf_treat - inf_cont)


def att_dr(dy: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray) -> TwoByTwo:
    """Locally efficient doubly robust DID of Sant'Anna & Zhao (2020, J. Econometrics 219(1),
    eq. 3.1; DRDID's ``drdid_panel``, R ``did``'s ``est_method="dr"``): logit propensity score
    and OLS outcome regression among controls."""
    w_treat, w_cont, lin_ps = _propensity(d, x, w)
    fitted, lin_ols = control_regression(dy, d, x, w)
    resid = dy - fitted
    mt, mc = w_treat.mean(), w_cont.mean()
    eta_treat = (w_treat * resid).mean() / mt
    eta_cont = (w_cont * resid).mean() / mc
    inf_treat = (w_treat * (resid - eta_treat) - lin_ols @ (w_treat[:, None] * x).mean(0)) / mt
    m2 = ((w_cont * (resid - eta_cont))[:, None] * x).mean(0)
    m3 = (w_cont[:, None] * x).mean(0)
    inf_cont = (w_cont * (resid - eta_cont) + lin_ps @ m2 - lin_ols @ m3) / mc
    return TwoByTwo(eta_treat - eta_cont, inf_treat - inf_cont)


EST_METHODS = {"reg": att_reg, "ipw": att_ipw, "dr": att_dr}
