"""Rendered figures kept between runs, keyed by their content.

A figure's key is the SHA-256 of what it is drawn from (the tables and arrays passed to the
function that draws it, or a posterior file's checksum), the drawing function's name, the
versions of bayescity, matplotlib and ArviZ and the CJK font's file digest (:mod:`.fonts`). A rerun whose inputs are unchanged therefore reuses
the PNG bytes instead of drawing again, and any change of data, code or library is a miss.

Reports only see the small :class:`FigureCache` interface (``get``/``put`` of JSON-able
payloads); where and how payloads are kept, and how they are validated on load, is the
store's business (:mod:`bayescity.experiments.figure_store`). Payloads are plain data:
strings and numbers, PNGs as base64 text; nothing in them is ever executed.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any, Callable, Protocol

import numpy as np
import pandas as pd

from .figures import Figure
from .fonts import figure_fonts, font_identity

#: Bumped when the drawing code changes in a way the library versions do not capture.
FIGURES_VERSION = 2


class FigureCache(Protocol):
    """Where rendered figures are kept: ``get`` returns a stored payload or None."""

    def get(self, key: str) -> dict[str, Any] | None:
        """The payload stored under ``key``, or None."""

    def put(self, key: str, payload: dict[str, Any]) -> None:
        """Store ``payload`` under ``key``."""


@lru_cache(maxsize=1)
def _versions() -> tuple[str, ...]:
    from importlib import metadata

    out = [str(FIGURES_VERSION)]
    for dist in ("bayescity", "matplotlib", "arviz"):
        try:
            out.append(metadata.version(dist))
        except metadata.PackageNotFoundError:
            out.append("-")
    return tuple(out)


def _feed(h, obj: Any) -> None:
    """Hash ``obj`` (tables, arrays, scalars, nested lists and dicts) into ``h``."""
    if isinstance(obj, pd.DataFrame):
        h.update(b"df")
        h.update(json.dumps([[str(c), str(t)] for c, t in obj.dtypes.items()]).encode())
        _feed(h, list(map(str, obj.index)))
        h.update(pd.util.hash_pandas_object(obj, index=False).to_numpy().tobytes())
    elif isinstance(obj, pd.Series):
        _feed(h, obj.to_frame())
    elif isinstance(obj, np.ndarray):
        h.update(f"nd{obj.dtype.str}{obj.shape}".encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, dict):
        h.update(b"{")
        for k in sorted(obj, key=str):
            _feed(h, str(k))
            _feed(h, obj[k])
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(b"[")
        for item in obj:
            _feed(h, item)
        h.update(b"]")
    else:
        h.update(f"{type(obj).__name__}:{obj!r};".encode())


def content_key(name: str, *parts: Any) -> str:
    """The cache key of a figure ``name`` drawn from ``parts`` (with the library versions and
    the fonts it is drawn with: :func:`.fonts.font_identity`)."""
    h = hashlib.sha256()
    _feed(h, [name, *_versions(), *font_identity()])
    for part in parts:
        _feed(h, part)
    return h.hexdigest()


def figure_payload(fig: Figure | None) -> dict[str, Any]:
    if fig is None:
        return {"figure": None}
    return {"figure": {"id": fig.id, "title": fig.title, "png": fig.png, "caption": fig.caption}}


def figure_from(doc: Any) -> Figure | None:
    """A :class:`Figure` from its payload entry; raise ValueError when it is not one."""
    if doc is None:
        return None
    if not isinstance(doc, dict) or set(doc) != {"id", "title", "png", "caption"} or \
            not all(isinstance(v, str) for v in doc.values()):
        raise ValueError("not a figure entry")
    return Figure(doc["id"], doc["title"], doc["png"], doc["caption"])


class FigureMaker:
    """Draws figures through a :class:`FigureCache` (or directly, without one)."""

    def __init__(self, cache: FigureCache | None = None):
        self.cache = cache
        self.hits = 0
        self.misses = 0

    def lookup(self, key: str) -> dict[str, Any] | None:
        return None if self.cache is None else self.cache.get(key)

    def store(self, key: str, payload: dict[str, Any]) -> None:
        if self.cache is not None:
            self.cache.put(key, payload)

    def __call__(self, draw: Callable[..., Figure | None], *args: Any) -> Figure | None:
        """``draw(*args)``, or the figure it drew before from the same arguments."""
        key = content_key(f"{draw.__module__}.{draw.__qualname__}", *args)
        payload = self.lookup(key)
        if payload is not None:
            try:
                fig = figure_from(payload.get("figure"))
                self.hits += 1
                return fig
            except ValueError:
                pass
        self.misses += 1
        with figure_fonts():
            fig = draw(*args)
        self.store(key, figure_payload(fig))
        return fig
