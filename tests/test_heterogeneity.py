"""Heterogeneity: interaction and subsample estimates, Wald and wild-bootstrap equality tests."""

from __future__ import annotations

import numpy as np
import pytest

import bayescity as bc
from bayescity.datasets import simulate_city_panel
from bayescity.estimators import ParamError
from bayescity.estimators.freq.es_common import reparametrised
from bayescity.estimators.core.inference import (bootstrap_weights, fe_projection,
                                                 wild_cluster_bootstrap)
from bayescity.estimators.core.levels import level_dummies
from bayescity.estimators.robust.heterogeneity import level_panel
from bayescity.estimators.robust.wild_wald import wild_wald_test
from bayescity.results.effect import equality_restriction

COVS = ["industry_share", "fin_dev"]


def _panel(sim):
    return bc.load_panel(sim.data, unit="city", time="year", outcome="tfp_growth",
                         cohort="pilot_year", covariates=COVS,
                         traits=["region3", "north_south"], cluster="province")


@pytest.fixture(scope="module")
def regional():
    """Regions differ: East 1.0, Middle 1.6, West 0 times the plateau effect."""
    return _panel(simulate_city_panel(9191, dynamic=False, cohort_effects=False,
                                      selection=False))


def _tests(result):
    return {t.kind: t for t in result.tests}


def test_rejects_equal_effects_when_regions_differ(regional):
    fit = bc.make_estimator("heterogeneity", by="region3", random_state=4,
                            estimator_params={"cluster": "province"}).fit(regional)
    inter = fit.effect("ATT_by_region3")
    tests = _tests(inter)
    assert tests["wald_F"].p_value < 0.01
    assert tests["wild_bootstrap_wald"].p_value < 0.01   # 31 provinces: few clusters per region
    assert _tests(fit.effect("ATT_subsample_region3"))["wald_chi2"].p_value < 0.01
    west = inter.row("West")
    assert west["lower"] <= 0.0 <= west["upper"] or abs(west["estimate"]) < 0.5


def test_side_by_side_table_and_subsample_fits(regional):
    fit = bc.make_estimator("heterogeneity", random_state=1,
                            estimator_params={"cluster": "city"}).fit(regional)
    assert [r.estimand for r in fit.results()] == [
        "ATT", "ATT_by_region3", "ATT_subsample_region3", "ATT_by_north_south",
        "ATT_subsample_north_south"]
    table = fit.effect("ATT_by_region3").part_frame("heterogeneity").set_index("level")
    assert list(table.index) == ["East", "Middle", "West"]
    assert table["n_units"].sum() == regional.n_units
    east = bc.make_estimator("twfe").fit(level_panel(regional, "region3", "East"))
    assert table.loc["East", "subsample_estimate"] == pytest.approx(east.effect("ATT").estimate())
    assert fit.effect("ATT_subsample_region3").row("East")["estimate"] == pytest.approx(
        east.effect("ATT").estimate())
    inter = bc.make_estimator("twfe", by="region3").fit(regional).effect("ATT_by_region3")
    np.testing.assert_allclose(table["interaction_estimate"], inter.table["estimate"])
    # clustered by city, no level has few clusters: no wild bootstrap under `auto`
    assert "wild_bootstrap_wald" not in _tests(fit.effect("ATT_by_region3"))


def test_wild_wald_with_one_restriction_is_the_wcr11_t_test(regional):
    """With two levels the bootstrap Wald test equals the WCR11 test of the difference
    (pyfixest-validated :func:`wild_cluster_bootstrap`) on the same weights."""
    data, terms, names = level_dummies(regional.frame, "north_south")
    X = data[names].to_numpy()
    g = data["province"].nunique()
    w, _ = bootstrap_weights("webb", g, 499, 17)
    ours = wild_wald_test(data["tfp_growth"].to_numpy(), X, data["province"].to_numpy(),
                          equality_restriction(2), w, fe_projection(data, ["city", "year"], COVS))
    Z = reparametrised(X, np.array([1.0, -1.0]))
    ref = wild_cluster_bootstrap(data["tfp_growth"].to_numpy(), Z[:, 0],
                                 data["province"].to_numpy(),
                                 projection=fe_projection(data.assign(_z=Z[:, 1]), ["city", "year"],
                                                          ["_z", *COVS]),
                                 weights="webb", n_boot=499, random_state=17)
    assert ours.p_value == pytest.approx(ref.p_value)
    assert ours.statistic == pytest.approx(ref.t_stat**2 * g / (g - 1), rel=1e-8)


def test_holds_size_when_regions_do_not_differ_on_one_panel():
    homog = _panel(simulate_city_panel(9292, heterogeneous=False, dynamic=False,
                                       cohort_effects=False, selection=False))
    fit = bc.make_estimator("heterogeneity", by="north_south", wild_bootstrap="always",
                            random_state=2).fit(homog)
    tests = _tests(fit.effect("ATT_by_north_south"))
    assert 0.0 <= tests["wild_bootstrap_wald"].p_value <= 1.0
    assert tests["wald_F"].statistic < 10  # no gross rejection; the size study is slow


@pytest.mark.parametrize("params, match", [
    ({"wild_bootstrap": "sometimes"}, "wild_bootstrap"),
    ({"wild_bootstrap": "always", "estimator": "callaway_santanna"}, "twfe interaction"),
    ({"n_boot": 10}, "n_boot: 10"),
    ({"by": ["region3", "x"], "by_bins": "median"}, "by_bins: give one numeric trait"),
])
def test_parameter_mistakes(params, match):
    with pytest.raises(ParamError, match=match):
        bc.make_estimator("heterogeneity", **params).validate()


def test_unknown_trait_is_named(regional):
    with pytest.raises(ParamError, match="by: 'regoin3'.*did you mean 'region3'"):
        bc.make_estimator("heterogeneity", by="regoin3").check_panel(regional)
