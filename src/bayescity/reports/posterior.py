"""The posterior report of a Bayesian fit, drawn by ArviZ from its stored InferenceData.

The netCDF file of the fit (kept in the model store, ``models/``) is opened only after its
SHA-256 matches the one recorded when it was written. The diagnostics table is the estimator's
own (its ``diagnostics`` part: ``parameter, variable, rhat, ess_bulk, ess_tail, reported,
breach``, from :func:`bayescity.diagnostics.diagnose`) when it has one, else the same
table computed here by :func:`~bayescity.diagnostics.diagnose`; the cells its ``breach`` column
names are highlighted. Everything drawn from the InferenceData is collected in a
:class:`PosteriorDigest`, which a figure cache keeps by the file's checksum, so a rerun with an
unchanged posterior neither opens the file nor draws again.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..diagnostics import breach_notes
from ..results.plain import sha256_file
from ..results.stored_posterior import restore_estimands
from .cache import figure_from, figure_payload
from .figures import Figure, render
from ..diagnostics import diagnose
from ..diagnostics.convergence import GATES, divergence_count, ebfmi_values, sampler_notes

#: At most this many scalar panels per figure.
MAX_PANELS = 12
INTERVAL = 0.95
#: Columns of the diagnostics table, and the breach phrases that name each.
DIAGNOSTICS_COLUMNS = ("parameter", "variable", "rhat", "ess_bulk", "ess_tail", "reported",
                       "breach")
BREACH_CELLS = {"R-hat": "rhat", "bulk ESS": "ess_bulk", "tail ESS": "ess_tail"}


def posterior_problem(path: str | None, sha256: str | None) -> str:
    """Why the posterior at ``path`` cannot be used ("" when it can): missing or changed."""
    if not path:
        return "no posterior was stored for this fit"
    file = Path(path)
    if not file.is_file():
        return f"posterior file {file} is missing (pruned from the model store?)"
    if sha256 and sha256_file(file) != sha256:
        return f"posterior file {file} has changed since the run (checksum differs)"
    return ""


def open_posterior(path: str | None, sha256: str | None,
                   results: list | None = None) -> tuple[Any, str]:
    """The InferenceData at ``path`` loaded into memory, with the estimands the store keeps in
    the fit's ``results`` put back (:mod:`bayescity.results.stored_posterior`), or None and
    the reason it is not."""
    problem = posterior_problem(path, sha256)
    if problem:
        return None, problem
    import arviz as az

    try:
        idata = az.from_netcdf(str(path))
        for group in idata.groups():
            getattr(idata, group).load()
        idata = restore_estimands(idata, results or [])
    except (OSError, ValueError, KeyError) as exc:
        return None, f"posterior file {path} cannot be read ({exc})"
    return idata, ""


def _plot_order(name: str) -> int:
    """Estimands first (the overall effect, then by trait level), then model parameters."""
    if name == "ATT":
        return 0
    if name.startswith("ATT_by_"):
        return 1
    return 2


def plotted_vars(idata: Any, limit: int = MAX_PANELS) -> tuple[list[str], list[str]]:
    """Posterior variables small enough to plot (the overall and by-trait effects first, then
    model parameters in order; at most ``limit`` panels) and why the others are left out
    (a vector of more values than ``limit``, or the panels already full)."""
    chosen, too_many, no_room, panels = [], [], [], 0
    sizes = {str(name): int(np.prod([n for d, n in var.sizes.items()
                                     if d not in ("chain", "draw")]))
             for name, var in idata.posterior.data_vars.items()}
    for name in sorted(sizes, key=_plot_order):
        if sizes[name] > limit:
            too_many.append(f"{name} ({sizes[name]} values)")
        elif panels + sizes[name] <= limit:
            chosen.append(name)
            panels += sizes[name]
        else:
            no_room.append(name)
    skipped = ([f"vectors with too many values to plot: {', '.join(too_many)}"]
               if too_many else [])
    skipped += ([f"beyond the {limit}-panel limit: {', '.join(no_room)}"] if no_room else [])
    return chosen, skipped


def _arviz_figure(plot, fig_id: str, title: str, caption: str = "", **kwargs) -> Figure | None:
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        axes = plot(show=False, **kwargs)
    fig = np.ravel(axes)[0].get_figure()
    for ax in np.ravel(axes):  # one-line titles that fit their panel (no overlap)
        ax.set_title(ax.get_title().replace("\n", " "), fontsize=8)
        ax.tick_params(labelsize=7)
    fig.set_layout_engine("constrained")
    try:
        return render(fig, fig_id, title, caption)
    finally:
        plt.close(fig)


def posterior_figures(idata: Any, est_id: str, var_names: list[str],
                      interval_prob: float = INTERVAL) -> list[Figure]:
    """Rank plots, posterior densities and (when drawn) the posterior predictive check. The
    density bars are ArviZ's highest-density intervals of ``interval_prob`` (the results'
    own); the caption says so, since the tables report equal-tailed intervals."""
    import arviz as az

    if not var_names:
        return []
    figs = [
        _arviz_figure(az.plot_rank, f"fig-rank-{est_id}", f"{est_id}: rank plots",
                      "Uniform ranks across chains indicate good mixing.", data=idata,
                      var_names=var_names),
        _arviz_figure(az.plot_posterior, f"fig-posterior-{est_id}",
                      f"{est_id}: posterior densities",
                      f"Bars: {interval_prob:.0%} highest-density intervals (HDI); the tables "
                      f"report {interval_prob:.0%} equal-tailed intervals, which differ from "
                      "the HDI where a posterior is skewed.",
                      data=idata, var_names=var_names, hdi_prob=interval_prob, textsize=9),
    ]
    if {"posterior_predictive", "observed_data"} <= set(idata.groups()):
        figs.append(_arviz_figure(az.plot_ppc, f"fig-ppc-{est_id}",
                                  f"{est_id}: posterior predictive check", data=idata,
                                  num_pp_samples=50, random_seed=0))
    return [f for f in figs if f is not None]


def diagnostics_table(idata: Any, given: Any, reported: list[str]) -> pd.DataFrame:
    """The estimator's diagnostics table, or the same table computed from ``idata`` (ESS gated
    for the ``reported`` variables)."""
    if isinstance(given, pd.DataFrame) and not given.empty:
        return given
    if idata is None:
        return pd.DataFrame()

    return diagnose(idata, reported=reported).table


def breach_mask(table: pd.DataFrame) -> pd.DataFrame:
    """True on the cells of each gate a row breaches (as its ``breach`` column names them:
    ``R-hat``, ``bulk ESS``, ``tail ESS``) and on that ``breach`` cell."""
    mask = pd.DataFrame(False, index=table.index, columns=table.columns)
    if "breach" not in table.columns:
        return mask
    breach = table["breach"].fillna("").astype(str)
    for phrase, col in BREACH_CELLS.items():
        if col in table.columns:
            mask[col] = breach.str.contains(phrase, regex=False)
    mask["breach"] = breach != ""
    return mask


def breach_sentences(table: pd.DataFrame) -> list[str]:
    """The sentences naming every breach of the table (:func:`bayescity.diagnostics.breach_notes`)."""
    if not {"parameter", "variable", "breach"} <= set(table.columns):
        return []
    return list(breach_notes(table))


def sampler_sentences(idata: Any) -> list[str]:
    """Divergences and low E-BFMI, read from ``sample_stats`` against the gates of
    :mod:`bayescity.diagnostics`."""
    if idata is None or "posterior" not in idata.groups():
        return []

    post = idata.posterior
    n_draws = int(post.sizes.get("chain", 1) * post.sizes.get("draw", 0))
    return list(sampler_notes(divergence_count(idata), ebfmi_values(idata), n_draws, GATES))


def facts_sentences(sampler: Any) -> list[str]:
    """Divergences and low E-BFMI, read from an estimator's ``sampler`` facts against the gates
    of :mod:`bayescity.diagnostics`."""
    if not sampler:
        return []
    n_draws = int(sampler.get("chains", 0) or 0) * int(sampler.get("draws", 0) or 0)
    ebfmi = [float(v) for v in (sampler.get("ebfmi") or ())]
    return list(sampler_notes(int(sampler.get("divergences", 0) or 0), ebfmi, n_draws, GATES))


def idata_facts(idata: Any) -> dict[str, Any]:
    """Chains, draws, divergences and sampling time, read from the InferenceData."""
    if idata is None:
        return {}
    post = idata.posterior
    facts: dict[str, Any] = {"chains": int(post.sizes.get("chain", 0)),
                             "draws": int(post.sizes.get("draw", 0))}
    if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
        facts["divergences"] = int(idata.sample_stats["diverging"].sum())
    attrs = {**getattr(idata, "attrs", {}), **post.attrs}
    if "sampling_time" in attrs:
        facts["sampling time (s)"] = f"{float(attrs['sampling_time']):.2f}"
    return facts


def sampler_facts(facts: dict[str, Any], sampler: Any) -> pd.DataFrame:
    """The InferenceData's facts (:func:`idata_facts`) and the estimator's ``sampler`` facts."""
    facts = dict(facts)
    if isinstance(sampler, Mapping):
        for key, value in sampler.items():
            if np.ndim(value) != 0 or isinstance(value, (tuple, list)):
                continue
            if key == "sampling_time":  # the estimator's own figure, once, with its unit
                facts["sampling time (s)"] = f"{float(value):.2f}"
            elif isinstance(value, float):
                facts[str(key).replace("_", " ")] = f"{value:.4g}"
            else:
                facts[str(key).replace("_", " ")] = value
    return pd.DataFrame({"value": [str(v) for v in facts.values()]},
                        index=pd.Index(list(facts), name="sampler"))


@dataclass
class PosteriorDigest:
    """What the report draws from one InferenceData: figures, the variables left out, sampler
    facts and sentences, and the diagnostics table when the estimator kept none."""

    figures: list[Figure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    sentences: list[str] = field(default_factory=list)
    table: pd.DataFrame | None = None

    def to_payload(self) -> dict[str, Any]:
        table = None if self.table is None else self.table.to_json(orient="split")
        return {"figures": [figure_payload(f)["figure"] for f in self.figures],
                "skipped": list(self.skipped), "facts": dict(self.facts),
                "sentences": list(self.sentences), "table": table}

    @classmethod
    def from_payload(cls, doc: Any) -> "PosteriorDigest":
        """The digest of a payload; raise ValueError when it is not one."""
        if not isinstance(doc, dict) or set(doc) != {"figures", "skipped", "facts",
                                                     "sentences", "table"}:
            raise ValueError("not a posterior digest")
        table = doc["table"]
        if table is not None:
            from io import StringIO

            table = pd.read_json(StringIO(table), orient="split")
        return cls([figure_from(f) for f in doc["figures"]], [str(s) for s in doc["skipped"]],
                   dict(doc["facts"]), [str(s) for s in doc["sentences"]], table)


def digest_posterior(idata: Any, est_id: str, given: Any, reported: list[str],
                     interval_prob: float = INTERVAL) -> PosteriorDigest:
    """Draw the figures of ``idata`` and read its facts (the table only when not ``given``)."""
    var_names, skipped = plotted_vars(idata)
    table = None
    if not (isinstance(given, pd.DataFrame) and not given.empty):
        table = diagnostics_table(idata, None, reported)
    return PosteriorDigest(posterior_figures(idata, est_id, var_names, interval_prob), skipped,
                           idata_facts(idata), sampler_sentences(idata), table)
