"""Propensity scores, matching and balance for PSM-DID (plain functions on arrays).

Nearest-neighbour matching follows R MatchIt's ``method="nearest"`` (Ho, Imai, King & Stuart
2011, "MatchIt: Nonparametric preprocessing for parametric causal inference", J. Stat. Software
42(8)): greedy, treated units in descending order of the propensity score, ``ratio`` controls
each, a caliper in standard deviations of the score, with or without replacement; control
weights sum the 1/ratio shares of their matches and are rescaled to the number of matched
controls. Kernel matching weights every control by an Epanechnikov kernel of the score distance
(Heckman, Ichimura & Todd 1997; psmatch2's default bandwidth 0.06). Balance is reported as the
standardised mean difference (treated-group standard deviation of the unmatched sample, as
MatchIt and cobalt do for the ATT) and the variance ratio, before and after matching (Austin 2009,
"Balance diagnostics for comparing the distribution of baseline covariates", Stat. Med. 28).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...progress import track

PROPENSITY_MODELS = ("logit", "gradient_boosting", "random_forest")
MATCHING = ("nearest", "kernel")


@dataclass(frozen=True)
class Matching:
    """Unit weights after matching (0 = not used) and which treated units found a match."""

    weights: np.ndarray
    matched_treated: np.ndarray
    caliper_width: float | None


def propensity_scores(X: np.ndarray, treated: np.ndarray, model: str = "logit",
                      random_state: int | None = None) -> np.ndarray:
    """P(treated | X) per unit: an unpenalised logit (maximum likelihood, as R's ``glm``), or
    a learner (gradient boosting, random forest) whose scores are cross-fitted over 5 folds so
    that no unit is scored by a model that saw it."""
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    X = np.asarray(X, dtype=float)
    y = np.asarray(treated, dtype=int)
    if model == "logit":
        mu, sd = X.mean(axis=0), X.std(axis=0)
        Z = (X - mu) / np.where(sd > 0, sd, 1.0)
        fit = LogisticRegression(C=np.inf, max_iter=10_000, tol=1e-10).fit(Z, y)
        return fit.predict_proba(Z)[:, 1]
    if model == "gradient_boosting":
        from sklearn.ensemble import GradientBoostingClassifier

        learner = GradientBoostingClassifier(n_estimators=200, max_depth=2, learning_rate=0.05,
                                             subsample=0.8, random_state=random_state)
    elif model == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        learner = RandomForestClassifier(n_estimators=300, min_samples_leaf=5,
                                         random_state=random_state)
    else:
        raise ValueError(f"propensity: {model!r} is not one of {list(PROPENSITY_MODELS)}")
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=random_state)
    scores = np.empty(len(y))
    # sklearn's cross_val_predict, fold by fold so that each fit is reported as progress
    for train, test in track(list(folds.split(X, y)), f"propensity {model}: cross-fitting folds"):
        scores[test] = clone(learner).fit(X[train], y[train]).predict_proba(X[test])[:, 1]
    return np.clip(scores, 1e-6, 1 - 1e-6)


def nearest_neighbour(score: np.ndarray, treated: np.ndarray, *, ratio: int = 1,
                      caliper: float | None = None, replace: bool = False) -> Matching:
    """Greedy nearest-neighbour matching on the score (MatchIt ``nearest``, ``m.order =
    "largest"``); ``caliper`` in standard deviations of the score over all units."""
    score, treated = np.asarray(score, float), np.asarray(treated, bool)
    width = None if caliper is None else float(caliper) * float(np.std(score, ddof=1))
    t_idx = np.flatnonzero(treated)
    t_idx = t_idx[np.argsort(-score[t_idx], kind="stable")]
    c_idx = np.flatnonzero(~treated)
    available = np.ones(len(c_idx), dtype=bool)
    share = np.zeros(len(score))
    matched = np.zeros(len(score), dtype=bool)
    for i in t_idx:
        dist = np.abs(score[c_idx] - score[i])
        ok = available & (dist <= width) if width is not None else available.copy()
        if not ok.any():
            continue
        candidates = np.flatnonzero(ok)
        chosen = candidates[np.argsort(dist[candidates], kind="stable")[:ratio]]
        share[c_idx[chosen]] += 1.0 / len(chosen)
        matched[i] = True
        if not replace:
            available[chosen] = False
    return Matching(_att_weights(share, matched, treated), matched, width)


def kernel_matching(score: np.ndarray, treated: np.ndarray,
                    bandwidth: float = 0.06) -> Matching:
    """Epanechnikov kernel matching: control j's weight is ``sum_i K((p_j - p_i)/h)``
    normalised within each treated unit i; treated units with no control within ``h`` are
    dropped."""
    score, treated = np.asarray(score, float), np.asarray(treated, bool)
    t_idx, c_idx = np.flatnonzero(treated), np.flatnonzero(~treated)
    u = (score[c_idx][None, :] - score[t_idx][:, None]) / float(bandwidth)
    k = np.where(np.abs(u) < 1.0, 0.75 * (1.0 - u**2), 0.0)
    total = k.sum(axis=1)
    ok = total > 0
    share = np.zeros(len(score))
    share[c_idx] = (k[ok] / total[ok, None]).sum(axis=0)
    matched = np.zeros(len(score), dtype=bool)
    matched[t_idx[ok]] = True
    return Matching(_att_weights(share, matched, treated), matched, float(bandwidth))


def _att_weights(share: np.ndarray, matched: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Matched treated units weigh 1; controls their match shares, rescaled to sum to the number
    of controls used (MatchIt's ATT weights)."""
    w = np.where(treated, matched.astype(float), share)
    used = (~treated) & (share > 0)
    if used.any():
        w[~treated] *= used.sum() / share[~treated].sum()
    return w


def _weighted_moments(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    keep = w > 0
    if keep.sum() < 2:
        return float("nan"), float("nan")
    x, w = x[keep], w[keep]
    mean = float(np.average(x, weights=w))
    var = float(np.average((x - mean) ** 2, weights=w)) * w.sum() ** 2 / (w.sum() ** 2 - (w**2).sum())
    return mean, var


def balance_table(X: pd.DataFrame, treated: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    """Standardised mean differences and variance ratios of ``X``'s columns before (all units)
    and after matching (``weights``), one row per covariate."""
    treated = np.asarray(treated, bool)
    rows = []
    for name in X.columns:
        x = X[name].to_numpy(dtype=float)
        m_t, v_t = _weighted_moments(x, treated.astype(float))
        m_c, v_c = _weighted_moments(x, (~treated).astype(float))
        mw_t, vw_t = _weighted_moments(x, np.where(treated, weights, 0.0))
        mw_c, vw_c = _weighted_moments(x, np.where(treated, 0.0, weights))
        sd = np.sqrt(v_t) if v_t > 0 else np.nan
        rows.append({"covariate": name, "mean_treated": m_t, "mean_control": m_c,
                     "mean_treated_matched": mw_t, "mean_control_matched": mw_c,
                     "smd_before": (m_t - m_c) / sd, "smd_after": (mw_t - mw_c) / sd,
                     "var_ratio_before": v_t / v_c if v_c > 0 else np.nan,
                     "var_ratio_after": vw_t / vw_c if vw_c > 0 else np.nan})
    return pd.DataFrame(rows)
