"""Mechanism analysis: the policy's effect on each mediator, recovered from a known truth."""

from __future__ import annotations

import numpy as np
import pytest

import bayescity as bc
from bayescity.data.sim_effects import MECHANISMS
from bayescity.datasets import simulate_city_panel
from bayescity.estimators import ParamError
from bayescity.estimators.robust.mechanisms import IDENTIFICATION, Mechanisms

MEDIATORS = list(MECHANISMS)


@pytest.fixture(scope="module")
def sim():
    """A fresh panel whose every treated cell has the same effect on each mediator."""
    return simulate_city_panel(6060, heterogeneous=False, dynamic=False, cohort_effects=False,
                               selection=False)


@pytest.fixture(scope="module")
def panel(sim):
    return bc.load_panel(sim.data, unit="city", time="year", outcome="tfp_growth",
                         cohort="pilot_year", covariates=["industry_share", "sci_spend_share"],
                         traits=["region3"])


@pytest.mark.parametrize("estimator, params", [("twfe", {}),
                                               ("callaway_santanna", {"covariates": []})])
def test_mechanism_dids_recover_the_effect_on_each_mediator(sim, panel, estimator, params):
    fit = bc.make_estimator("mechanisms", mediators=MEDIATORS, estimator=estimator,
                            estimator_params=params).fit(panel)
    cells = sim.truth.cell_effects
    for m in MEDIATORS:
        res = fit.effect(f"ATT_on_{m}")
        row = res.row("overall")
        truth = cells[f"effect_{m}"].mean()
        assert abs(row["estimate"] - truth) < 3.5 * row["std_error"], (m, row["estimate"], truth)
        assert res.method == "mechanisms" and res.terms == ["overall"]
    table = fit.effect("ATT").part_frame("mechanisms").set_index("mediator")
    assert list(table.index) == MEDIATORS
    # the outcome responds to each mediator with its structural coefficient
    for m in ("sci_spend_share", "business_env"):
        coef = MECHANISMS[m].coefficient
        assert abs(table.loc[m, "association"] - coef) < 3.5 * table.loc[m, "association_std_error"]


def test_mediators_are_not_controls(panel):
    fit = bc.make_estimator("mechanisms", mediators=["sci_spend_share"]).fit(panel)
    direct = bc.make_estimator("twfe", covariates=["industry_share"]).fit(panel)
    assert fit.effect("ATT").estimate() == pytest.approx(direct.effect("ATT").estimate())
    on = bc.make_estimator("twfe", covariates=["industry_share"]).fit(
        panel.with_outcome("sci_spend_share"))
    assert fit.effect("ATT_on_sci_spend_share").estimate() == pytest.approx(
        on.effect("ATT").estimate())


def test_by_and_the_identification_statement(panel):
    fit = bc.make_estimator("mechanisms", mediators=["agglomeration"], by="region3").fit(panel)
    assert [r.estimand for r in fit.results()] == ["ATT", "ATT_by_region3",
                                                   "ATT_on_agglomeration"]
    assert "not a causal mediation share" in IDENTIFICATION
    assert IDENTIFICATION in fit.effect("ATT").notes
    assert "no causal mediation share" in Mechanisms.__doc__


@pytest.mark.parametrize("params, match", [({"mediators": "agglomeration"}, "mediators: give a list"),
                                           ({"estimator": "twfee"}, "did you mean 'twfe'")])
def test_parameter_mistakes(params, match):
    with pytest.raises(ParamError, match=match):
        bc.make_estimator("mechanisms", **params).validate()


def test_unknown_or_outcome_mediator_is_refused(panel):
    with pytest.raises(ParamError, match="mediators: column"):
        bc.make_estimator("mechanisms", mediators=["nope"]).check_panel(panel)
    with pytest.raises(ParamError, match="is the outcome"):
        bc.make_estimator("mechanisms", mediators=["tfp_growth"]).check_panel(panel)
    assert np.isfinite(bc.make_estimator("mechanisms").fit(panel).effect(
        "ATT_on_industry_share").estimate())
