"""Reports: turn a run's EffectResults (and stored posteriors) into tables, figures and HTML.

:func:`write_report` writes, into a run folder, ``comparison.csv`` (every estimator side by side
with disagreement flags), ``agreement.csv`` (whether the methods agree on the drivers of the
effect, :mod:`.agreement`, when at least two rank them), ``tables/main_results.tex`` and
``.md`` (etable/esttab layout) and ``report.html``. It reads :class:`ReportInputs` -- built by
the runner in memory, or by :func:`load_run` from a published run folder, which is how
``bayescity report RUN_DIR`` re-renders without refitting. Nothing here imports an estimator.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..data.io import CSV_ENCODING
from ..results.compare import compare
from .agreement import Agreement, agreement_of, driver_agreement
from .cache import FigureCache
from .calibration_hook import find_calibration, read_calibration
from .comparison import comparison_table, headline_rows, long_view
from .inputs import (FitRecord, ReportInputs, RunFolderError, load_run, outcome_trends,
                     panel_summary, save_inputs, unit_table)
from .robustness import checks_frame, split_long
from .publication import publication_frame, to_latex, to_markdown
from .html import render_html

__all__ = ["Agreement", "FigureCache", "FitRecord", "ReportInputs", "RunFolderError",
           "comparison_table", "headline_rows", "checks_frame", "load_run", "long_view", "outcome_trends", "panel_summary",
           "split_long", "save_inputs", "unit_table",
           "write_report", "agreement_of", "driver_agreement", "find_calibration",
           "read_calibration"]

TITLE = "Main results: ATT overall and by trait level"


def _write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding=encoding)
    os.replace(tmp, path)


def write_report(folder: str | Path, inputs: ReportInputs,
                 long: pd.DataFrame | None = None,
                 cache: FigureCache | None = None) -> pd.DataFrame:
    """Write comparison.csv (effects only: robustness checks go to robustness.csv),
    agreement.csv (when two methods rank the drivers), the publication tables and
    report.html; return the comparison.

    ``long`` is the run's results table (:func:`bayescity.compare` of ``inputs.results``) when
    the caller has it already; ``cache`` keeps rendered figures between runs
    (:mod:`.cache`)."""
    folder = Path(folder)
    long = compare(dict(inputs.results)) if long is None else long
    effects, _ = split_long(long, inputs.results)
    comparison = comparison_table(effects)
    _write_text(folder / "comparison.csv", comparison.to_csv(index=False), CSV_ENCODING)
    checks = checks_frame(inputs.results)
    if not checks.empty:
        _write_text(folder / "robustness.csv", checks.to_csv(index=False), CSV_ENCODING)
    (folder / "tables").mkdir(exist_ok=True)
    frame = publication_frame(effects, inputs.results, inputs.panel,
                              inputs.lock.get("resolved_params"))
    _write_text(folder / "tables" / "main_results.tex", to_latex(frame, TITLE))
    _write_text(folder / "tables" / "main_results.md", to_markdown(frame, TITLE))
    agreement = agreement_of(inputs)
    if agreement is not None:
        _write_text(folder / "agreement.csv", agreement.table.to_csv(index=False), CSV_ENCODING)
    _write_text(folder / "report.html", render_html(inputs, comparison, effects, cache))
    return comparison
