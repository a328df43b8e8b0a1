"""The command line as a user drives it: exit codes, outputs, no partial runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from bayescity.cli import app
from bayescity.constants import SUMMARY_COLUMNS
from conftest import make_staggered

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))
runner = CliRunner()

CONFIG = {
    "name": "toy",
    "seed": 7,
    "data": {"source": "panel.csv", "unit": "unit", "time": "year", "outcome": "y", "cohort": "g",
             "covariates": ["x"], "traits": ["region"]},
    "estimators": [{"id": "twfe", "method": "twfe", "params": {}},
                   {"id": "twfe_region", "method": "twfe", "params": {"by": "region"}}],
}


def _write(tmp_path: Path, config: dict, df: pd.DataFrame | None = None) -> Path:
    (make_staggered(n_units=30) if df is None else df).to_csv(tmp_path / "panel.csv", index=False)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _run(args: list[str]):
    return runner.invoke(app, args, catch_exceptions=False)


def _run_dirs(out: Path) -> list[Path]:
    return [p for p in out.glob("*/*") if p.is_dir()] if out.exists() else []


def test_run_writes_results_and_lock(tmp_path):
    cfg = _write(tmp_path, CONFIG)
    res = _run(["run", str(cfg), "--out", str(tmp_path / "rep"), "--models", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    (run_dir,) = _run_dirs(tmp_path / "rep")
    table = pd.read_csv(run_dir / "results.csv")
    assert list(table.columns[: len(SUMMARY_COLUMNS)]) == list(SUMMARY_COLUMNS)
    assert {"estimator", "n_clusters"} <= set(table.columns)
    assert set(table["estimator"]) == {"twfe", "twfe_region"}
    lock = yaml.safe_load((run_dir / "config.lock.yaml").read_text())
    assert lock["seed"] == 7 and len(lock["data_hash"]) == 64 and "pyfixest" in lock["packages"]
    assert lock["config"]["data"]["source"] == str((tmp_path / "panel.csv").resolve())
    assert str(run_dir) in res.output.replace("\n", "")


def test_same_config_same_numbers_and_no_overwrite(tmp_path):
    cfg = _write(tmp_path, CONFIG)
    args = ["run", str(cfg), "--out", str(tmp_path / "rep"), "--models", str(tmp_path / "m")]
    assert _run(args).exit_code == 0
    assert _run(args + ["--refit"]).exit_code == 0
    runs = _run_dirs(tmp_path / "rep")
    assert len(runs) == 2
    a, b = (pd.read_csv(r / "results.csv") for r in runs)
    pd.testing.assert_frame_equal(a, b)


def test_misspelt_key_is_exit_2_before_any_work(tmp_path):
    bad = {**CONFIG, "estimators": [{"id": "twfe", "method": "twfe", "parms": {}}]}
    res = _run(["run", str(_write(tmp_path, bad)), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 2
    assert "parms" in res.output and "unknown key" in res.output
    assert not (tmp_path / "rep").exists()


def test_unknown_method_and_param_are_exit_2(tmp_path):
    for est in ({"id": "a", "method": "twfee"}, {"id": "a", "method": "twfe", "params": {"bye": 1}}):
        res = _run(["run", str(_write(tmp_path, {**CONFIG, "estimators": [est]})),
                    "--out", str(tmp_path / "rep")])
        assert res.exit_code == 2 and ("twfee" in res.output or "bye" in res.output)
    assert not (tmp_path / "rep").exists()


def test_bad_data_is_exit_2_with_file_column_rows(tmp_path):
    df = make_staggered(n_units=30).astype({"x": object})
    df.loc[4, "x"] = "oops"
    res = _run(["run", str(_write(tmp_path, CONFIG, df)), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 2
    assert "panel.csv" in res.output and "'x'" in res.output and "rows 5" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "rep").exists()


def test_unknown_column_in_params_is_exit_2(tmp_path):
    bad = {**CONFIG, "estimators": [{"id": "t3", "method": "twfe",
                                     "params": {"by": "no_such", "trend_covariates": ["x", "nope"]}}]}
    res = _run(["run", str(_write(tmp_path, bad)), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 2
    assert "'t3'" in res.output and "no_such" in res.output and "nope" in res.output
    assert not (tmp_path / "rep").exists()


def test_failure_mid_run_leaves_no_run_folder(tmp_path, monkeypatch):
    from bayescity.estimators.freq import EventStudy

    def fail(self, panel):
        raise RuntimeError("numerical failure after other estimators ran")

    monkeypatch.setattr(EventStudy, "_fit", fail)
    bad = {**CONFIG, "estimators": [*CONFIG["estimators"],
                                    {"id": "t3", "method": "event_study"}]}
    out = tmp_path / "rep"
    (out / "toy").mkdir(parents=True)
    (out / "toy" / "keep.txt").write_text("user file")
    res = _run(["run", str(_write(tmp_path, bad)), "--out", str(out), "--models", str(tmp_path / "m")])
    assert res.exit_code == 1
    assert [p.name for p in (out / "toy").iterdir()] == ["keep.txt"]


def test_data_check_good_and_bad(tmp_path):
    df = make_staggered(n_units=20)
    df.to_csv(tmp_path / "good.csv", index=False)
    args = ["data", "check", str(tmp_path / "good.csv"), "--unit", "unit", "--time", "year",
            "--outcome", "y", "--cohort", "g", "--traits", "region"]
    res = _run(args)
    assert res.exit_code == 0 and re.search(r"^units:\s+20$", res.output, re.M)
    df.loc[3, "region"] = "Elsewhere"
    df.to_csv(tmp_path / "bad.csv", index=False)
    res = _run([a if a != str(tmp_path / "good.csv") else str(tmp_path / "bad.csv") for a in args])
    assert res.exit_code == 2 and "region" in res.output and "bad.csv" in res.output


def test_data_describe_builtin():
    res = _run(["data", "describe", "builtin:china_cities"])
    assert res.exit_code == 0, res.output
    assert "2008: 1" in res.output  # Shenzhen, the first pilot


@pytest.mark.parametrize("config", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_every_experiment_runs_in_smoke_mode(config, tmp_path, main_study):
    # the main study was fitted once for the session (smoke): its store makes this run a
    # rerun through the CLI; the other configs are fitted here
    models = main_study[0] / "m" if config.stem == "innovative_city" else tmp_path / "m"
    res = _run(["run", str(config), "--smoke", "--out", str(tmp_path / "rep"),
                "--models", str(models)])
    assert res.exit_code == 0, res.output
    (run_dir,) = _run_dirs(tmp_path / "rep")
    assert len(pd.read_csv(run_dir / "results.csv")) > 0


def _readme_command(args: list[str], tmp: Path, models: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("bayescity")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "bayescity"]
    cmd = [*launcher, "run", "experiments/innovative_city.yaml", *args,
           "--out", str(tmp / "rep"), "--models", str(models)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200)


def test_readme_main_command_runs_through_the_console_script(tmp_path, main_study):
    """The README's main job through the installed console script, from the repository root
    (with the smoke parameters the session's main study was fitted with: its stored fits are
    reused, so this checks the command, the store and the publishing, not the fits)."""
    proc = _readme_command(["--smoke"], tmp_path, main_study[0] / "m")
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = _run_dirs(tmp_path / "rep")
    table = pd.read_csv(run_dir / "results.csv")
    assert set(table["estimator"]) == set(main_study[1].results)
    lock = yaml.safe_load((run_dir / "config.lock.yaml").read_text(encoding="utf-8"))
    assert sorted(lock["stored_fits_used"]) == sorted(main_study[1].results)


@pytest.mark.slow
def test_readme_main_command_as_a_user_runs_it(tmp_path):
    """The README's main job exactly as written (full draws and replications), from scratch."""
    proc = _readme_command([], tmp_path, tmp_path / "m")
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = _run_dirs(tmp_path / "rep")
    table = pd.read_csv(run_dir / "results.csv")
    assert {"twfe"} <= set(table["estimator"])
