"""What every estimator paradigm shares.

``freq``, ``bayes``, ``ml`` and ``robust`` import from here and never from each other (an
import-linter independence contract holds it): the estimator contract and its parameter
checks (:mod:`.base`, :mod:`.checks`), seeds (:mod:`.seeds`), fixed-effect absorption and
regressions (:mod:`.fe_ols`, :mod:`.fixest`; exact direct solves for imputed outcomes in
:mod:`.fe_exact`), wild cluster bootstrap inference
(:mod:`.inference`), covariates and baseline-trait trend controls (:mod:`.controls`,
:mod:`.covariates`), the cohort x period cells of staggered designs with their doubly robust
scores (:mod:`.cs_gt`, :mod:`.cs_drdid`), cohort sizes (:mod:`.cohorts`), treatment x level
dummies (:mod:`.levels`) and parallel loops with progress (:mod:`.tasks`).
"""
