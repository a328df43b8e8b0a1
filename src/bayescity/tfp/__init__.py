"""Total factor productivity from city inputs: capital stock, growth accounting, DEA-Malmquist.

Everything here works on plain DataFrames (unit, time and named columns) and returns DataFrames;
SciPy (HiGHS) and pyfixest are imported only when a function needs them.
"""

from .accounting import GrowthAccounting, estimate_capital_elasticity, solow_residual
from .capital import DEPRECIATION, CapitalStock, deflate, perpetual_inventory
from .dea import efficiency
from .derive import derive_columns, load_derived_panel, tfp_summary
from .lp import TFPParamError
from .malmquist import INDEX_COLUMNS, MalmquistResult, malmquist

__all__ = ["DEPRECIATION", "INDEX_COLUMNS", "CapitalStock", "GrowthAccounting", "MalmquistResult",
           "TFPParamError", "deflate", "derive_columns", "efficiency",
           "estimate_capital_elasticity", "load_derived_panel", "malmquist", "perpetual_inventory",
           "solow_residual", "tfp_summary"]
