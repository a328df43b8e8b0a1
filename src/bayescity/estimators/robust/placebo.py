"""Placebo tests and randomization inference (``method: placebo``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ...data.codings import drop_units, unit_cohorts, with_cohorts
from ...data.panel import COHORT, Panel
from ...progress import report_progress
from ...results.effect import EffectResult, TestResult
from ...results.parts import Distribution, Facts, notes, readonly_array, warnings
from ..core import params as P
from ..core.base import Estimator, Fitted, ParamError, resolve_by
from ..core.controls import covariates_of, with_trend_controls
from ..core.seeds import RandomState, child_seeds
from ..core.tasks import map_with_progress
from ..registry import register
from .fwl import TWFEDesign, twfe_design, twfe_estimates, with_cohort_sums
from .inner import check_inner, check_inner_panel, make_inner, relabel
from .permute import Batch, permuted_cohorts, plan_batches, randomization_pvalue

KINDS = ("timing", "fake_timing", "outcome")
#: Estimators that need a balanced panel and so cannot take the fake-timing sample.
BALANCED_ONLY = ("callaway_santanna",)
#: The ``check`` part of each kind: what the report calls it and what it expects.
CHECKS = {"timing": {"kind": "randomization", "expects": "the policy's effect, far in the tail "
                                                          "of the placebo distribution"},
          "outcome": {"kind": "placebo_outcome", "expects": "no effect"},
          "fake_timing": {"kind": "fake_timing", "expects": "no effect"}}
#: The estimand of kinds whose effect is not the policy's ATT on the outcome.
PLACEBO_ESTIMANDS = {"fake_timing": "ATT_fake_timing", "outcome": "ATT_placebo_outcome"}


#: A permuted quantity: (estimand, term), e.g. ("ATT", "overall") or ("ATT_by_region3", "East").
Column = tuple[str, str]


@dataclass(frozen=True)
class RefitSpec:
    """A placebo refit: the panel, its real cohorts (per unit), strata and the estimator;
    ``label`` and ``total`` name the progress reports of the refits."""

    panel: Panel
    cohorts: np.ndarray
    strata: np.ndarray | None
    estimator: str
    params: Mapping[str, Any]
    by: str | None
    columns: tuple[Column, ...]
    random_state: RandomState
    label: str = "placebo permutations"
    total: int | None = None


def _draw(cohorts: np.ndarray, strata: np.ndarray | None, batch: Batch) -> np.ndarray:
    return permuted_cohorts(cohorts, strata, batch.size, np.random.default_rng(batch.seed))


def fwl_task(item: tuple[tuple[TWFEDesign, ...], np.ndarray, np.ndarray | None, Batch]
             ) -> np.ndarray:
    """Placebo TWFE estimates of one batch on the Frisch-Waugh-Lovell fast path (the columns
    of every design side by side)."""
    designs, cohorts, strata, batch = item
    draws = _draw(cohorts, strata, batch)
    return np.hstack([twfe_estimates(d, draws) for d in designs])


def refit_task(item: tuple[RefitSpec, Batch]) -> tuple[np.ndarray, int]:
    """Placebo estimates of one batch by refitting the estimator on each placebo assignment;
    returns the estimates (NaN where a fit is impossible) and the number of failed fits. Each
    refit is reported as progress (heard only where the batch runs in the caller's process)."""
    spec, batch = item
    out = np.full((batch.size, len(spec.columns)), np.nan)
    failed = 0
    for b, assignment in enumerate(_draw(spec.cohorts, spec.strata, batch)):
        est = make_inner(spec.estimator, spec.params, by=spec.by,
                         random_state=spec.random_state)
        try:
            est.fit(with_cohorts(spec.panel, assignment))
        except (ValueError, np.linalg.LinAlgError):
            failed += 1
        else:
            out[b] = _estimates(est.results(), spec.columns)
        report_progress(spec.label, batch.start + b + 1, spec.total)
    return out, failed


def _estimates(results: Sequence[EffectResult], columns: Sequence[Column]) -> np.ndarray:
    """The estimates of ``columns`` in a fit (NaN for a term the fit lacks)."""
    tables = {r.estimand: r.table.set_index("term")["estimate"] for r in results}
    return np.array([tables[e].get(t, np.nan) if e in tables else np.nan for e, t in columns],
                    dtype=float)


def placebo_estimand(estimand: str, kind: str) -> str:
    """The name of a placebo fit's ``ATT`` / ``ATT_by_<trait>``: ``ATT_fake_timing[_by_<trait>]``
    and ``ATT_placebo_outcome[_by_<trait>]`` are not the policy's ATT, so they do not share its
    rows (nor its disagreement flags) in a comparison table; ``timing`` keeps the names."""
    prefix = PLACEBO_ESTIMANDS.get(kind)
    return estimand if prefix is None else prefix + estimand.removeprefix("ATT")


def fake_timing_panel(panel: Panel, shift: int) -> Panel:
    """The pre-adoption sample with every cohort moved ``shift`` periods earlier.

    Rows of treated units from their real adoption on are dropped; each treated unit's placebo
    adoption is ``cohort - shift``; units left with no placebo pre-period (placebo adoption in or
    before the first period) are dropped.
    """
    g_row = panel.frame[COHORT].to_numpy()
    t = panel.frame[panel.time].to_numpy()
    pre = panel.frame.loc[(g_row == 0) | (t < g_row)].reset_index(drop=True)
    pre_panel = panel.replace(frame=pre, notes=(*panel.notes, "placebo: post-adoption rows of "
                                                 "treated units dropped"))
    g = unit_cohorts(pre_panel)
    fake = np.where(g > 0, g - int(shift), 0)
    early = (g > 0) & (fake <= int(pre_panel.periods[0]))
    if early.any():
        pre_panel = drop_units(pre_panel, early, f"placebo: units left without a pre-period by "
                                                 f"the {shift}-period shift dropped")
        fake = fake[~early]
    if not (fake > 0).any():
        raise ParamError(f"shift: {shift} periods earlier leaves no treated unit with a pre-period")
    return with_cohorts(pre_panel, fake, f"placebo: adoption moved {shift} periods earlier")


@dataclass(frozen=True, eq=False)
class PlaceboState:
    """The placebo draws of every term (``placebo_distribution_``: permutations x terms, in the
    order of ``columns``: (estimand, term) pairs)."""

    placebo_distribution: np.ndarray
    columns: tuple[tuple[str, str], ...]


@register("placebo")
class Placebo(Estimator):
    """Placebo tests and randomization inference for the ATT of ``estimator`` (default ``twfe``).

    ``kind="timing"``: the units' adoption periods are permuted ``n_permutations`` times
    (within ``strata`` when given; cohort sizes kept), the estimator is re-estimated on each
    placebo assignment, and the two-sided randomization p-value of the observed ATT is reported
    (Fisher 1935; Imbens & Rubin 2015, ch. 5; MacKinnon & Webb 2020) together with the placebo
    distribution (the ``placebo`` part). ``kind="outcome"`` does the same for
    ``placebo_outcome``, a variable the policy should not move. ``kind="fake_timing"`` keeps the
    pre-adoption rows only and moves every cohort ``shift`` periods earlier; the estimator's own
    inference then tests for an effect where there can be none (anticipation or pre-trends).
    Their results are named ``ATT_placebo_outcome`` and ``ATT_fake_timing`` (with ``by``, also
    ``..._by_<trait>``), as they are not the policy's ATT (:func:`placebo_estimand`).

    For ``twfe`` the permutations run on the Frisch-Waugh-Lovell fast path (:mod:`.fwl`;
    ``fast_path: false`` refits it instead, with identical numbers); other estimators are
    refitted per permutation. Permutations run in batches of 100 through
    :func:`bayescity.parallel.map_tasks` (progress reported per batch, and per refit when run
    in this process), batch i seeded by the i-th child of ``random_state``,
    so the same seed gives the same p-value on any executor. The reported row is the
    estimator's own (estimate, standard error, interval) with ``p_value`` replaced by the
    randomization p-value, as the notes say; ``estimator_params`` go to the estimator.
    """

    paradigm = "frequentist"
    params = {"n_permutations": P.Spec("int", "placebo assignments drawn (at least 19 for "
                                              "p-values below 0.05)", low=19),
              "strata": P.Spec("column", "permute adoption timing within these unit groups "
                                         "(a unit characteristic such as region or province)",
                               none=True, role="unit_column"),
              "estimator": P.ESTIMATOR, "estimator_params": P.ESTIMATOR_PARAMS,
              "kind": P.Spec("choice", "timing (permuted adoption), fake_timing (cohorts moved "
                                       "earlier on pre-adoption rows) or outcome (a placebo "
                                       "outcome)", choices=KINDS),
              "placebo_outcome": P.Spec("column", "the placebo outcome of kind: outcome",
                                        none=True, role="numeric_column"),
              "shift": P.Spec("int", "periods every cohort moves earlier (kind: fake_timing)",
                              low=1),
              "by": P.BY, "by_bins": P.BY_BINS,
              "fast_path": P.Spec("bool", "permute TWFE by Frisch-Waugh-Lovell on the "
                                          "demeaned design instead of refitting (same numbers)"),
              "random_state": P.RANDOM_STATE}
    smoke_params = {"n_permutations": 99}

    def __init__(self, n_permutations: int = 1000, strata: str | None = None,
                 estimator: str = "twfe", estimator_params: Mapping[str, Any] | None = None,
                 kind: str = "timing", placebo_outcome: str | None = None, shift: int = 2,
                 by: str | None = None, by_bins: str | int | None = None,
                 fast_path: bool = True, random_state: RandomState = None):
        self.n_permutations = n_permutations
        self.strata = strata
        self.estimator = estimator
        self.estimator_params = estimator_params
        self.kind = kind
        self.placebo_outcome = placebo_outcome
        self.shift = shift
        self.by = by
        self.by_bins = by_bins
        self.fast_path = fast_path
        self.random_state = random_state

    def _validate(self) -> None:
        check_inner(self.estimator, self.estimator_params)
        if (self.kind == "outcome") != (self.placebo_outcome is not None):
            raise ParamError("placebo_outcome: give it with kind: outcome (and only then)")
        if self.kind == "fake_timing" and self.estimator in BALANCED_ONLY:
            raise ParamError(f"estimator: {self.estimator!r} needs a balanced panel and "
                             "kind: fake_timing keeps pre-adoption rows only; use twfe, "
                             "event_study, sun_abraham or imputation")

    def _check_panel(self, panel: Panel) -> None:
        check_inner_panel(self.estimator, self.estimator_params, panel)

    # ------------------------------------------------------------------ fitting
    def _fit(self, panel: Panel) -> list[EffectResult]:
        panel = resolve_by(panel, self.by, self.by_bins)
        if self.kind == "fake_timing":
            return self._fake_timing(panel)
        if self.kind == "outcome":
            panel = panel.with_outcome(self.placebo_outcome)
        params = self._params(panel)
        observed = make_inner(self.estimator, params, by=self.by,
                              random_state=self.random_state).fit(panel).results()
        wanted = ("ATT", f"ATT_by_{self.by}") if self.by else ("ATT",)
        keep = [r for r in observed if r.estimand in wanted]
        columns = tuple((r.estimand, t) for r in keep for t in r.terms)
        draws, failed, t_obs, path = self._permute(panel, params, columns)
        out = []
        for r in keep:
            idx = [j for j, c in enumerate(columns) if c[0] == r.estimand]
            out.append(self._att(r, draws[:, idx], None if t_obs is None else t_obs[idx],
                                 failed, path))
        return Fitted(tuple(out), PlaceboState(readonly_array(draws), columns))

    def _params(self, panel: Panel) -> dict[str, Any]:
        """Estimator params; a placebo outcome is taken out of the covariates."""
        params = dict(self.estimator_params or {})
        covs = list(panel.covariates if params.get("covariates") is None else params["covariates"])
        if self.kind == "outcome" and self.placebo_outcome in covs:
            params["covariates"] = [c for c in covs if c != self.placebo_outcome]
        return params

    def _use_fwl(self) -> bool:
        return self.fast_path and self.estimator == "twfe"

    def _strata_codes(self, panel: Panel) -> np.ndarray | None:
        if self.strata is None:
            return None
        out = np.zeros(panel.n_units, dtype=np.int64)
        out[panel.unit_codes] = panel.codes(self.strata)[0]
        return out

    def _permute(self, panel: Panel, params: dict[str, Any], columns: tuple[Column, ...]):
        """Placebo estimates (B x columns), failed fits, the observed statistics and the path."""
        cohorts, strata = unit_cohorts(panel), self._strata_codes(panel)
        batches = plan_batches(self.n_permutations,
                               child_seeds(self.random_state, -(-self.n_permutations // 100)))
        if self._use_fwl():
            designs, order = self._fwl_designs(panel, params, cohorts, columns)
            t_obs = np.hstack([twfe_estimates(d, cohorts[None, :])[0] for d in designs])[order]
            parts = map_with_progress(fwl_task, [(designs, cohorts, strata, b) for b in batches],
                                      "placebo permutations (twfe, FWL)",
                                      [b.size for b in batches])
            return np.vstack(parts)[:, order], 0, t_obs, "twfe_fwl"
        label = f"placebo permutations ({self.estimator} refits)"
        spec = RefitSpec(panel, cohorts, strata, self.estimator, params, self.by, columns,
                         self.random_state, label, int(self.n_permutations))
        parts = map_with_progress(refit_task, [(spec, b) for b in batches], label,
                                  [b.size for b in batches])
        draws = np.vstack([p[0] for p in parts])
        return draws, int(sum(p[1] for p in parts)), None, "refit"

    def _fwl_designs(self, panel: Panel, params: dict[str, Any], cohorts: np.ndarray,
                     columns: tuple[Column, ...]) -> tuple[tuple[TWFEDesign, ...], list[int]]:
        """The TWFE designs (ATT; per level with ``by``) and the positions of ``columns`` among
        their estimates."""
        work, trends = with_trend_controls(panel, params.get("trend_covariates"))
        covs = covariates_of(work, params.get("covariates"), trends)
        designs = [with_cohort_sums(twfe_design(work, covs), cohorts)]
        fwl_columns: list[Column] = [("ATT", "overall")]
        if self.by:
            designs.append(twfe_design(work, covs, self.by))
            fwl_columns += [(f"ATT_by_{self.by}", str(v)) for v in panel.codes(self.by)[1]]
        return tuple(designs), [fwl_columns.index(c) for c in columns]

    def _att(self, result: EffectResult, draws: np.ndarray, t_obs: np.ndarray | None,
             failed: int, path: str) -> EffectResult:
        """The estimator's result with the randomization p-value of each term."""
        terms = result.terms
        observed = result.table["estimate"].to_numpy(dtype=float)
        p = randomization_pvalue(observed, draws)
        strata = f" within {self.strata}" if self.strata else ""
        what = (f"adoption timing ({self.placebo_outcome} as outcome)"
                if self.kind == "outcome" else "adoption timing")
        tests = tuple(TestResult(f"randomization inference: {len(draws)} permutations of "
                                 f"{what}{strata}" + ("" if term == "overall" else f" [{term}]"),
                                 float(obs), float(len(draws)), float(pv), "randomization",
                                 note="two-sided; (1 + #{|T_b| >= |T|}) / (1 + B)")
                      for term, obs, pv in zip(terms, observed, p))
        settings = {"placebo_kind": self.kind, "n_permutations": int(self.n_permutations),
                    "strata": self.strata, "estimator": self.estimator,
                    "permutation_path": path, "failed_permutations": failed,
                    "p_value_kind": "randomization"}
        if t_obs is not None:
            settings["fwl_observed"] = dict(zip(terms, map(float, t_obs)))
        distribution = Distribution("placebo", draws, observed, p, labels=terms)
        return relabel(result, self.method, placebo_estimand(result.estimand, self.kind),
                       settings=settings,
                       messages=warnings(*self._warning(failed)) + notes(self._note(result)),
                       parts=[distribution, Facts("check", CHECKS[self.kind])],
                       table=result.table.assign(p_value=p),
                       tests=(*result.tests, *tests))

    def _note(self, result: EffectResult) -> str:
        outcome = f" with {self.placebo_outcome} as the outcome" if self.kind == "outcome" else ""
        return (f"p_value is the randomization p-value over {self.n_permutations} permutations of "
                f"adoption timing (cohort sizes kept{', within ' + self.strata if self.strata else ''})"
                f"{outcome}; estimate, std_error and interval are {self.estimator}'s own "
                f"({result.interval_kind})")

    def _warning(self, failed: int) -> list[str]:
        if not failed:
            return []
        return [f"{failed} of {self.n_permutations} placebo assignments could not be estimated "
                "and are left out of the randomization p-value"]

    def _fake_timing(self, panel: Panel) -> list[EffectResult]:
        fake = fake_timing_panel(panel, int(self.shift))
        fitted = make_inner(self.estimator, self.estimator_params, by=self.by,
                            random_state=self.random_state).fit(fake).results()
        note = (f"fake-timing placebo: every cohort moved {self.shift} periods earlier on the "
                "pre-adoption rows; a true ATT of 0 is expected without anticipation")
        return [relabel(r, self.method, placebo_estimand(r.estimand, "fake_timing"), settings={
            "placebo_kind": "fake_timing", "shift": int(self.shift), "estimator": self.estimator,
            "n_units": fake.n_units}, messages=notes(note),
            parts=[Facts("check", CHECKS["fake_timing"])])
            for r in fitted if r.estimand == "ATT" or r.estimand.startswith("ATT_by_")]

