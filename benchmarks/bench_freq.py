"""Time each frequentist estimator on the built-in panel next to its independent reference.

Prints best-of-``--repeat`` wall times and the ratio ours / reference, measured in one process.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    panel = bc.load_panel("builtin:china_cities", unit="city", time="year", outcome="tfp_growth",
                          cohort="pilot_year", covariates=COVS, traits=["region3", "north_south"])
    df = panel.data.rename(columns={COHORT: "cohort", TREAT: "treat", REL_TIME: "rel_time"})
    df.loc[df["cohort"] == 0, "rel_time"] = np.nan
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refs, mine = references(df), ours(panel)
        for name in mine:
            rows.append({"estimator": name, "ours_s": best_of(mine[name], args.repeat),
                         "reference_s": best_of(refs[name], args.repeat)})
    table = pd.DataFrame(rows).assign(ratio=lambda t: t["ours_s"] / t["reference_s"])
    print(f"builtin:china_cities ({panel.n_units} cities x {panel.n_periods} years), "
          f"best of {args.repeat}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"whole suite (ours): {table['ours_s'].sum():.2f} s; "
          f"estimators slower than the reference: {int((table['ratio'] > 1).sum())}")


if __name__ == "__main__":
    main()
