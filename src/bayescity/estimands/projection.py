"""Posterior projections of unit effects on unit traits: which traits a Bayesian model's
per-unit effects line up with, and how surely.

A hierarchical model with unit deviations reports a posterior draw of every treated unit's
effect (``CATE``: draws x units). Projecting each draw on the units' traits by least squares
(an intercept and every trait together) gives one draw of the slopes of the best linear
projection of the unit effects, so the slopes' posterior is the projection of the effects'
posterior (Gelman et al. 2013, *Bayesian Data Analysis*, 3rd ed., sec. 1.9: a function of the
parameters is summarised by its values in the draws). The projection is the Bayesian
counterpart of the best linear projection of the CATE that the double ML estimators report
(Chernozhukov, Demirer, Duflo & Fernandez-Val 2018, "Generic machine learning inference on
heterogeneous treatment effects", NBER WP 24678), on the same traits: numeric traits
standardised over the treated units (a slope per standard deviation), categorical ones as
indicators of every level but the first in sorted order (``trait=level``, a contrast with
the first level, as the ML estimators encode them).

:func:`trait_slopes` gives each column's posterior (mean, sd, equal-tailed interval, the
posterior probability of its sign); :func:`trait_ranking` one row per trait: its column with
the largest posterior ``|mean| / sd``, ranked by that ratio, and whether its interval excludes
zero (*credible*).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Sequence

import numpy as np
import pandas as pd

#: Columns of :func:`trait_slopes`.
SLOPE_COLUMNS = ("term", "trait", "mean", "sd", "lower", "upper", "prob_sign", "z")
#: Columns of :func:`trait_ranking`.
RANKING_COLUMNS = ("trait", "rank", "term", "mean", "sd", "prob_sign", "credible")


@dataclass(frozen=True)
class TraitMatrix:
    """Encoded traits of the units: ``matrix`` (units x columns), each column's name and trait,
    and the standard deviation a numeric column was divided by (1 for an indicator)."""

    matrix: np.ndarray
    columns: tuple[str, ...]
    trait_of: tuple[str, ...]
    scale: tuple[float, ...]


def trait_matrix(units: pd.DataFrame, traits: Sequence[str],
                 categorical: Collection[str]) -> TraitMatrix:
    """The traits of ``units`` (one row per unit) encoded for the projection: numeric traits
    centred and divided by their sd, categorical ones (``categorical``) as indicators of every
    level but the first in sorted order; columns constant over the units are left out."""
    blocks, columns, owner, scale = [], [], [], []
    for trait in traits:
        if trait in categorical:
            values = units[trait].astype(str).to_numpy()
            for level in sorted(pd.unique(values))[1:]:
                blocks.append((values == level).astype(float))
                columns.append(f"{trait}={level}")
                owner.append(trait)
                scale.append(1.0)
            continue
        x = units[trait].to_numpy(dtype=float)
        sd = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
        if sd > 0:
            blocks.append((x - x.mean()) / sd)
            columns.append(trait)
            owner.append(trait)
            scale.append(sd)
    keep = [i for i, b in enumerate(blocks) if np.ptp(b) > 0]
    matrix = (np.column_stack([blocks[i] for i in keep]) if keep
              else np.zeros((len(units), 0)))
    pick = lambda seq: tuple(seq[i] for i in keep)  # noqa: E731
    return TraitMatrix(matrix, pick(columns), pick(owner), pick(scale))


def independent_columns(x: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Indices of the columns of ``x`` kept when each column that is a linear combination of
    an intercept and the columns before it is dropped."""
    kept: list[int] = []
    base = np.ones((x.shape[0], 1))
    for j in range(x.shape[1]):
        trial = np.column_stack([base, x[:, j]])
        if np.linalg.matrix_rank(trial, tol=tol * max(1.0, np.abs(trial).max())) == trial.shape[1]:
            kept.append(j)
            base = trial
    return np.array(kept, dtype=int)


def projection_draws(draws: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Least-squares slopes of each draw of the unit effects on ``x`` (with an intercept):
    ``draws`` is draws x units, ``x`` units x columns; returns draws x columns."""
    draws, x = np.asarray(draws, dtype=float), np.asarray(x, dtype=float)
    if draws.ndim != 2 or draws.shape[1] != x.shape[0]:
        raise ValueError(f"draws must be draws x {x.shape[0]} units, got shape {draws.shape}")
    z = np.column_stack([np.ones(x.shape[0]), x])
    coef, *_ = np.linalg.lstsq(z, draws.T, rcond=None)
    return coef[1:].T


def trait_slopes(draws: np.ndarray, traits: TraitMatrix,
                 interval_prob: float = 0.95) -> pd.DataFrame:
    """The posterior of every column's slope (:data:`SLOPE_COLUMNS`): mean, sd, the
    equal-tailed ``interval_prob`` interval, ``prob_sign`` (the share of draws with the sign
    of the mean) and ``z`` (``|mean| / sd``). Columns collinear with earlier ones (and the
    intercept) are left out."""
    keep = independent_columns(traits.matrix)
    slopes = projection_draws(draws, traits.matrix[:, keep])
    mean, sd = slopes.mean(axis=0), slopes.std(axis=0, ddof=1)
    tail = (1.0 - interval_prob) / 2.0
    lower, upper = np.quantile(slopes, [tail, 1.0 - tail], axis=0)
    sign = np.where(mean >= 0, 1.0, -1.0)
    prob = (np.sign(slopes) == sign).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, np.abs(mean) / sd, np.inf)
    return pd.DataFrame({"term": [traits.columns[j] for j in keep],
                         "trait": [traits.trait_of[j] for j in keep], "mean": mean, "sd": sd,
                         "lower": lower, "upper": upper, "prob_sign": prob, "z": z})


def trait_ranking(slopes: pd.DataFrame) -> pd.DataFrame:
    """One row per trait of :func:`trait_slopes` (:data:`RANKING_COLUMNS`): its column with
    the largest ``z``, the trait's rank by that ``z`` (1 = the largest) and ``credible``
    (that column's interval excludes zero)."""
    best = slopes.loc[slopes.groupby("trait", sort=False)["z"].idxmax()]
    best = best.sort_values("z", ascending=False, kind="stable").reset_index(drop=True)
    credible = (best["lower"] > 0) | (best["upper"] < 0)
    return best.assign(rank=np.arange(1, len(best) + 1), credible=credible.to_numpy())[
        list(RANKING_COLUMNS)]
