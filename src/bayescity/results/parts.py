"""The typed parts a result carries besides its term table, and the messages it reports.

An :class:`~bayescity.results.effect.EffectResult` holds, next to its estimates, a tuple of
*parts* and a tuple of :class:`Message` objects. Every part is one of a few types -- :class:`Facts`
(labelled plain values: settings, sampler facts, priors), :class:`Table` (a named table: drivers,
balance, sensitivity grids, model checks), :class:`Diagnostics` (a sampler's R-hat/ESS table with
its breaches), :class:`Distribution` (draws under a null, e.g. placebo estimates) and
:class:`Text` (a printed tree) -- and carries a *declared* name: :data:`DECLARED` says, for every
name an estimator may use, its type, the title a report gives it and the report section that
shows it. A part whose name is not declared, or whose type differs from the declaration, is
refused when the result is built, so a report can render everything a result carries. The stored results format
(:data:`bayescity.results.plain.RESULTS_FORMAT`) is computed from these declarations, so any
change to what a stored result means changes the model store's keys.

Everything handed out is read-only: tables are returned as copies (``Table.frame``), arrays as
read-only views, facts as read-only mappings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Iterable, Mapping

import numpy as np
import pandas as pd

from ..data.readonly import frame_copy, readonly_array

NOTE, WARNING = "note", "warning"
SEVERITIES = (NOTE, WARNING)


@dataclass(frozen=True)
class Message:
    """One sentence a result reports: a ``warning`` (a problem to act on, or a reason to trust
    a number less) or a ``note`` (a fact about how the numbers were made)."""

    text: str
    severity: str = NOTE

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"message severity must be one of {SEVERITIES}, got "
                             f"{self.severity!r}")
        object.__setattr__(self, "text", str(self.text))


def notes(*texts: str | None) -> tuple[Message, ...]:
    """Notes from the given sentences (``None`` and empty sentences are skipped)."""
    return tuple(Message(t, NOTE) for t in texts if t)


def warnings(*texts: str | None) -> tuple[Message, ...]:
    """Warnings from the given sentences (``None`` and empty sentences are skipped)."""
    return tuple(Message(t, WARNING) for t in texts if t)


# ----------------------------------------------------------------------------- read-only data
class FrozenDict(dict):
    """A read-only dict (picklable, unlike ``MappingProxyType``)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("read-only mapping: copy it with dict(...) to change it")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore
    __ior__ = _refuse  # type: ignore

    def __reduce__(self):
        return (FrozenDict, (dict(self),))

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=lambda kv: kv[0])))


def plain(value: Any, where: str = "value") -> Any:
    """``value`` as plain, immutable data (str, bool, int, float, None, tuples of them, read-only
    mappings of them); anything else is refused with a TypeError naming ``where``."""
    if value is None or isinstance(value, (str, bool, np.bool_)):
        return bool(value) if isinstance(value, np.bool_) else value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, Mapping):
        return FrozenDict({str(k): plain(v, f"{where}[{k!r}]") for k, v in value.items()})
    if isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) <= 1:
        return tuple(plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    raise TypeError(f"{where}: {type(value).__name__} is not plain data (text, numbers, "
                    "booleans, lists or mappings of them); use a Table or Distribution part")


# ----------------------------------------------------------------------------- part types
class Part:
    """Base of every part: ``name`` is one of :data:`DECLARED`. Parts are immutable."""

    kind: ClassVar[str] = "part"
    #: The constructor's arguments, in order (they define the stored format).
    FIELDS: ClassVar[tuple[str, ...]] = ("name",)

    def __init__(self, name: str):
        object.__setattr__(self, "name", str(name))

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} parts are read-only")

    __delattr__ = __setattr__  # type: ignore[assignment]

    def __reduce__(self):
        return (type(self), tuple(self._args()))

    def _args(self) -> list[Any]:
        return [getattr(self, f) for f in self.FIELDS]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Facts(Part):
    """Labelled plain values (settings, sampler facts, priors), read-only."""

    kind = "facts"
    FIELDS = ("name", "values")

    def __init__(self, name: str, values: Mapping[str, Any] | None = None):
        super().__init__(name)
        object.__setattr__(self, "values", plain(dict(values or {}), str(name)))

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and (self.name, self.values) == (other.name,
                                                                          other.values)

    __hash__ = None  # type: ignore[assignment]


class Table(Part):
    """A named table. :attr:`frame` returns a copy: changing it never changes the result."""

    kind = "table"
    FIELDS = ("name", "frame")

    def __init__(self, name: str, frame: pd.DataFrame):
        super().__init__(name)
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{name}: a {type(self).__name__} part holds a DataFrame, got "
                            f"{type(frame).__name__}")
        object.__setattr__(self, "_frame", frame.copy())

    @property
    def frame(self) -> pd.DataFrame:
        return frame_copy(self._frame)

    def __len__(self) -> int:
        return len(self._frame)


class Diagnostics(Table):
    """A sampler's convergence table (``parameter, variable, rhat, ess_bulk, ess_tail,
    reported, breach``, see :func:`bayescity.diagnostics.diagnose`); reports mark its breaches."""

    kind = "diagnostics"


class Distribution(Part):
    """Draws of statistics under a null (e.g. placebo estimates): ``draws`` is draws x terms
    (one column per label of ``labels``; a 1-d array is one term), ``observed`` the observed
    value of each term and ``p_value`` the p-value of each term's test. Arrays are read-only."""

    kind = "distribution"
    FIELDS = ("name", "draws", "observed", "p_value", "labels")

    def __init__(self, name: str, draws: Any, observed: Any = (), p_value: Any = None,
                 labels: Any = ("overall",)):
        super().__init__(name)
        arr = np.asarray(draws, dtype=float)
        arr = arr[:, None] if arr.ndim == 1 else arr
        labels = tuple(str(x) for x in np.atleast_1d(labels))
        if arr.ndim != 2 or arr.shape[1] != len(labels):
            raise ValueError(f"{name}: draws must be draws x {len(labels)} labels, got shape "
                             f"{arr.shape}")
        observed = tuple(float(x) for x in np.atleast_1d(observed))
        if observed and len(observed) != len(labels):
            raise ValueError(f"{name}: one observed value per label")
        pv = None if p_value is None else tuple(float(x) for x in np.atleast_1d(p_value))
        object.__setattr__(self, "draws", readonly_array(arr))
        object.__setattr__(self, "observed", observed)
        object.__setattr__(self, "p_value", pv)
        object.__setattr__(self, "labels", labels)

    def column(self, label: str = "overall") -> tuple[np.ndarray, float, float | None]:
        """The draws, observed value and p-value of one term."""
        j = self.labels.index(str(label))
        obs = self.observed[j] if self.observed else math.nan
        return self.draws[:, j], obs, None if self.p_value is None else self.p_value[j]


class Text(Part):
    """Preformatted text (e.g. a CATE tree)."""

    kind = "text"
    FIELDS = ("name", "text")

    def __init__(self, name: str, text: str):
        super().__init__(name)
        object.__setattr__(self, "text", str(text))


PART_TYPES: tuple[type[Part], ...] = (Facts, Table, Diagnostics, Distribution, Text)


# ----------------------------------------------------------------------------- declarations
@dataclass(frozen=True)
class PartSpec:
    """What a declared part is: its type, the title a report gives it, the report section
    that shows it and, for tables, the run-folder CSV that stacks it across estimators."""

    type: type[Part]
    title: str
    section: str
    csv: str | None = None


#: Report sections parts can be shown in.
SECTIONS = ("settings", "posterior", "model_checks", "ml", "placebo", "mechanisms",
            "heterogeneity", "balance", "codings", "sensitivity", "cells", "referee")

#: Every part name an estimator may emit. Adding an entry changes :data:`RESULTS_FORMAT`.
DECLARED: Mapping[str, PartSpec] = MappingProxyType({
    # facts of every estimator: settings, covariates used and dropped, inference details
    "settings": PartSpec(Facts, "Settings", "settings"),
    # Bayesian fits
    "diagnostics": PartSpec(Diagnostics, "R-hat, ESS and breaches", "posterior",
                            "diagnostics.csv"),
    "sampler": PartSpec(Facts, "Sampler", "posterior"),
    "model": PartSpec(Facts, "Model and priors", "posterior"),
    "level_differences": PartSpec(Table, "Posterior of each level's effect minus the first "
                                         "level's", "heterogeneity"),
    "ppc": PartSpec(Table, "Posterior predictive check", "model_checks"),
    "prior_predictive": PartSpec(Table, "Prior predictive check", "model_checks"),
    "prior_sensitivity": PartSpec(Table, "Prior sensitivity: posterior means with every prior "
                                         "scale halved and doubled", "model_checks"),
    "loo": PartSpec(Table, "Variants compared by PSIS-LOO", "model_checks"),
    # machine learning
    "drivers": PartSpec(Table, "Drivers", "ml", "drivers.csv"),
    "cate_tree": PartSpec(Text, "CATE tree", "ml"),
    "unit_scores": PartSpec(Table, "Per-unit scores", "ml"),
    "blp": PartSpec(Facts, "Best linear projection: reference levels and intercept", "ml"),
    # staggered cells
    "overall": PartSpec(Facts, "R did's second-stage overall numbers", "cells"),
    # referee estimators
    "comparisons": PartSpec(Table, "Goodman-Bacon decomposition: every 2x2 comparison with "
                                   "its estimate and weight", "referee", "bacon_comparisons.csv"),
    "decomposition": PartSpec(Facts, "The TWFE coefficient decomposed: weight of each "
                                     "comparison type and de Chaisemartin-D'Haultfoeuille's "
                                     "negative weights", "referee"),
    # what the report draws and reads besides the estimates: robustness checks (their kind:
    # randomization, placebo_outcome, fake_timing or sensitivity, and what they expect),
    # group-time effects by cohort, observed and imputed untreated outcomes of treated units
    "check": PartSpec(Facts, "Robustness check", "placebo"),
    "att_gt": PartSpec(Table, "ATT(g,t): group-time effects", "cells", "att_gt.csv"),
    "counterfactual": PartSpec(Table, "Treated units' observed outcome and imputed untreated "
                                      "outcome by event time", "cells"),
    # robustness analyses
    "placebo": PartSpec(Distribution, "Placebo distribution", "placebo"),
    "mechanisms": PartSpec(Table, "Mediators: effect of the policy and association with the "
                                  "outcome", "mechanisms"),
    "heterogeneity": PartSpec(Table, "Interaction and subsample estimates", "heterogeneity"),
    "balance": PartSpec(Table, "Covariate balance before and after matching", "balance"),
    "codings": PartSpec(Table, "ATT under alternative treatment codings", "codings"),
    "sensitivity": PartSpec(Table, "HonestDiD sensitivity: robust intervals by restriction",
                            "sensitivity"),
    # synthetic DID, synthetic control, pre-trend power and spatial spillovers
    "sdid_trajectories": PartSpec(Table, "Synthetic DID: treated and synthetic paths by cohort",
                                  "referee"),
    "sdid_unit_weights": PartSpec(Table, "Synthetic DID: unit weights (omega) by cohort",
                                  "referee"),
    "sdid_time_weights": PartSpec(Table, "Synthetic DID: time weights (lambda) by cohort",
                                  "referee"),
    "sc_trajectories": PartSpec(Table, "Synthetic control: treated and synthetic paths",
                                "referee"),
    "sc_unit_weights": PartSpec(Table, "Synthetic control: donor weights", "referee"),
    "sc_placebo_ranks": PartSpec(Table, "Synthetic control: post/pre RMSPE ratios of the "
                                        "in-space placebos", "referee"),
    "sc_predictor_balance": PartSpec(Table, "Synthetic control: predictor balance and weights V",
                                     "referee"),
    "pretrend_power_curve": PartSpec(Table, "Pre-trend test: power against linear violations",
                                     "referee"),
    "pretrend_violation": PartSpec(Facts, "Pre-trend test: the violation detected with the first "
                                          "power", "referee"),
    "pretrend_biases": PartSpec(Table, "Pre-trend test: bias of the post-period effects under "
                                       "that violation", "referee"),
    "pretrend_event_plot": PartSpec(Table, "Pre-trend test: event-study coefficients, the "
                                           "violation and their means after passing the test",
                                    "referee"),
    "spillover_by_ring": PartSpec(Table, "Spillovers on untreated neighbours by ring", "referee"),
})


class UndeclaredPartError(ValueError):
    """A part whose name is not in :data:`DECLARED`, or whose type differs from it."""


def check_parts(parts: Iterable[Part]) -> tuple[Part, ...]:
    """The parts as a tuple, each checked against :data:`DECLARED` (unique names)."""
    out, seen = tuple(parts), set()
    for p in out:
        spec = DECLARED.get(getattr(p, "name", None))
        if spec is None:
            raise UndeclaredPartError(f"part {getattr(p, 'name', p)!r} is not declared in "
                                      "bayescity.results.parts.DECLARED")
        if type(p) is not spec.type:
            raise UndeclaredPartError(f"part {p.name!r} is declared as {spec.type.__name__}, "
                                      f"got {type(p).__name__}")
        if p.name in seen:
            raise UndeclaredPartError(f"part {p.name!r} given twice")
        seen.add(p.name)
    return out


def declaration() -> dict[str, Any]:
    """The part types (their fields) and the declared part names, as plain data: what the
    stored results format is computed from."""
    return {"types": {t.__name__: [*t.FIELDS, t.kind] for t in PART_TYPES},
            "parts": {name: [s.type.__name__, s.section, s.csv] for name, s in DECLARED.items()},
            "severities": list(SEVERITIES)}
