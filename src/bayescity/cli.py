"""The ``bayescity`` command: run experiments and check panel files.

Exit codes: 0 done; 2 bad config or bad data (message, no traceback, no run folder); 1 anything
else; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM). ``report``, ``models`` and ``sweep``
live in :mod:`bayescity.commands`.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer
from rich.console import Console

from .commands import calibrate as calibrate_cmd
from .commands import methods as methods_cmd
from .commands import models as models_cmd
from .commands import report as report_cmd
from .commands import sweep as sweep_cmd
from .commands.common import App, fail, quiet_logging
from .commands.tfp import tfp as tfp_command
from .data.builtin import builtin_filename
from .data.io import BUILTIN_PREFIX
from .data.loader import load_panel
from .data.roles import BUILTIN_ROLES

app = App(add_completion=False, no_args_is_help=True,
          help="Bayesian, causal-ML and frequentist evaluation of place-based policies.")
data_app = App(no_args_is_help=True, help="Validate and describe panel data.")
app.add_typer(data_app, name="data")
app.add_typer(models_cmd.app, name="models")
app.command("report")(report_cmd.report)
app.command("sweep")(sweep_cmd.sweep)
app.command("calibrate")(calibrate_cmd.calibrate)
app.command("methods")(methods_cmd.methods)
out = Console(width=140)
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        out.print(f"bayescity {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """Bayesian, causal-ML and frequentist evaluation of place-based policies."""
    quiet_logging()


@app.command()
def run(config: str = typer.Argument(..., help="experiment YAML file"),
        out_dir: str = typer.Option("reports", "--out", help="reports root folder"),
        models_dir: str = typer.Option("models", "--models", help="fitted-model store"),
        smoke: bool = typer.Option(False, "--smoke", help="quick run with the configs' smoke params"),
        refit: bool = typer.Option(False, "--refit", help="ignore stored fits"),
        only: Optional[list[str]] = typer.Option(None, "--only", help="estimator id(s) to run "
                                                 "(repeatable or comma-separated)"),
        quiet: bool = typer.Option(False, "--quiet", help="no progress display"),
        workers: int = typer.Option(1, "--workers", help="local processes for estimators' "
                                    "parallel loops"),
        executor: Optional[str] = typer.Option(None, "--executor", help="local or dask"),
        scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                                help="Dask scheduler address, tcp://host:8786")
        ) -> None:
    """Run an experiment config and write reports/<name>/<run_id>/ (report.html inside)."""
    from .commands.display import closing_table, robustness_table
    from .reports import checks_frame
    from .commands.notes import print_messages
    from .commands.run import execute_run

    outcome = execute_run(config, out_dir=out_dir, models_dir=models_dir, smoke=smoke,
                          refit=refit, only=only, quiet=quiet, workers=workers,
                          executor=executor, scheduler=scheduler)
    out.print(closing_table(outcome.comparison, outcome.table))
    checks = robustness_table(checks_frame(outcome.results))
    if checks is not None:
        out.print(checks)
    print_messages(out, outcome.warnings, outcome.results)
    out.print(f"all estimands and tests: {outcome.run_dir}/results.csv, tests.csv", highlight=False,
              soft_wrap=True)
    out.print(f"report: {outcome.run_dir}/report.html", highlight=False, soft_wrap=True)
    out.print(f"results written to {outcome.run_dir}", highlight=False, soft_wrap=True)


def _split(values: Optional[str]) -> list[str]:
    return [v.strip() for v in values.split(",") if v.strip()] if values else []


def _describe(source: str, roles: dict) -> None:
    from .experiments.config import ConfigError

    try:
        for role, column in roles.items():
            if isinstance(column, str) and not column.strip() and role != "sheet":
                raise ConfigError(f"--{role}: give a column name")
        panel = load_panel(source, **roles)
    except Exception as exc:  # noqa: BLE001
        fail(exc)
    out.print(str(panel.describe()), highlight=False)


@data_app.command("check")
def check(path: str = typer.Argument(..., help="file to validate (.csv .tsv .parquet .dta .xlsx)"),
          unit: str = typer.Option(..., help="unit identifier column"),
          time: str = typer.Option(..., help="time period column (integer)"),
          outcome: str = typer.Option(..., help="outcome column"),
          cohort: Optional[str] = typer.Option(None, help="first-treated-period column (0 = never)"),
          treatment: Optional[str] = typer.Option(None, help="absorbing 0/1 treatment column"),
          covariates: Optional[str] = typer.Option(None, help="comma-separated covariates"),
          traits: Optional[str] = typer.Option(None, help="comma-separated unit-level traits"),
          sheet: Optional[str] = typer.Option(None, help="Excel sheet name"),
          drop_missing_outcome: bool = typer.Option(False, "--drop-missing-outcome",
                                                    help="drop rows with a missing outcome")
          ) -> None:
    """Validate a panel file and describe it; exit 2 listing every problem if it is malformed."""
    _describe(path, dict(unit=unit, time=time, outcome=outcome, cohort=cohort, treatment=treatment,
                         covariates=_split(covariates), traits=_split(traits), sheet=sheet,
                         drop_missing_outcome=drop_missing_outcome))


@data_app.command("describe")
def describe(source: str = typer.Argument("builtin:china_cities", help="builtin:<name> or a path"),
             unit: Optional[str] = None, time: Optional[str] = None,
             outcome: Optional[str] = None, cohort: Optional[str] = None,
             treatment: Optional[str] = None) -> None:
    """Describe a built-in dataset (default roles) or a file (roles as for `data check`)."""
    roles = {}
    if source.startswith(BUILTIN_PREFIX):
        name = source[len(BUILTIN_PREFIX):]
        try:
            builtin_filename(name)
        except ValueError as exc:
            err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        roles = dict(BUILTIN_ROLES.get(name, {}))
    given = dict(unit=unit, time=time, outcome=outcome, cohort=cohort, treatment=treatment)
    roles.update({k: v for k, v in given.items() if v is not None})
    if not {"unit", "time", "outcome"} <= roles.keys():
        err.print("error: give --unit, --time, --outcome and --cohort or --treatment for a file")
        raise typer.Exit(2)
    _describe(source, roles)


app.command("tfp")(tfp_command)


def main() -> None:  # pragma: no cover
    sys.exit(app())
