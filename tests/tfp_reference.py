"""An independent DEA-Malmquist for the tests: one dense multiplier-form programme per unit.

The package solves the envelopment form in sparse batches over pruned reference sets; this module
solves the dual (multiplier) form, one :func:`scipy.optimize.linprog` call per unit against every
unit of the reference period, and composes the index from the textbook formulas. By linear
programming duality both give the same optimum; an infeasible envelopment programme is an
unbounded multiplier programme here.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.optimize import linprog


def multiplier_score(x0, y0, X, Y, rts: str, orientation: str) -> float:
    """Farrell efficiency of (x0, y0) against rows of X, Y via the multiplier form.

    Output orientation: ``phi = min v'x0 (+ w) s.t. u'y0 = 1, u'y_j - v'x_j (- w) <= 0``.
    Input orientation: ``theta = max u'y0 (+ w) s.t. v'x0 = 1, u'y_j - v'x_j (+ w) <= 0``;
    ``u, v >= 0``, ``w`` free under VRS. Returns ``1/phi`` or ``theta``; NaN if unbounded.
    """
    m, s = X.shape[1], Y.shape[1]
    vrs = rts == "vrs"
    n_var = m + s + (1 if vrs else 0)  # [v, u, w]
    A_ub = np.hstack([-X, Y] + ([np.full((len(X), 1), -1.0 if orientation == "output" else 1.0)]
                                if vrs else []))
    bounds = [(0, None)] * (m + s) + ([(None, None)] if vrs else [])
    c = np.zeros(n_var)
    A_eq = np.zeros((1, n_var))
    if orientation == "output":
        c[:m] = x0
        A_eq[0, m:m + s] = y0
        if vrs:
            c[-1] = 1.0
    else:
        c[m:m + s] = -np.asarray(y0)
        A_eq[0, :m] = x0
        if vrs:
            c[-1] = -1.0
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(len(X)), A_eq=A_eq, b_eq=[1.0], bounds=bounds,
                  method="highs")
    if res.status == 3:
        return np.nan
    assert res.status == 0, res.message
    value = res.fun if orientation == "output" else -res.fun
    return 1.0 / value if orientation == "output" else value


def reference_malmquist(df: pd.DataFrame, unit: str, time: str, inputs, outputs, *,
                        rts="crs", orientation="output", technology="crs",
                        frontier="adjacent") -> pd.DataFrame:
    """The Malmquist table computed from scratch (balanced panel assumed)."""
    periods = sorted(df[time].unique())
    by_t = {t: df[df[time] == t].sort_values(unit) for t in periods}
    XY = {t: (g[list(inputs)].to_numpy(float), g[list(outputs)].to_numpy(float))
          for t, g in by_t.items()}
    pooled = (np.vstack([XY[t][0] for t in periods]), np.vstack([XY[t][1] for t in periods]))

    @lru_cache(maxsize=None)
    def e(t, ref, tech=technology):
        X, Y = XY[t]
        RX, RY = pooled if ref == "G" else XY[ref]
        return np.array([multiplier_score(X[i], Y[i], RX, RY, tech, orientation)
                         for i in range(len(X))])

    rows = []
    for a, b in zip(periods[:-1], periods[1:]):
        eff = e(b, b) / e(a, a)
        if frontier == "adjacent":
            tech = np.sqrt(e(b, a) / e(b, b) * e(a, a) / e(a, b))
        else:
            tech = (e(b, "G") / e(b, b)) / (e(a, "G") / e(a, a))
        pech = e(b, b, "vrs") / e(a, a, "vrs") if rts == "vrs" else np.full(len(eff), np.nan)
        rows.append(pd.DataFrame({unit: by_t[b][unit].to_numpy(), time: b, "effch": eff,
                                  "techch": tech, "pech": pech, "sech": eff / pech,
                                  "tfpch": eff * tech}))
    return pd.concat(rows, ignore_index=True)
