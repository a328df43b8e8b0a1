"""Placebo permutations on a Dask cluster, through the runner's executor option, give exactly the
serial run's p-values and placebo distributions for the same seed."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from bayescity.experiments.executors import ExecutorSpec
from bayescity.experiments.runner import run_experiment
from conftest import make_staggered

CONFIG = {
    "name": "placebo_dask", "seed": 11,
    "data": {"source": "panel.csv", "unit": "unit", "time": "year", "outcome": "y",
             "cohort": "g", "covariates": ["x"], "traits": ["region"]},
    "estimators": [
        # the Frisch-Waugh-Lovell path: 3 batches (100, 100, 50), ATT and both regions
        {"id": "fwl", "method": "placebo", "params": {"n_permutations": 250, "by": "region"}},
        # the refitting path: 2 batches (100, 10), strata
        {"id": "refit", "method": "placebo",
         "params": {"n_permutations": 110, "fast_path": False, "strata": "region"}},
    ],
}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("placebo_dask")
    make_staggered(seed=9, n_units=30, years=(2000, 2007)).to_csv(tmp / "panel.csv", index=False)
    path = tmp / "study.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return tmp, path


def _placebos(outcome):
    return {(est_id, r.estimand): r for est_id, rs in outcome.results.items() for r in rs}


def test_dask_cluster_gives_the_serial_placebo_numbers(study):
    from distributed import LocalCluster

    tmp, path = study
    serial = run_experiment(path, reports_root=tmp / "rep", models_root=tmp / "m_serial")
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        remote = run_experiment(path, reports_root=tmp / "rep", models_root=tmp / "m_dask",
                                executor=ExecutorSpec("dask", scheduler=cluster.scheduler_address))
        ran_there = set(cluster.scheduler.task_prefixes)
    assert {"fwl_task", "refit_task"} <= ran_there  # the permutations ran on the cluster
    assert not remote.cached  # fitted there, not read from the serial run's store
    ours, theirs = _placebos(serial), _placebos(remote)
    assert set(ours) == {("fwl", "ATT"), ("fwl", "ATT_by_region"), ("refit", "ATT")}
    for key, r in ours.items():
        other = theirs[key]
        np.testing.assert_array_equal(r.table["p_value"], other.table["p_value"])
        np.testing.assert_array_equal(np.asarray(r.part("placebo").draws[:, 0]),
                                      np.asarray(other.part("placebo").draws[:, 0]))
        assert len(r.part("placebo").draws[:, 0]) == r.facts()["n_permutations"]
    p = ours[("fwl", "ATT")].row("overall")["p_value"]
    assert 0 < p <= 1 and np.unique(ours[("fwl", "ATT")].part("placebo").draws[:, 0]).size > 200
