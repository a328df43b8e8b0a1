"""The calibration table: how each estimator's intervals behave over the replications.

:func:`calibration_table` reads nothing but the long replications table
(:data:`~.calibration_task.REPLICATION_COLUMNS`, written as ``replications.csv``), so the
table can be recomputed from that file. One row per scenario x estimator x estimand x term
(a unit-level ``CATE`` pooled over units, term :data:`POOLED_TERM`) with:

* ``coverage``: share of intervals (at the result's own ``interval_prob``, stated in its
  column) that contain the truth;
* ``z_mean``, ``z_sd``: mean and sd of the standardised error ``(estimate - truth) /
  std_error`` (0 and 1 for a calibrated estimator);
* ``mean_width``: mean interval width, in the outcome's units;
* ``power``: share of intervals excluding 0 where the truth is not zero; ``size``: the same
  where the truth is exactly zero (the rate of false claims of an effect);
* ``false_discovery``: how often heterogeneity that is not there is declared: for terms along
  a pure-noise trait (``role`` noise: BLP slopes, drivers) the share of replications in which
  the trait is declared to matter (interval excluding 0; for a drivers row its joint BLP
  p-value below ``1 - interval_prob``), and for the test of equal effects across a trait's
  levels (estimand ``equal_levels``, term the trait; truth the spread of the true level
  effects) its rejection rate where the true levels are equal (then also its ``size``; where
  they differ, its ``power``);
* ``rank_first``, ``mean_rank``: for drivers rows, how often the trait ranks first in the
  drivers table and its mean rank (for the true drivers, ``role`` driver, the first is what a
  researcher hopes for);
* ``n_reps`` (replications with a usable row), ``n_failed`` (replications in which the
  estimator failed on the scenario), ``truth`` (mean over replications).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .calibration_task import DRIVERS, EQUAL_LEVELS

MEASURE_COLUMNS = ("scenario", "estimator", "method", "paradigm", "estimand", "term", "role",
                   "truth", "interval_prob", "interval_kind", "n_reps", "n_failed", "coverage",
                   "z_mean", "z_sd", "mean_width", "power", "size", "false_discovery",
                   "rank_first", "mean_rank")
POOLED_TERM = "all units"
_KEYS = ["scenario", "estimator", "estimand", "term"]


def calibration_table(replications: pd.DataFrame) -> pd.DataFrame:
    """The measures of every scenario x estimator x estimand x term (see the module docstring),
    in the order of the scenarios and estimators in ``replications``."""
    reps = replications.assign(error=_text(replications["error"]),
                               role=_text(replications["role"]),
                               term=replications["term"].astype(str))
    failed = (reps[reps["error"] != ""].groupby(["scenario", "estimator"])["replication"]
              .nunique())
    ok = reps[reps["error"] == ""]
    ok = ok.assign(term=np.where(ok["estimand"] == "CATE", POOLED_TERM, ok["term"]))
    rows = []
    for _, group in ok.groupby(_KEYS, sort=False):
        kind = group["estimand"].iloc[0]
        row = (driver_measures(group) if kind == DRIVERS else test_measures(group)
               if kind == EQUAL_LEVELS else effect_measures(group))
        if row is not None:
            rows.append(row)
    table = pd.DataFrame(rows, columns=[c for c in MEASURE_COLUMNS if c != "n_failed"])
    table = pd.concat([table, _failed_only(reps, table)], ignore_index=True)
    index = pd.MultiIndex.from_frame(table[["scenario", "estimator"]])
    table["n_failed"] = failed.reindex(index, fill_value=0).to_numpy(dtype=int)
    return _ordered(table, reps).loc[:, list(MEASURE_COLUMNS)]


def _text(values: pd.Series) -> pd.Series:
    """Text with gaps as "" (a CSV read back gives NaN for empty cells)."""
    return values.astype(object).where(values.notna(), "").astype(str)


def _first(group: pd.DataFrame, columns: list[str]) -> dict:
    return {c: group[c].iloc[0] for c in columns}


def effect_measures(group: pd.DataFrame) -> dict | None:
    """Coverage, standardised error, width and rejection rates of one term's rows (None when
    no row has a truth and a finite interval, e.g. a reference period fixed at zero)."""
    lo, hi = group["lower"].to_numpy(float), group["upper"].to_numpy(float)
    truth = group["truth"].to_numpy(float)
    use = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(truth)
    if not use.any():
        return None
    g = group[use]
    lo, hi, truth = lo[use], hi[use], truth[use]
    est, se = g["estimate"].to_numpy(float), g["std_error"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = ((est - truth) / se)[se > 0]
    excluded = float(np.mean((lo > 0) | (hi < 0)))
    zero = bool(np.all(truth == 0))
    return {**_first(g, [*_KEYS, "method", "paradigm", "role", "interval_prob",
                         "interval_kind"]),
            "truth": float(truth.mean()), "n_reps": int(g["replication"].nunique()),
            "coverage": float(np.mean((lo <= truth) & (truth <= hi))),
            "z_mean": float(z.mean()) if z.size else np.nan,
            "z_sd": float(z.std(ddof=1)) if z.size > 1 else np.nan,
            "mean_width": float(np.mean(hi - lo)),
            "power": np.nan if zero else excluded, "size": excluded if zero else np.nan,
            "false_discovery": excluded if g["role"].iloc[0] == "noise" else np.nan,
            "rank_first": np.nan, "mean_rank": np.nan}


def driver_measures(group: pd.DataFrame) -> dict:
    """How often a trait leads the drivers table, and how often its joint BLP test rejects
    (power for a true driver, a false discovery for a noise trait)."""
    rank = group["rank"].to_numpy(float)
    alpha = 1.0 - float(group["interval_prob"].iloc[0])
    rejected = float(np.mean(group["p_value"].to_numpy(float) < alpha))
    role = group["role"].iloc[0]
    return {**_first(group, [*_KEYS, "method", "paradigm", "role", "interval_prob"]),
            "interval_kind": "", "truth": np.nan,
            "n_reps": int(group["replication"].nunique()), "coverage": np.nan,
            "z_mean": np.nan, "z_sd": np.nan, "mean_width": np.nan,
            "power": rejected if role == "driver" else np.nan, "size": np.nan,
            "false_discovery": rejected if role == "noise" else np.nan,
            "rank_first": float(np.mean(rank == 1)), "mean_rank": float(rank.mean())}


def test_measures(group: pd.DataFrame) -> dict:
    """How often the test of equal effects across a trait's levels rejects: its size (and a
    false discovery of heterogeneity) where the true levels are equal, else its power."""
    alpha = 1.0 - float(group["interval_prob"].iloc[0])
    rejected = float(np.mean(group["p_value"].to_numpy(float) < alpha))
    truth = group["truth"].to_numpy(float)
    equal = bool(np.all(truth == 0))
    return {**_first(group, [*_KEYS, "method", "paradigm", "role", "interval_prob"]),
            "interval_kind": "wald test", "truth": float(np.mean(truth)),
            "n_reps": int(group["replication"].nunique()), "coverage": np.nan,
            "z_mean": np.nan, "z_sd": np.nan, "mean_width": np.nan,
            "power": np.nan if equal else rejected, "size": rejected if equal else np.nan,
            "false_discovery": rejected if equal else np.nan, "rank_first": np.nan,
            "mean_rank": np.nan}


def _failed_only(reps: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """A row (no estimand) for each scenario x estimator that failed in every replication."""
    have = set(zip(table["scenario"], table["estimator"]))
    failures = reps[reps["error"] != ""].drop_duplicates(["scenario", "estimator"])
    rows = [{"scenario": r.scenario, "estimator": r.estimator, "method": r.method,
             "estimand": "", "term": "", "role": "", "n_reps": 0}
            for r in failures.itertuples() if (r.scenario, r.estimator) not in have]
    return pd.DataFrame(rows, columns=table.columns)


def _ordered(table: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by the scenarios' and estimators' order of appearance (stable within)."""
    scen = {s: i for i, s in enumerate(pd.unique(reps["scenario"]))}
    ests = {e: i for i, e in enumerate(pd.unique(reps["estimator"]))}
    key = pd.DataFrame({"s": table["scenario"].map(scen), "e": table["estimator"].map(ests)})
    order = key.sort_values(["s", "e"], kind="stable").index
    return table.loc[order].reset_index(drop=True)
