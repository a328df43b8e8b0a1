"""Figures of the referees' designs, each a pure function of one declared table part.

They take the table parts the estimators keep in their results (of ``ATT``,
``pretrend_slope``, ``spillover``) and return a ``matplotlib.figure.Figure`` (no pyplot state),
so the report can draw them, and tests can check them, without refitting anything:

* :func:`synthetic_trajectories` -- treated and synthetic paths (``sdid_trajectories``,
  ``sc_trajectories``), one panel per cohort or treated unit;
* :func:`unit_weights` -- the largest donor weights (``sdid_unit_weights``,
  ``sc_unit_weights``);
* :func:`placebo_ratios` -- post/pre RMSPE ratios of the in-space placebos
  (``sc_placebo_ranks``);
* :func:`power_curve` -- power of the pre-test by slope (``pretrend_power_curve``), with the
  slopes detected with the reported powers marked;
* :func:`spillover_by_ring` -- the effect by ring with its interval (``spillover_by_ring``).

:data:`FIGURES` maps each of those part names to its drawing and title; :func:`part_figure`
rasterises one for the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping

import numpy as np
import pandas as pd
if TYPE_CHECKING:  # matplotlib is imported only when a figure is drawn (reruns draw none)
    from matplotlib.figure import Figure

from .figures import Figure as Rendered
from .figures import render

WIDTH = 6.4
#: Most panels (cohorts, treated units) one figure draws; the tables hold the rest.
MAX_PANELS = 8


def _new(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _panels(n: int, height: float = 2.6) -> tuple[Figure, list]:
    cols = min(n, 2)
    rows = int(np.ceil(n / cols))
    fig = _new(WIDTH, height * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def synthetic_trajectories(table: pd.DataFrame) -> Figure:
    """Treated and synthetic outcome paths; adoption marked. ``table`` has ``time``,
    ``treated``, ``synthetic`` (``synthetic_shifted`` drawn instead when present, SDID's
    level-adjusted line) and ``cohort`` (and ``unit`` for synthetic control)."""
    key = "unit" if "unit" in table.columns else "cohort"
    groups = list(table.groupby(key, sort=True))[:MAX_PANELS]
    fig, axes = _panels(len(groups))
    line = "synthetic_shifted" if "synthetic_shifted" in table.columns else "synthetic"
    for ax, (label, part) in zip(axes, groups):
        ax.plot(part["time"], part["treated"], color="#d62728", label="treated")
        ax.plot(part["time"], part[line], color="#1f77b4", ls="--", label="synthetic")
        ax.axvline(part["cohort"].iloc[0] - 0.5, color="grey", lw=0.8)
        ax.set_title(f"{key} {label}", fontsize=9)
    axes[0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def unit_weights(table: pd.DataFrame, top: int = 10) -> Figure:
    """The ``top`` largest donor weights per treated unit or cohort (``unit``, ``weight``)."""
    key = "treated_unit" if "treated_unit" in table.columns else "cohort"
    groups = list(table.groupby(key, sort=True))[:MAX_PANELS]
    fig, axes = _panels(len(groups), height=0.25 * top + 1)
    for ax, (label, part) in zip(axes, groups):
        best = part.nlargest(top, "weight").iloc[::-1]
        ax.barh(best["unit"].astype(str), best["weight"], color="#1f77b4")
        ax.set_title(f"{key} {label}", fontsize=9)
        ax.set_xlabel("weight")
    fig.tight_layout()
    return fig


def placebo_ratios(table: pd.DataFrame) -> Figure:
    """Post/pre RMSPE ratios of every unit in the placebo set, the treated unit highlighted."""
    groups = list(table.groupby("treated_unit", sort=True))[:MAX_PANELS]
    fig, axes = _panels(len(groups))
    for ax, (label, part) in zip(axes, groups):
        part = part.sort_values("ratio")
        colors = np.where(part["is_treated"], "#d62728", "#bbbbbb")
        ax.barh(np.arange(len(part)), part["ratio"], color=colors)
        ax.set_yticks([])
        ax.set_xlabel("post/pre RMSPE ratio")
        ax.set_title(f"{label}: rank {int(part.loc[part['is_treated'], 'rank'].iloc[0])} "
                     f"of {len(part)}", fontsize=9)
    fig.tight_layout()
    return fig


def power_curve(table: pd.DataFrame) -> Figure:
    """Power of the pre-trend test against the slope of a linear violation (``slope``,
    ``power``), the rows ``reported`` (the slopes detected with the powers asked) marked."""
    fig = _new(WIDTH, 3.2)
    ax = fig.subplots()
    curve, marks = table[~table["reported"]], table[table["reported"]]
    ax.plot(curve["slope"], curve["power"], color="#1f77b4")
    for s, p in zip(marks["slope"], marks["power"]):
        ax.plot([s, s, 0], [0, p, p], color="grey", ls=":", lw=0.8)
        ax.annotate(f"{p:.0%}: {s:.3g}", (s, p), fontsize=8, xytext=(4, -10),
                    textcoords="offset points")
    ax.set_xlabel("slope of the linear violation per period")
    ax.set_ylabel("probability the pre-test rejects")
    ax.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def spillover_by_ring(table: pd.DataFrame) -> Figure:
    """The spillover effect by ring (``term``, ``estimate``, ``lower``, ``upper``)."""
    fig = _new(WIDTH, 3.0)
    ax = fig.subplots()
    x = np.arange(len(table))
    est = table["estimate"].to_numpy(float)
    err = np.vstack([est - table["lower"].to_numpy(float), table["upper"].to_numpy(float) - est])
    ax.errorbar(x, est, yerr=err, fmt="o", color="#1f77b4", capsize=3)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(x, table["term"].astype(str))
    ax.set_xlabel("ring around treated units")
    ax.set_ylabel("effect on untreated units")
    fig.tight_layout()
    return fig


#: Part name -> (drawing, title, the column whose values get a panel each, or None).
FIGURES: Mapping[str, tuple[Callable[[pd.DataFrame], Figure], str, str | None]] = {
    "sdid_trajectories": (synthetic_trajectories, "Synthetic DID: treated and synthetic paths",
                          "cohort"),
    "sdid_unit_weights": (unit_weights, "Synthetic DID: largest unit weights", "cohort"),
    "sc_trajectories": (synthetic_trajectories, "Synthetic control: treated and synthetic paths",
                        "unit"),
    "sc_unit_weights": (unit_weights, "Synthetic control: largest donor weights",
                        "treated_unit"),
    "sc_placebo_ranks": (placebo_ratios, "Synthetic control: in-space placebos",
                         "treated_unit"),
    "pretrend_power_curve": (power_curve, "Power of the pre-trend test", None),
    "spillover_by_ring": (spillover_by_ring, "Spillovers on untreated neighbours by ring", None),
}


def part_figure(name: str, table: pd.DataFrame, fig_id: str, label: str) -> Rendered:
    """The figure of part ``name`` drawn from its ``table``, rasterised for the report
    (``label`` names the estimator in the title)."""
    draw, title, key = FIGURES[name]
    shown = table[key].nunique() if key else 0
    caption = (f"The first {MAX_PANELS} of {shown} panels; the table holds every one."
               if shown > MAX_PANELS else "")
    return render(draw(table), fig_id, f"{title} ({label})", caption)
