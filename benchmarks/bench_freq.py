"""Time each frequentist estimator next to diff-diff (and, with ``--references``, next to its
independent reference on the built-in panel).

Prints best-of-``--repeat`` wall times and the ratio ours / diff-diff for every estimator both
packages have, on mpdta, the built-in panel and a simulated 3,000-city x 30-year panel, all
measured in one process (the large panel once per estimator). Same specifications on both
sides: no covariates, diff-diff's defaults otherwise, every aggregation computed. On a shared
machine wall times wander with the load (printed with the table); the CPU-time ratio
(``cpu_ratio``: this process's CPU seconds, BLAS threads included) is the steadier one.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd

import bayescity as bc
from bayescity.data.panel import COHORT, REL_TIME, TREAT
from _timing import best_of

COVS = ["industry_share", "fin_dev", "openness", "human_capital", "gov_size"]
CS_COVS = ["ln_pop_2003", "ln_gdp_pc_2003"]
WINDOW = (-5, 8)


def binned_rel(df: pd.DataFrame) -> pd.Series:
    rel = df["rel_time"].clip(*WINDOW)
    return rel.fillna(-1).astype(int)


def references(df: pd.DataFrame) -> dict:
    import moderndid
    import polars as pl
    import pyfixest as pf

    work = df.assign(rel_b=binned_rel(df), g=df["cohort"],
                     rel_post=np.where(df["treat"] == 1, df["rel_time"].fillna(0), -1000).astype(int))
    rhs = " + ".join(COVS)
    cs_data = pl.from_pandas(df[["city", "year", "cohort", "tfp_growth", *CS_COVS]]
                             .assign(city_id=pd.factorize(df["city"])[0]))

    def cs():
        m = moderndid.att_gt(data=cs_data, yname="tfp_growth", tname="year", idname="city_id",
                             gname="cohort", est_method="dr", control_group="notyettreated",
                             xformla="~" + "+".join(CS_COVS), boot=False)
        for kind in ("simple", "group", "dynamic", "calendar"):
            moderndid.aggte(m, type=kind, boot=False)

    return {
        "twfe": lambda: pf.feols(f"tfp_growth ~ treat + {rhs} | city + year", data=work,
                                 vcov={"CRV1": "city"}),
        "event_study": lambda: pf.feols(f"tfp_growth ~ i(rel_b, ref=-1) + {rhs} | city + year",
                                        data=work, vcov={"CRV1": "city"}),
        "callaway_santanna": cs,
        "sun_abraham": lambda: pf.event_study(work, yname="tfp_growth", idname="city", tname="year",
                                              gname="g", estimator="saturated").aggregate(agg="period"),
        "imputation": lambda: pf.did2s(work, yname="tfp_growth", first_stage="~ 0 | city + year",
                                       second_stage="~ i(rel_post, ref=-1000)", treatment="treat",
                                       cluster="city"),
    }


def ours(panel: bc.Panel) -> dict:
    make = bc.make_estimator
    return {
        "twfe": lambda: make("twfe").fit(panel),
        "event_study": lambda: make("event_study", window=WINDOW).fit(panel),
        "callaway_santanna": lambda: make("callaway_santanna", control_group="not_yet_treated",
                                          covariates=CS_COVS).fit(panel),
        "sun_abraham": lambda: make("sun_abraham", covariates=[]).fit(panel),
        "imputation": lambda: make("imputation", covariates=[]).fit(panel),
    }


def simulated_panel(n_units: int = 3000, n_periods: int = 30, seed: int = 0) -> pd.DataFrame:
    """Cities x years with unit and year effects, cohorts spread over the middle years (a third
    never treated) and effects growing with time since adoption."""
    rng = np.random.default_rng(seed)
    years = np.arange(1991, 1991 + n_periods)
    cohorts = np.concatenate([[0], years[5:-3:3]])
    g = rng.choice(cohorts, size=n_units, p=[1 / 3] + [2 / 3 / (len(cohorts) - 1)] * (len(cohorts) - 1))
    unit = np.repeat(np.arange(n_units), n_periods)
    year = np.tile(years, n_units)
    gi = g[unit]
    e = year - gi
    y = (rng.normal(size=n_units)[unit] + rng.normal(size=n_periods)[year - years[0]]
         + np.where((gi > 0) & (e >= 0), 1.0 + 0.05 * e, 0.0) + rng.normal(size=unit.size))
    return pd.DataFrame({"city": unit, "year": year, "cohort": gi, "y": y})


def dd_pairs(df: pd.DataFrame, panel: bc.Panel, *, unit: str, time: str, outcome: str,
             cohort: str, horizons: int) -> dict:
    """(ours, diff-diff) callables of every estimator both packages have, same specification."""
    import diff_diff as dd

    make = bc.make_estimator
    base = dict(outcome=outcome, unit=unit, time=time, first_treat=cohort)
    d = df.assign(_d=((df[cohort] > 0) & (df[time] >= df[cohort])).astype(int))
    return {
        "callaway_santanna": (lambda: make("callaway_santanna", covariates=[]).fit(panel),
                              lambda: dd.CallawaySantAnna().fit(df, **base, aggregate="all")),
        "imputation": (lambda: make("imputation", covariates=[]).fit(panel),
                       lambda: dd.ImputationDiD().fit(df, **base, aggregate="all")),
        "two_stage": (lambda: make("two_stage", covariates=[]).fit(panel),
                      lambda: dd.TwoStageDiD(pretrends=True).fit(df, **base, aggregate="all")),
        "sun_abraham": (lambda: make("sun_abraham", covariates=[]).fit(panel),
                        lambda: dd.SunAbraham().fit(df, **base)),
        "bacon": (lambda: make("bacon").fit(panel),
                  lambda: dd.BaconDecomposition().fit(df, **base)),
        "stacked": (lambda: make("stacked").fit(panel),
                    lambda: dd.StackedDiD().fit(df, **base)),
        "dcdh": (lambda: make("dcdh", effects=horizons, placebo=horizons).fit(panel),
                 lambda: dd.ChaisemartinDHaultfoeuille(twfe_diagnostic=False).fit(
                     d, outcome=outcome, unit=unit, time=time, treatment="_d", L_max=horizons)),
    }


def datasets() -> list[tuple[str, pd.DataFrame, dict, int, bool]]:
    """(name, frame, columns, dCDH horizons, large) of the three benchmark panels."""
    import moderndid

    mpdta = moderndid.load_mpdta().to_pandas().rename(columns={"first.treat": "cohort"})
    builtin = bc.load_panel("builtin:china_cities", unit="city", time="year",
                            outcome="tfp_growth", cohort="pilot_year").data.rename(
        columns={COHORT: "cohort"})
    return [("mpdta", mpdta, dict(unit="countyreal", time="year", outcome="lemp"), 3, False),
            ("builtin:china_cities", builtin[["city", "year", "cohort", "tfp_growth"]],
             dict(unit="city", time="year", outcome="tfp_growth"), 5, False),
            ("simulated 3000 x 30", simulated_panel(), dict(unit="city", time="year",
                                                            outcome="y"), 5, True)]


def cpu_best_of(fn, repeat: int) -> float:
    """The least CPU time of ``repeat`` calls (this process, all its threads)."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def against_diff_diff(repeat: int, only: list[str] | None = None) -> pd.DataFrame:
    rows = []
    for name, df, cols, horizons, large in datasets():
        panel = bc.load_panel(df, **cols, cohort="cohort")
        pairs = dd_pairs(df, panel, **cols, cohort="cohort", horizons=horizons)
        for est, (mine, theirs) in pairs.items():
            if only and est not in only:
                continue
            n = 1 if large else repeat
            mine(), theirs()  # warm caches and imports
            rows.append({"panel": name, "estimator": est, "ours_s": best_of(mine, n),
                         "diff_diff_s": best_of(theirs, n), "ours_cpu_s": cpu_best_of(mine, n),
                         "diff_diff_cpu_s": cpu_best_of(theirs, n)})
    return pd.DataFrame(rows).assign(
        ratio=lambda t: t["ours_s"] / t["diff_diff_s"],
        cpu_ratio=lambda t: t["ours_cpu_s"] / t["diff_diff_cpu_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--references", action="store_true",
                        help="also time the built-in panel against pyfixest/moderndid")
    parser.add_argument("--only", nargs="*", help="time these estimators only")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = against_diff_diff(args.repeat, args.only)
    print(f"ours / diff-diff, best of {args.repeat} (the 3000 x 30 panel: one run each); "
          f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after, "
          f"{os.cpu_count()} CPUs")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"ratios above 1: {int((table['ratio'] > 1).sum())} of {len(table)} (wall), "
          f"{int((table['cpu_ratio'] > 1).sum())} (CPU)")
    if args.references:
        references_table(args.repeat)


def references_table(repeat: int) -> None:
    """The built-in panel against the independent references (pyfixest, moderndid)."""
    panel = bc.load_panel("builtin:china_cities", unit="city", time="year", outcome="tfp_growth",
                          cohort="pilot_year", covariates=COVS, traits=["region3", "north_south"])
    df = panel.data.rename(columns={COHORT: "cohort", TREAT: "treat", REL_TIME: "rel_time"})
    df.loc[df["cohort"] == 0, "rel_time"] = np.nan
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refs, mine = references(df), ours(panel)
        for name in mine:
            rows.append({"estimator": name, "ours_s": best_of(mine[name], repeat),
                         "reference_s": best_of(refs[name], repeat)})
    table = pd.DataFrame(rows).assign(ratio=lambda t: t["ours_s"] / t["reference_s"])
    print(f"builtin:china_cities ({panel.n_units} cities x {panel.n_periods} years), "
          f"best of {repeat}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"whole suite (ours): {table['ours_s'].sum():.2f} s; "
          f"estimators slower than the reference: {int((table['ratio'] > 1).sum())}")


if __name__ == "__main__":
    main()
