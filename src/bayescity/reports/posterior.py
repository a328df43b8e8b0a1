"""The posterior report of a Bayesian fit, drawn by ArviZ from its stored InferenceData.

The netCDF file named by the fit (``info["posterior_path"]``, kept in ``models/``) is opened
only after its SHA-256 matches the one recorded when it was written. The diagnostics table is
the estimator's own (``info["diagnostics"]``) when it has one, else ArviZ's summary; cells that
breach the gates (R-hat > 1.01, bulk or tail ESS < 400) are highlighted and, with divergences
and E-BFMI < 0.3, named in sentences for the warning at the top of the report.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..results.plain import sha256_file
from .figures import Figure, render

R_HAT_MAX, ESS_MIN, BFMI_MIN = 1.01, 400, 0.3
#: At most this many scalar panels per figure.
MAX_PANELS = 12
INTERVAL = 0.95


def open_posterior(path: str | None, sha256: str | None) -> tuple[Any, str]:
    """The InferenceData at ``path`` loaded into memory, or None and the reason it is not."""
    if not path:
        return None, "no posterior was stored for this fit"
    file = Path(path)
    if not file.is_file():
        return None, f"posterior file {file} is missing (pruned from the model store?)"
    if sha256 and sha256_file(file) != sha256:
        return None, f"posterior file {file} has changed since the run (checksum differs)"
    import arviz as az

    try:
        idata = az.from_netcdf(str(file))
        for group in idata.groups():
            getattr(idata, group).load()
    except (OSError, ValueError, KeyError) as exc:
        return None, f"posterior file {file} cannot be read ({exc})"
    return idata, ""


def plotted_vars(idata: Any, limit: int = MAX_PANELS) -> tuple[list[str], list[str]]:
    """Posterior variables small enough to plot (in order, at most ``limit`` scalar panels)
    and those left out."""
    chosen, skipped, panels = [], [], 0
    for name, var in idata.posterior.data_vars.items():
        size = int(np.prod([n for d, n in var.sizes.items() if d not in ("chain", "draw")]))
        if panels + size <= limit:
            chosen.append(str(name))
            panels += size
        else:
            skipped.append(f"{name} ({size} values)")
    return chosen, skipped


def _arviz_figure(plot, fig_id: str, title: str, caption: str = "", **kwargs) -> Figure | None:
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        axes = plot(show=False, **kwargs)
    fig = np.ravel(axes)[0].get_figure()
    try:
        return render(fig, fig_id, title, caption)
    finally:
        plt.close(fig)


def posterior_figures(idata: Any, est_id: str, var_names: list[str]) -> list[Figure]:
    """Rank plots, posterior densities and (when drawn) the posterior predictive check."""
    import arviz as az

    if not var_names:
        return []
    figs = [
        _arviz_figure(az.plot_rank, f"fig-rank-{est_id}", f"{est_id}: rank plots",
                      "Uniform ranks across chains indicate good mixing.", data=idata,
                      var_names=var_names),
        _arviz_figure(az.plot_posterior, f"fig-posterior-{est_id}",
                      f"{est_id}: posterior densities", "Bars: 95% highest-density intervals.",
                      data=idata, var_names=var_names, hdi_prob=INTERVAL, textsize=9),
    ]
    if {"posterior_predictive", "observed_data"} <= set(idata.groups()):
        figs.append(_arviz_figure(az.plot_ppc, f"fig-ppc-{est_id}",
                                  f"{est_id}: posterior predictive check", data=idata,
                                  num_pp_samples=50, random_seed=0))
    return [f for f in figs if f is not None]


def diagnostics_table(idata: Any, given: Any, var_names: list[str]) -> pd.DataFrame:
    """The estimator's diagnostics table, or ArviZ's R-hat/ESS summary of ``var_names``."""
    if isinstance(given, pd.DataFrame) and not given.empty:
        return given
    if idata is None or not var_names:
        return pd.DataFrame()
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.summary(idata, var_names=var_names, kind="diagnostics", round_to="none")


def _norm(col: Any) -> str:
    return str(col).lower().replace("-", "_").replace(" ", "_").replace("rhat", "r_hat")


def breach_mask(table: pd.DataFrame) -> pd.DataFrame:
    """True where a cell breaches its gate (by column name: r_hat, ess_bulk, ess_tail), and
    across a row that the table itself flags (a boolean ``breach...`` column)."""
    mask = pd.DataFrame(False, index=table.index, columns=table.columns)
    for col in table.columns:
        name = _norm(col)
        values = pd.to_numeric(table[col], errors="coerce") if table[col].dtype != bool else None
        if name == "r_hat":
            mask[col] = values > R_HAT_MAX
        elif name in ("ess_bulk", "ess_tail"):
            mask[col] = values < ESS_MIN
    for col in table.columns:
        if _norm(col).startswith("breach") and table[col].dtype == bool:
            mask.loc[table[col], :] = mask.loc[table[col], :] | True
    return mask


def _param_names(table: pd.DataFrame) -> pd.Index:
    for col in table.columns:
        if _norm(col) in ("parameter", "param", "name", "var_name"):
            return pd.Index(table[col].astype(str))
    return pd.Index(table.index.astype(str))


def breach_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per gate breach in the table, naming the parameter."""
    out, names = [], _param_names(table)
    for col in table.columns:
        name = _norm(col)
        values = pd.to_numeric(table[col], errors="coerce") if table[col].dtype != bool else None
        if name == "r_hat":
            out += [f"sampler diagnostics: R-hat {v:.3f} > {R_HAT_MAX} for {p}"
                    for p, v in zip(names, values) if v > R_HAT_MAX]
        elif name in ("ess_bulk", "ess_tail"):
            kind = name.split("_")[1]
            out += [f"sampler diagnostics: {kind} ESS {v:.0f} < {ESS_MIN} for {p}"
                    for p, v in zip(names, values) if v < ESS_MIN]
    return out


def sampler_sentences(idata: Any) -> list[str]:
    """Divergences and low E-BFMI, read from ``sample_stats``."""
    if idata is None or "sample_stats" not in idata.groups():
        return []
    stats, out = idata.sample_stats, []
    if "diverging" in stats:
        n = int(stats["diverging"].sum())
        if n:
            out.append(f"sampler diagnostics: {n} divergent transitions")
    if "energy" in stats:
        import arviz as az

        low = [f"{b:.2f}" for b in np.atleast_1d(az.bfmi(idata)) if b < BFMI_MIN]
        if low:
            out.append(f"sampler diagnostics: E-BFMI {', '.join(low)} < {BFMI_MIN} "
                       "(chains explore the energy poorly)")
    return out


def sampler_facts(idata: Any, sampler: Any) -> pd.DataFrame:
    """Chains, draws, divergences, sampling time and the estimator's ``info["sampler"]``."""
    facts: dict[str, Any] = {}
    if idata is not None:
        post = idata.posterior
        facts.update(chains=post.sizes.get("chain"), draws=post.sizes.get("draw"))
        if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
            facts["divergences"] = int(idata.sample_stats["diverging"].sum())
        attrs = {**getattr(idata, "attrs", {}), **post.attrs}
        if "sampling_time" in attrs:
            facts["sampling time (s)"] = round(float(attrs["sampling_time"]), 2)
    if isinstance(sampler, dict):
        facts.update({str(k): v for k, v in sampler.items() if np.ndim(v) == 0})
    return pd.DataFrame({"value": [str(v) for v in facts.values()]},
                        index=pd.Index(list(facts), name="sampler"))
