"""Nuisance learners by name: the control outcome change and the propensity score of one cell.

``linear`` is ordinary least squares and the unpenalised logit of Callaway & Sant'Anna's doubly
robust estimator (the same Newton-Raphson code), ``lasso`` the cross-validated L1 versions on
standardised features (econml's ``"linear"`` choice: ``LassoCV`` and an L1
``LogisticRegressionCV``), ``random_forest`` and ``gradient_boosting`` scikit-learn's ensembles.
Every learner is seeded by the caller and runs single-threaded unless ``n_jobs`` says otherwise.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..core.cs_drdid import PS_CLIP, logit_coef, sigmoid

LEARNERS = ("gradient_boosting", "random_forest", "lasso", "linear")
#: Internal cross-validation folds of the ``lasso`` learners (fewer when a class is rare).
LASSO_CV = 3


def _varying(x: np.ndarray) -> np.ndarray:
    """Columns of ``x`` that are not constant (constant ones carry nothing beyond an intercept)."""
    if x.shape[0] == 0:
        return np.zeros(x.shape[1], dtype=bool)
    return np.ptp(x, axis=0) > 0


def _regressor(name: str, seed: int, n_jobs: int, n_obs: int):
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import LassoCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "gradient_boosting":
        return GradientBoostingRegressor(random_state=seed)
    if name == "random_forest":
        return RandomForestRegressor(n_estimators=100, min_samples_leaf=5, random_state=seed,
                                     n_jobs=n_jobs)
    return make_pipeline(StandardScaler(), LassoCV(cv=min(LASSO_CV, n_obs), alphas=20, random_state=seed))


def _classifier(name: str, seed: int, n_jobs: int, n_minority: int):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "gradient_boosting":
        return GradientBoostingClassifier(random_state=seed)
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=100, min_samples_leaf=5, random_state=seed,
                                      n_jobs=n_jobs)
    return make_pipeline(StandardScaler(), LogisticRegressionCV(
        Cs=10, l1_ratios=(1.0,), solver="liblinear", cv=min(LASSO_CV, n_minority),
        scoring=_neg_log_loss, use_legacy_attributes=False, random_state=seed))


def _neg_log_loss(estimator, x: np.ndarray, y: np.ndarray) -> float:
    """Mean log-likelihood of held-out labels (scikit-learn's ``neg_log_loss`` without its
    per-call validation, which dominates the cost of small cross-validated fits)."""
    p = np.clip(estimator.predict_proba(x)[:, 1], 1e-15, 1 - 1e-15)
    return float(np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def fit_predict_outcome(name: str, x_train: np.ndarray, y_train: np.ndarray,
                        x_eval: np.ndarray, seed: int, n_jobs: int = 1) -> np.ndarray:
    """Predictions at ``x_eval`` of a ``name`` regression of ``y_train`` on ``x_train``."""
    keep = _varying(x_train)
    if y_train.size < 3 or not keep.any():
        return np.full(x_eval.shape[0], y_train.mean() if y_train.size else 0.0)
    xt, xe = x_train[:, keep], x_eval[:, keep]
    if name == "linear":
        design = np.column_stack([np.ones(len(xt)), xt])
        beta = np.linalg.lstsq(design, y_train, rcond=None)[0]
        return np.column_stack([np.ones(len(xe)), xe]) @ beta
    model = _regressor(name, seed, n_jobs, y_train.size)
    return model.fit(xt, y_train).predict(xe)


def fit_predict_propensity(name: str, x_train: np.ndarray, d_train: np.ndarray,
                           x_eval: np.ndarray, seed: int, n_jobs: int = 1
                           ) -> tuple[np.ndarray, str | None]:
    """Probabilities of treatment at ``x_eval`` and a note when the learner had to give way.

    With fewer than two treated or two control units in training the share is used; a
    ``linear`` logit that does not converge (separation) is replaced by a mildly ridge-penalised
    one. Probabilities are clipped to ``[PS_CLIP, 1 - PS_CLIP]`` as in the DR estimator.
    """
    n_pos = int(d_train.sum())
    n_min = min(n_pos, d_train.size - n_pos)
    keep = _varying(x_train)
    if n_min < 2 or not keep.any():
        share = n_pos / max(d_train.size, 1)
        return np.clip(np.full(x_eval.shape[0], share), PS_CLIP, 1 - PS_CLIP), (
            "fewer than two treated or control units in a training fold: propensity = share"
            if n_min < 2 else None)
    xt, xe = x_train[:, keep], x_eval[:, keep]
    if name == "linear":
        return _logit_predict(xt, d_train, xe)
    model = _classifier(name, seed, n_jobs, n_min)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        p = model.fit(xt, d_train.astype(int)).predict_proba(xe)[:, 1]
    return np.clip(p, PS_CLIP, 1 - PS_CLIP), None


def _logit_predict(xt: np.ndarray, d: np.ndarray, xe: np.ndarray) -> tuple[np.ndarray, str | None]:
    """The unpenalised logit of the DR estimator; a ridge logit when the data separate."""
    design = np.column_stack([np.ones(len(xt)), xt])
    note = None
    try:
        beta = logit_coef(d, design, np.ones(len(d)))
    except np.linalg.LinAlgError:
        beta, note = _ridge_logit(design, d), ("linear propensity score not identified in a "
                                               "training fold (separation): ridge logit used")
    p = sigmoid(np.column_stack([np.ones(len(xe)), xe]) @ beta)
    return np.clip(p, PS_CLIP, 1 - PS_CLIP), note


def _ridge_logit(x: np.ndarray, d: np.ndarray, penalty: float = 1.0, tol: float = 1e-10,
                 max_iter: int = 100) -> np.ndarray:
    """Newton-Raphson logit with a ridge penalty on the standardised slopes (not the intercept),
    finite under separation; coefficients on the original scale of ``x``."""
    mu, sd = x[:, 1:].mean(axis=0), x[:, 1:].std(axis=0)
    z = np.column_stack([np.ones(len(x)), (x[:, 1:] - mu) / sd])
    ridge = np.diag(np.r_[0.0, np.full(z.shape[1] - 1, penalty)])
    beta = np.zeros(z.shape[1])
    for _ in range(max_iter):
        p = sigmoid(z @ beta)
        info = z.T @ ((p * (1 - p))[:, None] * z) + ridge
        step = np.linalg.solve(info, z.T @ (d - p) - ridge @ beta)
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    slopes = beta[1:] / sd
    return np.r_[beta[0] - mu @ slopes, slopes]
