"""A fit's posterior as the model store keeps it, and as the report reads it back.

The store writes ``posterior.nc`` with

* every floating-point draw as float32 (7 significant digits, far below Monte Carlo error;
  observed data stay as they were), compressed with zlib after HDF5's byte shuffle;
* each draw once: a posterior variable that a result also carries as its ``draws`` (the
  estimands ``ATT``, ``ATT_by_<trait>``, ``ATT_event``, ``CATE`` ...) is left out of the file
  and its name listed in the posterior's attribute :data:`IN_RESULTS`;
  :func:`restore_estimands` puts it back from the results when the file is read;
* no pointwise log-likelihood: PSIS-LOO is computed when the model is fitted and its table
  kept with the results (the ``loo`` part), and nothing reads it afterwards.

Results tables (estimates, intervals, diagnostics) are kept with the results, not computed
from this file, so none of them changes; what the report draws from the file (rank plots,
densities, posterior predictive check, sampler facts) differs from the float64 draws by
float32 rounding only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .effect import EffectResult

#: Attribute of the stored posterior naming the variables kept in the results' draws.
IN_RESULTS = "bayescity_in_results"
#: Groups not stored.
DROPPED_GROUPS = ("log_likelihood",)
#: Groups whose values are data rather than draws (kept at their own precision).
DATA_GROUPS = ("observed_data", "constant_data")
ENCODING = {"zlib": True, "complevel": 4, "shuffle": True}


def _draw_matrix(values: np.ndarray, n: int) -> np.ndarray:
    return np.asarray(values).reshape(n, -1)


def _in_results(posterior: Any, results: Iterable[EffectResult]) -> dict[str, str]:
    """Posterior variables equal to a result's draws: name -> its term dimension ("" when
    scalar)."""
    n = int(posterior.sizes["chain"] * posterior.sizes["draw"])
    out = {}
    for r in results:
        if r.draws is None or r.estimand not in posterior.data_vars or r.estimand in out:
            continue
        var = posterior[r.estimand]
        mine, theirs = _draw_matrix(var.values, n), _draw_matrix(r.draws, n)
        if mine.shape == theirs.shape and mine.shape[1] == len(r.terms) and \
                np.array_equal(mine, theirs):
            extra = [d for d in var.dims if d not in ("chain", "draw")]
            out[r.estimand] = extra[0] if extra else ""
    return out


def compact_posterior(idata: Any, results: Iterable[EffectResult]) -> dict[str, Any]:
    """The groups of ``idata`` as stored: float32 draws, each draw once, no log-likelihood."""
    groups = {g: getattr(idata, g) for g in idata.groups() if g not in DROPPED_GROUPS}
    moved = _in_results(groups["posterior"], results) if "posterior" in groups else {}
    out = {}
    for name, ds in groups.items():
        if name == "posterior":
            ds = ds.drop_vars(list(moved))
            ds.attrs = {**ds.attrs, IN_RESULTS: json.dumps(moved)}
        if name not in DATA_GROUPS:
            ds = ds.map(lambda a: a.astype(np.float32) if a.dtype == np.float64 else a,
                        keep_attrs=True)
        out[name] = ds
    return out


def write_posterior(idata: Any, results: Iterable[EffectResult], path: str | Path) -> None:
    """Write the compact posterior (:func:`compact_posterior`) as netCDF (h5netcdf), one
    netCDF group per InferenceData group, as ArviZ writes and reads them."""
    mode = "w"
    for name, ds in compact_posterior(idata, results).items():
        encoding = {v: dict(ENCODING) for v in ds.data_vars if ds[v].ndim > 0}
        ds.to_netcdf(str(path), mode=mode, group=name, engine="h5netcdf", encoding=encoding)
        mode = "a"


def restore_estimands(idata: Any, results: Iterable[EffectResult]) -> Any:
    """``idata`` with the variables the store kept in the results' draws put back (chains and
    draws as sampled: the draws are stored chain by chain)."""
    if "posterior" not in idata.groups():
        return idata
    post = idata.posterior
    moved = json.loads(post.attrs.get(IN_RESULTS, "{}") or "{}")
    if not moved:
        return idata
    import xarray as xr

    chains, draws = int(post.sizes["chain"]), int(post.sizes["draw"])
    by_name = {r.estimand: r for r in results if r.draws is not None}
    added = {}
    for name, dim in moved.items():
        r = by_name.get(name)
        if r is None:
            continue
        values = np.asarray(r.draws).reshape(chains, draws, -1)
        if dim:
            shared = dim in post.coords and post.sizes[dim] == values.shape[2]
            labels = post[dim].values if shared else list(r.terms)
            added[name] = xr.DataArray(values, dims=("chain", "draw", dim),
                                       coords={"chain": post["chain"], "draw": post["draw"],
                                               dim: labels})
        else:
            added[name] = xr.DataArray(values[:, :, 0], dims=("chain", "draw"),
                                       coords={"chain": post["chain"], "draw": post["draw"]})
    idata.posterior = post.assign(added)
    return idata
