"""``run --only``, ``report``, ``models`` and ``sweep`` as a user drives them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from bayescity.cli import app
from bayescity.experiments.runner import run_experiment
from test_sweep import CONFIG, write_config

runner = CliRunner()


def _run(args: list[str]):
    return runner.invoke(app, args, catch_exceptions=False)


def _dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("*/*") if p.is_dir()) if out.exists() else []


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A config and one complete run of it (reports in rep/, fits in m/)."""
    tmp = tmp_path_factory.mktemp("study")
    cfg = write_config(tmp)
    res = _run(["run", str(cfg), "--out", str(tmp / "rep"), "--models", str(tmp / "m")])
    assert res.exit_code == 0, res.output
    (run_dir,) = _dirs(tmp / "rep")
    return tmp, cfg, run_dir


def test_run_writes_report_comparison_tables_and_stored_results(study):
    tmp, _, run_dir = study
    for name in ("results.csv", "tests.csv", "comparison.csv", "report.html", "config.lock.yaml",
                 "tables/main_results.tex", "tables/main_results.md", "fits/index.json",
                 "fits/wild/results.json", "data/units.parquet", "data/panel.json"):
        assert (run_dir / name).is_file(), name
    comparison = pd.read_csv(run_dir / "comparison.csv")
    assert {"wild:frequentist:estimate", "region:frequentist:upper", "flags"} <= set(comparison)
    assert not any(p.name.startswith(".") for p in run_dir.parent.iterdir())


def test_closing_table_shows_comparison_rows_and_no_progress_when_piped(study):
    tmp, cfg, _ = study
    res = _run(["run", str(cfg), "--out", str(tmp / "rep2"), "--models", str(tmp / "m")])
    assert res.exit_code == 0
    assert "ATT_by_region" in res.output and "disagreement" in res.output
    assert "fitting" not in res.output and "using stored fit" not in res.output  # not a TTY
    assert "report.html" in res.output


def test_only_runs_a_subset_with_the_full_runs_numbers(study):
    tmp, cfg, run_dir = study
    res = _run(["run", str(cfg), "--only", "wild", "--out", str(tmp / "only"),
                "--models", str(tmp / "m_only")])
    assert res.exit_code == 0, res.output
    (only_dir,) = _dirs(tmp / "only")
    sub = pd.read_csv(only_dir / "results.csv")
    full = pd.read_csv(run_dir / "results.csv")
    assert set(sub["estimator"]) == {"wild"}
    pd.testing.assert_frame_equal(sub, full[full["estimator"] == "wild"].reset_index(drop=True))
    assert yaml.safe_load((only_dir / "config.lock.yaml").read_text())["only"] == ["wild"]


def test_only_with_an_unknown_id_is_exit_2_and_writes_nothing(study):
    tmp, cfg, _ = study
    res = _run(["run", str(cfg), "--only", "wilde", "--out", str(tmp / "none")])
    assert res.exit_code == 2
    assert "--only" in res.output and "'wild'" in res.output
    assert not (tmp / "none").exists()


def test_report_rerenders_from_the_run_folder_without_refitting(study, tmp_path):
    tmp, _, run_dir = study
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    before = pd.read_csv(copy / "comparison.csv")
    for name in ("report.html", "comparison.csv", "tables/main_results.tex"):
        (copy / name).unlink()
    res = _run(["report", str(copy), "--models", str(tmp_path / "none")])  # no store needed
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "none").exists()
    pd.testing.assert_frame_equal(pd.read_csv(copy / "comparison.csv"), before)
    assert (copy / "tables" / "main_results.tex").exists()
    drawn = (copy / "report.html").read_text(encoding="utf-8")
    assert 'id="comparison-table"' in drawn
    figures = sorted((tmp / "m" / ".figures").glob("*.json"))
    res = _run(["report", str(copy), "--models", str(tmp / "m")])  # the run's figures reused
    assert res.exit_code == 0, res.output
    assert figures and sorted((tmp / "m" / ".figures").glob("*.json")) == figures
    assert (copy / "report.html").read_text(encoding="utf-8") == drawn
    res = _run(["report", str(tmp_path)])
    assert res.exit_code == 2 and "not a complete run folder" in res.output


def test_models_list_show_and_prune(tmp_path):
    cfg = write_config(tmp_path)
    run_experiment(cfg, reports_root=tmp_path / "rep", models_root=tmp_path / "m")
    res = _run(["models", "list", "--models", str(tmp_path / "m")])
    assert res.exit_code == 0 and "wild" in res.output and "region" in res.output
    key = next((tmp_path / "m" / "toy").glob("wild-*")).name.rsplit("-", 1)[1]
    res = _run(["models", "show", key[:8], "--models", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert "all verified" in res.output and "ATT" in res.output
    assert _run(["models", "prune", "--models", str(tmp_path / "m")]).exit_code == 2
    res = _run(["models", "prune", "--experiment", "toy", "--dry-run", "--models",
                str(tmp_path / "m")])
    assert "would remove 2" in res.output and len(list((tmp_path / "m" / "toy").iterdir())) == 2
    figures = list((tmp_path / "m" / ".figures").glob("*.json"))
    res = _run(["models", "prune", "--older-than", "1d", "--models", str(tmp_path / "m")])
    assert res.exit_code == 0 and "removed 0" in res.output
    assert list((tmp_path / "m" / ".figures").glob("*.json")) == figures and figures
    res = _run(["models", "prune", "--older-than", "0s", "--models", str(tmp_path / "m")])
    assert res.exit_code == 0 and "removed 2" in res.output
    assert f"{len(figures)} rendered figure(s)" in res.output
    assert list((tmp_path / "m" / "toy").iterdir()) == []
    assert list((tmp_path / "m" / ".figures").glob("*.json")) == []


def test_sweep_command_writes_one_table(study, tmp_path):
    _, cfg, _ = study
    res = _run(["sweep", str(cfg), "--grid", "seed=1,2", "--smoke", "--out", str(tmp_path / "rep"),
                "--models", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    (folder,) = _dirs(tmp_path / "rep")
    table = pd.read_csv(folder / "sweep.csv")
    assert folder.name.startswith("sweep-") and sorted(table["seed"].unique()) == [1, 2]
    assert "ATT overall, and by trait where variants change it" in res.output
    html = (folder / "report.html").read_text(encoding="utf-8")
    # the wild bootstrap's seed changes its interval, never an estimate of these estimators
    assert '<section id="grid">' in html and "No variant changes any estimate" in html
    (folder / "report.html").unlink()
    res = _run(["report", str(folder), "--models", str(tmp_path / "m")])  # a sweep folder
    assert res.exit_code == 0, res.output
    assert (folder / "report.html").read_text(encoding="utf-8") == html


@pytest.mark.parametrize("args, message", [
    (["--grid", "estimators.wilde.params.n_boot=9"], "no estimator with id 'wilde'"),
    (["--grid", "seed"], "KEY=VALUE"),
    ([], "no grid"),
    (["--grid", "seed=1", "--executor", "dask"], "--scheduler"),
])
def test_sweep_user_errors_are_exit_2_and_write_nothing(tmp_path, args, message):
    cfg = write_config(tmp_path, CONFIG)
    res = _run(["sweep", str(cfg), *args, "--out", str(tmp_path / "rep")])
    assert res.exit_code == 2 and message in res.output, res.output
    assert not (tmp_path / "rep").exists()


def test_sweep_uses_the_configs_own_grid(tmp_path):
    cfg = write_config(tmp_path, {**CONFIG, "sweep": {"grid": {"seed": [3, 4]}}})
    res = _run(["sweep", str(cfg), "--out", str(tmp_path / "rep"), "--models", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    (folder,) = _dirs(tmp_path / "rep")
    assert sorted(pd.read_csv(folder / "sweep.csv")["seed"].unique()) == [3, 4]
    res = _run(["run", str(cfg), "--out", str(tmp_path / "rep"), "--models", str(tmp_path / "m")])
    assert res.exit_code == 0  # `run` ignores the grid


ROOT = Path(__file__).resolve().parents[1]


def test_every_shipped_sweep_config_sweeps_in_smoke_mode(tmp_path):
    for config in sorted((ROOT / "experiments").glob("*.yaml")):
        if "sweep" not in (yaml.safe_load(config.read_text()) or {}):
            continue
        res = _run(["sweep", str(config), "--smoke", "--out", str(tmp_path / "rep"),
                    "--models", str(tmp_path / "m")])
        assert res.exit_code == 0, (config.name, res.output)


def test_console_shows_our_warnings_but_not_other_libraries_deprecation_notices(capsys):
    """A run printed shap's colormap deprecation notices as warnings a user should act on."""
    import warnings

    from bayescity.commands.common import warnings_to_console

    with warnings_to_console():
        warnings.warn_explicit("The set_over function will be deprecated",
                               PendingDeprecationWarning, "_colors.py", 48,
                               module="shap.plots.colors._colors")
        warnings.warn_explicit("old option", FutureWarning, "x.py", 1, module="arviz")
        warnings.warn_explicit("stored fit unreadable: refitted", UserWarning, "store.py", 1,
                               module="bayescity.experiments.store")
        warnings.warn_explicit("keyword renamed", FutureWarning, "config.py", 1,
                               module="bayescity.experiments.config")
        warnings.warn_explicit("overflow in exp", RuntimeWarning, "y.py", 1, module="numpy")
    printed = capsys.readouterr().err
    assert "set_over" not in printed and "old option" not in printed
    for shown in ("stored fit unreadable", "keyword renamed", "overflow in exp"):
        assert f"warning: {shown}" in printed
