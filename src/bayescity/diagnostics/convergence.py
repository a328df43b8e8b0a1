"""Convergence diagnostics as gates (Vehtari, Gelman, Simpson, Carpenter & Buerkner 2021,
"Rank-normalization, folding, and localization: an improved R-hat", Bayesian Analysis 16(2);
Betancourt 2016 for E-BFMI).

:func:`diagnose` computes, from the posterior of an InferenceData, the rank-normalised split
R-hat and the bulk and tail effective sample sizes of every scalar quantity (one row per
parameter element, named ``variable[label]``), counts divergent transitions and computes the
E-BFMI of every chain where the sampler reports an energy (Hamiltonian samplers; a Gibbs sampler
has none). The gates:

* R-hat <= 1.01 for every quantity;
* bulk and tail ESS >= 400 for every *reported* quantity (those named in ``reported``, e.g. the
  estimands a fit publishes; model parameters are listed with their ESS but not gated on it);
* no divergent transitions;
* E-BFMI >= 0.3 in every chain, where defined.

Breaches are flagged in the table and written as sentences naming the parameter.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

#: How many parameters one sentence names before summarising the rest.
NAMED = 4


@dataclass(frozen=True)
class Gates:
    """Thresholds a fit must meet to be reported as converged."""

    rhat: float = 1.01
    ess: float = 400.0
    divergences: int = 0
    ebfmi: float = 0.3


GATES = Gates()


@dataclass(frozen=True, eq=False)
class Diagnostics:
    """The per-parameter table (``parameter, variable, rhat, ess_bulk, ess_tail, reported,
    breach``), sampler-level facts and the breach sentences."""

    table: pd.DataFrame
    divergences: int
    ebfmi: tuple[float, ...]
    sampler_notes: tuple[str, ...]

    @property
    def notes(self) -> tuple[str, ...]:
        """Every breach: divergences and E-BFMI first, then the parameters'."""
        return self.sampler_notes + breach_notes(self.table)

    @property
    def ok(self) -> bool:
        """Whether no gate was breached."""
        return not self.notes


def _labels(da) -> list[str]:
    """``name`` or ``name[label, ...]`` for every element of a DataArray without chain/draw."""
    if da.ndim == 0:
        return [str(da.name)]
    axes = [[str(v) for v in da.coords[d].values] if d in da.coords else
            [str(i) for i in range(da.sizes[d])] for d in da.dims]
    return [f"{da.name}[{', '.join(combo)}]" for combo in itertools.product(*axes)]


def flatten(ds) -> pd.Series:
    """A diagnostics Dataset (no chain/draw dims) as one value per scalar parameter."""
    names, values = [], []
    for var in ds.data_vars:
        da = ds[var]
        names += _labels(da)
        values += list(np.asarray(da.values, dtype=float).ravel())
    return pd.Series(values, index=names, dtype=float)


def _variables(ds) -> pd.Series:
    return pd.Series([var for var in ds.data_vars for _ in range(max(ds[var].size, 1))])


def convergence_table(posterior, reported: Iterable[str], gates: Gates,
                      exclude: Iterable[str] = ()) -> pd.DataFrame:
    """R-hat, bulk and tail ESS of every scalar quantity (but the ``exclude``d parameter
    names, e.g. elements fixed by construction), with the breaches of each."""
    import arviz as az

    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # constant chains: NaN, flagged below
        rhat = az.rhat(posterior)
        table = pd.DataFrame({"rhat": flatten(rhat),
                              "ess_bulk": flatten(az.ess(posterior, method="bulk")),
                              "ess_tail": flatten(az.ess(posterior, method="tail"))})
    table.index.name = "parameter"
    table = table.reset_index()
    table.insert(1, "variable", _variables(rhat).to_numpy())
    table = table[~table["parameter"].isin(set(exclude))].reset_index(drop=True)
    table["reported"] = table["variable"].isin(set(reported))
    table["breach"] = [_breaches(row, gates) for row in table.itertuples(index=False)]
    return table


def _breaches(row, gates: Gates) -> str:
    out = []
    if not row.rhat <= gates.rhat:
        out.append(f"R-hat {row.rhat:.3f} > {gates.rhat}")
    if row.reported:
        for kind, value in (("bulk", row.ess_bulk), ("tail", row.ess_tail)):
            if not value >= gates.ess:
                out.append(f"{kind} ESS {value:.0f} < {gates.ess:.0f}")
    return "; ".join(out)


def ebfmi_values(idata) -> tuple[float, ...]:
    """E-BFMI per chain, or empty when the sampler reports no energy."""
    import arviz as az

    stats = getattr(idata, "sample_stats", None)
    if stats is None or "energy" not in stats:
        return ()
    return tuple(float(v) for v in np.atleast_1d(az.bfmi(idata)))


def divergence_count(idata) -> int:
    stats = getattr(idata, "sample_stats", None)
    if stats is None or "diverging" not in stats:
        return 0
    return int(np.asarray(stats["diverging"]).sum())


def breach_notes(table: pd.DataFrame, parameters: Sequence[str] | None = None) -> tuple[str, ...]:
    """One sentence per kind of breach among ``parameters`` (all rows when None), naming them."""
    rows = table if parameters is None else table[table["variable"].isin(list(parameters))]
    by_kind: dict[str, list[str]] = {}
    for name, breach in zip(rows["parameter"], rows["breach"]):
        for part in filter(None, breach.split("; ")):
            kind = part.split(" ", 2)
            key = " ".join(kind[:2]) if kind[0] in ("bulk", "tail") else kind[0]
            by_kind.setdefault(key, []).append(f"{part} for {name}")
    notes = []
    for items in by_kind.values():
        more = f" (and {len(items) - NAMED} more)" if len(items) > NAMED else ""
        notes.append("sampler diagnostics: " + "; ".join(items[:NAMED]) + more)
    return tuple(notes)


def sampler_notes(divergences: int, ebfmi: Sequence[float], n_draws: int,
                  gates: Gates) -> tuple[str, ...]:
    """Sentences for divergent transitions and low E-BFMI."""
    out = []
    if divergences > gates.divergences:
        out.append(f"sampler diagnostics: {divergences} divergent transitions in {n_draws} "
                   "draws; the posterior may be biased (reparameterise or raise target_accept)")
    low = [(c, v) for c, v in enumerate(ebfmi) if not v >= gates.ebfmi]
    if low:
        listed = ", ".join(f"{v:.2f} in chain {c}" for c, v in low)
        out.append(f"sampler diagnostics: E-BFMI {listed} < {gates.ebfmi}")
    return tuple(out)


def diagnose(idata, reported: Iterable[str] = (), gates: Gates = GATES,
             var_names: Sequence[str] | None = None, exclude: Iterable[str] = ()) -> Diagnostics:
    """Diagnose the posterior of ``idata`` (optionally only ``var_names``) against ``gates``;
    ``exclude`` names parameter elements that are constant by construction (not sampled)."""
    posterior = idata.posterior if var_names is None else idata.posterior[list(var_names)]
    table = convergence_table(posterior, reported, gates, exclude)
    divergences, ebfmi = divergence_count(idata), ebfmi_values(idata)
    n_draws = posterior.sizes["chain"] * posterior.sizes["draw"]
    return Diagnostics(table=table, divergences=divergences, ebfmi=ebfmi,
                       sampler_notes=sampler_notes(divergences, ebfmi, n_draws, gates))
