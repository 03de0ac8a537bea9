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


def test_xgb_treeshap_contributions_sum_to_the_prediction_and_ignore_noise(data):
    from smdownscale.importance import xgb_contributions
    from smdownscale.members.subsets import fit_subsets, predictor_subsets

    X, y = data
    X = X.copy()
    X[::7, 1] = np.nan  # 'weak' optional: those rows go to the model without it
    subsets = predictor_subsets(["strong", "weak", "none"], ["weak"])
    params = {"n_estimators": 80, "max_depth": 3, "learning_rate": 0.1}
    member, _ = fit_subsets(
        lambda A, b: fit_member("xgb", A, b, params, seed=0), "xgb", X[:1000], y[:1000],
        subsets, 8,
    )  # fmt: skip
    rows, contrib = xgb_contributions(member, X[1000:])
    assert rows.size == int(np.isfinite(X[1000:]).all(axis=1).sum())
    pred = member.predict(X[1000:])[rows]
    np.testing.assert_allclose(contrib.sum(axis=1), pred, atol=2e-5)
    mean_abs = np.abs(contrib[:, :3]).mean(axis=0)
    assert mean_abs[0] > 3 * mean_abs[1] > 0 and mean_abs[2] < 0.2 * mean_abs[1]
    # no all-predictor model (too few complete samples): no contributions, no error
    member.models[0] = None
    rows, contrib = xgb_contributions(member, X[1000:])
    assert rows.size == 0 and contrib.shape == (0, 4)
    with pytest.raises(ValueError, match="need an XGBoost member"):
        xgb_contributions(fit_member("mlr", X[:100, :1], y[:100], {}, seed=0), X[:5, :1])
