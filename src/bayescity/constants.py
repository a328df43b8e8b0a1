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
)

#: Paradigms a result can belong to.
PARADIGMS: tuple[str, ...] = ("frequentist", "bayesian", "ml")
