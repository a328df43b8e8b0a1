"""CATE models of the unit scores: a linear projection (``dml``) or an honest generalized random
forest (``causal_forest``), their held-out predictions over the grouped folds and their
explanations (importance, SHAP values, a shallow interpretable tree).

The forest is econml's :class:`econml.grf.RegressionForest` (Athey, Tibshirani & Wager 2019,
"Generalized random forests", Annals of Statistics 47(2)) fitted on one pseudo-outcome per city:
its mean imputed effect over its post years (the imputation design), or its doubly robust score
(the long-difference design: the DR-learner of Kennedy 2023, Electronic Journal of Statistics
17(2), in its ATT form). Because a city is one sample, its honest subsampling and its
bootstrap-of-little-bags variance treat cities, not city-years, as the independent units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .scores import ScoreRows, project


@dataclass(frozen=True)
class Modifiers:
    """Encoded effect modifiers: numeric traits as they are, categorical ones as indicators of
    every level but the first (``trait=level``); ``trait_of`` names each column's trait."""

    matrix: np.ndarray
    columns: list[str]
    trait_of: list[str]
    reference: dict[str, str]

    @property
    def traits(self) -> list[str]:
        return list(dict.fromkeys(self.trait_of))

    def group_sum(self, values: np.ndarray) -> np.ndarray:
        """Column values summed within each trait: (n, p) -> (n, n_traits)."""
        owner = np.array(self.trait_of)
        return np.column_stack([values[:, owner == t].sum(axis=1) for t in self.traits])


def encode_modifiers(units: pd.DataFrame, traits: list[str], kinds: dict[str, str]) -> Modifiers:
    """:class:`Modifiers` of the unit table ``units`` (one row per unit)."""
    blocks, columns, owner, reference = [], [], [], {}
    for trait in traits:
        if kinds[trait] == "numeric":
            blocks.append(units[trait].to_numpy(dtype=float)[:, None])
            columns.append(trait)
            owner.append(trait)
            continue
        values = units[trait].astype(str).to_numpy()
        levels = sorted(pd.unique(values))
        reference[trait] = levels[0]
        for level in levels[1:]:
            blocks.append((values == level).astype(float)[:, None])
            columns.append(f"{trait}={level}")
            owner.append(trait)
    matrix = np.hstack(blocks) if blocks else np.zeros((len(units), 0))
    return Modifiers(matrix=matrix, columns=columns, trait_of=owner, reference=reference)


class LinearCate:
    """The linear CATE model ``tau(x) = b0 + x'b``: the doubly robust projection of the score
    rows on ``(1, x)`` (:func:`~.scores.project`)."""

    kind = "linear"

    def fit(self, rows: ScoreRows, x: np.ndarray) -> "LinearCate":
        self.projection_ = project(rows, np.column_stack([np.ones(len(x)), x]))
        self.coef_ = self.projection_.coef
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.coef_[0] + x @ self.coef_[1:]

    def importance(self) -> np.ndarray | None:
        return None

    def shap_values(self, x: np.ndarray) -> np.ndarray:
        """Exact SHAP values of a linear model with independent features (Lundberg & Lee 2017):
        ``b_j (x_j - mean x_j)`` over the explained units."""
        return (x - x.mean(axis=0)) * self.coef_[1:]


class ForestCate:
    """An honest regression forest of the units' pseudo-outcomes (econml's GRF port), weighted
    by each unit's number of treated cells."""

    kind = "forest"

    def __init__(self, n_trees: int, min_samples_leaf: int, max_samples: float, seed: int,
                 n_jobs: int = 1):
        self.params = dict(n_estimators=n_trees, min_samples_leaf=min_samples_leaf,
                           max_samples=max_samples, honest=True, inference=True,
                           subforest_size=4, random_state=seed, n_jobs=n_jobs)

    def fit(self, rows: ScoreRows, x: np.ndarray) -> "ForestCate":
        from econml.grf import RegressionForest

        score, weight = rows.unit_scores()
        on = weight > 0
        self.forest_ = RegressionForest(**self.params).fit(x[on], score[on],
                                                            sample_weight=weight[on])
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forest_.predict(x).reshape(-1)

    def stderr(self, x: np.ndarray) -> np.ndarray:
        return self.forest_.prediction_stderr(x).reshape(-1)

    def out_of_bag(self, rows: ScoreRows, x: np.ndarray) -> np.ndarray:
        """Every unit's prediction from trees that did not see it: out-of-bag for the units the
        forest was fitted on (as grf's predictions without new data), plain for the others."""
        pred = self.predict(x)
        on = rows.unit_weight() > 0
        pred[on] = self.forest_.oob_predict(x[on]).reshape(-1)
        return pred

    def importance(self) -> np.ndarray:
        """econml's heterogeneity importance (grf's ``variable_importance``: split counts
        weighted by the heterogeneity they create, depth-discounted)."""
        return np.asarray(self.forest_.feature_importances_, dtype=float)

    def shap_values(self, x: np.ndarray) -> np.ndarray:
        """shap's tree explainer on the fitted forest (path-dependent, exact for trees)."""
        import shap

        return np.asarray(shap.TreeExplainer(self.forest_).shap_values(x, check_additivity=False))


def make_cate_model(kind: str, seed: int, n_trees: int = 2000, min_samples_leaf: int = 5,
                    max_samples: float = 0.45, n_jobs: int = 1):
    if kind == "linear":
        return LinearCate()
    return ForestCate(n_trees, min_samples_leaf, max_samples, seed, n_jobs)


def heldout_predictions(factory, rows: ScoreRows, x: np.ndarray, folds: np.ndarray,
                        n_folds: int) -> tuple[np.ndarray, list[tuple[np.ndarray, object]]]:
    """Predictions for every unit by a model fitted on the other folds' units, and the fold
    models with the mask of the units each one predicts (cross-fitting of the CATE model,
    grouped as the nuisances)."""
    pred = np.full(len(x), np.nan)
    models = []
    for f in range(n_folds):
        held = folds == f
        train = rows.subset(~held)
        if not held.any() or train.unit_weight().sum() < 2:
            continue
        model = factory(f).fit(train, x)
        pred[held] = model.predict(x[held])
        models.append((held, model))
    return pred, models


class _CateAdapter:
    """What econml's interpreters call on a CATE estimator."""

    def __init__(self, model):
        self.model = model

    def const_marginal_effect(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(x).reshape(-1, 1)


def cate_tree_text(model, x: np.ndarray, columns: list[str], max_depth: int, seed: int) -> str:
    """econml's :class:`SingleTreeCateInterpreter` (a depth-``max_depth`` tree of the CATE
    predictions) rendered as text: splits, and the mean CATE and number of cities per leaf."""
    from econml.cate_interpreter import SingleTreeCateInterpreter
    from sklearn.tree import export_text

    min_leaf = max(2, len(x) // 20)
    interp = SingleTreeCateInterpreter(max_depth=max_depth, min_samples_leaf=min_leaf,
                                       random_state=seed).interpret(_CateAdapter(model), x)
    body = export_text(interp.tree_model_, feature_names=list(columns), decimals=3)
    leaves = interp.tree_model_.tree_.children_left < 0
    sizes = interp.tree_model_.tree_.n_node_samples[leaves]
    head = (f"SingleTreeCateInterpreter(max_depth={max_depth}) of the {model.kind} CATE model "
            f"over {len(x)} treated cities; leaf values are mean CATE (cities per leaf: "
            f"{', '.join(map(str, sizes))})")
    return head + "\n" + body
