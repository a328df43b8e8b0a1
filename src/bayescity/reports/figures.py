"""Figures of a run, drawn with matplotlib from results tables (no estimator, no refitting).

Each function returns a :class:`Figure`: a PNG embedded as base64, so that ``report.html`` is one
self-contained file. Figures are built on ``matplotlib.figure.Figure`` (no pyplot state), drawn
by the Agg renderer.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: One colour per paradigm, the same in every figure.
PARADIGM_COLORS = {"frequentist": "#1f77b4", "bayesian": "#d62728", "ml": "#2ca02c"}
PARADIGM_MARKERS = {"frequentist": "o", "bayesian": "D", "ml": "s"}
DPI = 96


@dataclass(frozen=True)
class Figure:
    """A rendered figure: anchor id, title, caption and the PNG as base64."""

    id: str
    title: str
    png: str
    caption: str = ""


def new_figure(width: float, height: float):
    from matplotlib.figure import Figure as MplFigure

    return MplFigure(figsize=(width, height), dpi=DPI)


def render(fig, fig_id: str, title: str, caption: str = "") -> Figure:
    """Rasterise a matplotlib figure into a :class:`Figure`."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.08)
    return Figure(fig_id, title, base64.b64encode(buf.getvalue()).decode("ascii"), caption)


def adoption_timeline(units: pd.DataFrame, first: int, last: int) -> Figure:
    """Units x periods, coloured by cohort from the first treated period on (grey before it,
    light for never-treated units); units sorted by cohort."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    cohorts = np.sort(units.loc[units["cohort"] > 0, "cohort"].unique())
    order = units.assign(_g=units["cohort"].replace(0, np.iinfo(np.int64).max)).sort_values(
        ["_g", "unit"])
    years = np.arange(first, last + 1)
    g = order["cohort"].to_numpy()[:, None]
    code = np.where(g == 0, 0, np.where(years[None, :] >= g, 2 + np.searchsorted(cohorts, g), 1))
    palette = _cohort_colors(len(cohorts))
    cmap = ListedColormap(["#f0f0f0", "#bdbdbd", *palette])
    fig = new_figure(7.5, 4.8)
    ax = fig.subplots()
    ax.imshow(code, aspect="auto", cmap=cmap, vmin=0, vmax=len(cohorts) + 1,
              interpolation="nearest", extent=(first - 0.5, last + 0.5, len(order), 0))
    ax.set(xlabel="period", ylabel=f"units ({len(order)}), by cohort", yticks=[])
    ax.xaxis.get_major_locator().set_params(integer=True)
    sizes = units["cohort"].value_counts()
    handles = [Patch(color=c, label=f"{int(gg)} ({sizes[gg]})") for gg, c in zip(cohorts, palette)]
    handles += [Patch(color="#bdbdbd", label="not yet treated"),
                Patch(color="#f0f0f0", label=f"never treated ({sizes.get(0, 0)})")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
              title="first treated (units)", title_fontsize=8, frameon=False)
    return render(fig, "fig-adoption", "Adoption timeline",
                  "Each row is a unit; colour marks the periods from its first treated period on.")


def _cohort_colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.05, 0.95, max(n, 1))][:n]


def _paradigm_legend(ax, paradigms) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=PARADIGM_COLORS.get(p, "k"),
                      marker=PARADIGM_MARKERS.get(p, "o"), linestyle="", label=p)
               for p in dict.fromkeys(paradigms)]
    ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=False)


def interval_words(rows: pd.DataFrame) -> str:
    """What the intervals drawn from ``rows`` are: ``95% intervals`` when every method reports
    the same probability, else each probability with its methods; the kind of each method's
    interval (t, bootstrap, equal-tailed posterior ...) is its ``interval_kind``."""
    if "interval_prob" not in rows.columns or rows.empty:
        return "intervals"
    probs = rows.groupby("interval_prob", sort=True)["estimator"].unique()
    if len(probs) == 1:
        return f"{probs.index[0]:.0%} intervals"
    return "intervals: " + "; ".join(f"{p:.0%} ({', '.join(map(str, ids))})"
                                     for p, ids in probs.items())


def forest_plot(long: pd.DataFrame, truth: pd.DataFrame | None = None) -> Figure | None:
    """Estimates and intervals of the overall and by-trait rows, one panel per estimand, every
    estimator on its own line, coloured by paradigm; a simulated panel's ``truth``
    (estimand, term, truth) as black bars."""
    rows = long[(long["estimand"] == "ATT") | long["estimand"].str.startswith("ATT_by_")]
    if rows.empty:
        return None
    groups = list(dict.fromkeys(rows["estimand"]))
    sizes = [int((rows["estimand"] == g).sum()) for g in groups]
    fig = new_figure(7.5, 0.8 + 0.22 * sum(sizes) + 0.35 * len(groups))
    axes = np.atleast_1d(fig.subplots(len(groups), 1, sharex=True,
                                      gridspec_kw={"height_ratios": sizes}))
    for ax, estimand in zip(axes, groups):
        _forest_panel(ax, rows[rows["estimand"] == estimand], estimand, truth)
    words = interval_words(rows)
    axes[-1].set_xlabel(f"effect ({words})" if len(words) < 40 else "effect")
    _paradigm_legend(axes[0], rows["paradigm"])
    caption = (f"Points: estimates; lines: each method's {words} (its interval_kind in the "
               "table: t, bootstrap, or equal-tailed posterior).")
    if truth is not None and not truth.empty:
        caption += " Black bars: the simulated panel's true effects."
    return render(fig, "fig-forest", "Overall and by-trait effects across methods", caption)


def _forest_panel(ax, part: pd.DataFrame, estimand: str,
                  truth: pd.DataFrame | None = None) -> None:
    """One estimand: rows grouped by term, then estimator; top to bottom."""
    terms = list(dict.fromkeys(part["term"]))
    part = part.assign(_t=part["term"].map(terms.index)).sort_values("_t", kind="stable")
    part = part.iloc[::-1]
    y = np.arange(len(part))
    for paradigm, idx in part.groupby("paradigm", sort=False).indices.items():
        color = PARADIGM_COLORS.get(paradigm, "k")
        sub = part.iloc[idx]
        ax.hlines(y[idx], sub["lower"], sub["upper"], color=color, lw=1.4)
        ax.scatter(sub["estimate"], y[idx], color=color, s=16, zorder=3,
                   marker=PARADIGM_MARKERS.get(paradigm, "o"))
    if truth is not None and not truth.empty:
        true = truth[truth["estimand"] == estimand].set_index("term")["truth"]
        values = part["term"].astype(str).map(true).to_numpy(dtype=float)
        ax.scatter(values, y, color="black", marker="|", s=90, lw=1.8, zorder=4)
    labels = [str(r.estimator) if estimand == "ATT" else f"{r.term} · {r.estimator}"
              for r in part.itertuples()]
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_ylim(-0.7, len(part) - 0.3)
    ax.axvline(0, color="0.5", lw=0.8, ls="--")
    ax.set_title(estimand if estimand == "ATT" else f"ATT by {estimand[7:]}", fontsize=9,
                 loc="left")


def cate_distribution(long: pd.DataFrame) -> Figure | None:
    """Histogram of unit-level effects (``CATE``) per estimator."""
    rows = long[long["estimand"] == "CATE"]
    if rows.empty:
        return None
    fig = new_figure(7.0, 3.6)
    ax = fig.subplots()
    values = rows["estimate"].dropna().to_numpy(dtype=float)
    edges = np.histogram_bin_edges(values, bins=30)  # one set of bins for every method
    for est_id, part in rows.groupby("estimator", sort=False):
        ax.hist(part["estimate"].dropna(), bins=edges, histtype="step", lw=1.6,
                label=f"{est_id} (n={len(part)})")
    ax.axvline(0, color="0.4", lw=0.8, ls="--")
    ax.set(xlabel="unit-level effect (CATE)", ylabel="units")
    ax.legend(fontsize=8, frameon=False)
    return render(fig, "fig-cate", "Distribution of unit-level effects (CATE)",
                  "Outlines on the same bins, one per method.")


def drivers_chart(drivers: pd.DataFrame, est_id: str) -> Figure | None:
    """Bar chart of what drives the effect: mean |SHAP| (else forest importance, else |BLP t|)."""
    for col, label in (("mean_abs_shap", "mean |SHAP|"), ("forest_importance",
                                                          "forest importance"),
                       ("blp_t", "|BLP t|")):
        if col in drivers.columns and drivers[col].notna().any():
            values = drivers.set_index("trait")[col].abs().dropna().sort_values()
            break
    else:
        return None
    fig = new_figure(6.5, 0.9 + 0.28 * len(values))
    ax = fig.subplots()
    ax.barh([str(v) for v in values.index], values.to_numpy(), color=PARADIGM_COLORS["ml"])
    ax.set(xlabel=label)
    return render(fig, f"fig-drivers-{est_id}", f"Drivers of the effect: {est_id}")


def placebo_plot(distribution: np.ndarray, estimate: float, est_id: str,
                 p_value: float | None, fig_id: str | None = None) -> Figure:
    """The placebo distribution with the actual estimate marked (``est_id`` titles it,
    ``fig_id`` names its anchor, the estimator id by default)."""
    fig = new_figure(6.5, 3.4)
    ax = fig.subplots()
    ax.hist(np.asarray(distribution, dtype=float), bins=40, color="0.7")
    ax.axvline(estimate, color=PARADIGM_COLORS["frequentist"], lw=2, label="estimate")
    title = f"{est_id}: placebo distribution"
    if p_value is not None and p_value == p_value:
        title += f" (randomization p = {p_value:.3f})"
    ax.set(xlabel="placebo estimate", ylabel="count")
    ax.legend(fontsize=8, frameon=False)
    return render(fig, f"fig-placebo-{fig_id or est_id}", title)
