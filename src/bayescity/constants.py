"""Package-wide constants shared by every paradigm."""

#: The probability mass of every interval bayescity reports unless a caller asks otherwise.
INTERVAL_PROB: float = 0.95

#: The canonical columns of :meth:`bayescity.results.EffectResult.summary`.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "method",
    "paradigm",
    "estimand",
    "term",
    "estimate",
    "std_error",
    "lower",
    "upper",
    "interval_prob",
    "interval_kind",
    "p_value",
    "prob_positive",
    "n_obs",
    "n_treated",
)

#: Terms resting on fewer treated units than this are flagged in tables, tests and the CLI.
MIN_TREATED_UNITS: int = 2

#: Paradigms a result can belong to.
PARADIGMS: tuple[str, ...] = ("frequentist", "bayesian", "ml")
