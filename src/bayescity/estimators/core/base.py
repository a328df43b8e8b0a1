"""The estimator contract: ``Estimator(**params).fit(panel) -> self``; results as EffectResults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from ...data.panel import Panel
from ...results.compare import compare
from ...results.effect import EffectResult
from .checks import check_design, check_role, resolve_by
from .params import ParamError, Spec, check_value, describe, did_you_mean, signature_defaults

__all__ = ["Estimator", "Fitted", "NotFittedError", "ParamError", "UnknownEstimandError",
           "did_you_mean", "resolve_by"]


class UnknownEstimandError(KeyError, ValueError):
    """Asked for an estimand the fitted estimator does not provide."""

    def __str__(self) -> str:
        return str(self.args[0])


class NotFittedError(RuntimeError):
    """Results were requested before ``fit``."""


@dataclass(frozen=True)
class Fitted:
    """What :meth:`Estimator._fit` returns: the results, in order, and the fitted state a
    caller may inspect (a frozen object whose fields are reachable as ``estimator.<field>_``,
    e.g. ``idata`` as ``idata_``), or None."""

    results: tuple[EffectResult, ...]
    state: Any = None


class Estimator:
    """Base class: ``Estimator(**params).fit(panel) -> self``; results as EffectResults.

    ``__init__`` stores parameters only. :meth:`fit` is one template for every estimator:
    :meth:`validate` the parameters (each declared once in :attr:`params`), :meth:`check_panel`
    (the design the estimator needs, then the data role of every column parameter, then the
    estimator's own checks), then :meth:`_fit`, which returns the results or a :class:`Fitted`
    with the fitted state. Nothing of a fit is kept on the estimator but ``results_`` (estimand
    -> result) and ``state_`` (the frozen state, whose fields read as ``<field>_``).
    """

    method: ClassVar[str] = ""
    paradigm: ClassVar[str] = "frequentist"
    #: Every constructor keyword, declared: kind, bounds, choices, help (the default is the
    #: signature's).
    params: ClassVar[Mapping[str, Spec]] = {}
    #: What the estimator needs of the treatment design (:data:`.checks.DESIGN_NEEDS`).
    design_needs: ClassVar[tuple[str, ...]] = ("treated_units", "untreated_periods")
    #: Whether ``cluster`` must be constant within units (influence functions per unit).
    cluster_within_units: ClassVar[bool] = False
    #: Parameter overrides of ``--smoke`` runs (fewer draws, replications, folds).
    smoke_params: ClassVar[Mapping[str, Any]] = {}
    #: Parameters that name files (resolved against a config's folder when relative).
    path_params: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ checks
    def validate(self) -> "Estimator":
        """Check the parameter values without data; raise :class:`ParamError` naming the
        parameter. The config loader calls this for every estimator before any fit, so a
        mistake costs no fitting time; :meth:`fit` calls it too."""
        for name in self.param_names():
            check_value(name, getattr(self, name), self.params[name])
        if "by_bins" in self.params and self.by_bins is not None and self.by is None:
            raise ParamError("by_bins: given without `by`")
        self._validate()
        return self

    def _validate(self) -> None:
        """Subclass hook: checks across parameters (combinations, windows that must hold a
        reference period ...)."""

    def check_panel(self, panel: Panel, design: bool = True) -> None:
        """Check that the parameters fit this panel before any estimator of a run is fitted:
        the treatment design (unless ``design`` is False: a run checks it once for all its
        estimators), the data role of every column parameter, then :meth:`_check_panel`.
        Raises :class:`ParamError`."""
        if design:
            check_design(panel, self.design_needs)
        for name, spec in self.params.items():
            if spec.role is not None:
                check_role(panel, name, getattr(self, name), spec, self)
        self._check_panel(panel)

    def _check_panel(self, panel: Panel) -> None:
        """Subclass hook: data checks of the estimator's own (e.g. a control group that needs
        never-treated units)."""

    # ------------------------------------------------------------------ fit
    def fit(self, panel: Panel) -> "Estimator":
        """Validate, check the panel, fit; return self (results in :meth:`results`)."""
        if not isinstance(panel, Panel):
            raise TypeError(f"{type(self).__name__}.fit expects a bayescity Panel (see "
                            f"load_panel), got {type(panel).__name__}")
        self.validate()
        self.check_panel(panel)
        out = self._fit(panel)
        fitted = out if isinstance(out, Fitted) else Fitted(tuple(out))
        self.__dict__["state_"] = fitted.state
        self.__dict__["results_"] = {r.estimand: r for r in fitted.results}
        self.__dict__["n_obs_"] = panel.n_obs
        return self

    def _fit(self, panel: Panel) -> "list[EffectResult] | Fitted":
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        # fitted state: ``est.idata_`` is ``est.state_.idata``
        if name.endswith("_") and not name.startswith("_"):
            state = self.__dict__.get("state_")
            if state is not None and hasattr(state, name[:-1]):
                return getattr(state, name[:-1])
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ------------------------------------------------------------------ results
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
        if "results_" not in self.__dict__:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(panel) first")
        return self.__dict__["results_"]

    # ------------------------------------------------------------------ parameters
    @classmethod
    def param_names(cls) -> list[str]:
        """The constructor keywords, in signature order."""
        return list(signature_defaults(cls))

    @classmethod
    def describe_params(cls) -> list[dict[str, str]]:
        """Name, kind, default, allowed values and help of every parameter."""
        return describe(cls)

    def get_params(self) -> dict[str, Any]:
        """The estimator's parameters as given (scikit-learn's ``get_params``)."""
        return {p: getattr(self, p) for p in self.param_names()}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def summary(self):
        """Every estimand of the fit in one table (:func:`bayescity.compare`; a notebook shows
        it formatted)."""
        return compare(self.results())

    def _repr_html_(self) -> str:
        if "results_" not in self.__dict__:
            return f"<p>{type(self).__name__} (not fitted)</p>"
        return f"<p><b>{self.method}</b> ({self.paradigm})</p>" + self.summary()._repr_html_()
