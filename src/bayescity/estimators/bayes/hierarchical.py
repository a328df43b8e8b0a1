"""``method: hierarchical_did`` -- the hierarchical Bayesian difference-in-differences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ...constants import INTERVAL_PROB
from ...data.panel import Panel
from ...diagnostics import breach_notes
from ...estimands import Aggregation, to_effect_result
from ...results.effect import EffectResult
from ...results.parts import Diagnostics, Facts, Table, notes as note, warnings as warn
from ..core import params as P
from ..core.base import Estimator, Fitted, ParamError, resolve_by
from ..core.controls import covariates_of, with_trend_controls
from ..core.covariates import covariate_report, sentences
from ..registry import register
from . import checks
from .design import VARIANTS, error_model, treatment_design
from .model import PARAMETERIZATIONS
from .posterior import probability_tests
from .priors import PriorError, parse_priors
from .sampling import LIKELIHOODS, SAMPLERS, Fit, Settings, fit_design
from .serial import ERRORS
from .idata import estimand_arrays, parameter_arrays


@dataclass(frozen=True, eq=False)
class HierarchicalState:
    """What a fit keeps: the treatment design (``design_``), the posterior as ArviZ
    InferenceData (``idata_``) and the error model (``serial_``: AR(1) rho)."""

    design: Any
    idata: Any
    serial: Any


@register("hierarchical_did")
class HierarchicalDID(Estimator):
    """Hierarchical Bayesian DID with partially pooled effects by trait level.

    ``outcome = unit + period + covariates + treatment effect + noise``; treatment effects sit
    on treated city-years only, one parameter per treated cell (cohort x year x ``by`` levels),
    so never-treated and not-yet-treated rows identify the counterfactual (a Bayesian
    imputation estimator, Borusyak, Jaravel & Spiess 2024). Cells are partially pooled towards
    a structure in which every trait level has its own average effect and its own event-time
    path around the common one, plus cohort deviations (``variant: hierarchical``; the level
    averages, cohorts and cells are pooled with learned scales, the paths' steps have fixed
    weakly informative priors, :mod:`.design`, :mod:`.priors`), so a level can stay at zero
    while the others build up and a thin level still borrows strength from the others;
    ``unpooled`` gives every component a fixed weak prior (nothing is borrowed across levels),
    ``static`` keeps one effect per level on the post dummy (biased when effects build up under
    staggered timing). ``city_effects`` adds a
    deviation per treated city and reports ``CATE``. ``errors: ar1`` (default) fits AR(1) errors
    within each city by quasi-differencing with ``rho`` estimated from the untreated rows
    (:mod:`.serial`); ``errors: iid`` assumes independent years. Priors are weakly informative in units of
    the outcome's sd (:mod:`.priors`). ``sampler: gibbs`` (default, Gaussian likelihood) is a
    blocked conjugate sampler on the absorbed likelihood; ``numpyro``, ``nutpie`` and ``pymc``
    run NUTS on the same PyMC model and are required for ``likelihood: student_t``. ``draws``
    per chain default to 2,000 for ``gibbs`` (cheap, and enough for the scales' R-hat) and
    1,000 for NUTS; ``tune`` to 500 and 1,000.

    Reports ``ATT``, ``ATT_event``, ``ATT_cohort``, ``ATT_calendar``, ``ATT_by_<trait>`` per
    ``by`` trait and ``CATE`` with posterior means, posterior sds, equal-tailed intervals and
    ``P(effect > 0)``; posterior probabilities ``P(ATT > 0)`` and ``P(A > B)`` for level pairs
    come as tests of kind ``posterior_probability``. The InferenceData is kept as ``idata_``.
    """

    paradigm = "bayesian"
    params = {"by": P.Spec("trait", "trait(s) whose levels get partially pooled effects "
                                    "(ATT_by_<trait>)", none=True, many=True, role="by"),
              "by_bins": P.BY_BINS,
              "variant": P.Spec("choice", "hierarchical (partial pooling), unpooled (no "
                                          "borrowing across levels) or static (one effect per "
                                          "level)", choices=VARIANTS),
              "city_effects": P.Spec("bool", "add a partially pooled effect per treated city "
                                             "(CATE)"),
              "likelihood": P.Spec("choice", "normal, or student_t (NUTS samplers)",
                                   choices=LIKELIHOODS),
              "errors": P.Spec("choice", "ar1: AR(1) errors within each city; iid: independent "
                                         "years", choices=ERRORS),
              "covariates": P.COVARIATES, "trend_covariates": P.TREND_COVARIATES,
              "priors": P.Spec("mapping", "prior scales in outcome standard deviations (keys: "
                                          "see the priors reference)", none=True),
              "sampler": P.Spec("choice", "gibbs (blocked conjugate sampler) or NUTS through "
                                          "numpyro, nutpie or pymc", choices=SAMPLERS),
              "chains": P.Spec("int", "chains", low=1),
              "draws": P.Spec("int", "draws per chain; null: 2,000 for gibbs, 1,000 for NUTS",
                              low=4, none=True),
              "tune": P.Spec("int", "warm-up draws per chain; null: 500 for gibbs, 1,000 for "
                                    "NUTS", low=0, none=True),
              "target_accept": P.Spec("prob", "NUTS target acceptance rate"),
              "parameterization": P.Spec("choice", "NUTS parameterisation of the effects; "
                                                   "null: marginal for the normal likelihood, "
                                                   "noncentered otherwise",
                                         choices=PARAMETERIZATIONS, none=True),
              "prior_predictive": P.Spec("bool", "run the prior predictive check"),
              "posterior_predictive": P.Spec("bool", "run the posterior predictive check"),
              "prior_sensitivity": P.Spec("bool", "refit with every prior scale halved and "
                                                  "doubled"),
              "loo": P.Spec("bool", "compare the variants by PSIS-LOO"),
              "interval_prob": P.INTERVAL_PROB, "random_state": P.RANDOM_STATE}
    smoke_params = {"chains": 2, "draws": 150, "tune": 100}

    def __init__(self, by: str | Sequence[str] | None = None, by_bins: str | int | None = None,
                 variant: str = "hierarchical", city_effects: bool = False,
                 likelihood: str = "normal", errors: str = "ar1",
                 covariates: Sequence[str] | None = None,
                 trend_covariates: Sequence[str] | None = None,
                 priors: Mapping[str, Any] | None = None, sampler: str = "gibbs",
                 chains: int = 4, draws: int | None = None, tune: int | None = None,
                 target_accept: float = 0.9, parameterization: str | None = None,
                 prior_predictive: bool = False, posterior_predictive: bool = False,
                 prior_sensitivity: bool = False, loo: bool = False,
                 interval_prob: float = INTERVAL_PROB, random_state: int | None = None):
        self.by = by
        self.by_bins = by_bins
        self.variant = variant
        self.city_effects = city_effects
        self.likelihood = likelihood
        self.errors = errors
        self.covariates = covariates
        self.trend_covariates = trend_covariates
        self.priors = priors
        self.sampler = sampler
        self.chains = chains
        self.draws = draws
        self.tune = tune
        self.target_accept = target_accept
        self.parameterization = parameterization
        self.prior_predictive = prior_predictive
        self.posterior_predictive = posterior_predictive
        self.prior_sensitivity = prior_sensitivity
        self.loo = loo
        self.interval_prob = interval_prob
        self.random_state = random_state

    # ------------------------------------------------------------------ checks
    def _validate(self) -> None:
        if self.sampler == "gibbs" and self.likelihood != "normal":
            raise ParamError("sampler: gibbs samples the normal likelihood only; use numpyro, "
                             "nutpie or pymc with likelihood: student_t")
        if self.sampler == "gibbs" and self.parameterization is not None:
            raise ParamError("parameterization: applies to the NUTS samplers (numpyro, nutpie, "
                             "pymc); gibbs draws the effect block exactly")
        if self.likelihood != "normal" and self.parameterization == "marginal":
            raise ParamError("parameterization: marginal integrates the effects out of a normal "
                             "likelihood; use noncentered or centered with student_t")
        if self.loo and self.likelihood != "normal":
            raise ParamError("loo: the variant comparison is available for likelihood: normal")
        try:
            parse_priors(self.priors)
        except PriorError as exc:
            raise ParamError(str(exc)) from None
        self._by_list()

    def _by_list(self) -> tuple[str, ...]:
        by = [self.by] if isinstance(self.by, str) else list(self.by or [])
        if not all(isinstance(t, str) for t in by) or len(set(by)) < len(by):
            raise ParamError(f"by: expected a trait name or a list of distinct trait names, "
                             f"got {self.by!r}")
        return tuple(by)

    def _check_panel(self, panel: Panel) -> None:
        self._prepare(panel)

    def _prepare(self, panel: Panel) -> tuple[Panel, tuple[str, ...], list[str]]:
        """The panel with binned ``by`` traits and trend controls, the traits and covariates."""
        by = self._by_list()
        if not by:
            resolve_by(panel, None, self.by_bins)
        numeric = [t for t in by if t in panel.traits and panel.trait_kind(t) == "numeric"]
        if len(by) > 1 and self.by_bins is not None and not numeric:
            raise ParamError(f"by_bins: none of the traits {list(by)} is numeric")
        for trait in by:
            bins = self.by_bins if len(by) == 1 or trait in numeric else None
            panel = resolve_by(panel, trait, bins)
        for name in ("covariates", "trend_covariates"):
            missing = [c for c in getattr(self, name) or [] if c not in panel.frame.columns]
            if missing:
                raise ParamError(f"{name}: columns {missing} are not in the data")
        try:
            panel, trends = with_trend_controls(panel, self.trend_covariates)
        except ValueError as exc:
            raise ParamError(f"trend_covariates: {exc}") from None
        return panel, by, covariates_of(panel, self.covariates, trends)

    # ------------------------------------------------------------------ fit
    def _settings(self, log_likelihood: bool = True) -> Settings:
        gibbs = self.sampler == "gibbs"
        draws = self.draws if self.draws is not None else (2000 if gibbs else 1000)
        tune = self.tune if self.tune is not None else (500 if gibbs else 1000)
        return Settings(sampler=self.sampler, chains=int(self.chains), draws=int(draws),
                        tune=int(tune), likelihood=self.likelihood,
                        target_accept=float(self.target_accept),
                        parameterization=self._parameterization(), log_likelihood=log_likelihood)

    def _parameterization(self) -> str:
        if self.parameterization is not None:
            return self.parameterization
        return "marginal" if self.likelihood == "normal" else "noncentered"

    def _fit(self, panel: Panel) -> Fitted:
        from threadpoolctl import threadpool_limits

        # The matrices are small: OpenBLAS threads only contend with the sampler's own threads.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit_panel(panel)

    def _fit_panel(self, panel: Panel) -> Fitted:
        used, by, covariates = self._prepare(panel)
        priors = parse_priors(self.priors)
        seeds = np.random.SeedSequence(self.random_state).spawn(3)
        serial = error_model(used, covariates, self.errors)
        design = treatment_design(used, by=by, variant=self.variant,
                                  city_effects=bool(self.city_effects), covariates=covariates,
                                  rho=serial.rho)
        fit = fit_design(design, priors, self._settings(), seeds[0])
        extras = self._checks(fit, priors, seeds, used, by, covariates, serial.rho)
        requested = list(panel.covariates if self.covariates is None else self.covariates)
        report, note, warning = covariate_report(requested, design.covariates_kept, used.frame,
                                                 unit=panel.unit, time=panel.time,
                                                 default=self.covariates is None)
        extras.update(report, notes=sentences(note, *design.notes, serial.note or None),
                      warnings=sentences(warning) + extras["warnings"], errors=serial.as_dict())
        results = tuple(self._result(agg, fit, extras) for agg in fit.aggregations)
        return Fitted(results, HierarchicalState(design=design, idata=fit.idata, serial=serial))

    def _checks(self, fit: Fit, priors, seeds, panel: Panel, by, covariates,
                rho: float) -> dict[str, Any]:
        """Requested model checks: tables by estimand, notes, and InferenceData groups."""
        out: dict[str, Any] = {"warnings": ()}
        rng = np.random.default_rng(seeds[1])
        if self.prior_predictive:
            draws, aggs, reps = checks.prior_predictive(fit.design, priors, 1000, rng,
                                                        self.likelihood)
            out["prior_predictive"] = checks.summary_table(aggs)
            _add_prior_groups(fit, draws, aggs, reps)
        if self.posterior_predictive:
            table, reps = checks.posterior_predictive(fit.design, fit.draws, rng, self.likelihood)
            out["ppc"] = table
            out["warnings"] += checks.ppc_notes(table)
            _add_group(fit, "posterior_predictive", reps)
        if self.prior_sensitivity:
            out["prior_sensitivity"] = checks.prior_sensitivity(
                fit.aggregations, lambda f: fit_design(fit.design, priors.scaled(f),
                                                       self._settings(False), seeds[0]).aggregations)
            out["warnings"] += checks.sensitivity_notes(out["prior_sensitivity"])
        if self.loo:
            out["loo"], notes = checks.loo_compare(self._variant_fits(fit, priors, seeds, panel,
                                                                      by, covariates, rho))
            out["warnings"] += notes
        return out

    def _variant_fits(self, fit: Fit, priors, seeds, panel, by, covariates,
                      rho: float) -> dict[str, Any]:
        """InferenceData of every variant (this fit's own included) for PSIS-LOO."""
        out = {self.variant: fit.idata}
        for variant in VARIANTS:
            if variant not in out:
                design = treatment_design(panel, by=by, variant=variant,
                                          city_effects=bool(self.city_effects),
                                          covariates=covariates, rho=rho)
                out[variant] = fit_design(design, priors, self._settings(), seeds[2]).idata
        return out

    def _used_priors(self, fit: Fit) -> dict[str, Any]:
        """The prior scales the fitted variant uses (its components' keys, sigma, the
        half-t df of learned scales, nu's gamma prior under a Student-t likelihood)."""
        comps = fit.design.components
        used = {c.prior for c in comps} | {"sigma"}
        used |= {"scale_df"} if any(c.learned for c in comps) else set()
        used |= {"nu_shape", "nu_rate"} if self.likelihood == "student_t" else set()
        return {k: v for k, v in parse_priors(self.priors).as_dict().items() if k in used}

    def _result(self, agg: Aggregation, fit: Fit, extras: dict[str, Any]) -> EffectResult:
        diag = fit.diagnostics
        warnings, notes = breach_notes(diag.table, [agg.estimand]), ()
        if agg.estimand == "ATT":
            model_rows = diag.table[~diag.table["reported"]]
            warnings = (diag.sampler_notes + breach_notes(model_rows) + warnings
                        + extras["warnings"])
            notes = extras["notes"]
        settings = {"covariates_used": extras["covariates_used"],
                    "covariates_dropped": extras["covariates_dropped"]}
        model = {"variant": fit.design.variant, "likelihood": self.likelihood,
                 "errors": extras["errors"], "priors": self._used_priors(fit),
                 "prior scales in units of the outcome sd": fit.design.scale}
        parts = [Diagnostics("diagnostics", diag.table),
                 Facts("sampler", self._sampler_info(fit)), Facts("model", model)]
        for key in ("prior_predictive", "ppc", "prior_sensitivity", "loo"):
            if key in extras:
                table = extras[key]
                parts.append(Table(key, table[table["estimand"] == agg.estimand]
                                   .reset_index(drop=True) if "estimand" in table.columns
                                   else table))
        return to_effect_result(agg, method=self.method, paradigm="bayesian",
                                n_obs=fit.design.n_used, interval_prob=float(self.interval_prob),
                                interval_kind="equal_tailed", tests=probability_tests(agg),
                                settings=settings, parts=parts,
                                messages=warn(*warnings) + note(*notes))

    def _sampler_info(self, fit: Fit) -> dict[str, Any]:
        d = fit.draws
        info = {"sampler": d.sampler, "chains": d.n_chains, "draws": d.n_draws,
                "tune": self._settings().tune, "likelihood": self.likelihood,
                "divergences": fit.diagnostics.divergences,
                "ebfmi": list(fit.diagnostics.ebfmi), "sampling_time": d.sampling_time}
        if d.sampler == "gibbs":
            info["acceptance_rate"] = float(d.sample_stats["mh_accept"].mean())
        else:
            info.update(target_accept=float(self.target_accept),
                        parameterization=self._parameterization())
        return info


def _add_group(fit: Fit, group: str, reps: np.ndarray) -> None:
    """Replicated absorbed outcomes (one chain) and the observed ones as InferenceData groups."""
    import arviz as az

    name = "y_absorbed"
    obs = fit.design.stats.y_absorbed * fit.design.scale
    fit.idata.add_groups({group: az.dict_to_dataset({name: reps[None]}, dims={name: ["obs"]})})
    if "observed_data" not in fit.idata.groups():
        fit.idata.add_groups(observed_data=az.dict_to_dataset(
            {name: obs}, dims={name: ["obs"]}, default_dims=[]))


def _add_prior_groups(fit: Fit, draws, aggs, reps) -> None:
    """The prior group (parameters and estimands) and the prior predictive replicates."""
    import arviz as az


    params = parameter_arrays(fit.design, draws)
    est, dims, coords = estimand_arrays(fit.design, aggs, 1, draws.n_draws)
    comp_dims = {c.name: [c.dim] for c in fit.design.components if c.dim is not None}
    comp_coords = {c.dim: list(c.labels) for c in fit.design.components if c.dim is not None}
    fit.idata.add_groups(prior=az.dict_to_dataset({**params, **est},
                                                  coords={**comp_coords, **coords},
                                                  dims={**comp_dims, **dims}))
    _add_group(fit, "prior_predictive", reps)
