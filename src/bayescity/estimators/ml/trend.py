"""A cross-fitted machine-learning adjustment of the imputation design's untreated trends.

The linear first stage of :mod:`.imputation` lets untreated trends differ linearly with the
covariates (year-specific slopes). When ``outcome_model`` names a learner, what it leaves --
the untreated residuals -- is learned as a function of the covariates, the effect modifiers,
the year and their products with the year, on the untreated city-years of the cities outside
each fold, and predicted for every city-year of the fold's cities (folds grouped by cluster,
as every other fit; Chernozhukov et al. 2018 cross-fitting). The prediction is subtracted from
the outcome as an offset and the first stage refitted, so the unit and year effects absorb its
level and its common path: only trend differences across cities that the linear part missed
(nonlinear in a covariate, or driven by a trait) change the imputed effects. The adjustment is
treated as known in the standard errors.
"""

from __future__ import annotations

import numpy as np

from ..freq.cs_gt import WidePanel
from .folds import FoldLog
from .learners import fit_predict_outcome


def trend_features(unit_features: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Features of every city-year (units x periods x f): the unit's features ``w``, the
    standardised year ``s`` and ``w * s``."""
    n, T = unit_features.shape[0], len(periods)
    s = (periods - periods.mean()) / max(periods.std(), 1.0)
    w = np.broadcast_to(unit_features[:, None, :], (n, T, unit_features.shape[1]))
    s3 = np.broadcast_to(s[None, :, None], (n, T, 1))
    return np.concatenate([w, s3, w * s3], axis=2)


def crossfit_trend(resid: np.ndarray, untreated: np.ndarray, features: np.ndarray,
                   folds: np.ndarray, n_folds: int, learner: str, seed: int,
                   log: FoldLog, n_jobs: int = 1) -> np.ndarray:
    """Held-out predictions (units x periods) of the untreated residuals ``resid`` from
    ``features``, averaged over the repetitions (rows) of ``folds``; the fits are recorded in
    ``log``."""
    f = features.shape[2]
    out = np.zeros(resid.shape)
    for r, fold in enumerate(folds):
        for k in range(n_folds):
            held = fold == k
            if not held.any():
                continue
            train = (~held)[:, None] & untreated
            pred = fit_predict_outcome(learner, features[train], resid[train],
                                       features[held].reshape(-1, f), seed + r * n_folds + k,
                                       n_jobs)
            out[held] += pred.reshape(int(held.sum()), resid.shape[1])
            log.add(r * n_folds + k, np.flatnonzero(~held), np.flatnonzero(held))
    return out / len(folds)


def unit_features(wide: WidePanel, modifiers: np.ndarray) -> np.ndarray:
    """The covariates in the first sample year and the encoded effect modifiers."""
    return np.column_stack([wide.x[:, 0, 1:], modifiers])
