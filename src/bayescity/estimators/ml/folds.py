"""Cross-fitting folds grouped by cluster: a city (or a whole cluster of cities) is never in
both the training and the evaluation fold of any fit, in any cell.

One fold per unit is drawn once per fit of an estimator and used by every nuisance fit of every
cell and by the held-out predictions of the CATE model, so the guarantee holds across cells,
where one city appears many times (Chiang, Kato, Ma & Sasaki 2022, J. Bus. Econ. Stat. 40(1):
sample splitting by cluster for double/debiased ML with clustered data).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def grouped_folds(groups: np.ndarray, strata: np.ndarray, n_folds: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Fold (0..n_folds-1) of every unit; all units of a group share a fold.

    Groups whose units share one stratum (a cohort) are dealt round-robin within that stratum
    after a random permutation, so each cohort is spread over the folds and every training set
    keeps treated units of every cohort with at least two groups; groups mixing strata form one
    stratum of their own.
    """
    codes, labels = pd.factorize(pd.Series(np.asarray(groups)), sort=True)
    n_groups = len(labels)
    if n_folds < 2 or n_folds > n_groups:
        raise ValueError(f"n_folds: {n_folds} folds need between 2 and {n_groups} clusters")
    per_group = pd.Series(np.asarray(strata)).groupby(codes)
    group_stratum = np.where(per_group.nunique().to_numpy() == 1,
                             per_group.first().to_numpy().astype(str), "mixed")
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    offset = 0
    for stratum in sorted(set(group_stratum)):
        members = rng.permutation(np.flatnonzero(group_stratum == stratum))
        fold_of_group[members] = (offset + np.arange(members.size)) % n_folds
        offset += members.size
    return fold_of_group[codes]


@dataclass
class FoldLog:
    """Which units the fits of every split (fold of a repetition) were trained on and evaluated
    at, over all cells (a record, for audits)."""

    n_units: int
    n_splits: int
    trained: np.ndarray = field(init=False)
    evaluated: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.trained = np.zeros((self.n_splits, self.n_units), dtype=bool)
        self.evaluated = np.zeros((self.n_splits, self.n_units), dtype=bool)

    def add(self, split: int, train_units: np.ndarray, eval_units: np.ndarray) -> None:
        self.trained[split, train_units] = True
        self.evaluated[split, eval_units] = True

    def overlap(self) -> np.ndarray:
        """Units trained on and evaluated in the same split (empty when cross-fitting is clean)."""
        return np.flatnonzero((self.trained & self.evaluated).any(axis=0))
