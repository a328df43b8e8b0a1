"""The report shows the distribution of derived columns (TFP) by period and region when a run
built its outcome, also when re-rendered from the run folder without refitting."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from bayescity.cli import app
from bayescity.reports.tfp import tfp_table
from test_tfp_cli import CONFIG, _run


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}">')
    return html[start:html.index("</section>", start)]


@pytest.fixture(scope="module")
def derived_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tfp_report")
    res = _run(tmp, CONFIG)
    assert res.exit_code == 0, res.output
    (run_dir,) = [p for p in (tmp / "rep").glob("*/*") if p.is_dir()]
    return run_dir


def test_report_draws_and_tabulates_each_derived_column(derived_run):
    html = (derived_run / "report.html").read_text(encoding="utf-8")
    tfp = _section(html, "tfp")
    for column in ("K_pim", "tfp_m"):
        assert f'<figure id="fig-tfp-{column}">' in tfp
        assert f'id="tfp-{column}"' in tfp
    assert html.index('id="tfp"') < html.index('id="comparison"')
    stored = pd.read_parquet(derived_run / "data" / "tfp_summary.parquet")
    pd.testing.assert_frame_equal(stored, pd.read_csv(derived_run / "tfp_summary.csv"),
                                  check_dtype=False)
    table = tfp_table(stored, "tfp_m")
    assert list(table.columns) == ["period", "n", "mean", "p25", "median", "p75",
                                   "median North", "median South"]
    assert table["period"].tolist() == list(range(2001, 2006))
    # the medians are the summary's, and the summary's are the data's
    north = stored[(stored["column"] == "tfp_m") & (stored["level"] == "North")]
    assert table["median North"].tolist() == north.sort_values("time")["p50"].tolist()
    cell = re.search(r'id="T_tfp_tfp_m_row0_col4"[^>]*>([^<]+)<', tfp).group(1)
    assert cell == f"{table['median'].iloc[0]:.3f}"


def test_report_rerendered_without_refitting_shows_it_again(derived_run):
    (derived_run / "report.html").unlink()
    res = CliRunner().invoke(app, ["report", str(derived_run), "--models",
                                   str(derived_run / "no-store")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    html = (derived_run / "report.html").read_text(encoding="utf-8")
    assert '<figure id="fig-tfp-tfp_m">' in _section(html, "tfp")


def test_a_run_without_derived_columns_has_no_tfp_section(tmp_path):
    config = {**CONFIG, "data": {k: v for k, v in CONFIG["data"].items()
                                 if k not in ("derive", "drop_missing_outcome")} | {
        "outcome": "y"}}
    assert _run(tmp_path, config).exit_code == 0
    (run_dir,) = [p for p in (tmp_path / "rep").glob("*/*") if p.is_dir()]
    assert 'id="tfp"' not in (run_dir / "report.html").read_text(encoding="utf-8")
    assert not (run_dir / "data" / "tfp_summary.parquet").exists()
