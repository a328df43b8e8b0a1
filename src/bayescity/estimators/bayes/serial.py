"""Serially correlated noise: AR(1) errors within each city, by quasi-differencing.

City-level TFP growth shocks persist for a few years, so a model with independent errors reads
a city's consecutive post-approval years as independent evidence and its intervals come out too
narrow (for an average of ``h`` years by about ``sqrt((1 + rho) / (1 - rho))`` for long ``h``).
With ``u_it = rho u_i,t-1 + e_it`` the quasi-differenced rows

    y_it - rho y_i,t-1 = unit_i (1 - rho) + (period_t - rho period_t-1)
                         + (x_it - rho x_i,t-1) beta + (Z_it - rho Z_i,t-1) theta + e_it

keep a two-way fixed-effect structure, so the absorbed likelihood of :mod:`.absorb` applies
unchanged to them with independent ``e`` (Cochrane & Orcutt 1949; conditional on each city's
first year, which then only conditions the likelihood). ``rho`` is estimated once from the
untreated rows, as Stata's ``xtregar, fe`` does before its within regression (Baltagi & Wu
1999): in first differences the unit effects drop out and, under AR(1) errors,
``corr(du_t, du_t-1) = -(1 - rho) / 2`` (Wooldridge 2010, sec. 10.6.3), a moment free of the
within transformation's small-T bias (Nickell 1981). The posterior is then conditional on that
estimate, whose sampling error is small next to the effects' (thousands of differences).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Bounds of the estimated autocorrelation (a stationary process, away from a unit root).
RHO_BOUNDS = (-0.9, 0.95)
#: Pairs of consecutive untreated differences below which ``rho`` is not estimated (set to 0).
MIN_PAIRS = 30
ERRORS = ("ar1", "iid")


@dataclass(frozen=True)
class SerialCorrelation:
    """The error model of a fit: ``rho`` (0 for independent errors), how it was obtained, and
    the number of difference pairs behind the estimate."""

    errors: str
    rho: float
    n_pairs: int = 0
    note: str = ""

    def as_dict(self) -> dict:
        return {"errors": self.errors, "rho": self.rho, "n_pairs": self.n_pairs}


def lag_rows(unit: np.ndarray, time: np.ndarray) -> np.ndarray:
    """For each row, the index of the same unit's row in the period before (integer period
    codes), or -1 when there is none (a unit's first period, or after a gap)."""
    unit, time = np.asarray(unit, np.int64), np.asarray(time, np.int64)
    order = np.lexsort((time, unit))
    out = np.full(unit.size, -1, dtype=np.int64)
    prev, cur = order[:-1], order[1:]
    consecutive = (unit[prev] == unit[cur]) & (time[prev] == time[cur] - 1)
    out[cur[consecutive]] = prev[consecutive]
    return out


def _period_demean(values: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Columns net of their period means (one-way within transformation)."""
    codes = np.unique(period, return_inverse=True)[1]
    counts = np.bincount(codes).astype(float)
    out = np.empty_like(values)
    for j in range(values.shape[1]):
        means = np.bincount(codes, weights=values[:, j]) / counts
        out[:, j] = values[:, j] - means[codes]
    return out


def estimate_rho(y: np.ndarray, x: np.ndarray, unit: np.ndarray, time: np.ndarray,
                 untreated: np.ndarray) -> tuple[float, int]:
    """AR(1) coefficient of the errors from the untreated rows (see the module docstring):
    first differences of consecutive untreated years net of period effects and covariates, then
    ``rho = 1 + 2 corr(r_t, r_t-1)`` over consecutive differences. Returns ``(rho, pairs)``;
    ``rho`` is 0 when fewer than :data:`MIN_PAIRS` pairs exist."""
    untreated = np.asarray(untreated, bool)
    lag = lag_rows(unit, time)
    has_diff = untreated & (lag >= 0)
    has_diff[has_diff] &= untreated[lag[has_diff]]
    rows = np.flatnonzero(has_diff)
    if rows.size < MIN_PAIRS:
        return 0.0, 0
    x = np.asarray(x, float).reshape(len(y), -1)
    dz = np.column_stack([y[rows] - y[lag[rows]], x[rows] - x[lag[rows]]])
    dz = _period_demean(dz, time[rows])
    dy, dx = dz[:, 0], dz[:, 1:]
    if dx.shape[1]:
        keep = np.abs(dx).max(axis=0) > 0
        if keep.any():
            beta = np.linalg.lstsq(dx[:, keep], dy, rcond=None)[0]
            dy = dy - dx[:, keep] @ beta
    resid = np.zeros(len(y))
    resid[rows] = dy
    # consecutive differences: the lagged row's difference exists too
    pair = has_diff[rows] & (lag[rows] >= 0)
    pair[pair] &= has_diff[lag[rows[pair]]]
    cur = rows[pair]
    if cur.size < MIN_PAIRS:
        return 0.0, int(cur.size)
    prev = lag[cur]
    corr = float(resid[cur] @ resid[prev]
                 / np.sqrt((resid[cur] @ resid[cur]) * (resid[prev] @ resid[prev])))
    rho = float(np.clip(1.0 + 2.0 * corr, *RHO_BOUNDS))
    return rho, int(cur.size)


def serial_model(errors: str, y: np.ndarray, x: np.ndarray, unit: np.ndarray, time: np.ndarray,
                 untreated: np.ndarray) -> SerialCorrelation:
    """The error model ``errors`` (``ar1`` or ``iid``) of a panel, ``rho`` estimated for ar1."""
    if errors == "iid":
        return SerialCorrelation("iid", 0.0)
    rho, pairs = estimate_rho(y, x, unit, time, untreated)
    if pairs < MIN_PAIRS:
        return SerialCorrelation("iid", 0.0, pairs,
                                 f"errors: ar1 needs {MIN_PAIRS} pairs of consecutive untreated "
                                 f"first differences, the panel has {pairs}; independent errors "
                                 "were used")
    return SerialCorrelation(
        "ar1", rho, pairs,
        f"errors: AR(1) within each city, rho = {rho:.3f} estimated from {pairs} pairs of "
        "consecutive first differences of untreated rows (as xtregar, fe) and the model fitted "
        "to quasi-differenced rows, conditional on each city's first year; errors: iid "
        "assumes independent years")
