"""Robustness analyses of a policy evaluation: placebo and randomization inference, PSM-DID,
alternative treatment codings, HonestDiD sensitivity, mechanisms and heterogeneity.

Each wraps a base estimator (``estimator:``, ``twfe`` by default) and reports
:class:`~bayescity.results.EffectResult`\\ s in the canonical columns.
"""

from .placebo import Placebo

__all__ = ["Placebo"]
