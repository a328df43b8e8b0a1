"""Fixed-effects regressions in, frozen coefficient sets out.

:func:`fit_coefs` runs the array-level core of :mod:`.fe_ols` (no formula parsing) whenever it
applies -- CRV1, hetero or iid errors, no weights, at least one fixed effect, one cluster column
without missing labels -- and pyfixest's ``feols`` otherwise (CRV3, weights, no fixed effects,
missing cluster labels); both give the same numbers (pyfixest's defaults, see ``fe_ols``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .params import Spec
from .fe_ols import factor_codes
from .fe_ols import fe_ols

VCOV_TYPES = ("CRV1", "CRV3", "hetero", "iid")
#: ``vcov`` as a declared parameter.
VCOV = Spec("choice", "variance estimator: CRV1 (clustered, fixest's default), CRV3 (clustered "
                      "jackknife), hetero or iid", choices=VCOV_TYPES)


@dataclass(frozen=True)
class Coefs:
    """Coefficients of a fitted regression with their covariance and inference facts."""

    names: tuple[str, ...]
    estimates: np.ndarray
    vcov: np.ndarray
    n_obs: int
    n_clusters: int | None
    df_t: float | None
    vcov_type: str
    #: Every coefficient the regression estimated (kept by :meth:`select`), so that callers
    #: can tell which covariates survived the collinearity checks.
    fitted_names: tuple[str, ...] = ()

    def select(self, names: Sequence[str]) -> "Coefs":
        idx = [self.names.index(n) for n in names]
        return Coefs(tuple(names), self.estimates[idx], self.vcov[np.ix_(idx, idx)], self.n_obs,
                     self.n_clusters, self.df_t, self.vcov_type, self.fitted_names or self.names)


def safe_name(text: str) -> str:
    """A formula-safe column name."""
    return re.sub(r"\W", "_", str(text))


def vcov_spec(vcov: str, cluster: str | None) -> str | dict[str, str]:
    if vcov not in VCOV_TYPES:
        raise ValueError(f"vcov: {vcov!r} is not one of {list(VCOV_TYPES)}")
    if vcov in ("CRV1", "CRV3"):
        if not cluster:
            raise ValueError(f"vcov: {vcov!r} needs a cluster column")
        return {vcov: cluster}
    return vcov


def term(name: str) -> str:
    """A column name as a formula term: as it is when it is an identifier, else quoted in
    backticks (``gdp level``), which pyfixest reads as the column and keeps as the
    coefficient's name."""
    return name if str(name).isidentifier() else f"`{name}`"


#: The copy of a cluster column whose name pyfixest cannot take (it drops the spaces).
CLUSTER_ALIAS = "_bc_cluster"


def feols(data: pd.DataFrame, outcome: str, regressors: Sequence[str], fixed_effects: Sequence[str],
          *, vcov: str = "CRV1", cluster: str | None = None, weights: str | None = None):
    """Fit ``outcome ~ regressors | fixed_effects`` with pyfixest and return the fitted model."""
    import pyfixest as pf

    rhs = " + ".join(map(term, regressors)) if regressors else "1"
    fml = f"{term(outcome)} ~ {rhs}"
    if fixed_effects:
        fml += " | " + " + ".join(map(term, fixed_effects))
    if cluster is not None and not str(cluster).isidentifier():
        data, cluster = data.assign(**{CLUSTER_ALIAS: data[cluster]}), CLUSTER_ALIAS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(fml, data=data, vcov=vcov_spec(vcov, cluster), weights=weights)


FAST_VCOV_TYPES = ("CRV1", "hetero", "iid")


def fast_path_applies(data: pd.DataFrame, fixed_effects: Sequence[str], *, vcov: str,
                      cluster: str | None, weights: str | None) -> bool:
    """Whether :func:`fit_coefs` can use the array core of :mod:`.fe_ols`."""
    if weights is not None or not fixed_effects or vcov not in FAST_VCOV_TYPES:
        return False
    return vcov != "CRV1" or (bool(cluster) and not data[cluster].isna().any())


def coefs_from_arrays(y: np.ndarray, X: np.ndarray, names: Sequence[str], fe_codes: np.ndarray,
                      *, vcov: str, cluster: np.ndarray | None) -> Coefs:
    """:class:`Coefs` of ``y ~ X | fixed effects`` from arrays (the :mod:`.fe_ols` core)."""
    fit = fe_ols(y, X, names, fe_codes, vcov=vcov, cluster=cluster)
    return Coefs(fit.names, fit.estimates, fit.vcov, fit.n_obs, fit.n_clusters, fit.df_t,
                 vcov, fit.names)


def fit_coefs(data: pd.DataFrame, outcome: str, regressors: Sequence[str],
              fixed_effects: Sequence[str], *, vcov: str = "CRV1", cluster: str | None = None,
              weights: str | None = None) -> Coefs:
    """:class:`Coefs` of ``outcome ~ regressors | fixed_effects``; fast core or pyfixest.

    Regressors collinear with the fixed effects are absent from the result, as in pyfixest.
    """
    vcov_spec(vcov, cluster)
    if not fast_path_applies(data, fixed_effects, vcov=vcov, cluster=cluster, weights=weights):
        fit = feols(data, outcome, regressors, fixed_effects, vcov=vcov, cluster=cluster,
                    weights=weights)
        return coefs_of(fit, vcov)
    X = data.loc[:, list(regressors)].to_numpy(dtype=float).reshape(len(data), len(regressors))
    return _fast(data, outcome, X, list(regressors), fixed_effects, vcov, cluster)


def _fast(data: pd.DataFrame, outcome: str, X: np.ndarray, names: list[str],
          fixed_effects: Sequence[str], vcov: str, cluster: str | None) -> Coefs:
    """The array core on ``outcome`` and the regressor matrix ``X`` (columns ``names``)."""
    codes = factor_codes([data[f].to_numpy() for f in fixed_effects])
    labels = data[cluster].to_numpy() if vcov == "CRV1" else None
    return coefs_from_arrays(data[outcome].to_numpy(dtype=float), X, names, codes,
                             vcov=vcov, cluster=labels)


def design_frame(data: pd.DataFrame, names: Sequence[str], design: np.ndarray) -> pd.DataFrame:
    """``data`` with the columns of ``design`` appended under ``names`` (a new frame)."""
    extra = pd.DataFrame(np.asarray(design, dtype=float).reshape(len(data), len(names)),
                         columns=list(names), index=data.index)
    return pd.concat([data, extra], axis=1)


def fit_design(data: pd.DataFrame, outcome: str, names: Sequence[str], design: np.ndarray,
               covariates: Sequence[str], fixed_effects: Sequence[str], *, vcov: str = "CRV1",
               cluster: str | None = None) -> Coefs:
    """:class:`Coefs` of ``outcome ~ design + covariates | fixed_effects``.

    ``design`` (rows aligned with ``data``) holds regressors built by the caller, named
    ``names``; on the fast path they never enter a DataFrame, otherwise they are appended to a
    copy of ``data`` for pyfixest.
    """
    vcov_spec(vcov, cluster)
    if not fast_path_applies(data, fixed_effects, vcov=vcov, cluster=cluster, weights=None):
        return fit_coefs(design_frame(data, names, design), outcome, [*names, *covariates],
                         fixed_effects, vcov=vcov, cluster=cluster)
    covs = data.loc[:, list(covariates)].to_numpy(dtype=float).reshape(len(data), -1)
    X = np.column_stack([np.asarray(design, dtype=float).reshape(len(data), -1), covs])
    return _fast(data, outcome, X, [*names, *covariates], fixed_effects, vcov, cluster)


def coefs_of(fit, vcov: str) -> Coefs:
    """Extract a :class:`Coefs` from a pyfixest model."""
    names = tuple(fit._coefnames)
    clustered = vcov in ("CRV1", "CRV3")
    n_clusters = int(fit._G[0]) if clustered else None
    df_t = float(fit._df_t)
    return Coefs(names, np.asarray(fit._beta_hat, dtype=float), np.asarray(fit._vcov, dtype=float),
                 int(fit._N), n_clusters, df_t, vcov, names)


def absorbed_by(data: pd.DataFrame, group: str, columns: Sequence[str]) -> list[str]:
    """The columns of ``columns`` that are constant within every ``group`` (absorbed by its FE)."""
    spread = data.groupby(group)[list(columns)].nunique(dropna=False)
    return [c for c in columns if (spread[c] <= 1).all()]


def predict_untreated(data: pd.DataFrame, untreated: np.ndarray, outcome: str,
                      covariates: Sequence[str], fixed_effects: Sequence[str]):
    """Fit ``outcome ~ covariates | fixed_effects`` on the ``untreated`` rows and predict all rows.

    Singleton fixed-effect levels are kept (``fixef_rm="none"``): a unit with one untreated
    period still has an identified effect. Covariates constant within the first fixed effect are
    left out (they are absorbed). Rows whose fixed-effect levels never occur untreated get NaN.
    Returns the predictions and the fitted model.
    """
    import pyfixest as pf

    fit_rows = data.loc[np.asarray(untreated, dtype=bool)]
    kept = [c for c in covariates if c not in absorbed_by(fit_rows, fixed_effects[0], covariates)]
    rhs = " + ".join(map(term, kept)) if kept else "1"
    fml = f"{term(outcome)} ~ {rhs} | {' + '.join(map(term, fixed_effects))}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(fml, data=fit_rows, vcov="iid", fixef_rm="none")
        yhat = np.asarray(fit.predict(newdata=data), dtype=float)
    return yhat, fit
