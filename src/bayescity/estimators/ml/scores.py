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
unit (``r = sum_t D~ Y~``, ``a = sum_t D~^2``) and no controls. The imputation design has one
treated row per treated city-year (``r = tau_it``, ``a = 1``) and no controls; its ``r`` depend
on every untreated outcome through the first stage, whose part of the influence
(:class:`FirstStageTerm`, BJS 2024 Thm 3) is added, so that ``z r - a z z' beta`` is the
second-stage residual of Gardner's (2022) two-stage variance.

Small samples. The heterogeneity is identified by the treated clusters alone (75 cities on the
pilot's cohorts), so the sandwich is corrected as grf's ``best_linear_projection`` and
``test_calibration`` do (``sandwich::vcovCL(type = "HC3")`` read with a t reference): every
cluster's influence is scaled by ``1 / (1 - h_c)``, ``h_c`` the cluster's leverage
``sum a z' A^-1 z`` over its treated rows (the jackknife-like CR3 of Bell & McCaffrey 2002 with a
scalar leverage), and tests and intervals use t with (treated clusters - 1) df.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ...estimands.aggregate import cluster_sums
from ...results.effect import TestResult


@dataclass(frozen=True)
class FirstStageTerm:
    """What an estimated first stage adds to the influence of a linear functional of the score
    rows (see :mod:`.imputation`): ``score`` (units x K) sums each unit's untreated ``W~ u``,
    ``m_inv`` is ``M^-1`` (K x K) and ``design`` (rows x K) holds ``W_it - W-bar_i`` of every
    score row."""

    score: np.ndarray
    m_inv: np.ndarray
    design: np.ndarray

    def influence(self, c: np.ndarray) -> np.ndarray:
        """Per unit (units x p), the first-stage part of the influence of
        ``theta = sum_rows c_row r_row`` (``c``: rows x p)."""
        return -self.score @ (self.m_inv @ (self.design.T @ c))

    def subset(self, keep: np.ndarray) -> "FirstStageTerm":
        return FirstStageTerm(self.score, self.m_inv, self.design[keep])


@dataclass(frozen=True)
class ScoreRows:
    """Stacked score rows: the ``unit`` (index), ``cell`` (-1 without one), whether the row is
    ``treated``, the residual ``r``, the control weight ``omega`` (0 on treated rows) and the
    weight ``a`` of the row in the projection's normal matrix. ``first_stage`` is set when the
    rows' ``r`` are linear in the outcomes of other observations through an estimated first
    stage (imputed effects; treated rows only), whose noise the influence must then carry."""

    n_units: int
    unit: np.ndarray
    cell: np.ndarray
    treated: np.ndarray
    r: np.ndarray
    omega: np.ndarray
    a: np.ndarray
    first_stage: FirstStageTerm | None = None

    def subset(self, units: np.ndarray) -> "ScoreRows":
        """The rows of the units in the boolean mask ``units`` (the first stage stays the one
        fitted on every unit: a fold model's coefficients still move with its noise)."""
        keep = units[self.unit]
        first = None if self.first_stage is None else self.first_stage.subset(keep)
        return ScoreRows(self.n_units, self.unit[keep], self.cell[keep], self.treated[keep],
                         self.r[keep], self.omega[keep], self.a[keep], first)

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


#: Largest leverage used in the ``1 / (1 - h)`` correction (a cluster that alone determines a
#: coefficient would otherwise get an infinite weight).
MAX_LEVERAGE = 0.9


def treated_clusters(rows: ScoreRows, clusters: np.ndarray | None) -> int:
    """The number of distinct clusters with a treated row (units when ``clusters`` is None)."""
    on = rows.unit_weight() > 0
    return int(on.sum() if clusters is None else pd.unique(np.asarray(clusters)[on]).size)


@dataclass(frozen=True)
class Projection:
    """``coef`` of a DR projection, its unit-level influence function (n_units x p) and every
    unit's leverage ``sum_treated rows a z' A^-1 z``."""

    coef: np.ndarray
    influence: np.ndarray
    leverage: np.ndarray | None = None

    def robust_influence(self, clusters: np.ndarray | None = None) -> np.ndarray:
        """The influence with every cluster's rows scaled by ``1 / (1 - h_c)`` (CR3/HC3)."""
        if self.leverage is None:
            return self.influence
        if clusters is None:
            h = self.leverage
        else:
            codes, _ = pd.factorize(pd.Series(np.asarray(clusters)), sort=True)
            h = np.bincount(codes, weights=self.leverage)[codes]
        return self.influence / (1.0 - np.clip(h, 0.0, MAX_LEVERAGE))[:, None]

    def vcov(self, clusters: np.ndarray | None = None) -> np.ndarray:
        inf = self.robust_influence(clusters)
        psi = inf if clusters is None else cluster_sums(inf, clusters)
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
    if rows.first_stage is not None:
        influence += rows.first_stage.influence(np.where(t[:, None], zr, 0.0))
    lev_rows = rows.a[t] * np.einsum("ij,jk,ik->i", zr[t], a_inv, zr[t])
    leverage = np.bincount(rows.unit[t], weights=lev_rows, minlength=rows.n_units)
    return Projection(coef=coef, influence=influence @ a_inv, leverage=leverage)


def prediction_influence(rows: ScoreRows, proj: Projection, pred: np.ndarray, tau_bar: float,
                         fold_fits: list[tuple[np.ndarray, np.ndarray, Projection]]
                         ) -> np.ndarray:
    """Influence of every unit on the calibration coefficients through the held-out predictions
    of the other units, for CATE models that are linear projections of the score rows.

    ``fold_fits`` holds, per fold, the held-out units (mask), their features ``z`` and the fold
    model's :class:`Projection` fitted on the other units. The differential coefficient is then
    a quadratic form in the units' scores: each held-out unit's score times a prediction that is
    linear in the other folds' scores. Under no heterogeneity it is a degenerate U-statistic, and
    the plug-in variance that treats predictions as fixed is half its variance (one-sided 5%
    tests reject about 12% of the time). The second half is the variance of this term.
    """
    gamma = proj.coef
    d = pred - tau_bar
    t = rows.treated
    dr = d[rows.unit]
    # derivative of each row's moment contribution with respect to its unit's differential
    # prediction (the cell means mu_k cancel within a cell)
    du = np.where(t, rows.r - rows.a * (tau_bar * gamma[0] + 2 * dr * gamma[1]), -rows.omega * rows.r)
    dm = np.where(t, -rows.a * tau_bar * gamma[1], 0.0)
    per_unit = np.column_stack([np.bincount(rows.unit, weights=dm, minlength=rows.n_units),
                                np.bincount(rows.unit, weights=du, minlength=rows.n_units)])
    a_c = _normal_matrix(rows, np.column_stack([np.full(pred.size, tau_bar), d]))
    cross = np.zeros((rows.n_units, 2))
    for held, z, fold_proj in fold_fits:
        h_f = per_unit[held].T @ z[held]  # (2, p): moment change per unit change of fold coefs
        cross += fold_proj.influence @ h_f.T
    return cross @ np.linalg.inv(a_c).T


def _normal_matrix(rows: ScoreRows, z: np.ndarray) -> np.ndarray:
    zr = z[rows.unit][rows.treated]
    return zr.T @ (rows.a[rows.treated, None] * zr)


def calibration_tests(rows: ScoreRows, heldout: np.ndarray, clusters: np.ndarray | None,
                      model: str, fold_fits=None) -> tuple[TestResult, TestResult]:
    """The calibration test of grf's ``test_calibration`` (Chernozhukov, Demirer, Duflo &
    Fernandez-Val 2018; Athey, Tibshirani & Wager 2019) on held-out CATE predictions.

    The effect is projected on the mean prediction ``tau_bar`` (over treated rows) and the
    differential prediction ``tau_hat(x) - tau_bar``: a mean coefficient of 1 says the average
    is right, a differential coefficient of 1 that the heterogeneity is well calibrated, one
    significantly above 0 that there is heterogeneity beyond the mean. One-sided tests of
    ``coefficient <= 0`` as grf's, with cluster-robust (CR3) standard errors and t with
    (treated clusters - 1) df. With ``fold_fits`` (linear CATE models, see
    :func:`prediction_influence`) the variance adds the influence of each unit on the other
    units' held-out predictions.
    """
    pred = np.where(np.isfinite(heldout), heldout, 0.0)
    weight = rows.unit_weight()
    tau_bar = np.average(pred, weights=weight)
    z = np.column_stack([np.full(pred.size, tau_bar), pred - tau_bar])
    proj = project(rows, z)
    vcov = proj.vcov(clusters)
    if fold_fits:
        cross = prediction_influence(rows, proj, pred, tau_bar, fold_fits)
        psi = cross if clusters is None else cluster_sums(cross, clusters)
        vcov = vcov + psi.T @ psi
    se = np.sqrt(np.clip(np.diag(vcov), 0, None))
    df = max(treated_clusters(rows, clusters) - 1, 1)
    out = []
    for j, what in enumerate(("mean forest prediction", "differential forest prediction")):
        t = proj.coef[j] / se[j] if se[j] > 0 else np.nan
        out.append(TestResult(
            name=f"calibration: {what}", statistic=float(t), df=float(df),
            p_value=float(stats.t.sf(t, df)) if np.isfinite(t) else np.nan, kind="t_one_sided",
            note=f"coefficient {proj.coef[j]:.3f} (se {se[j]:.3f}); H0: coefficient <= 0; "
                 f"held-out predictions of the {model} CATE model; CR3 errors, t({df})"))
    return out[0], out[1]
