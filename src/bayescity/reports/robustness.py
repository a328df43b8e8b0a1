"""Robustness checks shown as checks, never as effects.

A result that carries a ``check`` part (:data:`bayescity.results.parts.DECLARED`: placebo
timing with randomization inference, placebo outcomes, fake timing, HonestDiD sensitivity) is a
*check*: its rows leave the comparison of effects, the forest plot and the terminal's closing
table, and appear instead in the robustness table (``robustness.csv`` and the report's
"Robustness checks" section) with the number that decides them -- the randomization p-value,
whether an interval where no effect is expected includes 0, the breakdown value -- and a
reading in words.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..results.effect import EffectResult

CHECK_COLUMNS = ["check", "estimator", "estimand", "term", "estimate", "lower", "upper",
                 "p_value", "breakdown", "expects", "reading"]
#: Levels below which a p-value rejects.
ALPHA = 0.05


def is_check(result: EffectResult) -> bool:
    return result.part("check") is not None


def check_keys(results: Mapping[str, list[EffectResult]]) -> set[tuple[str, str]]:
    """``(estimator id, estimand)`` of every check result."""
    return {(k, r.estimand) for k, rs in results.items() for r in rs if is_check(r)}


def split_long(long: pd.DataFrame, results: Mapping[str, list[EffectResult]]
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of effects and the rows of checks of a run's long results table."""
    keys = check_keys(results)
    if long.empty or not keys:
        return long, long.iloc[0:0]
    mask = np.array([(e, m) in keys for e, m in zip(long["estimator"], long["estimand"])])
    return long[~mask].reset_index(drop=True), long[mask].reset_index(drop=True)


def _reading(kind: str, est: float, lo: float, hi: float, p: float, breakdown: float,
             symbol: str, smallest: float = 0.0) -> str:
    if kind == "randomization":
        if p != p:
            return ""
        return (f"p = {p:.3f}: the estimate lies in the tail of the placebo assignments"
                if p < ALPHA else f"p = {p:.3f}: placebo assignments give estimates this large "
                                  "as often; the effect is not distinguished from chance")
    if kind in ("placebo_outcome", "fake_timing"):
        where = "no effect where none is expected (passes)"
        if lo == lo and hi == hi:
            covers = lo <= 0 <= hi
        else:
            covers = not (p == p and p < ALPHA)
        return where if covers else ("an effect where none is expected (fails: anticipation, "
                                     "pre-trends or a confounded design)")
    if kind == "sensitivity":
        if breakdown == float("inf"):
            return "the robust interval excludes 0 at every bound of the grid"
        if breakdown <= smallest:
            return (f"already the smallest bound of the grid ({symbol} = {breakdown:.3g}) "
                    "brings 0 into the robust interval: the conclusion rests on exact "
                    "parallel trends")
        return (f"breakdown value {symbol} = {breakdown:.3g}: the conclusion survives "
                f"violations of parallel trends below it")
    return ""


def checks_frame(results: Mapping[str, list[EffectResult]]) -> pd.DataFrame:
    """One row per check term: the estimate, interval, the p-value that decides it (the
    randomization p-value of a placebo), a sensitivity analysis's breakdown value, what the
    check expects and its reading."""
    rows = []
    for est_id, group in results.items():
        for r in group:
            check = r.part("check")
            if check is None:
                continue
            kind = str(check.get("kind", ""))
            breakdown = next((t.statistic for t in r.tests if t.kind == "breakdown"), np.nan)
            table = r.table
            if kind == "sensitivity":  # one row: the target, its original interval
                symbol = str(table["term"].iloc[0]).split("=")[0] if len(table) else "M"
                lo, hi = (r.facts().get("original_ci") or (np.nan, np.nan))[:2]
                grid = r.part_frame("sensitivity") if r.part("sensitivity") else None
                smallest = float(grid["bound"].min()) if grid is not None else 0.0
                rows.append([kind, est_id, r.estimand, f"{symbol} breakdown",
                             float(table["estimate"].iloc[0]), lo, hi, np.nan, breakdown,
                             check.get("expects"), _reading(kind, 0, lo, hi, np.nan, breakdown,
                                                            symbol, smallest)])
                continue
            for t in table.itertuples():
                rows.append([kind, est_id, r.estimand, str(t.term), t.estimate, t.lower,
                             t.upper, t.p_value, np.nan, check.get("expects"),
                             _reading(kind, t.estimate, t.lower, t.upper, t.p_value, np.nan,
                                      "")])
    return pd.DataFrame(rows, columns=CHECK_COLUMNS)
