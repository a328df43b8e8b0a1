"""What the fuzzing harness and issue 23 found, one regression test each: configs and command
lines that escaped their folders, crashed (exit 1 with a raw exception) or told a mistake in
Python's words instead of the config's."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pandas as pd
import pytest
import yaml
from typer.main import get_command
from typer.testing import CliRunner

from bayescity.cli import app
from bayescity.experiments import artefacts as art
from bayescity.experiments.config import MAX_SEED, parse_config
from bayescity.experiments.figure_store import FigureStore
from bayescity.experiments.paths import MAX_NAME, PathEscapeError, inside, slug_problem
from bayescity.experiments.store import ModelStore
from bayescity.experiments.sweep import set_path
from fuzz_configs import make_panel

runner = CliRunner()
DATA = {"source": "panel.csv", "unit": "unit", "time": "year", "outcome": "y", "cohort": "g",
        "covariates": ["x"], "traits": ["region"]}


def _cli(args: list[str]):
    return runner.invoke(app, args, catch_exceptions=False)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def study(tmp_path):
    """A folder holding the small panel; ``write(config)`` writes the config and returns the
    arguments of a smoke run into ``out/`` and ``models/`` there."""
    make_panel().to_csv(tmp_path / "panel.csv", index=False)

    def write(patch: dict | None = None, text: str | bytes | None = None, **data) -> list[str]:
        cfg = {"name": "toy", "seed": 1, "data": {**DATA, **data},
               "estimators": [{"id": "twfe", "method": "twfe"}], **(patch or {})}
        path = tmp_path / "study.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text if text is not None else yaml.safe_dump(cfg, allow_unicode=True),
                            encoding="utf-8")
        return ["run", str(path), "--smoke", "--out", str(tmp_path / "out" / "a"),
                "--models", str(tmp_path / "models")]

    write.root = tmp_path
    return write


# ------------------------------------------------------------------ issue 23: the three cases
@pytest.mark.parametrize("name", ["..", "."])
def test_dot_names_and_ids_are_exit_2_before_anything_is_written(study, name):
    args = study({"name": name, "estimators": [{"id": name, "method": "twfe"}]})
    before = _files(study.root)
    res = _cli(args)
    assert res.exit_code == 2, res.output
    assert "name:" in res.output and "estimators[1].id:" in res.output
    assert "not a folder name" in res.output and "Error" not in res.output
    assert _files(study.root) == before


@pytest.mark.parametrize("seed", [-5, -1, MAX_SEED + 1, 1.5, "5", True, None])
def test_seeds_outside_what_seedsequence_takes_are_exit_2_naming_seed(study, seed):
    res = _cli(study({"seed": seed}))
    assert res.exit_code == 2 and "  - seed: " in res.output, res.output
    assert not (study.root / "models").exists() and not (study.root / "out").exists()


@pytest.mark.parametrize("section", ["params", "smoke"])
@pytest.mark.parametrize("seed", [-1, [[1]], 1.5, MAX_SEED + 1, True])
def test_a_random_state_in_params_must_be_a_seed_too(study, section, seed):
    """An estimator that did not use its random_state (event_study without wild inference)
    accepted any value; a fit that did failed with a raw ValueError."""
    res = _cli(study({"estimators": [{"id": "es", "method": "event_study",
                                      section: {"random_state": seed}}]}))
    assert res.exit_code == 2, res.output
    prefix = "smoke: " if section == "smoke" else ""
    assert f"estimator 'es' (event_study): {prefix}random_state: " in res.output


def test_the_largest_seed_runs(study):
    assert parse_config({"name": "a", "seed": MAX_SEED, "data": DATA,
                         "estimators": [{"id": "a", "method": "twfe"}]}, "x.yaml").seed == MAX_SEED


# ------------------------------------------------------------------ names and paths
@pytest.mark.parametrize("value", [".", "..", ".hidden", "-x", "a/b", "/abs", "a\\b", "", "a b",
                                   "städte", "名前", "a" * (MAX_NAME + 1), 5, None])
def test_names_that_are_not_one_folder_name_are_refused(value):
    assert slug_problem(value) is not None


@pytest.mark.parametrize("value", ["a", "A.b-c_1", "0", "_x", "a" * MAX_NAME, "twfe.v2"])
def test_folder_names_pass(value):
    assert slug_problem(value) is None


@pytest.mark.parametrize("parts", [("..",), ("a", ".."), ("/etc",), ("",), ("a/../..",),
                                   ("a\x00b",), ()])
def test_inside_refuses_whatever_leaves_its_root(tmp_path, parts):
    with pytest.raises(PathEscapeError):
        inside(tmp_path / "root", *parts)


def test_inside_keeps_paths_under_the_root(tmp_path):
    assert inside(tmp_path, "a", "b-1.c") == tmp_path / "a" / "b-1.c"
    assert inside("rel", "x") == Path("rel") / "x"


def test_a_run_folder_and_a_stored_fit_cannot_be_written_outside_their_roots(tmp_path):
    """The writers themselves refuse a path outside their folder (a bug: exit 1), so even a
    name that slipped past the config could not escape."""
    with pytest.raises(PathEscapeError):
        with art.staged_run_dir(tmp_path / "out", "..", "run1"):
            pass
    store = ModelStore(tmp_path / "models")
    with pytest.raises(PathEscapeError):
        store.save("..", "..", "0" * 16, [], {"method": "twfe", "params": {}, "data_hash": "d"})
    with pytest.raises(PathEscapeError):
        store.entry_dir("toy", "../../x", "0" * 16)
    assert FigureStore(tmp_path / "models").get("../" + "0" * 61) is None
    assert _files(tmp_path) == set()


def test_an_internal_path_escape_is_reported_as_a_bug_with_exit_1(study, monkeypatch):
    from bayescity.experiments import runner

    monkeypatch.setattr(runner.art, "new_run_id", lambda chash: "../../escaped")
    res = _cli(study())
    assert res.exit_code == 1
    assert "internal error (a bug in bayescity" in res.output
    assert "refusing to write" in res.output
    assert not (study.root / "escaped").exists()


@pytest.mark.parametrize("out, models, message", [
    ("study.yaml", "models", "--out: "), ("out", "study.yaml", "--models: "),
    ("study.yaml/x", "models", "which is a file"), ("same", "same", "separate folders"),
    ("out", "out/models", "separate folders"), ("m/out", "m", "separate folders")])
def test_out_and_models_must_be_separate_folders(study, out, models, message):
    args = study()[:3] + ["--out", str(study.root / out), "--models", str(study.root / models)]
    before = _files(study.root)
    res = _cli(args)
    assert res.exit_code == 2 and message in res.output, res.output
    assert _files(study.root) == before


def test_an_id_that_names_the_run_folders_index_is_refused(study):
    res = _cli(study({"estimators": [{"id": "index.json", "method": "twfe"}]}))
    assert res.exit_code == 2 and "fits/index.json" in res.output


def test_ids_that_differ_only_in_case_are_duplicates(study):
    res = _cli(study({"estimators": [{"id": "TWFE", "method": "twfe"},
                                     {"id": "twfe", "method": "twfe"}]}))
    assert res.exit_code == 2 and "ignoring case" in res.output


# ------------------------------------------------------------------ the config's own words
@pytest.mark.parametrize("patch, expected", [
    ({"data": [1]}, "  - data: must be a mapping of keys to values (key: value lines), got [1]"),
    ({"estimators": []}, "  - estimators: must not be empty"),
    ({"nmae": "x"}, "  - nmae: unknown key (misspelt?) (did you mean 'name'?)"),
    ({"sweep": {"grid": {"seed": []}}}, "  - sweep.grid: give at least one value for 'seed'"),
    ({"sweep": {"grid": {"nope": [1]}}}, "  - sweep.grid: nope=1: nope: unknown key"),
    ({"sweep": {"grid": {"seed": [1, -1]}}}, "  - sweep.grid: seed=-1: seed: -1 is not a seed"),
    ({"sweep": {"grid": {"estimators.zz.params.a": [1]}}},
     "  - sweep.grid: grid key 'estimators.zz.params.a': no estimator with id 'zz'"),
    ({"estimators": [{"id": "a", "method": "twfe", "params": {"vcov": 5, 1: 2}}]},
     "  - estimators.a.params: keys must be text, got 1"),
])
def test_config_errors_name_the_key_as_the_file_writes_it(study, patch, expected):
    res = _cli(study(patch))
    assert res.exit_code == 2 and expected in res.output, res.output
    for python in ("DataConfig", "EstimatorConfig", "Input should", "Value error", "pydantic"):
        assert python not in res.output


@pytest.mark.parametrize("data, expected", [
    ({"sheet": [1]}, "  - data.sheet: must be text, got [1] or must be an integer, got [1]"),
    ({"encoding": "nope"}, "  - data.encoding: 'nope' is not a text encoding"),
    ({"source": ""}, "  - data.source: give a file path"),
    ({"outcome": ""}, "  - data.outcome: must not be empty"),
])
def test_data_fields_are_checked_when_the_config_is_read(study, data, expected):
    res = _cli(study(**data))
    assert res.exit_code == 2 and expected in res.output, res.output


@pytest.mark.parametrize("text, expected", [
    (b"name: \xff\xfe\n", "is not UTF-8 text"), ("- a\n- b\n", "must hold a mapping"),
    ("a: [1\n", "is not valid YAML")])
def test_unreadable_config_files_are_exit_2(study, text, expected):
    res = _cli(study(text=text))
    assert res.exit_code == 2 and expected in res.output, res.output


def test_a_folder_given_as_config_is_exit_2(study):
    res = _cli(["run", str(study.root), "--out", str(study.root / "out")])
    assert res.exit_code == 2 and "is a folder, not a YAML file" in res.output


def test_a_parameter_error_names_the_estimator_and_method_once(study):
    res = _cli(study({"estimators": [{"id": "t", "method": "twfe", "params": {"bye": 1}},
                                     {"id": "s", "method": "twfe", "smoke": {"vcov": "x"}}]}))
    assert res.exit_code == 2
    assert "estimator 't' (twfe): params: unknown parameter(s) ['bye']; 'bye' (did you mean " \
           "'by'?)" in res.output
    assert "estimator 's' (twfe): smoke: vcov: 'x' is not one of" in res.output
    assert "(twfe): twfe:" not in res.output


def test_an_unknown_by_column_lists_the_traits_and_columns(study):
    res = _cli(study({"estimators": [{"id": "t", "method": "twfe", "params": {"by": "regoin"}}]}))
    assert res.exit_code == 2
    assert "estimator 't' (twfe): by: column 'regoin' is not in the data (did you mean " \
           "'region'?); traits: region; columns: unit, year, g, region" in res.output
    assert "_bc_" not in res.output


# ------------------------------------------------------------------ data found by the fuzzer
@pytest.mark.parametrize("data, expected", [
    ({"source": "."}, "a folder, not a file"),
    ({"traits": ["region", "region"]}, "traits: ['region'] listed more than once"),
    ({"covariates": ["y"]}, "covariates: 'y' is the outcome column"),
    ({"cohort": None, "treatment": "x"}, "treatment must be 0/1; got 0.8825 at rows 1,"),
])
def test_data_mistakes_that_crashed_are_exit_2(study, data, expected):
    res = _cli(study(**data))
    assert res.exit_code == 2 and expected in res.output, res.output
    assert "np.float64" not in res.output


def test_data_check_refuses_an_empty_role_and_a_folder(study):
    base = ["data", "check", str(study.root / "panel.csv"), "--unit", "unit", "--time", "year",
            "--cohort", "g"]
    res = _cli([*base, "--outcome", ""])
    assert res.exit_code == 2 and "--outcome: give a column name" in res.output
    res = _cli(["data", "check", str(study.root), *base[3:], "--outcome", "y"])
    assert res.exit_code == 2 and "a folder, not a file" in res.output


def test_tfp_refuses_a_folder_target_and_a_column_named_twice(study):
    make_panel().to_csv(study.root / "p.csv", index=False)
    base = ["tfp", str(study.root / "p.csv"), "--unit", "unit", "--time", "year"]
    (study.root / "t.csv").mkdir()
    res = _cli([*base, "--inputs", "capital,labor", "--output", "output", "--out",
                str(study.root / "t.csv"), "--force"])
    assert res.exit_code == 2 and "is a folder" in res.output
    res = _cli([*base, "--inputs", "capital,labor", "--output", "output,capital", "--out",
                str(study.root / "t2.csv")])
    assert res.exit_code == 2 and "named more than once: 'capital'" in res.output
    assert not (study.root / "t2.csv").exists()


# ------------------------------------------------------------------ sweeps and the store
def test_grid_keys_reach_estimator_ids_with_dots():
    raw = {"estimators": [{"id": "cs.v2", "params": {}}, {"id": "cs", "params": {}}]}
    set_path(raw, "estimators.cs.v2.params.n_boot", 9)
    set_path(raw, "estimators.cs.params.n_boot", 7)
    assert [e["params"] for e in raw["estimators"]] == [{"n_boot": 9}, {"n_boot": 7}]


def test_models_prune_never_leaves_the_store(study):
    outside = study.root / "outside" / "keep"
    outside.mkdir(parents=True)
    (study.root / "models" / "toy").mkdir(parents=True)
    for experiment in ("..", "../outside", "/", "a/b"):
        res = _cli(["models", "prune", "--experiment", experiment, "--older-than", "0s",
                    "--models", str(study.root / "models")])
        assert res.exit_code == 2 and "--experiment: " in res.output, res.output
        res = _cli(["models", "list", "--experiment", experiment, "--models",
                    str(study.root / "models")])
        assert res.exit_code == 2
    res = _cli(["models", "prune", "--older-than", "0s", "--models", str(study.root)])
    assert res.exit_code == 0 and "removed 0 stored fit(s)" in res.output
    assert outside.is_dir() and (study.root / "panel.csv").is_file()


def test_models_prune_with_an_empty_age_and_show_of_a_broken_fit_are_exit_2(study):
    models = study.root / "models"
    (models / "toy" / "a-0123456789abcdef").mkdir(parents=True)
    res = _cli(["models", "prune", "--older-than", "", "--models", str(models)])
    assert res.exit_code == 2 and "--older-than" in res.output
    res = _cli(["models", "show", str(models / "toy" / "a-0123456789abcdef")])
    assert res.exit_code == 2 and "invalid:" in res.output
    res = _cli(["models", "show", "", "--models", str(models)])
    assert res.exit_code == 2 and "give a key" in res.output


# ------------------------------------------------------------------ issue 18: --help
def _commands(group: click.Command, path=()):
    yield path, group
    for name, sub in getattr(group, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_every_commands_help_shows_flags_as_flags():
    seen = []
    for path, _ in _commands(get_command(app)):
        res = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert res.exit_code == 0, path
        assert "<bool>" not in res.output, (path, res.output)
        seen.append(" ".join(path))
    assert {"run", "sweep", "report", "tfp", "data check", "models prune"} <= set(seen)
    res = runner.invoke(app, ["run", "--help"], terminal_width=200)
    assert "--smoke " in res.output and "--no-smoke" not in res.output


def test_os_errors_are_told_without_the_exception_class(study, monkeypatch):
    from bayescity.experiments import runner as run_module

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(study.root / "out"))

    monkeypatch.setattr(run_module.art, "remove_stale", refuse)
    res = _cli(study())
    assert res.exit_code == 1 and "error: Permission denied: " in res.output
    assert "PermissionError" not in res.output
    assert sorted(os.listdir(study.root)) == ["panel.csv", "study.yaml"]


@pytest.mark.parametrize("method, params", [
    ("imputation", {"covariates": ["gdp level"]}),
    ("twfe", {"covariates": ["gdp level"], "vcov": "CRV3", "cluster": "home province"})])
def test_columns_whose_names_hold_spaces_fit_as_their_renamed_copies(method, params):
    """Formula-based fits failed on a column named 'gdp level' (exit 1 FormulaSyntaxError),
    and pyfixest dropped the space of a cluster column; the estimates must equal those of the
    same data with the columns renamed."""
    from bayescity import load_panel
    from bayescity.estimators import get_estimator

    roles = dict(unit="unit", time="year", outcome="y", cohort="g")
    renames = {"gdp level": "gdp_level", "home province": "home_province"}
    fits = []
    for frame, spec in ((make_panel(), params),
                        (make_panel().rename(columns=renames),
                         yaml.safe_load(yaml.safe_dump(params).replace("gdp level", "gdp_level")
                                        .replace("home province", "home_province")))):
        est = get_estimator(method)(**spec).fit(load_panel(frame, **roles))
        fits.append(est.effect("ATT").table[["term", "estimate", "std_error"]])
    pd.testing.assert_frame_equal(*fits)
    assert fits[0]["std_error"].gt(0).all()


def test_other_libraries_info_logs_stay_off_the_terminal(capsys):
    """pyfixest calls logging.basicConfig(level=INFO) on import; a run that imported it then
    printed fontTools' INFO lines ('maxp pruned' ...) while subsetting the report's CJK font."""
    import logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    root.handlers.clear()
    try:
        assert runner.invoke(app, ["methods"]).exit_code == 0
        logging.basicConfig(level=logging.INFO)  # what importing pyfixest does
        logging.getLogger("fontTools.subset").info("maxp pruned")
        logging.getLogger("some.library").warning("disk almost full")
        printed = capsys.readouterr().err
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    assert "maxp pruned" not in printed and "INFO" not in printed
    assert "warning: disk almost full" in printed


def test_a_panel_cluster_that_varies_within_units_is_exit_2_for_unit_level_estimators(study):
    """data: cluster: x (varying within units) reached callaway_santanna's cells and failed with
    a raw ValueError (exit 1); it is checked with the estimator's other column parameters."""
    res = _cli(study({"estimators": [{"id": "cs", "method": "callaway_santanna"}]},
                     cluster="x"))
    assert res.exit_code == 2, res.output
    assert "estimator 'cs' (callaway_santanna): data.cluster (the panel's cluster): column 'x' " \
           "varies within units" in res.output
    assert _cli(study({"estimators": [{"id": "cs", "method": "callaway_santanna"}]},
                      cluster="region")).exit_code == 0
