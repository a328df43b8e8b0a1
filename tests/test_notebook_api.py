"""The Python API a notebook user meets: names reachable from ``import bayescity as bc``,
formatted tables in Jupyter, results as xarray and ArviZ objects."""

from __future__ import annotations

import numpy as np
import pytest

import bayescity as bc
from conftest import make_staggered


@pytest.fixture(scope="module")
def panel():
    return bc.load_panel(make_staggered(n_units=40), unit="unit", time="year", outcome="y",
                         cohort="g", covariates=["x"], traits=["region"])


def test_names_a_notebook_reaches_from_the_package():
    assert bc.datasets.load_china_cities is not None and callable(bc.run_experiment)
    for method in bc.available_methods():
        cls = bc.get_estimator(method)
        assert getattr(bc, cls.__name__) is cls, method
    est = bc.HierarchicalDID(by="region3")
    assert est.by == "region3" and est.method == "hierarchical_did"


def test_tables_render_as_html(panel):
    fit = bc.CallawaySantAnna(by="region").fit(panel)
    html = fit._repr_html_()
    assert "<table" in html and "ATT_by_region" in html and "callaway_santanna" in html
    assert "<table" in bc.compare(fit.results())._repr_html_()
    att_html = fit.effect("ATT")._repr_html_()
    assert "overall" in att_html and "note:" in att_html
    describe = panel.describe()._repr_html_()
    assert "<table" in describe and "never treated" in describe
    assert "not fitted" in bc.TWFE()._repr_html_()


def test_results_convert_to_xarray(panel):
    att = bc.TWFE(by="region").fit(panel).effect("ATT_by_region")
    ds = att.to_xarray()
    assert list(ds["term"].values) == ["North", "South"]
    np.testing.assert_allclose(ds["estimate"].values, att.table["estimate"].to_numpy())
    assert ds.attrs["interval_kind"] == att.interval_kind and "vcov" in ds
    with pytest.raises(ValueError, match="no posterior draws"):
        att.to_inference_data()


def test_a_bayesian_result_gives_its_posterior_as_inference_data(panel):
    fit = bc.HierarchicalDID(by="region", chains=2, draws=200, tune=100,
                             random_state=1).fit(panel)
    res = fit.effect("ATT_by_region")
    idata = res.to_inference_data()
    post = idata.posterior["ATT_by_region"]
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 200
    np.testing.assert_allclose(post.mean(("chain", "draw")).values,
                               res.table["estimate"].to_numpy())
    assert "draws" in res.to_xarray()
