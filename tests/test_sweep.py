"""Sweeps and executors: grid keys address any config path; serial, local-process and Dask
runs give the same table; estimators' parallel loops give the same numbers everywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bayescity.experiments.config import ConfigError
from bayescity.experiments.executors import (DaskExecutor, ExecutorError, ExecutorSpec,
                                             LocalPoolExecutor)
from bayescity.experiments.sweep import (GridError, check_variants, parse_grid, run_sweep,
                                         set_path, split_values, variants)
from bayescity.parallel import map_tasks, use_executor
from bayescity.progress import progress_to
from conftest import make_staggered

CONFIG = {
    "name": "toy",
    "seed": 7,
    "data": {"source": "panel.csv", "unit": "unit", "time": "year", "outcome": "y", "cohort": "g",
             "covariates": ["x"], "traits": ["region"]},
    "estimators": [{"id": "wild", "method": "twfe",
                    "params": {"inference": "wild", "n_boot": 199}},
                   {"id": "region", "method": "twfe", "params": {"by": "region"}}],
}
GRID = ["seed=1,2", "data.outcome=y,y2"]


def write_config(tmp_path: Path, config: dict = CONFIG) -> Path:
    df = make_staggered(n_units=30)
    df["y2"] = df["y"] + np.random.default_rng(5).normal(size=len(df))
    df.to_csv(tmp_path / "panel.csv", index=False)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_values_split_at_top_level_commas_and_parse_as_yaml():
    assert split_values("1,2.5,[a,b],{k: 1},null") == ["1", "2.5", "[a,b]", "{k: 1}", "null"]
    grid = parse_grid(["seed=1,2", "estimators.a.params.priors.scale=0.5,1e-1",
                       "data.covariates=[x],[]"])
    assert grid == {"seed": [1, 2], "estimators.a.params.priors.scale": [0.5, 0.1],
                    "data.covariates": [["x"], []]}
    for bad in ("seed", "=1", "seed="):
        with pytest.raises(GridError, match="KEY=VALUE"):
            parse_grid([bad])


def test_grid_keys_address_estimators_by_id_and_nested_params():
    raw = {"seed": 1, "data": {"outcome": "y"},
           "estimators": [{"id": "bayes", "method": "m", "params": {"priors": {"a": 1}}}]}
    set_path(raw, "estimators.bayes.params.priors.trait", 0.5)
    set_path(raw, "estimators.bayes.smoke.draws", 50)
    set_path(raw, "data.outcome", "tfp")
    assert raw["estimators"][0]["params"]["priors"] == {"a": 1, "trait": 0.5}
    assert raw["estimators"][0]["smoke"] == {"draws": 50} and raw["data"]["outcome"] == "tfp"
    with pytest.raises(GridError, match="no estimator with id 'bayse'.*'bayes'"):
        set_path(raw, "estimators.bayse.params.x", 1)
    with pytest.raises(GridError, match="no 'dta'"):
        set_path(raw, "dta.outcome", "y")


def test_every_variant_is_checked_before_any_fit(tmp_path):
    cfg = write_config(tmp_path)
    found = variants(cfg, parse_grid(["data.outcome=y,nope"]))
    with pytest.raises(ConfigError, match="variant data.outcome=nope"):
        check_variants(cfg, found)
    found = variants(cfg, parse_grid(["estimators.wild.params.n_bot=9"]))
    with pytest.raises(ConfigError, match="n_bot"):
        check_variants(cfg, found)
    with pytest.raises(ExecutorError, match="--scheduler"):
        ExecutorSpec.from_options(1, "dask", None)


def _square_with_noise(item: tuple[int, int]) -> float:
    value, seed = item
    return value ** 2 + float(np.random.default_rng(seed).normal())


def _nested(items: list) -> list:
    """What a sweep variant does on a worker: its estimators' loops go back to the cluster."""
    with use_executor(DaskExecutor(None)):
        return map_tasks(_square_with_noise, items)


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address=None) as c:
        yield c


@pytest.fixture(scope="module")
def serial_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serial")
    cfg = write_config(tmp)
    return cfg, run_sweep(cfg, GRID, reports_root=tmp / "rep", models_root=tmp / "m")


def test_sweep_table_has_a_column_per_grid_key(serial_sweep):
    cfg, outcome = serial_sweep
    table = outcome.table
    assert list(table.columns[:3]) == ["seed", "data.outcome", "variant"]
    assert table["variant"].nunique() == 4 and set(table["data.outcome"]) == {"y", "y2"}
    on_disk = pd.read_csv(outcome.folder / "sweep.csv")
    assert len(on_disk) == len(table) and outcome.folder.parent.name == "toy"
    wild = table[(table["estimator"] == "wild") & (table["data.outcome"] == "y")]
    # the bootstrap interval follows the seed; the point estimate does not
    assert wild["estimate"].nunique() == 1 and wild["lower"].nunique() == 2
    grid_doc = yaml.safe_load((outcome.folder / "grid.yaml").read_text())
    assert grid_doc["grid"] == {"seed": [1, 2], "data.outcome": ["y", "y2"]}


def test_local_pool_and_dask_sweeps_give_the_same_table(serial_sweep, cluster, tmp_path):
    cfg, outcome = serial_sweep
    pool = run_sweep(cfg, GRID, reports_root=tmp_path / "rep", models_root=tmp_path / "m1",
                     executor=ExecutorSpec.from_options(2))
    pd.testing.assert_frame_equal(pool.table, outcome.table)
    dask = run_sweep(cfg, GRID, reports_root=tmp_path / "rep", models_root=tmp_path / "m2",
                     executor=ExecutorSpec.from_options(1, "dask", cluster.scheduler_address))
    pd.testing.assert_frame_equal(dask.table, outcome.table)
    assert len(list((tmp_path / "m2" / "toy").iterdir())) == 8  # fitted on the cluster, stored


def test_parallel_loops_give_the_same_numbers_on_every_executor(cluster):
    items = [(i, int(s.generate_state(1)[0])) for i, s in
             enumerate(np.random.SeedSequence(3).spawn(8))]
    serial = map_tasks(_square_with_noise, items)
    events = []
    pool = LocalPoolExecutor(2)
    try:
        with use_executor(pool), progress_to(events.append):
            assert map_tasks(_square_with_noise, items) == serial
    finally:
        pool.close()
    assert events[-1].completed == events[-1].total == 8
    dask = DaskExecutor(cluster.scheduler_address)
    try:
        with use_executor(dask):
            assert map_tasks(_square_with_noise, items) == serial
            assert map_tasks(_nested, [items]) == [serial]
    finally:
        dask.close()
