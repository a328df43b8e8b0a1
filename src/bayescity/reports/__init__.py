"""Reports: turn a run's EffectResults (and stored posteriors) into tables, figures and HTML.

:func:`write_report` writes, into a run folder, ``comparison.csv`` (every estimator side by side
with disagreement flags), ``tables/main_results.tex`` and ``.md`` (etable/esttab layout) and
``report.html``. It reads :class:`ReportInputs` -- built by the runner in memory, or by
:func:`load_run` from a published run folder, which is how ``bayescity report RUN_DIR``
re-renders without refitting. Nothing here imports an estimator.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..data.io import CSV_ENCODING
from ..results.compare import compare
from .cache import FigureCache
from .comparison import comparison_table, headline_rows, long_view
from .inputs import (FitRecord, ReportInputs, RunFolderError, load_run, outcome_trends,
                     panel_summary, save_inputs, unit_table)
from .robustness import checks_frame, split_long
from .publication import publication_frame, to_latex, to_markdown
from .html import render_html

__all__ = ["FigureCache", "FitRecord", "ReportInputs", "RunFolderError", "comparison_table", "headline_rows",
           "checks_frame", "load_run", "long_view", "outcome_trends", "panel_summary",
           "split_long", "save_inputs", "unit_table",
           "write_report"]

TITLE = "Main results: ATT overall and by trait level"


def _write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding=encoding)
    os.replace(tmp, path)


def write_report(folder: str | Path, inputs: ReportInputs,
                 long: pd.DataFrame | None = None,
                 cache: FigureCache | None = None) -> pd.DataFrame:
    """Write comparison.csv (effects only: robustness checks go to robustness.csv), the
    publication tables and report.html; return the comparison.

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
    _write_text(folder / "report.html", render_html(inputs, comparison, effects, cache))
    return comparison
