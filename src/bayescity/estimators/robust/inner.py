"""The estimator a robustness analysis wraps (``estimator:`` and ``estimator_params:``).

Placebo, mechanism, heterogeneity, sensitivity and coding analyses re-run one registered
estimator (``twfe`` by default) on altered panels. These helpers check that choice when the
config is read, build the estimator with a child seed, and read its numbers back.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ...data.panel import Panel
from ...results.effect import EffectResult
from ...results.parts import Facts, Message, Part
from ..core.base import Estimator, ParamError, did_you_mean
from ..core.seeds import RandomState, child_seeds
from ..registry import UnknownMethodError, check_params, get_estimator

#: Methods that wrap another estimator and therefore cannot be wrapped themselves.
WRAPPERS = ("placebo", "psm_did", "mechanisms", "heterogeneity", "honest_did", "codings",
            "pretrends_power")
#: Parameters of the wrapped estimator that the wrapper sets itself.
OWNED = ("by", "by_bins", "random_state")
#: Parameters naming panel columns, checked against the data before any fit.
COLUMN_PARAMS = ("by", "cluster", "covariates", "trend_covariates")


def check_inner(name: str, params: Mapping[str, Any] | None,
                allowed: Sequence[str] | None = None) -> None:
    """Raise :class:`ParamError` (``estimator: ...`` / ``estimator_params: ...``) unless ``name``
    is a registered estimator (among ``allowed`` when given) and ``params`` are valid for it."""
    if allowed is not None and name not in allowed:
        raise ParamError(f"estimator: {name!r} is not one of {list(allowed)}"
                         f"{did_you_mean(name, allowed)}")
    if name in WRAPPERS:
        raise ParamError(f"estimator: {name!r} wraps an estimator itself; choose a base "
                         "estimator such as 'twfe' or 'callaway_santanna'")
    try:
        cls = get_estimator(name)
    except UnknownMethodError as exc:
        raise ParamError(f"estimator: {exc}") from None
    params = dict(params or {})
    owned = [k for k in OWNED if k in params]
    if owned:
        raise ParamError(f"estimator_params: {owned} are set by the analysis itself; give `by` "
                         "at the top level of params")
    try:
        check_params(cls, params)
        cls(**params).validate()
    except (ValueError, TypeError) as exc:
        raise ParamError(f"estimator_params: {exc}") from None


def make_inner(name: str, params: Mapping[str, Any] | None, *, by: str | None = None,
               random_state: RandomState = None) -> Estimator:
    """The wrapped estimator with ``by`` and, when it is random, a seed derived from
    ``random_state`` (the same on every call)."""
    cls = get_estimator(name)
    kwargs = dict(params or {})
    accepted = cls.param_names()
    if by is not None:
        kwargs["by"] = by
    if "random_state" in accepted:
        seed = child_seeds(random_state, 1)[0]
        kwargs["random_state"] = int(seed.generate_state(1, dtype=np.uint32)[0])
    return cls(**kwargs)


def check_inner_panel(name: str, params: Mapping[str, Any] | None, panel: Panel) -> None:
    """Column checks of the wrapped estimator's parameters and its own :meth:`check_panel`."""
    have = set(panel.frame.columns)
    for key in COLUMN_PARAMS:
        value = (params or {}).get(key)
        wanted = [value] if isinstance(value, str) else list(value or [])
        missing = [c for c in wanted if c not in have]
        if missing:
            raise ParamError(f"estimator_params: {key}: column(s) {missing} are not in the data")
    make_inner(name, params).check_panel(panel)


def check_columns(param: str, columns: Sequence[str] | str | None, panel: Panel,
                  numeric: bool = False) -> None:
    """Raise :class:`ParamError` naming ``param`` for columns missing from (or not numeric in)
    the panel."""
    wanted = [columns] if isinstance(columns, str) else list(columns or [])
    missing = [c for c in wanted if c not in panel.frame.columns]
    if missing:
        raise ParamError(f"{param}: column(s) {missing} are not in the data"
                         f"{did_you_mean(missing[0], list(panel.frame.columns))}")
    if numeric:
        bad = [c for c in wanted if not pd.api.types.is_numeric_dtype(panel.frame[c])]
        if bad:
            raise ParamError(f"{param}: column(s) {bad} are not numeric")


def row_of(result: EffectResult, term: str = "overall") -> dict[str, float]:
    """Estimate, standard error, interval and p-value of one term of a result."""
    row = result.row(term)
    return {k: float(row[k]) for k in ("estimate", "std_error", "lower", "upper", "p_value")}


def relabel(result: EffectResult, method: str, estimand: str | None = None,
            settings: Mapping[str, Any] | None = None, messages: Sequence[Message] = (),
            parts: Sequence[Part] = (), **changes: Any) -> EffectResult:
    """A copy of ``result`` reported under another method (and estimand): ``settings`` added to
    its ``settings`` part, ``messages`` after its own, ``parts`` added (replacing parts of the
    same name)."""
    merged = Facts("settings", {**result.facts("settings"), **(settings or {})})
    names = {p.name for p in parts} | {"settings"}
    kept = [p for p in result.parts if p.name not in names]
    return result.replace(method=method, estimand=estimand or result.estimand,
                          messages=(*result.messages, *messages),
                          parts=[merged, *kept, *parts], **changes)
