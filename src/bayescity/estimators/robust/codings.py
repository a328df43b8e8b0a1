"""How the ATT moves across alternative treatment codings (``method: codings``)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ...data.codings import Coding, apply_coding, parse_coding, unit_cohorts
from ...data.errors import PanelError
from ...data.panel import Panel
from ...progress import track
from ...results.effect import EffectResult
from ...results.parts import Facts, Table, notes
from ..core import params as P
from ..core.base import Estimator, ParamError, resolve_by
from ..core.seeds import RandomState, child_seeds
from ..registry import register
from .inner import check_inner, check_inner_panel, make_inner, relabel

#: Estimand of the sweep: one term per coding (``baseline`` first).
CODING_ESTIMAND = "ATT_coding"


def expand_codings(specs: Sequence[Mapping[str, Any]] | None, panel: Panel) -> list[Coding]:
    """The codings of a sweep: each spec, with ``recode_uncertain: {flag, years: [...]}``
    expanded to one coding per candidate year; None = leave each cohort out in turn."""
    if specs is None:
        return [Coding(drop_cohorts=(int(g),)) for g in panel.cohorts]
    out = []
    for spec in specs:
        recode = dict(spec).get("recode_uncertain")
        if isinstance(recode, Mapping) and "years" in recode:
            for year in recode["years"]:
                one = {**spec, "recode_uncertain": {"flag": recode["flag"], "year": year}}
                if spec.get("label"):
                    one["label"] = f"{spec['label']}_{year}"
                out.append(parse_coding(one))
        else:
            out.append(parse_coding(spec))
    return out


def coding_row(label: str, coding: Coding | None, panel: Panel, result: EffectResult) -> dict:
    """One line of the sweep table: the coding, its sample and the ATT under it."""
    row = result.row("overall")
    return {"coding": label, "description": "as given" if coding is None else coding.describe(),
            "n_units": panel.n_units, "n_treated_units": int((unit_cohorts(panel) > 0).sum()),
            **{k: float(row[k]) for k in ("estimate", "std_error", "lower", "upper", "p_value")}}


@register("codings")
class Codings(Estimator):
    """The ATT of ``estimator`` (default ``twfe``) under alternative treatment codings.

    ``codings`` lists codings of :mod:`bayescity.data.codings` (``drop_cohorts``,
    ``drop_units``, ``drop_flagged``, ``recode_uncertain`` and an optional ``label``);
    ``recode_uncertain: {flag: pilot_year_uncertain, years: [2011, 2012, 2013]}`` expands to one
    coding per candidate year. Default: leave each adoption cohort out in turn. Results:
    ``ATT`` (the panel as given, with ``by`` also ``ATT_by_<trait>``) and ``ATT_coding``, one
    term per coding (``baseline`` first) with the estimator's own inference;
    The ``codings`` part of ``ATT_coding`` is the sweep table (sample sizes and the change from
    the baseline). The same codings are available to every estimator through the ``coding:``
    block of the data section.
    """

    paradigm = "frequentist"

    params = {"codings": P.Spec("list", "alternative treatment codings (each as a data "
                                        "coding: block); null: the default sweep", none=True),
              "estimator": P.ESTIMATOR, "estimator_params": P.ESTIMATOR_PARAMS, "by": P.BY,
              "by_bins": P.BY_BINS, "random_state": P.RANDOM_STATE}

    def __init__(self, codings: Sequence[Mapping[str, Any]] | None = None,
                 estimator: str = "twfe", estimator_params: Mapping[str, Any] | None = None,
                 by: str | None = None, by_bins: str | int | None = None,
                 random_state: RandomState = None):
        self.codings = codings
        self.estimator = estimator
        self.estimator_params = estimator_params
        self.by = by
        self.by_bins = by_bins
        self.random_state = random_state

    def _validate(self) -> None:
        check_inner(self.estimator, self.estimator_params)
        if self.codings is not None:
            if isinstance(self.codings, Mapping) or not len(self.codings):
                raise ParamError("codings: give a non-empty list of codings")
            try:
                codings = expand_codings(self.codings, panel=None)  # type: ignore[arg-type]
            except (ValueError, TypeError, KeyError) as exc:
                raise ParamError(f"codings: {exc}".replace("codings: coding: ", "codings: "))
            names = [c.name() for c in codings]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes or "baseline" in names:
                raise ParamError(f"codings: labels must be unique and not 'baseline'; "
                                 f"repeated: {dupes or ['baseline']}")

    def _check_panel(self, panel: Panel) -> None:
        check_inner_panel(self.estimator, self.estimator_params, panel)
        for coding in expand_codings(self.codings, panel):
            try:
                apply_coding(panel, coding)
            except PanelError as exc:
                raise ParamError(f"codings: {coding.name()}: "
                                 + "; ".join(p.message for p in exc.problems)) from None

    def _fit(self, panel: Panel) -> list[EffectResult]:
        panel = resolve_by(panel, self.by, self.by_bins)
        seed = child_seeds(self.random_state, 1)[0]
        base = make_inner(self.estimator, self.estimator_params, by=self.by,
                          random_state=seed).fit(panel)
        rows = [coding_row("baseline", None, panel, base.effect("ATT"))]
        for coding in track(expand_codings(self.codings, panel), "alternative codings: refits"):
            coded = apply_coding(panel, coding)
            fit = make_inner(self.estimator, self.estimator_params, random_state=seed).fit(coded)
            rows.append(coding_row(coding.name(), coding, coded, fit.effect("ATT")))
        table = pd.DataFrame(rows)
        table["change"] = table["estimate"] - table.loc[0, "estimate"]
        out = [relabel(r, self.method) for r in base.results()
               if r.estimand == "ATT" or r.estimand == f"ATT_by_{self.by}"]
        out.append(self._sweep(table, base.effect("ATT")))
        return out

    def _sweep(self, table: pd.DataFrame, base: EffectResult) -> EffectResult:
        terms = table[["coding", "estimate", "std_error", "lower", "upper", "p_value"]]
        terms = terms.rename(columns={"coding": "term"}).assign(prob_positive=np.nan)
        note = (f"ATT of {self.estimator} under {len(table) - 1} alternative codings; "
                "'baseline' is the panel as given")
        return EffectResult(method=self.method, paradigm=self.paradigm, estimand=CODING_ESTIMAND,
                            table=terms, n_obs=base.n_obs, interval_prob=base.interval_prob,
                            interval_kind=base.interval_kind, n_clusters=base.n_clusters,
                            messages=notes(note),
                            parts=[Facts("settings", {"estimator": self.estimator}),
                                   Table("codings", table)])
