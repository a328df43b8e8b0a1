"""The hierarchical DID recovers known effects: fresh simulated city panels, partial pooling of a
thin region, a region with no effect while the others build up, agreement with imputation under
homogeneous effects, and the static variant's TWFE bias under staggered dynamic effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity import datasets

SEEDS = (404, 505, 606)


def _city_panel(data: pd.DataFrame) -> bc.Panel:
    return bc.load_panel(data, unit="city", time="year", outcome="tfp_growth",
                         cohort="pilot_year", traits=["region3"])


def _covered(result: bc.EffectResult, truth: pd.Series) -> list[bool]:
    table = result.table.set_index("term")
    return [bool(table.loc[str(k), "lower"] <= v <= table.loc[str(k), "upper"])
            for k, v in truth.items()]


def test_intervals_cover_the_truth_on_fresh_simulated_panels():
    """95% intervals of ATT, ATT(e) for e = 0..6 and ATT by region on three panels the model was
    not developed on (heterogeneous, dynamic, cohort-specific effects)."""
    covered = []
    for seed in SEEDS:
        sim = datasets.simulate_city_panel(seed, selection=False)
        est = bc.make_estimator("hierarchical_did", by="region3", random_state=seed)
        est.fit(_city_panel(sim.data))
        covered += _covered(est.effect("ATT"), pd.Series({"overall": sim.truth.att}))
        covered += _covered(est.effect("ATT_event"), sim.truth.att_event.loc[0:6])
        covered += _covered(est.effect("ATT_by_region3"), sim.truth.att_by["region3"])
        assert est.effect("ATT").facts("sampler")["divergences"] == 0
    assert len(covered) == 3 * (1 + 7 + 3)
    assert np.mean(covered) >= 0.85, f"covered {np.mean(covered):.2f}"


#: Effects of the thick regions (20 cities each, about 12 treated) and of the thin region F.
THIN_EFFECTS = {"A": 0.8, "B": 1.0, "C": 1.2, "D": 1.4, "E": 1.6, "F": 1.2}


def thin_region_panel(seed: int, n_periods: int = 10) -> pd.DataFrame:
    """Five regions with many treated units and effects 0.8 to 1.6, region F with three treated
    units and an effect of 1.2; unit and period effects and independent noise."""
    rng = np.random.default_rng(seed)
    region = np.repeat(list(THIN_EFFECTS), [20] * 5 + [6])
    g = np.where(rng.uniform(size=region.size) < 0.6, rng.choice([4, 6], size=region.size), 0)
    g[100:103], g[103:] = [4, 6, 6], 0
    effect = pd.Series(THIN_EFFECTS)[region].to_numpy()
    n = region.size
    unit, t = np.repeat(np.arange(n), n_periods), np.tile(np.arange(1, n_periods + 1), n)
    d = (g[unit] > 0) & (t >= g[unit])
    y = (rng.normal(size=n)[unit] + rng.normal(size=n_periods)[t - 1] + effect[unit] * d
         + rng.normal(size=unit.size))
    return pd.DataFrame({"unit": unit, "time": t, "g": g[unit], "y": y, "region": region[unit]})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_partial_pooling_helps_a_thin_region(seed):
    """Six regions, so the sd of the region effects is learned: the thin region borrows
    strength from the others (a narrower interval, an estimate drawn towards theirs), while
    ``unpooled`` stays with its own data."""
    panel = bc.load_panel(thin_region_panel(seed), unit="unit", time="time", outcome="y",
                          cohort="g", traits=["region"])
    fits = {v: bc.make_estimator("hierarchical_did", by="region", variant=v, errors="iid",
                                 chains=2, draws=1000, random_state=seed)
            .fit(panel).effect("ATT_by_region")
            for v in ("hierarchical", "unpooled")}
    imputation = bc.make_estimator("imputation", by="region", covariates=[]).fit(panel)
    others = np.mean([fits["unpooled"].estimate(k) for k in list(THIN_EFFECTS)[:5]])
    pooled, unpooled = fits["hierarchical"].estimate("F"), fits["unpooled"].estimate("F")
    assert abs(pooled - others) < max(abs(unpooled - others) - 0.1, 0.15)
    sd = {v: f.table.set_index("term").loc["F", "std_error"] for v, f in fits.items()}
    assert sd["hierarchical"] < 0.9 * sd["unpooled"]
    # unpooled borrows nothing: it stays with the thin region's own data (imputation)
    assert abs(unpooled - imputation.effect("ATT_by_region").estimate("F")) < 0.1


def zero_level_panel(seed: int, n_units: int = 90, n_periods: int = 14) -> pd.DataFrame:
    """Regions A and B whose effects build up over three years to plateaus of 1 and 2, region
    C with no effect at all; cohorts 3 and 4 (e up to 11) and never-treated cities, AR(1)
    errors (rho 0.5, sd 0.5)."""
    rng = np.random.default_rng(seed)
    region = np.array(["A", "B", "C"])[np.arange(n_units) % 3]
    g = np.array([0, 3, 4])[(np.arange(n_units) // 3) % 3]
    unit, t = np.repeat(np.arange(n_units), n_periods), np.tile(np.arange(1, n_periods + 1),
                                                               n_units)
    e = t - g[unit]
    plateau = pd.Series({"A": 1.0, "B": 2.0, "C": 0.0})[region].to_numpy()[unit]
    tau = np.where((g[unit] > 0) & (e >= 0), plateau * np.minimum((e + 1) / 3, 1.0), 0.0)
    u = rng.normal(scale=0.5, size=(n_units, n_periods))
    for j in range(1, n_periods):
        u[:, j] = 0.5 * u[:, j - 1] + np.sqrt(1 - 0.5**2) * u[:, j]
    y = rng.normal(size=n_units)[unit] + rng.normal(size=n_periods)[t - 1] + tau + u.ravel()
    return pd.DataFrame({"unit": unit, "time": t, "g": g[unit], "region": region[unit], "y": y,
                         "tau": tau})


@pytest.mark.parametrize("seed", [4, 6, 9])
def test_a_region_with_no_effect_stays_at_zero_while_the_others_build_up(seed):
    """Each region has its own event-time path, so the one with no effect is not lifted by the
    others' build-up (with one common path plus region shifts, C's interval excluded 0 and B's
    its truth: z of -3.3, -3.1 and -2.1 for B on these panels)."""
    df = zero_level_panel(seed)
    treated = df[(df["g"] > 0) & (df["time"] >= df["g"])]
    panel = bc.load_panel(df.drop(columns="tau"), unit="unit", time="time", outcome="y",
                          cohort="g", traits=["region"])
    est = bc.make_estimator("hierarchical_did", by="region", chains=2, draws=400, tune=100,
                            random_state=seed).fit(panel)
    assert all(_covered(est.effect("ATT_by_region"), treated.groupby("region")["tau"].mean()))
    assert all(_covered(est.effect("ATT"), pd.Series({"overall": treated["tau"].mean()})))


@pytest.mark.parametrize("seed", [21, 22])
def test_homogeneous_effects_agree_with_imputation(seed):
    """One constant effect, weak priors: the posterior mean ATT lies within one standard error
    of the imputation estimate."""
    sim = datasets.simulate_city_panel(seed, heterogeneous=False, dynamic=False,
                                       cohort_effects=False, selection=False)
    panel = _city_panel(sim.data)
    imp = bc.make_estimator("imputation", covariates=[]).fit(panel).effect("ATT").row("overall")
    ours = bc.make_estimator("hierarchical_did", random_state=seed).fit(panel).effect("ATT")
    assert abs(ours.estimate() - imp["estimate"]) < imp["std_error"]
    assert 0.5 < ours.row("overall")["std_error"] / imp["std_error"] < 2


def dynamic_panel(seed: int, n_units: int = 90, n_periods: int = 12) -> pd.DataFrame:
    """Early (t = 3) and late (t = 8) cohorts, few never-treated units, effects growing by 0.4
    per year since approval: the design where static TWFE is badly biased."""
    rng = np.random.default_rng(seed)
    g = rng.choice([0, 3, 8], size=n_units, p=[0.1, 0.45, 0.45])
    unit, t = np.repeat(np.arange(n_units), n_periods), np.tile(np.arange(1, n_periods + 1),
                                                               n_units)
    e = t - g[unit]
    tau = np.where((g[unit] > 0) & (e >= 0), 0.4 * (e + 1), 0.0)
    y = (rng.normal(size=n_units)[unit] + rng.normal(size=n_periods)[t - 1] + tau
         + rng.normal(scale=0.5, size=unit.size))
    return pd.DataFrame({"unit": unit, "time": t, "g": g[unit], "y": y, "tau": tau})


def test_static_variant_reproduces_the_twfe_bias():
    df = dynamic_panel(7)
    truth = df.loc[(df["g"] > 0) & (df["time"] >= df["g"]), "tau"].mean()
    panel = bc.load_panel(df, unit="unit", time="time", outcome="y", cohort="g")
    twfe = bc.make_estimator("twfe").fit(panel).effect("ATT").estimate()
    # independent errors: the static variant is then TWFE's regression with weak priors
    static = bc.make_estimator("hierarchical_did", variant="static", errors="iid",
                               random_state=1).fit(panel)
    dynamic = bc.make_estimator("hierarchical_did", random_state=1).fit(panel)
    s, h = static.effect("ATT").row("overall"), dynamic.effect("ATT").row("overall")
    assert truth - twfe > 1.0  # the design does bias TWFE
    assert abs(s["estimate"] - twfe) < 0.05 * (truth - twfe)
    assert not s["lower"] <= truth <= s["upper"]
    assert h["lower"] <= truth <= h["upper"]
    # AR(1) errors (the default) reweight the comparisons but do not remove the bias
    static_ar1 = bc.make_estimator("hierarchical_did", variant="static", random_state=1).fit(panel)
    assert static_ar1.effect("ATT").estimate() < truth - 1.0
