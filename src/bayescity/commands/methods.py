"""``bayescity methods [METHOD]``: the registered methods, or one method's parameters."""

from __future__ import annotations

from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from .common import fail, out


def methods(method: Optional[str] = typer.Argument(None, help="a method name, e.g. twfe")
            ) -> None:
    """List the estimation methods, or the parameters of one (kind, default, allowed values,
    what each does), as a config's `params:` takes them."""
    from ..estimators.reference import methods_table, parameter_table
    from ..estimators.registry import UnknownMethodError
    from ..experiments.config import ConfigError

    if method is None:
        table = Table("method", "paradigm", "what it is", box=None, show_edge=False)
        for row in methods_table():
            table.add_row(*(escape(row[k]) for k in ("method", "paradigm", "summary")))
        out.print(table)
        out.print("bayescity methods METHOD lists a method's parameters.", highlight=False)
        return
    try:
        rows = parameter_table(method)
    except UnknownMethodError as exc:
        fail(ConfigError(str(exc)))
    table = Table("parameter", "default", "allowed", "what it does", box=None, show_edge=False,
                  title=f"{method}: params", title_justify="left")
    for row in rows:
        table.add_row(*(escape(row[k]) for k in ("name", "default", "allowed", "help")))
    out.print(table)
