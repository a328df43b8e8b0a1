"""``bayescity sweep CONFIG --grid key=v1,v2 ...``: every variant, one table."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Optional

import typer
from rich.table import Table

from .common import fail, interruptible, out, show_progress, warnings_to_console
from .display import RunDisplay


def sweep(config: str = typer.Argument(..., help="experiment YAML file"),
          grid: Optional[list[str]] = typer.Option(
              None, "--grid", help="KEY=V1,V2 (repeatable): seed, data.outcome, "
              "estimators.<id>.params.<name>[.<key>]; default: the config's sweep: grid:"),
          out_dir: str = typer.Option("reports", "--out", help="reports root folder"),
          models_dir: str = typer.Option("models", "--models", help="fitted-model store"),
          smoke: bool = typer.Option(False, "--smoke", help="quick run with the smoke params"),
          refit: bool = typer.Option(False, "--refit", help="ignore stored fits"),
          workers: int = typer.Option(1, "--workers", help="local processes running variants"),
          executor: Optional[str] = typer.Option(None, "--executor", help="local or dask"),
          scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                                  help="Dask scheduler, e.g. tcp://host:8786"),
          quiet: bool = typer.Option(False, "--quiet", help="no progress display")) -> None:
    """Run a config under every combination of the grid; write <out>/<name>/sweep-<id>/."""
    from ..experiments.executors import ExecutorSpec
    from ..experiments.sweep import run_sweep
    from ..progress import progress_to

    with interruptible("sweep"), warnings_to_console():
        try:
            spec = ExecutorSpec.from_options(workers, executor, scheduler)
            display = RunDisplay("sweep") if show_progress(quiet) else None
            with display or nullcontext(), progress_to(display.task_progress if display
                                                       else None):
                outcome = run_sweep(config, grid or [], reports_root=out_dir,
                                    models_root=models_dir, smoke=smoke, refit=refit,
                                    executor=spec)
        except Exception as exc:  # noqa: BLE001 - mapped to exit codes
            fail(exc)
    out.print(overall_table(outcome.table, list(outcome.grid)))
    out.print(f"{outcome.table['variant'].nunique()} variants in {outcome.seconds:.1f}s; "
              f"table written to {outcome.folder}/sweep.csv", highlight=False, soft_wrap=True)
    out.print(f"report: {outcome.folder}/report.html", highlight=False, soft_wrap=True)


def overall_table(table, keys: list[str]) -> Table:
    """The overall ATT and by-trait rows of every estimator in every variant (by-trait rows
    where a variant changes them: a prior sweep is about how regions are pooled)."""
    import pandas as pd

    from ..reports.sweep import SAME, changed

    spread = changed(table)
    spread = spread[spread["spread"] > SAME]
    moved = set(zip(spread["estimator"], spread["estimand"]))
    headline = (table["estimand"] == "ATT") & (table["term"].astype(str) == "overall")
    by_trait = table["estimand"].str.startswith("ATT_by_") & pd.Series(
        [(e, m) in moved for e, m in zip(table["estimator"], table["estimand"])],
        index=table.index)
    rows = table[headline | by_trait]
    shown = Table(title="ATT overall, and by trait where variants change it, per variant "
                        "(every estimand: report.html, sweep.csv)", title_justify="left")
    for col in [*keys, "estimator", "estimand", "term", "estimate", "lower", "upper"]:
        shown.add_column(col)
    for _, r in rows.iterrows():
        shown.add_row(*[str(r[k]) for k in keys], str(r["estimator"]), str(r["estimand"]),
                      str(r["term"]), *[f"{r[c]:.4f}" for c in ("estimate", "lower", "upper")])
    return shown
