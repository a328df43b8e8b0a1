"""Thin, functional access to pyfixest regressions: formulas in, frozen coefficient sets out."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

VCOV_TYPES = ("CRV1", "CRV3", "hetero", "iid")


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

    def select(self, names: Sequence[str]) -> "Coefs":
        idx = [self.names.index(n) for n in names]
        return Coefs(tuple(names), self.estimates[idx], self.vcov[np.ix_(idx, idx)], self.n_obs,
                     self.n_clusters, self.df_t, self.vcov_type)


def safe_name(text: str) -> str:
    """A formula-safe column name."""
    return re.sub(r"\W", "_", str(text))


def vcov_spec(vcov: str, cluster: str | None) -> str | dict[str, str]:
    if vcov not in VCOV_TYPES:
        raise ValueError(f"vcov must be one of {VCOV_TYPES}, got {vcov!r}")
    if vcov in ("CRV1", "CRV3"):
        if not cluster:
            raise ValueError(f"vcov={vcov!r} needs a cluster column")
        return {vcov: cluster}
    return vcov


def feols(data: pd.DataFrame, outcome: str, regressors: Sequence[str], fixed_effects: Sequence[str],
          *, vcov: str = "CRV1", cluster: str | None = None, weights: str | None = None):
    """Fit ``outcome ~ regressors | fixed_effects`` with pyfixest and return the fitted model."""
    import pyfixest as pf

    rhs = " + ".join(regressors) if regressors else "1"
    fml = f"{outcome} ~ {rhs}"
    if fixed_effects:
        fml += " | " + " + ".join(fixed_effects)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(fml, data=data, vcov=vcov_spec(vcov, cluster), weights=weights)


def coefs_of(fit, vcov: str) -> Coefs:
    """Extract a :class:`Coefs` from a pyfixest model."""
    names = tuple(fit._coefnames)
    clustered = vcov in ("CRV1", "CRV3")
    n_clusters = int(fit._G[0]) if clustered else None
    df_t = float(fit._df_t)
    return Coefs(names, np.asarray(fit._beta_hat, dtype=float), np.asarray(fit._vcov, dtype=float),
                 int(fit._N), n_clusters, df_t, vcov)


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
    fml = f"{outcome} ~ {' + '.join(kept) if kept else '1'} | {' + '.join(fixed_effects)}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(fml, data=fit_rows, vcov="iid", fixef_rm="none")
        yhat = np.asarray(fit.predict(newdata=data), dtype=float)
    return yhat, fit
