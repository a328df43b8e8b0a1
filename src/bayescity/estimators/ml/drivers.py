"""The drivers table: which effect modifiers the CATE model leans on, by four measures.

One row per effect modifier (a categorical trait's indicator columns summed), columns
:data:`DRIVER_COLUMNS`, sorted by ``mean_abs_shap`` (descending):

* ``forest_importance`` -- the forest's heterogeneity importance (NaN for a linear model);
* ``mean_abs_shap`` -- mean over treated cities of the absolute SHAP value of the trait (its
  columns' SHAP values summed first; Lundberg & Lee 2017);
* ``blp_estimate``, ``blp_t`` -- the trait's coefficient in the best linear projection and its
  cluster-robust t statistic (for a categorical trait with several levels, the level contrast
  with the largest |t|);
* ``rank_stability`` -- the share of refits (the held-out fold models, and for a forest refits
  with other seeds) in which the trait keeps its mean-|SHAP| rank.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cate import Modifiers

DRIVER_COLUMNS = ("trait", "forest_importance", "mean_abs_shap", "blp_estimate", "blp_t",
                  "rank_stability")


def mean_abs_shap(model, x: np.ndarray, mods: Modifiers) -> np.ndarray:
    """Mean |SHAP| per trait of ``model`` over the rows ``x``."""
    return np.abs(mods.group_sum(model.shap_values(x))).mean(axis=0)


def ranks(values: np.ndarray) -> np.ndarray:
    """Rank of every entry, 0 for the largest (ties broken by position)."""
    order = np.argsort(-np.asarray(values), kind="stable")
    out = np.empty(len(order), dtype=int)
    out[order] = np.arange(len(order))
    return out


def rank_stability(reference: np.ndarray, refits: list[np.ndarray]) -> np.ndarray:
    """Share of ``refits`` in which each trait has the rank it has in ``reference``."""
    if not refits:
        return np.full(len(reference), np.nan)
    ref = ranks(reference)
    return np.mean([ranks(r) == ref for r in refits], axis=0)


def blp_by_trait(mods: Modifiers, coef: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per trait, the BLP coefficient with the largest |t| among its columns, and that t."""
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(se > 0, coef / se, np.nan)
    owner = np.array(mods.trait_of)
    est, tstat = [], []
    for trait in mods.traits:
        cols = np.flatnonzero(owner == trait)
        best = cols[np.nanargmax(np.abs(t[cols]))] if np.isfinite(t[cols]).any() else cols[0]
        est.append(coef[best])
        tstat.append(t[best])
    return np.array(est), np.array(tstat)


def drivers_table(mods: Modifiers, shap_abs: np.ndarray, importance: np.ndarray | None,
                  blp_coef: np.ndarray, blp_se: np.ndarray,
                  stability: np.ndarray) -> pd.DataFrame:
    """The drivers table (see the module docstring)."""
    est, t = blp_by_trait(mods, blp_coef, blp_se)
    imp = (np.full(len(mods.traits), np.nan) if importance is None
           else mods.group_sum(np.asarray(importance)[None, :])[0])
    table = pd.DataFrame({"trait": mods.traits, "forest_importance": imp,
                          "mean_abs_shap": shap_abs, "blp_estimate": est, "blp_t": t,
                          "rank_stability": stability})
    return table.sort_values("mean_abs_shap", ascending=False, kind="stable").reset_index(drop=True)
