"""The true value of every estimand of a simulated panel, aggregated as the estimators do.

A calibration scenario (:mod:`bayescity.data.scenarios`) knows the effect ``tau_it`` of every
treated row. :class:`ScenarioTruth` turns those cell effects into the estimands the results
report, under the same names and with the same treated-cell weights
(:func:`~.aggregate.aggregate`, Callaway & Sant'Anna 2021, sec. 3), so that "the truth" of a
row is the quantity its estimator targets:

* ``ATT``/``overall``, ``ATT_event``/``e``, ``ATT_cohort``/``g``, ``ATT_calendar``/``t``:
  aggregates of the post-treatment cells; event times before adoption are exactly zero;
* ``ATT_by_<trait>``/``<level>``: the treated-cell weighted mean within each level (levels
  from the trait itself, or given per unit, e.g. the quantile bins of a numeric trait);
* ``BLP``/``<column>``: the slopes of the least-squares projection of the treated cells' true
  effects on an intercept and the named modifier columns (``trait`` for a numeric trait,
  ``trait=level`` for the indicator of a level; the reference level is the one left out) --
  the projection each treated cell enters once, as in the ML estimators' BLP;
* ``CATE``/``<unit>``: each treated unit's mean effect over its treated periods.

Any other estimand has no truth here (NaN).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.panel import COHORT
from ..data.scenarios import NOISE_PREFIX, TAU
from .aggregate import BY_PREFIX, ESTIMANDS, aggregate, cells_from_unit_effects

_LEVEL = "_bc_level"
#: Truth values this close to zero (relative to the largest effect) are exactly zero.
ZERO_TOL = 1e-10


@dataclass(frozen=True, eq=False)
class ScenarioTruth:
    """The truth of one simulated panel: ``effects`` has one row per treated row with the
    ``unit`` and ``time`` columns, :data:`~bayescity.data.panel.COHORT`, the unit's traits and
    the true effect :data:`~bayescity.data.scenarios.TAU`."""

    effects: pd.DataFrame
    unit: str
    time: str
    #: Aggregates already computed; draws of one scenario on one design (the same effects,
    #: other noise traits) may share it: only quantities of the effects alone are kept.
    cache: dict = field(default_factory=dict, repr=False)

    def of(self, estimand: str, terms: Sequence[str],
           levels: pd.Series | None = None) -> np.ndarray:
        """The true value of each term of ``estimand`` (NaN where there is none). ``levels``
        (indexed by unit) labels the units for ``ATT_by_<trait>`` when the trait's own values
        are not the levels (a binned numeric trait)."""
        terms = [str(t) for t in terms]
        if estimand in ESTIMANDS:
            table = self._aggregate(estimand)
        elif estimand.startswith(BY_PREFIX):
            table = self._by(estimand.removeprefix(BY_PREFIX), levels)
        elif estimand == "BLP":
            table = self.projection(terms)
        elif estimand == "CATE":
            table = self.unit_effects()
        else:
            table = pd.Series(dtype=float)
        out = np.array(table.reindex(terms).to_numpy(dtype=float))
        if estimand == "ATT_event":
            lead = np.array([_int(t) is not None and _int(t) < 0 for t in terms])
            out[lead] = 0.0
        return out

    def _aggregate(self, estimand: str) -> pd.Series:
        if estimand not in self.cache:
            self.cache[estimand] = aggregate_effects(self.effects, estimand, self.unit,
                                                      self.time)
        return self.cache[estimand]

    def _by(self, trait: str, levels: pd.Series | None) -> pd.Series:
        if levels is None:
            if trait not in self.effects.columns:
                return pd.Series(dtype=float)
            if trait.startswith(NOISE_PREFIX):  # drawn anew with every panel: not kept
                return self._by_labels(trait, self.effects[trait])
            key = f"{BY_PREFIX}{trait}"
            if key not in self.cache:
                self.cache[key] = self._by_labels(trait, self.effects[trait])
            return self.cache[key]
        return self._by_labels(trait, levels.reindex(self.effects[self.unit].to_numpy()))

    def _by_labels(self, trait: str, labels) -> pd.Series:
        frame = self.effects.assign(**{_LEVEL: np.asarray(labels, dtype=object)})
        frame = frame[pd.notna(frame[_LEVEL])].astype({_LEVEL: str})
        return aggregate_effects(frame, f"{BY_PREFIX}{trait}", self.unit, self.time,
                                 level=_LEVEL)

    def unit_effects(self) -> pd.Series:
        """Each treated unit's mean effect over its treated rows, indexed by the unit label."""
        if "units" not in self.cache:
            means = self.effects.groupby(self.unit, sort=True)[TAU].mean()
            self.cache["units"] = _exact_zeros(means.set_axis(means.index.astype(str)))
        return self.cache["units"]

    def projection(self, terms: Sequence[str]) -> pd.Series:
        """Least-squares slopes of the treated rows' effects on an intercept and the columns
        ``terms`` (NaN for all when a column names no trait of the effects table)."""
        columns = [self._column(t) for t in terms]
        if any(c is None for c in columns) or self.effects.empty:
            return pd.Series(np.nan, index=list(terms))
        x = np.column_stack([np.ones(len(self.effects)), *columns])
        coef, *_ = np.linalg.lstsq(x, self.effects[TAU].to_numpy(dtype=float), rcond=None)
        return _exact_zeros(pd.Series(coef[1:], index=list(terms)), self.effects[TAU])

    def _column(self, term: str) -> np.ndarray | None:
        if term in self.effects.columns and pd.api.types.is_numeric_dtype(self.effects[term]):
            return self.effects[term].to_numpy(dtype=float)
        trait, sep, level = term.partition("=")
        if sep and trait in self.effects.columns:
            return (self.effects[trait].astype(str).to_numpy() == level).astype(float)
        return None


def aggregate_effects(effects: pd.DataFrame, estimand: str, unit: str, time: str,
                      level: str | None = None) -> pd.Series:
    """``estimand`` of the true cell effects, by term, with the treated-cell weights."""
    if effects.empty:
        return pd.Series(dtype=float)
    cells = cells_from_unit_effects(effects, cohort=COHORT, time=time, effect=TAU, level=level,
                                    unit=unit)
    agg = aggregate(cells, estimand)
    return _exact_zeros(pd.Series(agg.estimates, index=[str(t) for t in agg.terms]))


def _int(term: str) -> int | None:
    try:
        return int(float(term))
    except ValueError:
        return None


def _exact_zeros(values: pd.Series, scale: pd.Series | None = None) -> pd.Series:
    """``values`` with rounding noise around zero set to exactly zero."""
    ref = np.abs(values if scale is None else scale).max() if len(values) else 0.0
    tol = ZERO_TOL * max(float(ref), 1.0)
    return values.where(np.abs(values) > tol, 0.0)
