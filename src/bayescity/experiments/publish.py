"""Everything a run writes into its (staged) run folder.

``results.csv`` (one row per estimator, estimand and term), ``tests.csv``, ``panel.txt``,
``config.lock.yaml``, ``drivers.csv`` / ``diagnostics.csv`` when an estimator reports them, the
stored results under ``fits/`` and ``data/`` (so ``bayescity report`` can re-render), and the
report itself: ``comparison.csv``, ``agreement.csv`` (when two methods rank the drivers),
``tables/`` and ``report.html``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from ..data.io import write_csv
from ..data.panel import Panel
from ..results.compare import compare
from ..datasets import load_china_cities
from ..reports import (FigureCache, FitRecord, ReportInputs, outcome_trends, panel_summary,
                       save_inputs, unit_table, write_report)
from ..reports.calibration_hook import find_calibration, read_calibration
from ..reports.inputs import TRUTH_COLUMNS
from ..results.effect import EffectResult
from ..reports.inputs import FITS
from ..results.parts import DECLARED
from .fits import Fits
from .paths import inside
from ..tfp.derive import tfp_summary

if TYPE_CHECKING:
    from .config import ExperimentConfig


@dataclass
class Published:
    table: pd.DataFrame
    comparison: pd.DataFrame


def tests_table(results: dict[str, list[EffectResult]]) -> pd.DataFrame:
    frames = [r.tests_frame().assign(estimator=k) for k, rs in results.items() for r in rs]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def part_tables(results: dict[str, list[EffectResult]], name: str) -> pd.DataFrame | None:
    """The tables of the parts declared as ``name`` of every result, stacked with
    estimator/estimand (None when no result has one)."""
    frames = [_with_index(r.part_frame(name)).assign(estimator=k, estimand=r.estimand)
              for k, rs in results.items() for r in rs if r.part(name) is not None]
    if not frames:
        return None
    out = pd.concat(frames, ignore_index=True)
    lead = ["estimator", "estimand"]
    return out[[*lead, *[c for c in out.columns if c not in lead]]]


def _with_index(df: pd.DataFrame) -> pd.DataFrame:
    """A named or labelled index (e.g. parameter names) becomes a column; a plain range does not."""
    return df.reset_index(drop=isinstance(df.index, pd.RangeIndex) and df.index.name is None)


#: The built-in panel whose truth is known, and the outcome that truth is about.
BUILTIN, TRUTH_OUTCOME = "builtin:china_cities", "tfp_growth"
#: Mediators whose true effects the built-in panel records (``effect_<mediator>``).
TRUE_MEDIATORS = ("sci_spend_share", "agglomeration", "business_env")


@lru_cache(maxsize=1)
def _builtin_truth():
    return load_china_cities().truth


def truth_table(config: "ExperimentConfig") -> pd.DataFrame | None:
    """The true value of every estimand the built-in synthetic panel knows (ATT overall, by
    region and north/south, by event time and cohort, and the mediators' ATT), when the run
    estimates the effect on its simulated outcome on the panel as shipped; else None."""
    data = config.data
    if data.source != BUILTIN or data.outcome != TRUTH_OUTCOME or data.coding or data.derive:
        return None
    truth = _builtin_truth()
    rows = [("ATT", "overall", truth.att)]
    rows += [(f"ATT_by_{trait}", str(k), v) for trait, s in truth.att_by.items()
             for k, v in s.items()]
    rows += [("ATT_event", str(k), v) for k, v in truth.att_event.items()]
    rows += [("ATT_cohort", str(k), v) for k, v in truth.att_cohort.items()]
    cells = truth.cell_effects
    rows += [(f"ATT_on_{m}", "overall", float(cells[f"effect_{m}"].mean()))
             for m in TRUE_MEDIATORS if f"effect_{m}" in cells]
    return pd.DataFrame(rows, columns=TRUTH_COLUMNS).astype({"truth": float})


def report_inputs(config: "ExperimentConfig", panel: Panel, fits: Fits,
                  lock: dict[str, Any], tfp: pd.DataFrame | None = None,
                  models_root: str | None = None,
                  calibration: pd.DataFrame | None = None) -> ReportInputs:
    methods = {e.id: e.method for e in config.estimators}
    records = [FitRecord(id=i, method=methods[i], key=fits.keys[i], stored=i in fits.cached,
                         seconds=round(fits.seconds.get(i, 0.0), 3),
                         posterior=fits.posteriors.get(i, {}).get("path"),
                         posterior_sha256=fits.posteriors.get(i, {}).get("sha256"))
               for i in fits.results]
    return ReportInputs(config.name, lock["run_id"], fits.results, records, panel_summary(panel),
                        unit_table(panel), lock, tfp, models_root, outcome_trends(panel),
                        truth_table(config), calibration)


def publish_run(folder: Path, config: "ExperimentConfig", panel: Panel, fits: Fits,
                lock: dict[str, Any], figures: FigureCache | None = None,
                models_root: str | None = None) -> Published:
    """Write the whole run folder into ``folder`` (the staging folder of the run); figures
    drawn before from the same inputs come from ``figures``; posteriors are in the model
    store ``models_root``."""
    table = compare(fits.results)
    write_csv(table, folder / "results.csv")
    write_csv(tests_table(fits.results), folder / "tests.csv")
    (folder / "panel.txt").write_text(str(panel.describe()) + "\n", encoding="utf-8")
    with (folder / "config.lock.yaml").open("w", encoding="utf-8") as fh:
        yaml.safe_dump(lock, fh, sort_keys=False, allow_unicode=True)
    tfp = None
    if config.data.derive:

        tfp = tfp_summary(panel, list(config.data.derive))
        write_csv(tfp, folder / "tfp_summary.csv")
    for name, spec in DECLARED.items():
        extra = part_tables(fits.results, name) if spec.csv else None
        if extra is not None:
            write_csv(extra, folder / spec.csv)
    # a calibration of this design beside the run folder (bayescity calibrate) is cited
    calibration = read_calibration(find_calibration(folder, lock))
    inputs = report_inputs(config, panel, fits, lock, tfp, models_root, calibration)
    for est_id in inputs.results:
        inside(folder, FITS, est_id)
    save_inputs(folder, inputs)
    comparison = write_report(folder, inputs, table, figures)
    return Published(table, comparison)
