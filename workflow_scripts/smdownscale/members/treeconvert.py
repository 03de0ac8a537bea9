"""Converters: fitted scikit-learn forests and XGBoost boosters as :class:`TreeTable`s.

Each converter packs the library's trees into a table (:mod:`.treeinfer`) and checks it
against the values at the leaves the library itself reaches on (up to
:data:`~.treeinfer.CHECK_ROWS` of) the training rows, so a library version whose model
layout the converter does not match fails at fit time, never later with wrong numbers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import xgboost as xgb

from .treeinfer import CHECK_ROWS, TreeTable, TreeTableError, sklearn_split_condition


def from_sklearn(estimators: Sequence, rows: np.ndarray) -> TreeTable:
    """The average of fitted scikit-learn ``DecisionTreeRegressor``s (one output) as a table,
    checked against scikit-learn's own leaves on (up to :data:`CHECK_ROWS` of) the training
    ``rows`` (n, p)."""
    n = len(estimators)
    trees = [
        (
            est.tree_.children_left,
            est.tree_.children_right,
            est.tree_.feature,
            sklearn_split_condition(est.tree_.threshold),
            est.tree_.value[:, 0, 0] / n,
        )
        for est in estimators
    ]
    table = TreeTable.from_trees(trees, rows.shape[1])
    check = np.asarray(rows[:CHECK_ROWS], dtype=np.float32)
    leaf_sum = np.zeros(len(check), dtype=np.float64)
    for est, tree in zip(estimators, trees, strict=True):
        leaf_sum += tree[4][est.apply(check)]
    check_against(table, check, leaf_sum)
    return table


def _xgboost_trees(booster: Any) -> tuple[float, list[tuple[np.ndarray, ...]]]:
    """Base score and per-tree ``(left, right, feature, condition, value)`` of a booster."""
    learner = json.loads(booster.save_raw("json"))["learner"]
    objective = learner["objective"]["name"]
    if objective != "reg:squarederror":
        raise TreeTableError(f"only reg:squarederror boosters are supported, not {objective}")
    param = learner["learner_model_param"]
    if int(param.get("num_target", "1")) != 1 or int(param.get("num_class", "0")) != 0:
        raise TreeTableError("only single-output regression boosters are supported")
    # "[2.5E-1]" (XGBoost >= 3: a vector of intercepts) or "2.5E-1"
    base = float(np.ravel(json.loads(param["base_score"]))[0])
    trees = []
    for tree in learner["gradient_booster"]["model"]["trees"]:
        if any(int(s) != 0 for s in tree["split_type"]):
            raise TreeTableError("categorical splits are not supported")
        conditions = np.asarray(tree["split_conditions"], dtype=np.float32)
        trees.append(
            (
                np.asarray(tree["left_children"], dtype=np.int64),
                np.asarray(tree["right_children"], dtype=np.int64),
                np.asarray(tree["split_indices"], dtype=np.int64),
                conditions,
                conditions.astype(np.float64),
            )
        )
    return base, trees


def _xgboost_leaf_sum(
    booster: Any, base: float, trees: Sequence[tuple[np.ndarray, ...]], Z: np.ndarray
) -> np.ndarray:
    leaves = booster.predict(xgb.DMatrix(np.asarray(Z, dtype=np.float32)), pred_leaf=True)
    leaves = np.asarray(leaves, dtype=np.int64).reshape(len(Z), len(trees))
    out = np.full(len(Z), base, dtype=np.float64)
    for k, tree in enumerate(trees):
        out += tree[4][leaves[:, k]]
    return out


def from_xgboost(booster: Any, rows: np.ndarray) -> TreeTable:
    """A fitted XGBoost regression booster (numerical splits, one output) as a table,
    checked against XGBoost's own leaves on (up to :data:`CHECK_ROWS` of) the training
    ``rows`` (n, p).

    Read from the booster's JSON model: ``split_conditions`` are the float32 thresholds (and
    the leaf values), ``base_score`` is added (identity link: squared error only).
    """
    base, trees = _xgboost_trees(booster)
    table = TreeTable.from_trees(trees, rows.shape[1], base=base)
    check = rows[:CHECK_ROWS]
    check_against(table, check, _xgboost_leaf_sum(booster, base, trees, check))
    return table


def xgboost_leaf_sum(booster: Any, Z: np.ndarray) -> np.ndarray:
    """Float64 sum of the leaf values at the leaves XGBoost reports for rows ``Z``, plus the
    base score: XGBoost's prediction without its float32 rounding."""
    return _xgboost_leaf_sum(booster, *_xgboost_trees(booster), Z)


def check_against(
    table: TreeTable, Z: np.ndarray, reference: np.ndarray, tolerance: float = 1e-9
) -> float:
    """Largest ``|table - reference|`` on rows ``Z``; raises :class:`TreeTableError` above
    ``tolerance``. The converters pass the float64 sum of the values at the library's own
    leaves, so any row reaching another leaf shows, while the libraries' own float32
    summation (XGBoost) does not."""
    diff = float(np.max(np.abs(table.predict(Z) - np.asarray(reference, dtype=np.float64))))
    if not diff <= tolerance:
        raise TreeTableError(
            f"the packed trees differ by {diff:.3g} (> {tolerance:g}) from the values at the "
            "leaves the library itself reaches on the training rows: the converter does not "
            "match this library version; please report it"
        )
    return diff
