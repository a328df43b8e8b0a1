"""The sampling phase of the Gibbs sampler: partially collapsed Gibbs (van Dyk & Park 2008,
JASA 103(482)) with the effects integrated out of the scale update.

Given the scales ``s`` and the noise sd ``sigma`` the effects are Gaussian, so their marginal
posterior is available in closed form (the same expression as :func:`.model.marginal_loglik`):

    log p(s, sigma | y) = -dof log sigma - y'My / 2 sigma^2
                          + (log|D| - log|Q| + b'Q^-1 b / sigma^4) / 2 + log prior(s, sigma)

with ``D`` the prior precision and ``Q = A / sigma^2 + D``. Each iteration proposes all log
scales and the log noise sd at once from a multivariate t fitted to the warm-up draws
(independence Metropolis-Hastings), then draws the effects from their conditional with the
accepted state's Cholesky factor, which the acceptance step has already computed. A step moves
the scales without dragging the effects along, so groups that share information with one
another (cells nested in regions, event times and cells) no longer slow each other down; the
proposal is fixed after warm-up, so the chain targets the exact posterior.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dpotrf, dtrtrs

from .priors import log_scale_prior

#: Degrees of freedom of the proposal (heavier tails than the posterior's).
PROPOSAL_DF = 4.0
#: Widening of the warm-up proposal (a Laplace approximation, also the chains' dispersed
#: starting points) and of the sampling proposal (refitted to the warm-up draws).
WARMUP_WIDEN = 1.5
SAMPLING_WIDEN = 1.0
#: Warm-up draws (all chains) needed to refit the proposal (fewer: the first one is kept).
MIN_WARMUP = 40
#: Share of iterations that take a local random-walk step instead of the independence one.
LOCAL_SHARE = 0.3
#: Step of the finite differences behind the Laplace approximation (log scale).
HESSIAN_STEP = 1e-3


@dataclass(frozen=True)
class Proposal:
    """A multivariate t on ``(log s_1, ..., log s_K, log sigma)``."""

    mean: np.ndarray
    chol: np.ndarray
    df: float = PROPOSAL_DF

    def log_density(self, z: np.ndarray) -> np.ndarray:
        """Unnormalised log density at the rows of ``z``."""
        dev = dtrtrs(self.chol, (z - self.mean).T, lower=1)[0]
        k = self.mean.size
        return -0.5 * (self.df + k) * np.log1p((dev**2).sum(axis=0) / self.df)

    def draw(self, normals: np.ndarray, gammas: np.ndarray) -> np.ndarray:
        """Rows from standard normals (rows x k) and Gamma(df / 2) draws (rows,)."""
        scale = np.sqrt(0.5 * self.df / gammas)
        return self.mean + scale[:, None] * (normals @ self.chol.T)


def fit_proposal(z: np.ndarray, widen: float = 1.0) -> Proposal:
    """The proposal fitted to warm-up draws ``z`` (draws x dims): their mean and covariance
    (its scale multiplied by ``widen``)."""
    cov = np.atleast_2d(np.cov(z, rowvar=False)) * widen**2
    cov += np.eye(cov.shape[0]) * 1e-6
    return Proposal(mean=z.mean(axis=0), chol=np.linalg.cholesky(cov))


def marginal_state(spec, z: np.ndarray) -> tuple[np.ndarray, list]:
    """Log posterior density of each row of ``z = (log s, log sigma)`` with the effects
    integrated out (Jacobian included), and the Cholesky factors of ``Q`` (None if singular)."""
    out, factors = np.empty(len(z)), []
    p, idx = len(spec.b), np.arange(len(spec.b))
    Q = np.empty((p, p))
    for c, row in enumerate(z):
        s, sigma2 = np.exp(row[:-1]), np.exp(2 * row[-1])
        prec = spec.fixed_prec.copy()
        for j, sl in enumerate(spec.slices):
            prec[sl] = np.exp(-2 * row[j])
        np.multiply(spec.A, 1.0 / sigma2, out=Q)
        Q[idx, idx] += prec
        L, info = dpotrf(Q, lower=1, clean=0)
        if info or not np.isfinite(row).all():
            out[c], _ = -np.inf, factors.append(None)
            continue
        w = dtrtrs(L, spec.b / sigma2, lower=1)[0]
        loglik = (-0.5 * spec.dof * np.log(sigma2) - 0.5 * spec.yMy / sigma2
                  + 0.5 * np.log(prec).sum() - np.log(np.diag(L)).sum() + 0.5 * w @ w)
        prior = (log_scale_prior(s, spec.group_scale, spec.df, spec.boundary).sum()
                 + log_scale_prior(np.sqrt(sigma2), spec.sigma_scale, spec.df))
        out[c] = loglik + prior + row.sum()
        factors.append(L.copy())
    return out, factors


def log_density(spec, z: np.ndarray) -> float:
    """The collapsed log posterior density at one point ``z``."""
    return float(marginal_state(spec, z[None, :])[0][0])


def hessian(f, x: np.ndarray, h: float = HESSIAN_STEP) -> np.ndarray:
    """Central finite-difference Hessian of ``f`` at ``x``."""
    k = x.size
    H, f0, eye = np.empty((k, k)), f(x), np.eye(k) * h
    for i in range(k):
        H[i, i] = (f(x + eye[i]) - 2 * f0 + f(x - eye[i])) / h**2
        for j in range(i):
            H[i, j] = H[j, i] = (f(x + eye[i] + eye[j]) - f(x + eye[i] - eye[j])
                                 - f(x - eye[i] + eye[j]) + f(x - eye[i] - eye[j])) / (4 * h**2)
    return H


def laplace_proposal(spec, widen: float = 1.0) -> Proposal | None:
    """A t proposal at the mode of the collapsed posterior of ``(log s, log sigma)`` with the
    inverse Hessian as scale (a Laplace approximation), or None when the mode is not found."""
    from scipy.optimize import minimize

    start = np.log(np.append(0.5 * spec.group_scale, np.sqrt(spec.yMy / spec.dof)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # line-search notices; the Hessian below is what counts
        res = minimize(lambda z: -log_density(spec, z), start, method="BFGS")
    if not np.all(np.isfinite(res.x)) or not np.isfinite(res.fun):
        return None
    precision = -hessian(lambda z: log_density(spec, z), res.x)
    try:
        chol = np.linalg.cholesky(np.linalg.inv(precision) * widen**2)
    except np.linalg.LinAlgError:
        chol = np.linalg.cholesky(np.atleast_2d(res.hess_inv) * widen**2)
    return Proposal(mean=res.x, chol=chol)


def effects_from_factor(spec, L: np.ndarray, sigma2: float, z: np.ndarray) -> np.ndarray:
    """``theta = L'^-1 (L^-1 b / sigma^2 + z)``: a draw from the effects' conditional."""
    w = dtrtrs(L, spec.b / sigma2, lower=1)[0]
    return dtrtrs(L, w + z, lower=1, trans=1)[0]


@dataclass
class CollapsedState:
    """Per chain: current ``z = (log s, log sigma)``, its log density and Cholesky factor."""

    z: np.ndarray
    logp: np.ndarray
    factors: list

    @classmethod
    def from_z(cls, spec, z: np.ndarray) -> "CollapsedState":
        logp, factors = marginal_state(spec, z)
        return cls(np.array(z), logp, factors)


def collapsed_step(spec, state: CollapsedState, proposal: Proposal, normals: np.ndarray,
                   gammas: np.ndarray, uniforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One iteration for every chain: a Metropolis-Hastings step on ``(s, sigma)`` with the
    effects integrated out, then the effects from their conditional.

    Each chain picks its kernel at random (``uniforms[:, 1]``): the independence proposal, or
    with probability :data:`LOCAL_SHARE` a random walk scaled by the same covariance
    (``2.38 / sqrt(dims)``, Roberts, Gelman & Gilks 1997), which frees a chain that the
    independence kernel would leave stuck where its proposal is thin. ``normals`` holds
    ``dims`` proposal normals then ``p`` effect normals per chain; ``uniforms`` the acceptance
    and kernel uniforms. Returns the effects and the acceptance indicators; ``state`` is
    updated in place.
    """
    k = proposal.mean.size
    local = uniforms[:, 1] < LOCAL_SHARE
    walk = state.z + (2.38 / np.sqrt(k)) * (normals[:, :k] @ proposal.chol.T)
    prop = np.where(local[:, None], walk, proposal.draw(normals[:, :k], gammas))
    logp, factors = marginal_state(spec, prop)
    correction = proposal.log_density(prop) - proposal.log_density(state.z)
    log_ratio = (logp - state.logp) - np.where(local, 0.0, correction)
    accept = np.log(uniforms[:, 0]) < log_ratio
    theta = np.empty((len(prop), len(spec.b)))
    for c in range(len(prop)):
        if accept[c]:
            state.z[c], state.logp[c], state.factors[c] = prop[c], logp[c], factors[c]
        sigma2 = np.exp(2 * state.z[c, -1])
        theta[c] = effects_from_factor(spec, state.factors[c], sigma2, normals[c, k:])
    return theta, accept
