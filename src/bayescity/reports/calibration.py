"""``report.html`` of a calibration: the design, the table and the figures, one file.

Built from the calibration table and the replications (plain tables) with the run report's
machinery: the same Jinja template, table blocks and figure cache (:mod:`.sections`,
:mod:`.cache`). Coverage is judged against the nominal level with the 95% binomial band of
the number of replications: a coverage outside the band is more than chance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..data.scenarios import dgp_table
from . import figures as F
from .cache import FigureCache, FigureMaker
from .sections import Block, Section, table_block

_RED = "color: #b00020; font-weight: bold"
#: Estimands summarised per estimator (many terms each) rather than shown term by term.
SERIES = ("ATT_event", "ATT_cohort", "ATT_calendar")


@dataclass(frozen=True)
class CalibrationFacts:
    """What the report says about the calibration besides its tables."""

    name: str
    run_id: str
    smoke: bool
    design: dict[str, Any]
    scenarios: tuple[str, ...]
    replications: int
    estimators: dict[str, str]
    seed: int
    seed_offset: int
    skipped: dict[str, str] = field(default_factory=dict)


def binomial_band(n: int, p: float, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` range of the share of ``n`` Bernoulli(``p``) successes: where an
    estimator with exact coverage ``p`` lands over ``n`` replications."""
    if n < 1 or not 0 < p < 1:
        return (np.nan, np.nan)
    tail = (1 - level) / 2
    return (float(stats.binom.ppf(tail, n, p) / n), float(stats.binom.ppf(1 - tail, n, p) / n))


def outside_band(table: pd.DataFrame) -> pd.Series:
    """Rows whose coverage lies outside the 95% binomial band around their nominal level."""
    bands = [binomial_band(int(n), float(p)) for n, p in zip(table["n_reps"], table["interval_prob"])]
    lo = np.array([b[0] for b in bands], dtype=float)
    hi = np.array([b[1] for b in bands], dtype=float)
    cov = table["coverage"].to_numpy(dtype=float)
    return pd.Series((cov < lo) | (cov > hi), index=table.index)


# --------------------------------------------------------------------------- figures
def coverage_figure(rows: pd.DataFrame, scenarios: list[str]) -> F.Figure | None:
    """Coverage by estimator and scenario: ATT overall (left) and every term (right), the
    nominal level and its 95% binomial band shaded per estimator."""
    rows = rows[rows["coverage"].notna()]
    if rows.empty:
        return None
    estimators = list(dict.fromkeys(rows["estimator"]))
    colors = _scenario_colors(scenarios)
    fig = F.new_figure(10.0, 1.2 + 0.32 * len(estimators))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, part, title in ((axes[0], rows[rows["estimand"] == "ATT"], "ATT overall"),
                            (axes[1], rows, "every calibrated term")):
        _coverage_panel(ax, part, estimators, scenarios, colors)
        ax.set_title(title, fontsize=9)
    axes[0].set_yticks(range(len(estimators)), estimators, fontsize=8)
    axes[0].invert_yaxis()
    handles = [axes[0].scatter([], [], color=colors[s], s=18, label=s) for s in scenarios]
    axes[1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
                   frameon=False, title="scenario", title_fontsize=8)
    return F.render(fig, "fig-coverage", "Coverage of the intervals by estimator and scenario",
                    "Share of replications whose interval contains the truth. Line: the "
                    "nominal level; shaded: its 95% binomial band for the number of "
                    "replications (outside it, the miss is more than chance). Right: every "
                    "term of every calibrated estimand (levels, event times, cohorts, slopes).")


def _coverage_panel(ax, part, estimators, scenarios, colors) -> None:
    for i, est in enumerate(estimators):
        mine = part[part["estimator"] == est]
        if mine.empty:
            continue
        nominal = float(mine["interval_prob"].iloc[0])
        lo, hi = binomial_band(int(mine["n_reps"].median()), nominal)
        ax.fill_betweenx([i - 0.4, i + 0.4], lo, hi, color="#e0e0e0", lw=0)
        ax.plot([nominal, nominal], [i - 0.4, i + 0.4], color="#555", lw=1)
        for j, scen in enumerate(scenarios):
            cov = mine.loc[mine["scenario"] == scen, "coverage"].to_numpy(float)
            offset = (j - (len(scenarios) - 1) / 2) * 0.6 / max(len(scenarios), 1)
            ax.scatter(cov, np.full(cov.size, i + offset), color=colors[scen], s=12,
                       alpha=0.85 if cov.size == 1 else 0.5, lw=0)
    ax.set_xlim(min(0.5, float(part["coverage"].min()) - 0.02) if len(part) else 0.5, 1.005)
    ax.set_xlabel("coverage", fontsize=8)
    ax.tick_params(labelsize=8)


def z_figure(z: pd.DataFrame, scenarios: list[str]) -> F.Figure | None:
    """Standardised errors of ATT overall: one panel per scenario, a box per estimator,
    shaded where 95% of a standard normal falls."""
    z = z[np.isfinite(z["z"])]
    if z.empty:
        return None
    estimators = list(dict.fromkeys(z["estimator"]))
    shown = [s for s in scenarios if (z["scenario"] == s).any()]
    cols = min(len(shown), 4)
    nrows = int(np.ceil(len(shown) / cols))
    fig = F.new_figure(2.6 * cols + 1.2, 0.5 + nrows * (0.6 + 0.22 * len(estimators)))
    axes = np.atleast_1d(fig.subplots(nrows, cols, sharey=True, squeeze=False)).ravel()
    for ax, scen in zip(axes, shown):
        mine = z[z["scenario"] == scen]
        data = [mine.loc[mine["estimator"] == e, "z"].to_numpy(float) for e in estimators]
        ax.axvspan(-1.96, 1.96, color="#eeeeee", lw=0)
        ax.axvline(0, color="#555", lw=0.8)
        ax.boxplot([d if d.size else [np.nan] for d in data], orientation="horizontal",
                   widths=0.6,
                   positions=range(len(estimators)), flierprops={"markersize": 2})
        ax.set_title(scen, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.set_xlim(-6, 6)
    axes[0].set_yticks(range(len(estimators)), estimators, fontsize=8)
    axes[0].invert_yaxis()
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    return F.render(fig, "fig-z", "Standardised errors of the overall ATT",
                    "(estimate - truth) / std_error over the replications (clipped to +-6 in "
                    "view). A calibrated estimator is centred on 0 with 95% inside the shaded "
                    "band; a shifted box is bias, a wide one understated uncertainty.")


def _scenario_colors(scenarios: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {s: cmap(i % 10) for i, s in enumerate(scenarios)}


# --------------------------------------------------------------------------- tables
def _flag(table: pd.DataFrame, columns: list[str]):
    """A Styler marking coverage outside the binomial band in red."""
    bad = outside_band(table).to_numpy()
    return table[columns].style.apply(
        lambda col: [_RED if b and col.name == "coverage" else "" for b in bad], axis=0)


HEADLINE_COLUMNS = ["scenario", "estimator", "estimand", "term", "truth", "coverage", "z_mean",
                    "z_sd", "mean_width", "power", "size", "n_reps", "n_failed"]


def headline_table(table: pd.DataFrame) -> pd.DataFrame:
    """ATT overall and by-trait levels: every measure, rounded by the report."""
    keep = (table["estimand"] == "ATT") | table["estimand"].str.startswith("ATT_by_")
    cols = [*HEADLINE_COLUMNS, "interval_prob"]
    return table.loc[keep & table["coverage"].notna(), cols].reset_index(drop=True)


def series_table(table: pd.DataFrame) -> pd.DataFrame:
    """Event-time, cohort and calendar terms summarised per estimator, estimand and scenario:
    mean and worst coverage over the terms, mean |z mean|."""
    part = table[table["estimand"].isin(SERIES) & table["coverage"].notna()]
    if part.empty:
        return pd.DataFrame()
    grouped = part.groupby(["scenario", "estimator", "estimand"], sort=False)
    out = grouped.agg(terms=("term", "size"), mean_coverage=("coverage", "mean"),
                      worst_coverage=("coverage", "min"),
                      mean_abs_z_mean=("z_mean", lambda z: float(np.nanmean(np.abs(z)))))
    worst = part.loc[grouped["coverage"].idxmin(), "term"].to_numpy()
    return out.reset_index().assign(worst_term=worst)


def heterogeneity_table(table: pd.DataFrame) -> pd.DataFrame:
    """Tests of equal effects across levels, and BLP slopes and drivers rows along true
    drivers and noise traits."""
    keep = (table["estimand"] == "equal_levels") | (
        table["estimand"].isin(["BLP", "drivers"]) & table["role"].isin(["driver", "noise"]))
    cols = ["scenario", "estimator", "estimand", "term", "role", "truth", "coverage",
            "power", "false_discovery", "rank_first", "mean_rank", "n_reps"]
    return table.loc[keep, cols].reset_index(drop=True)


def failure_lines(table: pd.DataFrame, reps: pd.DataFrame) -> list[str]:
    """One sentence per scenario x estimator with failed replications, with the first error."""
    errors = reps[reps["error"].fillna("").astype(str) != ""]
    lines = []
    for (scen, est), group in errors.groupby(["scenario", "estimator"], sort=False):
        total = int(reps.loc[reps["scenario"] == scen, "replication"].nunique())
        lines.append(f"{est} failed in {group['replication'].nunique()} of {total} "
                     f"replications of {scen}: {group['error'].iloc[0]}")
    return lines


def uncalibrated(reps: pd.DataFrame) -> list[str]:
    """Estimands reported without a truth the scenarios define (left out of the table)."""
    rows = reps[(reps["error"].fillna("").astype(str) == "") & (reps["estimand"] != "drivers")]
    none = rows.groupby(["estimator", "estimand"], sort=False)["truth"].apply(
        lambda t: bool(t.isna().all()))
    return [f"{est}: {estimand}" for (est, estimand), missing in none.items() if missing]


# --------------------------------------------------------------------------- sections
def overview_section(facts: CalibrationFacts) -> Section:
    design = {**facts.design, "scenarios": ", ".join(facts.scenarios),
              "replications per scenario": facts.replications,
              "estimators": ", ".join(f"{k} ({v})" for k, v in facts.estimators.items()),
              "seed (offset)": f"{facts.seed} ({facts.seed_offset})"}
    shown = pd.DataFrame({"value": [str(v) for v in design.values()]}, index=list(design))
    blocks = [table_block(shown, "calibration-design", index=True, facts=True),
              Block("pre", dgp_table(), "Scenarios: the outcome each replication draws")]
    if facts.skipped:
        blocks.append(Block("list", [f"scenario {s} skipped: {r}" for s, r in
                                     facts.skipped.items()]))
    intro = ("The outcome is replaced by y = unit + period + effect on treated cells + noise, "
             "with unit and period effects and the noise sd (sigma) of a two-way fit of the "
             "outcome on the untreated rows; every estimator is refitted on each draw and "
             "scored against the true effects aggregated with the treated-cell weights.")
    return Section("design", "Design and scenarios", blocks, intro)


def results_sections(table: pd.DataFrame, reps: pd.DataFrame, facts: CalibrationFacts,
                     figs: FigureMaker) -> list[Section]:
    scenarios = list(facts.scenarios)
    att = reps[(reps["estimand"] == "ATT") & (reps["term"].astype(str) == "overall")]
    z = att.assign(z=(att["estimate"] - att["truth"]) / att["std_error"])
    figures = Section("figures", "Coverage and standardised errors", [
        Block("figure", f) for f in (figs(coverage_figure, _plot_rows(table), scenarios),
                                     figs(z_figure, z[["scenario", "estimator", "z"]]
                                          .reset_index(drop=True), scenarios)) if f])
    head = headline_table(table)
    main = Section("calibration", "ATT overall and by trait level", [
        table_block(head, "calibration-table", styler=_flag(head, HEADLINE_COLUMNS))],
        f"Intervals at the results' own level ({_levels(table)}). "
        "Coverage in red lies outside the 95% binomial band around the nominal level. "
        "power: intervals excluding 0 where the truth is not zero; size: where it is zero. "
        "Every row, with event times, cohorts and calendar periods: calibration.csv.")
    out = [figures, main]
    series = series_table(table)
    if not series.empty:
        out.append(Section("series", "Event time, cohort and calendar terms",
                           [table_block(series, "calibration-series")]))
    het = heterogeneity_table(table)
    if not het.empty:
        out.append(Section("heterogeneity", "Heterogeneity: level tests, true drivers and noise traits",
                           [table_block(het, "calibration-heterogeneity")],
                           "false_discovery: how often heterogeneity that is not there is "
                           "declared (a pure-noise trait's slope or driver test; equal_levels: "
                           "the test of equal effects across a trait's levels rejecting when "
                           "the true levels are equal); rank_first: how often the trait leads "
                           "the drivers table."))
    return out


def _levels(table: pd.DataFrame) -> str:
    probs = sorted(set(table["interval_prob"].dropna().round(6)))
    return "interval_prob " + ", ".join(f"{p:g}" for p in probs) if probs else "none"


def _plot_rows(table: pd.DataFrame) -> pd.DataFrame:
    cols = ["scenario", "estimator", "estimand", "coverage", "interval_prob", "n_reps"]
    return table.loc[table["coverage"].notna(), cols].reset_index(drop=True)


def notes_section(table: pd.DataFrame, reps: pd.DataFrame, facts: CalibrationFacts) -> Section:
    blocks = []
    if failures := failure_lines(table, reps):
        blocks.append(Block("warnings", failures, "Failed replications"))
    if missing := uncalibrated(reps):
        blocks.append(Block("list", missing, "Reported estimands without a scenario truth "
                                             "(not in the table)"))
    return Section("notes", "Failures and estimands left out", blocks)


def write_calibration_report(folder: str | Path, table: pd.DataFrame, reps: pd.DataFrame,
                             facts: CalibrationFacts, cache: FigureCache | None = None) -> Path:
    """Write ``report.html`` into ``folder`` (figures through ``cache``); return its path."""
    import jinja2

    figs = FigureMaker(cache)
    sections = [overview_section(facts), *results_sections(table, reps, facts, figs),
                notes_section(table, reps, facts)]
    env = jinja2.Environment(loader=jinja2.PackageLoader("bayescity.reports", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined)
    html = env.get_template("report.html.j2").render(
        name=f"{facts.name}: calibration", run_id=facts.run_id, smoke=facts.smoke,
        n_estimators=len(facts.estimators), version=metadata.version("bayescity"),
        sections=[s for s in sections if s.blocks], warnings=[], n_warnings=0)
    path = Path(folder) / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
