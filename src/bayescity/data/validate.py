"""Checks on a raw panel table. Each check returns the problems it finds; nothing raises midway,
so that one :class:`~bayescity.data.errors.PanelError` can list every fault at once."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .errors import PanelError, Problem, problem_at


def _positions(mask: pd.Series | np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.asarray(mask, dtype=bool))


def missing_columns(df: pd.DataFrame, wanted: Iterable[str]) -> list[Problem]:
    present = set(df.columns)
    return [Problem(c, "column not found; available: " + ", ".join(map(str, df.columns)))
            for c in dict.fromkeys(wanted) if c not in present]


def numeric_problems(df: pd.DataFrame, column: str, *, allow_missing: bool,
                     role: str) -> list[Problem]:
    """Non-numeric, infinite and (unless allowed) missing values of a numeric column."""
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce") if raw.dtype == object or not \
        pd.api.types.is_numeric_dtype(raw) else raw.astype(float)
    values = values.astype(float)
    missing_raw = raw.isna()
    bad = values.isna() & ~missing_raw
    out = []
    if bad.any():
        example = raw[bad].iloc[0]
        out.append(problem_at(column, f"{role} has non-numeric values (e.g. {example!r})", _positions(bad)))
    inf = np.isinf(values.to_numpy())
    if inf.any():
        out.append(problem_at(column, f"{role} has infinite values", _positions(inf)))
    if not allow_missing and missing_raw.any():
        out.append(problem_at(column, f"{role} has missing values", _positions(missing_raw)))
    return out


def check_numeric_columns(df: pd.DataFrame, columns: Sequence[str], source: str, role: str) -> None:
    """Raise a PanelError if any of ``columns`` is absent or not finite numeric."""
    problems = missing_columns(df, columns)
    for c in columns:
        if c in df.columns:
            problems += numeric_problems(df, c, allow_missing=False, role=role)
    if problems:
        raise PanelError(source, problems)


def _shown(value) -> str:
    """A cell as a message shows it: ``0.88``, not numpy's ``np.float64(0.88)``."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def time_problems(df: pd.DataFrame, time: str) -> list[Problem]:
    values = pd.to_numeric(df[time], errors="coerce").astype(float)
    bad = values.isna() | (np.abs(values - np.round(values)) > 1e-9)
    if bad.any():
        example = df[time][bad].iloc[0]
        return [problem_at(time, f"time must be integer periods (e.g. years); got {_shown(example)}",
                           _positions(bad))]
    return []


def unit_problems(df: pd.DataFrame, unit: str, time: str) -> list[Problem]:
    out = []
    missing = df[unit].isna()
    if missing.any():
        out.append(problem_at(unit, "unit identifier is missing", _positions(missing)))
    dup = df.duplicated([unit, time], keep=False) & ~missing
    if dup.any():
        out.append(problem_at(f"{unit}, {time}", "duplicate (unit, time) pairs", _positions(dup)))
    counts = df.groupby(unit, dropna=True)[unit].transform("size")
    single = (counts == 1) & ~missing
    if single.any():
        out.append(problem_at(unit, "unit has a single observation (cannot be used in a panel)",
                              _positions(single)))
    return out


def constant_within_unit(df: pd.DataFrame, unit: str, column: str, what: str) -> list[Problem]:
    """Rows of units whose ``column`` takes more than one value (missing counted as a value)."""
    filled = df[column].astype(object).where(df[column].notna(), "<missing>")
    n_levels = filled.groupby(df[unit]).transform("nunique")
    bad = n_levels > 1
    if bad.any():
        units = pd.unique(df.loc[bad, unit])[:3]
        return [problem_at(column, f"{what} varies within unit (e.g. unit {_shown(units[0])})",
                           _positions(bad))]
    return []


def trait_problems(df: pd.DataFrame, unit: str, trait: str) -> list[Problem]:
    out = []
    missing = df[trait].isna()
    if missing.any():
        out.append(problem_at(trait, "trait has missing values", _positions(missing)))
    return out + constant_within_unit(df, unit, trait, "trait")


def cohort_problems(df: pd.DataFrame, unit: str, cohort: str) -> list[Problem]:
    values = pd.to_numeric(df[cohort], errors="coerce").astype(float)
    bad = (values.isna() & df[cohort].notna()) | (np.abs(values - np.round(values)) > 1e-9) | (values < 0)
    if bad.any():
        return [problem_at(cohort, "cohort must be a non-negative integer period (0 or empty = never "
                                   f"treated); got {_shown(df[cohort][bad].iloc[0])}", _positions(bad))]
    return constant_within_unit(df, unit, cohort, "cohort (first treated period)")


def treatment_problems(df: pd.DataFrame, unit: str, time: str, treatment: str) -> list[Problem]:
    values = pd.to_numeric(df[treatment], errors="coerce")
    bad = ~values.isin([0, 1])
    if bad.any():
        return [problem_at(treatment, "treatment must be 0/1; got "
                                      f"{_shown(df[treatment][bad].iloc[0])}", _positions(bad))]
    order = np.lexsort((pd.to_numeric(df[time], errors="coerce").to_numpy(), pd.factorize(df[unit])[0]))
    d = values.to_numpy()[order]
    u = pd.factorize(df[unit])[0][order]
    switch_off = np.zeros(len(d), dtype=bool)
    switch_off[1:] = (u[1:] == u[:-1]) & (d[1:] < d[:-1])
    if switch_off.any():
        return [problem_at(treatment, "treatment switches off (1 then 0); it must be absorbing",
                           np.sort(order[switch_off]))]
    return []


def consistency_problems(df: pd.DataFrame, time: str, cohort: str, treatment: str) -> list[Problem]:
    g = pd.to_numeric(df[cohort], errors="coerce").fillna(0).to_numpy()
    t = pd.to_numeric(df[time], errors="coerce").to_numpy()
    implied = (g > 0) & (t >= g)
    bad = implied != (pd.to_numeric(df[treatment], errors="coerce").to_numpy() == 1)
    if bad.any():
        return [problem_at(f"{cohort}, {treatment}", "cohort is inconsistent with treatment "
                           "(treatment must be 1 exactly from the cohort period on)", _positions(bad))]
    return []


def after_drop_problems(df: pd.DataFrame, unit: str, outcome: str) -> list[Problem]:
    """Units left with fewer than two observations once rows with a missing outcome are dropped."""
    kept = df[outcome].notna()
    if not kept.any():
        return [Problem(outcome, "no rows left after dropping missing outcomes")]
    counts = kept.groupby(df[unit]).transform("sum")
    bad = (counts == 1) & kept
    if bad.any():
        return [problem_at(unit, "unit has a single observation once missing outcomes are dropped",
                           _positions(bad))]
    return []
