"""``load_panel``: read, validate and freeze a city panel."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from . import validate as v
from .errors import PanelError, Problem
from .io import read_table
from .panel import COHORT, REL_TIME, RESERVED_PREFIX, TREAT, Panel

#: More than this share of treated units treated in every period makes the timing suspect.
GROUP_DUMMY_SHARE = 0.5


def load_panel(source: str | Path | pd.DataFrame, *, unit: str, time: str, outcome: str,
               cohort: str | None = None, treatment: str | None = None,
               covariates: Sequence[str] = (), traits: Sequence[str] = (),
               cluster: str | None = None, sheet: str | int | None = None,
               encoding: str | None = None, drop_missing_outcome: bool = False) -> Panel:
    """Load a unit x time panel and return a validated, immutable :class:`Panel`.

    ``source`` is ``builtin:china_cities``, a path (.csv/.tsv in UTF-8, UTF-8-BOM or GBK/GB18030,
    .parquet, Stata .dta, Excel .xlsx with ``sheet``) or a DataFrame (copied, never modified).
    Treatment timing is given either as ``cohort`` (first treated period; 0 or empty = never
    treated) or as an absorbing 0/1 ``treatment`` column; given both, they must agree.
    ``traits`` are unit-level characteristics (constant within unit) used for heterogeneity.
    Every problem found is reported at once in one :class:`PanelError` naming the file, the
    column and the first offending rows. Rows with a missing outcome are an error unless
    ``drop_missing_outcome`` is set, in which case the number dropped is noted in ``describe()``.
    """
    if isinstance(source, pd.DataFrame):
        frame, name = source.copy(), "<DataFrame>"
    else:
        frame, name = read_table(source, sheet=sheet, encoding=encoding), str(source)
    try:
        return panel_from_frame(frame, source=name, unit=unit, time=time, outcome=outcome,
                                cohort=cohort, treatment=treatment, covariates=covariates,
                                traits=traits, cluster=cluster,
                                drop_missing_outcome=drop_missing_outcome)
    except PanelError as exc:
        raise _with_sheet_hint(exc, frame) from None


def _with_sheet_hint(exc: PanelError, frame: pd.DataFrame) -> PanelError:
    """Add the workbook's sheet names when columns are missing from the sheet that was read."""
    sheets = frame.attrs.get("sheets", ())
    if len(sheets) < 2 or not any("column not found" in p.message for p in exc.problems):
        return exc
    hint = Problem("<sheet>", f"the data were read from sheet {frame.attrs.get('sheet')!r}; the "
                              f"workbook has sheets {', '.join(map(repr, sheets))}: `sheet:` "
                              "(--sheet on the command line) selects one")
    return PanelError(exc.source, [*exc.problems, hint])


def _collect_problems(df: pd.DataFrame, *, unit, time, outcome, cohort, treatment, covariates,
                      traits, cluster, drop_missing_outcome) -> list[Problem]:
    if cohort is None and treatment is None:
        return [Problem("<arguments>", "give the treatment timing as `cohort: <first treated "
                                       "period column>` or `treatment: <0/1 column>`")]
    wanted = [unit, time, outcome, *(c for c in (cohort, treatment, cluster) if c), *covariates, *traits]
    problems = [Problem("<arguments>", f"{role}: {twice} listed more than once")
                for role, names in (("covariates", list(covariates)), ("traits", list(traits)))
                if (twice := sorted({n for n in names if names.count(n) > 1}))]
    problems += [Problem("<arguments>", f"covariates: {c!r} is the {role} column")
                 for c in covariates for role, name in
                 (("unit", unit), ("time", time), ("outcome", outcome)) if c == name]
    if problems:
        return problems
    problems = v.missing_columns(df, wanted)
    if len(df) == 0:
        return problems + [Problem("<file>", "the table has no rows")]
    have = set(df.columns)
    for name in df.columns:
        if str(name).startswith(RESERVED_PREFIX):
            problems.append(Problem(str(name), f"column names starting with {RESERVED_PREFIX!r} "
                                               "are reserved for the derived treatment timing; "
                                               "rename it"))
    time_ok = time in have and not (tp := v.time_problems(df, time))
    if time in have:
        problems += tp
    if unit in have and time in have:
        problems += v.unit_problems(df, unit, time)
    if outcome in have:
        problems += v.numeric_problems(df, outcome, allow_missing=drop_missing_outcome, role="outcome")
        if drop_missing_outcome and unit in have:
            problems += v.after_drop_problems(df, unit, outcome)
    for c in covariates:
        if c in have:
            problems += v.numeric_problems(df, c, allow_missing=False, role="covariate")
    if unit in have:
        for t in traits:
            if t in have:
                problems += v.trait_problems(df, unit, t)
        if cohort and cohort in have:
            problems += v.cohort_problems(df, unit, cohort)
        if treatment and treatment in have and time_ok:
            problems += v.treatment_problems(df, unit, time, treatment)
    if cluster and cluster in have and df[cluster].isna().any():
        problems.append(v.problem_at(cluster, "cluster identifier is missing",
                                     np.flatnonzero(df[cluster].isna().to_numpy())))
    if (cohort and treatment and time_ok and not problems
            and cohort in have and treatment in have):
        problems += v.consistency_problems(df, time, cohort, treatment)
    return problems


def panel_from_frame(df: pd.DataFrame, *, source: str, unit: str, time: str, outcome: str,
                     cohort: str | None = None, treatment: str | None = None,
                     covariates: Sequence[str] = (), traits: Sequence[str] = (),
                     cluster: str | None = None, drop_missing_outcome: bool = False) -> Panel:
    """Validate ``df`` (not modified) and build a :class:`Panel`; see :func:`load_panel`."""
    covariates, traits = tuple(covariates), tuple(traits)
    df = df.reset_index(drop=True)
    problems = _collect_problems(df, unit=unit, time=time, outcome=outcome, cohort=cohort,
                                 treatment=treatment, covariates=covariates, traits=traits,
                                 cluster=cluster, drop_missing_outcome=drop_missing_outcome)
    if problems:
        raise PanelError(source, problems)
    frame, notes = _derive(df, unit=unit, time=time, outcome=outcome, cohort=cohort,
                           treatment=treatment, covariates=covariates)
    if len(frame) < len(df):
        notes.append(f"dropped {len(df) - len(frame)} rows with a missing outcome {outcome!r}")
    panel = Panel(frame=frame, unit=unit, time=time, outcome=outcome, covariates=covariates,
                  traits=traits, cluster=cluster, source=source, notes=tuple(notes))
    found = timing_warnings(panel, cohort=cohort, treatment=treatment)
    return panel.replace(warnings=found) if found else panel


def timing_warnings(panel: Panel, *, cohort: str | None, treatment: str | None) -> tuple[str, ...]:
    """A warning when most treated units are treated in every period they are observed.

    That is the signature of a group dummy (1 for pilot units in every year, e.g.
    ``ever_treated``) given where a treated-now indicator or a first treated period belongs: such
    units have no untreated period, so DID has nothing to compare them with.
    """
    treated, always = panel.treated_units, panel.always_treated_units()
    if len(treated) == 0 or len(always) <= GROUP_DUMMY_SHARE * len(treated):
        return ()
    if treatment is not None and cohort is None:
        what = f"treatment column {treatment!r} is 1 in every period"
        fix = "give a 0/1 column that turns 1 in the adoption period, or the first treated " \
              "period as `cohort:`"
    else:
        what = f"cohort column {cohort!r} puts the first treated period at or before the first " \
               "observed period"
        fix = "give the first treated period (e.g. the pilot year; 0 = never) as `cohort:`"
    return (f"{what} for {len(always)} of {len(treated)} treated units: it looks like a group "
            "indicator (treated group), not the treatment timing; those units have no untreated "
            f"period to compare with. {fix[0].upper()}{fix[1:]}",)


def _derive(df: pd.DataFrame, *, unit, time, outcome, cohort, treatment,
            covariates) -> tuple[pd.DataFrame, list[str]]:
    """Numeric conversion, sorting and the derived cohort / treat / rel_time columns."""
    frame = df.copy()
    notes: list[str] = []
    frame[time] = pd.to_numeric(frame[time]).round().astype(np.int64)
    for c in dict.fromkeys([outcome, *covariates]):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
    frame = frame[frame[outcome].notna()]
    frame = frame.sort_values([unit, time], kind="mergesort").reset_index(drop=True)
    if cohort is not None:
        g = pd.to_numeric(frame[cohort], errors="coerce").fillna(0).round().astype(np.int64)
    else:
        d = pd.to_numeric(frame[treatment]).astype(int)
        first = frame[time].where(d == 1).groupby(frame[unit]).transform("min")
        g = first.fillna(0).astype(np.int64)
    last = int(frame[time].max())
    late = (g > last)
    if late.any():
        n = frame.loc[late, unit].nunique()
        notes.append(f"{n} units first treated after the last period ({last}) are never treated "
                     "inside the window (cohort set to 0)")
        g = g.where(~late, 0)
    frame[COHORT] = g.to_numpy()
    frame[TREAT] = ((frame[COHORT] > 0) & (frame[time] >= frame[COHORT])).astype(np.int64)
    frame[REL_TIME] = np.where(frame[COHORT] > 0, frame[time] - frame[COHORT], np.nan)
    return frame, notes
