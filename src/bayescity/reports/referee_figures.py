"""Figures of the robustness checks referees ask for, each a pure function of a results table.

Every function takes the table an estimator put in its result (a DataFrame) and returns a
``matplotlib.figure.Figure`` built without pyplot state; nothing is refitted and nothing is
written. Rasterise one for a report with :func:`bayescity.reports.figures.render` (as
:func:`bacon_figure` does).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .figures import Figure, render

#: Marker and colour of each Goodman-Bacon comparison type.
BACON_STYLE = {
    "treated_vs_never": ("o", "#1f77b4", "Treated vs never treated"),
    "earlier_vs_later": ("^", "#2ca02c", "Earlier vs later treated"),
    "later_vs_earlier": ("s", "#d62728", "Later vs earlier treated (already-treated controls)"),
}
BACON_COLUMNS = ("type", "estimate", "weight")


def bacon_plot(comparisons: pd.DataFrame, twfe: float | None = None, *, width: float = 6.4,
               height: float = 4.2):
    """Goodman-Bacon (2021, Fig. 6) scatter: each 2x2 DID estimate against its weight, by
    comparison type, with the TWFE coefficient (the weighted mean) as a horizontal line.

    ``comparisons`` has one row per 2x2 with columns ``type``, ``estimate`` and ``weight`` (the
    ``comparisons`` part of the ``bacon`` estimator's results); ``twfe`` defaults to the
    weighted mean of the estimates.
    """
    from matplotlib.figure import Figure

    missing = [c for c in BACON_COLUMNS if c not in comparisons.columns]
    if missing:
        raise ValueError(f"bacon_plot: the comparisons table lacks columns {missing}")
    fig = Figure(figsize=(width, height))
    ax = fig.add_subplot(1, 1, 1)
    for kind, (marker, color, label) in BACON_STYLE.items():
        part = comparisons[comparisons["type"] == kind]
        if len(part):
            ax.scatter(part["weight"], part["estimate"], marker=marker, color=color, s=36,
                       label=f"{label} (weight {part['weight'].sum():.2f})", alpha=0.85)
    if twfe is None:
        w = comparisons["weight"].to_numpy(dtype=float)
        twfe = float(np.sum(w * comparisons["estimate"].to_numpy(dtype=float)) / np.sum(w))
    ax.axhline(twfe, color="black", linewidth=1, linestyle="--", label=f"TWFE {twfe:.3f}")
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.set_xlabel("weight")
    ax.set_ylabel("2x2 DID estimate")
    ax.set_title("Goodman-Bacon decomposition of the TWFE coefficient")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def bacon_figure(comparisons: pd.DataFrame, twfe: float | None, fig_id: str,
                 title: str) -> Figure:
    """:func:`bacon_plot` rasterised for a report (anchor ``fig_id``)."""
    return render(bacon_plot(comparisons, twfe), fig_id, title,
                  "Each point is one 2x2 DID of the decomposition; the dashed line is the TWFE "
                  "coefficient, their weighted mean.")
