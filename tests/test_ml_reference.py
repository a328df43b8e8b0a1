"""dml against third-party and in-house references on mpdta (Callaway & Sant'Anna 2021).

With ``linear`` learners the cell design is Callaway & Sant'Anna's doubly robust estimator with
cross-fitted nuisances, so its ATT must match ``callaway_santanna(est_method="dr")``; DoubleML's
staggered DID (``DoubleMLDIDMulti``, the same per-cell DR score with its own folds) must agree
within a standard error.
"""

from __future__ import annotations

import warnings
from functools import reduce
from operator import add

import numpy as np
import pandas as pd
import pytest

import bayescity as bc

from doubleml.data import DoubleMLPanelData
from doubleml.did import DoubleMLDIDMulti


def mpdta_panel(df: pd.DataFrame) -> bc.Panel:
    return bc.load_panel(df, unit="countyreal", time="year", outcome="lemp", cohort="first.treat",
                         covariates=["lpop"])


def dml_linear(panel: bc.Panel, control_group: str, **kwargs) -> bc.EffectResult:
    est = bc.make_estimator("dml", control_group=control_group, outcome_model="linear",
                            propensity_model="linear", random_state=20, **kwargs)
    return est.fit(panel).effect("ATT")


@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
def test_linear_learners_reproduce_doubly_robust_callaway_santanna(mpdta, control_group):
    """Repeated 10-fold cross-fitting (mc_iters=10) leaves the ATT within 1e-3 of the in-sample
    DR estimate; 5-fold single cross-fitting varies by about 1e-3 around it."""
    panel = mpdta_panel(mpdta)
    cs = bc.make_estimator("callaway_santanna", control_group=control_group, est_method="dr")
    cs = cs.fit(panel).effect("ATT").row("overall")
    ours = dml_linear(panel, control_group, n_folds=10, mc_iters=10).row("overall")
    assert ours.estimate == pytest.approx(cs.estimate, abs=1e-3)
    assert ours.std_error == pytest.approx(cs.std_error, rel=0.05)
    single = dml_linear(panel, control_group).row("overall")
    assert abs(single.estimate - cs.estimate) < 0.5 * cs.std_error


def doubleml_simple_att(df: pd.DataFrame, control_group: str) -> tuple[float, float]:
    """DoubleML's ATT(g,t) aggregated with the treated-cell weights of ``ATT``/overall."""
    from sklearn.linear_model import LinearRegression, LogisticRegression

    data = DoubleMLPanelData(df, y_col="lemp", d_cols="first.treat", t_col="year",
                             id_col="countyreal", x_cols=["lpop"])
    model = DoubleMLDIDMulti(data, ml_g=LinearRegression(), ml_m=LogisticRegression(penalty=None),
                             control_group=control_group, n_folds=5)
    state = np.random.get_state()  # DoubleML draws its folds from numpy's global generator
    try:
        np.random.seed(11)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit()
    finally:
        np.random.set_state(state)
    frames, weights = [], []
    for (g, _, t), cell in zip(model.gt_combinations, model.modellist):
        if t >= g:
            frames.append(cell.framework)
            weights.append(int(((df["year"] == t) & (df["first.treat"] == g)).sum()))
    w = np.asarray(weights, float) / sum(weights)
    overall = reduce(add, [wi * f for wi, f in zip(w, frames)])
    return float(overall.all_thetas[0, 0]), float(overall.all_ses[0, 0])


@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
def test_agrees_with_doubleml_staggered_did(mpdta, control_group):
    theta, se = doubleml_simple_att(mpdta, control_group)
    ours = dml_linear(mpdta_panel(mpdta), control_group).row("overall")
    assert abs(ours.estimate - theta) < ours.std_error
    assert ours.std_error == pytest.approx(se, rel=0.15)
