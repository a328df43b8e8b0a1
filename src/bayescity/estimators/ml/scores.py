"""Doubly robust score rows and the cluster-robust inference of linear projections of them.

The heterogeneity outputs are linear projections of the conditional effect on the treated on
unit features ``z``. In the cell design every treated unit ``i`` of cell ``k`` contributes
``z_i r_ik`` (``r`` = long difference minus the cross-fitted control outcome model) and every
control ``c`` of the cell ``- w~_ck z_c r_ck``, with ``w~`` the odds weights ``p / (1 - p)``
normalised to sum to the cell's treated count -- the orthogonal moment of the doubly robust DID
(Sant'Anna & Zhao 2020; Chang 2020) with ``z`` carried into both sides, so that errors of the
outcome model that vary with ``z`` cancel between treated and reweighted controls:

    beta = A^-1 sum_k [ sum_{i in T_k} z_i r_ik - sum_{c in C_k} w~_ck z_c r_ck ],
    A = sum_k sum_{i in T_k} a_ik z_i z_i'.

With ``z = 1`` this is the treated-cell weighted ATT. Its influence function is, per row,
``z r - mu_k - a z z' beta`` (treated) and ``-w~ (z r - mu_k)`` (control), ``mu_k`` the
cell's odds-weighted control mean of ``z r``; rows are summed within units and clusters for the
cluster-robust covariance ``sum_c IF_c IF_c'``. The within design has one "treated" row per
unit (``r = sum_t D~ Y~``, ``a = sum_t D~^2``) and no controls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ...estimands.aggregate import cluster_sums
from ...results.effect import TestResult


@dataclass(frozen=True)
class ScoreRows:
    """Stacked score rows: the ``unit`` (index), ``cell`` (-1 without one), whether the row is
    ``treated``, the residual ``r``, the control weight ``omega`` (0 on treated rows) and the
    weight ``a`` of the row in the projection's normal matrix."""

    n_units: int
    unit: np.ndarray
    cell: np.ndarray
    treated: np.ndarray
    r: np.ndarray
    omega: np.ndarray
    a: np.ndarray

    def subset(self, units: np.ndarray) -> "ScoreRows":
        """The rows of the units in the boolean mask ``units``."""
        keep = units[self.unit]
        return ScoreRows(self.n_units, self.unit[keep], self.cell[keep], self.treated[keep],
                         self.r[keep], self.omega[keep], self.a[keep])

    def unit_weight(self) -> np.ndarray:
        """Each unit's weight in the projection (its number of treated cells)."""
        return np.bincount(self.unit[self.treated], weights=self.a[self.treated],
                           minlength=self.n_units)

    def cell_means(self, values: np.ndarray) -> np.ndarray:
        """Odds-weighted control mean of ``values`` (rows x p) in every cell (cells x p)."""
        n_cells = int(self.cell.max()) + 1 if self.cell.size and self.cell.max() >= 0 else 0
        out = np.zeros((n_cells, values.shape[1]))
        if n_cells == 0:
            return out
        ctrl = ~self.treated & (self.cell >= 0)
        np.add.at(out, self.cell[ctrl], self.omega[ctrl, None] * values[ctrl])
        n_treated = np.bincount(self.cell[self.treated & (self.cell >= 0)], minlength=n_cells)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n_treated[:, None] > 0, out / n_treated[:, None], 0.0)

    def unit_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """Per unit, the DR effect averaged over its treated rows (``r`` minus the cell's control
        correction; ``r / a`` in the within design) and its weight; NaN/0 for other units."""
        eta = self.cell_means(self.r[:, None])[:, 0]
        adj = self.r - eta[self.cell] * (self.cell >= 0) if eta.size else self.r
        on = self.treated
        total = np.bincount(self.unit[on], weights=adj[on], minlength=self.n_units)
        weight = self.unit_weight()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(weight > 0, total / weight, np.nan), weight


@dataclass(frozen=True)
class Projection:
    """``coef`` of a DR projection and its unit-level influence function (n_units x p)."""

    coef: np.ndarray
    influence: np.ndarray

    def vcov(self, clusters: np.ndarray | None = None) -> np.ndarray:
        psi = self.influence if clusters is None else cluster_sums(self.influence, clusters)
        return psi.T @ psi


def project(rows: ScoreRows, z: np.ndarray) -> Projection:
    """The doubly robust projection of the effect on ``z`` (n_units x p), with its influence
    function (see the module docstring)."""
    z = np.asarray(z, dtype=float)
    zr = z[rows.unit]
    t = rows.treated
    a = zr[t].T @ (rows.a[t, None] * zr[t])
    if np.linalg.matrix_rank(a) < a.shape[0]:
        raise np.linalg.LinAlgError("projection design is singular (a feature constant among "
                                    "the treated units, or collinear features)")
    a_inv = np.linalg.inv(a)
    zrr = zr * rows.r[:, None]
    b = zrr[t].sum(axis=0) - (rows.omega[~t, None] * zrr[~t]).sum(axis=0)
    coef = a_inv @ b
    mu = rows.cell_means(zrr)
    centred = zrr - (mu[np.maximum(rows.cell, 0)] if len(mu) else 0.0) * (rows.cell >= 0)[:, None]
    contrib = np.where(t[:, None], centred - rows.a[:, None] * zr * (zr @ coef)[:, None],
                       -rows.omega[:, None] * centred)
    influence = np.zeros((rows.n_units, z.shape[1]))
    np.add.at(influence, rows.unit, contrib)
    return Projection(coef=coef, influence=influence @ a_inv)


def calibration_tests(rows: ScoreRows, heldout: np.ndarray, clusters: np.ndarray | None,
                      model: str) -> tuple[TestResult, TestResult]:
    """The calibration test of grf's ``test_calibration`` (Chernozhukov, Demirer, Duflo &
    Fernandez-Val 2018; Athey, Tibshirani & Wager 2019) on held-out CATE predictions.

    The effect is projected on the mean prediction ``tau_bar`` (over treated rows) and the
    differential prediction ``tau_hat(x) - tau_bar``: a mean coefficient of 1 says the average
    is right, a differential coefficient of 1 that the heterogeneity is well calibrated, one
    significantly above 0 that there is heterogeneity beyond the mean. One-sided tests of
    ``coefficient <= 0`` as grf's, with cluster-robust standard errors.
    """
    pred = np.where(np.isfinite(heldout), heldout, 0.0)
    weight = rows.unit_weight()
    tau_bar = np.average(pred, weights=weight)
    z = np.column_stack([np.full(pred.size, tau_bar), pred - tau_bar])
    proj = project(rows, z)
    se = np.sqrt(np.clip(np.diag(proj.vcov(clusters)), 0, None))
    out = []
    for j, what in enumerate(("mean forest prediction", "differential forest prediction")):
        t = proj.coef[j] / se[j] if se[j] > 0 else np.nan
        out.append(TestResult(
            name=f"calibration: {what}", statistic=float(t), df=1.0,
            p_value=float(stats.norm.sf(t)) if np.isfinite(t) else np.nan, kind="z_one_sided",
            note=f"coefficient {proj.coef[j]:.3f} (se {se[j]:.3f}); H0: coefficient <= 0; "
                 f"held-out predictions of the {model} CATE model"))
    return out[0], out[1]
