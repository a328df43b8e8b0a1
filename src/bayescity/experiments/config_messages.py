"""Validation errors of a config file, told in the config's own words.

Pydantic locates an error by a path that mixes the file's keys with its own labels (list
positions, union members such as ``str`` or ``int``, tagged-union tags) and words it for Python
programmers (``Input should be a valid dictionary or instance of DataConfig``). A user reads the
YAML file: :func:`format_errors` names the key as written there (an estimator by its id, as
``--grid`` addresses it), says what the value must be, shows what was given, and suggests the
nearest key for a misspelt one.
"""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any, Mapping, Sequence

from pydantic import ValidationError

from ..estimators.core.params import did_you_mean
from .paths import is_slug

_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict = 40, 40, 4, 4

#: What a value of each pydantic error type must be, in plain words.
_MUST = {
    "string_type": "must be text",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list, e.g. [a, b]",
    "dict_type": "must be a mapping of keys to values (key: value lines)",
    "model_type": "must be a mapping of keys to values (key: value lines)",
    "model_attributes_type": "must be a mapping of keys to values (key: value lines)",
    "none_required": "must be empty (null)",
}


def format_errors(path: Path, exc: ValidationError, raw: Any,
                  keys: Mapping[tuple, Sequence[str]]) -> str:
    """One line per problem: ``<key in config words>: <what is wrong>``.

    ``keys`` maps the location of a mapping (``()`` the top level, ``("data",)``, ``("estimators",
    None)`` every estimator) to the keys it accepts, for did-you-mean hints."""
    lines: dict[str, list[str]] = {}
    for err in exc.errors():
        where, at = _where(err["loc"], raw, err["type"])
        lines.setdefault(where, [])
        message = _message(err, at, keys) if "[key]" not in err["loc"] else \
            f"keys must be text, got {_SHORT.repr(err.get('input'))}"
        if message not in lines[where]:
            lines[where].append(message)
    out = [f"invalid config {str(path)!r}:"]
    for where, messages in lines.items():
        text = " or ".join(messages) if len(messages) > 1 else messages[0]
        out.append(f"  - {where}: {text}" if where else f"  - {text}")
    return "\n".join(out)


def _where(loc: tuple, raw: Any, kind: str) -> tuple[str, tuple]:
    """The key as written in the file (``estimators.<id>.params.n_boot``) and its location with
    pydantic's own labels dropped (union members, tags)."""
    words: list[str] = []
    at: list[Any] = []
    node = raw
    for i, part in enumerate(loc):
        if isinstance(node, Mapping) and part in node:
            words.append(str(part))
            at.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            entry = node[part]
            ident = entry.get("id") if isinstance(entry, Mapping) else None
            words.append(ident if is_slug(ident) else f"[{part + 1}]")
            at.append(None)
            node = entry
        elif part == "[key]":
            words, at = words[:-1], at[:-1]
            break
        elif kind == "missing" and i == len(loc) - 1:
            words.append(str(part))
            at.append(part)
    return "".join(w if w.startswith("[") or not i else f".{w}"
                   for i, w in enumerate(words)), tuple(at)


def _message(err: dict, at: tuple, keys: Mapping[tuple, Sequence[str]]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        accepted = keys.get(at[:-1], ())
        return (f"unknown key (misspelt?){did_you_mean(at[-1], accepted) if at else ''}"
                + (f"; keys here: {', '.join(accepted)}" if accepted else ""))
    if kind == "missing":
        return "missing: this key is required"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    if kind in _MUST:
        return f"{_MUST[kind]}, got {_SHORT.repr(err.get('input'))}"
    msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if msg.startswith("Input should be "):
        return f"must be {msg.removeprefix('Input should be ')}, got {_SHORT.repr(err.get('input'))}"
    return msg
