"""``bayescity tfp``: a TFP index table from a panel file, in DEAP's columns.

Exit codes as for every command: 0 done; 2 bad arguments or bad data (nothing written); 1 any
other failure (nothing written).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..data.errors import PanelError
from ..data.io import write_csv

METHODS = ("malmquist",)
SUFFIXES = (".csv", ".parquet")

out = Console(width=140)
err = Console(stderr=True)


def _stop(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _split(values: str) -> list[str]:
    return [v.strip() for v in values.split(",") if v.strip()]


def _check_target(path: Path, force: bool) -> None:
    if path.suffix.lower() not in SUFFIXES:
        _stop(f"--out: {str(path)!r} must end in {' or '.join(SUFFIXES)}")
    if path.is_dir():
        _stop(f"--out: {str(path)!r} is a folder; give a file name in it")
    if path.exists() and not force:
        _stop(f"--out: {str(path)!r} exists; pass --force to overwrite it")
    if not path.parent.is_dir():
        _stop(f"--out: folder {str(path.parent)!r} does not exist")


def write_table(table, path: Path) -> None:
    """Write .csv or .parquet through a temporary file in the same folder, then rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        if path.suffix.lower() == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            write_csv(table, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def means_table(means) -> Table:
    """DEAP's annual means (geometric) as a console table."""
    shown = Table(title="Malmquist index: geometric means by period (change from the one before)",
                  title_justify="left")
    for col in means.columns:
        shown.add_column(str(col), justify="right")
    for _, row in means.iterrows():
        shown.add_row(str(int(row.iloc[0])), *(f"{v:.4f}" if v == v else "-" for v in row.iloc[1:]))
    return shown


def tfp(panel: str = typer.Argument(..., help="panel file (.csv .tsv .parquet .dta .xlsx) or builtin:<name>"),
        unit: str = typer.Option(..., help="unit identifier column"),
        time: str = typer.Option(..., help="time period column (integer)"),
        inputs: str = typer.Option(..., help="comma-separated input columns, e.g. capital,labor"),
        output: str = typer.Option(..., help="output column (comma-separated for several)"),
        out_file: str = typer.Option(..., "--out", help="file to write (.csv or .parquet)"),
        method: str = typer.Option("malmquist", help="TFP measure: malmquist"),
        rts: str = typer.Option("crs", help="crs, or vrs to split effch into pech x sech (DEAP)"),
        orientation: str = typer.Option("output", help="output or input"),
        frontier: str = typer.Option("adjacent", help="adjacent (DEAP) or global (Pastor-Lovell)"),
        technology: str = typer.Option("crs", help="returns to scale of the index frontiers"),
        missing: str = typer.Option("error", help="error, or skip unit-years with missing inputs"),
        sheet: Optional[str] = typer.Option(None, help="Excel sheet name"),
        force: bool = typer.Option(False, "--force", help="overwrite an existing --out file")) -> None:
    """Write a Malmquist TFP table (unit, time, effch, techch, pech, sech, tfpch) to --out.

    The row of (unit, t) holds the change from t-1 to t; each unit's first period has none.
    """
    target = Path(out_file)
    if method not in METHODS:
        _stop(f"--method: must be one of {', '.join(METHODS)}; got {method!r}")
    _check_target(target, force)
    from ..data.io import read_table
    from ..tfp import TFPParamError, malmquist

    try:
        frame = read_table(panel, sheet=sheet)
        result = malmquist(frame, unit=unit, time=time, inputs=_split(inputs),
                           outputs=_split(output), rts=rts, orientation=orientation,
                           technology=technology, frontier=frontier, missing=missing,
                           source=panel)
        write_table(result.deap(), target)
    except TFPParamError as exc:
        _stop(f"--{exc}")
    except PanelError as exc:
        _stop(str(exc))
    except Exception as exc:  # noqa: BLE001 - mapped to exit code 1
        _stop(f"{type(exc).__name__}: {exc}", code=1)
    out.print(means_table(result.annual_means()))
    for note in result.notes:
        out.print(f"note: {note}", highlight=False, soft_wrap=True)
    out.print(f"TFP table written to {target}", highlight=False, soft_wrap=True)
