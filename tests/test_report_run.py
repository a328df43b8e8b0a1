"""A run with a fit that carries an InferenceData (``idata_``): the runner stores it as netCDF,
records where it is (relative to the model store), and the report shows its posterior section,
also when the fit is reused or the run folder is moved; progress reports made while fitting
reach the run's display."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from bayescity.commands.display import RunDisplay
from bayescity.estimators.registry import get_estimator
from bayescity.experiments import runner as runner_mod
from bayescity.experiments.runner import run_experiment
from bayescity.progress import report_progress
from bayescity.reports import load_run
from test_sweep import write_config


def _with_posterior(base: type) -> type:
    """A stand-in for a Bayesian estimator: results relabelled, an InferenceData attached."""

    class WithPosterior(base):
        def fit(self, panel):
            import arviz as az

            for i in range(3):
                report_progress("sampling chain 1", i + 1, 3)
            super().fit(panel)
            self.results_ = {k: r.replace(paradigm="bayesian", interval_kind="equal_tailed")
                             for k, r in self.results_.items()}
            rng = np.random.default_rng(0)
            self.idata_ = az.from_dict(posterior={"tau": rng.normal(size=(2, 100))},
                                       sample_stats={"diverging": np.zeros((2, 100), bool)})
            return self

    return WithPosterior


class Recorder:
    def __init__(self):
        self.calls = []

    def fit_started(self, est_id, method, index, total, stored):
        self.calls.append(("start", est_id, stored))

    def fit_finished(self, est_id, seconds):
        self.calls.append(("done", est_id))

    def task_progress(self, event):
        self.calls.append(("progress", event.label, event.completed, event.total))

    def stage(self, text):
        self.calls.append(("stage", text))


@pytest.fixture
def bayes_stub(monkeypatch):
    stub = _with_posterior(get_estimator("twfe"))
    monkeypatch.setattr(runner_mod, "get_estimator",
                        lambda m: stub if m == "twfe" else get_estimator(m))


def test_posterior_is_stored_as_netcdf_and_reported(tmp_path, bayes_stub):
    cfg = write_config(tmp_path)
    rec = Recorder()
    first = run_experiment(cfg, reports_root=tmp_path / "rep", models_root=tmp_path / "m",
                           observer=rec, only=["wild"])
    record = load_run(first.run_dir).fit("wild")
    assert not Path(record.posterior).is_absolute() and record.posterior.endswith("posterior.nc")
    assert (tmp_path / "m" / record.posterior).is_file()
    assert str(tmp_path) not in (first.run_dir / "fits" / "index.json").read_text()
    assert ("progress", "sampling chain 1", 3, 3) in rec.calls
    assert [c for c in rec.calls if c[0] == "start"] == [("start", "wild", False)]
    html = (first.run_dir / "report.html").read_text(encoding="utf-8")
    assert 'id="posterior-wild"' in html and 'id="fig-rank-wild"' in html
    second = run_experiment(cfg, reports_root=tmp_path / "rep", models_root=tmp_path / "m",
                            observer=rec, only=["wild"])
    assert second.cached == ["wild"] and ("start", "wild", True) in rec.calls
    assert 'id="fig-rank-wild"' in (second.run_dir / "report.html").read_text(encoding="utf-8")
    assert load_run(second.run_dir).fit("wild").posterior == record.posterior


def test_a_moved_run_folder_re_renders_with_its_posterior(tmp_path, bayes_stub):
    import shutil

    from typer.testing import CliRunner

    from bayescity.cli import app

    cfg = write_config(tmp_path)
    run = run_experiment(cfg, reports_root=tmp_path / "rep", models_root=tmp_path / "m",
                         only=["wild"])
    shutil.move(str(tmp_path / "m"), str(tmp_path / "store"))
    moved = tmp_path / "elsewhere" / run.run_dir.name
    shutil.copytree(run.run_dir, moved)
    res = CliRunner().invoke(app, ["report", str(moved), "--models", str(tmp_path / "store")])
    assert res.exit_code == 0, res.output
    html = (moved / "report.html").read_text(encoding="utf-8")
    assert 'id="posterior-wild"' in html and 'id="fig-rank-wild"' in html
    assert "is missing" not in html


def test_display_shows_estimator_and_its_own_progress(tmp_path, bayes_stub):
    cfg = write_config(tmp_path)
    buf = io.StringIO()
    display = RunDisplay("run", console=Console(file=buf, force_terminal=True, width=120))
    with display:
        run_experiment(cfg, reports_root=tmp_path / "rep", models_root=tmp_path / "m",
                       observer=display)
        display.progress.refresh()
    text = buf.getvalue()
    assert "region (twfe)" in text and "writing the report" in text


def test_drivers_and_diagnostics_tables_are_stacked_for_the_run_folder(tmp_path):
    import report_inputs as RI
    from bayescity.experiments.publish import part_tables

    inputs = RI.build(tmp_path)
    drivers = part_tables(dict(inputs.results), "drivers")
    assert list(drivers.columns) == ["estimator", "estimand", *RI.DRIVER_COLUMNS]
    assert set(drivers["estimand"]) == {"ATT", "CATE"} and len(drivers) == 4
    diag = part_tables(dict(inputs.results), "diagnostics")
    assert list(diag.columns[:3]) == ["estimator", "estimand", "parameter"]
    assert part_tables(dict(inputs.results), "balance") is None
