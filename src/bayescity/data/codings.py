"""Alternative treatment codings of a panel, the robustness checks of a pilot-policy study.

A coding is plain data (the ``coding:`` block of an experiment's data section, or one entry of
the ``codings`` sweep) and any estimator accepts the panel it produces:

* ``drop_cohorts: [2010]`` -- leave the units of one (or more) adoption cohorts out;
* ``drop_units: [Beijing, Shanghai]`` -- leave named units out (e.g. the four municipalities);
* ``drop_flagged: [provincial_capital]`` -- leave out every unit whose 0/1 column is 1 in any row
  (on the built-in panel ``provincial_capital`` covers the 27 capitals and the 4 municipalities);
* ``recode_uncertain: {flag: pilot_year_uncertain, year: 2011}`` -- give the treated units whose
  flag column is 1 (approval year not known exactly) the first treated period ``year``.

Every change is written to the panel's notes. The derived timing columns (``COHORT``, ``TREAT``,
``REL_TIME``) are recomputed by :func:`with_cohorts`; the user's own cohort or treatment column is
left as read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import PanelError, Problem
from .panel import COHORT, REL_TIME, TREAT, Panel

CODING_KEYS = ("label", "drop_cohorts", "drop_units", "drop_flagged", "recode_uncertain")


@dataclass(frozen=True)
class Coding:
    """One alternative coding (see the module docstring); empty = the panel as given."""

    drop_cohorts: tuple[int, ...] = ()
    drop_units: tuple[Any, ...] = ()
    drop_flagged: tuple[str, ...] = ()
    recode_flag: str | None = None
    recode_year: int | None = None
    label: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.drop_cohorts or self.drop_units or self.drop_flagged
                    or self.recode_flag)

    def describe(self) -> str:
        """A short human description, e.g. ``without cohort 2010; flagged pilots coded 2011``."""
        parts = []
        if self.drop_cohorts:
            parts.append("without cohort " + ", ".join(map(str, self.drop_cohorts)))
        if self.drop_units:
            parts.append("without " + ", ".join(map(str, self.drop_units)))
        if self.drop_flagged:
            parts.append("without units flagged by " + ", ".join(self.drop_flagged))
        if self.recode_flag:
            parts.append(f"pilots flagged by {self.recode_flag} coded {self.recode_year}")
        return "; ".join(parts) or "as given"

    def name(self) -> str:
        """The label, or a short slug of the coding (``drop_cohort_2010``, ``uncertain_2011``)."""
        if self.label:
            return str(self.label)
        parts = [f"drop_cohort_{'_'.join(map(str, self.drop_cohorts))}"] if self.drop_cohorts else []
        parts += [f"drop_{'_'.join(map(str, self.drop_units))}"] if self.drop_units else []
        parts += [f"drop_{'_'.join(self.drop_flagged)}"] if self.drop_flagged else []
        parts += [f"{self.recode_flag}_{self.recode_year}"] if self.recode_flag else []
        return "+".join(parts) or "baseline"


def _int_list(key: str, value: Any) -> tuple[int, ...]:
    values = value if isinstance(value, (list, tuple)) else [value]
    if not values or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in values):
        raise ValueError(f"coding: {key}: give a period or a list of periods (integers), "
                         f"got {value!r}")
    return tuple(int(v) for v in values)


def _name_list(key: str, value: Any) -> tuple[Any, ...]:
    values = value if isinstance(value, (list, tuple)) else [value]
    if not values or any(v is None or isinstance(v, (dict, list)) for v in values):
        raise ValueError(f"coding: {key}: give a name or a list of names, got {value!r}")
    return tuple(values)


def _recode(value: Any) -> tuple[str, int]:
    if not isinstance(value, Mapping) or set(value) != {"flag", "year"}:
        raise ValueError("coding: recode_uncertain: give {flag: <0/1 column>, year: <period>}, "
                         f"got {value!r}")
    flag, year = value["flag"], value["year"]
    if not isinstance(flag, str) or isinstance(year, bool) or not isinstance(year, (int, np.integer)):
        raise ValueError("coding: recode_uncertain: flag must be a column name and year an "
                         f"integer period, got {value!r}")
    return flag, int(year)


def parse_coding(spec: Mapping[str, Any] | Coding | None) -> Coding | None:
    """A :class:`Coding` from its config mapping (None stays None); ValueError in config words."""
    if spec is None or isinstance(spec, Coding):
        return spec
    if not isinstance(spec, Mapping):
        raise ValueError(f"coding: give a mapping with keys among {list(CODING_KEYS)}, got {spec!r}")
    unknown = [k for k in spec if k not in CODING_KEYS]
    if unknown:
        raise ValueError(f"coding: unknown key(s) {unknown}; accepted: {list(CODING_KEYS)}")
    flag, year = _recode(spec["recode_uncertain"]) if "recode_uncertain" in spec else (None, None)
    return Coding(
        drop_cohorts=_int_list("drop_cohorts", spec["drop_cohorts"]) if "drop_cohorts" in spec else (),
        drop_units=_name_list("drop_units", spec["drop_units"]) if "drop_units" in spec else (),
        drop_flagged=tuple(map(str, _name_list("drop_flagged", spec["drop_flagged"])))
        if "drop_flagged" in spec else (),
        recode_flag=flag, recode_year=year,
        label=None if spec.get("label") is None else str(spec["label"]))


# ---------------------------------------------------------------------------- panel operations
def with_cohorts(panel: Panel, unit_cohort: np.ndarray, note: str | None = None) -> Panel:
    """The panel with new adoption timing: ``unit_cohort`` gives the first treated period of each
    unit in the order of ``panel.units`` (0 = never treated). ``COHORT``, ``TREAT`` and
    ``REL_TIME`` are recomputed; periods after the last one mean never treated in the window."""
    g_units = np.asarray(unit_cohort, dtype=np.int64)
    if g_units.shape != (panel.n_units,):
        raise ValueError(f"with_cohorts: {panel.n_units} cohorts expected, got {g_units.shape}")
    last = int(panel.periods[-1])
    g_units = np.where(g_units > last, 0, g_units)
    frame = panel.frame.copy()
    g = g_units[panel.unit_codes]
    t = frame[panel.time].to_numpy()
    frame[COHORT] = g
    frame[TREAT] = ((g > 0) & (t >= g)).astype(np.int64)
    frame[REL_TIME] = np.where(g > 0, t - g, np.nan)
    notes = panel.notes if note is None else (*panel.notes, note)
    return panel.replace(frame=frame, notes=notes)


def unit_cohorts(panel: Panel) -> np.ndarray:
    """The first treated period of each unit, in the order of ``panel.units``."""
    out = np.zeros(panel.n_units, dtype=np.int64)
    out[panel.unit_codes] = panel.frame[COHORT].to_numpy(dtype=np.int64)
    return out


def drop_units(panel: Panel, drop: np.ndarray, note: str) -> Panel:
    """The panel without the units flagged in ``drop`` (a boolean per unit of ``panel.units``)."""
    drop = np.asarray(drop, dtype=bool)
    if drop.all():
        raise PanelError(panel.source, [Problem("<coding>", f"{note}: no unit would be left")])
    keep_rows = ~drop[panel.unit_codes]
    frame = panel.frame.loc[keep_rows].reset_index(drop=True)
    return panel.replace(frame=frame, notes=(*panel.notes, f"{note} ({int(drop.sum())} units)"))


def unit_flag(panel: Panel, column: str, key: str) -> np.ndarray:
    """Per unit: whether the 0/1 (or boolean) ``column`` is nonzero in any of its rows."""
    if column not in panel.frame.columns:
        raise PanelError(panel.source, [Problem(column, f"coding: {key}: column not found; "
                                                        f"available: {', '.join(panel.frame.columns)}")])
    values = pd.to_numeric(panel.frame[column], errors="coerce")
    if values.isna().any():
        raise PanelError(panel.source, [Problem(column, f"coding: {key}: the flag column must "
                                                        "hold 0/1 values without gaps")])
    out = np.zeros(panel.n_units, dtype=bool)
    np.logical_or.at(out, panel.unit_codes, values.to_numpy() != 0)
    return out


def _drop_cohorts(panel: Panel, cohorts: Sequence[int]) -> Panel:
    g = unit_cohorts(panel)
    absent = [c for c in cohorts if c not in set(g.tolist()) or c == 0]
    if absent:
        raise PanelError(panel.source, [Problem(COHORT, f"coding: drop_cohorts: {absent} are not "
                                                        f"treated cohorts; cohorts: "
                                                        f"{panel.cohorts.tolist()}")])
    return drop_units(panel, np.isin(g, cohorts), f"coding: cohorts {list(cohorts)} left out")


def _drop_named(panel: Panel, names: Sequence[Any]) -> Panel:
    units = panel.units
    labels = [str(u) for u in units]
    missing = [n for n in names if str(n) not in labels]
    if missing:
        raise PanelError(panel.source, [Problem(panel.unit, f"coding: drop_units: {missing} are "
                                                            "not units of the panel")])
    drop = np.isin(labels, [str(n) for n in names])
    return drop_units(panel, drop, f"coding: units {list(names)} left out")


def _recode_flagged(panel: Panel, flag: str, year: int) -> Panel:
    flagged = unit_flag(panel, flag, "recode_uncertain") & (unit_cohorts(panel) > 0)
    if not flagged.any():
        raise PanelError(panel.source, [Problem(flag, "coding: recode_uncertain: no treated unit "
                                                      "is flagged")])
    g = unit_cohorts(panel)
    g[flagged] = year
    return with_cohorts(panel, g, f"coding: {int(flagged.sum())} treated units flagged by "
                                  f"{flag!r} coded as first treated in {year}")


def apply_coding(panel: Panel, coding: Mapping[str, Any] | Coding | None) -> Panel:
    """The panel under an alternative coding (the panel itself when ``coding`` is None/empty).

    Units are dropped first (cohorts, named units, flagged units), then the flagged pilots are
    recoded. Raises :class:`PanelError` (naming the column) when the coding does not fit the data.
    """
    coding = parse_coding(coding)
    if coding is None or coding.is_empty:
        return panel
    if coding.drop_cohorts:
        panel = _drop_cohorts(panel, coding.drop_cohorts)
    if coding.drop_units:
        panel = _drop_named(panel, coding.drop_units)
    for column in coding.drop_flagged:
        panel = drop_units(panel, unit_flag(panel, column, "drop_flagged"),
                           f"coding: units flagged by {column!r} left out")
    if coding.recode_flag:
        panel = _recode_flagged(panel, coding.recode_flag, int(coding.recode_year))
    return panel
