"""Batched DEA envelopment programmes: many small linear programmes in one sparse HiGHS call.

Every DEA score is the optimum of a small linear programme whose constraint matrix is the same
reference technology for all evaluated units; only one column and the right-hand side change. The
programmes of a whole period are therefore stacked into one block-diagonal sparse programme and
solved by a single :func:`scipy.optimize.linprog` call (HiGHS), whose optimum separates into the
optima of the blocks.
"""

from __future__ import annotations

import numpy as np

#: Phase-one excess below which an evaluated unit counts as inside the reference technology.
FEASIBILITY_TOL = 1e-9

RTS_CHOICES = ("crs", "vrs")
ORIENTATION_CHOICES = ("output", "input")


class TFPParamError(ValueError):
    """A TFP parameter with a value it cannot take; the message starts with the parameter name."""


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` or raise :class:`TFPParamError` naming the parameter and allowed values."""
    if value not in choices:
        raise TFPParamError(f"{name}: must be one of {', '.join(choices)}; got {value!r}")
    return value


def _block_programme(R: np.ndarray, first: np.ndarray, rhs: np.ndarray, sense: float,
                     vrs: bool) -> dict:
    """The block-diagonal programme ``min sense * sum(z_k)`` over blocks ``k``.

    Block ``k`` has variables ``(z_k, lambda_k)`` and rows ``first[k] * z_k + R @ lambda_k <=
    rhs[k]`` (``R`` is rows x n, shared), with ``sum(lambda_k) = 1`` when ``vrs``.
    """
    from scipy import sparse

    K, (r, n) = first.shape[0], R.shape
    width = n + 1
    ri, ci = np.nonzero(R)
    blocks = np.arange(K)
    rows = np.concatenate([(blocks[:, None] * r + ri[None, :]).ravel(),
                           (blocks[:, None] * r + np.arange(r)[None, :]).ravel()])
    cols = np.concatenate([(blocks[:, None] * width + 1 + ci[None, :]).ravel(),
                           np.repeat(blocks * width, r)])
    vals = np.concatenate([np.tile(R[ri, ci], K), first.ravel()])
    A = sparse.csr_matrix((vals, (rows, cols)), shape=(K * r, K * width))
    c = np.zeros(K * width)
    c[::width] = sense
    problem = dict(c=c, A_ub=A, b_ub=rhs.ravel(), bounds=(0, None), method="highs")
    if vrs:
        eq_cols = (blocks[:, None] * width + 1 + np.arange(n)[None, :]).ravel()
        problem["A_eq"] = sparse.csr_matrix((np.ones(K * n), (np.repeat(blocks, n), eq_cols)),
                                            shape=(K, K * width))
        problem["b_eq"] = np.ones(K)
    return problem


def _solve_blocks(R, first, rhs, sense, vrs) -> tuple[np.ndarray, int]:
    """Optimal ``z_k`` of every block and the HiGHS status (0 = optimal)."""
    from scipy.optimize import linprog

    res = linprog(**_block_programme(R, first, rhs, sense, vrs))
    if res.status != 0:
        return np.full(first.shape[0], np.nan), int(res.status)
    return res.x[:: R.shape[1] + 1].copy(), 0


def _main_parts(Xe, Ye, Xr, Yr, orientation):
    """Shared matrix, per-block first column, right-hand side and objective sense."""
    K, m, s = Xe.shape[0], Xe.shape[1], Ye.shape[1]
    R = np.vstack([Xr.T, -Yr.T])
    if orientation == "output":  # max phi: X lam <= x_k, phi y_k - Y lam <= 0
        first = np.hstack([np.zeros((K, m)), Ye])
        rhs = np.hstack([Xe, np.zeros((K, s))])
        return R, first, rhs, -1.0
    first = np.hstack([-Xe, np.zeros((K, s))])  # min theta: X lam - theta x_k <= 0, -Y lam <= -y_k
    rhs = np.hstack([np.zeros((K, m)), -Ye])
    return R, first, rhs, 1.0


def vrs_feasible(Xe, Ye, Xr, Yr, orientation: str) -> np.ndarray:
    """Whether each evaluated unit's VRS programme against the reference set is feasible.

    Output orientation needs a convex combination of reference inputs no larger than the unit's
    inputs; input orientation one of reference outputs no smaller than its outputs. Both are
    found by a phase-one programme minimising the proportional excess ``a >= 0``.
    """
    if orientation == "output":  # X lam - a x_k <= x_k
        R, first, rhs = Xr.T, -Xe, Xe
    else:  # -Y lam - a y_k <= -y_k, i.e. Y lam >= (1 - a) y_k
        R, first, rhs = -Yr.T, -Ye, -Ye
    excess, status = _solve_blocks(R, first, rhs, 1.0, True)
    if status != 0:  # pragma: no cover - phase one is always feasible and bounded
        raise RuntimeError(f"DEA phase-one programme failed (HiGHS status {status})")
    return excess <= FEASIBILITY_TOL


def envelopment_optima(Xe: np.ndarray, Ye: np.ndarray, Xr: np.ndarray, Yr: np.ndarray, *,
                       rts: str = "crs", orientation: str = "output",
                       check_feasible: bool = True) -> np.ndarray:
    """Optimal ``phi`` (output orientation) or ``theta`` (input) of each evaluated unit.

    Rows of ``Xe``/``Ye`` (K x m, K x s) are evaluated against the technology spanned by the rows
    of ``Xr``/``Yr`` (n x m, n x s) under constant (``crs``) or variable (``vrs``) returns to
    scale (Charnes, Cooper & Rhodes 1978; Banker, Charnes & Cooper 1984), envelopment form:
    ``max phi: X'lam <= x_k, Y'lam >= phi y_k`` or ``min theta: X'lam <= theta x_k,
    Y'lam >= y_k``, ``lam >= 0`` (and ``sum lam = 1`` under VRS). Infeasible programmes (possible
    under VRS when the unit lies outside the reference technology) give NaN; pass
    ``check_feasible=False`` only when every evaluated unit lies inside the reference technology.
    """
    check_choice("rts", rts, RTS_CHOICES)
    check_choice("orientation", orientation, ORIENTATION_CHOICES)
    vrs = rts == "vrs"
    out = np.full(Xe.shape[0], np.nan)
    if vrs and check_feasible:
        keep = vrs_feasible(Xe, Ye, Xr, Yr, orientation)
    else:
        keep = np.ones(Xe.shape[0], bool)
    if not keep.any():
        return out
    R, first, rhs, sense = _main_parts(Xe[keep], Ye[keep], Xr, Yr, orientation)
    z, status = _solve_blocks(R, first, rhs, sense, vrs)
    if status != 0:  # a marginal unit the phase-one tolerance let through: solve one by one
        z = np.array([_solve_blocks(R, first[k:k + 1], rhs[k:k + 1], sense, vrs)[0][0]
                      for k in range(first.shape[0])])
    out[keep] = z
    return out


def efficiency_from_optima(optima: np.ndarray, orientation: str) -> np.ndarray:
    """Farrell technical efficiency: ``1 / phi`` (output orientation) or ``theta`` (input)."""
    with np.errstate(divide="ignore"):
        return 1.0 / optima if orientation == "output" else optima.copy()
