"""Parameter checks shared by estimators of every paradigm, in the config's words.

Value checks (:func:`check_int`, :func:`check_prob`, :func:`check_window` ...) run in an
estimator's ``_validate`` when the config is read; checks that need the data
(:func:`check_numeric_columns`, :func:`check_unit_constant`, :func:`require_untreated_periods`)
run in its ``check_panel`` before any estimator of a run is fitted. Each raises
:class:`~bayescity.estimators.core.base.ParamError` naming the parameter.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ...data.panel import Panel
from ...data.validate import constant_within_unit, numeric_problems
from .base import ParamError, did_you_mean


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_bool(name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ParamError(f"{name}: {value!r} is not true or false")


def check_int(name: str, value: Any, minimum: int | None = None) -> None:
    """An integer, at least ``minimum`` when given."""
    if not _is_int(value):
        raise ParamError(f"{name}: {value!r} is not an integer")
    if minimum is not None and value < minimum:
        raise ParamError(f"{name}: {value} is below the minimum {minimum}")


def check_prob(name: str, value: Any) -> None:
    """A probability strictly between 0 and 1 (e.g. ``interval_prob: 0.9``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
            or not 0 < float(value) < 1:
        raise ParamError(f"{name}: {value!r} must be a number strictly between 0 and 1 "
                         "(e.g. 0.95)")


def check_names(name: str, value: Any) -> None:
    """None or a list of column names (a bare string is refused: YAML `[a, b]` lists them)."""
    if value is None:
        return
    if isinstance(value, str) or not isinstance(value, Sequence) \
            or not all(isinstance(v, str) for v in value):
        raise ParamError(f"{name}: give a list of column names, e.g. [{value}]"
                         if isinstance(value, str) else
                         f"{name}: {value!r} is not a list of column names")


def check_name(name: str, value: Any) -> None:
    """None or one column name."""
    if value is not None and not isinstance(value, str):
        raise ParamError(f"{name}: {value!r} is not a column name")


def check_window(name: str, value: Any, *, allow_none: bool = True, leads_only: bool = False,
                 around_zero: bool = False) -> None:
    """A pair of integer event times ``[lo, hi]`` with ``lo <= hi``.

    ``leads_only``: ``hi < 0`` (pre-treatment event times); ``around_zero``: ``lo < 0 <= hi``.
    """
    if value is None:
        if allow_none:
            return
        raise ParamError(f"{name}: give two event times [first, last]")
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2 \
            or not all(_is_int(v) for v in value):
        raise ParamError(f"{name}: {value!r} is not a pair of integer event times [first, last]")
    lo, hi = int(value[0]), int(value[1])
    if lo > hi:
        raise ParamError(f"{name}: [{lo}, {hi}] runs backwards; give [first, last]")
    if leads_only and hi >= 0:
        raise ParamError(f"{name}: [{lo}, {hi}] must hold leads only (last event time < 0)")
    if around_zero and not lo < 0 <= hi:
        raise ParamError(f"{name}: [{lo}, {hi}] must contain leads and lags (first < 0 <= last)")


# ---------------------------------------------------------------------------- data checks
def check_columns_exist(panel: Panel, name: str, columns: Sequence[str]) -> None:
    have = [str(c) for c in panel.frame.columns]
    missing = [c for c in columns if c not in have]
    if missing:
        hint = did_you_mean(missing[0], have)
        raise ParamError(f"{name}: column {missing[0]!r} is not in the data{hint}")


def check_numeric_columns(panel: Panel, name: str, columns: Sequence[str]) -> None:
    """Columns present, numeric, finite and without missing values."""
    check_columns_exist(panel, name, columns)
    for c in columns:
        if c in panel.covariates or c == panel.outcome:
            continue
        problems = numeric_problems(panel.frame, c, allow_missing=False, role=name)
        if problems:
            raise ParamError(f"{name}: column {c!r}: {problems[0].message}")


def check_unit_constant(panel: Panel, name: str, columns: Sequence[str]) -> None:
    """Columns present and constant within units (a cluster, a trait, a baseline value)."""
    check_columns_exist(panel, name, columns)
    for c in columns:
        if constant_within_unit(panel.frame, panel.unit, c, name):
            first = _first_varying_unit(panel.frame, panel.unit, c)
            raise ParamError(f"{name}: column {c!r} varies within units (e.g. unit {first!r}); "
                             "it must be constant within units")


def _first_varying_unit(frame: pd.DataFrame, unit: str, column: str) -> Any:
    spread = frame.groupby(unit)[column].nunique(dropna=False)
    first = spread.index[spread > 1][0]
    return first.item() if hasattr(first, "item") else first


def require_untreated_periods(panel: Panel) -> None:
    """Refuse a panel whose treated units are all treated in every period they are observed.

    Such units have no untreated period: unit fixed effects absorb their treatment and
    staggered estimators drop them, so nothing is left to estimate. Usually the timing column
    is a group dummy (``ever_treated``) rather than the treatment timing; the loader's warning
    says so and is repeated here.
    """
    treated = panel.treated_units
    if len(treated) == 0:
        raise ParamError("data: no treated units (every unit's cohort is 0); check `cohort:` or "
                         "`treatment:`")
    if len(panel.always_treated_units()) < len(treated):
        return
    reason = panel.warnings[0] if panel.warnings else (
        "they have no untreated period to compare with; give the first treated period as "
        "`cohort:` or a 0/1 `treatment:` column that turns 1 in the adoption period")
    raise ParamError(f"data: all {len(treated)} treated units are treated in every period they "
                     f"are observed: {reason}")
