"""report.html in a real browser: headless Chromium (Debian's ``chromium``, installed by
``.ci/run``) loads it with no console errors and shows the comparison table and every figure.
A screenshot is kept under reports/report_check/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import report_inputs as RI
from bayescity.reports import write_report
from chromium_cdp import check_page, find_chromium

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install --no-install-recommends "
    "chromium; .ci/run does this)")


@needs_chromium
def test_checker_sees_console_errors_and_broken_images(tmp_path):
    """The check can fail: a page that logs an error and has a broken image is caught."""
    page = tmp_path / "bad.html"
    page.write_text('<html><body><img alt="gone" src="missing.png">'
                    '<script>console.error("boom")</script></body></html>')
    result = check_page(page, CHROMIUM)
    assert any("boom" in e for e in result.errors)
    assert result.state["images"][0]["width"] == 0


@needs_chromium
def test_report_opens_in_chromium_without_errors(tmp_path):
    inputs = RI.build(tmp_path)
    comparison = write_report(tmp_path, inputs)
    result = check_page(tmp_path / "report.html", CHROMIUM)
    assert result.errors == []
    shown = comparison[comparison["estimand"] != "CATE"]  # CATE rows: csv and figure only
    assert result.state["comparisonRows"] == len(shown) > 0
    images = result.state["images"]
    assert [i["alt"] for i in images] and len(images) == len(RI.FIGURES)
    assert all(i["complete"] and i["width"] > 100 and i["shown"] > 50 for i in images), images
    assert RI.BREACH in " ".join(result.state["warnings"])
    shots = ROOT / "reports" / "report_check"
    shots.mkdir(parents=True, exist_ok=True)
    (shots / "screenshot.png").write_bytes(result.screenshot)
    assert result.screenshot.startswith(b"\x89PNG")


def _gbk_config(tmp_path: Path) -> Path:
    """A user's own panel as a GBK-encoded CSV with a Chinese trait (地区: 东部/中部/西部) and
    Chinese city names, and a config estimating effects by that trait."""
    import yaml

    from conftest import make_staggered

    df = make_staggered(seed=4, n_units=90)
    levels = np.array(["东部", "中部", "西部"])
    codes = df["unit"].str[1:].astype(int) % 3
    df["地区"] = levels[codes]
    df["城市"] = "城市" + df["unit"].str[1:]
    path = tmp_path / "cities_gbk.csv"
    df.drop(columns=["unit", "region"]).to_csv(path, index=False, encoding="gbk")
    config = {"name": "gbk_study", "seed": 1,
              "data": {"source": str(path), "unit": "城市", "time": "year", "outcome": "y",
                       "cohort": "g", "covariates": ["x"], "traits": ["地区"]},
              "estimators": [{"id": "twfe_region", "method": "twfe", "params": {"by": "地区"}},
                             {"id": "cs_region", "method": "callaway_santanna",
                              "params": {"by": "地区", "covariates": []}},
                             {"id": "imputation", "method": "imputation",
                              "params": {"by": "地区"}},
                             {"id": "event_study", "method": "event_study", "params": {}}]}
    cfg = tmp_path / "gbk.yaml"
    cfg.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return cfg


def _no_errors(html: Path) -> dict:
    result = check_page(html, CHROMIUM)
    assert result.errors == []
    images = result.state["images"]
    assert images and all(i["complete"] and i["width"] > 100 for i in images), images
    return result.state


@needs_chromium
def test_gbk_csv_with_chinese_trait_reports_without_errors_or_missing_glyphs(tmp_path):
    """Every figure of a report on a GBK CSV with 东部/中部/西部 is drawn with no missing glyph
    (the test suite turns matplotlib's "Glyph ... missing" warning into an error) and the page
    opens in Chromium without console errors."""
    from bayescity.experiments.runner import run_experiment

    outcome = run_experiment(_gbk_config(tmp_path), reports_root=tmp_path / "rep",
                             models_root=tmp_path / "m")
    html = (outcome.run_dir / "report.html").read_text(encoding="utf-8")
    assert "东部" in html and "ATT_by_地区" in html and 'id="verdict"' in html
    state = _no_errors(outcome.run_dir / "report.html")
    assert {"verdict", "comparison", "effects"} <= set(state["sections"])
    # the page's own Chinese text: the embedded CJK font (a subset) loads, offline
    assert state["fonts"] == ["bayescity CJK:loaded"]


@needs_chromium
def test_main_study_report_opens_without_errors(main_study):
    _, outcome, html = main_study
    state = _no_errors(outcome.run_dir / "report.html")
    assert "verdict" in state["sections"][:2] and state["comparisonRows"] > 0  # after warnings
    for fig in ("fig-trends", "fig-forest", "fig-event", "fig-att-gt-cs_dr",
                "fig-counterfactual-imputation"):
        assert f'<figure id="{fig}">' in html, fig
