"""What every command shares: consoles, exit codes, Ctrl-C/SIGTERM handling, warnings.

Exit codes: 0 done; 1 any other failure; 2 a user error (bad config, data, grid, option, run
folder: message, no traceback, nothing written); 130 interrupted by Ctrl-C (SIGINT); 143
terminated (SIGTERM). An interrupted or terminated run leaves no run folder.
"""

from __future__ import annotations

import logging
import signal
import sys
import warnings
from contextlib import contextmanager
from typing import Iterator, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from ..data.errors import PanelError
from ..experiments.config import ConfigError

out = Console(width=140)
err = Console(stderr=True)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that cleanup runs as for Ctrl-C."""


def user_errors() -> tuple[type[BaseException], ...]:
    from ..reports import RunFolderError

    return (PanelError, ConfigError, RunFolderError)


def fail(exc: BaseException) -> NoReturn:
    """Print ``exc`` in one message and exit 2 (user error) or 1: a file that cannot be
    written or read (an OSError, told by its reason and file), a path that would leave its
    folder (a bug), anything else with its exception type (a bug to report)."""
    from ..experiments.paths import PathEscapeError

    if isinstance(exc, user_errors()):
        err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    if isinstance(exc, PathEscapeError):
        text = f"internal error (a bug in bayescity, please report it): {exc}"
    elif isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename!r}" if exc.filename else ""
        text = f"{exc.strerror}{where}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    err.print(f"[bold red]error:[/] {text}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _on_term(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    raise Terminated()


@contextmanager
def interruptible(what: str = "run") -> Iterator[None]:
    """Turn Ctrl-C into exit 130 and SIGTERM into exit 143, after the ``with`` blocks inside
    have cleaned up (staging folders removed, pools shut down)."""
    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        yield
    except KeyboardInterrupt:
        err.print(f"interrupted: the {what} was stopped; nothing was published", highlight=False)
        raise typer.Exit(130) from None
    except Terminated:
        err.print(f"terminated: the {what} was stopped; nothing was published", highlight=False)
        raise typer.Exit(143) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def warnings_to_console() -> Iterator[None]:
    """Show warnings raised inside (e.g. an unusable stored fit) as one line on stderr.

    Deprecation notices of other libraries (shap's, ArviZ's...) address their developers, not
    the user of a run, and are not shown; bayescity's own warnings of every kind are."""
    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ARG001
        err.print(f"[yellow]warning:[/] {message}", markup=True, highlight=False, soft_wrap=True)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category)
        warnings.filterwarnings("default", module=r"bayescity(\.|$)")
        warnings.showwarning = show
        yield


def _bare_flags(params: list) -> list:
    """Flags (``--smoke``, ``--help``) take no value: no ``<bool>`` beside them in ``--help``."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class FlagCommand(TyperCommand):
    """A command whose ``--help`` shows boolean options as the flags they are."""

    def get_params(self, ctx):  # noqa: ANN001, ANN201 - click's signature
        return _bare_flags(super().get_params(ctx))


class FlagGroup(TyperGroup):
    """A command group whose ``--help`` shows boolean options as the flags they are."""

    def get_params(self, ctx):  # noqa: ANN001, ANN201 - click's signature
        return _bare_flags(super().get_params(ctx))


class App(typer.Typer):
    """``typer.Typer`` whose groups and commands show flags as flags in ``--help``."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cls=FlagGroup, **kwargs)

    def command(self, *args, cls=None, **kwargs):  # noqa: ANN001, ANN201 - typer's signature
        return super().command(*args, cls=cls or FlagCommand, **kwargs)


class _ConsoleLog(logging.Handler):
    """Other libraries' log records of level WARNING and above, printed as a warning line."""

    def emit(self, record: logging.LogRecord) -> None:
        err.print(f"[yellow]warning:[/] {escape(record.getMessage())}", markup=True,
                  highlight=False, soft_wrap=True)


def quiet_logging() -> None:
    """Show other libraries' log records as warnings from WARNING up, and nothing below.

    pyfixest calls ``logging.basicConfig(level=logging.INFO)`` when imported, after which every
    library's INFO records (fontTools' subsetting of the report's CJK font: ``maxp pruned`` ...)
    reached the user's terminal. With a handler on the root logger first, that call does
    nothing; a bare stderr handler some library already added is replaced."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if type(h) is logging.StreamHandler]:
        root.removeHandler(handler)
    if not any(isinstance(h, _ConsoleLog) for h in root.handlers):
        root.addHandler(_ConsoleLog(logging.WARNING))
    root.setLevel(logging.WARNING)


def split_ids(values: list[str] | None) -> list[str]:
    """``--only a --only b,c`` as ``[a, b, c]``."""
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def show_progress(quiet: bool) -> bool:
    """Progress is drawn unless ``--quiet`` or stdout is not a terminal (a pipe, a file, CI)."""
    return not quiet and sys.stdout.isatty()
