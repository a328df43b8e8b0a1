"""Machine-learning estimators of the staggered panel: ``dml`` and ``causal_forest``.

Per-city-year pseudo-outcomes -- by default the imputed effects of Borusyak, Jaravel & Spiess
(every untreated city-year in the first stage, clustered inference that counts it), or doubly
robust long differences with cross-fitted learners (``design: long_difference``) -- and the
heterogeneity questions asked of grf and econml: per-city CATE, best linear projection,
calibration test, drivers.
"""

from .causal_forest import CausalForest
from .dml import DML

__all__ = ["CausalForest", "DML"]
