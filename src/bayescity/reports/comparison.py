"""The comparison table: every estimator's estimate and interval of the same (estimand, term)
side by side, with flags where methods disagree.

Rows are ``(estimand, term)`` in the order the run produced them; for each estimator id the
columns ``<id>:<paradigm>:estimate``, ``...:lower`` and ``...:upper``. Two methods *disagree*
(``disagree``) when their estimates differ by more than their intervals explain: the
difference exceeds the interval's critical value times the root sum of their squared standard
errors (read from each interval's width; treating the two as independent, which is
conservative for estimates from the same data). ``intervals_disjoint`` says the intervals do
not overlap; ``sign_flip`` that both intervals exclude zero on opposite sides; ``flags`` names
the pairs that disagree. Rows that cannot support such a claim are never flagged: terms resting
on fewer than two treated units (``n_treated``), unit-level ``CATE`` rows and event-study leads
(each method normalises its pre-periods differently). Because every estimator aggregates its
cell effects with the same treated-cell weights (:mod:`bayescity.estimands`), a row compares the
same quantity across paradigms.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

VALUE_FIELDS = ("estimate", "lower", "upper")
KEYS = ("estimand", "term")
FLAG_COLUMNS = ("n_methods", "min_treated", "disagree", "intervals_disjoint", "sign_flip",
                "flags")
#: Fewer treated units than this behind a term: no disagreement is claimed on it.
MIN_TREATED = 2


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
    flags = pd.DataFrame([(*key, *_flags(key, group)) for key, group in
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


def flaggable(estimand: str, term: str) -> bool:
    """Whether disagreement on ``(estimand, term)`` can mean something: not a unit-level CATE
    row, not an event-study lead."""
    if estimand == "CATE":
        return False
    if estimand.startswith("ATT_event"):
        e = pd.to_numeric(pd.Series([term]), errors="coerce").iloc[0]
        return not (e == e and e < 0)
    return True


def _std_errors(g: pd.DataFrame) -> np.ndarray:
    """Each row's standard error as its interval implies (half-width over the critical value
    of its interval probability)."""
    prob = g["interval_prob"].to_numpy(dtype=float) if "interval_prob" in g else np.full(
        len(g), 0.95)
    crit = stats.norm.ppf(0.5 + np.where(np.isnan(prob), 0.95, prob) / 2)
    return (g["upper"].to_numpy(dtype=float) - g["lower"].to_numpy(dtype=float)) / (2 * crit)


def _flags(key: tuple, group: pd.DataFrame) -> tuple:
    """Disagreement flags of one (estimand, term) across its estimators."""
    g = group.dropna(subset=["estimate"])
    ids, est = g["estimator"].tolist(), g["estimate"].to_numpy(dtype=float)
    lo, hi = g["lower"].to_numpy(dtype=float), g["upper"].to_numpy(dtype=float)
    treated = pd.to_numeric(g["n_treated"], errors="coerce") if "n_treated" in g else \
        pd.Series(np.nan, index=g.index)
    fewest = float(treated.min()) if treated.notna().any() else np.nan
    if not flaggable(*key) or fewest < MIN_TREATED:
        return len(ids), fewest, False, False, False, ""
    se, crit = _std_errors(g), stats.norm.ppf(0.975)
    disagree, disjoint, flipped = [], False, False
    for i, j in combinations(range(len(ids)), 2):
        gap = abs(est[i] - est[j])
        scale = np.hypot(se[i], se[j])
        if not (scale == scale) or gap <= crit * scale:
            continue
        opposite = (lo[i] > 0 > hi[j]) or (lo[j] > 0 > hi[i])
        disjoint |= bool(hi[i] < lo[j] or hi[j] < lo[i])
        flipped |= opposite
        disagree.append(f"{ids[i]} vs {ids[j]}" + (" (opposite signs)" if opposite else ""))
    return (len(ids), fewest, bool(disagree), disjoint, flipped,
            _describe("disagree beyond their intervals", disagree))


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
