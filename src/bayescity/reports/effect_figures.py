"""The figures a researcher expects beside the tables (as CausalPy, R ``did`` and fixest draw
them): raw outcome trends, observed vs imputed untreated outcomes, the event study faceted per
method with its pre-trend test, ATT(g,t) by cohort and the HonestDiD sensitivity plot. Each is
drawn from tables only (run-folder data or declared result parts), never from an estimator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .figures import PARADIGM_COLORS, Figure, interval_words, new_figure, render

TRUTH_STYLE = dict(color="black", marker="_", s=160, lw=2.0, zorder=4)
NEVER, TREATED = "#7f7f7f", PARADIGM_COLORS["frequentist"]


def trends_plot(trends: pd.DataFrame, outcome: str) -> Figure | None:
    """Mean outcome by period: never-treated units and the treated (all cohorts, weighted by
    units), each cohort faint with its first treated period marked."""
    if trends is None or trends.empty:
        return None
    fig = new_figure(7.5, 3.6)
    ax = fig.subplots()
    never = trends[trends["cohort"] == 0].sort_values("period")
    treated = trends[trends["cohort"] > 0]
    for g, part in treated.groupby("cohort"):
        part = part.sort_values("period")
        ax.plot(part["period"], part["mean"], color=TREATED, lw=0.7, alpha=0.35)
        ax.axvline(g, color=TREATED, lw=0.5, ls=":", alpha=0.5)
    pooled = (treated.assign(w=treated["mean"] * treated["n_units"]).groupby("period")
              .agg(w=("w", "sum"), n=("n_units", "sum")))
    ax.plot(pooled.index, pooled["w"] / pooled["n"], color=TREATED, lw=2,
            label=f"ever treated ({int(treated.groupby('cohort')['n_units'].max().sum())} units;"
                  " faint: each cohort, dotted: its first year)")
    if not never.empty:
        ax.plot(never["period"], never["mean"], color=NEVER, lw=2,
                label=f"never treated ({int(never['n_units'].max())} units)")
    ax.set(xlabel="period", ylabel=f"mean {outcome}")
    ax.legend(fontsize=7, frameon=False, loc="best")
    return render(fig, "fig-trends", "Raw outcome trends: treated and never-treated units",
                  "Means of the outcome as observed, before any model: parallel paths before "
                  "the first treated years are what the designs assume.")


def counterfactual_plot(table: pd.DataFrame, est_id: str, outcome: str) -> Figure | None:
    """Treated units' observed mean outcome and the mean untreated outcome the imputation
    assigns them, by event time; the gap from e = 0 on is the effect."""
    if table is None or table.empty:
        return None
    t = table.sort_values("event_time")
    fig = new_figure(7.5, 3.6)
    ax = fig.subplots()
    ax.plot(t["event_time"], t["observed"], color=TREATED, marker="o", ms=3, lw=1.6,
            label="observed")
    ax.plot(t["event_time"], t["untreated"], color="#ff7f0e", marker="s", ms=3, lw=1.6,
            ls="--", label="untreated outcome Y(0): fitted (e < 0), imputed (e >= 0)")
    post = t[t["event_time"] >= 0]
    ax.fill_between(post["event_time"], post["untreated"], post["observed"], color=TREATED,
                    alpha=0.12, lw=0, label="effect (gap)")
    ax.axvline(-0.5, color="0.4", lw=0.8, ls=":")
    ax.set(xlabel="event time (periods since first treated)", ylabel=f"mean {outcome}")
    ax.legend(fontsize=7, frameon=False, loc="best")
    thin = t.loc[t["n_units"] < 2, "event_time"].tolist()
    caption = ("Means over the treated units observed at each event time (the set changes "
               "with event time).") + (f" Event times {thin} rest on one unit." if thin else "")
    return render(fig, f"fig-counterfactual-{est_id}",
                  f"Observed vs imputed untreated outcome of treated units ({est_id})", caption)


def _pretrend(tests: pd.DataFrame, est_id: str) -> str:
    rows = tests[tests["estimator"] == est_id] if not tests.empty else tests
    if rows.empty:
        return ""
    p = float(rows["p_value"].iloc[0])
    return f"pre-trends p = {p:.2f}" if p == p else ""


def event_facets(long: pd.DataFrame, tests: pd.DataFrame,
                 truth: pd.DataFrame | None) -> Figure | None:
    """One panel per method's ``ATT_event``: estimates and intervals, the joint pre-trend
    test's p-value in the title, terms resting on one treated unit hollow, the truth (a
    simulated panel's) as black bars."""
    rows = long[long["estimand"] == "ATT_event"].copy()
    rows["e"] = pd.to_numeric(rows["term"], errors="coerce")
    rows = rows.dropna(subset=["e"])
    if rows.empty:
        return None
    ids = list(dict.fromkeys(rows["estimator"]))
    ncol = min(3, len(ids))
    nrow = -(-len(ids) // ncol)
    fig = new_figure(7.8, 0.5 + 2.5 * nrow)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, sharex=True, sharey=True, squeeze=False)).ravel()
    true = None if truth is None else truth[truth["estimand"] == "ATT_event"].assign(
        e=lambda d: pd.to_numeric(d["term"], errors="coerce"))
    for ax, est_id in zip(axes, ids):
        part = rows[rows["estimator"] == est_id].sort_values("e")
        color = PARADIGM_COLORS.get(part["paradigm"].iloc[0], "k")
        thin = pd.to_numeric(part.get("n_treated"), errors="coerce").fillna(99).to_numpy() < 2
        ax.vlines(part["e"], part["lower"], part["upper"], color=color, lw=1.1)
        ax.scatter(part["e"][~thin], part["estimate"][~thin], color=color, s=12, zorder=3)
        ax.scatter(part["e"][thin], part["estimate"][thin], facecolor="white",
                   edgecolor=color, s=18, zorder=3)
        if true is not None and not true.empty:
            shown = true[true["e"].between(part["e"].min(), part["e"].max())]
            ax.scatter(shown["e"], shown["truth"], **TRUTH_STYLE)
        ax.axhline(0, color="0.5", lw=0.7)
        ax.axvline(-0.5, color="0.5", lw=0.7, ls=":")
        ax.set_title(f"{est_id}\n{_pretrend(tests, est_id)}".strip(), fontsize=7, loc="left")
        ax.tick_params(labelsize=7)
    for ax in axes[len(ids):]:
        ax.set_visible(False)
    fig.supxlabel("event time (periods since first treated)", fontsize=8)
    fig.supylabel("ATT(e)", fontsize=8)
    caption = (f"Lines: each method's {interval_words(rows)}. Hollow points: terms resting on "
               "one treated unit (their intervals omit that unit's noise). Titles: the joint "
               "test of the leads (pre-trends).")
    if true is not None and not true.empty:
        caption += " Black bars: the simulated panel's true effects."
    return render(fig, "fig-event", "Event study, one panel per method", caption)


def att_gt_plot(gt: pd.DataFrame, est_id: str, also: tuple[str, ...] = ()) -> Figure | None:
    """ATT(g,t) by cohort (R did's ``ggdid`` layout): one panel per cohort, effects by period
    with intervals, pre-periods grey, post-periods coloured."""
    need = {"cohort", "time", "att", "lower", "upper"}
    if gt is None or gt.empty or not need <= set(gt.columns):
        return None
    cohorts = sorted(gt["cohort"].unique())
    fig = new_figure(7.5, 0.4 + 1.15 * len(cohorts))
    axes = np.atleast_1d(fig.subplots(len(cohorts), 1, sharex=True, squeeze=False)).ravel()
    for ax, g in zip(axes, cohorts):
        part = gt[gt["cohort"] == g].sort_values("time")
        post = part["time"].to_numpy() >= g
        for mask, color in ((~post, "#8c8c8c"), (post, TREATED)):
            sub = part[mask]
            ax.vlines(sub["time"], sub["lower"], sub["upper"], color=color, lw=1)
            ax.scatter(sub["time"], sub["att"], color=color, s=9, zorder=3)
        ax.axhline(0, color="0.5", lw=0.6)
        ax.text(0.01, 0.95, f"cohort {g}", transform=ax.transAxes, fontsize=7, va="top",
                bbox=dict(facecolor="white", edgecolor="none", pad=1))
        ax.tick_params(labelsize=7)
    axes[-1].xaxis.get_major_locator().set_params(integer=True)
    axes[-1].set_xlabel("period")
    same = f" The same table for {', '.join(also)}." if also else ""
    return render(fig, f"fig-att-gt-{est_id}", f"ATT(g,t) by cohort ({est_id})",
                  "Each cohort's group-time effects with their intervals; grey: periods before "
                  "its first treated period (placebo ATT(g,t))." + same)


def sensitivity_plot(table: pd.DataFrame, est_id: str, symbol: str) -> Figure | None:
    """HonestDiD's sensitivity plot: the original interval, then the robust interval at each
    bound of the restriction (R HonestDiD's ``createSensitivityPlot``)."""
    if table is None or table.empty or "bound" not in table.columns:
        return None
    original = table[table["bound"].isna()]
    robust = table[table["bound"].notna()].sort_values("bound")
    labels = [*(["original"] if not original.empty else []),
              *[f"{b:.3g}" for b in robust["bound"]]]
    lo = np.r_[original["lb"].to_numpy(float), robust["lb"].to_numpy(float)]
    hi = np.r_[original["ub"].to_numpy(float), robust["ub"].to_numpy(float)]
    x = np.arange(len(labels))
    fig = new_figure(6.5, 3.4)
    ax = fig.subplots()
    colors = ["#d62728" if (i == 0 and not original.empty) else TREATED for i in x]
    ax.vlines(x, lo, hi, colors=colors, lw=3)
    ax.axhline(0, color="0.4", lw=0.8, ls="--")
    ax.set_xticks(x, labels, fontsize=7)
    ax.set(xlabel=symbol, ylabel="robust interval")
    return render(fig, f"fig-sensitivity-{est_id}",
                  f"HonestDiD sensitivity ({est_id})",
                  f"Red: the original interval; blue: the robust interval when parallel trends "
                  f"may fail by up to {symbol}. The breakdown value is the first {symbol} whose "
                  "interval reaches 0.")
