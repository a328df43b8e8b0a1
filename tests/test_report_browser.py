"""report.html in a real browser: headless Chromium (Debian's ``chromium``, installed by
``.ci/run``) loads it with no console errors and shows the comparison table and every figure.
A screenshot is kept under reports/report_check/."""

from __future__ import annotations

from pathlib import Path

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
