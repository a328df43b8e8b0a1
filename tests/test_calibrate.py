"""``bayescity calibrate``: simulated outcomes on the user's own design, every estimator refitted,
coverage and standardised errors against a truth aggregated with the shared weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from bayescity.cli import app
from bayescity.data.loader import load_panel
from bayescity.data.scenarios import TAU, simulate, user_design
from bayescity.experiments.calibration_measures import calibration_table
from bayescity.experiments.calibration_task import replication_seed
from conftest import make_staggered

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
REGIONS = np.array(["East", "Middle", "West"])


def user_csv(folder: Path, n_never: int | None = None, cohorts=(2003, 2008)) -> Path:
    """A user's panel file: 48 cities, 2000-2011, three regions and a numeric trait."""
    df = make_staggered(n_units=48, years=(2000, 2011), cohorts=cohorts, n_never=n_never)
    df["region"] = np.repeat(REGIONS[np.arange(48) % 3], 12)
    df["size"] = np.repeat(np.random.default_rng(1).normal(size=48), 12)
    df.to_csv(folder / "panel.csv", index=False)
    return folder / "panel.csv"


def study(folder: Path, estimators: list[dict], calibration: dict | None, **data) -> Path:
    config = {"name": "toy", "seed": 7,
              "data": {"source": "panel.csv", "unit": "unit", "time": "year", "outcome": "y",
                       "cohort": "g", "covariates": ["x"], "traits": ["region", "size"],
                       **data},
              "estimators": estimators}
    if calibration is not None:
        config["calibration"] = calibration
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def calibrate(config: Path, out: Path, *args: str):
    return runner.invoke(app, ["calibrate", str(config), "--out", str(out), "--models",
                               str(out.parent / "m"), "--quiet", *args], catch_exceptions=False)


def folders(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("*/calibration-*") if p.is_dir()) if out.exists() else []


ESTIMATORS = [{"id": "twfe", "method": "twfe", "params": {}},
              {"id": "imputation", "method": "imputation", "params": {"by": "region"}},
              {"id": "cs", "method": "callaway_santanna", "params": {"covariates": []}}]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """One calibration of a user's CSV: twfe, imputation and CS on two scenarios."""
    folder = tmp_path_factory.mktemp("calib")
    user_csv(folder)
    binned = {"id": "twfe_size", "method": "twfe", "params": {"by": "size", "by_bins": "median"}}
    config = study(folder, [*ESTIMATORS, binned],
                   {"scenarios": ["homogeneous", "by_trait_zero_level"], "replications": 6,
                    "zero_level": "West"})
    res = calibrate(config, folder / "rep")
    assert res.exit_code == 0, res.output
    (run,) = folders(folder / "rep")
    reps = pd.read_csv(run / "replications.csv", dtype={"term": str})
    return {"config": config, "run": run, "output": res.output, "reps": reps,
            "table": pd.read_csv(run / "calibration.csv", dtype={"term": str}),
            "lock": yaml.safe_load((run / "config.lock.yaml").read_text())}


def test_a_users_csv_calibrates_into_one_complete_folder(calibrated):
    run = calibrated["run"]
    assert sorted(p.name for p in run.iterdir()) == ["calibration.csv", "config.lock.yaml",
                                                     "replications.csv", "report.html"]
    assert str(run) in calibrated["output"].replace("\n", "")
    lock = calibrated["lock"]
    assert lock["scenarios"] == ["homogeneous", "by_trait_zero_level"]
    assert lock["replications"] == 6 and lock["design"]["zero level"] == "West"
    html = (run / "report.html").read_text()
    assert "Coverage of the intervals" in html and "by_trait_zero_level" in html
    assert html.count("data:image/png;base64,") == 2 and "<script" not in html


def test_a_run_of_the_same_design_finds_the_calibration_beside_it(calibrated):
    """The report's agreement paragraph cites a calibration whose lock records the run's data
    hash (reports/calibration_hook.py): calibrate records the hash a run of the config does."""
    from bayescity.experiments import artefacts as art
    from bayescity.experiments.config import load_config
    from bayescity.experiments.runner import load_experiment_panel
    from bayescity.reports.calibration_hook import find_calibration, read_calibration

    config = load_config(calibrated["config"])
    dhash = art.data_hash(load_experiment_panel(config))
    assert calibrated["lock"]["data_hash"] == dhash
    run_dir = calibrated["run"].parent / "20990101-000000-00000000"
    found = find_calibration(run_dir, {"data_hash": dhash})
    assert found == calibrated["run"] / "calibration.csv"
    assert find_calibration(run_dir, {"data_hash": "0" * 64}) is None
    assert read_calibration(found) is not None


def _resimulate(lock: dict, config: Path, scenario: str, replication: int):
    panel = load_panel(config.parent / "panel.csv", unit="unit", time="year", outcome="y",
                       cohort="g", covariates=["x"], traits=["region", "size"])
    from bayescity.experiments.calibration_config import CalibrationConfig

    design = user_design(panel, CalibrationConfig(zero_level="West").settings())
    data_seed, _ = replication_seed(lock["seed"], 0, scenario, replication).spawn(2)
    return design, simulate(design, scenario, np.random.default_rng(data_seed))


def test_truth_is_the_simulated_effects_aggregated_with_treated_cell_weights(calibrated):
    reps, lock = calibrated["reps"], calibrated["lock"]
    _, sim = _resimulate(lock, calibrated["config"], "by_trait_zero_level", 3)
    eff = sim.effects.assign(e=sim.effects["year"] - sim.effects["_bc_cohort"])
    rows = reps[(reps["scenario"] == "by_trait_zero_level") & (reps["replication"] == 3)
                & (reps["estimator"] == "imputation")].set_index(["estimand", "term"])["truth"]
    assert rows[("ATT", "overall")] == pytest.approx(eff[TAU].mean(), abs=1e-12)
    by_region = eff.groupby("region")[TAU].mean()
    delta = lock["design"]["reference effect (delta)"]
    assert by_region["West"] == 0 and rows[("ATT_by_region", "West")] == 0
    assert rows[("ATT_by_region", "East")] == pytest.approx(0.5 * delta, rel=1e-5)
    assert rows[("ATT_by_region", "Middle")] == pytest.approx(1.5 * delta, rel=1e-5)
    cells = eff.groupby(["_bc_cohort", "year"])[TAU].mean()
    for g in (2003, 2008):
        assert rows[("ATT_cohort", str(g))] == pytest.approx(cells.loc[g].mean(), abs=1e-12)
    for e, value in eff.groupby("e")[TAU].mean().items():
        assert rows[("ATT_event", str(e))] == pytest.approx(value, abs=1e-12)
    binned = reps[(reps["scenario"] == "by_trait_zero_level") & (reps["replication"] == 3)
                  & (reps["estimator"] == "twfe_size")].set_index(["estimand", "term"])["truth"]
    units = sim.panel.unit_table()
    upper = units["unit"][units["size"] > units["size"].median()]
    high = eff["unit"].isin(upper)
    assert binned[("ATT_by_size", "Q2")] == pytest.approx(eff.loc[high, TAU].mean(), abs=1e-12)
    assert binned[("ATT_by_size", "Q1")] == pytest.approx(eff.loc[~high, TAU].mean(), abs=1e-12)


def test_projection_truth_is_exact_for_an_effect_linear_in_a_trait(tmp_path):
    user_csv(tmp_path)
    panel = load_panel(tmp_path / "panel.csv", unit="unit", time="year", outcome="y",
                       cohort="g", traits=["region", "size"])
    from bayescity.estimands.truth import ScenarioTruth

    design = user_design(panel)
    sim = simulate(design, "linear_in_trait", np.random.default_rng(0))
    truth = ScenarioTruth(sim.effects, "unit", "year")
    units = panel.unit_table()
    sd = units.loc[units["_bc_cohort"] > 0, "size"].std(ddof=1)
    slopes = truth.of("BLP", ["size", "region=Middle", "noise_1", "noise_2"])
    assert slopes[0] == pytest.approx(design.delta * 0.5 / sd, rel=1e-8)
    assert list(slopes[1:]) == [0.0, 0.0, 0.0]
    assert sim.drivers == ("size",) and set(sim.noise_traits) <= set(sim.panel.traits)


def test_correct_estimators_cover_on_the_homogeneous_scenario(calibrated):
    table = calibrated["table"]
    for est in ("imputation", "cs"):
        rows = table[(table["scenario"] == "homogeneous") & (table["estimator"] == est)
                     & table["coverage"].notna()]
        assert (rows["interval_prob"] == 0.95).all()
        assert rows.loc[rows["estimand"] == "ATT", "coverage"].item() >= 4 / 6
        pooled = np.average(rows["coverage"], weights=rows["n_reps"])
        assert 0.85 <= pooled <= 1.0, (est, pooled)
        assert abs(np.average(rows["z_mean"], weights=rows["n_reps"])) < 0.6
    zero = table[(table["scenario"] == "by_trait_zero_level") & (table["term"] == "West")]
    assert (zero["truth"] == 0).all() and zero["power"].isna().all() and zero["size"].notna().all()
    equal = table[(table["estimand"] == "equal_levels") & (table["term"] == "region")]
    equal = equal.set_index("scenario")
    delta = calibrated["lock"]["design"]["reference effect (delta)"]
    assert equal.loc["homogeneous", "truth"] == 0
    assert equal.loc["homogeneous", "false_discovery"] <= 2 / 6
    assert equal.loc["by_trait_zero_level", "truth"] == pytest.approx(1.5 * delta, rel=1e-5)
    assert equal.loc["by_trait_zero_level", "power"] >= 4 / 6


def test_the_table_is_recomputed_from_the_replications(calibrated):
    again = calibration_table(calibrated["reps"])
    again["term"] = again["term"].astype(str)
    pd.testing.assert_frame_equal(again.reset_index(drop=True),
                                  calibrated["table"].fillna({"role": ""}).astype(again.dtypes),
                                  check_exact=False, rtol=1e-12)


def test_static_twfe_under_dynamic_effects_undercovers(tmp_path):
    user_csv(tmp_path, n_never=0, cohorts=(2002, 2009))
    config = study(tmp_path, [ESTIMATORS[0], {"id": "cs", "method": "callaway_santanna",
                                              "params": {"covariates": [],
                                                         "control_group": "not_yet_treated"}}],
                   {"scenarios": ["dynamic_by_region"], "replications": 12, "effect_size": 3})
    assert calibrate(config, tmp_path / "rep").exit_code == 0
    (run,) = folders(tmp_path / "rep")
    att = pd.read_csv(run / "calibration.csv").query("estimand == 'ATT'").set_index("estimator")
    assert att.loc["twfe", "coverage"] <= 0.5 and att.loc["twfe", "z_mean"] < -1.5
    assert att.loc["cs", "coverage"] >= 10 / 12 and abs(att.loc["cs", "z_mean"]) < 0.6


def test_same_seed_same_table_locally_and_on_two_workers(tmp_path):
    user_csv(tmp_path)
    block = {"scenarios": ["ar1_shocks", "heavy_tails"], "replications": 2}
    config = study(tmp_path, [ESTIMATORS[0], ESTIMATORS[2]], block)
    for args in ([], [], ["--workers", "2"]):
        assert calibrate(config, tmp_path / "rep", *args).exit_code == 0
    tables = [(p / "calibration.csv").read_bytes() for p in folders(tmp_path / "rep")]
    assert len(tables) == 3 and tables[0] == tables[1] == tables[2]
    other = study(tmp_path, [ESTIMATORS[0], ESTIMATORS[2]], {**block, "seed_offset": 1})
    assert calibrate(other, tmp_path / "rep2").exit_code == 0
    (moved,) = folders(tmp_path / "rep2")
    assert (moved / "calibration.csv").read_bytes() != tables[0]


@pytest.mark.parametrize("calibration, words", [
    ({"scenarios": ["homogenous"]}, ["calibration.scenarios", "did you mean 'homogeneous'"]),
    ({"replicatons": 5}, ["calibration.replicatons", "unknown key"]),
    ({"rho": 1.5}, ["calibration.rho"]),
    ({"zero_level": "Tibet"}, ["calibration: zero_level", "'Tibet'", "West"]),
    ({"trait": "size"}, ["calibration: trait", "numeric"]),
    ({"params": {"twfee": {}}}, ["calibration: params", "did you mean 'twfe'"]),
    ({"params": {"twfe": {"inferense": "wild"}}},
     ["calibration: params: estimator 'twfe' (twfe)", "did you mean 'inference'"]),
    ({"params": {"twfe": {"vcov": "robust"}}}, ["calibration: params: estimator 'twfe'", "vcov"]),
    ({"replications": 2**70}, ["calibration.replications"]),
    ({"effect_size": float("nan")}, ["calibration.effect_size"]),
    ({"seed_offset": 2**128}, ["calibration.seed_offset"]),
])
def test_mistakes_in_the_block_exit_2_in_the_configs_words(tmp_path, calibration, words):
    user_csv(tmp_path)
    res = calibrate(study(tmp_path, [ESTIMATORS[0]], calibration), tmp_path / "rep")
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert all(w in text for w in words), text
    assert not (tmp_path / "rep").exists()


def test_a_scenario_the_design_cannot_carry_is_refused_by_name_or_skipped(tmp_path):
    user_csv(tmp_path)
    config = study(tmp_path, [ESTIMATORS[0]], {"scenarios": ["linear_in_trait"]},
                   traits=["region"])
    res = calibrate(config, tmp_path / "rep")
    assert res.exit_code == 2 and "'linear_in_trait' needs a numeric trait" in res.output
    config = study(tmp_path, [ESTIMATORS[0]], {"replications": 1}, traits=["region"])
    res = calibrate(config, tmp_path / "rep", "--only", "twfe")
    assert res.exit_code == 0, res.output
    assert "scenario linear_in_trait skipped" in " ".join(res.output.split())
    for args, words in ((["--only", "twfee"], "--only"),
                        (["--scenario", "homogenous"], "did you mean 'homogeneous'"),
                        (["--replications", "0"], "--replications"),
                        (["--reps", "-1"], "--reps")):
        res = calibrate(config, tmp_path / "rep", *args)
        assert res.exit_code == 2 and words in " ".join(res.output.split()), args


def test_a_failing_fit_is_counted_not_fatal(tmp_path):
    from bayescity.experiments.calibration_task import EstimatorSpec, _fit_rows

    user_csv(tmp_path)
    panel = load_panel(tmp_path / "panel.csv", unit="unit", time="year", outcome="y",
                       cohort="g", traits=["region", "size"])
    sim = simulate(user_design(panel), "homogeneous", np.random.default_rng(1))
    from bayescity.estimands.truth import ScenarioTruth

    truth = ScenarioTruth(sim.effects, "unit", "year")
    bad = _fit_rows(EstimatorSpec("bad", "twfe", {"by": "province"}), 1, sim, truth)
    good = _fit_rows(EstimatorSpec("twfe", "twfe", {}), 1, sim, truth)
    assert bad["error"].str.contains("province").all() and (good["error"] == "").all()
    reps = pd.concat([pd.concat([good, bad]).assign(scenario="homogeneous", replication=r)
                      for r in range(3)], ignore_index=True)
    table = calibration_table(reps).set_index("estimator")
    assert table.loc["bad", "n_failed"] == 3 and table.loc["bad", "n_reps"] == 0
    assert table.loc["twfe", "n_failed"] == 0 and table.loc["twfe", "n_reps"] == 3


def test_noise_traits_enter_the_heterogeneity_estimators_and_their_drivers(tmp_path):
    user_csv(tmp_path)
    dml = {"id": "dml", "method": "dml",
           "params": {"covariates": [], "effect_modifiers": ["region", "size"]}}
    config = study(tmp_path, [dml], {"scenarios": ["linear_in_trait"]})
    res = calibrate(config, tmp_path / "rep", "--smoke", "--reps", "1")
    assert res.exit_code == 0, res.output
    (run,) = folders(tmp_path / "rep")
    reps = pd.read_csv(run / "replications.csv", dtype={"term": str})
    blp = reps[reps["estimand"] == "BLP"].set_index("term")
    assert {"noise_1", "noise_2"} <= set(blp.index)
    assert (blp.loc[["noise_1", "noise_2"], "role"] == "noise").all()
    assert (blp.loc[["noise_1", "noise_2"], "truth"] == 0).all()
    assert blp.loc["size", "role"] == "driver" and blp.loc["size", "truth"] > 0
    drivers = reps[reps["estimand"] == "drivers"].set_index("term")
    assert set(drivers.index) == {"region", "size", "noise_1", "noise_2"}
    assert sorted(drivers["rank"]) == [1, 2, 3, 4]
    table = pd.read_csv(run / "calibration.csv")
    noise = table[(table["estimand"] == "drivers") & (table["role"] == "noise")]
    assert noise["false_discovery"].between(0, 1).all() and noise["rank_first"].notna().all()


def test_every_shipped_calibration_config_calibrates_in_smoke_mode(tmp_path):
    shipped = [c for c in sorted((ROOT / "experiments").glob("*.yaml"))
               if "calibration" in (yaml.safe_load(c.read_text()) or {})]
    assert shipped
    for config in shipped:
        res = calibrate(config, tmp_path / "rep", "--smoke")
        assert res.exit_code == 0, (config.name, res.output)
    table = pd.read_csv(folders(tmp_path / "rep")[0] / "calibration.csv")
    assert (table["n_reps"] >= 1).all() and table["coverage"].notna().any()


def test_noise_scale_is_the_untreated_two_way_residual_sd_as_statsmodels_fits_it(tmp_path):
    import statsmodels.formula.api as smf

    df = pd.read_csv(user_csv(tmp_path))
    df = df.drop(index=np.random.default_rng(3).choice(len(df), 60, replace=False))
    panel = load_panel(df, unit="unit", time="year", outcome="y", cohort="g",
                       traits=["region", "size"])
    design = user_design(panel)
    untreated = panel.data[panel.data["_bc_treat"] == 0]
    ols = smf.ols("y ~ C(unit) + C(year)", data=untreated).fit()
    assert design.sigma == pytest.approx(np.sqrt(ols.scale), rel=1e-8)
    fitted = (design.unit_effect[panel.unit_codes] + design.period_effect[panel.time_codes])
    on = panel.frame["_bc_treat"].to_numpy() == 0
    assert np.allclose(fitted[on], ols.fittedvalues.to_numpy(), atol=1e-7)


def test_scenario_noise_has_the_users_scale_and_its_named_structure(tmp_path):
    from bayescity.data.scenarios import scenario_noise

    panel = load_panel(user_csv(tmp_path), unit="unit", time="year", outcome="y", cohort="g",
                       traits=["region", "size"])
    design = user_design(panel)
    rng = np.random.default_rng(11)
    for scenario in ("homogeneous", "ar1_shocks", "heavy_tails"):
        u = np.stack([scenario_noise(design, scenario, rng) for _ in range(60)])
        assert u.std() == pytest.approx(design.sigma, rel=0.08), scenario
        grid = u.reshape(60, 48, 12)
        lag1 = np.corrcoef(grid[:, :, 1:].ravel(), grid[:, :, :-1].ravel())[0, 1]
        expected = 0.5 if scenario == "ar1_shocks" else 0.0
        assert lag1 == pytest.approx(expected, abs=0.03), scenario
        kurtosis = ((u - u.mean()) ** 4).mean() / u.var() ** 2
        assert (kurtosis > 5) == (scenario == "heavy_tails"), (scenario, kurtosis)


def test_the_no_effect_scenario_answers_to_null_as_yaml_and_the_cli_write_it(tmp_path):
    user_csv(tmp_path)
    config = study(tmp_path, [ESTIMATORS[0]], {"scenarios": [None], "replications": 1})
    assert "- null" in config.read_text()
    assert calibrate(config, tmp_path / "rep").exit_code == 0
    assert calibrate(config, tmp_path / "rep", "--scenario", "null").exit_code == 0
    for run in folders(tmp_path / "rep"):
        table = pd.read_csv(run / "calibration.csv")
        assert set(table["scenario"]) == {"no_effect"}
        assert (table.loc[table["estimand"] == "ATT", "truth"] == 0).all()
