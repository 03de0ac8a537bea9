"""XGBoost member: gradient-boosted trees (``XGBRegressor``, histogram method, squared error).

:meth:`predict_naive` is ``XGBRegressor.predict``. The fast path walks the same trees,
packed at fitting time from the booster's JSON model (:mod:`.treeinfer`; checked there
against the leaves XGBoost itself reaches on the training rows), on ``n_jobs`` threads: 300
trees of depth 6 on 1 M rows take 0.56 s against 1.5 s for XGBoost's own predictor on two
cores (``tests/benchmarks/bench_predict.py``; ``inplace_predict`` is no faster than a
DMatrix; treelite was measured slower than scikit-learn). The packed trees sum in float64,
XGBoost in float32: the two differ by up to ~2e-6 m3 m-3 (1000 trees, wet soils).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xgboost import XGBRegressor

from .treeconvert import from_xgboost
from .treeinfer import PackedTreesMember


class XGBoostMember(PackedTreesMember):
    """Gradient-boosted regression trees (XGBoost)."""

    name = "xgb"
    long_name = "XGBoost gradient-boosted trees"
    defaults = {
        "n_estimators": 300,
        "max_depth": 6,
        "learning_rate": 0.05,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "min_child_weight": 1.0,
        "reg_lambda": 1.0,
        "reg_alpha": 0.0,
        "gamma": 0.0,
    }
    stochastic = True

    @classmethod
    def _fit_model(
        cls, Z: np.ndarray, t: np.ndarray, params: dict[str, Any], seed: int, n_jobs: int
    ) -> tuple[Any, dict[str, Any], Any]:
        model = XGBRegressor(
            **params,
            objective="reg:squarederror",
            tree_method="hist",
            random_state=seed,
            n_jobs=n_jobs,
        ).fit(Z, t)
        table = from_xgboost(model.get_booster(), Z)
        return model, {"n_nodes": table.n_nodes}, table.to_state()

    def _predict_library(self, Z: np.ndarray) -> np.ndarray:
        self.model.set_params(n_jobs=self.n_jobs)
        return self.model.predict(Z)
