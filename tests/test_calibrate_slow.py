"""Calibration of the main study's frequentist estimators on the built-in design (slow).

``bayescity calibrate experiments/innovative_city.yaml`` restricted (``--only``) to its
frequentist estimators, N_REPS replications of every scenario of
:mod:`bayescity.data.scenarios` on the built-in panel's design (285 cities, 2003-2021, the real
pilot cohorts; sigma = the residual sd of tfp_growth's two-way fit on untreated city-years,
effect 0.5 sigma). The calibration folder is written under ``reports/calibration/``
(``calibration.csv``, ``replications.csv``, ``report.html``) with a markdown digest of the
overall and by-region rows, ``reports/calibration/innovative_city_frequentist.md``.

What must hold: the staggered-robust estimators' 95% intervals of ATT cover at the nominal
rate on every scenario (within the 99.9% binomial band of N_REPS draws; errors clustered by
city allow AR(1) shocks), their standardised errors are centred (|z mean| <= 0.35), the West
level's interval covers its true zero at the nominal rate, and with no effect at all ATT is
declared non-zero at about the nominal size.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from bayescity.data.scenarios import SCENARIOS
from bayescity.estimators.registry import get_estimator
from bayescity.experiments.calibrate import run_calibration
from bayescity.experiments.config import load_config
from bayescity.experiments.executors import ExecutorSpec

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "experiments" / "innovative_city.yaml"
REPORT = ROOT / "reports" / "calibration"
N_REPS = 100
#: Estimators whose ATT targets the treated-cell ATT (static TWFE's does not).
ROBUST = ("cs_dr", "cs_region", "cs_north_south", "sun_abraham", "imputation")


def frequentist_ids() -> list[str]:
    return [e.id for e in load_config(CONFIG).estimators
            if get_estimator(e.method).paradigm == "frequentist"]


def band(n: int, p: float = 0.95, level: float = 0.999) -> tuple[float, float]:
    tail = (1 - level) / 2
    return stats.binom.ppf(tail, n, p) / n, stats.binom.ppf(1 - tail, n, p) / n


def digest(table: pd.DataFrame) -> str:
    keep = (table["estimand"] == "ATT") | table["estimand"].str.startswith("ATT_by_")
    cols = ["scenario", "estimator", "estimand", "term", "truth", "coverage", "z_mean", "z_sd",
            "mean_width", "power", "size", "n_reps", "n_failed"]
    return table.loc[keep, cols].round(3).to_markdown(index=False)


@pytest.mark.slow
def test_frequentist_estimators_calibrate_on_the_builtin_design(tmp_path):
    start = time.perf_counter()
    workers = min(2, os.cpu_count() or 1)
    outcome = run_calibration(CONFIG, reports_root=REPORT, models_root=tmp_path / "models",
                              only=frequentist_ids(), replications=N_REPS,
                              executor=ExecutorSpec.from_options(workers))
    seconds = time.perf_counter() - start
    table = outcome.table
    (REPORT / "innovative_city_frequentist.md").write_text(
        f"# Calibration on the built-in design: frequentist estimators\n\n"
        f"{N_REPS} replications per scenario, {workers} workers, {seconds:.0f} s; folder "
        f"{outcome.folder.relative_to(ROOT)}\n\n{digest(table)}\n", encoding="utf-8")
    assert (table["n_failed"] == 0).all()
    att = table[table["estimand"] == "ATT"].set_index(["scenario", "estimator"])
    lo, hi = band(N_REPS)
    for scenario in SCENARIOS:
        for est in ROBUST:
            row = att.loc[(scenario, est)]
            assert row["n_reps"] == N_REPS
            assert lo <= row["coverage"] <= hi, (scenario, est, row["coverage"])
            assert abs(row["z_mean"]) <= 0.35, (scenario, est, row["z_mean"])
    for est in ROBUST:
        assert att.loc[("no_effect", est), "size"] <= 1 - lo, est
    west = table[(table["term"] == "West") & (table["scenario"] == "by_trait_zero_level")]
    assert len(west) >= 3 and (west["truth"] == 0).all()
    for _, row in west[west["estimator"].isin(ROBUST)].iterrows():
        assert lo <= row["coverage"] <= hi, (row["estimator"], row["coverage"])


@pytest.mark.slow
def test_a_dask_cluster_gives_the_serial_table(tmp_path):
    from distributed import LocalCluster

    from test_calibrate import ESTIMATORS, study, user_csv

    user_csv(tmp_path)
    config = study(tmp_path, ESTIMATORS, {"scenarios": ["dynamic_by_region", "heavy_tails"],
                                          "replications": 3})
    serial = run_calibration(config, reports_root=tmp_path / "a", models_root=tmp_path / "m")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        spec = ExecutorSpec.from_options(1, "dask", cluster.scheduler_address)
        dask = run_calibration(config, reports_root=tmp_path / "b", models_root=tmp_path / "m",
                               executor=spec)
    assert (serial.folder / "calibration.csv").read_bytes() == \
        (dask.folder / "calibration.csv").read_bytes()
    pd.testing.assert_frame_equal(serial.replications, dask.replications)
