"""Cells of cohort x period (x level) effects as arrays, and what the aggregations compute on them.

:class:`~bayescity.estimands.aggregate.CellEffects` keeps its cells table as arrays
(:func:`normalised_cells`), codes every cell's treated group (cohort, or cohort and level) so that
a unit's membership of a cell's treated group is one comparison of codes (:func:`group_codes`),
and the aggregations combine cells through sums per group and sparse weights
(:func:`estimated_weights_terms`, :func:`partitioned_product`), without the units x cells
matrices.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import pandas as pd


class CellColumns(NamedTuple):
    """The cells' columns as arrays (what the aggregations read)."""

    cohort: np.ndarray
    time: np.ndarray
    rel_time: np.ndarray
    weight: np.ndarray
    level: np.ndarray | None


def normalised_cells(given: pd.DataFrame) -> tuple[pd.DataFrame, CellColumns]:
    """The cells table with int64 ``cohort`` and ``time``, their ``rel_time`` and text levels,
    and its columns as arrays."""
    columns = dict(given.items())  # one pass: looking columns up by name is slow
    missing = [c for c in ("cohort", "time", "weight") if c not in columns]
    if missing:
        raise ValueError(f"CellEffects.cells lacks columns {missing}")
    cohort = columns["cohort"].to_numpy().astype(np.int64)
    time = columns["time"].to_numpy().astype(np.int64)
    rel = time - cohort
    cells = given.reset_index(drop=True)
    ready = all(c in columns and columns[c].dtype == np.int64
                for c in ("cohort", "time", "rel_time")) \
        and np.array_equal(columns["rel_time"].to_numpy(), rel)
    if not ready:
        cells = cells.assign(cohort=cohort, time=time, rel_time=rel)
    weight = columns["weight"].to_numpy()
    if (weight <= 0).any():
        raise ValueError("CellEffects: every cell weight must be > 0")
    level = None
    if "level" in columns:
        cells = cells.assign(level=columns["level"].astype(str).to_numpy())
        level = cells["level"].to_numpy()
    return cells, CellColumns(cohort, time, rel, weight.astype(float), level)


def group_codes(cohort: np.ndarray, level: np.ndarray | None
                ) -> tuple[np.ndarray, Callable[[np.ndarray, np.ndarray | None], np.ndarray]]:
    """Codes of the (cohort[, level]) groups of cells, and a function giving the code of other
    (cohort[, level]) pairs (-1 where no cell has the pair)."""
    cohorts, cohort_code = np.unique(cohort, return_inverse=True)
    levels, level_code = (np.zeros(1), np.zeros(len(cohort), dtype=np.int64)) if level is None \
        else np.unique(level, return_inverse=True)
    codes = cohort_code.reshape(-1) * len(levels) + level_code.reshape(-1)

    def find(values: np.ndarray, value_levels: np.ndarray | None) -> np.ndarray:
        out = _positions(cohorts, values)
        if value_levels is not None:
            lv = _positions(levels, value_levels)
            out = np.where((out >= 0) & (lv >= 0), out * len(levels) + lv, -1)
        return out

    return codes.astype(np.int64), find


def _positions(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The index of each of ``values`` in ``sorted_values`` (-1 when absent)."""
    if sorted_values.size == 0:
        return np.full(len(values), -1, dtype=np.int64)
    pos = np.clip(np.searchsorted(sorted_values, values), 0, sorted_values.size - 1)
    return np.where(sorted_values[pos] == values, pos, -1).astype(np.int64)


def estimated_weights_terms(unit_code: np.ndarray, cell_code: np.ndarray, weight: np.ndarray,
                            estimates: np.ndarray, n_units: int,
                            sets: list[np.ndarray]) -> np.ndarray:
    """The influence of estimated weights ``p_k / sum p`` (``p_k = weight_k / n_units``, the
    share of units in cell k's treated group) on the weighted mean of the estimates of each set
    of cells in ``sets``: R did's ``wif`` (Callaway & Sant'Anna 2021, J. Econometrics 225(2),
    the aggregations' influence functions with estimated weights) times the estimates, units x
    sets.

    A unit's membership of a cell's treated group is its group code equal to the cell's
    (:func:`group_codes`), so the delta method needs only sums per (set, group) instead of
    units x cells membership matrices.
    """
    # one column per group code, the last for units of no cell's group
    m, n_groups = len(sets), int(max(cell_code.max(), unit_code.max())) + 2
    term = np.repeat(np.arange(m), [len(ix) for ix in sets])
    idx = np.concatenate(sets).astype(np.int64)
    p, est = weight[idx] / n_units, estimates[idx]
    key = term * n_groups + cell_code[idx]
    sums = np.bincount(key, weights=est, minlength=m * n_groups).reshape(m, n_groups)
    counts = np.bincount(key, minlength=m * n_groups).reshape(m, n_groups).astype(float)
    total = np.bincount(term, weights=p, minlength=m)
    pe = np.bincount(term, weights=p * est, minlength=m)
    mine = np.where(unit_code >= 0, unit_code, n_groups - 1)
    return (sums[:, mine].T - pe) / total - (counts[:, mine].T - total) * (pe / total**2)


def partitioned_product(matrix: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``matrix @ W.T`` for sparse weights (an aggregation's: each cell in one term): each
    term's weighted columns summed, with no dense product over the cells a term does not use."""
    rows, cols = np.nonzero(W.T)  # (cell, term) pairs, by cell
    order = np.argsort(cols, kind="stable")
    cells, terms = rows[order], cols[order]
    scaled = matrix[:, cells] * W[terms, cells][None, :]
    out = np.zeros((matrix.shape[0], W.shape[0]))
    if cells.size:
        starts = np.flatnonzero(np.r_[True, terms[1:] != terms[:-1]])
        out[:, terms[starts]] = np.add.reduceat(scaled, starts, axis=1)
    return out
