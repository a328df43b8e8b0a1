"""What a report is made of, and how a run folder keeps it so the report can be re-rendered.

A run folder holds, besides its tables, everything :func:`load_run` needs without refitting or
reloading the data:

* ``fits/index.json`` -- the estimators in config order (id, method, fit key, whether the
  stored fit was reused, fit seconds, the posterior netCDF path relative to the model store's
  root and its SHA-256);
* ``fits/<estimator id>/`` -- that estimator's results as a plain-data bundle
  (:mod:`bayescity.results.plain`);
* ``data/panel.json`` (the panel description) and ``data/units.parquet`` (one row per unit:
  ``unit``, ``cohort`` and the traits, for the adoption timeline);
* ``data/tfp_summary.parquet`` when the run derived columns (``data: derive:``): their
  distribution by period, overall and per trait level (:func:`bayescity.tfp.tfp_summary`);
* ``data/trends.parquet`` -- the outcome's mean by period for never-treated units and for each
  cohort (:func:`outcome_trends`), drawn as raw trends;
* ``data/truth.parquet`` when the panel is simulated with a known truth (the built-in panel):
  the true value of each estimand and term, overlaid on the figures;
* ``config.lock.yaml`` -- the resolved config and provenance.

A calibration of the same design (``calibration.csv``, :mod:`.calibration_hook`) is read when
the run folder holds one or one lies beside it.

Posteriors stay in the model store (they can be large); the report opens them by path and
checks their SHA-256 before reading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import yaml

from ..data.panel import COHORT, TREAT, Panel
from ..results.effect import EffectResult
from ..results.plain import BundleError, read_results, write_results
from .calibration_hook import find_calibration, read_calibration

FITS, DATA, LOCK, TFP = "fits", "data", "config.lock.yaml", "tfp_summary.parquet"
TRENDS, TRUTH = "trends.parquet", "truth.parquet"
#: Columns of the truth table.
TRUTH_COLUMNS = ["estimand", "term", "truth"]


class RunFolderError(ValueError):
    """A folder that is not a complete bayescity run folder (a user error: exit 2)."""


@dataclass(frozen=True)
class FitRecord:
    """One estimator of a run: its id, method, key and where its posterior is."""

    id: str
    method: str
    key: str = ""
    stored: bool = False
    seconds: float | None = None
    posterior: str | None = None
    posterior_sha256: str | None = None


@dataclass(frozen=True)
class ReportInputs:
    """Everything a report shows: results per estimator id (config order), the fits, the
    panel's description and unit table, the run's lock (resolved config, provenance) and, when
    the run derived columns, their distribution by period (``tfp``, the columns of
    :func:`bayescity.tfp.tfp_summary`)."""

    name: str
    run_id: str
    results: Mapping[str, list[EffectResult]]
    fits: list[FitRecord]
    panel: Mapping[str, Any]
    units: pd.DataFrame
    lock: Mapping[str, Any] = field(default_factory=dict)
    tfp: pd.DataFrame | None = None
    #: The model store the posteriors are read from (not part of the run folder).
    models_root: str | None = None
    #: The outcome's mean by period and group (:func:`outcome_trends`).
    trends: pd.DataFrame | None = None
    #: The true effects of a simulated panel (:data:`TRUTH_COLUMNS`), when known.
    truth: pd.DataFrame | None = None
    #: A calibration of the same design (``calibration.csv`` of ``bayescity calibrate``),
    #: cited where the report compares the methods' drivers (:mod:`.calibration_hook`).
    calibration: pd.DataFrame | None = None

    def fit(self, est_id: str) -> FitRecord:
        """The record of the fit with id ``est_id``."""
        return next(f for f in self.fits if f.id == est_id)

    def posterior_file(self, est_id: str) -> str | None:
        """Where the posterior of a fit is: its store path under :attr:`models_root`."""
        record = self.fit(est_id)
        if not record.posterior:
            return None
        root = Path(self.models_root) if self.models_root else Path("models")
        return str(root / record.posterior)


def unit_table(panel: Panel) -> pd.DataFrame:
    """Units with ``unit``, ``cohort`` and trait columns, as the adoption timeline reads them."""
    units = panel.unit_table()
    return pd.DataFrame({"unit": units[panel.unit].astype(str).to_numpy(),
                         "cohort": units[COHORT].to_numpy(),
                         **{t: units[t].to_numpy() for t in panel.traits
                            if t not in ("unit", "cohort")}})


def panel_summary(panel: Panel) -> dict[str, Any]:
    """The panel description as JSON-ready data, with the outcome's mean and standard
    deviation over all rows and over untreated rows (to judge the size of an effect)."""
    summary = json.loads(json.dumps(panel.describe().to_dict(), default=str))
    y = panel.frame[panel.outcome].astype(float)
    untreated = y[panel.frame[TREAT].to_numpy() == 0]
    summary["outcome_moments"] = {"mean": float(y.mean()), "sd": float(y.std()),
                                  "untreated mean": float(untreated.mean()),
                                  "untreated sd": float(untreated.std())}
    return summary


def outcome_trends(panel: Panel) -> pd.DataFrame:
    """The outcome's mean by period for never-treated units (``group`` "never treated") and
    each cohort (``group`` its first treated period), with the number of units: raw trends
    before any model."""
    frame = panel.frame
    group = frame[COHORT].astype(int).astype(str).where(frame[COHORT] > 0, "never treated")
    out = (pd.DataFrame({"period": frame[panel.time].to_numpy(), "group": group.to_numpy(),
                         "cohort": frame[COHORT].to_numpy(dtype=int),
                         "y": frame[panel.outcome].to_numpy(dtype=float),
                         "unit": frame[panel.unit].to_numpy()})
           .groupby(["group", "cohort", "period"], sort=True)
           .agg(mean=("y", "mean"), n_units=("unit", "nunique")).reset_index())
    return out


def save_inputs(folder: str | Path, inputs: ReportInputs) -> None:
    """Write ``fits/`` and ``data/`` of a run folder (the lock is written by the runner)."""
    folder = Path(folder)
    (folder / FITS).mkdir()
    for est_id, results in inputs.results.items():
        (folder / FITS / est_id).mkdir()
        write_results(results, folder / FITS / est_id)
    index = [f.__dict__ for f in inputs.fits]
    (folder / FITS / "index.json").write_text(json.dumps(index, indent=1), encoding="utf-8")
    (folder / DATA).mkdir()
    (folder / DATA / "panel.json").write_text(json.dumps(dict(inputs.panel), indent=1),
                                              encoding="utf-8")
    inputs.units.to_parquet(folder / DATA / "units.parquet", index=False)
    for name, table in ((TFP, inputs.tfp), (TRENDS, inputs.trends), (TRUTH, inputs.truth)):
        if table is not None:
            table.to_parquet(folder / DATA / name, index=False)


def load_run(run_dir: str | Path, models_root: str | Path | None = None) -> ReportInputs:
    """Read a published run folder back; raise :class:`RunFolderError` naming what is wrong.
    Posteriors are read from the model store ``models_root`` (default ``models``)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"{str(run_dir)!r} is not a folder")
    try:
        lock = yaml.safe_load((run_dir / LOCK).read_text(encoding="utf-8"))
        index = json.loads((run_dir / FITS / "index.json").read_text(encoding="utf-8"))
        fits = [FitRecord(**entry) for entry in index]
        results = {f.id: read_results(run_dir / FITS / f.id) for f in fits}
        panel = json.loads((run_dir / DATA / "panel.json").read_text(encoding="utf-8"))
        units = pd.read_parquet(run_dir / DATA / "units.parquet", engine="pyarrow")
        tfp, trends, truth = (_optional(run_dir / DATA / name) for name in (TFP, TRENDS, TRUTH))
    except FileNotFoundError as exc:
        missing = Path(exc.filename or "?")
        if missing.is_relative_to(run_dir):
            missing = missing.relative_to(run_dir)
        raise RunFolderError(f"{str(run_dir)!r} is not a complete run folder: {missing} is "
                             "missing") from None
    except (BundleError, TypeError, ValueError, yaml.YAMLError, OSError) as exc:
        raise RunFolderError(f"{str(run_dir)!r}: stored results cannot be read ({exc})") from None
    if not isinstance(lock, dict):
        raise RunFolderError(f"{str(run_dir / LOCK)!r} does not hold a run lock")
    name = str(lock.get("config", {}).get("name", run_dir.parent.name))
    calibration = read_calibration(find_calibration(run_dir, lock))
    return ReportInputs(name, str(lock.get("run_id", run_dir.name)), results, fits, panel,
                        units, lock, tfp, None if models_root is None else str(models_root),
                        trends, truth, calibration)


def _optional(path: Path) -> pd.DataFrame | None:
    """A table of the run folder that only some runs have (older runs have none)."""
    return pd.read_parquet(path, engine="pyarrow") if path.exists() else None
