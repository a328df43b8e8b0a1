"""Coverage of the clustered intervals of dml and size/power of the calibration test (slow).

Design. ``simulate_city_panel(30_000 + i, selection=False)`` for i < N_PANELS (285 cities,
2003-2021, the real pilot cohorts, region x north/south x income x cohort effects that build up
over three years) with two noise traits, fitted by ``dml`` with ``linear`` learners and
not-yet-treated controls. Scored against the truth of each panel:

* ``ATT``/overall against ``truth.att``;
* each ``BLP`` slope against the projection of the true per-city effects on the same modifiers
  (weighted by post cells, as the estimate): the sample BLP;
* the rejection rate of the noise-trait slopes (true value zero in the population);
* the calibration test's differential coefficient: its power on these panels and its size on
  N_NULL panels ``simulate_city_panel(40_000 + i, selection=False, heterogeneous=False,
  dynamic=False, cohort_effects=False)``, for ``dml`` and (N_FOREST panels each, 500 trees)
  ``causal_forest``; the same for the joint BLP test;
* the drivers table: the share of heterogeneous panels whose two leading traits (combined rank)
  are both true drivers (region3, north_south, ln_gdp_pc_2003), for ``dml`` (N_PANELS) and
  ``causal_forest`` (N_FOREST).

Every number is written to ``reports/ml_coverage/``.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

import bayescity as bc
from test_ml_recovery import HOMOGENEOUS, NOISE_TRAITS, TRUE_DRIVERS, simulated, true_blp

N_PANELS = 120
N_NULL = 120
N_FOREST = 60
ALPHA = 0.05
REPORT = Path(__file__).resolve().parents[1] / "reports" / "ml_coverage"
LINEAR = dict(outcome_model="linear", propensity_model="linear", control_group="not_yet_treated")
FOREST = dict(LINEAR, n_trees=500, n_seeds=0)


def _calibration_p(est) -> float:
    tests = {t.name: t for t in est.effect("CATE").tests}
    return tests["calibration: differential forest prediction"].p_value


def _joint_p(est) -> float:
    return est.effect("BLP").tests[0].p_value


def _top_two_true(est) -> bool:
    drivers = est.effect("CATE").part_frame("drivers")
    return set(drivers["trait"][:2]) <= TRUE_DRIVERS


def _coverage_rows(seed: int) -> list[dict]:
    panel, sim = simulated(seed)
    est = bc.make_estimator("dml", random_state=seed, **LINEAR).fit(panel)
    att = est.effect("ATT").row("overall")
    rows = [dict(seed=seed, estimand="ATT", term="overall", truth=sim.truth.att,
                 estimate=att.estimate, lower=att.lower, upper=att.upper, p_value=att.p_value)]
    truth = true_blp(est, sim)
    for _, r in est.effect("BLP").table.iterrows():
        rows.append(dict(seed=seed, estimand="BLP", term=r.term, truth=truth[r.term],
                         estimate=r.estimate, lower=r.lower, upper=r.upper, p_value=r.p_value))
    rows.append(dict(seed=seed, estimand="calibration_dml", term="differential",
                     p_value=_calibration_p(est)))
    rows.append(dict(seed=seed, estimand="blp_joint", term="slopes", p_value=_joint_p(est)))
    rows.append(dict(seed=seed, estimand="drivers_dml", term="top_two_true",
                     estimate=float(_top_two_true(est))))
    return rows


def _calibration_rows(method: str, params: dict, seed: int, **sim_kwargs) -> dict:
    panel, _ = simulated(seed, **sim_kwargs)
    est = bc.make_estimator(method, random_state=seed, **params).fit(panel)
    return dict(seed=seed, method=method, p_value=_calibration_p(est), joint_p=_joint_p(est),
                top_two_true=_top_two_true(est))


def _summary(draws: pd.DataFrame) -> pd.DataFrame:
    scored = draws[draws["estimand"].isin(["ATT", "BLP"])].copy()
    scored["covered"] = (scored["lower"] <= scored["truth"]) & (scored["truth"] <= scored["upper"])
    scored["noise"] = scored["term"].str.split("=").str[0].isin(NOISE_TRAITS)
    out = scored.groupby(["estimand", "term"]).agg(
        panels=("covered", "size"), coverage=("covered", "mean"),
        reject_at_5pct=("p_value", lambda p: float((p < ALPHA).mean())),
        mean_bias=("estimate", "mean")).reset_index()
    truth = scored.groupby(["estimand", "term"])["truth"].mean().to_numpy()
    out["mean_bias"] = out["mean_bias"] - truth
    return out


@pytest.mark.slow
def test_dml_intervals_and_calibration_on_simulated_panels():
    REPORT.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        draws = pd.DataFrame([r for i in range(N_PANELS) for r in _coverage_rows(30_000 + i)])
        null = pd.DataFrame([_calibration_rows("dml", LINEAR, 40_000 + i, **HOMOGENEOUS)
                             for i in range(N_NULL)])
        forest = pd.DataFrame(
            [_calibration_rows("causal_forest", FOREST, 30_000 + i) for i in range(N_FOREST)]
            + [_calibration_rows("causal_forest", FOREST, 40_000 + i, **HOMOGENEOUS)
               | {"method": "causal_forest_null"} for i in range(N_FOREST)])
    summary = _summary(draws)
    calib = pd.DataFrame([
        dict(method="dml", effects="heterogeneous", panels=N_PANELS,
             reject_at_5pct=float((draws.loc[draws.estimand == "calibration_dml", "p_value"]
                                   < ALPHA).mean())),
        dict(method="dml", effects="homogeneous", panels=N_NULL,
             reject_at_5pct=float((null["p_value"] < ALPHA).mean())),
        dict(method="BLP joint slopes", effects="heterogeneous", panels=N_PANELS,
             reject_at_5pct=float((draws.loc[draws.estimand == "blp_joint", "p_value"]
                                   < ALPHA).mean())),
        dict(method="BLP joint slopes", effects="homogeneous", panels=N_NULL,
             reject_at_5pct=float((null["joint_p"] < ALPHA).mean())),
        dict(method="causal_forest", effects="heterogeneous", panels=N_FOREST,
             reject_at_5pct=float((forest.loc[forest.method == "causal_forest", "p_value"]
                                   < ALPHA).mean())),
        dict(method="causal_forest", effects="homogeneous", panels=N_FOREST,
             reject_at_5pct=float((forest.loc[forest.method == "causal_forest_null", "p_value"]
                                   < ALPHA).mean())),
    ])
    het_forest = forest[forest.method == "causal_forest"]
    ranking = pd.DataFrame([
        dict(method="dml", panels=N_PANELS,
             top_two_true=float(draws.loc[draws.estimand == "drivers_dml", "estimate"].mean())),
        dict(method="causal_forest", panels=N_FOREST,
             top_two_true=float(het_forest["top_two_true"].mean()))])
    draws.to_csv(REPORT / "draws.csv", index=False)
    ranking.to_csv(REPORT / "drivers.csv", index=False)
    summary.to_csv(REPORT / "coverage.csv", index=False)
    calib.to_csv(REPORT / "calibration.csv", index=False)
    (REPORT / "README.txt").write_text(
        f"{__doc__}\nwall time {time.perf_counter() - start:.0f} s\n\n"
        f"{summary.to_string(index=False)}\n\n{calib.to_string(index=False)}\n\n"
        f"{ranking.to_string(index=False)}\n")
    att = summary.query("estimand == 'ATT'").iloc[0]
    blp = summary.query("estimand == 'BLP'")
    noise = blp[blp["term"].str.split("=").str[0].isin(NOISE_TRAITS)]
    # bounds: nominal rates +- about two Monte Carlo standard errors of N panels
    assert 0.91 <= att["coverage"] <= 0.99, summary
    assert (blp["coverage"] >= 0.90).all(), summary
    assert noise["reject_at_5pct"].between(0.0, 0.10).all(), summary
    size = calib.set_index(["method", "effects"])["reject_at_5pct"]
    assert size["BLP joint slopes", "homogeneous"] <= 0.10, calib
    assert size["dml", "homogeneous"] <= 0.10, calib
    assert size["causal_forest", "homogeneous"] <= 0.12, calib
    assert size["BLP joint slopes", "heterogeneous"] >= 0.5, calib
    assert size["dml", "heterogeneous"] >= 0.25, calib
    top_two = ranking.set_index("method")["top_two_true"]
    assert top_two["dml"] >= 0.6, ranking
    assert top_two["causal_forest"] >= 0.5, ranking
