"""The drivers table: which effect modifiers the CATE model leans on, by four measures and their combined rank.

One row per effect modifier (a categorical trait's indicator columns summed), columns
:data:`DRIVER_COLUMNS`, sorted by the combined ``rank``:

* ``forest_importance`` -- the forest's heterogeneity importance (NaN for a linear model);
* ``mean_abs_shap`` -- mean over treated cities of the absolute SHAP value of the trait (its
  columns' SHAP values summed first; Lundberg & Lee 2017);
* ``blp_estimate``, ``blp_t`` -- the trait's coefficient in the best linear projection and its
  cluster-robust t statistic (for a categorical trait with several levels, the level contrast
  with the largest |t|);
* ``blp_p`` -- the p-value of the trait's joint test in the best linear projection (all its
  columns zero; cluster-robust F with treated clusters - 1 df), which puts a three-level trait
  and a numeric one on the same footing;
* ``blp_p_holm`` -- ``blp_p`` adjusted for testing every trait of the table (Holm 1979,
  "A simple sequentially rejective multiple test procedure", Scand. J. Statist. 6(2)): a
  trait read as a driver when ``blp_p_holm < 0.05`` keeps the chance that any trait without
  an effect is called one at 5% or less, however many traits the table screens;
* ``rank_stability`` -- the share of refits (the held-out fold models, and for a forest refits
  with other seeds) in which the trait keeps its mean-|SHAP| rank;
* ``rank`` -- the combined rank (1 = the leading driver): traits ordered by the mean of their
  ranks by mean |SHAP| and by ``blp_p`` (ties by ``blp_p``). The model's own attribution and
  the statistical evidence for the trait must agree for a trait to lead: a noise trait the model
  happens to lean on in one sample rarely also has a small ``blp_p``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .cate import Modifiers

DRIVER_COLUMNS = ("trait", "rank", "forest_importance", "mean_abs_shap", "blp_estimate", "blp_t",
                  "blp_p", "blp_p_holm", "rank_stability")


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


def blp_trait_tests(mods: Modifiers, coef: np.ndarray, vcov: np.ndarray, df: float) -> np.ndarray:
    """Per trait, the p-value of the F test that all its BLP columns are zero (``coef`` and
    ``vcov`` of the slopes, in the order of ``mods.columns``)."""
    owner = np.array(mods.trait_of)
    out = []
    for trait in mods.traits:
        cols = np.flatnonzero(owner == trait)
        middle = vcov[np.ix_(cols, cols)]
        q = int(np.linalg.matrix_rank(middle))
        if q == 0:
            out.append(np.nan)
            continue
        stat = float(coef[cols] @ np.linalg.pinv(middle) @ coef[cols]) / q
        out.append(float(stats.f.sf(stat, q, df)))
    return np.array(out)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values of ``p`` (NaN entries stay NaN and do not count)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    out[order] = np.minimum(np.maximum.accumulate((m - np.arange(m)) * p[order]), 1.0)
    return out


def combined_rank(shap_abs: np.ndarray, blp_p: np.ndarray) -> np.ndarray:
    """1-based combined rank of the traits: mean of the ranks by mean |SHAP| (descending) and by
    the BLP p-value (ascending), ties broken by the p-value."""
    p = np.where(np.isfinite(blp_p), blp_p, 1.0)
    score = (ranks(shap_abs) + ranks(-p)) / 2.0
    order = np.lexsort((p, score))
    out = np.empty(len(order), dtype=int)
    out[order] = np.arange(1, len(order) + 1)
    return out


def drivers_table(mods: Modifiers, shap_abs: np.ndarray, importance: np.ndarray | None,
                  blp_coef: np.ndarray, blp_vcov: np.ndarray, df: float,
                  stability: np.ndarray) -> pd.DataFrame:
    """The drivers table (see the module docstring), sorted by the combined ``rank``."""
    blp_se = np.sqrt(np.clip(np.diag(blp_vcov), 0, None))
    est, t = blp_by_trait(mods, blp_coef, blp_se)
    blp_p = blp_trait_tests(mods, blp_coef, blp_vcov, df)
    imp = (np.full(len(mods.traits), np.nan) if importance is None
           else mods.group_sum(np.asarray(importance)[None, :])[0])
    table = pd.DataFrame({"trait": mods.traits, "rank": combined_rank(shap_abs, blp_p),
                          "forest_importance": imp, "mean_abs_shap": shap_abs,
                          "blp_estimate": est, "blp_t": t, "blp_p": blp_p,
                          "blp_p_holm": holm(blp_p), "rank_stability": stability})
    return table.sort_values("rank", kind="stable").reset_index(drop=True)[list(DRIVER_COLUMNS)]
