"""Where runs may write: folder names that are real path components, and paths held inside the
folders a command was given.

A config is also what a sweep's or a calibration's worker runs for someone else, so what it
names must not reach outside the ``--out`` and ``--models`` folders. Two layers hold that:

* :func:`slug_problem` -- an experiment name or estimator id becomes one folder name: letters,
  digits, ``_ - .``, not starting with ``.`` or ``-`` (never ``.``, ``..`` or a hidden folder),
  at most :data:`MAX_NAME` characters. The config loader refuses anything else (exit 2).
* :func:`inside` -- every folder and file a run, sweep, report or ``models`` command writes or
  removes is built with it: the path is made absolute and normalised (``..`` folded away) and
  must lie under its root. A path that does not is a bug in bayescity, never a user's mistake:
  :class:`PathEscapeError` (exit 1) stops it before anything is written. Symbolic links the
  owner of a folder placed there are followed as the owner meant them; a config cannot create one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .errors import ConfigError

#: Longest experiment name or estimator id: they become folder names, with a 17-character key
#: and hidden-folder markers beside them.
MAX_NAME = 64
_SLUG = re.compile(rf"[A-Za-z0-9_][A-Za-z0-9_.-]{{0,{MAX_NAME - 1}}}")


class PathEscapeError(RuntimeError):
    """A path about to be written lies outside the folder it belongs to (a bug: exit 1)."""


def short(value: Any, limit: int = 50) -> str:
    """``repr(value)``, shortened in the middle past ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 10] + "..." + text[-6:]


def slug_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a folder name of its own, or None when it can."""
    if not isinstance(value, str):
        return f"{short(value)} is not text"
    if _SLUG.fullmatch(value):
        return None
    if len(value) > MAX_NAME:
        return f"{short(value)} is longer than {MAX_NAME} characters"
    return (f"{short(value)} is not a folder name: use letters, digits, '_', '-', '.', "
            "starting with a letter, digit or '_'")


def is_slug(value: Any) -> bool:
    return slug_problem(value) is None


def _normal(path: str | Path) -> Path:
    return Path(os.path.normpath(os.path.abspath(os.fspath(path))))


def inside(root: str | Path, *parts: str) -> Path:
    """``root / parts[0] / ...``, checked to lie strictly under ``root``; raise
    :class:`PathEscapeError` otherwise (a part that is empty, ``.``, ``..``, absolute or holds
    a separator cannot pass)."""
    base = _normal(root)
    path = Path(root).joinpath(*parts)
    if not parts or not all(_component(p) for p in map(str, parts)):
        raise PathEscapeError(f"refusing to write {str(path)!r}: not a path under {str(root)!r}")
    if base not in _normal(path).parents:
        raise PathEscapeError(f"refusing to write {str(path)!r}: it lies outside "
                              f"{str(root)!r}")
    return path


def _component(part: str) -> bool:
    """Whether ``part`` is one path component: not empty, ``.`` or ``..``, no separator."""
    seps = {os.sep, os.altsep or os.sep, "\x00"}
    return part not in ("", ".", "..") and not any(s in part for s in seps)


def check_root(label: str, root: str | Path) -> None:
    """Raise a ConfigError (exit 2) when ``root`` cannot be a folder to write into: it, or a
    folder above it, is a file."""
    for folder in (Path(root), *Path(root).parents):
        if folder.exists():
            if not folder.is_dir():
                what = "is" if folder == Path(root) else f"lies under {str(folder)!r}, which is"
                raise ConfigError(f"{label}: {str(root)!r} {what} a file, not a folder")
            return


def check_roots(reports_root: str | Path, models_root: str | Path) -> None:
    """The reports (``--out``) and model store (``--models``) folders of a run or sweep: each
    a folder (or creatable), and neither inside the other (a store inside a reports folder would
    take run folders for stored fits, and ``models prune`` would remove them)."""
    check_root("--out", reports_root)
    check_root("--models", models_root)
    out, models = _normal(reports_root), _normal(models_root)
    if out == models or out in models.parents or models in out.parents:
        raise ConfigError(f"--out {str(reports_root)!r} and --models {str(models_root)!r} must be "
                          "separate folders, neither inside the other")
