"""Panel-efficient pseudo-outcomes: the imputation first stage on every untreated city-year.

Borusyak, Jaravel & Spiess (2024), "Revisiting event-study designs: robust and efficient
estimation", Review of Economic Studies 91(6). On the untreated city-years of the balanced sample
(never-treated cities, and the years before adoption of every other city)

    Y_it(0) = alpha_i + lambda_t + x_i' gamma_t + e_it

is fitted by least squares, with ``x_i`` the covariates in the first sample year (before any
adoption) and ``gamma_t`` year-specific slopes: untreated trends may differ with them, the role
the covariates play in the long-difference design's outcome model. Every treated city-year then
gets ``tau_it = Y_it - Y_it(0)-hat``. Under parallel trends and no anticipation these unit-time
effects are unbiased, and BJS's Theorem 2 makes their linear combinations efficient under
homoskedastic errors: every untreated year of every city is used, not one base year per cell.

Linear functionals and their variance. A quantity ``theta = sum_{treated it} c_it tau_it`` (a
cell mean, a best-linear-projection coefficient) is linear in ``Y``. With ``W`` the year and
year x covariate columns, ``W~`` within-unit demeaned over the unit's untreated years,
``M = sum_untreated W~ W~'`` and ``G = sum_treated c_it (W_it - W-bar_i)'``, the untreated
``Y_js`` enters with weight ``-(C_j / n0_j + G M^-1 W~_js)`` (``C_j = sum_t c_jt``). BJS's
clustered variance (Thm 3, Sec. 4.2; numerically Gardner's 2022 two-stage GMM variance) sums
per cluster

    IF_c = sum_{treated it in c} c_it e~_it  -  G M^-1 sum_{untreated js in c} W~_js u_js,

``u`` the first-stage residuals (they sum to zero within each unit, so the ``C_j / n0_j`` part
vanishes) and ``e~_it = tau_it - tau~_it`` the deviation of a treated observation from the model
that the functional fits (cell means for cell effects, the linear projection for BLP). The
first sum carries the noise of the treated years and of the unit's own ``alpha_i``; the second
that of the year effects and slopes. :class:`FirstStageTerm` holds what the second sum needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...estimands.aggregate import CellEffects
from ..core.cs_gt import WidePanel
from .scores import FirstStageTerm, ScoreRows

#: Eigenvalues of ``M`` below this share of the largest are treated as zero (unidentified).
RANK_TOL = 1e-10


@dataclass(frozen=True)
class Imputed:
    """The first stage on a balanced panel: ``tau`` (units x periods, NaN where not a treated
    cell with an identified ``Y(0)``), the untreated residuals ``resid`` (NaN elsewhere), the
    masks of both, the first-stage term of the treated cells (row-major: unit, then period), the
    number of first-stage parameters and notes."""

    tau: np.ndarray
    resid: np.ndarray
    treated: np.ndarray
    untreated: np.ndarray
    term: FirstStageTerm
    n_params: int
    notes: tuple[str, ...] = ()


def treated_mask(wide: WidePanel) -> np.ndarray:
    """City-years on or after adoption (units x periods)."""
    g = wide.cohort[:, None]
    return (g > 0) & (wide.periods[None, :] >= g)


def first_year_covariates(wide: WidePanel) -> np.ndarray:
    """The covariates of every unit in the first sample year (units x q)."""
    return wide.x[:, 0, 1:]


def year_design(n_periods: int, x: np.ndarray) -> np.ndarray:
    """``W`` (units x periods x K): year dummies but the first, each with its slopes on ``x``
    (the first year's are absorbed by the unit effects); ``K = (T - 1)(1 + q)``."""
    n, q = x.shape
    v = np.column_stack([np.ones(n), x])
    w = np.zeros((n, n_periods, (n_periods - 1) * (1 + q)))
    for k in range(1, n_periods):
        w[:, k, (k - 1) * (1 + q):k * (1 + q)] = v
    return w


def impute(wide: WidePanel, x: np.ndarray, offset: np.ndarray | None = None) -> Imputed:
    """Fit the first stage on the untreated city-years of ``wide`` and impute every treated one.

    ``x`` (units x q) are the covariates whose slopes may change by year; ``offset`` (units x
    periods) is subtracted from ``Y`` first (a cross-fitted trend adjustment, treated as known).
    Treated cells whose ``Y(0)`` the untreated years do not identify (a year without untreated
    units, slopes no untreated unit pins down) are left out with a note, as BJS do.
    """
    y = wide.y if offset is None else wide.y - offset
    untreated = ~treated_mask(wide)
    w = year_design(len(wide.periods), x)
    u0 = untreated.astype(float)
    n0 = u0.sum(axis=1)
    w_bar = np.einsum("it,itk->ik", u0, w) / n0[:, None]
    y_bar = (np.where(untreated, y, 0.0)).sum(axis=1) / n0
    w_dev = w - w_bar[:, None, :]
    wu = w_dev[untreated]
    m_inv, null = _pseudo_inverse(wu.T @ wu)
    gamma = m_inv @ (wu.T @ (y - y_bar[:, None])[untreated])
    y0 = (y_bar - w_bar @ gamma)[:, None] + w @ gamma
    treated = ~untreated
    notes = []
    if null.shape[1]:
        lost = treated & (np.abs(w_dev @ null).max(axis=2) > 1e-8)
        if lost.any():
            notes.append(f"{int(lost.sum())} treated city-years left out: their untreated "
                         "outcome is not identified by the untreated years (BJS 2024, Sec. 4)")
        treated &= ~lost
    resid = np.where(untreated, y - y0, np.nan)
    score = np.einsum("itk,it->ik", w_dev, np.where(untreated, resid, 0.0))
    term = FirstStageTerm(score=score, m_inv=m_inv, design=w_dev[treated])
    return Imputed(tau=np.where(treated, y - y0, np.nan), resid=resid, treated=treated,
                   untreated=untreated, term=term,
                   n_params=int(len(n0) + wu.shape[1] - null.shape[1]), notes=tuple(notes))


def _pseudo_inverse(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Moore-Penrose inverse of the symmetric ``m`` and a basis of its null space."""
    if m.shape[0] == 0:
        return m, np.zeros((0, 0))
    values, vectors = np.linalg.eigh(m)
    keep = values > RANK_TOL * max(values.max(), 1.0)
    inv = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    return inv, vectors[:, ~keep]


def imputation_rows(imp: Imputed) -> ScoreRows:
    """One score row per treated city-year: ``r = tau_it``, weight 1, no control side, and the
    first-stage term, so that every projection of the rows counts the first stage."""
    unit, _ = np.nonzero(imp.treated)
    n = unit.size
    return ScoreRows(n_units=imp.tau.shape[0], unit=unit.astype(np.int64),
                     cell=np.full(n, -1, dtype=np.int64), treated=np.ones(n, dtype=bool),
                     r=imp.tau[imp.treated], omega=np.zeros(n), a=np.ones(n),
                     first_stage=imp.term)


def imputation_cells(imp: Imputed, wide: WidePanel,
                     unit_level: np.ndarray | None = None) -> tuple[pd.DataFrame, CellEffects]:
    """Cell effects (cohort x period [x level]): the mean ``tau_it`` of each cell's treated
    units, with the clustered BJS/Gardner influence (``e~`` = deviation from the cell mean).

    Returns the ATT(g,t) table and :class:`CellEffects` whose aggregations are BJS imputation
    estimates with treated-observation weights (``imputation``'s, on this sample).
    """
    unit, period = np.nonzero(imp.treated)
    keys = {"cohort": wide.cohort[unit], "time": wide.periods[period]}
    if unit_level is not None:
        keys["level"] = np.asarray(unit_level).astype(str)[unit]
    index = pd.MultiIndex.from_arrays(list(keys.values()), names=list(keys))
    codes, uniques = index.factorize(sort=True)
    counts = np.bincount(codes).astype(float)
    tau = imp.tau[imp.treated]
    estimates = np.bincount(codes, weights=tau) / counts
    c = (tau - estimates[codes]) / counts[codes]
    n_units = imp.tau.shape[0]
    influence = np.zeros((n_units, len(counts)))
    np.add.at(influence, (unit, codes), c)
    dc = np.zeros((imp.term.design.shape[1], len(counts)))
    np.add.at(dc.T, codes, imp.term.design / counts[codes][:, None])
    influence -= imp.term.score @ (imp.term.m_inv @ dc)
    table = pd.DataFrame(list(uniques), columns=list(keys))
    table.insert(2, "rel_time", table["time"] - table["cohort"])
    members = tuple(np.unique(wide.units[unit[codes == k]]) for k in range(len(counts)))
    cells = CellEffects(cells=table.assign(weight=counts), estimates=estimates,
                        influence=influence * n_units, cell_units=members)
    return table.assign(n_treated=counts.astype(int), att=estimates), cells


def imputation_notes(imp: Imputed, covariates: list[str], cluster: str) -> list[str]:
    """What the imputation design did, in the result's notes."""
    slopes = (f" + year-specific slopes on {', '.join(covariates)} (first sample year)"
              if covariates else "")
    return [f"imputation design (Borusyak, Jaravel & Spiess 2024): Y(0) = city + year effects"
            f"{slopes}, fitted on all {int(imp.untreated.sum())} untreated city-years "
            f"(never-treated cities and every city's years before adoption); tau_it = "
            f"Y - Y(0)-hat on {int(imp.treated.sum())} treated city-years. ATT rows average "
            "the tau_it with treated-observation weights: the imputation estimator's numbers "
            "(imputation with these covariates as trend_covariates), with its clustered "
            "BJS/Gardner standard errors and t(G - 1); CATE, BLP, the calibration test and the "
            "drivers model each treated city's mean tau_it over its post years, with the first "
            f"stage's noise counted in their {cluster}-clustered errors",
            "control_group applies to design long_difference; the imputation design compares "
            "with every untreated city-year"]
