"""Panel tables in and out: reading CSV/TSV (UTF-8, UTF-8 with BOM, GBK/GB18030), Parquet, Stata
and Excel; writing CSV that Excel opens with Chinese labels intact."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from .errors import PanelError, Problem
from .builtin import read_builtin

BUILTIN_PREFIX = "builtin:"
READERS = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".dta", ".xlsx", ".xlsm")
#: Encoding of every CSV bayescity writes: UTF-8 with a byte-order mark, which Excel needs to
#: show Chinese text correctly and which pandas (and :func:`decode_text`) strip on reading.
CSV_ENCODING = "utf-8-sig"


def write_csv(frame: pd.DataFrame, path: str | Path, *, encoding: str = CSV_ENCODING,
              index: bool = False) -> Path:
    """Write ``frame`` as CSV, by default UTF-8 with BOM (opens in Excel, reads back with
    ``pandas.read_csv``); every CSV the package writes goes through here. Returns the path."""
    path = Path(path)
    frame.to_csv(path, index=index, encoding=encoding)
    return path


def _read_excel(path: Path, sheet: str | int | None) -> pd.DataFrame:
    """One sheet of a workbook (the first unless ``sheet``); the frame's ``attrs`` record the
    sheet read and every sheet of the workbook, so that errors can point to the others."""
    with pd.ExcelFile(path) as book:
        names = [str(n) for n in book.sheet_names]
        chosen = 0 if sheet is None else sheet
        ok = chosen in names if isinstance(chosen, str) else 0 <= int(chosen) < len(names)
        if not ok:
            raise PanelError(str(path), [Problem("<sheet>", f"no sheet {chosen!r}; the workbook "
                                                            f"has sheets {', '.join(map(repr, names))}"
                                                            ": `sheet:` selects one")])
        frame = pd.read_excel(book, sheet_name=chosen)
    frame.attrs.update(sheets=tuple(names), sheet=chosen if isinstance(chosen, str) else names[chosen])
    return frame


def decode_text(raw: bytes, source: str, encoding: str | None = None) -> str:
    """Decode CSV bytes: an explicit encoding, else UTF-8 (BOM stripped), else GB18030 (covers GBK)."""
    if encoding:
        return raw.decode(encoding)
    for candidate in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(candidate)
        except UnicodeDecodeError:
            continue
    raise PanelError(source, [Problem("<file>", "cannot decode text as UTF-8 or GBK/GB18030; "
                                                "set `encoding:`")])


def _read_delimited(path: Path, sep: str, encoding: str | None) -> pd.DataFrame:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PanelError(str(path), [Problem("<file>", f"cannot read: {exc.strerror}")]) from None
    text = decode_text(raw, str(path), encoding)
    if not text.strip():
        raise PanelError(str(path), [Problem("<file>", "the file is empty")])
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise PanelError(str(path), [Problem("<file>", f"cannot parse as delimited text: {exc}")]) from None


def read_table(source: str | Path, *, sheet: str | int | None = None,
               encoding: str | None = None) -> pd.DataFrame:
    """Read a panel table from ``builtin:<name>`` or a file path, choosing the reader by extension."""
    if isinstance(source, str) and source.startswith(BUILTIN_PREFIX):

        try:
            return read_builtin(source[len(BUILTIN_PREFIX):])
        except (KeyError, ValueError) as exc:
            raise PanelError(source, [Problem("<source>", str(exc))]) from None
    path = Path(source)
    if not path.exists():
        raise PanelError(str(path), [Problem("<file>", "no such file")])
    if path.is_dir():
        raise PanelError(str(path), [Problem("<file>", "a folder, not a file")])
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return _read_delimited(path, ",", encoding)
    if suffix == ".tsv":
        return _read_delimited(path, "\t", encoding)
    if path.stat().st_size == 0:
        raise PanelError(str(path), [Problem("<file>", "the file is empty")])
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix == ".dta":
            return pd.read_stata(path, convert_categoricals=True)
        if suffix in (".xlsx", ".xlsm"):
            return _read_excel(path, sheet)
    except PanelError:
        raise
    except (ValueError, OSError, KeyError) as exc:
        raise PanelError(str(path), [Problem("<file>", f"cannot read {suffix} file: {exc}")]) from None
    raise PanelError(str(path), [Problem("<file>", f"unsupported file type {suffix!r}; "
                                                   f"use one of {', '.join(READERS)} or builtin:<name>")])
