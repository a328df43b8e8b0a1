"""The immutable :class:`Panel` every estimator consumes.

A Panel holds a private, validated copy of a unit x time table together with the roles of its
columns. It derives the treatment timing once (:data:`COHORT`: first treated period, 0 = never
treated; :data:`TREAT`: the absorbing 0/1 indicator; :data:`REL_TIME`: event time
``time - cohort``, NaN for never-treated units) and hands out integer codes for units, periods,
cohorts and trait levels, so that PyMC coords, NumPyro indices, econml ``groups`` and
fixed-effect ids all come from here.

The derived columns carry the reserved prefix ``_bc_`` so that they never collide with a user
column: a file with its own ``cohort``, ``treat`` or ``rel_time`` column loads as it is. Code
reads them through the constants :data:`COHORT`, :data:`TREAT` and :data:`REL_TIME`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .readonly import frame_copy
from .validate import check_numeric_columns

#: Prefix of the columns a Panel derives; user columns may not start with it.
RESERVED_PREFIX = "_bc_"
#: Columns a Panel derives (first treated period, treated-now indicator, event time).
COHORT, TREAT, REL_TIME = "_bc_cohort", "_bc_treat", "_bc_rel_time"
DERIVED = (COHORT, TREAT, REL_TIME)
#: A numeric trait with more distinct unit values than this is continuous (``numeric``).
MAX_CATEGORICAL_LEVELS = 10


#: Width of the labels in :meth:`PanelDescription.__str__` (values start in one column).
_LABEL = 16


def _line(label: str, value: object) -> str:
    return f"{label + ':':<{_LABEL}}{value}"


def _number(x: float) -> str:
    return f"{x:.4g}"


@dataclass(frozen=True)
class PanelDescription:
    """What :meth:`Panel.describe` reports.

    ``traits`` lists the levels of categorical traits with their unit counts; ``numeric_traits``
    summarises continuous ones by the min, quartiles and max of their unit values. ``warnings``
    are things that look like a mistake in the data roles (e.g. a group dummy given as the
    treatment); ``notes`` are facts about how the data were read.
    """

    source: str
    n_obs: int
    n_units: int
    n_periods: int
    first_period: int
    last_period: int
    balanced: bool
    cohorts: dict[int, int]
    n_never_treated: int
    n_always_treated: int
    outcome: str
    covariates: tuple[str, ...]
    traits: dict[str, dict[str, int]]
    numeric_traits: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The description as a plain dictionary."""
        return dict(self.__dict__)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(line.split(':', 1)[0])}"
                       f"</th><td style='text-align:left'>"
                       f"{html.escape(line.split(':', 1)[1].strip() if ':' in line else '')}"
                       "</td></tr>" for line in str(self).splitlines())
        return f"<table>{rows}</table>"

    def __str__(self) -> str:
        lines = [
            _line("source", self.source),
            _line("observations", self.n_obs),
            _line("units", self.n_units),
            _line("periods", f"{self.n_periods} ({self.first_period}-{self.last_period})"),
            _line("balanced", "yes" if self.balanced else "no (unbalanced panel)"),
            _line("outcome", self.outcome),
            _line("covariates", ", ".join(self.covariates) or "-"),
            _line("never treated", f"{self.n_never_treated} units"),
            _line("always treated", f"{self.n_always_treated} units (treated in every period "
                                    "they are observed)"),
            "cohorts (first treated period: units):",
        ]
        lines += [f"  {g}: {n}" for g, n in self.cohorts.items()] or ["  (none)"]
        for trait, levels in self.traits.items():
            lines.append(f"trait {trait}: " + ", ".join(f"{k} ({v})" for k, v in levels.items()))
        for trait, q in self.numeric_traits.items():
            lines.append(f"trait {trait} (numeric, {int(q['units'])} units): "
                         f"min {_number(q['min'])}, 25% {_number(q['q25'])}, "
                         f"median {_number(q['median'])}, 75% {_number(q['q75'])}, "
                         f"max {_number(q['max'])}")
        lines += [f"warning: {w}" for w in self.warnings]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _trait_kind(values: pd.Series) -> str:
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "categorical"
    return "numeric" if values.nunique() > MAX_CATEGORICAL_LEVELS else "categorical"


def numeric_summary(values: pd.Series) -> dict[str, float]:
    """Min, quartiles, max and count of a numeric unit characteristic."""
    q = values.astype(float).quantile([0.0, 0.25, 0.5, 0.75, 1.0]).to_numpy()
    return {"units": float(values.size), "min": q[0], "q25": q[1], "median": q[2], "q75": q[3],
            "max": q[4]}


class Panel:
    """A validated, immutable unit x time panel. Build it with :func:`bayescity.load_panel`.

    :attr:`frame` is sorted by (unit, time) and carries the derived :data:`COHORT`,
    :data:`TREAT` and :data:`REL_TIME` columns next to the user's columns; it is handed out as a
    copy (cheap under pandas' copy-on-write), so no caller can alter the panel, and
    :meth:`replace` returns a changed copy. ``notes`` say how the data were read; ``warnings``
    flag roles that look mistaken (see :func:`bayescity.data.loader.timing_warnings`).
    """

    FIELDS = ("frame", "unit", "time", "outcome", "covariates", "traits", "cluster", "source",
              "notes", "warnings")
    __slots__ = (*(f"_{f}" for f in FIELDS), "_cache")

    def __init__(self, frame: pd.DataFrame, unit: str, time: str, outcome: str,
                 covariates: tuple[str, ...] = (), traits: tuple[str, ...] = (),
                 cluster: str | None = None, source: str = "<DataFrame>",
                 notes: tuple[str, ...] = (), warnings: tuple[str, ...] = ()):
        values = dict(frame=frame, unit=unit, time=time, outcome=outcome,
                      covariates=tuple(covariates), traits=tuple(traits), cluster=cluster,
                      source=source, notes=tuple(notes), warnings=tuple(warnings))
        for name, value in values.items():
            object.__setattr__(self, f"_{name}", value)
        object.__setattr__(self, "_cache", {})

    unit = property(lambda self: self._unit, doc="Name of the unit (city) column.")
    time = property(lambda self: self._time, doc="Name of the period (year) column.")
    outcome = property(lambda self: self._outcome, doc="Name of the outcome column.")
    covariates = property(lambda self: self._covariates,
                          doc="Names of the time-varying numeric controls.")
    traits = property(lambda self: self._traits,
                      doc="Names of the unit characteristics (constant within a unit).")
    cluster = property(lambda self: self._cluster,
                       doc="Column the errors are clustered by (None: the unit).")
    source = property(lambda self: self._source,
                      doc="Where the data came from: a path, ``builtin:<name>``, ``<DataFrame>``.")
    notes = property(lambda self: self._notes, doc="Sentences about how the data were read.")
    warnings = property(lambda self: self._warnings,
                        doc="Sentences flagging roles that look mistaken.")

    @property
    def frame(self) -> pd.DataFrame:
        """The panel table (a copy: changing it never changes the panel)."""
        return frame_copy(self._frame)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("Panel is read-only; use .replace(...) for a changed copy")

    __delattr__ = __setattr__  # type: ignore[assignment]

    def replace(self, **changes: Any) -> "Panel":
        """A copy with some fields changed (e.g. ``frame=...`` with added columns)."""
        unknown = [k for k in changes if k not in self.FIELDS]
        if unknown:
            raise TypeError(f"Panel has no field(s) {unknown}")
        return Panel(**{**{f: getattr(self, f"_{f}") for f in self.FIELDS}, **changes})

    def __reduce__(self):
        return (_rebuild, (tuple(getattr(self, f"_{f}") for f in self.FIELDS),))

    def __repr__(self) -> str:
        return (f"Panel(source={self.source!r}, unit={self.unit!r}, time={self.time!r}, "
                f"outcome={self.outcome!r}, n_obs={len(self._frame)})")

    # ----------------------------------------------------------------- data access
    @property
    def data(self) -> pd.DataFrame:
        """A copy of the panel table: the user's columns plus :data:`COHORT`, :data:`TREAT`
        and :data:`REL_TIME` (names with the reserved ``_bc_`` prefix)."""
        return self._frame.copy()

    @property
    def n_obs(self) -> int:
        """Rows (unit-periods)."""
        return len(self._frame)

    @property
    def y(self) -> np.ndarray:
        """The outcome as a float array, in row order."""
        return self._frame[self.outcome].to_numpy(dtype=float)

    @property
    def cluster_col(self) -> str:
        """The default clustering column (the unit unless the loader was told otherwise)."""
        return self.cluster or self.unit

    # ----------------------------------------------------------------- codes
    def _cached(self, key: str, compute):
        """``compute()`` once per panel (the panel never changes); arrays come back read-only."""
        if key not in self._cache:
            value = compute()
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
            self._cache[key] = value
        return self._cache[key]

    def codes(self, column: str) -> tuple[np.ndarray, pd.Index]:
        """Integer codes (0..k-1, sorted levels) of ``column`` for every row, and the levels."""
        def compute():
            codes, levels = pd.factorize(self._frame[column], sort=True)
            return codes.astype(np.int64), pd.Index(levels, name=column)

        codes, levels = self._cached(f"codes:{column}", compute)
        codes.flags.writeable = False
        return codes, levels

    @property
    def units(self) -> pd.Index:
        """The units, sorted."""
        return self.codes(self.unit)[1]

    @property
    def periods(self) -> np.ndarray:
        """The periods, sorted."""
        return self._cached("periods", lambda: np.sort(self._frame[self.time].unique())
                            .astype(np.int64))

    @property
    def unit_codes(self) -> np.ndarray:
        """Integer code (0..n_units-1) of every row's unit."""
        return self.codes(self.unit)[0]

    @property
    def time_codes(self) -> np.ndarray:
        """Integer code (0..n_periods-1) of every row's period."""
        return self.codes(self.time)[0]

    @property
    def cohort_codes(self) -> np.ndarray:
        """Codes of ``cohort`` with 0 (never treated) as code 0 whenever it occurs."""
        return self.codes(COHORT)[0]

    @property
    def cohorts(self) -> np.ndarray:
        """Sorted treated cohorts (first treated periods), never-treated (0) excluded."""
        g = self._cached("cohort_values", lambda: np.unique(self._frame[COHORT].to_numpy()))
        return g[g > 0].astype(np.int64)

    @property
    def n_units(self) -> int:
        """Distinct units."""
        return self._cached("n_units", lambda: int(self._frame[self.unit].nunique()))

    @property
    def n_periods(self) -> int:
        """Distinct periods."""
        return self._cached("n_periods", lambda: int(self._frame[self.time].nunique()))

    @property
    def is_balanced(self) -> bool:
        """Whether every unit is observed in every period."""
        return self.n_obs == self.n_units * self.n_periods

    def trait_levels(self, trait: str) -> pd.Index:
        """Sorted levels of a unit-level trait."""
        if trait not in self.traits:
            raise KeyError(f"{trait!r} is not a trait of this panel; traits: {list(self.traits)}")
        return self.codes(trait)[1]

    def trait_kind(self, trait: str) -> str:
        """``"categorical"`` (text, boolean, or at most :data:`MAX_CATEGORICAL_LEVELS` distinct
        values across units) or ``"numeric"`` (a continuous unit characteristic)."""
        if trait not in self.traits:
            raise KeyError(f"{trait!r} is not a trait of this panel; traits: {list(self.traits)}")
        return self._cached(f"kind:{trait}", lambda: _trait_kind(self._frame[trait]))

    @property
    def categorical_traits(self) -> tuple[str, ...]:
        """Traits read as categories (levels for ``by``)."""
        return tuple(t for t in self.traits if self.trait_kind(t) == "categorical")

    @property
    def numeric_traits(self) -> tuple[str, ...]:
        """Traits read as numbers (``by`` needs ``by_bins``)."""
        return tuple(t for t in self.traits if self.trait_kind(t) == "numeric")

    def always_treated_units(self) -> pd.Index:
        """Units treated in every period they are observed (no untreated period of their own)."""
        return self._cached("always_treated", self._always_treated)

    def _always_treated(self) -> pd.Index:
        codes = self.unit_codes
        times = self._frame[self.time].to_numpy()
        first_seen = np.full(codes.max() + 1, np.iinfo(np.int64).max)
        np.minimum.at(first_seen, codes, times)
        cohort = self._frame[COHORT].to_numpy()
        always = (cohort > 0) & (cohort <= first_seen[codes])
        return pd.Index(pd.unique(self._frame[self.unit].to_numpy()[always]), name=self.unit)

    @property
    def treated_units(self) -> pd.Index:
        """Units with a treated cohort (first treated period inside the window)."""
        return self._cached("treated_units", lambda: pd.Index(
            pd.unique(self._frame.loc[self._frame[COHORT] > 0, self.unit]), name=self.unit))

    def unit_table(self) -> pd.DataFrame:
        """One row per unit: unit, cohort and the unit-level traits, sorted by unit."""
        cols = [self.unit, COHORT, *self.traits]
        return self._frame[cols].drop_duplicates(self.unit).reset_index(drop=True)

    # ----------------------------------------------------------------- derived panels
    def with_outcome(self, outcome: str) -> "Panel":
        """The same panel with another numeric column as the outcome (e.g. a mechanism)."""
        check_numeric_columns(self._frame, [outcome], self.source, role="outcome")
        return self.replace(outcome=outcome)

    # ----------------------------------------------------------------- views
    def describe(self) -> PanelDescription:
        """Units, periods, cohorts, roles and trait levels (a notebook shows a table)."""
        units = self.unit_table()
        sizes = units[COHORT].value_counts().sort_index()
        first, last = int(self.periods[0]), int(self.periods[-1])
        categorical = self.categorical_traits
        traits = {t: {str(k): int(v) for k, v in units[t].value_counts().sort_index().items()}
                  for t in categorical}
        numeric = {t: numeric_summary(units[t]) for t in self.traits if t not in categorical}
        return PanelDescription(
            source=self.source, n_obs=self.n_obs, n_units=self.n_units,
            n_periods=self.n_periods, first_period=first, last_period=last,
            balanced=self.is_balanced,
            cohorts={int(g): int(n) for g, n in sizes.items() if g > 0},
            n_never_treated=int(sizes.get(0, 0)),
            n_always_treated=len(self.always_treated_units()),
            outcome=self.outcome, covariates=self.covariates, traits=traits,
            numeric_traits=numeric, notes=self.notes, warnings=self.warnings,
        )

    def to_xarray(self):
        """A unit x time :class:`xarray.Dataset` of the outcome, the covariates and the derived
        timing variables (under the names :data:`COHORT`, :data:`TREAT`, :data:`REL_TIME`), NaN
        where unobserved; traits are coordinates along the unit dimension."""
        numeric = [self.outcome, *self.covariates, COHORT, TREAT, REL_TIME]
        numeric = list(dict.fromkeys(numeric))
        ds = self._frame.set_index([self.unit, self.time])[numeric].to_xarray()
        units = self.unit_table().set_index(self.unit)
        for trait in self.traits:
            ds = ds.assign_coords({trait: (self.unit, units.loc[ds[self.unit].values, trait].to_numpy())})
        return ds.assign_attrs(source=self.source, outcome=self.outcome)


def _rebuild(values: tuple) -> Panel:
    return Panel(*values)
