"""The comparison table: every estimator's estimate and interval of the same (estimand, term)
side by side, with flags where methods disagree.

Rows are ``(estimand, term)`` in the order the run produced them; for each estimator id the
columns ``<id>:<paradigm>:estimate``, ``...:lower`` and ``...:upper``. Two methods *disagree*
when their intervals do not overlap (``intervals_disjoint``) or their point estimates have
opposite signs (``sign_flip``); ``flags`` names the pairs. Because every estimator aggregates its
cell effects with the same treated-cell weights (:mod:`bayescity.estimands`), a row compares the
same quantity across paradigms.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

VALUE_FIELDS = ("estimate", "lower", "upper")
KEYS = ("estimand", "term")
FLAG_COLUMNS = ("n_methods", "intervals_disjoint", "sign_flip", "flags")


def column_name(est_id: str, paradigm: str, what: str) -> str:
    return f"{est_id}:{paradigm}:{what}"


def comparison_table(long: pd.DataFrame) -> pd.DataFrame:
    """The wide comparison of a long results table (columns ``estimator``, ``paradigm``,
    ``estimand``, ``term``, ``estimate``, ``lower``, ``upper``; others are ignored)."""
    if long.empty:
        return pd.DataFrame(columns=[*KEYS, *FLAG_COLUMNS])
    long = long.assign(term=long["term"].astype(str))
    order = row_order(long)
    sources = long[["estimator", "paradigm"]].drop_duplicates("estimator")
    out = order.copy()
    for est_id, paradigm in sources.itertuples(index=False):
        rows = long[long["estimator"] == est_id].drop_duplicates(list(KEYS))
        merged = order.merge(rows[[*KEYS, *VALUE_FIELDS]], on=list(KEYS), how="left")
        for what in VALUE_FIELDS:
            out[column_name(est_id, paradigm, what)] = merged[what].to_numpy(dtype=float)
    flags = pd.DataFrame([(*key, *_flags(group)) for key, group in
                          long.groupby(list(KEYS), sort=False)],
                         columns=[*KEYS, *FLAG_COLUMNS])
    return out.merge(flags, on=list(KEYS), how="left")


def row_order(long: pd.DataFrame) -> pd.DataFrame:
    """``(estimand, term)`` pairs: estimands in order of appearance; within one, numeric terms
    (event times, periods, cohorts) sorted by value, others in order of appearance."""
    keys = long[list(KEYS)].drop_duplicates()
    parts = []
    for _, part in keys.groupby("estimand", sort=False):
        numeric = pd.to_numeric(part["term"], errors="coerce")
        parts.append(part.iloc[np.argsort(numeric.to_numpy(), kind="stable")]
                     if numeric.notna().all() else part)
    return pd.concat(parts, ignore_index=True)


def _flags(group: pd.DataFrame) -> tuple[int, bool, bool, str]:
    """Disagreement flags of one (estimand, term) across its estimators."""
    g = group.dropna(subset=["estimate"])
    ids, est = g["estimator"].tolist(), g["estimate"].to_numpy(dtype=float)
    lo, hi = g["lower"].to_numpy(dtype=float), g["upper"].to_numpy(dtype=float)
    disjoint, flipped = [], []
    for i, j in combinations(range(len(ids)), 2):
        if hi[i] < lo[j] or hi[j] < lo[i]:
            disjoint.append(f"{ids[i]} vs {ids[j]}")
        if np.sign(est[i]) * np.sign(est[j]) < 0:
            flipped.append(f"{ids[i]} vs {ids[j]}")
    text = "; ".join(part for part in (
        _describe("intervals disjoint", disjoint), _describe("sign flip", flipped)) if part)
    return len(ids), bool(disjoint), bool(flipped), text


def _describe(what: str, pairs: list[str], limit: int = 4) -> str:
    if not pairs:
        return ""
    more = f" and {len(pairs) - limit} more" if len(pairs) > limit else ""
    return f"{what}: {', '.join(pairs[:limit])}{more}"


def headline_rows(comparison: pd.DataFrame) -> pd.DataFrame:
    """The overall and by-trait rows (what the CLI's closing table shows)."""
    keep = (comparison["estimand"] == "ATT") | comparison["estimand"].str.startswith("ATT_by_")
    return comparison[keep].reset_index(drop=True)


def estimator_columns(comparison: pd.DataFrame) -> list[tuple[str, str]]:
    """``(estimator id, paradigm)`` of every estimator in a comparison table, in order."""
    seen = []
    for col in comparison.columns:
        if col.endswith(":estimate"):
            est_id, paradigm, _ = col.rsplit(":", 2)
            seen.append((est_id, paradigm))
    return seen


def long_view(comparison: pd.DataFrame) -> pd.DataFrame:
    """One row per (estimand, term, estimator) of a comparison table, flags repeated."""
    rows = []
    for _, r in comparison.iterrows():
        for est_id, paradigm in estimator_columns(comparison):
            est = r[column_name(est_id, paradigm, "estimate")]
            if est == est:
                rows.append({"estimand": r["estimand"], "term": r["term"], "estimator": est_id,
                             "paradigm": paradigm, "estimate": est,
                             "lower": r[column_name(est_id, paradigm, "lower")],
                             "upper": r[column_name(est_id, paradigm, "upper")],
                             "flags": r["flags"]})
    return pd.DataFrame(rows, columns=["estimand", "term", "estimator", "paradigm", "estimate",
                                       "lower", "upper", "flags"])
