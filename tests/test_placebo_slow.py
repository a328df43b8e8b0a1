"""Slow studies of the placebo tests on fresh simulated China-city panels (``-m slow``).

Results are written to ``reports/placebo/``: the randomization p-values under no effect (their
Kolmogorov-Smirnov distance from the uniform) and the rejection rate of the fake-timing placebo
without anticipation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayescity as bc
from bayescity.datasets import simulate_city_panel

pytestmark = pytest.mark.slow
OUT = Path(__file__).resolve().parents[1] / "reports" / "placebo"
N_PANELS = 200


def _panel(seed: int, **kw):
    sim = simulate_city_panel(seed, **kw)
    return bc.load_panel(sim.data, unit="city", time="year", outcome="tfp_growth",
                         cohort="pilot_year", covariates=["industry_share", "fin_dev"])


def test_randomization_pvalue_is_uniform_under_no_effect():
    """Under no effect and random assignment the randomization p-value is uniform."""
    rows = []
    for seed in range(70_000, 70_000 + N_PANELS):
        panel = _panel(seed, effect=0.0, selection=False, assignment="random")
        att = bc.make_estimator("placebo", n_permutations=199, random_state=seed).fit(panel)
        rows.append({"seed": seed, "p_value": att.effect("ATT").row("overall")["p_value"]})
    table = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT / "uniformity.csv", index=False)
    ks = stats.kstest(table["p_value"], "uniform")
    rate = float((table["p_value"] <= 0.05).mean())
    (OUT / "uniformity.txt").write_text(
        f"panels {N_PANELS}, 199 permutations each\nKS statistic {ks.statistic:.4f}, "
        f"p {ks.pvalue:.4f}\nrejection rate at 5%: {rate:.3f}\n")
    assert ks.pvalue > 0.01, ks
    assert 0.02 <= rate <= 0.09


def test_fake_timing_rejects_at_the_nominal_rate_without_anticipation():
    rows = []
    for seed in range(80_000, 80_000 + N_PANELS):
        panel = _panel(seed, selection=False)
        res = bc.make_estimator("placebo", kind="fake_timing", shift=2).fit(panel).effect(
            "ATT_fake_timing")
        rows.append({"seed": seed, "estimate": res.estimate(),
                     "p_value": res.row("overall")["p_value"]})
    table = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT / "fake_timing.csv", index=False)
    rate = float((table["p_value"] <= 0.05).mean())
    (OUT / "fake_timing.txt").write_text(f"panels {N_PANELS}; rejection rate at 5%: {rate:.3f}; "
                                         f"mean placebo estimate {table['estimate'].mean():.4f}\n")
    assert 0.02 <= rate <= 0.09, rate
    assert abs(table["estimate"].mean()) < 3 * table["estimate"].std() / np.sqrt(N_PANELS)
