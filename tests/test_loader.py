"""load_panel: file formats, every validation fault, and invariances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayescity import PanelError, load_panel
from bayescity.data.panel import COHORT, REL_TIME, TREAT
from conftest import make_staggered

ROLES = dict(unit="unit", time="year", outcome="y", cohort="g", covariates=["x"], traits=["region"])


def _err(df_or_path, **over) -> PanelError:
    with pytest.raises(PanelError) as info:
        load_panel(df_or_path, **{**ROLES, **over})
    return info.value


# ----------------------------------------------------------------- formats
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_detected(tmp_path, encoding):
    df = make_staggered(n_units=12)
    df["unit"] = df["unit"].map(lambda u: "深圳市" + u)
    path = tmp_path / "p.csv"
    path.write_bytes(df.to_csv(index=False).encode(encoding))
    panel = load_panel(path, **ROLES)
    assert panel.units[0].startswith("深圳市")
    assert panel.n_obs == len(df)


def test_tsv_parquet_dta_xlsx_round_trip(tmp_path, staggered):
    ref = load_panel(staggered, **ROLES)
    staggered.to_csv(tmp_path / "p.tsv", sep="\t", index=False)
    staggered.to_parquet(tmp_path / "p.parquet")
    staggered.to_stata(tmp_path / "p.dta", write_index=False)
    with pd.ExcelWriter(tmp_path / "p.xlsx") as xl:
        staggered.head(3).to_excel(xl, sheet_name="notes", index=False)
        staggered.to_excel(xl, sheet_name="panel", index=False)
    for name, extra in [("p.tsv", {}), ("p.parquet", {}), ("p.dta", {}), ("p.xlsx", {"sheet": "panel"})]:
        panel = load_panel(tmp_path / name, **ROLES, **extra)
        np.testing.assert_allclose(panel.y, ref.y, rtol=0, atol=1e-6)
        assert list(panel.data[COHORT]) == list(ref.data[COHORT])


def test_treatment_column_derives_cohort(staggered):
    by_cohort = load_panel(staggered, **ROLES)
    roles = {**ROLES, "cohort": None, "treatment": "d"}
    by_treat = load_panel(staggered.drop(columns="g"), **roles)
    pd.testing.assert_series_equal(by_cohort.data[COHORT], by_treat.data[COHORT])
    both = load_panel(staggered, **{**ROLES, "treatment": "d"})
    assert (both.data[TREAT] == staggered.sort_values(["unit", "year"])["d"].to_numpy()).all()
    rel = by_cohort.data
    treated = rel[rel[COHORT] > 0]
    assert (treated[REL_TIME] == treated["year"] - treated[COHORT]).all()
    assert rel.loc[rel[COHORT] == 0, REL_TIME].isna().all()


def test_caller_frame_untouched_and_panel_immutable(staggered):
    before = staggered.copy()
    panel = load_panel(staggered, **ROLES)
    pd.testing.assert_frame_equal(staggered, before)
    copy = panel.data
    copy.loc[0, "y"] = 1e9
    assert panel.y[0] != 1e9
    with pytest.raises(AttributeError):
        panel.outcome = "x"  # type: ignore[misc]


def test_describe_and_xarray(staggered):
    unbalanced = staggered.drop(index=[5, 40]).reset_index(drop=True)
    panel = load_panel(unbalanced, **ROLES)
    d = panel.describe()
    assert d.n_units == 60 and d.n_periods == 12 and not d.balanced
    assert sum(d.cohorts.values()) + d.n_never_treated == 60
    assert "unbalanced" in str(d)
    ds = panel.to_xarray()
    assert ds["y"].shape == (60, 12)
    assert int(ds["y"].isnull().sum()) == 2
    assert set(ds["region"].values) == {"North", "South"}


def test_codes_are_consistent(staggered):
    panel = load_panel(staggered, **ROLES)
    codes, levels = panel.codes("region")
    assert list(levels) == ["North", "South"]
    assert (levels[codes] == panel.data["region"].to_numpy()).all()
    assert panel.unit_codes.max() == panel.n_units - 1
    assert panel.cohort_codes.min() == 0


def test_late_cohorts_become_never_treated(staggered):
    df = staggered.copy()
    df.loc[df["unit"] == "u000", "g"] = 2030
    panel = load_panel(df, **ROLES)
    assert (panel.data.loc[panel.data["unit"] == "u000", COHORT] == 0).all()
    assert any("after the last period" in n for n in panel.describe().notes)


# ----------------------------------------------------------------- faults, one test each
def test_missing_column(staggered):
    e = _err(staggered, covariates=["x", "nope"])
    assert e.columns == ["nope"] and "not found" in str(e)


def test_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    e = _err(tmp_path / "empty.csv")
    assert "empty.csv" in str(e) and "empty" in str(e)


def test_zero_rows(tmp_path, staggered):
    staggered.head(0).to_csv(tmp_path / "header_only.csv", index=False)
    e = _err(tmp_path / "header_only.csv")
    assert "no rows" in str(e)


def test_duplicate_unit_time(staggered):
    df = pd.concat([staggered, staggered.iloc[[3]]], ignore_index=True)
    e = _err(df)
    p = [p for p in e.problems if "duplicate" in p.message][0]
    assert p.column == "unit, year" and p.rows == (4, len(df))


def test_non_numeric_outcome(tmp_path, staggered):
    df = staggered.astype({"y": object})
    df.loc[7, "y"] = "1.2.3"
    df.to_csv(tmp_path / "bad.csv", index=False)
    e = _err(tmp_path / "bad.csv")
    assert "bad.csv" in str(e) and e.problems[0].column == "y" and e.problems[0].rows == (8,)
    assert "'1.2.3'" in str(e)


def test_infinite_covariate(staggered):
    df = staggered.copy()
    df.loc[[2, 9], "x"] = np.inf
    e = _err(df)
    assert e.columns == ["x"] and "infinite" in str(e) and e.problems[0].rows == (3, 10)


def test_missing_outcome_error_or_drop(staggered):
    df = staggered.copy()
    df.loc[[0, 20], "y"] = np.nan
    e = _err(df)
    assert e.columns == ["y"] and "missing" in str(e)
    panel = load_panel(df, **ROLES, drop_missing_outcome=True)
    assert panel.n_obs == len(df) - 2
    assert any("dropped 2 rows" in n for n in panel.describe().notes)


def test_non_integer_time(staggered):
    df = staggered.astype({"year": float})
    df.loc[4, "year"] = 2003.5
    e = _err(df)
    assert e.columns[0] == "year" and "integer" in str(e) and e.problems[0].rows == (5,)


def test_treatment_switches_off(staggered):
    df = staggered.drop(columns="g")
    idx = df.index[(df["unit"] == "u030") & (df["d"] == 1)][-1]
    df.loc[idx, "d"] = 0
    e = _err(df, cohort=None, treatment="d")
    assert e.columns == ["d"] and "switches off" in str(e) and e.problems[0].rows == (idx + 1,)


def test_cohort_inconsistent_with_treatment(staggered):
    df = staggered.copy()
    idx = df.index[(df["g"] > 0) & (df["year"] == df["g"])][0]
    df.loc[idx, "d"] = 0
    e = _err(df, treatment="d")
    assert "inconsistent" in str(e) and e.problems[0].rows == (idx + 1,)


def test_trait_varies_within_unit(staggered):
    df = staggered.copy()
    df.loc[13, "region"] = "West"
    e = _err(df)
    assert e.columns == ["region"] and "varies within unit" in str(e)


def test_cohort_varies_within_unit(staggered):
    df = staggered.copy()
    df.loc[df.index[df["unit"] == "u050"][0], "g"] = 2001
    e = _err(df)
    assert e.columns == ["g"] and "varies within unit" in str(e)


def test_single_observation_unit(staggered):
    df = pd.concat([staggered, staggered.iloc[[0]].assign(unit="lonely")], ignore_index=True)
    e = _err(df)
    assert e.columns == ["unit"] and "single observation" in str(e) and e.problems[0].rows == (len(df),)


def test_every_problem_reported_at_once(staggered):
    df = staggered.astype({"y": object})
    df.loc[1, "y"] = "bad"
    df.loc[2, "x"] = np.inf
    e = _err(df, traits=["region", "missing_trait"])
    assert {"missing_trait", "y", "x"} <= set(e.columns)


def test_unknown_file_type_and_missing_file(tmp_path):
    (tmp_path / "p.json").write_text("{}")
    assert "unsupported" in str(_err(tmp_path / "p.json"))
    assert "no such file" in str(_err(tmp_path / "absent.csv"))


# ----------------------------------------------------------------- invariances
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_row_order_and_relabelling_change_nothing(seed):
    from bayescity import make_estimator

    df = make_staggered(seed=seed % 7, n_units=24)
    rng = np.random.default_rng(seed)
    shuffled = df.sample(frac=1.0, random_state=rng.integers(2**31)).reset_index(drop=True)
    names = {u: f"z{rng.integers(1e9)}-{u}" for u in df["unit"].unique()}
    relabelled = shuffled.assign(unit=shuffled["unit"].map(names))
    base = load_panel(df, **ROLES)
    other = load_panel(relabelled, **ROLES)
    assert base.describe().cohorts == other.describe().cohorts
    key = ["year", "y"]
    pd.testing.assert_frame_equal(base.data.sort_values(key)[key].reset_index(drop=True),
                                  other.data.sort_values(key)[key].reset_index(drop=True))
    a = make_estimator("twfe").fit(base).effect().estimate()
    b = make_estimator("twfe").fit(other).effect().estimate()
    assert a == pytest.approx(b, abs=1e-10)
