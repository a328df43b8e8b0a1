"""The synthetic built-in panel ``builtin:china_cities`` and :func:`simulate_city_panel`."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

from bayescity.data.builtin import BUILTIN_NAMES, builtin_path, read_builtin
from bayescity.data.make_builtin import write_builtin
from bayescity.data.simulate import COLUMNS
from bayescity.datasets import BUILTIN_SEED, load_china_cities, simulate_city_panel

TRAITS = ("region3", "region4", "north_south", "provincial_capital", "coastal", "initial_size",
          "ln_pop_2003", "ln_gdp_pc_2003", "pilot_year", "pilot_batch", "pilot_year_uncertain",
          "city_cn", "adcode", "province")
HOMOGENEOUS = dict(heterogeneous=False, dynamic=False, cohort_effects=False)


@pytest.fixture(scope="module")
def builtin():
    return load_china_cities()


@pytest.fixture(scope="module")
def data(builtin):
    return builtin.data


def _row(data: pd.DataFrame, city: str) -> pd.Series:
    return data[data["city"] == city].iloc[0]


# --- the shipped file ------------------------------------------------------------------------

def test_regenerating_with_the_shipped_seed_reproduces_the_shipped_file(tmp_path):
    fresh = write_builtin(tmp_path)
    with builtin_path("china_cities").open("rb") as handle:
        shipped = handle.read()
    assert gzip.decompress(fresh.read_bytes()) == gzip.decompress(shipped)
    assert fresh.read_bytes() == shipped
    assert len(shipped) < 1_500_000


def test_read_builtin_names_and_unknown_name():
    assert BUILTIN_NAMES == ("china_cities",)
    with pytest.raises(ValueError, match="china_cities"):
        read_builtin("no_such_data")


def test_load_china_cities_matches_the_file_and_the_seed(builtin, data):
    assert builtin.seed == BUILTIN_SEED
    pd.testing.assert_frame_equal(data, read_builtin("china_cities"))
    fresh = simulate_city_panel(BUILTIN_SEED).data
    np.testing.assert_allclose(data["tfp_growth"], fresh["tfp_growth"], atol=1e-6)


# --- structure -------------------------------------------------------------------------------

def test_columns_and_balanced_panel(data):
    assert tuple(data.columns) == COLUMNS
    assert data["city"].nunique() == 285
    assert (data["year"].min(), data["year"].max()) == (2003, 2021)
    assert not data.duplicated(["city", "year"]).any()
    assert (data.groupby("city")["year"].nunique() == 19).all()
    assert not data.isna().any().any()
    assert {"Taizhou (Jiangsu)", "Taizhou (Zhejiang)", "Suzhou (Anhui)"} <= set(data["city"])
    assert not {"Sansha", "Danzhou", "Bijie", "Haidong", "Hami", "Shigatse"} & set(data["city"])
    assert "Lhasa" in set(data["city"])


def test_real_pilot_cohorts(data):
    assert _row(data, "Shenzhen")["pilot_year"] == 2008
    beijing = _row(data, "Beijing")
    assert beijing["pilot_year"] == 2010 and "MOST" in beijing["pilot_batch"]
    assert _row(data, "Chongqing")["pilot_year"] == 2010
    baoding = _row(data, "Baoding")
    assert baoding["pilot_year"] == 0 and baoding["pilot_batch"].startswith("2022")
    assert _row(data, "Taiyuan")["pilot_year_uncertain"] == 1
    assert _row(data, "Xuzhou")["pilot_year_uncertain"] == 0
    cohorts = data.drop_duplicates("city")["pilot_year"].value_counts().to_dict()
    assert cohorts == {0: 209, 2008: 1, 2010: 28, 2012: 30, 2018: 17}
    uncertain = data.drop_duplicates("city").query("pilot_year_uncertain == 1")
    assert set(uncertain["pilot_year"]) == {2012}
    expected = ((data["pilot_year"] > 0) & (data["year"] >= data["pilot_year"])).astype(int)
    assert (data["treated"] == expected).all()


def test_traits_constant_within_city(data):
    assert (data.groupby("city")[list(TRAITS)].nunique() == 1).all().all()
    assert set(data["region4"]) == {"East", "Central", "West", "Northeast"}
    assert set(data["initial_size"]) == {"small", "medium", "large"}
    assert data.drop_duplicates("city")["provincial_capital"].sum() == 31


def test_accounting_identities(data):
    alpha = 0.4
    fitted = data["tfp"] + alpha * np.log(data["capital_stock"]) \
        + (1 - alpha) * np.log(data["employment"])
    np.testing.assert_allclose(np.log(data["gdp_real"]), fitted, atol=1e-5)
    by_city = data.groupby("city")
    np.testing.assert_allclose(by_city["tfp"].diff().dropna(),
                               data["tfp_growth"][by_city["tfp"].diff().notna()] / 100, atol=1e-5)
    perpetual = 0.904 * by_city["capital_stock"].shift() + data["fai_real"]
    np.testing.assert_allclose(data["capital_stock"][perpetual.notna()], perpetual.dropna(),
                               rtol=1e-6)
    gdp_pc = np.log(data["gdp_real"] * 1e4 / data["population"])
    np.testing.assert_allclose(data["ln_gdp_pc"], gdp_pc, atol=1e-5)
    first = data[data["year"] == 2003]
    np.testing.assert_allclose(first["ln_gdp_pc"], first["ln_gdp_pc_2003"], atol=1e-5)


def test_selection_on_observables(data):
    first = data[data["year"] == 2003]
    pilot = first["pilot_batch"] != ""
    for column in ("ln_gdp_pc_2003", "ln_pop_2003", "human_capital"):
        assert first.loc[pilot, column].mean() > first.loc[~pilot, column].mean()


# --- the truth -------------------------------------------------------------------------------

def test_truth_summaries_recompute_from_cells(builtin, data):
    truth, cells = builtin.truth, builtin.truth.cell_effects
    assert len(cells) == int(data["treated"].sum())
    assert (cells["rel_time"] >= 0).all()
    assert truth.att == pytest.approx(cells["tau"].mean())
    assert 0.5 < truth.att < 1.5
    for col in ("region3", "north_south", "region4"):
        pd.testing.assert_series_equal(truth.att_by[col], cells.groupby(col)["tau"].mean(),
                                       check_names=False)
    by_event = cells.groupby("rel_time")["tau"].mean()
    np.testing.assert_allclose(truth.att_event.loc[by_event.index], by_event)
    assert (truth.att_event[truth.att_event.index < 0] == 0).all()
    assert truth.att_event.index.min() == 2003 - 2018
    assert truth.att_by["region3"]["Middle"] > truth.att_by["region3"]["East"]
    assert truth.att_by["region3"]["West"] == pytest.approx(0.0)
    assert truth.att_by["north_south"]["North"] > truth.att_by["north_south"]["South"]
    channels = cells[["direct", "via_sci_spend_share", "via_agglomeration",
                      "via_business_env"]].sum(axis=1)
    np.testing.assert_allclose(channels, cells["tau"])
    assert sum(truth.mechanism_shares.values()) == pytest.approx(1.0)
    units = truth.unit_effects()
    assert len(units) == data.query("pilot_year > 0")["city"].nunique()


def test_outcome_differs_from_the_untreated_outcome_exactly_by_tau():
    treated = simulate_city_panel(7)
    untreated = simulate_city_panel(7, effect=0.0)
    gap = treated.data["tfp_growth"] - untreated.data["tfp_growth"]
    is_treated = treated.data["treated"] == 1
    assert (gap[~is_treated] == 0).all()
    np.testing.assert_allclose(gap[is_treated].to_numpy(), treated.truth.cell_effects["tau"])
    level_gap = treated.data["tfp"] - untreated.data["tfp"]
    np.testing.assert_allclose(level_gap[is_treated].to_numpy(),
                               treated.truth.cell_effects["tau_tfp"], atol=1e-12)
    assert untreated.truth.att == 0.0


# --- the knobs -------------------------------------------------------------------------------

def test_homogeneous_static_effect_is_constant():
    panel = simulate_city_panel(3, effect=0.8, **HOMOGENEOUS)
    np.testing.assert_allclose(panel.truth.cell_effects["tau"], 0.8)
    assert panel.truth.att == pytest.approx(0.8)


def test_dynamic_effect_ramps_up():
    panel = simulate_city_panel(3, effect=1.0, heterogeneous=False, cohort_effects=False,
                                ramp_years=3)
    event = panel.truth.att_event
    assert event[0] < event[1] < event[2] <= event[5] == pytest.approx(1.0)


def test_cohort_effects_differ_by_cohort():
    panel = simulate_city_panel(3, effect=1.0, heterogeneous=False, dynamic=False)
    by_cohort = panel.truth.att_cohort
    assert by_cohort[2010] > by_cohort[2012] > by_cohort[2018]


def test_random_assignment_keeps_cohort_sizes(data):
    panel = simulate_city_panel(5, assignment="random")
    sizes = panel.data.drop_duplicates("city")["pilot_year"].value_counts().sort_index()
    real = data.drop_duplicates("city")["pilot_year"].value_counts().sort_index()
    pd.testing.assert_series_equal(sizes, real)
    assert set(panel.data.query("pilot_year == 2010")["city"]) != \
        set(data.query("pilot_year == 2010")["city"])


def test_subset_keeps_treated_and_never_treated():
    panel = simulate_city_panel(5, n_units=40, years=(2005, 2019))
    units = panel.data.drop_duplicates("city")
    assert len(units) == 40 and (units["pilot_year"] > 0).any() and (units["pilot_year"] == 0).any()
    assert (panel.data["year"].min(), panel.data["year"].max()) == (2005, 2019)
    assert len(panel.truth.cell_effects) == int(panel.data["treated"].sum())


def test_pretrend_adds_a_pre_period_slope_but_keeps_the_truth():
    base = simulate_city_panel(11)
    tilted = simulate_city_panel(11, pretrend=0.2)
    gap = (tilted.data["tfp_growth"] - base.data["tfp_growth"]).to_numpy()
    d = base.data
    pre = (d["pilot_year"] > 0) & (d["year"] < d["pilot_year"])
    np.testing.assert_allclose(gap[pre], 0.2 * (d["year"] - d["pilot_year"])[pre])
    assert (gap[~pre] == 0).all()
    assert tilted.truth.att == base.truth.att


def test_invalid_arguments():
    with pytest.raises(ValueError):
        simulate_city_panel(1, assignment="lottery")
    with pytest.raises(ValueError):
        simulate_city_panel(1, years=(2000, 2021))
    with pytest.raises(ValueError):
        simulate_city_panel(1, n_units=1)


# --- estimators on the synthetic truth ---------------------------------------------------------

def _twfe(data: pd.DataFrame) -> tuple[float, float]:
    import pyfixest as pf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols("tfp_growth ~ treated | city + year", data=data, vcov={"CRV1": "city"})
    return float(fit.coef()["treated"]), float(fit.se()["treated"])


def test_twfe_recovers_a_homogeneous_effect_without_selection():
    panel = simulate_city_panel(21, effect=1.0, selection=False, **HOMOGENEOUS)
    estimate, se = _twfe(panel.data)
    assert abs(estimate - 1.0) < 3 * se


def test_naive_twfe_is_biased_on_the_builtin_panel(builtin, data):
    estimate, se = _twfe(data)
    assert estimate - builtin.truth.att > 2 * se
