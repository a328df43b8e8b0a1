"""A calibration of the run's design, cited where the report says whether methods agree on the
drivers of the effect.

``bayescity calibrate CONFIG`` refits a config's estimators on panels simulated on the config's
own design (its units, periods, cohorts and traits, plus pure-noise traits) and writes
``reports/<name>/calibration-<id>/calibration.csv``. Its ``drivers`` rows (estimand
``drivers``, one per scenario x estimator x trait, the trait's ``role``: ``driver`` for a true
driver, ``noise`` for a pure-noise trait) say how often the trait ranked first in the drivers
table (``rank_first``) and how often a noise trait was declared a driver
(``false_discovery``), over ``n_reps`` simulated panels. :func:`calibration_sentences` turns
them into one sentence per scenario with true drivers, for the estimators of the agreement
table.

How a report finds the table (:func:`find_calibration`): a ``calibration.csv`` in the run folder
itself, else the newest ``calibration-*/calibration.csv`` beside the run folder (the same config
name) whose ``config.lock.yaml`` records the run's ``data_hash`` (when both record one).
:func:`bayescity.reports.load_run` reads it into :attr:`ReportInputs.calibration`; a caller
building :class:`~bayescity.reports.ReportInputs` itself passes ``calibration=`` (a table
with at least :data:`CALIBRATION_COLUMNS`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import yaml

CALIBRATION = "calibration.csv"
#: Columns of ``calibration.csv`` the agreement sentence reads.
CALIBRATION_COLUMNS = ("scenario", "estimator", "estimand", "term", "role", "n_reps",
                       "rank_first", "false_discovery")


def _data_hash(folder: Path) -> str | None:
    try:
        lock = yaml.safe_load((folder / "config.lock.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return lock.get("data_hash") if isinstance(lock, dict) else None


def find_calibration(run_dir: str | Path, lock: Mapping[str, Any] | None = None) -> Path | None:
    """The calibration table for the run in ``run_dir`` (see the module docstring), or None."""
    run_dir = Path(run_dir)
    own = run_dir / CALIBRATION
    if own.is_file():
        return own
    mine = (lock or {}).get("data_hash")
    for path in sorted(run_dir.parent.glob(f"calibration-*/{CALIBRATION}"), reverse=True):
        theirs = _data_hash(path.parent)
        if mine is None or theirs is None or theirs == mine:
            return path
    return None


def read_calibration(path: str | Path | None) -> pd.DataFrame | None:
    """The calibration table at ``path`` (None when there is none, it cannot be read or it
    lacks :data:`CALIBRATION_COLUMNS`)."""
    if path is None:
        return None
    try:
        table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError):
        return None
    return table if set(CALIBRATION_COLUMNS) <= set(table.columns) else None


def _largest(values: pd.Series) -> float:
    values = values.to_numpy(dtype=float)
    return float(np.nanmax(values)) if np.isfinite(values).any() else np.nan


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def calibration_sentences(table: pd.DataFrame | None, est_ids: Sequence[str]) -> list[str]:
    """Per scenario with true drivers: how often each estimator of ``est_ids`` ranked a true
    driver first (its driver rows' ``rank_first`` summed: one trait ranks first per panel) and
    the largest share of panels in which it declared a pure-noise trait a driver."""
    if table is None or table.empty:
        return []
    rows = table[(table["estimand"] == "drivers")
                 & table["estimator"].astype(str).isin(list(est_ids))]
    out = []
    for scenario, group in rows.groupby("scenario", sort=False):
        drivers = group[group["role"] == "driver"]
        if drivers.empty:
            continue
        ids = [e for e in est_ids if (drivers["estimator"].astype(str) == e).any()]
        first = {e: float(drivers.loc[drivers["estimator"].astype(str) == e,
                                      "rank_first"].sum()) for e in ids}
        noise = group[group["role"] == "noise"]
        fdr = {e: _largest(noise.loc[noise["estimator"].astype(str) == e, "false_discovery"])
               for e in ids}
        fdr = {e: v for e, v in fdr.items() if np.isfinite(v)}
        traits = list(dict.fromkeys(drivers["term"].astype(str)))
        n = int(drivers["n_reps"].min())
        ranked = ", ".join(f"{e} in {_pct(first[e])}" if i else
                           f"{e} ranked a true driver first in {_pct(first[e])}"
                           for i, e in enumerate(ids))
        text = (f"On this design (calibration scenario {scenario}, {n} simulated panels, true "
                f"driver{'s' if len(traits) > 1 else ''} {', '.join(traits)}), {ranked}")
        if fdr:
            text += ("; the largest share of panels in which a pure-noise trait was declared "
                     "a driver: " + ", ".join(f"{_pct(v)} ({e})" for e, v in fdr.items()))
        out.append(text + ".")
    return out
