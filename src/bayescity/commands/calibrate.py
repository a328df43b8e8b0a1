"""``bayescity calibrate CONFIG``: the config's estimators on simulated outcomes of its design."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Optional

import pandas as pd
import typer
from rich.table import Table

from .common import fail, interruptible, out, show_progress, split_ids, warnings_to_console
from .display import RunDisplay


def calibrate(config: str = typer.Argument(..., help="experiment YAML file"),
              out_dir: str = typer.Option("reports", "--out", help="reports root folder"),
              models_dir: str = typer.Option("models", "--models",
                                             help="model store (keeps the report's figures)"),
              smoke: bool = typer.Option(False, "--smoke", help="quick run: the calibration's "
                                         "smoke replications and the estimators' smoke params"),
              only: Optional[list[str]] = typer.Option(None, "--only", help="estimator id(s) "
                                                       "(repeatable or comma-separated)"),
              replications: Optional[int] = typer.Option(
                  None, "--replications", "--reps", help="replications per scenario (default: the "
                  "config's calibration: replications, 20)"),
              scenario: Optional[list[str]] = typer.Option(
                  None, "--scenario", help="scenario(s) to run (repeatable or comma-separated; "
                  "default: the config's, else every scenario the design supports)"),
              workers: int = typer.Option(1, "--workers", help="local processes running "
                                          "replications"),
              executor: Optional[str] = typer.Option(None, "--executor", help="local or dask"),
              scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                                      help="Dask scheduler, e.g. tcp://host:8786"),
              quiet: bool = typer.Option(False, "--quiet", help="no progress display")) -> None:
    """Refit the config's estimators on outcomes simulated with known effects on its own
    design; write <out>/<name>/calibration-<id>/ (calibration.csv, report.html)."""
    from ..experiments.calibrate import run_calibration
    from ..experiments.executors import ExecutorSpec
    from ..progress import progress_to

    with interruptible("calibration"), warnings_to_console():
        try:
            spec = ExecutorSpec.from_options(workers, executor, scheduler)
            display = RunDisplay("calibration") if show_progress(quiet) else None
            with display or nullcontext(), progress_to(display.task_progress if display
                                                       else None):
                outcome = run_calibration(config, reports_root=out_dir, models_root=models_dir,
                                          smoke=smoke, only=split_ids(only) or None,
                                          executor=spec, replications=replications,
                                          scenarios=split_ids(scenario) or None,
                                          observer=display)
        except Exception as exc:  # noqa: BLE001 - mapped to exit codes
            fail(exc)
    print_outcome(outcome)


def print_outcome(outcome) -> None:
    """The closing table, skipped scenarios, failures and where the folder is."""
    out.print(coverage_table(outcome.table))
    for name, reason in outcome.plan.skipped.items():
        out.print(f"note: scenario {name} skipped: {reason}", highlight=False, soft_wrap=True)
    failed = outcome.replications["error"].fillna("").astype(str) != ""
    if failed.any():
        out.print(f"warning: {int(failed.sum())} estimator fits failed (counted in n_failed; "
                  "errors in replications.csv and report.html)", highlight=False,
                  soft_wrap=True)
    n = len(outcome.plan.scenarios) * outcome.plan.replications
    out.print(f"{n} replications in {outcome.seconds:.1f}s; report: {outcome.folder}/report.html",
              highlight=False, soft_wrap=True)
    out.print(f"table written to {outcome.folder}/calibration.csv", highlight=False,
              soft_wrap=True)


def coverage_table(table: pd.DataFrame) -> Table:
    """Coverage of ATT overall per estimator (rows) and scenario (columns), with z mean."""
    rows = table[(table["estimand"] == "ATT") & (table["term"] == "overall")]
    scenarios = list(dict.fromkeys(table["scenario"]))
    prob = rows["interval_prob"].dropna()
    level = f"{prob.iloc[0]:.0%}" if len(prob) and prob.nunique() == 1 else "nominal"
    shown = Table(title=f"coverage of the {level} intervals of ATT overall (z mean); "
                        "every row: calibration.csv", title_justify="left")
    shown.add_column("estimator")
    for scen in scenarios:
        shown.add_column(scen, justify="right")
    for est in dict.fromkeys(table["estimator"]):
        cells = []
        for scen in scenarios:
            hit = rows[(rows["estimator"] == est) & (rows["scenario"] == scen)]
            cells.append("-" if hit.empty else
                         f"{hit['coverage'].iloc[0]:.2f} ({hit['z_mean'].iloc[0]:+.2f})")
        shown.add_row(est, *cells)
    return shown
