"""Columns derived from raw inputs before estimation: the ``derive`` section of an experiment.

Each entry names a new column and the method that builds it from the raw table::

    derive:
      tfp_malmquist: {method: malmquist, inputs: [capital_stock, employment], output: gdp_real}

Entries are built in order, so a later one may use an earlier one (a capital stock, then a TFP
index on it). The specs are validated when the config is read; the data are checked when the
columns are built, and every problem is a :class:`PanelError` naming the column and rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Union

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..data.errors import PanelError, Problem
from .accounting import solow_residual
from .capital import DEPRECIATION, perpetual_inventory
from .malmquist import malmquist
from ..data.io import read_table
from ..data.loader import load_panel

CHANGE_MEASURES = ("effch", "techch", "pech", "sech", "tfpch")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def first_period_empty(self) -> bool:
        """Whether the column is a change, empty in each unit's first period."""
        return False


class PerpetualInventorySpec(_Spec):
    """Capital stock by perpetual inventory (:func:`bayescity.tfp.perpetual_inventory`)."""

    method: Literal["perpetual_inventory"]
    investment: str
    depreciation: float = Field(DEPRECIATION, ge=0, lt=1)
    deflator: str | None = None
    base_period: int | None = None
    growth: float | None = None
    gaps: Literal["error", "interpolate", "skip"] = "error"


class SolowSpec(_Spec):
    """Solow residual (:func:`bayescity.tfp.solow_residual`): ``growth`` is 100 x the change in
    log TFP (percentage points), ``level`` log TFP; ``alpha: null`` estimates the elasticity."""

    method: Literal["solow"]
    output: str
    capital: str
    labor: str
    alpha: float | None = Field(None, gt=0, lt=1)
    measure: Literal["growth", "level"] = "growth"

    @property
    def first_period_empty(self) -> bool:
        return self.measure == "growth"


class MalmquistSpec(_Spec):
    """DEA Malmquist index (:func:`bayescity.tfp.malmquist`): one of its components, or
    ``cumulative``, the running product of ``tfpch`` from each unit's first period (= 1)."""

    method: Literal["malmquist"]
    inputs: list[str] = Field(min_length=1)
    output: str | list[str]
    rts: Literal["crs", "vrs"] = "crs"
    orientation: Literal["output", "input"] = "output"
    technology: Literal["crs", "vrs"] = "crs"
    frontier: Literal["adjacent", "global"] = "adjacent"
    measure: Literal["tfpch", "effch", "techch", "pech", "sech", "cumulative"] = "tfpch"
    missing: Literal["error", "skip"] = "error"

    @model_validator(mode="after")
    def _scale_split_needs_vrs(self) -> "MalmquistSpec":
        if self.measure in ("pech", "sech") and self.rts != "vrs":
            raise ValueError(f"measure: {self.measure} needs rts: vrs (the scale split)")
        return self

    @property
    def outputs(self) -> list[str]:
        return [self.output] if isinstance(self.output, str) else list(self.output)

    @property
    def first_period_empty(self) -> bool:
        return self.measure != "cumulative"


DeriveSpec = Annotated[Union[PerpetualInventorySpec, SolowSpec, MalmquistSpec],
                       Field(discriminator="method")]


def outcome_problem(derive: dict, outcome: str, drop_missing_outcome: bool) -> str | None:
    """The config sentence to show when a derived outcome would be empty and not dropped."""
    spec = derive.get(outcome)
    if spec is None or not spec.first_period_empty or drop_missing_outcome:
        return None
    return (f"data: outcome {outcome!r} is derived as a change, empty in each unit's first "
            "period; set drop_missing_outcome: true"
            + (" or measure: cumulative" if spec.method == "malmquist" else ""))


@dataclass(frozen=True)
class Derived:
    """The table with the derived columns appended, and one note per column (plus any notes
    of the method: skipped rows, interpolated investment, infeasible programmes)."""

    frame: pd.DataFrame
    notes: tuple[str, ...]


def _cumulative(table: pd.DataFrame, unit: str, time: str) -> np.ndarray:
    """Running product of tfpch within unit in time order; 1 in the unit's first period, and
    empty from the first period whose change is unknown."""
    order = table.sort_values([unit, time], kind="mergesort")
    first = ~order[unit].duplicated()
    step = order["tfpch"].where(~first, 1.0)
    cum = np.exp(np.log(step).groupby(order[unit], sort=False).cumsum())
    return cum.reindex(table.index).to_numpy()


def _build(frame: pd.DataFrame, name: str, spec, unit: str, time: str,
           source: str) -> tuple[np.ndarray, tuple[str, ...], str]:
    """Values of one derived column, the method's notes and a description."""
    if spec.method == "perpetual_inventory":
        res = perpetual_inventory(frame, unit=unit, time=time, investment=spec.investment,
                                  depreciation=spec.depreciation, deflator=spec.deflator,
                                  base_period=spec.base_period, growth=spec.growth,
                                  gaps=spec.gaps, source=source)
        return (res.stock.to_numpy(), res.notes, f"capital stock by perpetual inventory of "
                f"{spec.investment} (depreciation {spec.depreciation})")
    if spec.method == "solow":
        res = solow_residual(frame, unit=unit, time=time, output=spec.output,
                             capital=spec.capital, labor=spec.labor, alpha=spec.alpha,
                             source=source)
        col = "tfp_growth" if spec.measure == "growth" else "ln_tfp"
        return (res.table[col].to_numpy(), res.notes,
                f"Solow residual ({spec.measure}), capital elasticity {res.alpha:.3f}")
    res = malmquist(frame, unit=unit, time=time, inputs=spec.inputs, outputs=spec.outputs,
                    rts=spec.rts, orientation=spec.orientation, technology=spec.technology,
                    frontier=spec.frontier, missing=spec.missing, source=source)
    values = (_cumulative(res.table, unit, time) if spec.measure == "cumulative"
              else res.table[spec.measure].to_numpy())
    split = "; pech and sech from VRS scores" if spec.rts == "vrs" else ""
    return (values, res.notes, f"DEA Malmquist {spec.measure} (inputs {', '.join(spec.inputs)}; "
            f"outputs {', '.join(spec.outputs)}; {spec.technology.upper()} {spec.frontier} "
            f"frontiers, {spec.orientation} orientation{split})")


def derive_columns(frame: pd.DataFrame, *, unit: str, time: str, specs: dict,
                   source: str = "<DataFrame>") -> Derived:
    """Append each derived column in order (the caller's frame is not modified)."""
    out, notes = frame.reset_index(drop=True).copy(), []
    for name, spec in specs.items():
        if name in out.columns:
            raise PanelError(source, [Problem(name, "derive: a column of this name is already in "
                                                    "the data; choose another name")])
        values, method_notes, what = _build(out, name, spec, unit, time, source)
        out[name] = values
        notes += [f"derived {name}: {what}"] + [f"derived {name}: {n}" for n in method_notes]
    return Derived(frame=out, notes=tuple(notes))


def load_derived_panel(source: str, derive: dict, **load_kwargs):
    """Read ``source``, derive the columns, and build the Panel from the result
    (``load_kwargs`` are :func:`bayescity.load_panel`'s keywords)."""
    frame = read_table(source, sheet=load_kwargs.get("sheet"), encoding=load_kwargs.get("encoding"))
    derived = derive_columns(frame, unit=load_kwargs["unit"], time=load_kwargs["time"],
                             specs=derive, source=str(source))
    try:
        panel = load_panel(derived.frame, **load_kwargs)
    except PanelError as exc:
        raise PanelError(str(source), exc.problems) from None
    return panel.replace(source=str(source), notes=(*derived.notes, *panel.notes))


SUMMARY_COLUMNS = ("column", "by", "level", "time", "n", "mean", "geo_mean", "std", "min", "p10",
                   "p25", "p50", "p75", "p90", "max")


def _describe(values: pd.Series, keys: list) -> pd.DataFrame:
    grouped = values.groupby(keys, sort=True, observed=True)
    stats = grouped.agg(["count", "mean", "std", "min", "max"]).rename(columns={"count": "n"})
    for q in (10, 25, 50, 75, 90):
        stats[f"p{q}"] = grouped.quantile(q / 100)
    positive = values.where(values > 0)
    stats["geo_mean"] = np.exp(np.log(positive).groupby(keys, sort=True, observed=True).mean())
    stats.loc[grouped.min() <= 0, "geo_mean"] = np.nan
    return stats.reset_index()


def tfp_summary(panel, columns) -> pd.DataFrame:
    """Distribution of each derived column by period, overall and by level of every
    categorical trait of ``panel`` (e.g. region): one row per (column, by, level, time)."""
    frame, time, parts = panel.frame, panel.time, []
    for col in columns:
        values = frame[col].astype(float)
        parts.append(_describe(values, [frame[time]]).assign(column=col, by="all", level="all"))
        for trait in panel.categorical_traits:
            part = _describe(values, [frame[trait].astype(str).rename("level"), frame[time]])
            parts.append(part.assign(column=col, by=trait))
    table = pd.concat(parts, ignore_index=True).rename(columns={time: "time"})
    return table[list(SUMMARY_COLUMNS)]
