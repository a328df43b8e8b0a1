"""Estimator parameters, declared once: type, bounds, choices and one line of help.

Every estimator class declares its parameters in ``params``: a mapping from the constructor
keyword to a :class:`Spec`. The default lives in the constructor's signature only; the rest of
what a parameter is lives here, and everything else is generated from the two: value checks
when a config is read (:func:`check_value`, with a did-you-mean for near misses), the data
checks of column parameters before any fit (:func:`check_role`), the CLI's ``bayescity methods``
listing and the README's parameter reference (:func:`describe`).
"""

from __future__ import annotations

import difflib
import inspect
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from ...data.traits import n_bins


class ParamError(ValueError):
    """A parameter value the estimator cannot use, found before any fit.

    The message names the parameter in the config's words (``control_group: ...``); the config
    loader prefixes the estimator id and exits 2.
    """


#: Value kinds a parameter can have.
KINDS = ("bool", "int", "float", "prob", "choice", "str", "seed", "column", "columns",
         "trait", "traits", "window", "mapping", "method", "bins", "numbers", "list")
#: Data roles of column parameters, checked against the panel before any fit (see
#: :func:`bayescity.estimators.core.checks`).
ROLES = ("covariates", "trend_covariates", "cluster", "by", "traits", "numeric_column",
         "numeric_columns", "unit_column")
#: Largest seed accepted (numpy's SeedSequence takes any non-negative integer; configs are
#: kept to 128 bits).
MAX_SEED = 2**128 - 1


@dataclass(frozen=True)
class Spec:
    """What one parameter is.

    ``kind`` is its value type (:data:`KINDS`); ``help`` one line a user reads; ``choices``
    the allowed values of a ``choice``; ``low``/``high`` bounds of a number (exclusive when
    ``open_low``/``open_high``); ``multiple_of`` for integers that must be multiples;
    ``none`` whether None is allowed (its meaning belongs in ``help``); ``role`` the data role
    of a column parameter (:data:`ROLES`), checked against the panel.
    """

    kind: str
    help: str
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    none: bool = False
    multiple_of: int | None = None
    role: str | None = None
    #: ``trait``: one trait or a list of them.
    many: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}")
        if self.role is not None and self.role not in ROLES:
            raise ValueError(f"unknown parameter role {self.role!r}")
        if self.kind == "choice" and not self.choices:
            raise ValueError("a choice parameter needs choices")

    def allowed(self) -> str:
        """The allowed values in words (for listings)."""
        if self.kind == "choice":
            text = ", ".join(repr(c) if isinstance(c, str) else str(c) for c in self.choices)
        elif self.kind in ("int", "float", "prob", "seed"):
            text = _range_text(self)
        elif self.kind == "window":
            text = "[first, last] event times"
        elif self.kind in ("columns", "traits"):
            text = "list of column names" if self.kind == "columns" else "list of traits"
        elif self.kind == "trait":
            text = "a trait or a list of traits" if self.many else "a trait"
        elif self.kind == "bins":
            text = "quartiles, terciles, median or an integer >= 2"
        else:
            text = {"bool": "true or false", "column": "a column name", "str": "text",
                    "mapping": "a mapping", "method": "a registered method",
                    "numbers": "list of numbers" + (f" {_range_text(self)[7:]}" if
                                                    self.low is not None else ""),
                    "list": "a list"}[self.kind]
        return text + (", or null" if self.none else "")


def _range_text(spec: Spec) -> str:
    if spec.kind == "prob":
        return "0 < x < 1"
    if spec.kind == "seed":
        return "integer >= 0"
    kind = "integer" if spec.kind == "int" else "number"
    parts = []
    if spec.low is not None:
        parts.append(f"{'>' if spec.open_low else '>='} {_num(spec.low)}")
    if spec.high is not None:
        parts.append(f"{'<' if spec.open_high else '<='} {_num(spec.high)}")
    text = f"{kind} {' and '.join(parts)}" if parts else kind
    return text + (f", a multiple of {spec.multiple_of}" if spec.multiple_of else "")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


# ----------------------------------------------------------------------------- did you mean
def _norm(text: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(text).lower())


def did_you_mean(value: Any, choices: Sequence[Any]) -> str:
    """`` (did you mean 'x'?)`` for a near miss among ``choices``, else ``""``.

    A near miss: the same letters up to case, spaces, ``_``, ``-`` and ``.``; a value that
    begins one choice only (``notyet`` -> ``not_yet_treated``); or a close spelling.
    """
    if not choices:
        return ""
    by_norm: dict[str, Any] = {}
    for c in choices:
        by_norm.setdefault(_norm(c), c)
    target = _norm(value)
    if not target:
        return ""
    if target in by_norm:
        return f" (did you mean {str(by_norm[target])!r}?)"
    starts = [c for n, c in by_norm.items() if n.startswith(target) and len(target) >= 3]
    if len(starts) == 1:
        return f" (did you mean {str(starts[0])!r}?)"
    by_lower = {str(c).lower(): c for c in choices}
    near = difflib.get_close_matches(str(value).lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {str(by_lower[near[0]])!r}?)" if near else ""


# ----------------------------------------------------------------------------- value checks
def is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    return (is_int(value) or isinstance(value, (float, np.floating))) and np.isfinite(value)


def _names(name: str, value: Any, what: str) -> None:
    if isinstance(value, str) or not isinstance(value, Sequence) \
            or not all(isinstance(v, str) for v in value):
        raise ParamError(f"{name}: give a list of {what}, e.g. [{value}]" if isinstance(value, str)
                         else f"{name}: {value!r} is not a list of {what}")
    dupes = sorted({v for v in value if list(value).count(v) > 1})
    if dupes:
        raise ParamError(f"{name}: {dupes} listed more than once")


def check_value(name: str, value: Any, spec: Spec) -> None:
    """Raise :class:`ParamError` unless ``value`` fits ``spec``, in the config's words."""
    if value is None:
        if spec.none:
            return
        raise ParamError(f"{name}: a value is required ({spec.allowed()})")
    kind = spec.kind
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise ParamError(f"{name}: {value!r} is not true or false")
    elif kind == "seed" and isinstance(value, (np.random.SeedSequence, np.random.Generator)):
        return  # from Python: a parent's child seed
    elif kind in ("int", "seed"):
        if not is_int(value):
            raise ParamError(f"{name}: {value!r} is not an integer")
        if kind == "seed" and not 0 <= value <= MAX_SEED:
            raise ParamError(f"{name}: {value} must be an integer from 0 to 2**128 - 1")
        _check_range(name, value, spec)
    elif kind in ("float", "prob"):
        if isinstance(value, (bool, np.bool_)) or not _is_number(value):
            raise ParamError(f"{name}: {value!r} is not a number"
                             + (" strictly between 0 and 1 (e.g. 0.95)" if kind == "prob" else ""))
        if kind == "prob" and not 0 < float(value) < 1:
            raise ParamError(f"{name}: {value!r} must be a number strictly between 0 and 1 "
                             "(e.g. 0.95)")
        _check_range(name, value, spec)
    elif kind == "choice":
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) \
                or value not in spec.choices:
            raise ParamError(f"{name}: {value!r} is not one of {list(spec.choices)}"
                             f"{did_you_mean(value, spec.choices)}")
    elif kind in ("str", "column", "method"):
        if not isinstance(value, str) or not value.strip():
            raise ParamError(f"{name}: {value!r} is not "
                             + ("a column name" if kind == "column" else "text"))
    elif kind == "columns":
        _names(name, value, "column names")
    elif kind == "traits":
        _names(name, value, "trait names")
    elif kind == "trait":
        if spec.many and not isinstance(value, str):
            _names(name, value, "trait names")
        elif not isinstance(value, str):
            raise ParamError(f"{name}: {value!r} is not a trait name")
    elif kind == "window":
        _check_window(name, value)
    elif kind == "mapping":
        if not isinstance(value, Mapping):
            raise ParamError(f"{name}: {value!r} is not a mapping (key: value pairs)")
    elif kind == "list":
        if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence) or not value:
            raise ParamError(f"{name}: {value!r} is not a non-empty list")
    elif kind == "numbers":
        if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence) or not value \
                or not all(_is_number(v) and not isinstance(v, bool) for v in value):
            raise ParamError(f"{name}: {value!r} is not a non-empty list of numbers")
        for v in value:
            _check_range(name, v, spec)
    elif kind == "bins":

        try:
            n_bins(value)
        except ValueError as exc:
            raise ParamError(str(exc)) from None


def _check_range(name: str, value: Any, spec: Spec) -> None:
    v, low, high = float(value), spec.low, spec.high
    if low is not None and spec.open_low and v <= low:
        raise ParamError(f"{name}: {value!r} must be greater than {_num(low)}")
    if low is not None and not spec.open_low and v < low:
        raise ParamError(f"{name}: {value!r} is below the minimum {_num(low)}")
    if high is not None and spec.open_high and v >= high:
        raise ParamError(f"{name}: {value!r} must be less than {_num(high)}")
    if high is not None and not spec.open_high and v > high:
        raise ParamError(f"{name}: {value!r} is above the maximum {_num(high)}")
    if spec.multiple_of and int(value) % spec.multiple_of:
        raise ParamError(f"{name}: {value!r} must be a multiple of {spec.multiple_of}")


def _check_window(name: str, value: Any) -> None:
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2 \
            or not all(is_int(v) for v in value):
        raise ParamError(f"{name}: {value!r} is not a pair of integer event times [first, last]")
    if int(value[0]) > int(value[1]):
        raise ParamError(f"{name}: [{value[0]}, {value[1]}] runs backwards; give [first, last]")


# ----------------------------------------------------------------------------- listings
def signature_defaults(cls: type) -> dict[str, Any]:
    """The constructor keywords of ``cls`` and their defaults (in signature order)."""
    sig = inspect.signature(cls.__init__)
    return {p.name: p.default for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def describe(cls: type) -> list[dict[str, str]]:
    """One row per parameter of an estimator class: name, kind, default, allowed values and
    help, in signature order."""
    rows = []
    for name, default in signature_defaults(cls).items():
        spec = cls.params[name]
        rows.append({"name": name, "kind": spec.kind, "default": _default_text(default),
                     "allowed": spec.allowed(), "help": spec.help})
    return rows


def _default_text(default: Any) -> str:
    if default is inspect.Parameter.empty:
        return "(required)"
    if default is None:
        return "null"
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, tuple):
        return "[" + ", ".join(_default_text(v) for v in default) + "]"
    return str(default)


# ----------------------------------------------------------------------------- shared specs
#: Parameters many estimators share, declared once.
COVARIATES = Spec("columns", "numeric controls to adjust for; null: the panel's covariates",
                  none=True, role="covariates")
TREND_COVARIATES = Spec("columns", "unit characteristics interacted with period dummies "
                                   "(baseline-trait x year controls)", none=True,
                        role="trend_covariates")
CLUSTER = Spec("column", "column to cluster standard errors by; null: the panel's cluster "
                         "(the unit unless set)", none=True, role="cluster")
BY = Spec("trait", "trait whose levels each get an ATT (ATT_by_<trait>) and an equality test",
          none=True, role="by")
BY_BINS = Spec("bins", "quantile bins of a numeric `by` trait (quartiles, terciles, median or "
                       "a number of bins)", none=True)
INTERVAL_PROB = Spec("prob", "probability mass of every interval (0.95: 95% intervals)")
RANDOM_STATE = Spec("seed", "seed of the estimator's random draws; configs set it from the "
                            "experiment seed", none=True)
N_BOOT = Spec("int", "bootstrap draws", low=1)
EFFECT_MODIFIERS = Spec("traits", "traits the effect may vary with (CATE, BLP, drivers); "
                                  "null: every trait of the panel", none=True, role="traits")
ESTIMATOR = Spec("method", "the estimator the analysis re-runs (a registered method)")
ESTIMATOR_PARAMS = Spec("mapping", "parameters of that estimator (as under its own params:)",
                        none=True)
