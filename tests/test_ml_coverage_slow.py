"""Coverage of the clustered intervals of dml and size/power of the calibration test (slow).

Design. ``simulate_city_panel(30_000 + i, selection=False)`` for i < N_PANELS (285 cities,
2003-2021, the real pilot cohorts, region x north/south x income x cohort effects that build up
over three years, AR(1) city shocks) with two noise traits, fitted by ``dml`` in its default
(imputation) design. Scored against the truth of each panel:

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

A second study, on issue 19's clean panel (:func:`test_panel_efficient_heterogeneity_is_calibrated`,
written to ``reports/ml_calibration/``), holds the default design to its targets: BLP coverage,
false discoveries of noise traits, ranking of two strong drivers, and BLP standard errors
against the imputation projection's on the same panels.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from test_ml_recovery import (CLEAN_BLP, CLEAN_DRIVERS, CLEAN_NOISE, HOMOGENEOUS, NOISE_TRAITS,
                              TRUE_DRIVERS, clean_frame, simulated, true_blp)

N_PANELS = 200
N_NULL = 200
N_FOREST = 100
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
    # the imputation design's power (the long-difference design had 58%, 38%, 66% and 63%)
    assert size["BLP joint slopes", "heterogeneous"] >= 0.9, calib
    assert size["dml", "heterogeneous"] >= 0.9, calib
    top_two = ranking.set_index("method")["top_two_true"]
    assert top_two["dml"] >= 0.85, ranking
    assert top_two["causal_forest"] >= 0.8, ranking


# --------------------------------------------------------------------------- the clean panel study
# Issue 19's targets for the default (imputation) design, on N_CLEAN fresh 400-city clean panels
# (test_ml_recovery.clean_frame: true city effect exactly 0.5 + 0.6 h1 - 0.3 h2, three pure-noise
# traits) and N_CLEAN homogeneous ones (effect 0.5 everywhere). Written to reports/ml_calibration/.

N_CLEAN = 200
CALIBRATION = Path(__file__).resolve().parents[1] / "reports" / "ml_calibration"
#: The forest's study settings (its BLP is dml's; these govern its drivers and calibration).
CLEAN_FOREST = dict(n_trees=500, n_seeds=0)


def imputation_projection(est) -> pd.DataFrame:
    """The reference of issue 19: each treated city's mean imputed effect regressed on the
    traits (weighted by its post years, HC1 errors), ignoring the first stage's noise."""
    import statsmodels.api as sm

    imp = est.imputed_
    count = imp.treated.sum(axis=1)
    on = count > 0
    mean = np.nansum(imp.tau, axis=1)[on] / count[on]
    mods = est.heterogeneity_.modifiers
    z = sm.add_constant(mods.matrix[on])
    fit = sm.WLS(mean, z, weights=count[on]).fit(cov_type="HC1")
    return pd.DataFrame({"estimate": fit.params[1:], "std_error": fit.bse[1:]},
                        index=mods.columns)


def _clean_fit_rows(seed: int, slopes) -> list[dict]:
    frame = clean_frame(seed, slopes=slopes)
    panel = bc.load_panel(frame, unit="city", time="year", outcome="y", cohort="g",
                          traits=[*CLEAN_DRIVERS, *CLEAN_NOISE], cluster="city")
    kind = "heterogeneous" if any(slopes) else "homogeneous"
    dml = bc.make_estimator("dml", random_state=seed).fit(panel)
    forest = bc.make_estimator("causal_forest", random_state=seed, **CLEAN_FOREST).fit(panel)
    att = dml.effect("ATT").row("overall")
    truth = frame.loc[(frame["g"] > 0) & (frame["year"] >= frame["g"]), "tau"].mean()
    rows = [dict(seed=seed, effects=kind, estimand="ATT", term="overall", truth=truth,
                 estimate=att.estimate, std_error=att.std_error, lower=att.lower,
                 upper=att.upper, p_value=att.p_value)]
    ref = imputation_projection(dml)
    for _, r in dml.effect("BLP").table.iterrows():
        rows.append(dict(seed=seed, effects=kind, estimand="BLP", term=r.term,
                         truth=CLEAN_BLP[r.term] * (kind == "heterogeneous" or
                                                    r.term not in CLEAN_DRIVERS),
                         estimate=r.estimate, std_error=r.std_error, lower=r.lower,
                         upper=r.upper, p_value=r.p_value, ref_estimate=ref.loc[r.term, "estimate"],
                         ref_std_error=ref.loc[r.term, "std_error"]))
    for method, est in (("dml", dml), ("causal_forest", forest)):
        drivers = est.effect("CATE").part_frame("drivers").set_index("trait")
        rows.append(dict(seed=seed, effects=kind, estimand=f"drivers_{method}",
                         term="top_two_true",
                         estimate=float(set(drivers.index[:2]) == set(CLEAN_DRIVERS))))
        rows += [dict(seed=seed, effects=kind, estimand=f"noise_{method}", term=t,
                      p_value=drivers.loc[t, "blp_p"], p_holm=drivers.loc[t, "blp_p_holm"],
                      estimate=drivers.loc[t, "rank"])
                 for t in CLEAN_NOISE]
        rows.append(dict(seed=seed, effects=kind, estimand=f"calibration_{method}",
                         term="differential", p_value=_calibration_p(est)))
    rows.append(dict(seed=seed, effects=kind, estimand="blp_joint", term="slopes",
                     p_value=_joint_p(dml)))
    return rows


def _clean_summary(draws: pd.DataFrame) -> pd.DataFrame:
    """One row per (effects, estimand, term): coverage, rejection rate at 5%, mean bias, mean
    standard error and its ratio to the imputation projection's."""
    d = draws.assign(covered=(draws["lower"] <= draws["truth"]) & (draws["truth"] <= draws["upper"]),
                     reject=draws["p_value"] < ALPHA, bias=draws["estimate"] - draws["truth"],
                     reject_holm=(draws["p_holm"] < ALPHA).where(draws["p_holm"].notna()))
    out = d.groupby(["effects", "estimand", "term"], sort=False).agg(
        panels=("seed", "size"), coverage=("covered", "mean"), reject_at_5pct=("reject", "mean"),
        holm_reject_at_5pct=("reject_holm", "mean"),
        mean_estimate=("estimate", "mean"), mean_bias=("bias", "mean"),
        mean_se=("std_error", "mean"), sd_estimate=("estimate", "std"),
        ref_mean_se=("ref_std_error", "mean")).reset_index()
    out["se_ratio_to_projection"] = out["mean_se"] / out["ref_mean_se"]
    scored = out["estimand"].isin(["ATT", "BLP"])
    out.loc[~scored, ["coverage", "mean_bias", "mean_se", "sd_estimate"]] = np.nan
    return out


@pytest.mark.slow
def test_panel_efficient_heterogeneity_is_calibrated():
    """Issue 19's targets over N_CLEAN panels: BLP intervals cover 93-97%; each noise trait a
    false discovery in <= 5% of panels -- read as a driver by the drivers table's Holm-adjusted
    p-value (``blp_p_holm`` < 5%); its unadjusted ``blp_p`` is a nominal 5% test, held to the
    Monte Carlo band of a 5% rate (<= 9%: 2.5 standard errors of 200 draws); both drivers rank
    top two in >= 90%; BLP standard errors within 1.25x of the imputation projection's; ATT
    coverage and the calibration test's size near nominal (ATT coverage is against the sample
    ATT, which BJS's variance over-covers when effects vary across cities)."""
    CALIBRATION.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        draws = pd.DataFrame([r for i in range(N_CLEAN)
                              for seed, slopes in ((50_000 + i, (0.6, -0.3)), (60_000 + i, (0, 0)))
                              for r in _clean_fit_rows(seed, slopes)])
    summary = _clean_summary(draws)
    draws.to_csv(CALIBRATION / "draws.csv", index=False)
    summary.to_csv(CALIBRATION / "summary.csv", index=False)
    (CALIBRATION / "README.txt").write_text(
        f"{test_panel_efficient_heterogeneity_is_calibrated.__doc__}\n"
        f"forest settings {CLEAN_FOREST}; wall time {time.perf_counter() - start:.0f} s\n\n"
        f"{summary.to_string(index=False)}\n")
    het = summary[summary["effects"] == "heterogeneous"].set_index(["estimand", "term"])
    hom = summary[summary["effects"] == "homogeneous"].set_index(["estimand", "term"])
    blp = het.loc["BLP"]
    # 200 panels: a 95% rate has a Monte Carlo standard error of 1.5 points
    assert blp["coverage"].between(0.93, 0.97).all(), blp
    assert (blp["se_ratio_to_projection"] <= 1.25).all(), blp
    assert het.loc[("drivers_dml", "top_two_true"), "mean_estimate"] >= 0.90
    assert het.loc[("drivers_causal_forest", "top_two_true"), "mean_estimate"] >= 0.90
    for kind in (het, hom):
        for method in ("dml", "causal_forest"):
            noise = kind.loc[f"noise_{method}"]
            assert (noise["holm_reject_at_5pct"] <= 0.05).all(), noise
            assert (noise["reject_at_5pct"] <= 0.09).all(), noise
        assert kind.loc[("ATT", "overall"), "coverage"] >= 0.92
    assert hom.loc["BLP"]["coverage"].between(0.91, 0.98).all()
    assert 0.94 <= hom.loc["BLP"]["coverage"].mean() <= 0.96
    for method in ("dml", "causal_forest"):
        assert hom.loc[(f"calibration_{method}", "differential"), "reject_at_5pct"] <= 0.08
        assert het.loc[(f"calibration_{method}", "differential"), "reject_at_5pct"] >= 0.9
    assert hom.loc[("blp_joint", "slopes"), "reject_at_5pct"] <= 0.08
