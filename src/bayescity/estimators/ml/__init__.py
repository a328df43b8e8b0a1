"""Machine-learning estimators of the staggered panel: ``dml`` and ``causal_forest``.

Double machine learning on the long-difference cells of Callaway & Sant'Anna (cross-fitted over
folds grouped by city, doubly robust, clustered inference) and the heterogeneity questions
asked of grf and econml: per-city CATE, best linear projection, calibration test, drivers.
"""

from .causal_forest import CausalForest
from .dml import DML

__all__ = ["CausalForest", "DML"]
