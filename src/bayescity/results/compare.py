"""Stack results of several methods into one long comparison table."""

from __future__ import annotations

from typing import Iterable, Mapping

import pandas as pd

from ..constants import SUMMARY_COLUMNS
from .effect import EffectResult


def compare(results: Iterable[EffectResult] | Mapping[str, Iterable[EffectResult]]) -> pd.DataFrame:
    """One long table of :meth:`EffectResult.summary` rows.

    Given a mapping ``{estimator_id: results}``, an ``estimator`` column names the source of each
    row; the canonical columns keep their order and extra columns (``estimator``, ``n_clusters``)
    follow them.
    """
    frames = []
    if isinstance(results, Mapping):
        for est_id, group in results.items():
            for r in group:
                frames.append(_with_extras(r).assign(estimator=est_id))
    else:
        frames = [_with_extras(r) for r in results]
    if not frames:
        return pd.DataFrame(columns=[*SUMMARY_COLUMNS, "n_clusters"])
    out = pd.concat(frames, ignore_index=True)
    extras = [c for c in out.columns if c not in SUMMARY_COLUMNS]
    return out.loc[:, [*SUMMARY_COLUMNS, *extras]]


def _with_extras(result: EffectResult) -> pd.DataFrame:
    s = result.summary()
    s["n_clusters"] = pd.array([result.n_clusters] * len(s), dtype="Int64")
    return s
