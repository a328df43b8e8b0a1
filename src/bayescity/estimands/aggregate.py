"""One aggregation of cell-level effects for every paradigm.

Cell-level effects -- ATT(g,t) of cohort ``g`` in period ``t`` (optionally within a trait level) --
are combined into the reported estimands with the treated-cell weights of Callaway & Sant'Anna
(2021, J. Econometrics 225(2), sec. 3) and R ``did::aggte``:

* ``ATT`` (term ``overall``): the treated-cell weighted mean of the post-treatment cells
  (``aggte(type="simple")``);
* ``ATT_event`` (terms ``str(e)``): per event time ``e``, cells with ``rel_time == e`` weighted by
  their treated units (``type="dynamic"``);
* ``ATT_cohort`` (terms ``str(g)``): per cohort, the equal-weight mean of its post cells
  (``type="group"``);
* ``ATT_calendar`` (terms ``str(t)``): per period, post cells at ``t`` weighted by their treated
  units (``type="calendar"``);
* ``ATT_by_<trait>`` (terms = levels): treated-cell weighted post mean within each trait level.

Frequentist estimators pass unit-level influence functions; their convention (that of R ``did``)
is ``vcov = influence.T @ influence / n_units**2``. Because the weights are estimated shares of
treated units, the influence function of an aggregate includes the estimated-weights term
(``did``'s ``wif``) whenever ``unit_cohort`` is given. Bayesian estimators pass posterior draws
and every draw is aggregated with the same weights. R's second-stage overall numbers (group,
dynamic, calendar) come from :func:`second_stage_overall`.

Every aggregate also counts the distinct treated units behind each term (``n_treated``), so a
term that rests on one unit (a one-city cohort at its longest event times) is visible in every
paradigm's table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import pandas as pd

from ..data.panel import COHORT
from .cell_groups import (estimated_weights_terms, group_codes, normalised_cells,
                          partitioned_product)

ESTIMANDS = ("ATT", "ATT_event", "ATT_cohort", "ATT_calendar")
BY_PREFIX = "ATT_by_"


@dataclass(frozen=True)
class CellEffects:
    """Effects of cohort x period (x trait level) cells, with their uncertainty.

    ``cells`` has one row per cell with columns ``cohort``, ``time``, ``rel_time``
    (``time - cohort``), ``weight`` (treated units in the cell, > 0) and optionally ``level``.
    ``influence`` (n_units x n_cells) holds unit-level influence functions scaled so that
    ``vcov = influence.T @ influence / n_units**2``; ``draws`` (n_draws x n_cells) posterior
    draws. ``unit_cohort`` (0 = never treated) and ``unit_level``, aligned with the influence
    rows, let the aggregates account for the estimation of their weights.
    ``cell_units`` (one array of unit labels per cell) names the treated units of each cell, so
    that terms count their distinct treated units exactly; without it a cell's treated units
    are its ``n_units`` column, else its ``weight`` (units, or unit-period observations), and
    a term counts the largest cell of each cohort (and level) it covers -- exact on balanced
    panels.
    """

    cells: pd.DataFrame
    estimates: np.ndarray
    influence: np.ndarray | None = None
    draws: np.ndarray | None = None
    unit_cohort: np.ndarray | None = None
    unit_level: np.ndarray | None = None
    cell_units: tuple[np.ndarray, ...] | None = None

    def __post_init__(self) -> None:
        cells, columns = normalised_cells(self.cells)
        object.__setattr__(self, "cells", cells)
        est = np.asarray(self.estimates, dtype=float).reshape(-1)
        if est.shape[0] != len(cells):
            raise ValueError(f"CellEffects: {len(cells)} cells but {est.shape[0]} estimates")
        object.__setattr__(self, "estimates", est)
        self._check_matrix("influence", len(cells))
        self._check_matrix("draws", len(cells))
        object.__setattr__(self, "_columns", columns)
        groups, find = group_codes(columns.cohort, columns.level)
        sizes = cells["n_units"].to_numpy(dtype=float) if "n_units" in cells.columns \
            else columns.weight
        object.__setattr__(self, "_groups", groups)
        object.__setattr__(self, "_sizes", sizes)
        object.__setattr__(self, "_member_codes", self._membership_codes(groups, find))
        if self.cell_units is not None:
            if len(self.cell_units) != len(cells):
                raise ValueError(f"CellEffects: {len(cells)} cells but {len(self.cell_units)} "
                                 "cell_units")
            object.__setattr__(self, "cell_units", tuple(np.asarray(u) for u in self.cell_units))

    def _check_matrix(self, name: str, n_cells: int) -> None:
        value = getattr(self, name)
        if value is not None:
            value = np.asarray(value, dtype=float)
            if value.ndim != 2 or value.shape[1] != n_cells:
                raise ValueError(f"CellEffects.{name} must have shape (*, {n_cells})")
            object.__setattr__(self, name, value)

    def _membership_codes(self, cell_codes: np.ndarray, find: Callable
                          ) -> tuple[np.ndarray, np.ndarray] | None:
        """Codes of each unit's and each cell's treated group ((cohort, level) pairs, see
        :func:`.cell_groups.group_codes`): unit i belongs to the treated group of cell k when the codes are equal
        (:meth:`membership` without the units x cells matrix; -1: no cell's group). None
        without ``unit_cohort``, or with levels but no ``unit_level``."""
        columns = self._columns
        if self.unit_cohort is None or (columns.level is not None and self.unit_level is None):
            return None
        unit_level = None if columns.level is None else np.asarray(self.unit_level).astype(str)
        return find(np.asarray(self.unit_cohort), unit_level), cell_codes

    @property
    def n_units(self) -> int | None:
        """Units of the influence functions (None without them)."""
        return None if self.influence is None else self.influence.shape[0]

    def membership(self) -> np.ndarray | None:
        """(n_units, n_cells) 0/1: unit i belongs to the treated group of cell k."""
        if self.unit_cohort is None:
            return None
        m = np.asarray(self.unit_cohort)[:, None] == self.cells["cohort"].to_numpy()[None, :]
        if "level" in self.cells.columns:
            if self.unit_level is None:
                raise ValueError("cells carry `level`: give unit_level for the weights' influence")
            lv = np.asarray(self.unit_level).astype(str)[:, None]
            m &= lv == self.cells["level"].to_numpy()[None, :]
        return m.astype(float)


@dataclass(frozen=True)
class Aggregation:
    """Aggregated effects: ``estimates = weights @ cell estimates`` plus their uncertainty."""

    estimand: str
    terms: list[str]
    estimates: np.ndarray
    weights: np.ndarray
    influence: np.ndarray | None = None
    draws: np.ndarray | None = None
    #: Distinct treated units behind each term (see :func:`treated_units`).
    n_treated: np.ndarray | None = None

    def vcov(self, clusters: np.ndarray | None = None) -> np.ndarray:
        """``IF' IF / n^2``; with ``clusters`` (one label per unit) influence is summed within clusters."""
        if self.influence is None:
            raise ValueError(f"{self.estimand}: no influence functions (a posterior has draws)")
        return influence_vcov(self.influence, clusters)


def influence_vcov(influence: np.ndarray, clusters: np.ndarray | None = None) -> np.ndarray:
    """Covariance of an asymptotically linear estimator from its unit-level influence functions."""
    n = influence.shape[0]
    psi = influence if clusters is None else cluster_sums(influence, clusters)
    return psi.T @ psi / n**2


def cluster_sums(influence: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Rows summed within each cluster label (sorted labels)."""
    codes, _ = pd.factorize(pd.Series(np.asarray(clusters)), sort=True)
    order = np.argsort(codes, kind="stable")  # each cluster's rows in their order
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
    out = np.zeros((codes.max() + 1, influence.shape[1]))
    out[codes[order][starts]] = np.add.reduceat(influence[order], starts, axis=0)
    return out


def treated_units(cells: CellEffects, idx: np.ndarray) -> int:
    """The number of distinct treated units behind the cells ``idx`` of ``cells``."""
    idx = np.asarray(idx, dtype=np.int64)
    if idx.size == 0:
        return 0
    if cells.cell_units is not None:
        return int(np.unique(np.concatenate([cells.cell_units[i] for i in idx])).size)
    largest = np.zeros(int(cells._groups.max()) + 1)
    np.maximum.at(largest, cells._groups[idx], cells._sizes[idx])
    return int(round(largest.sum()))


def terms_treated_units(cells: CellEffects, W: np.ndarray) -> np.ndarray:
    """Distinct treated units behind each row (term) of the weight matrix ``W``."""
    W = np.atleast_2d(W)
    if cells.cell_units is not None:
        return np.array([treated_units(cells, np.flatnonzero(row)) for row in W],
                        dtype=np.int64)
    terms, idx = np.nonzero(W)
    n_groups = int(cells._groups.max()) + 1 if cells._groups.size else 1
    largest = np.zeros(W.shape[0] * n_groups)  # per term: the largest cell of each group
    np.maximum.at(largest, terms * n_groups + cells._groups[idx], cells._sizes[idx])
    return np.rint(largest.reshape(W.shape[0], n_groups).sum(axis=1)).astype(np.int64)


# ---------------------------------------------------------------------------- weights
def weights_influence(cells: CellEffects, idx: np.ndarray) -> np.ndarray | None:
    """Influence of estimated weights ``p_k / sum_K p_k`` over cells ``idx`` (R did's ``wif``).

    ``p_k = weight_k / n_units`` estimates the share of units in cell k's treated group;
    returns (n_units, len(idx)) so that ``wif @ estimates[idx]`` is the weights' contribution.
    """
    if cells.unit_cohort is None or cells.influence is None:
        return None
    idx = np.asarray(idx, dtype=np.int64)
    codes = cells._member_codes
    if codes is None:
        member = cells.membership()[:, idx]  # raises: levels without unit levels
    else:
        member = (codes[0][:, None] == codes[1][idx][None, :]).astype(float)
    p = cells._columns.weight[idx] / cells.n_units
    return share_influence(member, p)


def weights_terms(cells: CellEffects, sets: list[np.ndarray]) -> np.ndarray | None:
    """``weights_influence(cells, idx) @ cells.estimates[idx]`` for each set of cells ``idx``
    in ``sets`` (units x sets): the estimated weights' contribution to the influence function
    of each weighted mean (:func:`.cell_groups.estimated_weights_terms`)."""
    if cells.unit_cohort is None or cells.influence is None or not sets:
        return None
    codes = cells._member_codes
    if codes is None:
        cells.membership()  # raises: levels without unit levels
    return estimated_weights_terms(*codes, cells._columns.weight, cells.estimates,
                                   cells.n_units, sets)


def share_influence(member: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Influence of normalised shares ``p_k / sum p`` estimated by the membership means of
    ``member`` (n_units x K, 0/1): the delta method of R did's ``wif``."""
    dev = member - p[None, :]
    total = p.sum()
    return dev / total - dev.sum(axis=1, keepdims=True) * (p / total**2)[None, :]


def _term_cells(cells: CellEffects, keep: np.ndarray,
                estimand: str) -> list[tuple[str, np.ndarray, bool]]:
    """(term, cell positions, proportional-to-weight?) for each term of ``estimand`` over the
    cells ``keep``."""
    if estimand == "ATT":
        return [("overall", keep, True)]
    columns = cells._columns
    if estimand == "ATT_event":
        key, proportional = columns.rel_time, True
    elif estimand == "ATT_cohort":
        key, proportional = columns.cohort, False
    elif estimand == "ATT_calendar":
        key, proportional = columns.time, True
    else:
        key, proportional = columns.level, True
    values = key[keep]
    return [(str(v), keep[values == v], proportional) for v in np.unique(values)]


def _select(cells: CellEffects, post_only: bool, event_window: tuple[int, int] | None) -> np.ndarray:
    rel = cells._columns.rel_time
    keep = rel >= 0 if post_only else np.ones(len(rel), dtype=bool)
    if event_window is not None:
        lo, hi = event_window
        keep &= (rel >= lo) & (rel <= hi)
    return np.flatnonzero(keep)


def _resolve(estimand: str, trait: str | None, cells: pd.DataFrame) -> str:
    if trait is not None and estimand in ("ATT_by", BY_PREFIX, f"{BY_PREFIX}{trait}"):
        estimand = f"{BY_PREFIX}{trait}"
    if estimand not in ESTIMANDS and not estimand.startswith(BY_PREFIX):
        raise ValueError(f"unknown estimand {estimand!r}; use one of {ESTIMANDS} or 'ATT_by_<trait>'")
    if estimand.startswith(BY_PREFIX) and "level" not in cells.columns:
        raise ValueError(f"{estimand}: the cells carry no `level` column (fit them by the trait)")
    return estimand


def aggregate(cells: CellEffects, estimand: str, *, trait: str | None = None,
              post_only: bool = True, event_window: tuple[int, int] | None = None) -> Aggregation:
    """Aggregate cell effects into ``estimand`` with treated-cell weights (R ``did::aggte``).

    ``post_only`` keeps the post-treatment cells (``rel_time >= 0``); set it to False for an
    event study with pre-period (placebo) terms. ``event_window=(lo, hi)`` keeps cells with
    ``lo <= rel_time <= hi``. ``trait`` names the trait of ``ATT_by_<trait>`` (cells with ``level``).
    """
    estimand = _resolve(estimand, trait, cells.cells)
    keep = _select(cells, post_only, event_window)
    if keep.size == 0:
        raise ValueError(f"{estimand}: no cells left to aggregate (post-treatment only: "
                         f"{post_only}, event_window: {event_window})")
    weight = cells._columns.weight
    spec = _term_cells(cells, keep, estimand)
    W = np.zeros((len(spec), len(weight)))
    for j, (_, idx, proportional) in enumerate(spec):
        W[j, idx] = weight[idx] / weight[idx].sum() if proportional else 1.0 / idx.size
    estimated = [j for j, (_, _, proportional) in enumerate(spec) if proportional]
    wif = weights_terms(cells, [spec[j][1] for j in estimated])
    return _combine(cells, estimand, [t for t, _, _ in spec], W, estimated, wif)


def _combine(cells: CellEffects, estimand: str, terms: list[str], W: np.ndarray,
             estimated: list[int], wif: np.ndarray | None) -> Aggregation:
    """The aggregation with weights ``W``; the terms ``estimated`` (columns of ``wif``) have
    estimated weights whose influence ``wif`` adds to theirs."""
    influence = None
    if cells.influence is not None:
        influence = partitioned_product(cells.influence, W)
        if wif is not None:
            influence[:, estimated] += wif
    draws = None if cells.draws is None else cells.draws @ W.T
    return Aggregation(estimand=estimand, terms=terms, estimates=W @ cells.estimates, weights=W,
                       influence=influence, draws=draws, n_treated=terms_treated_units(cells, W))


def second_stage_overall(cells: CellEffects, estimand: str, *,
                         event_window: tuple[int, int] | None = None) -> Aggregation:
    """R ``did::aggte``'s overall number of a cohort, event-time or calendar aggregation.

    ``ATT_cohort``: ``sum_g P(G=g) ATT(g) / sum_g P(G=g)`` with estimated cohort shares (cohort
    size = its largest cell weight); ``ATT_event``: the mean of ``ATT(e)`` over ``e >= 0``;
    ``ATT_calendar``: the mean of ``ATT(t)`` over periods. Returns one term, ``overall``.
    """
    if estimand not in ("ATT_cohort", "ATT_event", "ATT_calendar"):
        raise ValueError(f"second-stage overall exists for ATT_cohort, ATT_event, ATT_calendar; "
                         f"got {estimand!r}")
    if "level" in cells.cells.columns:
        raise ValueError("second-stage overalls are defined for cells without trait levels")
    return second_stage_of(cells, aggregate(cells, estimand, post_only=True,
                                            event_window=event_window))


def post_terms(agg: Aggregation) -> Aggregation:
    """The terms ``e >= 0`` of an ``ATT_event`` aggregation: what ``aggregate(...,
    post_only=True)`` gives with the same window (each term depends on its own cells only)."""
    keep = np.array([int(t) >= 0 for t in agg.terms], dtype=bool)
    pick = (lambda a: None if a is None else a[:, keep])
    return Aggregation(agg.estimand, [t for t, k in zip(agg.terms, keep) if k],
                       agg.estimates[keep], agg.weights[keep], pick(agg.influence),
                       pick(agg.draws), None if agg.n_treated is None else agg.n_treated[keep])


def second_stage_of(cells: CellEffects, first: Aggregation) -> Aggregation:
    """:func:`second_stage_overall` from its first stage ``first``, the post-treatment
    aggregation of ``cells`` (``aggregate(cells, estimand, post_only=True, ...)``)."""
    estimand = first.estimand
    k = len(first.terms)
    if estimand != "ATT_cohort":
        return _linear(first, np.full(k, 1.0 / k), cells)
    cohort, weight = cells._columns.cohort, cells._columns.weight
    size = np.array([weight[cohort == int(g)].max() for g in first.terms])
    out = _linear(first, size / size.sum(), cells)
    if cells.unit_cohort is None or first.influence is None:
        return out
    member = np.asarray(cells.unit_cohort)[:, None] == np.array([int(g) for g in first.terms])
    wif = share_influence(member.astype(float), size / cells.n_units)
    return replace(out, influence=out.influence + (wif @ first.estimates)[:, None])


def _linear(agg: Aggregation, a: np.ndarray, cells: CellEffects) -> Aggregation:
    """The single term ``a @ terms`` of an aggregation of ``cells``, with fixed weights ``a``."""
    weights = (a @ agg.weights)[None, :]
    return Aggregation(
        estimand=agg.estimand, terms=["overall"], estimates=np.array([a @ agg.estimates]),
        weights=weights,
        influence=None if agg.influence is None else agg.influence @ a[:, None],
        draws=None if agg.draws is None else agg.draws @ a[:, None],
        n_treated=terms_treated_units(cells, weights))


# ---------------------------------------------------------------------------- unit-level effects
def cells_from_unit_effects(frame: pd.DataFrame, *, cohort: str = COHORT, time: str = "time",
                            effect: str | None = "tau", draws: np.ndarray | None = None,
                            level: str | None = None, unit: str | None = None) -> CellEffects:
    """Average unit x period effects of treated observations within (cohort, time[, level]) cells.

    ``frame`` has one row per treated observation (``cohort > 0``); ``effect`` names its point
    effect (e.g. an imputation estimator's tau_it) and/or ``draws`` (n_draws x n_rows) holds
    posterior draws of it (the cell estimate is then the mean of the draws' cell averages).
    The cell weight is the number of observations in the cell; with ``unit`` (the unit column)
    the cells also record their treated units, so terms count distinct units exactly on
    unbalanced panels. Influence functions are not formed here; estimators that have them
    build :class:`CellEffects` directly.
    """
    if effect is None and draws is None:
        raise ValueError("give the effect column and/or draws")
    keys = [cohort, time] + ([level] if level else [])
    treated = frame[cohort].to_numpy() > 0
    if not treated.all():
        raise ValueError("cells_from_unit_effects expects treated observations only (cohort > 0)")
    codes, uniques = pd.MultiIndex.from_frame(frame[keys].reset_index(drop=True)).factorize(sort=True)
    counts = np.bincount(codes, minlength=len(uniques)).astype(float)
    avg = np.zeros((len(uniques), len(frame)))
    avg[codes, np.arange(len(frame))] = 1.0 / counts[codes]
    cell_draws = None if draws is None else np.asarray(draws, dtype=float) @ avg.T
    if effect is not None:
        estimates = avg @ frame[effect].to_numpy(dtype=float)
    else:
        estimates = cell_draws.mean(axis=0)
    table = pd.DataFrame(list(uniques), columns=["cohort", "time"] + (["level"] if level else []))
    table["weight"] = counts
    units = None
    if unit is not None:
        labels = frame[unit].to_numpy()
        units = tuple(np.unique(labels[codes == k]) for k in range(len(uniques)))
    return CellEffects(cells=table, estimates=estimates, draws=cell_draws, cell_units=units)

