"""Speed of the hierarchical DID: minimum ESS per second on the trait-level effects for every
sampler, next to the naive model in the same process, and a 3,000-city x 30-year scale run.

The naive model is the same hierarchical DID written the way one would first write it: every
city and year effect and every covariate coefficient a parameter, PyMC's default NUTS
(``pm.sample``: jitter+adapt_diag, target_accept 0.8), 4 chains x 1,000 draws after 1,000
tuning steps. Ours works on the absorbed design (fixed effects and covariates integrated out);
``gibbs`` is the default sampler. ESS is the bulk (and tail) ESS of ``ATT_by_region3`` per
level, divided by the sampler's own sampling time (compilation and design excluded; the design
time is printed separately).

    python benchmarks/bench_bayes.py                 # both panels, every sampler, naive, scale
    python benchmarks/bench_bayes.py --samplers gibbs --no-naive --no-scale

Bar: the default sampler at least 20x the naive model's ESS/s (aim 50x), no divergences, R-hat
<= 1.01; the scale run under 2 minutes and 4 GiB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import bayescity as bc
from bayescity import datasets

TRAIT = "region3"
TRENDS = ["ln_gdp_pc_2003", "ln_pop_2003"]
SAMPLERS = ("gibbs", "numpyro", "nutpie", "pymc")


def city_panel(data: pd.DataFrame):
    from bayescity.estimators.core.controls import with_trend_controls

    panel = bc.load_panel(data, unit="city", time="year", outcome="tfp_growth",
                          cohort="pilot_year", traits=[TRAIT])
    return with_trend_controls(panel, TRENDS)


def trait_ess(design, theta: np.ndarray) -> tuple[float, float, float]:
    """Minimum bulk and tail ESS and maximum R-hat of ATT by trait level."""
    import arviz as az

    from bayescity.estimators.bayes.posterior import estimand_draws

    chains, draws = theta.shape[:2]
    agg = next(a for a in estimand_draws(design, theta.reshape(chains * draws, -1))
               if a.estimand == f"ATT_by_{TRAIT}")
    x = agg.draws.reshape(chains, draws, -1)
    bulk = min(float(az.ess(x[:, :, j], method="bulk")) for j in range(x.shape[2]))
    tail = min(float(az.ess(x[:, :, j], method="tail")) for j in range(x.shape[2]))
    rhat = max(float(az.rhat(x[:, :, j])) for j in range(x.shape[2]))
    return bulk, tail, rhat


def run_ours(design, sampler: str, seed: int) -> dict:
    from bayescity.estimators.bayes.priors import Priors
    from bayescity.estimators.bayes.sampling import Settings, sample

    settings = Settings(sampler=sampler, chains=4, draws=1000,
                        tune=500 if sampler == "gibbs" else 1000)
    draws = sample(design, Priors(), settings, seed)
    bulk, tail, rhat = trait_ess(design, draws.theta)
    div = int(np.asarray(draws.sample_stats.get("diverging", 0)).sum())
    return {"model": f"ours/{sampler}", "sampling_s": draws.sampling_time, "min_ess_bulk": bulk,
            "min_ess_tail": tail, "divergences": div, "max_rhat": rhat}


def run_naive(design, seed: int) -> dict:
    import pymc as pm

    from bayescity.estimators.bayes.model import explicit_model, theta_name
    from bayescity.estimators.bayes.priors import Priors
    from bayescity.estimators.bayes.sampling import quiet_backends

    model = explicit_model(design, Priors(), likelihood="normal")
    spawn = {"mp_ctx": "spawn"} if "jax" in sys.modules else {}  # JAX threads and fork
    with model, quiet_backends():
        idata = pm.sample(draws=1000, tune=1000, chains=4, cores=2, random_seed=seed,
                          progressbar=False, compute_convergence_checks=False, **spawn)
    post = idata.posterior
    theta = np.concatenate([np.asarray(post[theta_name(c)]).reshape(4, 1000, -1)
                            for c in design.components], axis=2)
    bulk, tail, rhat = trait_ess(design, theta)
    return {"model": "naive/pymc", "sampling_s": float(post.attrs["sampling_time"]),
            "min_ess_bulk": bulk, "min_ess_tail": tail,
            "divergences": int(idata.sample_stats["diverging"].sum()), "max_rhat": rhat}


def compare_panel(name: str, data: pd.DataFrame, samplers, naive: bool, seed: int) -> pd.DataFrame:
    from bayescity.estimators.bayes.design import treatment_design

    panel, trends = city_panel(data)
    start = time.perf_counter()
    design = treatment_design(panel, by=[TRAIT], covariates=trends)
    print(f"\n{name}: {panel.n_units} cities x {panel.n_periods} years, {design.n_params} effect "
          f"parameters, design {time.perf_counter() - start:.2f} s", flush=True)
    rows = [run_ours(design, s, seed) for s in samplers]
    if naive:
        rows.append(run_naive(design, seed))
    table = pd.DataFrame(rows)
    table["ess_per_s"] = table["min_ess_bulk"] / table["sampling_s"]
    if naive:
        table["ratio_vs_naive"] = table["ess_per_s"] / table["ess_per_s"].iloc[-1]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
    return table


def scale_panel(seed: int, n_units: int = 3000, n_periods: int = 30) -> pd.DataFrame:
    """A staggered panel of ``n_units`` cities: 8 cohorts and never-treated cities, three
    regions with different effects building up over three years, a covariate."""
    rng = np.random.default_rng(seed)
    g = rng.choice(np.array([0] * 4 + list(range(6, 28, 3))), size=n_units)
    region = rng.choice(["East", "Middle", "West"], size=n_units, p=[0.4, 0.35, 0.25])
    mult = pd.Series({"East": 1.0, "Middle": 1.5, "West": 0.3})[region].to_numpy()
    unit, t = np.repeat(np.arange(n_units), n_periods), np.tile(np.arange(1, n_periods + 1), n_units)
    e = t - g[unit]
    tau = np.where((g[unit] > 0) & (e >= 0), mult[unit] * np.minimum((e + 1) / 3, 1.0), 0.0)
    x = rng.normal(size=unit.size)
    y = (rng.normal(size=n_units)[unit] + rng.normal(size=n_periods)[t - 1] + 0.5 * x + tau
         + rng.normal(size=unit.size))
    return pd.DataFrame({"city": unit, "year": t, "g": g[unit], "region": region[unit],
                         "x": x, "y": y})


def scale_run(seed: int) -> dict:
    """The default specification (4 x 1,000 draws) on a 3,000 x 30 panel, in this process
    (run it alone: the peak memory is the process's)."""
    data = scale_panel(seed)
    panel = bc.load_panel(data, unit="city", time="year", outcome="y", cohort="g",
                          covariates=["x"], traits=["region"])
    import arviz  # noqa: F401  (imported once, as any session would)

    start = time.perf_counter()
    est = bc.make_estimator("hierarchical_did", by="region", draws=1000,
                            random_state=seed).fit(panel)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    att = est.effect("ATT")
    info = att.facts("sampler")
    return {"n_obs": panel.n_obs, "chains": info["chains"], "draws": info["draws"],
            "fit_s": elapsed, "sampling_s": info["sampling_time"],
            "peak_rss_gib": peak, "divergences": info["divergences"],
            "notes": list(att.notes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", default=",".join(SAMPLERS))
    parser.add_argument("--no-naive", action="store_true")
    parser.add_argument("--no-scale", action="store_true")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--scale-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_run:
        print(json.dumps(scale_run(args.seed)))
        return
    samplers = [s for s in args.samplers.split(",") if s]
    builtin = datasets.load_china_cities().data
    compare_panel("builtin:china_cities", builtin, samplers, not args.no_naive, args.seed)
    fresh = datasets.simulate_city_panel(9001).data
    compare_panel("simulate_city_panel(9001)", fresh, samplers, not args.no_naive, args.seed)
    if not args.no_scale:
        out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--scale-run",
                              "--seed", str(args.seed)], capture_output=True, text=True,
                             check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"\nscale: {res['n_obs']} city-years, default spec (gibbs, {res['chains']} x "
              f"{res['draws']}): fit "
              f"{res['fit_s']:.1f} s (sampling {res['sampling_s']:.1f} s), peak memory "
              f"{res['peak_rss_gib']:.2f} GiB, divergences {res['divergences']}")
        for note in res["notes"]:
            print(f"  note: {note}")


if __name__ == "__main__":
    main()
