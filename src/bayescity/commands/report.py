"""``bayescity report RUN_DIR``: re-render a run's report from its stored results."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from .common import err, fail, out


def report(run_dir: str = typer.Argument(..., help="a run folder (reports/<name>/<run_id>) or "
                                                   "a sweep folder (reports/<name>/sweep-<id>)"),
           models_dir: str = typer.Option("models", "--models",
                                          help="model store whose rendered figures to reuse "
                                               "(when the folder exists)")
           ) -> None:
    """Re-render comparison.csv, tables/ and report.html of a run from its stored results and
    posteriors, without refitting (figures drawn before from the same inputs are reused); a
    sweep folder's report.html from its sweep.csv and grid.yaml."""
    from ..experiments.figure_store import FigureStore
    from ..reports import load_run, write_report
    from ..reports.sweep import is_sweep_folder, write_sweep_report

    start = time.perf_counter()
    try:
        cache = FigureStore(models_dir) if Path(models_dir).is_dir() else None
        if is_sweep_folder(run_dir):
            write_sweep_report(run_dir, cache)
        else:
            write_report(run_dir, load_run(run_dir, models_dir), cache=cache)
    except Exception as exc:  # noqa: BLE001 - mapped to exit codes
        fail(exc)
    err.print(f"rendered in {time.perf_counter() - start:.1f}s", highlight=False)
    out.print(f"report written to {run_dir.rstrip('/')}/report.html", highlight=False,
              soft_wrap=True)
