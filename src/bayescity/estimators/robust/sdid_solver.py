"""Weights of synthetic difference-in-differences for one treated block (plain functions).

The unit weights ``omega`` and time weights ``lambda`` of Arkhangelsky, Athey, Hirshberg, Imbens
& Wager (2021, "Synthetic Difference-in-Differences", AER 111(12), Algorithm 1) solve
penalised least squares problems on the simplex. R ``synthdid`` (``sc.weight.fw``) solves them
by Frank-Wolfe with an exact line search, a first round of 100 iterations, sparsification
(weights at most a quarter of the largest set to zero) and a second round of up to 10,000
iterations, stopping once an iteration lowers the objective by less than ``min_decrease**2``.
:func:`frank_wolfe` follows that algorithm step for step, but keeps ``A x``, ``A'A x`` and the
Gram matrix ``A'A`` (whole up to :data:`GRAM_MAX` weights, else column by column as vertices are
visited), so an iteration costs ``O(rows + columns)`` instead of ``O(rows x columns)``: on a
3,000-unit panel the unit-weight problem is an order of magnitude cheaper per step, and the
variance replications (hundreds of refits) become affordable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

#: R synthdid's defaults (synthdid_estimate): iterations before and after sparsification.
MAX_ITER_PRE_SPARSIFY = 100
MAX_ITER = 10_000
#: R synthdid: eta_lambda (the time-weight penalty is "infinitesimal").
ETA_LAMBDA = 1e-6
#: Up to this many weights the whole Gram matrix ``A'A`` is formed at once (one BLAS call);
#: beyond it, its columns are formed when Frank-Wolfe first visits their vertex.
GRAM_MAX = 4096


@njit(cache=True)
def _gradient_scan(Gx, c, x, eta):
    """Argmin of the half-gradient ``A'(Ax - b) + eta x``, its value and its product with x."""
    i, best, g_x = 0, np.inf, 0.0
    for j in range(x.size):
        g = Gx[j] - c[j] + eta * x[j]
        g_x += g * x[j]
        if g < best:
            best, i = g, j
    return i, best, g_x


@njit(cache=True)
def _fw_loop(A, AT, b, x, eta, zeta2, min_decrease2, max_iter, gram, seen):
    n_rows, n = A.shape
    Ax = A @ x
    Gx = AT @ Ax
    c = AT @ b
    xx = x @ x
    axax, sse = 0.0, 0.0
    for r in range(n_rows):
        axax += Ax[r] * Ax[r]
        sse += (Ax[r] - b[r]) ** 2
    i, best, g_x = _gradient_scan(Gx, c, x, eta)
    prev2, prev1 = np.inf, np.inf
    t = 0
    while t < max_iter and (t < 2 or prev2 - prev1 > min_decrease2):
        t += 1
        if not seen[i]:
            gram[i] = AT @ AT[i]
            seen[i] = True
        denom = gram[i, i] - 2.0 * Gx[i] + axax + eta * (xx - 2.0 * x[i] + 1.0)
        if x[i] != 1.0 and denom > 0:
            step = min(1.0, max(0.0, -(best - g_x) / denom))
            keep = 1.0 - step
            xx = keep * keep * xx + 2.0 * step * keep * x[i] + step * step
            ai, gi = AT[i], gram[i]
            axax, sse = 0.0, 0.0
            for r in range(n_rows):
                Ax[r] = keep * Ax[r] + step * ai[r]
                axax += Ax[r] * Ax[r]
                sse += (Ax[r] - b[r]) ** 2
            # the update of x and A'Ax fused with the next gradient scan; vertex i's own
            # step is added after the loop, its gradient corrected by eta * step (which only
            # raises it: the runner-up then wins if i led the scan)
            nxt, best, second, alt, g_x = 0, np.inf, np.inf, 0, 0.0
            for j in range(n):
                xj = keep * x[j]
                x[j] = xj
                Gx[j] = keep * Gx[j] + step * gi[j]
                g = Gx[j] - c[j] + eta * xj
                g_x += g * xj
                if g < best:
                    second, alt = best, nxt
                    best, nxt = g, j
                elif g < second:
                    second, alt = g, j
            g_i = Gx[i] - c[i] + eta * (x[i] + step)
            g_x += g_i * (x[i] + step) - (g_i - eta * step) * x[i]
            x[i] += step
            if nxt == i and g_i > second:
                nxt, best = alt, second
            elif nxt == i:
                best = g_i
            elif g_i < best:
                nxt, best = i, g_i
            i = nxt
        prev2, prev1 = prev1, zeta2 * xx + sse / n_rows
    return x


@dataclass(frozen=True)
class Problem:
    """``min zeta^2 |x|^2 + |A x - b|^2 / rows`` over the simplex, with ``A'`` and the Gram
    matrix ``A'A`` (whole, or filled as vertices are visited) shared by both solver rounds."""

    A: np.ndarray
    AT: np.ndarray
    b: np.ndarray
    gram: np.ndarray
    seen: np.ndarray


def problem(Y: np.ndarray) -> Problem:
    """R synthdid's ``sc.weight.fw`` problem with an intercept: the first ``k`` columns of ``Y``
    (rows x (k + 1)) against the last, every column centred."""
    Yc = Y - Y.mean(axis=0, keepdims=True)
    A = np.ascontiguousarray(Yc[:, :-1])
    AT = np.ascontiguousarray(A.T)
    k = A.shape[1]
    if k <= GRAM_MAX:
        gram, seen = AT @ A, np.ones(k, dtype=bool)
    else:
        gram, seen = np.empty((k, k)), np.zeros(k, dtype=bool)
    return Problem(A, AT, np.ascontiguousarray(Yc[:, -1]), gram, seen)


def frank_wolfe(prob: Problem, zeta: float, x0: np.ndarray | None, min_decrease: float,
                max_iter: int) -> np.ndarray:
    """Frank-Wolfe from ``x0`` (equal weights when None) until an iteration lowers the
    objective by less than ``min_decrease**2`` or ``max_iter`` iterations."""
    k = prob.A.shape[1]
    x = np.full(k, 1.0 / k) if x0 is None else np.array(x0, dtype=float)
    eta = prob.A.shape[0] * zeta ** 2
    return _fw_loop(prob.A, prob.AT, prob.b, x, eta, zeta ** 2, min_decrease ** 2,
                    int(max_iter), prob.gram, prob.seen)


def sparsify(v: np.ndarray) -> np.ndarray:
    """R synthdid's ``sparsify_function``: weights at most a quarter of the largest set to 0."""
    v = np.where(v <= v.max() / 4.0, 0.0, v)
    return v / v.sum()


def solve_weights(Y: np.ndarray, zeta: float, x0: np.ndarray | None,
                  min_decrease: float) -> np.ndarray:
    """Two rounds of :func:`frank_wolfe` around sparsification, as ``synthdid_estimate``."""
    prob = problem(Y)
    first = frank_wolfe(prob, zeta, x0, min_decrease, MAX_ITER_PRE_SPARSIFY)
    return frank_wolfe(prob, zeta, sparsify(first), min_decrease, MAX_ITER)


def collapsed(Y: np.ndarray, n0: int, t0: int) -> np.ndarray:
    """``(n0 + 1) x (t0 + 1)``: control rows and the treated mean, pre columns and the post
    mean (synthdid's ``collapsed.form``)."""
    top = np.column_stack([Y[:n0, :t0], Y[:n0, t0:].mean(axis=1)])
    treated = Y[n0:]
    bottom = np.append(treated[:, :t0].mean(axis=0), treated[:, t0:].mean())
    return np.vstack([top, bottom])


@dataclass(frozen=True)
class Tuning:
    """Regularisation and stopping rule of one block, fixed by its first fit and reused by
    every variance replication (R synthdid keeps them in ``attr(estimate, "opts")``)."""

    zeta_omega: float
    zeta_lambda: float
    min_decrease: float


def default_tuning(Y: np.ndarray, n0: int, t0: int) -> Tuning:
    """R synthdid's defaults: noise = sd of the first differences of the control pre-period
    block; ``zeta_omega = (N1 T1)^(1/4) noise``, ``zeta_lambda = 1e-6 noise``,
    ``min_decrease = 1e-5 noise``."""
    n1, t1 = Y.shape[0] - n0, Y.shape[1] - t0
    noise = float(np.std(np.diff(Y[:n0, :t0], axis=1), ddof=1))
    return Tuning((n1 * t1) ** 0.25 * noise, ETA_LAMBDA * noise, 1e-5 * noise)


@dataclass(frozen=True)
class BlockFit:
    """SDID on one block: controls first (``n0`` rows), pre-periods first (``t0`` columns)."""

    tau: float
    omega: np.ndarray
    lam: np.ndarray
    curve: np.ndarray
    tuning: Tuning


def sdid_block(Y: np.ndarray, n0: int, t0: int, tuning: Tuning | None = None,
               omega0: np.ndarray | None = None, lambda0: np.ndarray | None = None,
               solve: bool = True) -> BlockFit:
    """Synthetic DID on a block design (Arkhangelsky et al. 2021, Algorithm 1; R
    ``synthdid_estimate`` without covariates): unit and time weights, the estimate
    ``tau = (treated - omega'controls)`` post mean minus its ``lambda``-weighted pre mean, and
    the per-period effects whose mean is ``tau`` (``synthdid_effect_curve``). With
    ``solve=False`` the given weights are used as they are (the fixed-weight jackknife)."""
    tuning = default_tuning(Y, n0, t0) if tuning is None else tuning
    if solve:
        Yc = collapsed(Y, n0, t0)
        lam = solve_weights(Yc[:n0, :], tuning.zeta_lambda, lambda0, tuning.min_decrease)
        omega = solve_weights(Yc[:, :t0].T, tuning.zeta_omega, omega0, tuning.min_decrease)
    else:
        lam, omega = np.asarray(lambda0, float), np.asarray(omega0, float)
    gap = Y[n0:].mean(axis=0) - omega @ Y[:n0]
    curve = gap[t0:] - gap[:t0] @ lam
    return BlockFit(float(curve.mean()), omega, lam, curve, tuning)


def sum_normalize(v: np.ndarray) -> np.ndarray:
    """``v / sum(v)``, or equal weights when ``v`` sums to zero (synthdid's sum_normalize)."""
    total = v.sum()
    return v / total if total != 0 else np.full(v.size, 1.0 / v.size)
