"""The distribution of derived columns (TFP and its inputs) by period and region in a report.

When a run builds its outcome from raw inputs (``data: derive:``), the run folder keeps
:func:`bayescity.tfp.tfp_summary`'s table (one row per column, trait level and period with the
count, mean, geometric mean and quantiles). This module draws, per derived column, the median
and interquartile band by period over all units with one median line per level of each trait,
and tabulates the same numbers compactly.
"""

from __future__ import annotations

import pandas as pd

from .figures import Figure, new_figure, render

#: Traits with more levels than this are tabulated in tfp_summary.csv but not drawn.
MAX_LEVELS = 8


def drawn_traits(summary: pd.DataFrame, column: str) -> list[str]:
    """The traits of ``column`` in ``summary`` with at most :data:`MAX_LEVELS` levels."""
    part = summary[(summary["column"] == column) & (summary["by"] != "all")]
    levels = part.groupby("by", sort=False)["level"].nunique()
    return [t for t, n in levels.items() if n <= MAX_LEVELS]


def tfp_figure(summary: pd.DataFrame, column: str) -> Figure:
    """Median and interquartile band of ``column`` by period over all units, and the median of
    each level of every drawn trait (one panel per trait)."""
    overall = summary[(summary["column"] == column) & (summary["by"] == "all")].sort_values("time")
    traits = drawn_traits(summary, column) or [None]
    fig = new_figure(4.2 * len(traits) + 0.6, 3.4)
    axes = fig.subplots(1, len(traits), sharey=True, squeeze=False)[0]
    for ax, trait in zip(axes, traits):
        ax.fill_between(overall["time"], overall["p25"], overall["p75"], color="0.85", lw=0,
                        label="all units: interquartile range")
        ax.plot(overall["time"], overall["p50"], color="k", lw=1.6, label="all units: median")
        if trait is not None:
            part = summary[(summary["column"] == column) & (summary["by"] == trait)]
            for level, rows in part.groupby("level", sort=True):
                rows = rows.sort_values("time")
                ax.plot(rows["time"], rows["p50"], lw=1.1, marker="o", ms=2.5,
                        label=f"{level}: median")
        ax.set(xlabel="period", title=f"by {trait}" if trait else "all units")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=7, frameon=False)
    axes[0].set_ylabel(column)
    return render(fig, f"fig-tfp-{column}", f"{column} by period and region",
                  "Line: median over units; band: 25th to 75th percentile over all units; "
                  "coloured lines: the median within each level (all numbers: tfp_summary.csv).")


def tfp_table(summary: pd.DataFrame, column: str) -> pd.DataFrame:
    """One row per period: units, mean, quartiles over all units, and the median per level of
    each drawn trait (columns ``median <level>``)."""
    part = summary[summary["column"] == column]
    overall = part[part["by"] == "all"].set_index("time").sort_index()
    table = overall[["n", "mean", "p25", "p50", "p75"]].rename(columns={"p50": "median"})
    for trait in drawn_traits(summary, column):
        wide = part[part["by"] == trait].pivot(index="time", columns="level", values="p50")
        names = {lv: f"median {lv}" for lv in wide.columns}
        if set(names.values()) & set(table.columns):
            names = {lv: f"median {trait}={lv}" for lv in wide.columns}
        table = table.join(wide.rename(columns=names))
    return table.rename_axis("period").reset_index()
