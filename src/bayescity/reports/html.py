"""``report.html``: the sections laid out by a Jinja2 template, one self-contained file."""

from __future__ import annotations

from importlib import metadata

import pandas as pd

from .cache import FigureCache, FigureMaker
from .fonts import font_face
from .inputs import ReportInputs
from .sections import build_sections, warning_count


def render_html(inputs: ReportInputs, comparison: pd.DataFrame, long: pd.DataFrame,
                cache: FigureCache | None = None) -> str:
    """The report as HTML text: images embedded, no script, no network access; figures drawn
    before from the same inputs come from ``cache``."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("bayescity.reports", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined)
    sections, warnings = build_sections(inputs, comparison, long, FigureMaker(cache))
    return with_cjk_font(env.get_template("report.html.j2").render(
        name=inputs.name, run_id=inputs.run_id, smoke=bool(inputs.lock.get("smoke")),
        n_estimators=len(inputs.results), version=metadata.version("bayescity"),
        sections=sections, warnings=warnings, n_warnings=warning_count(inputs)))


def with_cjk_font(html: str) -> str:
    """``html`` with the CJK font embedded for the characters it uses (:func:`.fonts.font_face`):
    Chinese trait levels and names read on any machine, offline."""
    return html.replace("/*cjk-font-face*/", font_face(html), 1)
