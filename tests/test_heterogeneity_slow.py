"""Slow study: size of the regional equality tests when regions do not differ (``-m slow``).

200 fresh panels with a homogeneous effect, errors clustered by province (31 clusters, 8-12 per
region): rejection rates at 5% of the analytic Wald F test and of the wild cluster bootstrap,
written to ``reports/heterogeneity/size.txt``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import bayescity as bc
from bayescity.datasets import simulate_city_panel

pytestmark = pytest.mark.slow
OUT = Path(__file__).resolve().parents[1] / "reports" / "heterogeneity"
N_PANELS = 200


def test_equality_tests_hold_their_size_when_regions_do_not_differ():
    rows = []
    for seed in range(90_000, 90_000 + N_PANELS):
        sim = simulate_city_panel(seed, heterogeneous=False, dynamic=False, cohort_effects=False,
                                  selection=False)
        panel = bc.load_panel(sim.data, unit="city", time="year", outcome="tfp_growth",
                              cohort="pilot_year", traits=["region3"], cluster="province")
        fit = bc.make_estimator("heterogeneity", by="region3", wild_weights="webb",
                                random_state=seed).fit(panel)
        tests = {t.kind: t.p_value for t in fit.effect("ATT_by_region3").tests}
        sub = fit.effect("ATT_subsample_region3").tests[0].p_value
        rows.append({"seed": seed, "wald": tests["wald_F"], "wild": tests["wild_bootstrap_wald"],
                     "subsample": sub})
    table = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT / "size.csv", index=False)
    rates = (table[["wald", "wild", "subsample"]] <= 0.05).mean()
    (OUT / "size.txt").write_text(f"panels {N_PANELS}, cluster province, region3\n"
                                  f"rejection rates at 5%:\n{rates.to_string()}\n")
    assert 0.01 <= rates["wild"] <= 0.09, rates
    assert rates["wald"] <= 0.12, rates
