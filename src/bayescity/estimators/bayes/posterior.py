"""Posterior draws of the effects turned into the shared estimands, draw by draw.

Every draw of ``theta`` gives the mean effect of each treated cell (:attr:`TreatmentDesign.
cell_map`); the cells are aggregated by :mod:`bayescity.estimands` with the treated-cell weights
every other estimator uses, so ``ATT``/``overall`` here is the same quantity as the
frequentist rows of a comparison table. Posterior probabilities that users ask of a fit
(``P(ATT > 0)``, ``P(level A > level B)``) are reported as :class:`TestResult` rows of kind
``posterior_probability``: the probability is in ``statistic`` (the share of draws in which the
statement holds); ``df`` and ``p_value`` are NaN, since no sampling distribution is involved.
"""

from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np
import pandas as pd

from ...estimands import ESTIMANDS, Aggregation, CellEffects, aggregate
from ...results.effect import TestResult
from .design import TreatmentDesign

POSTERIOR_PROBABILITY = "posterior_probability"


def group_cells(cells: pd.DataFrame, keys: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Cells merged over the columns not in ``keys``: the merged table (with summed weights)
    and the (merged x fine) matrix of observation-share weights."""
    codes, uniques = pd.MultiIndex.from_frame(cells[list(keys)]).factorize(sort=True)
    weight = cells["weight"].to_numpy(float)
    total = np.bincount(codes, weights=weight, minlength=len(uniques))
    G = np.zeros((len(uniques), len(cells)))
    G[codes, np.arange(len(cells))] = weight / total[codes]
    table = pd.DataFrame(list(uniques), columns=list(keys))
    table["weight"] = total
    return table, G


def cell_effects(design: TreatmentDesign, fine_draws: np.ndarray, trait: str | None) -> CellEffects:
    """(cohort, time[, level]) cell effects with their draws and treated units, for the shared
    aggregation."""
    keys = ["cohort", "time"] + ([trait] if trait else [])
    table, G = group_cells(design.cells, keys)
    draws = fine_draws @ G.T
    units = tuple(np.unique(np.concatenate([design.cell_units[j] for j in np.flatnonzero(row)]))
                  for row in G)
    if trait:
        table = table.rename(columns={trait: "level"})
    return CellEffects(cells=table, estimates=draws.mean(axis=0), draws=draws, cell_units=units)


def estimand_draws(design: TreatmentDesign, theta: np.ndarray) -> list[Aggregation]:
    """Every estimand's draws (data units) from ``theta`` draws (samples x params, standardised).

    ``ATT``, ``ATT_event``, ``ATT_cohort``, ``ATT_calendar``; ``ATT_by_<trait>`` for each ``by``
    trait; ``CATE`` (per treated city) when the design has city deviations.
    """
    fine = theta @ design.cell_map.T * design.scale
    plain = cell_effects(design, fine, None)
    out = [aggregate(plain, estimand) for estimand in ESTIMANDS]
    out += [aggregate(cell_effects(design, fine, t), f"ATT_by_{t}", trait=t) for t in design.by]
    if any(c.name == "city_dev" for c in design.components):
        unit = theta @ design.unit_map.T * design.scale
        # one city per term by definition: n_treated is left unset (no thin-term flag)
        out.append(Aggregation(estimand="CATE", terms=[str(u) for u in design.units],
                               estimates=unit.mean(axis=0), weights=np.eye(unit.shape[1]),
                               draws=unit))
    return out


def probability_tests(agg: Aggregation) -> tuple[TestResult, ...]:
    """``P(ATT > 0)`` for the overall effect; ``P(A > B)`` for each pair of trait levels."""
    note = "posterior probability (share of draws); no p-value"
    if agg.estimand == "ATT":
        return (TestResult("P(ATT > 0)", float((agg.draws[:, 0] > 0).mean()), np.nan, np.nan,
                           POSTERIOR_PROBABILITY, None, note, terms=tuple(agg.terms)),)
    if not agg.estimand.startswith("ATT_by_"):
        return ()
    out = []
    for i, j in combinations(range(len(agg.terms)), 2):
        p = float((agg.draws[:, i] > agg.draws[:, j]).mean())
        out.append(TestResult(f"P(ATT[{agg.terms[i]}] > ATT[{agg.terms[j]}])", p, np.nan,
                              np.nan, POSTERIOR_PROBABILITY, None, note,
                              terms=(agg.terms[i], agg.terms[j])))
    return tuple(out)


def coordinate(estimand: str, terms: Sequence[str]) -> list:
    """Coordinate values of an estimand's terms (integers for event times, cohorts, periods)."""
    if estimand in ("ATT_event", "ATT_cohort", "ATT_calendar"):
        return [int(t) for t in terms]
    return list(terms)


def estimand_dim(design: TreatmentDesign, estimand: str) -> str | None:
    """The dimension name of an estimand in the InferenceData."""
    fixed = {"ATT": None, "ATT_event": "event_time", "ATT_cohort": "cohort",
             "ATT_calendar": "period", "CATE": design.unit_name}
    return fixed.get(estimand, estimand.removeprefix("ATT_by_"))
