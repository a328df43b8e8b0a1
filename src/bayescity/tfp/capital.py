"""Real values from deflators, and the capital stock by perpetual inventory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..data.errors import PanelError, Problem, problem_at
from ..data.validate import missing_columns, numeric_problems, time_problems
from .lp import TFPParamError

#: Depreciation rate of the perpetual inventory (Zhang, Wu & Zhang 2004, for Chinese provinces).
DEPRECIATION = 0.096
GAP_CHOICES = ("error", "interpolate", "skip")


def checked_frame(frame: pd.DataFrame, unit: str, time: str, columns: Sequence[str],
             source: str, allow_missing: bool) -> pd.DataFrame:
    """The frame with an integer time column, or a PanelError naming every problem."""
    df = frame.reset_index(drop=True)
    problems = missing_columns(df, [unit, time, *columns])
    if not problems:
        problems += time_problems(df, time)
        for c in columns:
            problems += numeric_problems(df, c, allow_missing=allow_missing, role="value")
        dup = df.duplicated([unit, time], keep=False).to_numpy()
        if dup.any():
            problems.append(problem_at(f"{unit}, {time}", "duplicate (unit, time) pairs",
                                       np.flatnonzero(dup)))
    if problems:
        raise PanelError(source, problems)
    out = df.copy()
    out[time] = pd.to_numeric(out[time]).round().astype(np.int64)
    for c in columns:
        out[c] = pd.to_numeric(out[c]).astype(float)
    return out


def deflate(frame: pd.DataFrame, *, value: str, deflator: str, unit: str, time: str,
            base_period: int | None = None, source: str = "<DataFrame>") -> pd.Series:
    """``value`` in constant prices of ``base_period``: ``value_t * P_base / P_t`` per unit.

    ``deflator`` is a price index column (any base, e.g. a provincial GDP or fixed-asset
    investment price index); ``base_period`` defaults to the first period of the table. Every
    unit needs a positive deflator in the base period and wherever ``value`` is given.
    """
    df = checked_frame(frame, unit, time, [value, deflator], source, allow_missing=True)
    base = int(df[time].min()) if base_period is None else int(base_period)
    at_base = df.loc[df[time] == base].set_index(unit)[deflator]
    p_base = df[unit].map(at_base)
    bad = (df[value].notna() & ~(df[deflator] > 0)) | ~(p_base > 0)
    if bad.any():
        raise PanelError(source, [problem_at(deflator, f"deflator missing or not positive (in the "
                                                       f"row or in base period {base})",
                                             np.flatnonzero(bad.to_numpy()))])
    return pd.Series(df[value].to_numpy() * p_base.to_numpy() / df[deflator].to_numpy(),
                     index=frame.index, name=value)


@dataclass(frozen=True)
class CapitalStock:
    """A perpetual-inventory capital stock: ``stock`` aligned with the caller's rows (empty where
    it is undefined), the real ``investment`` used, the investment ``filled`` into gaps and the
    units ``skipped`` for gaps (unit, missing periods), and notes saying so."""

    stock: pd.Series
    investment: pd.Series
    filled: pd.DataFrame
    skipped: pd.DataFrame
    notes: tuple[str, ...] = ()


def _wide(df: pd.DataFrame, unit: str, time: str, column: str) -> pd.DataFrame:
    """Units x every integer period from the first to the last, NaN where nothing is given."""
    wide = df.pivot(index=unit, columns=time, values=column)
    return wide.reindex(columns=np.arange(int(df[time].min()), int(df[time].max()) + 1))


def _gaps(inv: pd.DataFrame) -> pd.DataFrame:
    """Missing periods strictly between a unit's first and last observed investment."""
    seen = inv.notna()
    inside = seen.cummax(axis=1) & seen.iloc[:, ::-1].cummax(axis=1).iloc[:, ::-1]
    gap = inside & ~seen
    units, periods = np.nonzero(gap.to_numpy())
    return pd.DataFrame({"unit": inv.index[units], "period": inv.columns[periods]})


def _gap_problem(gaps: pd.DataFrame, investment: str) -> Problem:
    shown = gaps.groupby("unit", sort=False)["period"].apply(lambda p: ", ".join(map(str, p)))
    listed = "; ".join(f"{u}: {p}" for u, p in list(shown.items())[:5])
    more = f" (and {len(shown) - 5} more units)" if len(shown) > 5 else ""
    return Problem(investment, f"investment has gaps inside the series ({listed}{more}); choose "
                               "gaps: interpolate or gaps: skip")


def initial_stock(inv: np.ndarray, periods: np.ndarray, depreciation: float,
                  growth: float | None) -> tuple[np.ndarray, np.ndarray]:
    """``K_0 = I_0 / (g + delta)`` from each unit's first observed investment (Harberger 1978).

    ``g`` is ``growth`` if given, else the unit's mean annual log growth of real investment
    between its first and last observed periods. Returns ``K_0`` and the first columns.
    """
    seen = ~np.isnan(inv)
    first = seen.argmax(axis=1)
    last = inv.shape[1] - 1 - seen[:, ::-1].argmax(axis=1)
    rows = np.arange(inv.shape[0])
    i0, i1 = inv[rows, first], inv[rows, last]
    if growth is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.log(i1 / i0) / (periods[last] - periods[first])
    else:
        g = np.full(len(rows), float(growth))
    return i0 / (g + depreciation), first


def _accumulate(inv: np.ndarray, k0: np.ndarray, first: np.ndarray, depreciation: float):
    """``K_t = (1 - delta) K_{t-1} + I_t`` from each unit's first period; NaN after the series."""
    stock = np.full(inv.shape, np.nan)
    rows = np.arange(inv.shape[0])
    stock[rows, first] = k0
    for k in range(1, inv.shape[1]):
        carry = (1 - depreciation) * stock[:, k - 1] + inv[:, k]
        start = first == k
        stock[:, k] = np.where(start, stock[:, k], carry)
    return stock


def _fill_gaps(wide: pd.DataFrame, gaps: pd.DataFrame, mode: str, investment: str, source: str):
    """Apply the gap policy: refuse, interpolate log-linearly, or leave the unit out."""
    if gaps.empty:
        return wide, gaps.iloc[:0], gaps.iloc[:0]
    if mode == "error":
        raise PanelError(source, [_gap_problem(gaps, investment)])
    if mode == "skip":
        return wide.drop(index=gaps["unit"].unique()), gaps.iloc[:0], gaps
    logs = np.log(wide).T.interpolate(method="index", limit_area="inside").T
    return np.exp(logs), gaps, gaps.iloc[:0]


def _start_problem(wide: pd.DataFrame, k0: np.ndarray, investment: str) -> list[Problem]:
    bad = ~(np.isfinite(k0) & (k0 > 0))
    if not bad.any():
        return []
    units = ", ".join(map(str, wide.index[bad][:5]))
    return [Problem(investment, f"initial stock I_0 / (growth + depreciation) is not positive for "
                                f"{int(bad.sum())} units (e.g. {units}): investment falls faster "
                                "than capital depreciates; give growth: explicitly")]


def _pim_notes(filled, skipped, wide, stock) -> tuple[str, ...]:
    notes = []
    if len(filled):
        notes.append(f"investment interpolated (log-linear) in {len(filled)} unit-years inside "
                     f"the series of {filled['unit'].nunique()} units")
    if len(skipped):
        notes.append(f"{skipped['unit'].nunique()} units with gaps in investment have no "
                     "capital stock")
    late = np.isnan(stock[:, 0]).sum() if stock.size else 0
    if late:
        notes.append(f"{late} units' stock starts after the first period (no earlier investment)")
    return tuple(notes)


def perpetual_inventory(frame: pd.DataFrame, *, unit: str, time: str, investment: str,
                        depreciation: float = DEPRECIATION, deflator: str | None = None,
                        base_period: int | None = None, growth: float | None = None,
                        gaps: str = "error", source: str = "<DataFrame>") -> CapitalStock:
    """Capital stock by perpetual inventory: ``K_t = (1 - delta) K_{t-1} + I_t``.

    Investment is deflated by ``deflator`` (a price index; prices of ``base_period``, default the
    first period) unless it is already real. Each unit starts from its first observed period with
    ``K_0 = I_0 / (g + delta)`` (Harberger 1978; Hall & Jones 1999), ``g`` the unit's mean
    annual log growth of real investment unless ``growth`` is given; ``delta`` is 9.6% by default
    (Zhang, Wu & Zhang 2004). Periods missing inside a unit's series (absent rows or empty
    values) are refused (``gaps="error"``), filled by log-linear interpolation of real
    investment (``"interpolate"``) or leave the unit without a stock (``"skip"``); filled and
    skipped unit-years are returned and noted. Investment must be positive where given.
    """
    if gaps not in GAP_CHOICES:
        raise TFPParamError(f"gaps: must be one of {', '.join(GAP_CHOICES)}; got {gaps!r}")
    if not 0 <= depreciation < 1:
        raise TFPParamError(f"depreciation: must be in [0, 1); got {depreciation!r}")
    df = checked_frame(frame, unit, time, [investment] + ([deflator] if deflator else []), source,
                  allow_missing=True)
    nonpos = df[investment].notna() & ~(df[investment] > 0)
    if nonpos.any():
        raise PanelError(source, [problem_at(investment, "investment must be positive",
                                             np.flatnonzero(nonpos.to_numpy()))])
    real = df[investment] if deflator is None else deflate(
        df, value=investment, deflator=deflator, unit=unit, time=time, base_period=base_period,
        source=source)
    wide = _wide(df.assign(**{investment: real.to_numpy()}), unit, time, investment)
    wide, filled, skipped = _fill_gaps(wide, _gaps(wide), gaps, investment, source)
    inv, periods = wide.to_numpy(float), wide.columns.to_numpy()
    k0, first = initial_stock(inv, periods, depreciation, growth)
    problems = _start_problem(wide, k0, investment)
    if problems:
        raise PanelError(source, problems)
    stock = _accumulate(inv, k0, first, depreciation)
    at = pd.MultiIndex.from_arrays([df[unit], df[time]])
    lookup = pd.DataFrame(stock, index=wide.index, columns=wide.columns).stack()
    used = pd.DataFrame(inv, index=wide.index, columns=wide.columns).stack()
    return CapitalStock(
        stock=pd.Series(lookup.reindex(at).to_numpy(), index=frame.index, name="capital_stock"),
        investment=pd.Series(used.reindex(at).to_numpy(), index=frame.index, name=investment),
        filled=filled.rename(columns={"unit": unit, "period": time}),
        skipped=skipped.rename(columns={"unit": unit, "period": time}),
        notes=_pim_notes(filled, skipped, wide, stock))
