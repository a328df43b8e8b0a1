"""Synthetic control weights and in-space placebos for one treated unit (plain functions).

Abadie, Diamond & Hainmueller (2010, "Synthetic Control Methods for Comparative Case
Studies", JASA 105(490)): donor weights ``W`` on the simplex minimise
``(X1 - X0 W)' V (X1 - X0 W)`` over predictors standardised by their standard deviation across
the treated unit and the donors (R ``Synth``); the diagonal ``V`` minimises the pre-period
outcome MSPE of ``W(V)`` (the "nested" search). Inference is in space: every donor in turn
is treated as if adopted, and the treated unit's post/pre RMSPE ratio is ranked among all of
them (ADH 2010 sec. 2.4; Abadie 2021, J. Econ. Lit. 59(2), sec. 7).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, nnls


def simplex_lstsq(Z: np.ndarray) -> np.ndarray:
    """``argmin ||Z w||^2`` over the simplex, exactly, by one non-negative least squares:
    ``u = argmin_{u >= 0} ||[Z / s; 1'] u - [0; 1]||`` and ``w = u / sum(u)`` (for ``u = k v``
    with ``sum(v) = 1`` the objective is ``k^2 a + (k - 1)^2``, least ``a / (1 + a)``, increasing
    in ``a = |Z v|^2 / s^2``; the scale ``s`` keeps the two blocks comparable)."""
    scale = np.sqrt(np.mean(Z ** 2)) or 1.0
    A = np.vstack([Z / scale, np.ones((1, Z.shape[1]))])
    rhs = np.zeros(A.shape[0])
    rhs[-1] = 1.0
    u, _ = nnls(A, rhs, maxiter=50 * A.shape[1])
    return u / u.sum()


def standardise(X1: np.ndarray, X0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predictor rows divided by their sd across donors and the treated unit (R Synth)."""
    sd = np.std(np.column_stack([X0, X1]), axis=1, ddof=1)
    sd = np.where(sd > 0, sd, 1.0)
    return X1 / sd, X0 / sd[:, None]


def weights_for(X1s: np.ndarray, X0s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``W(V)`` for a diagonal ``V`` (standardised predictors)."""
    return simplex_lstsq(np.sqrt(v)[:, None] * (X0s - X1s[:, None]))


def _softmax(theta: np.ndarray) -> np.ndarray:
    e = np.exp(theta - theta.max())
    return e / e.sum()


def nested_v(X1s: np.ndarray, X0s: np.ndarray, Z1: np.ndarray, Z0: np.ndarray) -> np.ndarray:
    """The diagonal ``V`` (summing to one) whose weights minimise the pre-period outcome MSPE
    ``|Z1 - Z0 W(V)|^2``: Nelder-Mead from equal weights and from inverse predictor variances,
    then a Powell polish (R Synth's nested search; diff-diff's ``v_method="nested"``)."""
    k = X1s.size
    if k == 1:
        return np.ones(1)

    def loss(theta: np.ndarray) -> float:
        w = weights_for(X1s, X0s, _softmax(theta))
        return float(np.mean((Z1 - Z0 @ w) ** 2))

    starts = [np.zeros(k)]
    var = np.var(np.column_stack([X0s, X1s]), axis=1, ddof=1)
    if np.all(var > 0):
        starts.append(-np.log(var) + np.log(var).mean())
    opts = {"maxiter": 200 * k, "xatol": 1e-6, "fatol": 1e-10}
    best = min((minimize(loss, s, method="Nelder-Mead", options=opts) for s in starts),
               key=lambda r: r.fun)
    polish = minimize(loss, best.x, method="Powell", options={"xtol": 1e-6, "ftol": 1e-10})
    return _softmax(polish.x if polish.fun < best.fun else best.x)


@dataclass(frozen=True)
class SynthFit:
    """One synthetic control: donor weights, predictor weights, the gap path and its fit."""

    weights: np.ndarray
    v: np.ndarray
    gap: np.ndarray
    pre_rmspe: float
    post_rmspe: float

    @property
    def ratio(self) -> float:
        return self.post_rmspe / self.pre_rmspe if self.pre_rmspe > 0 else np.inf


def synth_fit(y1: np.ndarray, Y0: np.ndarray, X1: np.ndarray, X0: np.ndarray, t0: int,
              nested: bool) -> SynthFit:
    """Synthetic control of the path ``y1`` (T) from donor paths ``Y0`` (T x J) with
    predictors ``X1`` (k) and ``X0`` (k x J); ``t0`` pre-periods. Without ``nested`` ``V`` is
    the identity on the raw predictors (with every pre-period outcome as predictors this is
    the outcome-MSPE fit, the nested search's optimum)."""
    if nested:
        X1s, X0s = standardise(X1, X0)
        v = nested_v(X1s, X0s, y1[:t0], Y0[:t0])
        w = weights_for(X1s, X0s, v)
    else:
        v = np.full(X1.size, 1.0 / X1.size)
        w = weights_for(X1, X0, v)
    gap = y1 - Y0 @ w
    pre = float(np.sqrt(np.mean(gap[:t0] ** 2)))
    post = float(np.sqrt(np.mean(gap[t0:] ** 2)))
    return SynthFit(w, v, gap, pre, post)


def in_space_placebos(y1: np.ndarray, Y0: np.ndarray, X1: np.ndarray, X0: np.ndarray, t0: int,
                      nested: bool) -> list[SynthFit]:
    """Each donor in turn synthesised from the other donors and the treated unit ("shifting
    California to the donor pool", ADH 2010 p. 501; diff-diff's ``in_space_placebo``), so all
    the ranked ratios come from one construction."""
    Y = np.column_stack([Y0, y1])
    X = np.column_stack([X0, X1])
    out = []
    for j in range(Y0.shape[1]):
        rest = np.delete(np.arange(Y.shape[1]), j)
        out.append(synth_fit(Y[:, j], Y[:, rest], X[:, j], X[:, rest], t0, nested))
    return out


def ratio_p_value(treated: SynthFit, placebos: list[SynthFit]) -> tuple[float, int]:
    """Permutation p-value of the post/pre RMSPE ratio: the share of units (the treated one
    included) whose ratio is at least the treated unit's, and the treated unit's rank."""
    ratios = np.array([p.ratio for p in placebos])
    rank = int((ratios >= treated.ratio).sum()) + 1
    return rank / (len(placebos) + 1), rank
