"""Permutations of adoption timing and the randomization p-value.

Randomization inference for a policy assigned to units (Fisher 1935; Imbens & Rubin 2015,
ch. 5; for staggered pilots e.g. MacKinnon & Webb 2020, "Randomization inference for
difference-in-differences with few treated clusters", J. Econometrics 218(2)): the vector of
unit adoption periods is permuted across units -- within strata when given -- so every placebo
assignment has the cohort sizes (never treated included) of the real one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Permutations drawn and evaluated together (one task of the parallel map).
BATCH_SIZE = 100


@dataclass(frozen=True)
class Batch:
    """One task: ``size`` permutations drawn from ``seed``, numbered from ``start``."""

    index: int
    seed: np.random.SeedSequence
    size: int
    start: int = 0


def plan_batches(n_permutations: int, seeds: list[np.random.SeedSequence],
                 batch_size: int = BATCH_SIZE) -> list[Batch]:
    """Split ``n_permutations`` into batches of ``batch_size``, batch i seeded by ``seeds[i]``."""
    n_batches = -(-int(n_permutations) // batch_size)
    if len(seeds) < n_batches:
        raise ValueError(f"{n_batches} batches need as many seeds, got {len(seeds)}")
    sizes = [batch_size] * (n_batches - 1) + [int(n_permutations) - batch_size * (n_batches - 1)]
    return [Batch(i, seeds[i], s, batch_size * i) for i, s in enumerate(sizes)]


def permuted_cohorts(cohorts: np.ndarray, strata: np.ndarray | None, size: int,
                     rng: np.random.Generator) -> np.ndarray:
    """``size`` placebo assignments (``size x n_units``): ``cohorts`` permuted across units, within
    each stratum when ``strata`` (integer codes per unit) is given, so that every assignment keeps
    the cohort sizes -- overall and within strata -- of the real one."""
    cohorts = np.asarray(cohorts)
    n = cohorts.shape[0]
    codes = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    base = np.argsort(codes, kind="stable")
    keys = codes[None, :] + rng.random((size, n))
    order = np.argsort(keys, axis=1)
    out = np.empty((size, n), dtype=cohorts.dtype)
    out[:, base] = cohorts[order]
    return out


def randomization_pvalue(observed: float | np.ndarray, placebo: np.ndarray) -> np.ndarray:
    """Two-sided randomization p-value ``(1 + #{|T_b| >= |T_obs|}) / (1 + B)`` per column.

    The observed assignment counts as one draw (Phipson & Smyth 2010), so the p-value is never
    zero and is exactly uniform under the sharp null when assignments are exchangeable.
    Placebo draws whose statistic is undefined (NaN) are left out.
    """
    placebo = np.asarray(placebo, dtype=float).reshape(len(placebo), -1)
    obs = np.abs(np.atleast_1d(np.asarray(observed, dtype=float)))
    tol = 1e-10 * np.maximum(obs, 1.0)
    valid = np.isfinite(placebo)
    extreme = (np.abs(placebo) >= obs[None, :] - tol[None, :]) & valid
    return (1.0 + extreme.sum(axis=0)) / (1.0 + valid.sum(axis=0))


def treatment_matrix(unit_codes: np.ndarray, time: np.ndarray,
                     assignments: np.ndarray) -> np.ndarray:
    """``n_obs x size`` absorbing treatment dummies of the placebo ``assignments``
    (``size x n_units``; 0 = never treated)."""
    g = assignments.T[unit_codes]
    return ((g > 0) & (np.asarray(time)[:, None] >= g)).astype(float)
