"""Random-forest member: scikit-learn ``RandomForestRegressor``, predicted from packed trees.

The model is Breiman's random forest as scikit-learn fits it (bootstrap samples, a random
subset of ``max_features`` features tried at each split, exact CART splits, trees averaged);
:meth:`predict_naive` is scikit-learn's own ``predict``. The fast path walks the very same
trees, packed once at fitting time (:mod:`.treeinfer`; checked there against the leaves
scikit-learn itself reaches on the training rows), on ``n_jobs`` threads; predictions agree
to ~1e-15 m3 m-3.

Choice of depth. Measured on this machine (AMD EPYC, 2 cores): 100 trees,
``max_features=0.5``, fitted on 20,000 synthetic coarse samples with 6 features, predicting
1 M spatially smooth rows, seconds on one thread; held-out RMSE relative to scikit-learn's
default forest (unlimited depth), mean of 2-3 seeds at 2,000 / 20,000 training samples:

=================================  =========  =======  ============  ================
forest (min_samples_leaf, depth)   nodes      sklearn  packed trees  held-out RMSE
=================================  =========  =======  ============  ================
1, unlimited (depth 38)            2,528,174    12.3       2.36       reference
1, 14                              1,044,220     8.2       1.14       -0.1 / -0.1 %
**1, 13 (default)**                  751,660     7.3       1.06       +0.1 / +0.1 %
2, 12                                399,956     6.6       0.97       +0.5 / +1.0 %
3, 12                                337,152     6.6       1.01       +1.5 / +1.2 %
=================================  =========  =======  ============  ================

On two cores the default forest predicts 1 M rows in ~0.45 s through :meth:`predict`
(standardisation included) against ~5.2 s for scikit-learn with ``n_jobs=2``
(``tests/benchmarks/bench_predict.py``). Also measured
and rejected, before the packed trees: XGBoost's predictor on the converted trees (1.75 s
for the default forest on two cores, in cache-sized tree groups), a vectorised numpy
traversal (three times slower than that), XGBoost's own forest mode (``num_parallel_tree``:
no faster than converted scikit-learn trees of the same depth, and not more accurate), and
treelite (slower than scikit-learn).

Hence the defaults: 100 trees, ``max_features=0.5``, ``min_samples_leaf=1``,
``max_depth=13`` (no accuracy cost: the nodes below hold one or two samples).
``max_depth=None`` is allowed and predicts ~2.3x slower.

Saved members (:meth:`to_bytes`, pickling) keep only what prediction needs: the packed trees
(24 bytes per node), the standardisation statistics and the metadata. The scikit-learn
forest is dropped (it is about three times larger), so :meth:`predict_naive` works on a
freshly fitted member only; on a loaded one it raises :class:`MemberError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from .base import MemberError
from .treeconvert import from_sklearn
from .treeinfer import PackedTreesMember


class RandomForestMember(PackedTreesMember):
    """Random forest (scikit-learn), predicted from its packed trees."""

    name = "rf"
    long_name = "random forest"
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
        table = from_sklearn(model.estimators_, Z)
        extra = {"n_nodes": table.n_nodes, "max_tree_depth": int(table.depths.max())}
        return model, extra, table.to_state()

    def _state(self) -> dict[str, Any]:
        # the packed trees in fast_state are all prediction needs; drop the scikit-learn trees
        return {**super()._state(), "model": None}

    def _predict_library(self, Z: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise MemberError(
                "predict_naive of member 'rf' needs the scikit-learn forest, which is not "
                "kept in saved members (only the packed trees are); use predict, "
                "or predict_naive on a freshly fitted member"
            )
        self.model.n_jobs = self.n_jobs
        return self.model.predict(Z)
