"""The building blocks of report sections: tables rendered from DataFrames, figures, text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: Style of a cell that breaches a gate.
RED = "color: #b00020; font-weight: bold; background-color: #fde0e0"
#: Columns holding counts, shown without decimals.
COUNT_COLUMNS = ("df", "df_denom", "n", "n_obs", "n_treated", "n_clusters", "n_units")


@dataclass
class Block:
    """One item of a section: ``kind`` is table (HTML), figure, pre, list or text; ``anchor``
    is the element id of a table."""

    kind: str
    content: Any
    title: str = ""
    anchor: str = ""


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    intro: str = ""


def _counts_numeric(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its count columns (:data:`COUNT_COLUMNS`) as numbers where they hold only
    numbers and gaps (e.g. ``df_denom``: a number or None per test)."""
    out = {}
    for c in df.columns:
        if c in COUNT_COLUMNS and not pd.api.types.is_numeric_dtype(df[c]):
            values = pd.to_numeric(df[c], errors="coerce")
            if values.notna().sum() == df[c].notna().sum():
                out[c] = values
    return df.assign(**out) if out else df


def table_block(df: pd.DataFrame, table_id: str, title: str = "", *, index: bool = False,
                styler=None, facts: bool = False, left: list[str] | None = None) -> Block:
    """A DataFrame as an HTML table (pandas Styler): numbers to 3 decimals, counts
    (:data:`COUNT_COLUMNS`) without, text columns (or ``left``) left-aligned. ``facts``: a
    list of labelled values, wrapped and left-aligned."""
    if styler is None:
        df = _counts_numeric(df)
        styler = df.style
    counts = [c for c in df.columns if c in COUNT_COLUMNS
              and pd.api.types.is_numeric_dtype(df[c])]
    styler = styler.format(precision=3, na_rep="").format("{:.0f}", subset=counts, na_rep="")
    text = left if left is not None else [c for c in df.columns
                                          if not pd.api.types.is_numeric_dtype(df[c])]
    if text:  # cells and header of each text column (the id-scoped rule beats the stylesheet)
        styler = styler.set_table_styles({c: [{"selector": "", "props": "text-align: left"}]
                                          for c in text}, overwrite=False)
    styler = styler.set_table_attributes(f'class="data{" facts" if facts else ""}"')
    if not index:
        styler = styler.hide(axis="index")
    return Block("table", styler.to_html(table_uuid=table_id.replace("-", "_")), title, table_id)
