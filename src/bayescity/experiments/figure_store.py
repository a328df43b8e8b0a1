"""Rendered report figures kept beside the fits: ``<models>/.figures/<key>.json``.

Each file is one JSON document ``{format, version, key, payload, checksum}``: the payload is
what :mod:`bayescity.reports.cache` asked to keep (PNGs as base64 text, numbers, sentences),
the checksum the SHA-256 of the rest (:func:`bayescity.results.plain.canonical_checksum`). On
load the schema, the key (the file's name) and the checksum are checked; anything else -- a
truncated, altered, foreign or unreadable file -- is a miss, drawn again and overwritten.
Nothing in a file is executed. Files are written under a temporary name and renamed, so a
reader never sees half of one; ``bayescity models prune --older-than`` removes old ones.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

from ..results.plain import canonical_checksum
from .paths import inside

FOLDER = ".figures"
FORMAT = "bayescity-figure"
VERSION = 1
_KEY = re.compile(r"^[0-9a-f]{64}$")


class FigureStore:
    """A :class:`bayescity.reports.FigureCache` on disk, under the model store's root."""

    def __init__(self, models_root: str | Path):
        self.folder = inside(models_root, FOLDER)

    def _file(self, key: str) -> Path | None:
        return inside(self.folder, f"{key}.json") if _KEY.fullmatch(key) else None

    def get(self, key: str) -> dict[str, Any] | None:
        file = self._file(key)
        if file is None or not file.is_file():
            return None
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not (isinstance(doc, dict) and set(doc) == {"format", "version", "key", "payload",
                                                       "checksum"}
                and doc["format"] == FORMAT and doc["version"] == VERSION
                and doc["key"] == key and isinstance(doc["payload"], dict)
                and doc["checksum"] == canonical_checksum(doc)):
            return None
        return doc["payload"]

    def put(self, key: str, payload: dict[str, Any]) -> None:
        file = self._file(key)
        if file is None:
            return
        doc = {"format": FORMAT, "version": VERSION, "key": key, "payload": payload}
        doc["checksum"] = canonical_checksum(doc)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = inside(self.folder, f".{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
            tmp.write_text(json.dumps(doc, allow_nan=False), encoding="utf-8")
            os.replace(tmp, file)
        except (OSError, ValueError):
            pass  # a figure not kept is drawn again next time

    def prune(self, older_than: float, dry_run: bool = False) -> list[Path]:
        """Remove figure files last written more than ``older_than`` seconds ago."""
        if not self.folder.is_dir():
            return []
        now, gone = time.time(), []
        for file in sorted(self.folder.glob("*.json")):
            if now - file.stat().st_mtime >= older_than:
                gone.append(file)
                if not dry_run:
                    file.unlink(missing_ok=True)
        return gone
