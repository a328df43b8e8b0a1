"""Stack results of several methods into one long comparison table."""

from __future__ import annotations

from typing import Iterable, Mapping

import pandas as pd

from ..constants import SUMMARY_COLUMNS
from .effect import EffectResult

#: Columns shown when a comparison table is printed (every column stays in the frame).
COMPACT_COLUMNS = ("estimator", "method", "estimand", "term", "estimate", "lower", "upper",
                   "interval_kind", "n_treated", "note")
#: Longest note shown in the compact view.
NOTE_WIDTH = 48
VIEWS = ("compact", "full")


class ComparisonTable(pd.DataFrame):
    """The table :func:`compare` returns: an ordinary DataFrame with every column, which prints
    a compact view (estimate, interval, treated units, note). Derived frames (selections,
    arithmetic) are plain DataFrames; :meth:`full` returns the whole table as one."""

    _metadata: list[str] = []

    @property
    def _constructor(self):
        return pd.DataFrame

    def full(self) -> pd.DataFrame:
        """Every column, as a plain DataFrame."""
        return pd.DataFrame(self)

    def compact(self) -> pd.DataFrame:
        """The printed view: :data:`COMPACT_COLUMNS` present in the table, notes shortened."""
        view = pd.DataFrame(self).loc[:, [c for c in COMPACT_COLUMNS if c in self.columns]]
        if "note" in view.columns:
            view["note"] = view["note"].fillna("").map(_shorten)
        return view

    def __repr__(self) -> str:
        hidden = len(self.columns) - len(self.compact().columns)
        footer = (f"\n[{len(self)} rows; {hidden} more columns (std_error, p_value, ...): "
                  "table.full() or pd.DataFrame(table)]") if hidden else ""
        return self.compact().to_string(float_format=lambda x: f"{x:.4f}") + footer

    def _repr_html_(self) -> str:
        return self.compact().to_html(float_format=lambda x: f"{x:.4f}")


def _shorten(text: str) -> str:
    return text if len(text) <= NOTE_WIDTH else text[: NOTE_WIDTH - 3] + "..."


def compare(results: Iterable[EffectResult] | Mapping[str, Iterable[EffectResult]],
            view: str = "compact") -> pd.DataFrame:
    """One long table of :meth:`EffectResult.summary` rows.

    Given a mapping ``{estimator_id: results}``, an ``estimator`` column names the source of each
    row; the canonical columns keep their order and extra columns (``estimator``, ``n_clusters``,
    ``note``) follow them. ``note`` carries each row's flags and its result's ``info["notes"]``
    (see :meth:`EffectResult.row_notes`). ``view="compact"`` (default) returns a
    :class:`ComparisonTable`, which prints estimate and interval columns only;
    ``view="full"`` a plain DataFrame. Both hold every column.
    """
    if view not in VIEWS:
        raise ValueError(f"view: {view!r} is not one of {list(VIEWS)}")
    frames = []
    if isinstance(results, Mapping):
        for est_id, group in results.items():
            for r in group:
                frames.append(_with_extras(r).assign(estimator=est_id))
    else:
        frames = [_with_extras(r) for r in results]
    if not frames:
        out = pd.DataFrame(columns=[*SUMMARY_COLUMNS, "n_clusters", "note"])
    else:
        out = pd.concat(frames, ignore_index=True)
        extras = [c for c in out.columns if c not in SUMMARY_COLUMNS and c != "note"]
        out = out.loc[:, [*SUMMARY_COLUMNS, *extras, "note"]]
    return ComparisonTable(out) if view == "compact" else out


def _with_extras(result: EffectResult) -> pd.DataFrame:
    s = result.summary()
    s["n_clusters"] = pd.array([result.n_clusters] * len(s), dtype="Int64")
    s["note"] = result.row_notes()
    return s
