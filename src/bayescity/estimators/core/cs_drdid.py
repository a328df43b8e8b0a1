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
    if a.shape == (1, 1):  # intercept only (no covariates): the same test and inverse, no LAPACK
        if not a[0, 0] != 0:
            raise np.linalg.LinAlgError(f"{what}: singular design; drop collinear or constant "
                                        "covariates")
        return np.array([[1.0 / a[0, 0]]])
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


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function; exp overflows to inf for very negative scores, giving p = 0."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def logit_coef(d: np.ndarray, x: np.ndarray, w: np.ndarray, tol: float = 1e-10,
               max_iter: int = 100) -> np.ndarray:
    """Coefficients of a weighted logistic regression by Newton-Raphson."""
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        p = sigmoid(x @ beta)
        info = x.T @ ((w * p * (1 - p))[:, None] * x)
        step = _solve_inverse(info, "propensity score (perfect separation?)") @ (x.T @ (w * (d - p)))
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    return beta


def logit(d: np.ndarray, x: np.ndarray, w: np.ndarray, tol: float = 1e-10,
          max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logistic regression by Newton-Raphson: fitted probabilities and (X'WX)^-1."""
    beta = logit_coef(d, x, w, tol, max_iter)
    p = np.clip(sigmoid(x @ beta), PS_CLIP, 1 - PS_CLIP)
    info = x.T @ ((w * p * (1 - p))[:, None] * x)
    return p, _solve_inverse(info, "propensity score")


def dr_weights(d: np.ndarray, ps: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Treated weights and trimmed odds weights of the controls, ``ps / (1 - ps)`` (controls with
    ``ps >= TRIM_LEVEL`` get weight 0), as DRDID's panel estimators."""
    keep = np.ones(d.shape[0], dtype=bool)
    keep[d == 0] = ps[d == 0] < TRIM_LEVEL
    return keep * w * d, keep * w * ps * (1 - d) / (1 - ps)


def _propensity(d, x, w):
    """Propensity score, trimmed control weights and the logit's asymptotic linear representation."""
    n = d.shape[0]
    ps, cov = logit(d, x, w)
    w_treat, w_cont = dr_weights(d, ps, w)
    lin_rep = ((w * (d - ps))[:, None] * x) @ (cov * n)
    return w_treat, w_cont, lin_rep


@dataclass(frozen=True)
class DRScore:
    """The doubly robust ATT given fitted nuisances: ``att = eta_treat - eta_cont`` and the parts of
    its influence function that do not involve the estimation of the nuisances."""

    att: float
    eta_treat: float
    eta_cont: float
    resid: np.ndarray
    inf_treat: np.ndarray
    inf_cont: np.ndarray

    @property
    def influence(self) -> np.ndarray:
        """The orthogonal score's influence function (nuisances taken as known or cross-fitted)."""
        return self.inf_treat - self.inf_cont


def dr_score(dy: np.ndarray, w_treat: np.ndarray, w_cont: np.ndarray,
             fitted: np.ndarray) -> DRScore:
    """Sant'Anna & Zhao (2020, eq. 3.1) DR DID from the fitted control outcome change ``fitted``
    and the weights of :func:`dr_weights`: the treated mean of ``dy - fitted`` minus its
    odds-weighted (Hajek) control mean. With cross-fitted nuisances its influence function is
    :attr:`DRScore.influence` (Chang 2020, Econometrics Journal 23(2))."""
    resid = dy - fitted
    mt, mc = w_treat.mean(), w_cont.mean()
    eta_treat = (w_treat * resid).mean() / mt
    eta_cont = (w_cont * resid).mean() / mc
    return DRScore(att=eta_treat - eta_cont, eta_treat=eta_treat, eta_cont=eta_cont, resid=resid,
                   inf_treat=w_treat * (resid - eta_treat) / mt,
                   inf_cont=w_cont * (resid - eta_cont) / mc)


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
    and OLS outcome regression among controls, fitted in sample; the influence function adds the
    estimation effects of both to :func:`dr_score`'s."""
    w_treat, w_cont, lin_ps = _propensity(d, x, w)
    fitted, lin_ols = control_regression(dy, d, x, w)
    core = dr_score(dy, w_treat, w_cont, fitted)
    mt, mc = w_treat.mean(), w_cont.mean()
    inf_treat = core.inf_treat - lin_ols @ (w_treat[:, None] * x).mean(0) / mt
    m2 = ((w_cont * (core.resid - core.eta_cont))[:, None] * x).mean(0)
    m3 = (w_cont[:, None] * x).mean(0)
    inf_cont = core.inf_cont + (lin_ps @ m2 - lin_ols @ m3) / mc
    return TwoByTwo(core.att, inf_treat - inf_cont)


EST_METHODS = {"reg": att_reg, "ipw": att_ipw, "dr": att_dr}
