"""dml and causal_forest on fresh simulated city panels whose drivers are known.

The effect of the pilot depends on region3 (none in the West), north_south (stronger in the
North) and 2003 income (``ln_gdp_pc_2003``); two noise traits drawn independently of everything
are added as effect modifiers. Untreated trends do not depend on observables
(``selection=False``), so the long-difference design identifies the effects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity.data.simulate import SimulatedPanel, simulate_city_panel

TRUE_DRIVERS = {"region3", "north_south", "ln_gdp_pc_2003"}
NOISE_TRAITS = ("noise_num", "noise_cat")
MODIFIERS = ["region3", "north_south", "ln_gdp_pc_2003", *NOISE_TRAITS]
COVARIATES = ["ln_pop_2003", "ln_gdp_pc_2003"]
FAST = dict(outcome_model="linear", propensity_model="linear")
FOREST = dict(FAST, n_trees=500, n_seeds=1)
HOMOGENEOUS = dict(heterogeneous=False, dynamic=False, cohort_effects=False)


def with_noise_traits(data: pd.DataFrame, seed: int) -> pd.DataFrame:
    """``data`` plus a numeric and a three-level trait unrelated to anything."""
    rng = np.random.default_rng([seed, 99])
    cities = data["city"].unique()
    numeric = dict(zip(cities, rng.normal(size=cities.size)))
    levels = dict(zip(cities, rng.choice(np.array(["a", "b", "c"]), size=cities.size)))
    return data.assign(noise_num=data["city"].map(numeric), noise_cat=data["city"].map(levels))


def to_panel(data: pd.DataFrame, seed: int) -> bc.Panel:
    return bc.load_panel(with_noise_traits(data, seed), unit="city", time="year",
                         outcome="tfp_growth", cohort="pilot_year", covariates=COVARIATES,
                         traits=MODIFIERS, cluster="city")


def simulated(seed: int, **kwargs) -> tuple[bc.Panel, SimulatedPanel]:
    """A fresh simulated panel with noise traits, as a Panel, and its truth."""
    sim = simulate_city_panel(seed, selection=False, **kwargs)
    return to_panel(sim.data, seed), sim


def stacked(seed: int, copies: int = 2, **kwargs) -> bc.Panel:
    """``copies`` independent draws side by side (cities renamed): 75 treated cities per draw."""
    parts = [simulate_city_panel(seed * 10 + j, selection=False, **kwargs).data for j in range(copies)]
    data = pd.concat([d.assign(city=d["city"] + f"#{j}") for j, d in enumerate(parts)],
                     ignore_index=True)
    return to_panel(data, seed)


#: The clean panel's effect modifiers: two drivers and three pure-noise traits.
CLEAN_DRIVERS = ("h1", "h2")
CLEAN_NOISE = ("noise_unif", "noise_norm", "noise_cat")
#: The clean panel's true BLP: the city effect is exactly 0.5 + 0.6 h1 - 0.3 h2.
CLEAN_BLP = {"h1": 0.6, "h2": -0.3, "noise_unif": 0.0, "noise_norm": 0.0, "noise_cat=b": 0.0,
             "noise_cat=c": 0.0}


def clean_frame(seed: int, n_units: int = 400, years=(2001, 2018), noise_sd: float = 0.5,
                trend: float = 0.0, slopes: tuple[float, float] = (0.6, -0.3)) -> pd.DataFrame:
    """A staggered panel whose true city effect is exactly ``0.5 + 0.6 h1 - 0.3 h2`` (``slopes``)
    in every post year: random adoption (30% never treated, the others uniformly in 2004-2016), unit and
    year effects, iid noise, two drivers and three pure-noise traits (uniform, normal, three
    levels). ``trend`` adds an untreated trend ``trend * c_i * (t - first year)`` in a
    covariate ``c`` (time-invariant, unrelated to adoption)."""
    rng = np.random.default_rng([seed, 19])
    t = np.arange(years[0], years[1] + 1)
    g = np.where(rng.random(n_units) < 0.3, 0, rng.integers(2004, 2017, n_units))
    unit = pd.DataFrame({"city": [f"c{i:03d}" for i in range(n_units)], "g": g,
                         "h1": rng.normal(size=n_units), "h2": rng.normal(size=n_units),
                         "noise_unif": rng.random(n_units), "noise_norm": rng.normal(size=n_units),
                         "noise_cat": rng.choice(np.array(["a", "b", "c"]), n_units),
                         "c": rng.normal(size=n_units), "alpha": rng.normal(size=n_units)})
    df = unit.loc[unit.index.repeat(t.size)].reset_index(drop=True).assign(year=np.tile(t, n_units))
    treated = (df["g"] > 0) & (df["year"] >= df["g"])
    tau = 0.5 + slopes[0] * df["h1"] + slopes[1] * df["h2"]
    lam = rng.normal(scale=0.5, size=t.size)[df["year"] - years[0]]
    df["y"] = (df["alpha"] + lam + trend * df["c"] * (df["year"] - years[0]) + tau * treated
               + rng.normal(scale=noise_sd, size=len(df)))
    return df.drop(columns="alpha").assign(tau=tau * treated)


def clean_panel(seed: int, covariates=(), **kwargs) -> bc.Panel:
    return bc.load_panel(clean_frame(seed, **kwargs), unit="city", time="year", outcome="y",
                         cohort="g", covariates=list(covariates),
                         traits=[*CLEAN_DRIVERS, *CLEAN_NOISE], cluster="city")


def true_blp(est, sim: SimulatedPanel) -> pd.Series:
    """The projection of the true per-city effects (mean over post cells, weighted by their
    number) on the same encoded modifiers as the fit: the sample BLP the estimate targets."""
    cells = sim.truth.cell_effects
    per_city = cells.groupby("city")["tau"].agg(["mean", "size"])
    units = pd.Index(est.sample_.wide.units)
    mods = est.heterogeneity_.modifiers
    treated = per_city.index.intersection(units[est.sample_.wide.cohort > 0])
    x = mods.matrix[units.get_indexer(treated)]
    z = np.column_stack([np.ones(len(x)), x])
    w = per_city.loc[treated, "size"].to_numpy(float)
    coef = np.linalg.lstsq(z * np.sqrt(w)[:, None],
                           per_city.loc[treated, "mean"].to_numpy() * np.sqrt(w), rcond=None)[0]
    return pd.Series(coef[1:], index=mods.columns)


@pytest.fixture(scope="module")
def heterogeneous():
    return [simulated(seed, noise_sd=0.5) for seed in (311, 312, 313)]


@pytest.fixture(scope="module")
def homogeneous():
    return [simulated(seed, noise_sd=0.5, **HOMOGENEOUS) for seed in (321, 322, 323)]


def _covered(result: bc.EffectResult, truth: pd.Series) -> list[bool]:
    table = result.table.set_index("term")
    return [bool(table.loc[str(k), "lower"] <= v <= table.loc[str(k), "upper"])
            for k, v in truth.items()]


def test_att_intervals_cover_the_truth():
    """ATT, ATT(e) for e = 0..6 and ATT by region over three fresh panels at the default noise."""
    covered = []
    for seed in (331, 332, 333):
        panel, sim = simulated(seed)
        est = bc.make_estimator("dml", by="region3", random_state=seed, **FAST).fit(panel)
        covered += _covered(est.effect("ATT"), pd.Series({"overall": sim.truth.att}))
        covered += _covered(est.effect("ATT_event"), sim.truth.att_event.loc[0:6])
        covered += _covered(est.effect("ATT_by_region3"), sim.truth.att_by["region3"])
        assert est.effect("ATT").interval_kind == "wald_if"
    assert len(covered) == 3 * (1 + 7 + 3)
    assert np.mean(covered) >= 0.85, np.mean(covered)


def test_both_methods_share_the_cell_design(heterogeneous):
    """Same seed, same nuisances: the ATT rows of dml and causal_forest are identical."""
    panel, _ = heterogeneous[0]
    a = bc.make_estimator("dml", random_state=5, **FAST).fit(panel).effect("ATT").table
    b = bc.make_estimator("causal_forest", random_state=5, **FOREST).fit(panel).effect("ATT")
    pd.testing.assert_frame_equal(a, b.table)


def _top_two_are_true_drivers(method: str, params: dict, panels) -> list[bool]:
    out = []
    for panel in panels:
        drivers = bc.make_estimator(method, random_state=1, **params).fit(panel)
        drivers = drivers.effect("CATE").part_frame("drivers")
        assert set(drivers["trait"]) == set(MODIFIERS)
        out.append(set(drivers["trait"][:2]) <= TRUE_DRIVERS)
    return out


def test_true_drivers_lead_the_linear_drivers_table(heterogeneous):
    top_two = _top_two_are_true_drivers("dml", FAST, [panel for panel, _ in heterogeneous])
    assert sum(top_two) >= 2, top_two


def test_true_drivers_lead_the_forest_drivers_table():
    """A forest needs more treated cities than one draw's 75 to keep a continuous noise trait
    out of its top splits: two draws side by side (150 treated cities)."""
    panels = [stacked(seed, noise_sd=0.5) for seed in (341, 342, 343)]
    top_two = _top_two_are_true_drivers("causal_forest", dict(FOREST, n_seeds=0), panels)
    assert sum(top_two) >= 2, top_two


def test_blp_signs_and_no_false_discoveries(heterogeneous):
    """Every significant BLP slope of a true driver has the sign of the true projection; noise
    traits are rarely significant (9 noise slopes over three panels)."""
    wrong_sign, noise_hits, found = 0, 0, 0
    for panel, sim in heterogeneous:
        est = bc.make_estimator("dml", random_state=2, **FAST).fit(panel)
        blp = est.effect("BLP").table.set_index("term")
        truth = true_blp(est, sim)
        for term, row in blp.iterrows():
            noise = term.split("=")[0] in NOISE_TRAITS
            if row.p_value < 0.05 and noise:
                noise_hits += 1
            elif row.p_value < 0.05:
                found += 1
                wrong_sign += np.sign(row.estimate) != np.sign(truth[term])
    assert wrong_sign == 0
    assert found >= 6
    assert noise_hits <= 1


@pytest.mark.parametrize("method,params", [("dml", FAST),
                                           ("causal_forest", dict(FOREST, n_seeds=0))])
def test_calibration_test_sees_heterogeneity_only_where_it_is(method, params, heterogeneous,
                                                             homogeneous):
    def p_differential(panel):
        est = bc.make_estimator(method, random_state=3, **params).fit(panel)
        tests = {t.name: t for t in est.effect("CATE").tests}
        return tests["calibration: differential forest prediction"].p_value

    found = [p_differential(panel) < 0.05 for panel, _ in heterogeneous]
    false = [p_differential(panel) < 0.05 for panel, _ in homogeneous]
    assert sum(found) >= 2, found
    assert sum(false) <= 1, false


def test_the_imputation_design_uses_the_whole_panel():
    """On a clean panel (effect exactly linear in h1, h2) the default design's BLP covers the
    truth with standard errors well under those of the long differences on the same panel,
    which use one base year per cell."""
    panel = clean_panel(3, n_units=150)
    fits = {design: bc.make_estimator("dml", design=design, random_state=0, **FAST).fit(panel)
            for design in ("imputation", "long_difference")}
    blp = {d: f.effect("BLP").table.set_index("term") for d, f in fits.items()}
    ratio = blp["imputation"]["std_error"] / blp["long_difference"]["std_error"]
    assert (ratio < 0.7).all(), ratio
    imputed = blp["imputation"]
    for term in CLEAN_DRIVERS:
        assert imputed.loc[term, "lower"] < CLEAN_BLP[term] < imputed.loc[term, "upper"]
    assert fits["imputation"].effect("CATE").facts()["design"] == "imputation"
    assert any(n.startswith("long-difference design")
               for n in fits["long_difference"].effect("BLP").notes)
