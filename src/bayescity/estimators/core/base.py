"""The estimator contract: ``Estimator(**params).fit(panel) -> self``; results as EffectResults."""

from __future__ import annotations

import difflib
import inspect
from typing import Any, ClassVar, Mapping, Sequence

from ...data.panel import Panel
from ...results.effect import EffectResult


class UnknownEstimandError(KeyError, ValueError):
    """Asked for an estimand the fitted estimator does not provide."""

    def __str__(self) -> str:
        return str(self.args[0])


class NotFittedError(RuntimeError):
    """Results were requested before ``fit``."""


class ParamError(ValueError):
    """A parameter value the estimator cannot use, found before any fit.

    The message names the parameter in the config's words (``control_group: ...``); the config
    loader prefixes the estimator id and exits 2.
    """


def did_you_mean(value: Any, choices: Sequence[Any]) -> str:
    """`` (did you mean 'x'?)`` for a near miss among ``choices``, else ``""``."""
    by_lower = {str(c).lower(): c for c in choices}
    near = difflib.get_close_matches(str(value).lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {str(by_lower[near[0]])!r}?)" if near else ""


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """Raise :class:`ParamError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ParamError(f"{name}: {value!r} is not one of {list(choices)}"
                         f"{did_you_mean(value, choices)}")


def resolve_by(panel: Panel, by: str | None, by_bins: str | int | None = None) -> Panel:
    """The panel to fit ``by=<trait>`` on: ``by`` must be a trait of the panel; a numeric trait
    is binned with ``by_bins`` (see :func:`bayescity.data.traits.bin_trait`) and refused without
    it. Raises :class:`ParamError` in the config's words. Returns ``panel`` unchanged when
    ``by`` is None or categorical."""
    from ...data.traits import bin_trait, n_bins

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


class Estimator:
    """Base class. ``__init__`` stores parameters only; ``fit`` sets ``results_`` and returns self.

    Subclasses set ``method`` (the registry name) and ``paradigm`` and implement :meth:`_fit`
    returning the list of EffectResults; ``results_`` maps estimand name to result.
    """

    method: ClassVar[str] = ""
    paradigm: ClassVar[str] = "frequentist"
    #: Allowed values of string parameters, checked by :meth:`validate` (``None`` always allowed).
    param_choices: ClassVar[Mapping[str, Sequence[Any]]] = {}

    def validate(self) -> "Estimator":
        """Check the parameter values without data; raise :class:`ParamError` naming the
        parameter. The config loader calls this for every estimator before any fit, so a
        mistake costs no fitting time; :meth:`fit` calls it too."""
        for name, choices in self.param_choices.items():
            value = getattr(self, name, None)
            if value is not None:
                check_choice(name, value, choices)
        self._validate()
        return self

    def _validate(self) -> None:
        """Subclass hook: value checks beyond :attr:`param_choices` (ranges, combinations)."""

    def check_panel(self, panel: Panel) -> None:
        """Check that the parameters fit this panel (column roles, trait kinds, enough units)
        before any estimator of a run is fitted; raise :class:`ParamError`. Default: nothing."""

    def fit(self, panel: Panel) -> "Estimator":
        if not isinstance(panel, Panel):
            raise TypeError(f"{type(self).__name__}.fit expects a bayescity Panel (see load_panel), "
                            f"got {type(panel).__name__}")
        self.validate()
        self.results_ = {r.estimand: r for r in self._fit(panel)}
        self.n_obs_ = panel.n_obs
        return self

    def _fit(self, panel: Panel) -> list[EffectResult]:
        raise NotImplementedError

    def results(self) -> list[EffectResult]:
        """Every estimand this fit produced, in order."""
        return list(self._fitted().values())

    def effect(self, estimand: str = "ATT") -> EffectResult:
        """The result of one estimand (``ATT``, ``ATT_event``, ``ATT_by_<trait>`` ...)."""
        fitted = self._fitted()
        if estimand not in fitted:
            raise UnknownEstimandError(f"{self.method} does not estimate {estimand!r}; "
                                       f"available: {', '.join(fitted)}")
        return fitted[estimand]

    def _fitted(self) -> dict[str, EffectResult]:
        if not hasattr(self, "results_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(panel) first")
        return self.results_

    @classmethod
    def param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self.param_names()}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"
