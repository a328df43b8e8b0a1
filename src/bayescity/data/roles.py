"""Default column roles of the built-in datasets, so ``data describe builtin:<name>`` needs no flags."""

from __future__ import annotations

BUILTIN_ROLES: dict[str, dict] = {
    "china_cities": dict(
        unit="city", time="year", outcome="tfp_growth", cohort="pilot_year",
        covariates=["industry_share", "fin_dev", "openness", "human_capital",
                    "gov_size"],
        traits=["region3", "region4", "north_south", "provincial_capital", "coastal",
                "initial_size"],
        cluster="city",
    ),
}
