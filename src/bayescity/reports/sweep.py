"""The report of a sweep: every variant side by side on every estimand the grid changes.

A sweep folder holds ``sweep.csv`` (a column per grid key, then ``variant`` and the results
columns) and ``grid.yaml`` (the grid and each variant's assignment). :func:`write_sweep_report`
writes ``report.html`` from those two files alone, so ``bayescity report`` re-renders a sweep
folder as it does a run folder: the grid, then for each estimator and estimand whose numbers
differ between variants a table (term x variant, estimate and interval) and a figure (each
variant's estimate and interval per term), then the estimands no variant changed.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import yaml

from .blocks import Block, Section, table_block
from .cache import FigureMaker
from .figures import Figure, new_figure, render
from .html import with_cjk_font

SWEEP_TABLE, GRID = "sweep.csv", "grid.yaml"
#: Estimates closer than this are the same number.
SAME = 1e-9


def is_sweep_folder(folder: str | Path) -> bool:
    return (Path(folder) / SWEEP_TABLE).is_file() and (Path(folder) / GRID).is_file()


def variant_labels(table: pd.DataFrame, keys: list[str]) -> dict[int, str]:
    """``variant -> "key=value, ..."`` (the last part of each dotted key)."""
    first = table.drop_duplicates("variant").set_index("variant")
    return {int(v): ", ".join(f"{k.split('.')[-1]}={first.at[v, k]}" for k in keys)
            for v in first.index}


def changed(table: pd.DataFrame) -> pd.DataFrame:
    """``(estimator, estimand)`` pairs with the largest change of any term's estimate across
    variants (``spread``), largest first; pairs that no variant changes have spread 0."""
    if table.empty:
        return pd.DataFrame(columns=["estimator", "estimand", "spread"])
    t = table.assign(term=table["term"].astype(str))
    spread = (t.groupby(["estimator", "estimand", "term"], sort=False)["estimate"]
              .agg(lambda s: float(s.max() - s.min()) if s.notna().any() else 0.0)
              .groupby(level=[0, 1], sort=False).max().rename("spread").reset_index())
    return spread


def side_by_side(table: pd.DataFrame, estimator: str, estimand: str,
                 labels: Mapping[int, str]) -> pd.DataFrame:
    """Terms x variants: ``estimate [lower, upper]``."""
    part = table[(table["estimator"] == estimator) & (table["estimand"] == estimand)]
    out = {}
    for v, rows in part.groupby("variant", sort=True):
        out[labels[int(v)]] = {str(r.term): f"{r.estimate:.3f} [{r.lower:.3f}, {r.upper:.3f}]"
                               for r in rows.itertuples()}
    frame = pd.DataFrame(out)
    frame.index.name = "term"
    return frame.fillna("").reset_index()


def variants_plot(part: pd.DataFrame, title: str, labels: Mapping[int, str]) -> Figure | None:
    """Each term on its own row, each variant's estimate and interval beside the others."""
    if part.empty:
        return None
    terms = list(dict.fromkeys(part["term"].astype(str)))
    variants = sorted(part["variant"].unique())
    fig = new_figure(7.5, 0.9 + 0.32 * len(terms) * max(1, len(variants)) ** 0.5)
    ax = fig.subplots()
    width = 0.7 / max(len(variants), 1)
    for k, v in enumerate(variants):
        rows = part[part["variant"] == v].assign(term=lambda d: d["term"].astype(str))
        y = np.array([terms.index(t) for t in rows["term"]]) + (k - (len(variants) - 1) / 2) * width
        ax.hlines(y, rows["lower"], rows["upper"], color=f"C{k}", lw=1.4)
        ax.scatter(rows["estimate"], y, color=f"C{k}", s=14, zorder=3, label=labels[int(v)])
    ax.set_yticks(range(len(terms)), terms, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="0.5", lw=0.8, ls="--")
    ax.set_xlabel("estimate and interval")
    ax.legend(fontsize=7, frameon=False, loc="best")
    slug = "".join(ch if ch.isalnum() else "-" for ch in title)
    return render(fig, f"fig-sweep-{slug}", title)


def sweep_sections(table: pd.DataFrame, grid: Mapping[str, Any],
                   figs: FigureMaker) -> list[Section]:
    keys = [k for k in (grid.get("grid") or {})]
    labels = variant_labels(table, keys)
    variants = pd.DataFrame([{"variant": v, **{k: table.loc[table["variant"] == v, k].iloc[0]
                                               for k in keys}} for v in labels])
    sections = [Section("grid", "Variants", [table_block(variants.astype(str), "grid-table")],
                        f"{len(labels)} variants of the config, one per combination of the "
                        "grid; every number below is in sweep.csv.")]
    spread = changed(table)
    moved = spread[spread["spread"] > SAME].sort_values("spread", ascending=False, kind="stable")
    blocks = []
    for r in moved.itertuples():
        part = table[(table["estimator"] == r.estimator) & (table["estimand"] == r.estimand)]
        blocks.append(table_block(side_by_side(table, r.estimator, r.estimand, labels),
                                  f"sweep-{r.estimator}-{r.estimand}",
                                  f"{r.estimator}: {r.estimand} (largest change "
                                  f"{r.spread:.3g})"))
        fig = figs(variants_plot, part.reset_index(drop=True), f"{r.estimator}: {r.estimand}",
                   labels)
        blocks += [Block("figure", fig)] if fig is not None else []
    sections.append(Section("changed", "Estimands the variants change", blocks or [
        Block("text", "No variant changes any estimate.")],
        "Every estimand whose estimate differs between variants, each variant's estimate and "
        "interval side by side, largest change first."))
    same = spread[spread["spread"] <= SAME]
    if not same.empty:
        sections.append(Section("unchanged", "Estimands no variant changes", [
            Block("list", [f"{r.estimator}: {r.estimand}" for r in same.itertuples()])]))
    return sections


def render_sweep_html(name: str, sweep_id: str, table: pd.DataFrame, grid: Mapping[str, Any],
                      figs: FigureMaker | None = None) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("bayescity.reports", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined)
    sections = sweep_sections(table, grid, figs or FigureMaker())
    return with_cjk_font(env.get_template("report.html.j2").render(
        name=f"{name}: sweep", run_id=sweep_id, smoke=bool(grid.get("smoke")),
        n_estimators=int(table["estimator"].nunique()) if not table.empty else 0,
        version=metadata.version("bayescity"), sections=sections, warnings=[], n_warnings=0))


def write_sweep_report(folder: str | Path, cache=None) -> Path:
    """Write ``report.html`` of a sweep folder from its sweep.csv and grid.yaml."""
    folder = Path(folder)
    table = pd.read_csv(folder / SWEEP_TABLE, encoding="utf-8-sig")
    grid = yaml.safe_load((folder / GRID).read_text(encoding="utf-8")) or {}
    name = str(grid.get("name") or folder.parent.name)
    html = render_sweep_html(name, str(grid.get("sweep_id") or folder.name), table, grid,
                             FigureMaker(cache))
    out = folder / "report.html"
    out.write_text(html, encoding="utf-8")
    return out
