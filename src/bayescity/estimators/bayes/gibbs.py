"""Blocked conjugate Gibbs sampler for the Gaussian hierarchical DID (the default sampler).

The fixed effects and covariates are integrated out (:mod:`.absorb`), so the likelihood of the
effects ``theta`` is ``N`` with sufficient statistics ``A, b, y'My`` and ``dof`` residual degrees
of freedom. Warm-up iterations sweep these blocks, for all chains at once:

1. ``theta`` given the scales and the noise variance: one Gaussian draw of the whole effect block
   (precision ``A / sigma^2 + diag(1 / s^2)``, one Cholesky factor per chain);
2. each learned scale ``s_k`` of a group of deviations by parameter expansion (Gelman 2006,
   Bayesian Analysis 1(3), sec. 5; Gelman, van Dyk, Huang & Boscardin 2008, JCGS 17(1)):
   ``theta_k = xi_k eta_k`` with ``eta_k ~ N(0, tau_k^2)``, ``xi_k ~ N(0, A_k^2)`` and
   ``tau_k^2 ~ Inv-chi^2(nu, 1)``, so that ``s_k = |xi_k| tau_k`` has the half-t(nu, A_k)
   prior; ``tau_k^2`` given ``eta_k`` is inverse gamma and the multipliers ``xi`` given ``eta``
   are jointly Gaussian. The redundant multiplier rescales a whole group at once, which keeps
   the chain moving when the data say little about a group (where the plain Gibbs step
   sticks near zero). With half-normal priors (``scale_df: null``) ``tau_k = 1`` and a centred
   Metropolis step on ``s_k`` given ``theta_k`` takes its place. A boundary-avoiding prior
   (half-t density times ``s_k``, :mod:`.priors`) multiplies the joint prior of ``xi_k`` and
   ``tau_k`` by ``|xi_k| tau_k``: ``tau_k^2`` stays inverse gamma (shape less one half) and the
   Gaussian draw of the multipliers becomes an independence Metropolis proposal accepted with
   probability ``min(1, prod |xi_k'| / |xi_k|)`` over those groups;
3. the noise variance by an independence Metropolis step whose proposal is its conditional
   under a flat prior on ``sigma`` (inverse gamma); the acceptance ratio is the half-t prior
   ratio (close to one with thousands of observations).

The second half of the warm-up and the sampling phase run the partially collapsed sampler of
:mod:`.collapsed` (scales and noise sd proposed jointly with the effects integrated out,
effects drawn exactly), whose proposal is fitted to the warm-up (:func:`run_chains`). Every step leaves the posterior of the
model in :mod:`.model` invariant, so NUTS on that model and this sampler target the same
distribution. Each chain has its own random stream (children of
one ``SeedSequence``); chains run vectorised in groups on two threads with single-threaded BLAS
(LAPACK releases the GIL), so the draws do not depend on how chains are grouped.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.linalg.lapack import dpotrf, dtrtrs

from .design import TreatmentDesign
from .collapsed import (MIN_WARMUP, SAMPLING_WIDEN, WARMUP_WIDEN, CollapsedState, Proposal,
                        collapsed_step, fit_proposal, laplace_proposal)
from .priors import BOUNDARY_KEYS, Priors, log_scale_prior


@dataclass(frozen=True)
class GibbsDraws:
    """Draws after warm-up: ``theta`` (chains, draws, params), learned ``scales`` (chains,
    draws, groups), noise ``sigma`` (chains, draws) and ``accept`` (chains, draws), whether
    each iteration's Metropolis step on the scales and noise sd was accepted."""

    theta: np.ndarray
    scales: np.ndarray
    sigma: np.ndarray
    accept: np.ndarray


@dataclass(frozen=True)
class _Spec:
    """Arrays the sampler needs, in standardised units."""

    A: np.ndarray
    b: np.ndarray
    yMy: float
    dof: int
    fixed_prec: np.ndarray
    slices: tuple[slice, ...]
    group_scale: np.ndarray
    sizes: np.ndarray
    df: float | None
    sigma_scale: float
    boundary: np.ndarray


def sampler_spec(design: TreatmentDesign, priors: Priors) -> _Spec:
    """Prior precisions and learned groups of ``design`` under ``priors``."""
    prec = np.zeros(design.n_params)
    slices, scales, boundary = [], [], []
    for comp in design.components:
        scale = getattr(priors, comp.prior)
        if comp.learned:
            slices.append(slice(comp.start, comp.stop))
            scales.append(scale)
            boundary.append(comp.prior in BOUNDARY_KEYS)
        else:
            prec[comp.start:comp.stop] = 1.0 / scale**2
    s = design.stats
    return _Spec(A=s.A, b=s.b, yMy=s.yMy, dof=s.dof, fixed_prec=prec, slices=tuple(slices),
                 group_scale=np.array(scales, dtype=float),
                 sizes=np.array([sl.stop - sl.start for sl in slices], dtype=float),
                 df=priors.scale_df, sigma_scale=priors.sigma,
                 boundary=np.array(boundary, dtype=bool))


Rngs = Sequence[np.random.Generator]

#: Iterations whose random numbers each chain draws at once.
BLOCK = 250


class Randoms:
    """Every random number an iteration needs, drawn per chain in blocks of :data:`BLOCK`
    iterations from the chain's own stream: standard normals (effects, then multipliers),
    gammas with the sampler's fixed shapes (expansion variances, noise sd, centred steps) and
    uniforms (noise sd, centred steps, multipliers)."""

    def __init__(self, rngs: Rngs, n_normal: int, gamma_shapes: np.ndarray, n_uniform: int):
        self.rngs, self.n_normal, self.n_uniform = list(rngs), n_normal, n_uniform
        self.shapes = np.asarray(gamma_shapes, dtype=float)
        self.pos = BLOCK

    def _refill(self) -> None:
        self.z = np.stack([r.standard_normal((BLOCK, self.n_normal)) for r in self.rngs], 1)
        self.g = np.stack([r.standard_gamma(self.shapes, (BLOCK, self.shapes.size))
                           for r in self.rngs], 1)
        self.u = np.stack([r.uniform(size=(BLOCK, self.n_uniform)) for r in self.rngs], 1)
        self.pos = 0

    def next(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(chains x normals, chains x gammas, chains x uniforms) of the next iteration."""
        if self.pos == BLOCK:
            self._refill()
        i, self.pos = self.pos, self.pos + 1
        return self.z[i], self.g[i], self.u[i]


def randoms_for(spec: "_Spec", rngs: Rngs) -> Randoms:
    """The block layout of :class:`Randoms` for ``spec``."""
    k = len(spec.slices)
    centred = np.maximum(0.5 * (spec.sizes - 1.0), 1.0) if spec.df is None else np.zeros(0)
    tau = (0.5 * (spec.df + spec.sizes - spec.boundary) if spec.df is not None
           else np.zeros(0))
    shapes = np.concatenate([tau, [0.5 * (spec.dof - 1.0)], centred])
    return Randoms(rngs, len(spec.b) + k, shapes, 2 + centred.size)


def draw_theta(spec: _Spec, prec: np.ndarray, sigma2: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``theta | scales, sigma^2`` for every row (chain or draw) given standard normals ``z``:
    one Cholesky factor ``L`` of the precision ``Q = A / sigma^2 + diag(prec)`` each, then
    ``theta = L'^-1 (L^-1 b / sigma^2 + z)``."""
    n_rows, p = prec.shape
    idx = np.arange(p)
    out = np.empty((n_rows, p))
    Q = np.empty((p, p))
    for c in range(n_rows):
        np.multiply(spec.A, 1.0 / sigma2[c], out=Q)
        Q[idx, idx] += prec[c]
        L, info = dpotrf(Q, lower=1, clean=0)
        if info:
            raise np.linalg.LinAlgError("the effects' precision is not positive definite")
        w = dtrtrs(L, spec.b / sigma2[c], lower=1)[0]
        out[c] = dtrtrs(L, w + z[c], lower=1, trans=1)[0]
    return out


def draw_multipliers(spec: _Spec, theta: np.ndarray, xi: np.ndarray, sigma2: np.ndarray,
                     z: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parameter-expansion step: ``xi | eta`` (jointly Gaussian; a Metropolis step with that
    proposal for boundary-avoiding priors, uniforms ``u``); returns ``theta`` and ``xi``."""
    eta = [theta[:, sl] / xi[:, [j]] for j, sl in enumerate(spec.slices)]
    fixed = theta.copy()
    for sl in spec.slices:
        fixed[:, sl] = 0.0
    resid_b = spec.b[None, :] - fixed @ spec.A
    AH = np.stack([e @ spec.A[sl, :] for e, sl in zip(eta, spec.slices)], axis=2)
    HAH = np.stack([np.einsum("cj,cjl->cl", e, AH[:, sl, :])
                    for e, sl in zip(eta, spec.slices)], axis=1)
    m = np.stack([np.einsum("cj,cj->c", e, resid_b[:, sl])
                  for e, sl in zip(eta, spec.slices)], axis=1) / sigma2[:, None]
    P = HAH / sigma2[:, None, None] + np.diag(1.0 / spec.group_scale**2)[None]
    L = np.linalg.cholesky(P)
    mean = np.linalg.solve(P, m[:, :, None])[:, :, 0]
    new_xi = mean + np.linalg.solve(np.swapaxes(L, 1, 2), z[:, :, None])[:, :, 0]
    if spec.boundary.any():
        b = spec.boundary
        log_ratio = np.log(np.abs(new_xi[:, b])).sum(axis=1) - np.log(np.abs(xi[:, b])).sum(axis=1)
        new_xi = np.where((np.log(u) < log_ratio)[:, None], new_xi, xi)
    out = theta.copy()
    for j, (e, sl) in enumerate(zip(eta, spec.slices)):
        out[:, sl] = new_xi[:, [j]] * e
    return out, new_xi


def draw_expansion_variances(spec: _Spec, theta: np.ndarray, xi: np.ndarray,
                             g: np.ndarray) -> np.ndarray:
    """``tau_k^2 | eta_k ~ Inv-Gamma((nu + n_k) / 2, (nu + |eta_k|^2) / 2)`` given standard
    gamma draws ``g`` of those shapes (ones for half-normal priors)."""
    if spec.df is None:
        return np.ones_like(xi)
    ss = np.stack([((theta[:, sl] / xi[:, [j]]) ** 2).sum(axis=1)
                   for j, sl in enumerate(spec.slices)], axis=1)
    return 0.5 * (spec.df + ss) / g


def mh_scale(old: np.ndarray, ss: np.ndarray, g: np.ndarray, u: np.ndarray,
             log_prior) -> tuple[np.ndarray, np.ndarray]:
    """Independence Metropolis step for scales ``s`` (chains, k) with likelihood
    ``s^-n exp(-ss / 2s^2)``: the proposal is their conditional under a flat prior on ``s``
    (``s^2 ~ Inv-Gamma((n - 1) / 2, ss / 2)``, from standard gammas ``g`` of shape
    ``(n - 1) / 2``), accepted with the prior ratio (uniforms ``u``)."""
    prop = np.sqrt(0.5 * ss / g)
    accept = np.log(u) < log_prior(prop) - log_prior(old)
    return np.where(accept, prop, old), accept


def centred_scale_step(spec: _Spec, theta: np.ndarray, xi: np.ndarray, g: np.ndarray,
                       u: np.ndarray) -> np.ndarray:
    """Half-normal case: Metropolis step on ``|xi_k|`` given ``theta_k`` (groups of size >= 2)."""
    ss = np.stack([(theta[:, sl] ** 2).sum(axis=1) for sl in spec.slices], axis=1)
    ok = spec.sizes >= 2
    if not ok.any():
        return xi
    new, _ = mh_scale(np.abs(xi[:, ok]), ss[:, ok], g[:, ok], u[:, ok],
                      lambda s: log_scale_prior(s, spec.group_scale[ok], None,
                                                spec.boundary[ok]))
    out = xi.copy()
    out[:, ok] = np.sign(xi[:, ok]) * new
    return out


def draw_sigma(spec: _Spec, theta: np.ndarray, sigma: np.ndarray, g: np.ndarray,
               u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Noise sd by an independence Metropolis step (see the module docstring)."""
    rss = spec.yMy - 2.0 * theta @ spec.b + ((theta @ spec.A) * theta).sum(axis=1)
    rss = np.maximum(rss, 1e-12 * spec.yMy)
    new, accept = mh_scale(sigma[:, None], rss[:, None], g[:, None], u[:, None],
                           lambda s: log_scale_prior(s, spec.sigma_scale, spec.df))
    return new[:, 0], accept[:, 0]


def initial_state(spec: _Spec, rngs: Rngs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dispersed starting scales (around the prior scales) and noise sd (around OLS's)."""
    k = len(spec.slices)
    u = np.stack([r.uniform(size=k) for r in rngs])
    z = np.stack([r.standard_normal(k + 1) for r in rngs])
    signs = np.where(u < 0.5, -1.0, 1.0)
    xi = signs * spec.group_scale[None, :] * np.exp(0.5 * z[:, :k])
    sigma = np.sqrt(spec.yMy / spec.dof) * np.exp(0.3 * z[:, k])
    return xi, np.ones_like(xi), sigma


def prior_precision(spec: _Spec, xi: np.ndarray, tau2: np.ndarray) -> np.ndarray:
    """Per-parameter prior precision of every chain: fixed ones, and ``1 / s_k^2`` by group."""
    prec = np.repeat(spec.fixed_prec[None, :], xi.shape[0], axis=0)
    s2 = xi**2 * tau2
    for j, sl in enumerate(spec.slices):
        prec[:, sl] = 1.0 / s2[:, [j]]
    return prec


def gibbs_step(spec: _Spec, state: tuple, randoms: Randoms) -> tuple:
    """One sweep over every block; ``state = (theta, xi, tau2, sigma, accepted)``."""
    _, xi, tau2, sigma, _ = state
    z, g, u = randoms.next()
    p, k = len(spec.b), len(spec.slices)
    theta = draw_theta(spec, prior_precision(spec, xi, tau2), sigma**2, z[:, :p])
    if k:
        if spec.df is None:
            xi = centred_scale_step(spec, theta, xi, g[:, 1:], u[:, 2:])
        tau2 = draw_expansion_variances(spec, theta, xi, g[:, :k])
        theta, xi = draw_multipliers(spec, theta, xi, sigma**2, z[:, p:], u[:, 1])
    k_tau = k if spec.df is not None else 0
    sigma, accepted = draw_sigma(spec, theta, sigma, g[:, k_tau], u[:, 0])
    return theta, xi, tau2, sigma, accepted


def run_chains(spec: _Spec, rngs: Rngs, draws: int, tune: int,
               collapsed: bool = True) -> GibbsDraws:
    """Run the chains of ``rngs`` vectorised and keep ``draws`` iterations after ``tune``.

    Partially collapsed iterations (:mod:`.collapsed`) throughout: chains start dispersed
    around the mode of the scales' posterior and propose from its Laplace approximation
    (widened) during warm-up, then from a t refitted to the second half of the warm-up. The
    blocked Gibbs sweeps run instead when ``collapsed`` is False or the mode is not found.
    """
    n, k, p = len(rngs), len(spec.slices), len(spec.b)
    out = GibbsDraws(theta=np.empty((n, draws, p)), scales=np.empty((n, draws, k)),
                     sigma=np.empty((n, draws)), accept=np.empty((n, draws), dtype=bool))
    proposal = laplace_proposal(spec, widen=WARMUP_WIDEN) if collapsed else None
    if proposal is None:
        state, randoms = _warm_sweeps(spec, rngs, tune)
        return _gibbs_phase(spec, state, randoms, out)
    randoms = Randoms(rngs, k + 1 + p, np.array([0.5 * proposal.df]), 2)
    z, g, _ = randoms.next()
    current = CollapsedState.from_z(spec, proposal.draw(z[:, :k + 1], g[:, 0]))
    if tune:
        settled = _collapsed_iterations(spec, current, proposal, randoms, tune)
        if len(settled) >= MIN_WARMUP:
            proposal = fit_proposal(settled, widen=SAMPLING_WIDEN)
    return _collapsed_iterations(spec, current, proposal, randoms, draws, out)


def _warm_sweeps(spec: _Spec, rngs: Rngs, tune: int) -> tuple[tuple, Randoms]:
    """``tune`` blocked Gibbs sweeps from dispersed starting values."""
    xi, tau2, sigma = initial_state(spec, rngs)
    state, randoms = (None, xi, tau2, sigma, None), randoms_for(spec, rngs)
    for _ in range(tune):
        state = gibbs_step(spec, state, randoms)
    return state, randoms


def _gibbs_phase(spec: _Spec, state: tuple, randoms: Randoms, out: GibbsDraws) -> GibbsDraws:
    for d in range(out.sigma.shape[1]):
        state = gibbs_step(spec, state, randoms)
        theta, xi, tau2, sigma, accepted = state
        out.theta[:, d], out.sigma[:, d], out.accept[:, d] = theta, sigma, accepted
        out.scales[:, d] = np.abs(xi) * np.sqrt(tau2)
    return out


def _collapsed_iterations(spec: _Spec, current: CollapsedState, proposal: Proposal,
                          randoms: Randoms, n_iter: int, out: GibbsDraws | None = None):
    """``n_iter`` collapsed iterations; with ``out``, record them (the sampling phase),
    otherwise return the (draws x dims) states of their second half (a warm-up window)."""
    k, kept = len(spec.slices), []
    for d in range(n_iter):
        z, g, u = randoms.next()
        theta, accepted = collapsed_step(spec, current, proposal, z, g[:, 0], u)
        if out is None:
            if 2 * d >= n_iter:
                kept.append(current.z.copy())
            continue
        out.theta[:, d], out.accept[:, d] = theta, accepted
        out.scales[:, d], out.sigma[:, d] = np.exp(current.z[:, :k]), np.exp(current.z[:, k])
    return out if out is not None else np.concatenate(kept)


#: Threads the chains are spread over (the machines this targets have two cores).
WORKERS = 2
#: Effect blocks smaller than this run all chains on one thread: below it the per-iteration
#: Python work, which holds the GIL, outweighs the LAPACK work a second thread can overlap.
THREADED_MIN_PARAMS = 200


def run_gibbs(design: TreatmentDesign, priors: Priors, *, chains: int, draws: int, tune: int,
              seed: int | np.random.SeedSequence | None, collapsed: bool = True) -> GibbsDraws:
    """Sample ``chains`` chains of ``tune + draws`` iterations, keeping the last ``draws``
    (``collapsed=False``: blocked Gibbs sweeps throughout, see :func:`run_chains`)."""
    from threadpoolctl import threadpool_limits

    spec = sampler_spec(design, priors)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rngs = [np.random.default_rng(s) for s in seq.spawn(chains)]
    workers = WORKERS if design.n_params >= THREADED_MIN_PARAMS else 1
    groups = [g for g in np.array_split(np.arange(chains), min(workers, chains)) if g.size]
    with threadpool_limits(limits=1, user_api="blas"):
        if len(groups) == 1:
            parts = [run_chains(spec, rngs, draws, tune, collapsed)]
        else:
            with ThreadPoolExecutor(len(groups)) as pool:
                parts = list(pool.map(
                    lambda g: run_chains(spec, [rngs[i] for i in g], draws, tune, collapsed),
                    groups))
    return GibbsDraws(*(np.concatenate([getattr(p, f) for p in parts])
                        for f in ("theta", "scales", "sigma", "accept")))


#: Draws whose effects are drawn together (bounds the stacked precision matrices).
CONDITIONAL_BATCH = 256


def conditional_effects(design: TreatmentDesign, priors: Priors, scales: np.ndarray,
                        sigma: np.ndarray, seed: int | np.random.SeedSequence | None) -> np.ndarray:
    """``theta`` drawn from its Gaussian conditional for each draw of the learned scales
    (samples x groups) and noise sd (samples,): completes draws of the marginal model."""
    spec = sampler_spec(design, priors)
    rng = np.random.default_rng(seed)
    out = np.empty((len(sigma), design.n_params))
    for lo in range(0, len(sigma), CONDITIONAL_BATCH):
        sl = slice(lo, lo + CONDITIONAL_BATCH)
        s = scales[sl]
        prec = prior_precision(spec, s, np.ones_like(s))
        out[sl] = draw_theta(spec, prec, sigma[sl] ** 2,
                             rng.standard_normal((len(sigma[sl]), design.n_params)))
    return out
