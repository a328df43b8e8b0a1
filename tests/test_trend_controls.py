"""Baseline characteristics x period controls (``trend_covariates``) remove trait-driven trends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescity as bc

METHODS = ("twfe", "event_study", "sun_abraham", "imputation")


def trending_panel(seed: int, effect: float = 1.0) -> pd.DataFrame:
    """Units whose untreated outcome trends with a baseline trait that also drives adoption."""
    rng = np.random.default_rng(seed)
    n, years = 240, np.arange(2003, 2019)
    size = rng.normal(size=n)
    cohort = np.where(size + rng.normal(scale=0.7, size=n) > 0.4,
                      rng.choice([2008, 2011, 2014], size=n), 0)
    region = rng.choice(["East", "Middle", "West"], size=n)
    df = pd.DataFrame({"unit": np.repeat(np.arange(n), len(years)), "year": np.tile(years, n),
                       "cohort_year": np.repeat(cohort, len(years)),
                       "size_2003": np.repeat(size, len(years)),
                       "region": np.repeat(region, len(years))})
    step = (df["year"] - 2003).to_numpy()
    region_trend = df["region"].map({"East": 0.10, "Middle": 0.0, "West": -0.05}).to_numpy()
    treated = (df["cohort_year"] > 0) & (df["year"] >= df["cohort_year"])
    df["y"] = (np.repeat(rng.normal(size=n), len(years)) + 0.15 * df["size_2003"] * step
               + region_trend * step + effect * treated + rng.normal(scale=0.5, size=len(df)))
    return df


def _panel(df: pd.DataFrame) -> bc.Panel:
    return bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="cohort_year",
                         traits=["region"])


@pytest.mark.parametrize("method", METHODS)
def test_trend_controls_remove_selection_bias(method):
    panel = _panel(trending_panel(5))
    plain = bc.make_estimator(method).fit(panel).effect("ATT").row("overall")
    assert abs(plain["estimate"] - 1.0) > 3 * plain["std_error"]
    trends = bc.make_estimator(method, trend_covariates=["size_2003", "region"]).fit(panel)
    row = trends.effect("ATT").row("overall")
    assert row["lower"] <= 1.0 <= row["upper"]
    assert abs(row["estimate"] - 1.0) < abs(plain["estimate"] - 1.0) / 3


def test_trend_controls_validate_and_leave_the_panel_alone():
    df = trending_panel(1)
    panel = _panel(df)
    columns = list(panel.frame.columns)
    bc.make_estimator("twfe", trend_covariates=["size_2003"]).fit(panel)
    assert list(panel.frame.columns) == columns
    with pytest.raises(ValueError, match="not in the data"):
        bc.make_estimator("twfe", trend_covariates=["nope"]).fit(panel)
    varying = _panel(df.assign(size_now=df["size_2003"] + 0.01 * df["year"]))
    with pytest.raises(ValueError, match="constant within units"):
        bc.make_estimator("sun_abraham", trend_covariates=["size_now"]).fit(varying)


def test_imputation_flags_dummies_few_untreated_units_identify():
    """On the real pilot list only one provincial capital stays untreated after 2012."""
    from bayescity import datasets

    panel = bc.load_panel(datasets.load_china_cities().data, unit="city", time="year",
                          outcome="tfp_growth", cohort="pilot_year")
    flagged = bc.make_estimator("imputation", covariates=[],
                                trend_covariates=["provincial_capital"]).fit(panel)
    warnings = flagged.effect("ATT").warnings
    assert warnings and all("provincial_capital" in n for n in warnings)
    clean = bc.make_estimator("imputation", covariates=[], trend_covariates=["ln_pop_2003"])
    assert clean.fit(panel).effect("ATT").warnings == ()
