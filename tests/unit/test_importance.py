"""Permutation importance (smdownscale.importance; issue 16, item 3)."""

from __future__ import annotations

import numpy as np
import pytest

from smdownscale.importance import permutation_importance
from smdownscale.members import fit_member


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 1500
    X = rng.standard_normal((n, 3))  # strong, weak, no signal
    y = 0.2 + 0.05 * X[:, 0] + 0.01 * X[:, 1] + 0.002 * rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize(
    ("member", "params"),
    [("mlr", {}), ("rf", {"n_estimators": 60, "min_samples_leaf": 3})],
)
def test_a_predictor_without_signal_has_no_importance(data, member, params):
    X, y = data
    fm = fit_member(member, X[:1000], y[:1000], params, seed=1)
    imp = permutation_importance(fm.predict, X[1000:], y[1000:], ["strong", "weak", "none"],
                                 repeats=5, seed=2).set_index("predictor")  # fmt: skip
    assert imp.loc["strong", "rmse_increase"] > 5 * imp.loc["weak", "rmse_increase"] > 0
    # shuffling the signal-free predictor changes (almost) nothing
    assert abs(imp.loc["none", "rmse_increase"]) < 0.1 * imp.loc["weak", "rmse_increase"] + 2e-4
    assert (imp.n == 500).all() and imp.rmse_base.nunique() == 1


def test_linear_known_value_and_checks():
    # predict = the true linear function: shuffling x0 (SD 1, slope 0.05) of independent
    # rows adds sqrt(2) x 0.05 of error: RMSE 0.0707 from 0
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20000, 2))
    y = 0.05 * X[:, 0]
    imp = permutation_importance(lambda Z: 0.05 * Z[:, 0], X, y, ["x0", "x1"], repeats=3)
    assert imp.rmse_increase.iloc[0] == pytest.approx(0.05 * np.sqrt(2), rel=0.02)
    assert imp.rmse_increase.iloc[1] == 0.0
    with pytest.raises(ValueError, match="do not match 3 predictors"):
        permutation_importance(lambda Z: Z[:, 0], X, y, ["a", "b", "c"])
