"""The within-transformed (two-way demeaned) design, kept for comparison with the cell design.

Outcome, treatment indicator and time-varying covariates of the balanced panel are demeaned by
unit and period; outcome and treatment are then residualised on the demeaned covariates with
cross-fitted learners (folds grouped by city) and the effect is the partially linear DML
coefficient ``sum D~ Y~ / sum D~^2`` (Chernozhukov et al. 2018, Econometrics Journal 21(1)) --
the two-way fixed-effects estimand. Under staggered adoption with effects that vary over time
it is a variance-weighted average that uses already-treated cities as controls and can even
carry negative weights (Goodman-Bacon 2021; de Chaisemartin & D'Haultfoeuille 2020), so it is
not the treated-cell ATT of every other row of a comparison table.

Each unit's score is its own coefficient ``theta_i = sum_t D~ Y~ / sum_t D~^2`` with weight
``sum_t D~^2``; the pooled coefficient and its projections on modifiers are weighted least
squares of these scores (one score row per unit, :class:`~.scores.ScoreRows`), so the
heterogeneity machinery of the cell design applies unchanged.
"""

from __future__ import annotations

import numpy as np

from ..core.cs_gt import WidePanel
from .folds import FoldLog
from .learners import fit_predict_outcome
from .scores import ScoreRows


def demean_two_way(a: np.ndarray) -> np.ndarray:
    """``a_it - a_i. - a_.t + a_..`` of a balanced (units x periods[, k]) array."""
    return a - a.mean(axis=1, keepdims=True) - a.mean(axis=0, keepdims=True) + a.mean(axis=(0, 1),
                                                                                      keepdims=True)


def treatment_matrix(wide: WidePanel) -> np.ndarray:
    """The absorbing 0/1 treatment of every unit and period."""
    g = wide.cohort[:, None]
    return ((g > 0) & (wide.periods[None, :] >= g)).astype(float)


def residualise(target: np.ndarray, x: np.ndarray, folds: np.ndarray, n_folds: int,
                learner: str, seed: int, log: FoldLog, n_jobs: int = 1) -> np.ndarray:
    """``target - E[target | x]`` (units x periods), cross-fitted over the unit folds of every
    repetition (rows of ``folds``) and averaged over repetitions."""
    if x.shape[2] == 0:
        return target
    k = x.shape[2]
    fitted = np.zeros_like(target)
    for r, fold in enumerate(folds):
        for f in range(n_folds):
            held = fold == f
            if not held.any():
                continue
            train = ~held
            pred = fit_predict_outcome(learner, x[train].reshape(-1, k), target[train].reshape(-1),
                                       x[held].reshape(-1, k), seed + r * n_folds + f, n_jobs)
            fitted[held] += pred.reshape(int(held.sum()), target.shape[1])
            log.add(r * n_folds + f, np.flatnonzero(train), np.flatnonzero(held))
    return target - fitted / len(folds)


def within_scores(wide: WidePanel, folds: np.ndarray, n_folds: int, learner: str, seed: int,
                  n_jobs: int = 1) -> tuple[ScoreRows, FoldLog]:
    """One score row per unit: ``r = sum_t D~ Y~`` with weight ``a = sum_t D~^2`` (so that the
    unit's own coefficient is ``r / a``) of the demeaned partially linear model."""
    log = FoldLog(folds.shape[1], folds.shape[0] * n_folds)
    x = demean_two_way(wide.x[:, :, 1:])
    y_res = residualise(demean_two_way(wide.y), x, folds, n_folds, learner, seed, log, n_jobs)
    d_res = residualise(demean_two_way(treatment_matrix(wide)), x, folds, n_folds, learner,
                        seed + 7919, log, n_jobs)
    weight = (d_res ** 2).sum(axis=1)
    units = np.flatnonzero(weight > 0)
    rows = ScoreRows(n_units=len(weight), unit=units, cell=np.full(units.size, -1),
                     treated=np.ones(units.size, dtype=bool),
                     r=(d_res * y_res).sum(axis=1)[units], omega=np.zeros(units.size),
                     a=weight[units])
    return rows, log
