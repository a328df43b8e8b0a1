"""Checks shared by estimators of every paradigm, in the config's words.

Value checks of single parameters come from their declarations (:mod:`.params`);
:func:`check_window` adds the shape of an event-time window (leads only, around zero) for an
estimator's ``_validate``. Checks that need the data run before any estimator of a run is
fitted: :func:`check_design` (what the treatment design must give), :func:`check_role` (a
column parameter against its declared role: :func:`check_numeric_columns`,
:func:`check_unit_constant`, :func:`check_traits`, :func:`resolve_by`). Each raises
:class:`~bayescity.estimators.core.params.ParamError` naming the parameter.
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from ...data.panel import Panel
from ...data.validate import constant_within_unit, numeric_problems
from .params import ParamError, Spec, did_you_mean, is_int
from ...data.traits import bin_trait, n_bins


def check_window(name: str, value: Any, *, allow_none: bool = True, leads_only: bool = False,
                 around_zero: bool = False) -> None:
    """A pair of integer event times ``[lo, hi]`` with ``lo <= hi``.

    ``leads_only``: ``hi < 0`` (pre-treatment event times); ``around_zero``: ``lo < 0 <= hi``.
    """
    if value is None:
        if allow_none:
            return
        raise ParamError(f"{name}: give two event times [first, last]")
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2 \
            or not all(is_int(v) for v in value):
        raise ParamError(f"{name}: {value!r} is not a pair of integer event times [first, last]")
    lo, hi = int(value[0]), int(value[1])
    if lo > hi:
        raise ParamError(f"{name}: [{lo}, {hi}] runs backwards; give [first, last]")
    if leads_only and hi >= 0:
        raise ParamError(f"{name}: [{lo}, {hi}] must hold leads only (last event time < 0)")
    if around_zero and not lo < 0 <= hi:
        raise ParamError(f"{name}: [{lo}, {hi}] must contain leads and lags (first < 0 <= last)")


# ---------------------------------------------------------------------------- data checks
def check_columns_exist(panel: Panel, name: str, columns: Sequence[str]) -> None:
    have = [str(c) for c in panel.frame.columns]
    missing = [c for c in columns if c not in have]
    if missing:
        hint = did_you_mean(missing[0], have)
        raise ParamError(f"{name}: column {missing[0]!r} is not in the data{hint}")


def check_numeric_columns(panel: Panel, name: str, columns: Sequence[str]) -> None:
    """Columns present, numeric, finite and without missing values."""
    check_columns_exist(panel, name, columns)
    for c in columns:
        if c in panel.covariates or c == panel.outcome:
            continue
        problems = numeric_problems(panel.frame, c, allow_missing=False, role=name)
        if problems:
            raise ParamError(f"{name}: column {c!r}: {problems[0].message}")


def check_unit_constant(panel: Panel, name: str, columns: Sequence[str]) -> None:
    """Columns present and constant within units (a cluster, a trait, a baseline value)."""
    check_columns_exist(panel, name, columns)
    for c in columns:
        if constant_within_unit(panel.frame, panel.unit, c, name):
            first = _first_varying_unit(panel.frame, panel.unit, c)
            raise ParamError(f"{name}: column {c!r} varies within units (e.g. unit {first!r}); "
                             "it must be constant within units")


def _first_varying_unit(frame: pd.DataFrame, unit: str, column: str) -> Any:
    spread = frame.groupby(unit)[column].nunique(dropna=False)
    first = spread.index[spread > 1][0]
    return first.item() if hasattr(first, "item") else first


#: What an estimator may need of the treatment design, checked by :func:`check_design`.
DESIGN_NEEDS = ("treated_units", "untreated_periods")


def check_design(panel: Panel, needs: Sequence[str]) -> None:
    """Raise :class:`ParamError` (one sentence, in the data's words) unless the panel's
    treatment design gives what ``needs`` names: ``treated_units`` (some unit is treated) and
    ``untreated_periods`` (some treated unit has an untreated period, so the design is not a
    group indicator such as ``ever_treated``)."""
    unknown = [n for n in needs if n not in DESIGN_NEEDS]
    if unknown:
        raise ValueError(f"unknown design needs {unknown}")
    if "treated_units" in needs or "untreated_periods" in needs:
        require_untreated_periods(panel)


def require_untreated_periods(panel: Panel) -> None:
    """Refuse a panel whose treated units are all treated in every period they are observed.

    Such units have no untreated period: unit fixed effects absorb their treatment and
    staggered estimators drop them, so nothing is left to estimate. Usually the timing column
    is a group dummy (``ever_treated``) rather than the treatment timing; the loader's warning
    says so and is repeated here.
    """
    treated = panel.treated_units
    if len(treated) == 0:
        raise ParamError("data: no treated units (every unit's cohort is 0); check `cohort:` or "
                         "`treatment:`")
    if len(panel.always_treated_units()) < len(treated):
        return
    reason = panel.warnings[0] if panel.warnings else (
        "they have no untreated period to compare with; give the first treated period as "
        "`cohort:` or a 0/1 `treatment:` column that turns 1 in the adoption period")
    raise ParamError(f"data: all {len(treated)} treated units are treated in every period they "
                     f"are observed: {reason}")


def resolve_by(panel: Panel, by: str | None, by_bins: str | int | None = None) -> Panel:
    """The panel to fit ``by=<trait>`` on: ``by`` must be a trait of the panel; a numeric trait
    is binned with ``by_bins`` (see :func:`bayescity.data.traits.bin_trait`) and refused without
    it. Raises :class:`ParamError` in the config's words. Returns ``panel`` unchanged when
    ``by`` is None or categorical."""
    if by is None:
        if by_bins is not None:
            raise ParamError("by_bins: given without `by`")
        return panel
    if by not in panel.traits:
        raise ParamError(f"by: {by!r} is not a trait of the panel{did_you_mean(by, panel.traits)}; "
                         f"traits: {list(panel.traits)} (list it under data: traits)")
    kind = panel.trait_kind(by)
    if kind == "categorical":
        if by_bins is not None:
            raise ParamError(f"by_bins: trait {by!r} is categorical; by_bins is for numeric traits")
        return panel
    if by_bins is None:
        n = panel.unit_table()[by].nunique()
        raise ParamError(f"by: trait {by!r} is numeric ({n} distinct unit values); set "
                         "`by_bins: quartiles` (or terciles, median, an integer) to estimate "
                         "the effect per quantile bin, or use a categorical trait")
    try:
        n_bins(by_bins)
    except ValueError as exc:
        raise ParamError(str(exc)) from None
    return bin_trait(panel, by, by_bins)


def check_role(panel: Panel, name: str, value: Any, spec: Spec, estimator: Any) -> None:
    """Check a column parameter against the panel by its declared role
    (:data:`~bayescity.estimators.core.params.ROLES`); raise :class:`ParamError` naming the
    parameter and the column."""
    if value is None or (not isinstance(value, str) and not value):
        if spec.role == "by":
            resolve_by(panel, None, getattr(estimator, "by_bins", None))
        if spec.role == "cluster" and estimator.cluster_within_units and panel.cluster:
            check_unit_constant(panel, "data.cluster (the panel's cluster)", [panel.cluster])
        return
    names = [value] if isinstance(value, str) else list(value)
    role = spec.role
    if role in ("covariates", "numeric_column", "numeric_columns"):
        check_numeric_columns(panel, name, names)
    elif role in ("trend_covariates", "unit_column"):
        check_unit_constant(panel, name, names)
    elif role == "cluster":
        check = check_unit_constant if estimator.cluster_within_units else check_columns_exist
        check(panel, name, names)
    elif role == "traits":
        check_traits(panel, name, names)
    elif role == "by":
        bins = getattr(estimator, "by_bins", None)
        if len(names) == 1:
            resolve_by(panel, names[0], bins)
        else:
            for trait in names:
                numeric = trait in panel.traits and panel.trait_kind(trait) == "numeric"
                resolve_by(panel, trait, bins if numeric else None)


def check_traits(panel: Panel, name: str, traits: Sequence[str]) -> None:
    """Traits of the panel (numeric ones numeric): effect modifiers and the like."""
    unknown = [t for t in traits if t not in panel.traits]
    if unknown:
        hint = did_you_mean(unknown[0], panel.traits)
        raise ParamError(f"{name}: {unknown[0]!r} is not a trait of the panel{hint}; traits: "
                         f"{list(panel.traits)} (list it under data: traits)")
