"""Random-forest member: scikit-learn ``RandomForestRegressor``, predicted by XGBoost's predictor.

The model is Breiman's random forest as scikit-learn fits it (bootstrap samples, a random
subset of ``max_features`` features tried at each split, exact CART splits, trees averaged);
:meth:`predict_naive` is scikit-learn's own ``predict``. The fast path evaluates the very same
trees, converted once at fitting time (:mod:`.treeinfer`), with XGBoost's CPU predictor in
cache-sized groups of trees; predictions agree to ~1e-7 m3 m-3.

Choice of inference. Measured on this machine (AMD EPYC, 2 vCPUs often shared with other
jobs, so the single-thread figures are the reliable ones): 100 trees, ``max_features=0.5``,
fitted on 20,000 synthetic coarse samples with 6 features, predicting 1 M independent rows,
seconds on one thread; held-out RMSE relative to scikit-learn's default forest (unlimited
depth), mean of 2-3 seeds at 2,000 / 20,000 training samples:

=================================  =======  ===========  ===========  ================
forest (min_samples_leaf, depth)   sklearn  XGBoost,     XGBoost,     held-out RMSE
                                   predict  all trees    tree groups
=================================  =======  ===========  ===========  ================
1, unlimited (depth ~29)           14.2     29-32        11.0         reference
1, 14                               9.9      7.0-8.4      4.8         -0.1 / -0.1 %
**1, 13 (default)**                 9.1      --           3.9         +0.1 / +0.1 %
2, 12                               8.2      --           3.3         +0.5 / +1.0 %
3, 12                               8.1      3.8-4.1      3.4         +1.5 / +1.2 %
=================================  =======  ===========  ===========  ================

With both cores free, the default forest predicts 1 M rows in ~2.1 s (XGBoost, 2 threads)
against ~4.7 s for scikit-learn with ``n_jobs=2``. Also measured and rejected: a vectorised
numpy traversal of the stacked tree arrays (11.1 s for the depth-12 forest, three times
XGBoost's predictor); XGBoost's own forest mode (``num_parallel_tree``, binned splits) is no
faster than converted scikit-learn trees of the same depth (depth 12: 4.5 s, depth 14:
7.0 s) and not more accurate; treelite (GTIL, tl2cgen) was measured slower than
scikit-learn earlier and is not used.

Hence the defaults: 100 trees, ``max_features=0.5``, ``min_samples_leaf=1``,
``max_depth=13`` (no accuracy cost: the nodes below hold one or two samples), predicted in
tree groups through XGBoost. ``max_depth=None`` is allowed but predicts ~2.8x slower.

Saved members (:meth:`to_bytes`, pickling) keep only what prediction needs: the converted
XGBoost booster, the standardisation statistics and the metadata. The scikit-learn forest is
dropped (it was two thirds of the file: 20,000 samples, default forest, 94 MB -> 30 MB), so
:meth:`predict_naive` works on a freshly fitted member only; on a loaded one it raises
:class:`MemberError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xgboost as xgb
from sklearn.ensemble import RandomForestRegressor

from .base import FittedMember, MemberError
from .treeinfer import chunk_ranges, predict_chunked, sklearn_forest_to_booster


class RandomForestMember(FittedMember):
    """Random forest (scikit-learn) with fast inference through XGBoost's predictor."""

    name = "rf"
    defaults = {
        "n_estimators": 100,
        "max_depth": 13,
        "min_samples_leaf": 1,
        "min_samples_split": 2,
        "max_features": 0.5,
    }
    stochastic = True

    @classmethod
    def _fit_model(
        cls, Z: np.ndarray, t: np.ndarray, params: dict[str, Any], seed: int, n_jobs: int
    ) -> tuple[Any, dict[str, Any], Any]:
        model = RandomForestRegressor(
            **params, bootstrap=True, random_state=seed, n_jobs=n_jobs
        ).fit(Z, t)
        booster = sklearn_forest_to_booster(model.estimators_, Z.shape[1])
        nodes = [int(e.tree_.node_count) for e in model.estimators_]
        depth = [int(e.tree_.max_depth) for e in model.estimators_]
        extra = {"n_nodes": int(sum(nodes)), "max_tree_depth": int(max(depth))}
        fast_state = {"booster": bytes(booster.save_raw("ubj")), "iteration_nodes": nodes}
        return model, extra, fast_state

    def _prepare(self) -> None:
        self._booster = xgb.Booster()
        self._booster.load_model(bytearray(self.fast_state["booster"]))
        self._ranges = chunk_ranges(self.fast_state["iteration_nodes"])

    def _state(self) -> dict[str, Any]:
        # the booster in fast_state is all prediction needs; drop the scikit-learn trees
        return {**super()._state(), "model": None}

    def _predict_library(self, Z: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise MemberError(
                "predict_naive of member 'rf' needs the scikit-learn forest, which is not "
                "kept in saved members (only the converted XGBoost booster is); use predict, "
                "or predict_naive on a freshly fitted member"
            )
        self.model.n_jobs = self.n_jobs
        return self.model.predict(Z)

    def _predict_fast(self, Z: np.ndarray) -> np.ndarray:
        self._booster.set_param({"nthread": self.n_jobs})
        return predict_chunked(self._booster, Z, self._ranges)
