"""XGBoost member: gradient-boosted trees (``XGBRegressor``, histogram method, squared error).

:meth:`predict_naive` is ``XGBRegressor.predict``; the fast path is the same XGBoost predictor
called on float32 row blocks with ``nthread = n_jobs`` and, for large models, in cache-sized
groups of trees (:mod:`.treeinfer`). XGBoost's predictor was the fastest of the options
measured for these trees (300 trees of depth 6 on 1 M rows: 2.9 s single-threaded, 1.45 s
on two free cores; ``inplace_predict`` is no faster than a DMatrix; a vectorised numpy
traversal is several times slower; treelite was measured slower than scikit-learn), so the
gain over the naive call here is in bounded memory, not speed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xgboost import XGBRegressor

from .base import FittedMember
from .treeinfer import chunk_ranges, iteration_nodes, predict_chunked


class XGBoostMember(FittedMember):
    """Gradient-boosted regression trees (XGBoost)."""

    name = "xgb"
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
        nodes = iteration_nodes(model.get_booster())
        extra = {"n_nodes": int(sum(nodes))}
        return model, extra, {"iteration_nodes": nodes}

    def _prepare(self) -> None:
        self._ranges = chunk_ranges(self.fast_state["iteration_nodes"])

    def _predict_library(self, Z: np.ndarray) -> np.ndarray:
        self.model.set_params(n_jobs=self.n_jobs)
        return self.model.predict(Z)

    def _predict_fast(self, Z: np.ndarray) -> np.ndarray:
        booster = self.model.get_booster()
        booster.set_param({"nthread": self.n_jobs})
        return predict_chunked(booster, Z, self._ranges)
