"""The main study's report from real fits: the hierarchical DID's diagnostics, posterior plots
and model checks, the ML fits' CATE distribution, drivers and tree -- read from the info keys
those estimators produce -- and figures kept in the model store between runs."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from bayescity.experiments.figure_store import FOLDER, FigureStore
from bayescity.experiments.runner import run_experiment
from bayescity.results.plain import canonical_checksum

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "experiments" / "innovative_city.yaml"


def _run(tmp: Path):
    """The session's main study again: every fit and figure comes from its store."""
    return run_experiment(CONFIG, reports_root=tmp / "rep", models_root=tmp / "m", smoke=True)


def _figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'<figure id="([^"]+)">\s*<img[^>]*src="data:image/png;base64,'
                           r'([^"]+)"', html))


@pytest.fixture(scope="module")
def study(main_study):
    return main_study


def test_bayesian_section_reads_the_estimators_own_tables(study):
    _, outcome, html = study
    section = html[html.index('<section id="posterior-bayes_region">'):]
    section = section[:section.index("</section>")]
    diag = outcome.results["bayes_region"][0].part_frame("diagnostics")
    assert 'id="T_diagnostics_bayes_region"' in section
    for parameter in diag["parameter"].head(3):
        assert f">{parameter}<" in section
    # a breach the estimator's gates found is red in the table and named at the top
    flagged = diag[diag["breach"] != ""]
    if len(flagged):
        assert "#b00020" in section
        top = html[html.index('id="warnings"'):]
        assert "bayes_region: sampler diagnostics" in top
    assert "gibbs" in section  # the sampler facts
    priors = outcome.results["bayes_region"][0].facts("model")["priors"]
    assert 'id="T_model_bayes_region"' in section
    assert "priors: trait</th>" in section and f">{priors['trait']:.4g}<" in section
    for check in ("ppc", "prior_sensitivity", "loo"):
        assert f'id="T_{check}_bayes_region_ATT"' in section, check
    assert "mean_x0.5" in section and "elpd_loo" in section


def test_posterior_plots_show_the_estimands(study):
    _, _, html = study
    figs = _figures(html)
    for fig in ("fig-rank-bayes_region", "fig-posterior-bayes_region", "fig-ppc-bayes_region"):
        assert fig in figs, fig
    assert "<strong>bayes_region: rank plots.</strong>" in html  # the figure keeps its title
    skipped = re.search(r"Not plotted \(too many values\): ([^<]*)", html)
    assert skipped is None or not re.search(r"\bATT(_by_region3)? \(", skipped.group(1))


def test_ml_section_shows_cate_drivers_and_tree(study):
    _, outcome, html = study
    figs = _figures(html)
    assert {"fig-cate", "fig-drivers-dml", "fig-drivers-causal_forest"} <= set(figs)
    assert 'id="T_drivers_causal_forest_CATE"' in html and "mean_abs_shap" in html
    tree = next(r.part("cate_tree").text for r in outcome.results["dml"] if r.part("cate_tree"))
    assert tree.splitlines()[0].strip() and tree.splitlines()[0].strip()[:40] in html
    assert "calibration" in html  # grf's calibration test, in the tests table


def test_heterogeneity_section_says_whether_the_methods_agree_on_the_drivers(study):
    """dml, causal_forest and the north/south fit's city effects (city_effects: true) ranked
    side by side: the sentence and table in report.html, the table as agreement.csv, each ML
    rank as its drivers table has it."""
    import pandas as pd

    _, outcome, html = study
    section = html[html.index('<section id="heterogeneity">'):]
    section = section[:section.index("</section>")]
    assert "<strong>Driver agreement.</strong>" in section
    assert 'id="T_agreement_table"' in section
    table = pd.read_csv(outcome.run_dir / "agreement.csv", encoding="utf-8-sig")
    traits = ["region3", "north_south", "provincial_capital", "coastal", "ln_gdp_pc_2003",
              "ln_pop_2003"]
    assert sorted(table["trait"]) == sorted(traits)
    for est_id in ("dml", "causal_forest", "bayes_north_south"):
        assert {f"{est_id}_rank", f"{est_id}_sign", f"{est_id}_significant"} <= set(table)
        assert sorted(table[f"{est_id}_rank"]) == list(range(1, 7))
    for est_id in ("dml", "causal_forest"):
        drivers = next(r.part_frame("drivers") for r in outcome.results[est_id]
                       if r.part("drivers") is not None)
        ranks = dict(zip(drivers["trait"], drivers["rank"]))
        assert dict(zip(table["trait"], table[f"{est_id}_rank"])) == ranks
    tops = {e: table.loc[table[f"{e}_rank"] == 1, "trait"].item()
            for e in ("dml", "causal_forest", "bayes_north_south")}
    if len(set(tops.values())) == 1:
        assert f"agree that {tops['dml']} is the top driver" in section
    else:
        assert "disagree on the top driver" in section and "Likeliest reason" in section
        for est_id, trait in tops.items():
            assert f"{trait} first" in section and est_id in section


def test_rerun_reuses_figures_and_distrusts_altered_ones(study):
    tmp, first, html = study
    store = FigureStore(tmp / "m")
    files = sorted((tmp / "m" / FOLDER).glob("*.json"))
    assert files
    again = _run(tmp)
    assert sorted((tmp / "m" / FOLDER).glob("*.json")) == files  # nothing drawn anew
    assert _figures((again.run_dir / "report.html").read_text(encoding="utf-8")) == _figures(html)

    def entry(fig_id):
        for f in files:
            doc = json.loads(f.read_text())
            if (doc["payload"].get("figure") or {}).get("id") == fig_id:
                return f, doc
        raise AssertionError(fig_id)

    marker = base64.b64encode(b"\x89PNG\r\n\x1a\n marker").decode()
    forest, doc = entry("fig-forest")
    doc["payload"]["figure"]["png"] = marker
    forest.write_text(json.dumps(doc))  # checksum no longer matches: a miss, drawn again
    assert store.get(forest.stem) is None
    third = _run(tmp)
    assert _figures((third.run_dir / "report.html").read_text())["fig-forest"] != marker
    assert store.get(forest.stem) is not None  # rewritten, valid again

    doc = json.loads(forest.read_text())
    doc["payload"]["figure"]["png"] = marker
    doc["checksum"] = canonical_checksum(doc)
    forest.write_text(json.dumps(doc))  # a valid entry is what the report shows
    fourth = _run(tmp)
    assert _figures((fourth.run_dir / "report.html").read_text())["fig-forest"] == marker
    forest.write_bytes(b"\x00garbage")
    fifth = _run(tmp)  # unreadable: drawn again, never a crash
    assert _figures((fifth.run_dir / "report.html").read_text())["fig-forest"] != marker


def test_rerun_imports_no_plotting_or_sampling_library(study):
    """A rerun with stored fits and figures reads plain files only: the heavy libraries that
    fitting and drawing need stay unimported (this is where the rerun's speed comes from)."""
    import subprocess
    import sys

    tmp, first, _ = study
    code = ("import sys; from bayescity.experiments.runner import run_experiment; "
            f"o = run_experiment({str(CONFIG)!r}, reports_root={str(tmp / 'rep')!r}, "
            f"models_root={str(tmp / 'm')!r}, smoke=True); "
            "print(sorted(o.cached)); "
            "print([m for m in ('arviz', 'matplotlib', 'pymc', 'jax', 'numpyro', 'econml', "
            "'sklearn', 'shap') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    cached, imported = proc.stdout.strip().splitlines()[-2:]
    assert cached == str(sorted(first.results)) and imported == "[]"
