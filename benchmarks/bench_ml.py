"""Time ``causal_forest`` (drivers and SHAP included) next to a direct econml call on the same cells.

Two panels: the built-in one (285 cities x 19 years) and a simulated 3,000-city x 20-year panel
(ten independent draws of :func:`bayescity.datasets.simulate_city_panel` plus a 150-city one,
2003-2022). For each, our fit with default parameters (the imputation design, 5 folds grouped by
city for the held-out CATE fits, 2,000 honest trees, drivers, SHAP, calibration) is timed, with
the peak resident memory of the process, and so is econml's ``CausalForestDML`` on the stacked
long-difference cells of the same sample (what a direct econml user fits: lasso nuisances, the
same folds with ``groups`` = city, forest size and leaf size): the reference ratio is ours /
econml. On the built-in panel the long-difference design (``design: long_difference``, lasso
nuisances cross-fitted in every cell) is timed as well. Targets: ``causal_forest`` within 1.5x
of econml; built-in panel < 60 s, 3,000 cities < 10 min and < 8 GiB, on 2 cores.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import numpy as np
import pandas as pd

import bayescity as bc
from bayescity.datasets import simulate_city_panel
from bayescity.estimators.core.cs_gt import cell_specs
from bayescity.estimators.ml.cells import stacked_cells

COVS = ["ln_pop_2003", "ln_gdp_pc_2003"]
PARAMS = dict(control_group="not_yet_treated", covariates=COVS, random_state=2025)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def builtin_panel() -> bc.Panel:
    return bc.load_panel("builtin:china_cities", unit="city", time="year", outcome="tfp_growth",
                         cohort="pilot_year", traits=["region3", "north_south"], cluster="city")


def large_panel(n_cities: int = 3000, years=(2003, 2022)) -> bc.Panel:
    """``n_cities`` cities: whole simulated draws (285 cities each) side by side, cities renamed."""
    parts, left, seed = [], n_cities, 0
    while left > 0:
        take = min(left, 285)
        data = simulate_city_panel(9000 + seed, years=years,
                                   n_units=None if take == 285 else take).data
        parts.append(data.assign(city=data["city"] + f"#{seed}"))
        left, seed = left - take, seed + 1
    return bc.load_panel(pd.concat(parts, ignore_index=True), unit="city", time="year",
                         outcome="tfp_growth", cohort="pilot_year",
                         traits=["region3", "north_south", "ln_gdp_pc_2003"], cluster="city")


def econml_reference(est) -> float:
    """econml's CausalForestDML on the stacked cells of the fitted estimator ``est``."""
    from econml.dml import CausalForestDML
    from sklearn.linear_model import LassoCV, LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sample = est.sample_.cells
    cells = stacked_cells(sample, cell_specs(sample.wide, est.control_group, post_only=True))
    folds = est.sample_.folds[0][cells["unit"]]
    splits = [(np.flatnonzero(folds != f), np.flatnonzero(folds == f)) for f in range(est.n_folds)]
    model = CausalForestDML(
        model_y=make_pipeline(StandardScaler(), LassoCV(cv=3, alphas=20)),
        model_t=make_pipeline(StandardScaler(), LogisticRegressionCV(
            Cs=10, l1_ratios=(1.0,), solver="liblinear", cv=3, use_legacy_attributes=True)),
        discrete_treatment=True, cv=splits, n_estimators=est.n_trees,
        min_samples_leaf=est.min_samples_leaf, max_samples=est.max_samples, random_state=0,
        n_jobs=1)
    start = time.perf_counter()
    model.fit(cells["y"], cells["d"], X=cells["x"], W=cells["w"], groups=cells["unit"])
    model.effect(cells["x"])
    return time.perf_counter() - start


def bench(name: str, panel: bc.Panel, **params) -> dict:
    start = time.perf_counter()
    est = bc.make_estimator("causal_forest", **PARAMS, **params).fit(panel)
    ours = time.perf_counter() - start
    peak = peak_rss_gib()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = econml_reference(est)
    rows = len(stacked_cells(est.sample_.cells,
                             cell_specs(est.sample_.wide, est.control_group, post_only=True))["y"])
    return {"panel": name, "design": est.design, "cities": panel.n_units,
            "years": panel.n_periods, "cell_rows": rows, "ours_s": ours, "peak_rss_gib": peak,
            "econml_s": reference, "ratio": ours / reference,
            "ATT": est.effect("ATT").estimate()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cities", type=int, default=3000)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    panel = builtin_panel()
    rows = [bench("builtin:china_cities", panel),
            bench("builtin:china_cities", panel, design="long_difference")]
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
    if not args.skip_large:
        rows.append(bench(f"simulated {args.cities} cities", large_panel(args.cities)))
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("targets: causal_forest (imputation, the default) ratio <= 1.5; built-in < 60 s, "
          "3,000 cities < 600 s and < 8 GiB peak memory (peak memory is the process's, so it "
          "is cumulative over the rows above)")


if __name__ == "__main__":
    main()
