"""The staggered-safe long-difference cell design with cross-fitted machine-learning nuisances.

For every treated cohort ``g`` and period ``t >= g`` the cell compares the long difference
``Y_t - Y_{g-1}`` of cohort-``g`` units with that of clean controls (never treated, or not yet
treated at ``t``) -- the 2x2 comparisons of Callaway & Sant'Anna (2021), built by the same code
(:func:`~bayescity.estimators.core.cs_gt.cell_specs`). Within each cell the control outcome
change ``m0(x)`` and the propensity score ``p(x)`` are learned from covariates at the base period
and the effect modifiers, cross-fitted over folds grouped by city, and ATT(g,t) is the doubly
robust score of Sant'Anna & Zhao (2020) with those nuisances (Chang 2020, "Double/debiased
machine learning for difference-in-differences models", Econometrics Journal 23(2)). With
cross-fitting the score is Neyman-orthogonal, so its influence function needs no correction for
the estimation of the nuisances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...estimands.aggregate import CellEffects
from ...parallel import map_tasks
from ..core.cs_drdid import DRScore, dr_score, dr_weights
from ..core.cs_gt import CellSpec, WidePanel, cell_effects, gt_frame
from .folds import FoldLog
from .learners import fit_predict_outcome, fit_predict_propensity
from .scores import ScoreRows


@dataclass(frozen=True)
class CellSample:
    """A balanced panel as arrays, its encoded effect modifiers and the units' folds (one row
    per repetition of the cross-fitting)."""

    wide: WidePanel
    modifiers: np.ndarray
    folds: np.ndarray
    n_folds: int

    def features(self, spec: CellSpec) -> np.ndarray:
        """Nuisance features of a cell's units: covariates at the base period and modifiers."""
        rows = spec.rows
        return np.column_stack([self.wide.x[rows, spec.base_idx, 1:], self.modifiers[rows]])


@dataclass(frozen=True)
class NuisanceTask:
    """One cell's cross-fitting job (plain data, so it can run on any executor)."""

    dy: np.ndarray
    d: np.ndarray
    features: np.ndarray
    fold: np.ndarray
    n_folds: int
    outcome_model: str
    propensity_model: str
    seed: int
    n_jobs: int = 1


@dataclass(frozen=True)
class CellNuisance:
    """Held-out predictions of one cell (averaged over repetitions) and the local rows each
    split's fits were trained on (split ``r * n_folds + f``)."""

    m0: np.ndarray
    ps: np.ndarray
    trained: tuple[np.ndarray, ...]
    notes: tuple[str, ...]


def crossfit_cell(task: NuisanceTask) -> CellNuisance:
    """Fit ``m0`` on the training controls and ``p`` on all training units of every fold and
    predict the held-out fold; with several repetitions (rows of ``task.fold``) the held-out
    predictions are averaged (econml's ``mc_iters`` with ``mc_agg="mean"``)."""
    n_rep, n = task.fold.shape[0], task.dy.size
    m0, ps = np.zeros(n), np.zeros(n)
    trained, notes = [], set()
    for r in range(n_rep):
        for f in range(task.n_folds):
            held = task.fold[r] == f
            local = np.zeros(0, dtype=np.int64)
            if held.any():
                local = _fit_fold(task, held, int(task.seed) + r * task.n_folds + f, m0, ps,
                                  notes)
            trained.append(local)
    return CellNuisance(m0=m0 / n_rep, ps=ps / n_rep, trained=tuple(trained),
                        notes=tuple(sorted(notes)))


def _fit_fold(task: NuisanceTask, held: np.ndarray, seed: int, m0: np.ndarray, ps: np.ndarray,
              notes: set) -> np.ndarray:
    """Add one fold's held-out predictions to ``m0`` and ``ps``; return its training rows."""
    train = ~held
    fit_y = train & (task.d == 0)
    x_eval = task.features[held]
    m0[held] += fit_predict_outcome(task.outcome_model, task.features[fit_y], task.dy[fit_y],
                                    x_eval, seed, task.n_jobs)
    p, note = fit_predict_propensity(task.propensity_model, task.features[train],
                                     task.d[train], x_eval, seed, task.n_jobs)
    ps[held] += p
    if note:
        notes.add(note)
    return np.flatnonzero(train)


def nuisance_tasks(sample: CellSample, specs: list[CellSpec], outcome_model: str,
                   propensity_model: str, seeds: list[int], n_jobs: int = 1) -> list[NuisanceTask]:
    return [NuisanceTask(dy=spec.long_difference(sample.wide),
                         d=spec.treated[spec.rows].astype(float), features=sample.features(spec),
                         fold=sample.folds[:, spec.rows], n_folds=sample.n_folds,
                         outcome_model=outcome_model, propensity_model=propensity_model,
                         seed=seed, n_jobs=n_jobs)
            for spec, seed in zip(specs, seeds)]


def dr_cell(dy: np.ndarray, d: np.ndarray, m0: np.ndarray, ps: np.ndarray
            ) -> tuple[DRScore, np.ndarray] | None:
    """The DR score of one comparison and the control weights, or None when a side is empty."""
    w_treat, w_cont = dr_weights(d, ps, np.ones(d.size))
    if w_treat.sum() <= 0 or w_cont.sum() <= 0:
        return None
    return dr_score(dy, w_treat, w_cont, m0), w_cont


@dataclass(frozen=True)
class CellFit:
    """Everything the cell design estimates: the ATT(g,t) table, cell effects (overall and by
    level), the unit scores, and the record of the cross-fitting."""

    table: pd.DataFrame
    cells: CellEffects
    scores: ScoreRows
    fold_log: FoldLog
    notes: tuple[str, ...]
    cells_by: CellEffects | None = None
    table_by: pd.DataFrame | None = None


def fit_cells(sample: CellSample, specs: list[CellSpec], outcome_model: str,
              propensity_model: str, seeds: list[int], n_jobs: int = 1,
              unit_level: np.ndarray | None = None) -> CellFit:
    """Cross-fit the nuisances of every cell (through :func:`~bayescity.parallel.map_tasks`),
    then form ATT(g,t), their influence functions and the unit scores."""
    tasks = nuisance_tasks(sample, specs, outcome_model, propensity_model, seeds, n_jobs)
    fits = map_tasks(crossfit_cell, tasks)
    n_rep, n_units = sample.folds.shape
    log = FoldLog(n_units, n_rep * sample.n_folds)
    for spec, task, fit in zip(specs, tasks, fits):
        for split, local in enumerate(fit.trained):
            r, f = divmod(split, sample.n_folds)
            log.add(split, spec.rows[local], spec.rows[task.fold[r] == f])
    table, cells, scores = _assemble(sample.wide, specs, tasks, fits)
    notes = sorted({n for fit in fits for n in fit.notes})
    if table["skipped"].any():
        notes.append(f"{int(table['skipped'].sum())} cells left out: no treated unit or every "
                     "control trimmed (propensity >= 0.995)")
    out = CellFit(table=table, cells=cells, scores=scores, fold_log=log, notes=tuple(notes))
    if unit_level is None:
        return out
    table_by, cells_by = _assemble_by_level(sample.wide, specs, tasks, fits, unit_level)
    return CellFit(table=table, cells=cells, scores=scores, fold_log=log, notes=out.notes,
                   cells_by=cells_by, table_by=table_by)


def _assemble(wide: WidePanel, specs, tasks, fits) -> tuple[pd.DataFrame, CellEffects, ScoreRows]:
    n, k = len(wide.cohort), len(specs)
    influence, records, parts = np.zeros((n, k)), [], []
    for j, (spec, task, fit) in enumerate(zip(specs, tasks, fits)):
        record = spec.record(wide.periods)
        out = dr_cell(task.dy, task.d, fit.m0, fit.ps)
        records.append(record)
        if out is None:
            continue
        core, w_cont = out
        rows, treated = spec.rows, task.d == 1
        influence[rows, j] = core.influence * (n / rows.size)
        record.update(att=core.att, skipped=False)
        omega = np.where(treated, 0.0, w_cont * treated.sum() / w_cont.sum())
        parts.append((rows, np.full(rows.size, len(parts)), treated, core.resid, omega))
    table = gt_frame(records)
    cells = cell_effects(table, influence, wide.cohort)
    stacked = [np.concatenate([p[i] for p in parts]) if parts else np.zeros(0) for i in range(5)]
    scores = ScoreRows(n_units=n, unit=stacked[0].astype(np.int64),
                       cell=stacked[1].astype(np.int64), treated=stacked[2].astype(bool),
                       r=stacked[3].astype(float), omega=stacked[4].astype(float),
                       a=stacked[2].astype(float))
    return table, cells, scores


def _assemble_by_level(wide: WidePanel, specs, tasks, fits,
                       unit_level: np.ndarray) -> tuple[pd.DataFrame, CellEffects]:
    """ATT(g,t) within each level: the DR score over the level's units of each comparison, with
    the nuisances fitted on the whole comparison (the level is one of their features)."""
    n = len(wide.cohort)
    levels = np.unique(unit_level)
    records, columns = [], []
    for level in levels:
        for spec, task, fit in zip(specs, tasks, fits):
            sub = unit_level[spec.rows] == level
            rows = spec.rows[sub]
            d = task.d[sub]
            record = dict(spec.record(wide.periods), n_treated=int(d.sum()),
                          n_control=int((d == 0).sum()), level=str(level))
            column = np.zeros(n)
            out = dr_cell(task.dy[sub], d, fit.m0[sub], fit.ps[sub]) if rows.size else None
            if out is not None:
                column[rows] = out[0].influence * (n / rows.size)
                record.update(att=out[0].att, skipped=False)
            records.append(record)
            columns.append(column)
    table = gt_frame(records).assign(level=[r["level"] for r in records])
    influence = np.column_stack(columns) if columns else np.zeros((n, 0))
    return table, cell_effects(table, influence, wide.cohort, unit_level.astype(str))


def stacked_cells(sample: CellSample, specs: list[CellSpec]) -> dict[str, np.ndarray]:
    """The cells as one stacked table of (cell, unit) rows -- the long difference ``y``, the
    cohort indicator ``d``, the nuisance features ``w`` (covariates at the base period and
    modifiers), the modifiers ``x``, the ``unit`` index and the ``cell`` index -- the input a
    direct call of econml's estimators takes (``groups=unit``)."""
    parts = {k: [] for k in ("y", "d", "w", "x", "unit", "cell")}
    for j, spec in enumerate(specs):
        rows = spec.rows
        parts["y"].append(spec.long_difference(sample.wide))
        parts["d"].append(spec.treated[rows].astype(float))
        parts["w"].append(sample.features(spec))
        parts["x"].append(sample.modifiers[rows])
        parts["unit"].append(rows)
        parts["cell"].append(np.full(rows.size, j))
    return {k: np.concatenate(v) for k, v in parts.items()}
