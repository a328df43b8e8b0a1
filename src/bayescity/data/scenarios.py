"""Simulated outcomes with known effects on the user's own design (calibration scenarios).

A calibration keeps everything of the user's panel but the outcome: the units, the periods
(rows that exist, so an unbalanced panel stays unbalanced), the treatment timing (cohorts),
the traits, the covariates and the cluster column. :func:`user_design` reads once what the
outcome's noise looks like; :func:`simulate` then draws a fresh outcome under a named scenario
and returns the new panel with the true effect of every treated cell.

Every scenario draws the outcome of unit i in period t as

    y_it = alpha_i + lambda_t + tau_it * D_it + u_it

``alpha_i`` and ``lambda_t`` are the unit and period effects of a two-way fixed-effects fit of
the user's outcome on the untreated rows (units without an untreated row get the mean unit
effect), ``D_it`` the user's treatment (treated cells only: ``t >= cohort_i > 0``), and
``sigma`` the residual standard deviation of that fit, so the calibration has the user's
signal-to-noise ratio. Effects are in the outcome's units: ``delta = effect_size * sigma``.
With ``e = t - cohort_i`` (event time), ``level_i`` the unit's level of the categorical
``trait`` and ``z_i`` its ``numeric_trait`` standardised over the treated units:

========================  ==================================================  ======================
scenario                  effect tau_it on treated cells                      noise u_it
========================  ==================================================  ======================
``homogeneous``           ``delta``                                           iid N(0, sigma^2)
``by_trait_zero_level``   ``delta * a_level``; ``a = 0`` for ``zero_level``   iid N(0, sigma^2)
                          (the last level unless set, e.g. West); the other
                          levels, sorted, ``a`` evenly from 0.5 to 1.5 (1 if
                          only one)
``linear_in_trait``       ``delta * (1 + slope * z_i)``                       iid N(0, sigma^2)
``dynamic_by_region``     ``delta * b_level * min((e + 1) / R_level, 1)``;    iid N(0, sigma^2)
                          0 for ``zero_level``; the j-th other level
                          (j = 0, 1, ...) builds up over ``R = 2 + 3j``
                          periods to ``b = 1 + 0.5j``
``ar1_shocks``            ``delta``                                           AR(1) in unit, ``rho``
                                                                              stationary sd sigma
``heavy_tails``           ``delta``                                           ``sigma * t / sd(t)``,
                                                                              t with ``t_df`` df
``no_effect``             0 (alias ``null``)                                  iid N(0, sigma^2)
========================  ==================================================  ======================

Before the first treated period every effect is zero (no anticipation, parallel trends hold).
Each replication also draws ``noise_traits`` pure-noise unit traits ``noise_1``, ``noise_2``
... (uniform on [0, 1], independent of everything), added to the panel's traits: an estimator
that finds heterogeneity along them makes a false discovery. The true drivers of the effect
are ``trait`` in ``by_trait_zero_level`` and ``dynamic_by_region`` and ``numeric_trait`` in
``linear_in_trait`` (none elsewhere).

The truth comes back cell by cell (:attr:`Simulated.effects`: one row per treated row with
:data:`TAU`); :mod:`bayescity.estimands.truth` aggregates it with the treated-cell weights every
estimator's estimand uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .panel import COHORT, TREAT, Panel

__all__ = ["ALIASES", "SCENARIOS", "Design", "ScenarioSettings", "Simulated", "dgp_table",
           "simulate", "user_design"]

SCENARIOS = ("homogeneous", "by_trait_zero_level", "linear_in_trait", "dynamic_by_region",
             "ar1_shocks", "heavy_tails", "no_effect")
#: Other names a config may use for a scenario (``null`` reads as a gap in CSV readers).
ALIASES = {"null": "no_effect"}
#: Scenarios whose effect depends on the categorical ``trait`` / the ``numeric_trait``.
NEEDS_TRAIT = ("by_trait_zero_level", "dynamic_by_region")
NEEDS_NUMERIC = ("linear_in_trait",)
NOISE_PREFIX = "noise_"
#: The true effect's column in :attr:`Simulated.effects` (reserved prefix: never a user column).
TAU = "_bc_tau"


@dataclass(frozen=True)
class ScenarioSettings:
    """How the scenarios are drawn (see the module docstring)."""

    effect_size: float = 0.5
    trait: str | None = None
    zero_level: str | None = None
    numeric_trait: str | None = None
    slope: float = 0.5
    rho: float = 0.5
    t_df: float = 3.0
    noise_traits: int = 2

    def __post_init__(self) -> None:
        if not -1.0 < self.rho < 1.0:
            raise ValueError(f"rho: must be in (-1, 1), got {self.rho!r}")
        if not self.t_df > 2.0:
            raise ValueError(f"t_df: must be > 2 (a finite variance), got {self.t_df!r}")
        if self.noise_traits < 0:
            raise ValueError(f"noise_traits: must be >= 0, got {self.noise_traits!r}")


@dataclass(frozen=True, eq=False)
class Design:
    """The user's design as a calibration uses it: the panel, the unit and period effects and
    residual sd of the untreated rows' two-way fit, and the traits the scenarios vary by."""

    panel: Panel
    unit_effect: np.ndarray
    period_effect: np.ndarray
    sigma: float
    settings: ScenarioSettings
    trait: str | None
    zero_level: str | None
    numeric_trait: str | None
    n_untreated: int

    @property
    def delta(self) -> float:
        """The reference effect in the outcome's units (``effect_size * sigma``)."""
        return float(self.settings.effect_size * self.sigma)

    @property
    def noise_names(self) -> tuple[str, ...]:
        """The names of the pure-noise traits a draw adds (``noise_1``, ``noise_2`` ...)."""
        return tuple(f"{NOISE_PREFIX}{k + 1}" for k in range(self.settings.noise_traits))

    def drivers(self, scenario: str) -> tuple[str, ...]:
        """The traits the scenario's effect truly varies with."""
        if scenario in NEEDS_TRAIT:
            return (self.trait,)
        return (self.numeric_trait,) if scenario in NEEDS_NUMERIC else ()

    def supports(self, scenario: str) -> str | None:
        """Why the design cannot carry ``scenario`` (None when it can)."""
        if scenario in NEEDS_TRAIT and self.trait is None:
            return "needs a categorical trait (data: traits, calibration: trait)"
        if scenario in NEEDS_NUMERIC and self.numeric_trait is None:
            return "needs a numeric trait (data: traits, calibration: numeric_trait)"
        return None


@dataclass(frozen=True, eq=False)
class Simulated:
    """One draw: the panel with the simulated outcome (and noise traits) and the true effect
    of every treated row (``effects``: unit, time, the traits, :data:`~.panel.COHORT` and
    :data:`TAU`)."""

    panel: Panel
    effects: pd.DataFrame
    scenario: str
    drivers: tuple[str, ...]
    noise_traits: tuple[str, ...]


# --------------------------------------------------------------------------- the user's design
def two_way_fit(y: np.ndarray, unit: np.ndarray, period: np.ndarray, n_units: int,
                n_periods: int, tol: float = 1e-10, max_iter: int = 2000
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit and period effects of ``y ~ unit + period`` by alternating projections (exact in
    one sweep on a balanced panel); NaN for units or periods without rows. Returns both and
    the residuals."""
    a, b = np.zeros(n_units), np.zeros(n_periods)
    n_u = np.bincount(unit, minlength=n_units)
    n_t = np.bincount(period, minlength=n_periods)
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(max_iter):
            b_new = np.bincount(period, y - a[unit], n_periods) / n_t
            a_new = np.bincount(unit, y - b_new[period], n_units) / n_u
            step = max(np.nanmax(np.abs(a_new - a), initial=0.0),
                       np.nanmax(np.abs(b_new - b), initial=0.0))
            a, b = np.nan_to_num(a_new), np.nan_to_num(b_new)
            if step < tol:
                break
    a = np.where(n_u > 0, a, np.nan)
    b = np.where(n_t > 0, b, np.nan)
    return a, b, y - a[unit] - b[period]


def _fill(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), np.nanmean(values), values)


def _default_trait(panel: Panel, given: str | None, kind: str) -> str | None:
    if given is not None:
        return given
    found = [t for t in panel.traits if panel.trait_kind(t) == kind
             and not t.startswith(NOISE_PREFIX)]
    return found[0] if found else None


def check_settings(panel: Panel, settings: ScenarioSettings) -> list[str]:
    """Problems of ``settings`` on ``panel``, in the config's words (empty when none)."""
    problems = []
    for key, kind in (("trait", "categorical"), ("numeric_trait", "numeric")):
        name = getattr(settings, key)
        if name is None:
            continue
        if name not in panel.traits:
            problems.append(f"calibration: {key}: {name!r} is not a trait of the panel; "
                            f"traits: {list(panel.traits)} (list it under data: traits)")
        elif panel.trait_kind(name) != kind:
            problems.append(f"calibration: {key}: trait {name!r} is {panel.trait_kind(name)}, "
                            f"not {kind}")
    trait = _default_trait(panel, settings.trait, "categorical")
    if settings.zero_level is not None and trait in panel.traits:
        levels = [str(v) for v in panel.trait_levels(trait)]
        if str(settings.zero_level) not in levels:
            problems.append(f"calibration: zero_level: {settings.zero_level!r} is not a level "
                            f"of {trait!r}; levels: {levels}")
    clash = [c for c in panel.frame.columns if str(c).startswith(NOISE_PREFIX)]
    if clash and settings.noise_traits:
        problems.append(f"calibration: the data have columns {clash} named like the injected "
                        f"noise traits ({NOISE_PREFIX}1, ...); rename them or set "
                        "noise_traits: 0")
    return problems


def user_design(panel: Panel, settings: ScenarioSettings | None = None) -> Design:
    """The calibration design of ``panel``: unit and period effects and residual sd of the
    two-way fixed-effects fit of its outcome on the untreated rows. Raise ValueError when the
    settings do not fit the panel or the untreated rows leave no residual variation."""
    settings = settings or ScenarioSettings()
    problems = check_settings(panel, settings)
    if problems:
        raise ValueError("\n".join(problems))
    untreated = panel.frame[TREAT].to_numpy() == 0
    unit, period = panel.unit_codes, panel.time_codes
    n_units, n_periods = int(unit.max()) + 1, int(period.max()) + 1
    a, b, resid = two_way_fit(panel.y[untreated], unit[untreated], period[untreated], n_units,
                              n_periods)
    dof = untreated.sum() - np.isfinite(a).sum() - np.isfinite(b).sum() + 1
    sigma = float(np.sqrt(resid @ resid / dof)) if dof > 0 else float("nan")
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError("calibration: the untreated rows leave no residual variation of the "
                         "outcome after unit and period effects; the noise scale is undefined")
    trait = _default_trait(panel, settings.trait, "categorical")
    zero = None
    if trait is not None:
        zero = str(settings.zero_level) if settings.zero_level is not None else str(
            panel.trait_levels(trait)[-1])
    return Design(panel=panel, unit_effect=_fill(a), period_effect=_fill(b), sigma=sigma,
                  settings=settings, trait=trait, zero_level=zero,
                  numeric_trait=_default_trait(panel, settings.numeric_trait, "numeric"),
                  n_untreated=int(untreated.sum()))


# --------------------------------------------------------------------------- effects and noise
def level_profile(levels: list[str], zero_level: str | None) -> dict[str, tuple[float, float,
                                                                                 int]]:
    """Per level: (static multiplier ``a``, dynamic plateau ``b``, build-up periods ``R``)."""
    others = [lv for lv in levels if lv != zero_level]
    static = np.linspace(0.5, 1.5, len(others)) if len(others) > 1 else np.ones(len(others))
    out = {lv: (float(s), 1.0 + 0.5 * j, 2 + 3 * j)
           for j, (lv, s) in enumerate(zip(others, static))}
    if zero_level is not None:
        out[zero_level] = (0.0, 0.0, 1)
    return out


def scenario_effects(design: Design, scenario: str) -> np.ndarray:
    """``tau_it`` of every row of the panel (zero on untreated rows) under ``scenario``."""
    frame = design.panel.frame
    treated = frame[TREAT].to_numpy() == 1
    rel = frame[design.panel.time].to_numpy() - frame[COHORT].to_numpy()
    delta, s = design.delta, design.settings
    if scenario in ("homogeneous", "ar1_shocks", "heavy_tails"):
        tau = np.full(len(frame), delta)
    elif scenario == "no_effect":
        tau = np.zeros(len(frame))
    elif scenario in NEEDS_TRAIT:
        level = frame[design.trait].astype(str).to_numpy()
        profile = level_profile(sorted(pd.unique(level)), design.zero_level)
        if scenario == "by_trait_zero_level":
            tau = delta * np.array([profile[lv][0] for lv in level])
        else:
            plateau = np.array([profile[lv][1] for lv in level])
            years = np.array([profile[lv][2] for lv in level], dtype=float)
            tau = delta * plateau * np.clip((rel + 1.0) / years, 0.0, 1.0)
            tau = np.where(level == design.zero_level, 0.0, tau)
    elif scenario == "linear_in_trait":
        tau = delta * (1.0 + s.slope * standardised_trait(design))
    else:
        raise ValueError(f"unknown scenario {scenario!r}; scenarios: {list(SCENARIOS)}")
    return np.where(treated, tau, 0.0)


def standardised_trait(design: Design) -> np.ndarray:
    """The numeric trait of every row, standardised by its mean and sd over treated units."""
    units = design.panel.unit_table()
    values = units[design.numeric_trait].to_numpy(dtype=float)
    on = units[COHORT].to_numpy() > 0
    ref = values[on] if on.sum() > 1 else values
    sd = ref.std(ddof=1) if ref.size > 1 else 0.0
    z = (values - ref.mean()) / sd if sd > 0 else np.zeros_like(values)
    per_unit = pd.Series(z, index=units[design.panel.unit].to_numpy())
    return per_unit.reindex(design.panel.frame[design.panel.unit].to_numpy()).to_numpy()


def scenario_noise(design: Design, scenario: str, rng: np.random.Generator) -> np.ndarray:
    """``u_it`` of every row: iid normal, AR(1) within unit (``ar1_shocks``) or scaled t
    (``heavy_tails``), each with marginal sd ``sigma``."""
    panel, sigma, s = design.panel, design.sigma, design.settings
    n_units, n_periods = int(panel.unit_codes.max()) + 1, int(panel.time_codes.max()) + 1
    if scenario == "heavy_tails":
        scale = np.sqrt(s.t_df / (s.t_df - 2.0))
        return sigma * rng.standard_t(s.t_df, size=panel.n_obs) / scale
    if scenario != "ar1_shocks":
        return sigma * rng.standard_normal(panel.n_obs)
    shocks = rng.standard_normal((n_units, n_periods))
    grid = np.empty_like(shocks)
    grid[:, 0] = shocks[:, 0]
    innovation = np.sqrt(1.0 - s.rho ** 2)
    for t in range(1, n_periods):
        grid[:, t] = s.rho * grid[:, t - 1] + innovation * shocks[:, t]
    return sigma * grid[panel.unit_codes, panel.time_codes]


def simulate(design: Design, scenario: str, rng: np.random.Generator) -> Simulated:
    """One draw of ``scenario`` on ``design``: a new Panel (the user's rows and columns, the
    outcome replaced, noise traits added) and the true effect of each treated row."""
    reason = design.supports(scenario)
    if reason is not None:
        raise ValueError(f"scenario {scenario!r} {reason}")
    panel = design.panel
    tau = scenario_effects(design, scenario)
    noise_traits = rng.uniform(size=(int(panel.unit_codes.max()) + 1, len(design.noise_names)))
    u = scenario_noise(design, scenario, rng)
    y = design.unit_effect[panel.unit_codes] + design.period_effect[panel.time_codes] + tau + u
    frame = panel.frame
    frame[panel.outcome] = y
    for k, name in enumerate(design.noise_names):
        frame[name] = noise_traits[panel.unit_codes, k]
    note = (f"calibration scenario {scenario!r}: {panel.outcome!r} simulated "
            f"(sigma {design.sigma:.4g}, effect size {design.delta:.4g})")
    sim_panel = panel.replace(frame=frame, traits=(*panel.traits, *design.noise_names),
                              notes=(*panel.notes, note))
    treated = frame[TREAT].to_numpy() == 1
    keep = [panel.unit, panel.time, *sim_panel.traits]
    effects = frame.loc[treated, [*keep, COHORT]].assign(**{TAU: tau[treated]})
    return Simulated(panel=sim_panel, effects=effects.reset_index(drop=True), scenario=scenario,
                     drivers=design.drivers(scenario), noise_traits=design.noise_names)


def dgp_table() -> str:
    """The scenarios' data-generating processes: the table of this module's docstring."""
    lines = (__doc__ or "").splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("=====")]
    return "\n".join(lines[rules[0]:rules[-1] + 1]) if len(rules) >= 2 else ""
