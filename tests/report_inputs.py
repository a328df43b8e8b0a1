"""Report inputs with every paradigm and the declared parts, built from the result contract
alone (EffectResults, an arviz InferenceData written as netCDF), for report tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bayescity.diagnostics import breach_notes
from bayescity.estimands import posterior_table
from bayescity import load_panel
from bayescity.reports import FitRecord, ReportInputs, outcome_trends
from bayescity.results import EffectResult, TestResult
from bayescity.results.effect import wald_table
from bayescity.results.parts import Diagnostics, Distribution, Facts, Table, Text, warnings
from bayescity.results.plain import sha256_file
from conftest import make_staggered

DRIVER_COLUMNS = ["trait", "forest_importance", "mean_abs_shap", "blp_estimate", "blp_t",
                  "rank_stability"]
#: The diagnostics table as the hierarchical DID keeps it (bayescity.diagnostics.diagnose).
DIAGNOSTICS = pd.DataFrame({"parameter": ["tau_level[North]", "tau_level[South]", "sigma"],
                            "variable": ["tau_level", "tau_level", "sigma"],
                            "rhat": [1.001, 1.04, 1.002], "ess_bulk": [900.0, 350.0, 120.0],
                            "ess_tail": [850.0, 410.0, 300.0], "reported": [True, True, False],
                            "breach": ["", "R-hat 1.040 > 1.01; bulk ESS 350 < 400", ""]})
BREACH = breach_notes(DIAGNOSTICS)[0]


def _freq(estimand: str, terms, est, se, n_obs: int = 720) -> EffectResult:
    table = wald_table(terms, np.asarray(est, float), np.diag(np.square(se)), df=59)
    return EffectResult("twfe", "frequentist", estimand, table, n_obs, interval_kind="t_CRV1",
                        n_clusters=60)


def frequentist() -> list[EffectResult]:
    events = [-3, -2, -1, 0, 1, 2, 3]
    return [_freq("ATT", ["overall"], [1.0], [0.1]),
            _freq("ATT_by_region", ["North", "South"], [0.6, 1.4], [0.1, 0.1]),
            _freq("ATT_event", events, [0.05, -0.02, 0.0, 0.8, 1.0, 1.1, 1.2], [0.1] * 7)]


def idata(rng: np.random.Generator):
    import arviz as az

    draws = rng.normal([0.6, 1.4], 0.1, size=(2, 200, 2))
    draws[1, :, 1] += 0.3  # chains disagree on South: R-hat breaches
    n_obs = 40
    return az.from_dict(
        posterior={"tau_level": draws, "sigma": np.abs(rng.normal(1, 0.05, (2, 200)))},
        sample_stats={"diverging": np.zeros((2, 200), bool),
                      "energy": rng.normal(size=(2, 200))},
        posterior_predictive={"y": rng.normal(size=(2, 200, n_obs))},
        observed_data={"y": rng.normal(size=n_obs)},
        log_likelihood={"y": rng.normal(-1, 0.1, size=(2, 200, n_obs))},
        coords={"region": ["North", "South"], "obs": np.arange(n_obs)},
        dims={"tau_level": ["region"], "y": ["obs"]}, attrs={"sampling_time": 1.25})


def bayesian(rng: np.random.Generator) -> list[EffectResult]:
    parts = [Diagnostics("diagnostics", DIAGNOSTICS),
             Facts("sampler", {"sampler": "gibbs", "chains": 2, "draws": 200, "divergences": 0})]
    out = []
    for estimand, terms, mean in (("ATT", ["overall"], [1.05]),
                                  ("ATT_by_region", ["North", "South"], [0.7, 1.3]),
                                  ("ATT_event", [-1, 0, 1, 2], [0.0, 0.7, 1.0, 1.2])):
        d = rng.normal(mean, 0.12, size=(400, len(mean)))
        out.append(EffectResult("hierarchical_did", "bayesian", estimand,
                                posterior_table(terms, d), 720, interval_kind="equal_tailed",
                                draws=d, messages=warnings(*breach_notes(DIAGNOSTICS)),
                                parts=parts))
    return out


def ml(rng: np.random.Generator) -> list[EffectResult]:
    units = [f"u{i:03d}" for i in range(20, 60)]
    cate = rng.normal(1.0, 0.4, len(units))
    drivers = pd.DataFrame({"trait": ["region", "x_base"], "forest_importance": [0.7, 0.3],
                            "mean_abs_shap": [0.35, 0.1], "blp_estimate": [0.8, 0.05],
                            "blp_t": [4.0, 0.4], "rank_stability": [1.0, 1.0]})[DRIVER_COLUMNS]
    info = [Table("drivers", drivers),
            Text("cate_tree", "region == South\n|-- yes: 1.4\n|-- no: 0.6")]
    return [
        EffectResult("causal_forest", "ml", "ATT", wald_table(["overall"], [0.98], [[0.02]]),
                     720, interval_kind="wald_cluster_score", n_clusters=60, parts=info),
        EffectResult("causal_forest", "ml", "CATE", wald_table(units, cate, np.eye(len(units)) *
                                                               0.04), 720, parts=info),
        EffectResult("causal_forest", "ml", "BLP", wald_table(["region[South]", "x_base"],
                                                              [0.8, 0.05], np.eye(2) * 0.04), 720),
    ]


def robustness(rng: np.random.Generator) -> list[EffectResult]:
    test = TestResult("randomization p-value", 1.0, 0.0, 0.004, "randomization")
    placebo = EffectResult("placebo", "frequentist", "ATT", wald_table(["overall"], [1.0], [[0.01]]),
                           720, interval_kind="t_CRV1", tests=(test,),
                           parts=[Distribution("placebo", rng.normal(0, 0.15, 500), 1.0,
                                               0.004),
                                  Facts("check", {"kind": "randomization",
                                                  "expects": "the policy's effect"})])
    mech = EffectResult("mechanisms", "frequentist", "ATT_on_rd_share",
                        wald_table(["overall"], [0.3], [[0.01]]), 720, interval_kind="t_CRV1")
    return [placebo, mech]


def build(tmp: Path, seed: int = 0) -> ReportInputs:
    """Inputs of a run with a frequentist, a Bayesian (posterior in ``tmp``), an ML and a
    robustness estimator."""
    rng = np.random.default_rng(seed)
    nc = tmp / "posterior.nc"
    idata(rng).to_netcdf(str(nc))
    results = {"twfe": frequentist(), "bayes": bayesian(rng), "forest": ml(rng),
               "robust": robustness(rng)}
    fits = [FitRecord("twfe", "twfe"), FitRecord("bayes", "hierarchical_did", posterior=str(nc),
                                                 posterior_sha256=sha256_file(nc)),
            FitRecord("forest", "causal_forest"), FitRecord("robust", "placebo")]
    df = make_staggered(n_units=60)
    units = df.drop_duplicates("unit")[["unit", "g", "region"]].rename(columns={"g": "cohort"})
    panel = {"source": "toy", "n_obs": len(df), "n_units": 60, "n_periods": 12,
             "first_period": 2000, "last_period": 2011, "balanced": True, "outcome": "y",
             "covariates": ["x"], "n_never_treated": 20, "cohorts": {"2004": 20, "2007": 20}}
    lock = {"run_id": "20250101-000000-test", "seed": 1, "smoke": False, "data_hash": "0" * 64}
    trends = outcome_trends(load_panel(df, unit="unit", time="year", outcome="y", cohort="g"))
    truth = pd.DataFrame({"estimand": ["ATT", "ATT_by_region", "ATT_by_region"],
                          "term": ["overall", "North", "South"], "truth": [1.0, 1.0, 1.0]})
    return ReportInputs("toy_study", lock["run_id"], results, fits, panel,
                        units.reset_index(drop=True), lock, trends=trends, truth=truth)


#: Figures the full report must show for :func:`build`'s inputs.
FIGURES = ["fig-adoption", "fig-trends", "fig-forest", "fig-event", "fig-rank-bayes", "fig-posterior-bayes",
           "fig-ppc-bayes", "fig-cate", "fig-drivers-forest", "fig-placebo-robust"]
