"""Growth accounting: total factor productivity as the Solow residual of a Cobb-Douglas economy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.errors import PanelError, problem_at
from .capital import checked_frame
from .lp import TFPParamError


@dataclass(frozen=True)
class GrowthAccounting:
    """``table``: the caller's ``unit, time`` with ``ln_tfp`` (log TFP level) and ``tfp_growth``
    (100 x its change from the previous period, percentage points; empty in a unit's first
    period and after a gap); ``alpha``: the output elasticity of capital used, with its
    unit-clustered standard error when it was estimated (NaN when given)."""

    table: pd.DataFrame
    alpha: float
    alpha_se: float
    estimated: bool
    notes: tuple[str, ...] = ()


def estimate_capital_elasticity(df: pd.DataFrame, unit: str, time: str, output: str,
                                capital: str, labor: str) -> tuple[float, float]:
    """``alpha`` from ``ln(Y/L) = alpha ln(K/L) + mu_unit + lambda_time + e`` (constant returns
    imposed; two-way fixed effects, standard error clustered by unit; pyfixest)."""
    import pyfixest as pf

    data = pd.DataFrame({"u": df[unit].to_numpy(), "t": df[time].to_numpy(),
                         "ly": np.log(df[output] / df[labor]).to_numpy(),
                         "lk": np.log(df[capital] / df[labor]).to_numpy()})
    fit = pf.feols("ly ~ lk | u + t", data=data, vcov={"CRV1": "u"})
    return float(fit.coef()["lk"]), float(fit.se()["lk"])


def solow_residual(frame: pd.DataFrame, *, unit: str, time: str, output: str, capital: str,
                   labor: str, alpha: float | None = None,
                   source: str = "<DataFrame>") -> GrowthAccounting:
    """Log TFP ``ln A = ln Y - alpha ln K - (1 - alpha) ln L`` and its growth (Solow 1957).

    ``alpha`` is the output elasticity of capital (income share); if ``None`` it is estimated by
    :func:`estimate_capital_elasticity`. Output, capital and labour must be positive and present
    in every row (a :class:`PanelError` names the rows otherwise).
    """
    if alpha is not None and not 0 < alpha < 1:
        raise TFPParamError(f"alpha: must lie strictly between 0 and 1; got {alpha!r}")
    df = checked_frame(frame, unit, time, [output, capital, labor], source, allow_missing=False)
    bad = [problem_at(c, "growth accounting needs positive values", np.flatnonzero(df[c] <= 0))
           for c in (output, capital, labor) if (df[c] <= 0).any()]
    if bad:
        raise PanelError(source, bad)
    estimated = alpha is None
    se = np.nan
    if estimated:
        alpha, se = estimate_capital_elasticity(df, unit, time, output, capital, labor)
    ln_tfp = (np.log(df[output]) - alpha * np.log(df[capital])
              - (1 - alpha) * np.log(df[labor]))
    order = df.sort_values([unit, time], kind="mergesort").index
    step = df.loc[order].groupby(unit, sort=False)[time].diff()
    change = ln_tfp.loc[order].groupby(df.loc[order, unit], sort=False).diff()
    growth = (100 * change.where(step == 1)).reindex(df.index)
    table = frame[[unit, time]].reset_index(drop=True).assign(
        ln_tfp=ln_tfp.to_numpy(), tfp_growth=growth.to_numpy())
    notes = (f"output elasticity of capital estimated: {alpha:.3f} (s.e. {se:.3f}, two-way fixed "
             "effects, constant returns)",) if estimated else ()
    return GrowthAccounting(table=table, alpha=float(alpha), alpha_se=float(se),
                            estimated=estimated, notes=notes)
