"""Unit-level traits: categorical ones define groups; numeric ones are binned on request.

Heterogeneity by a continuous characteristic (2003 population, human capital) is reported per
quantile bin of its unit values: ``by_bins`` names the bins (``quartiles``, ``terciles``,
``median`` or a number of equal-count bins), and the trait's values are replaced by the labels
``Q1`` .. ``Qk`` (lowest first) in a copy of the panel, so every ``ATT_by_<trait>`` machinery works
unchanged. The bin edges are recorded in the panel's notes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .panel import Panel

#: Named quantile binnings accepted as ``by_bins``.
NAMED_BINS = {"median": 2, "terciles": 3, "quartiles": 4, "quintiles": 5, "deciles": 10}


def n_bins(by_bins: str | int) -> int:
    """The number of bins of a ``by_bins`` value; ValueError for anything else."""
    if isinstance(by_bins, bool):
        raise ValueError(f"by_bins: {by_bins!r} is not one of {list(NAMED_BINS)} or an integer >= 2")
    if isinstance(by_bins, (int, np.integer)) and by_bins >= 2:
        return int(by_bins)
    if isinstance(by_bins, str) and by_bins in NAMED_BINS:
        return NAMED_BINS[by_bins]
    raise ValueError(f"by_bins: {by_bins!r} is not one of {list(NAMED_BINS)} or an integer >= 2")


def bin_trait(panel: "Panel", trait: str, by_bins: str | int) -> "Panel":
    """A copy of ``panel`` whose numeric ``trait`` holds equal-count bin labels ``Q1..Qk``.

    Bins are quantiles of the per-unit values (each unit counted once), right-closed, lowest bin
    including its minimum; ties can make fewer than k bins, in which case labels run ``Q1..Qm``.
    """
    k = n_bins(by_bins)
    units = panel.unit_table()
    values = units[trait].astype(float)
    codes, edges = pd.qcut(values, q=k, labels=False, retbins=True, duplicates="drop")
    labels = np.array([f"Q{i + 1}" for i in range(len(edges) - 1)])
    per_unit = pd.Series(labels[codes.to_numpy(dtype=int)], index=units[panel.unit].to_numpy())
    frame = panel.frame.copy()
    frame[trait] = per_unit.reindex(frame[panel.unit].to_numpy()).to_numpy()
    spans = ", ".join(f"{lab} [{lo:.4g}, {hi:.4g}]" for lab, lo, hi in
                      zip(labels, edges[:-1], edges[1:]))
    note = f"trait {trait!r} binned into {len(labels)} quantile bins of unit values: {spans}"
    return panel.replace(frame=frame, notes=(*panel.notes, note))
