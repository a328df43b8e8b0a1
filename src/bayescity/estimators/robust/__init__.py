"""Robustness analyses of a policy evaluation: placebo and randomization inference, PSM-DID,
alternative treatment codings, HonestDiD sensitivity, mechanisms and heterogeneity, and the
referees' designs: synthetic DID, synthetic control and pre-trend power.

Each wraps a base estimator (``estimator:``, ``twfe`` by default) and reports
:class:`~bayescity.results.EffectResult`\\ s in the canonical columns.
"""

from .codings import Codings
from .heterogeneity import Heterogeneity
from .honest import HonestDiD
from .mechanisms import Mechanisms
from .placebo import Placebo
from .pretrends_power import PretrendsPower
from .psm_did import PSMDID
from .synthetic_control import SyntheticControl
from .synthetic_did import SyntheticDiD

__all__ = ["Codings", "Heterogeneity", "HonestDiD", "Mechanisms", "PSMDID", "Placebo",
           "PretrendsPower", "SyntheticControl", "SyntheticDiD"]
