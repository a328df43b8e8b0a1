"""One battery over every registered estimator: the contract all of them keep."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayescity import SUMMARY_COLUMNS, available_methods, get_estimator, load_panel
from bayescity.estimators import UnknownEstimandError
from bayescity.results import EffectResult
from conftest import make_staggered

METHODS = available_methods()
#: Parameters naming the spatial structure a method needs (the battery's panel has coordinates).
SPATIAL = {"spillover": {"coordinates": ["lat", "lon"], "bands": [0, 50]}}


def _panel(df: pd.DataFrame):
    return load_panel(df, unit="unit", time="year", outcome="y", cohort="g", covariates=["x"],
                      traits=["region"])


def _make(method: str, **extra):
    cls = get_estimator(method)
    params = dict(getattr(cls, "smoke_params", {}) or {})
    if "random_state" in cls.param_names():
        params["random_state"] = 11
    params.update(SPATIAL.get(method, {}))
    params.update(extra)
    return cls(**params)


@pytest.fixture(scope="module")
def panel_df():
    df = make_staggered(seed=3, n_units=45)
    rng = np.random.default_rng(3)
    units = df["unit"].unique()
    where = pd.DataFrame({"unit": units, "lat": rng.uniform(25, 35, units.size),
                          "lon": rng.uniform(105, 115, units.size)})
    return df.merge(where, on="unit")


def test_registry_has_the_frequentist_core():
    assert "twfe" in METHODS


@pytest.mark.parametrize("method", METHODS)
def test_contract(method, panel_df):
    before = panel_df.copy()
    panel = _panel(panel_df)
    est = _make(method)
    assert est.fit(panel) is est
    pd.testing.assert_frame_equal(panel_df, before)
    results = est.results()
    assert results and all(isinstance(r, EffectResult) for r in results)
    for r in results:
        s = r.summary()
        assert list(s.columns) == list(SUMMARY_COLUMNS)
        assert (s["method"] == method).all() and (s["interval_prob"] == 0.95).all()
        ok = s.dropna(subset=["std_error"])
        assert (ok["lower"] <= ok["estimate"]).all() and (ok["estimate"] <= ok["upper"]).all()
        if r.paradigm == "bayesian":
            assert s["p_value"].isna().all()
        else:
            assert s["prob_positive"].isna().all()
    overall = est.effect("ATT")
    assert overall.terms == ["overall"]
    with pytest.raises(UnknownEstimandError, match="available"):
        est.effect("ATT_nonsense")
    _parts_render(results, method)
    _state_is_frozen(est)


def _parts_render(results, method: str) -> None:
    """Every part is declared and the report renders it (by its type)."""
    from bayescity.reports.cache import FigureMaker
    from bayescity.reports.parts import render_part
    from bayescity.results.parts import DECLARED

    for r in results:
        assert r.part("settings") is not None, (method, r.estimand)
        for part in r.parts:
            assert type(part) is DECLARED[part.name].type
            assert render_part(part, f"{part.name}-x", part.name, FigureMaker()) is not None


def _state_is_frozen(est) -> None:
    """The fit keeps its state in one frozen object, not in attributes set along the way."""
    import dataclasses

    assert {k for k in vars(est) if k.endswith("_")} <= {"results_", "state_", "n_obs_"}
    assert not any(k.startswith("_") for k in vars(est))
    if est.state_ is not None:
        assert dataclasses.is_dataclass(est.state_)
        assert est.state_.__dataclass_params__.frozen


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_numbers(method, panel_df):
    a = _make(method).fit(_panel(panel_df)).effect("ATT").summary()
    b = _make(method).fit(_panel(panel_df)).effect("ATT").summary()
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("method", METHODS)
def test_by_trait_gives_levels(method, panel_df):
    if "by" not in get_estimator(method).param_names():
        pytest.fail(f"{method} does not accept by=<trait>")
    est = _make(method, by="region").fit(_panel(panel_df))
    r = est.effect("ATT_by_region")
    assert r.terms == ["North", "South"]
    assert np.isfinite(r.table["estimate"]).all()
