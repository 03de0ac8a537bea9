import numpy as np
import pytest

from smdownscale.config import prepare_config
from smdownscale.members import MEMBERS, fit_member
from smdownscale.tuning import (
    TuningError,
    check_params,
    cv_splits,
    subsample_indices,
    tune,
)


def cells_and_days(n_cells: int, n_days: int) -> np.ndarray:
    """Group (cell) id of each sample, days of a cell interleaved with other cells."""
    return np.tile(np.arange(n_cells), n_days)


def test_tuning_scores_the_production_members():
    # every fold is fit_member(defaults + grid point, seed) scored with member.predict
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(0, 0.1, 120)
    groups = np.arange(120) % 30
    res = tune("rf", X, y, {"n_estimators": [10]}, folds=3, seed=3, groups=groups, n_jobs=1)
    rmse = []
    for train, test in cv_splits(120, groups, folds=3, seed=3):
        member = fit_member("rf", X[train], y[train], {"n_estimators": 10}, 3, n_jobs=1)
        assert member.params["max_depth"] == MEMBERS["rf"].defaults["max_depth"]
        err = member.predict(X[test]).astype(np.float64) - y[test]
        rmse.append(np.sqrt(np.mean(err**2)))
    assert res.best_rmse == pytest.approx(np.mean(rmse), rel=1e-12)
    assert res.best_rmse_sd == pytest.approx(np.std(rmse, ddof=1), rel=1e-12)
    # the schema's default grids use the members' parameter names
    for name, grid in prepare_config({})["members"]["tuning"]["grids"].items():
        check_params(name, grid)


def test_unknown_member_or_parameter_is_named():
    X, y = np.zeros((20, 1)), np.zeros(20)
    with pytest.raises(TuningError, match="member 'rf' has no hyperparameter 'max_dept'"):
        tune("rf", X, y, {"max_dept": [2, 3]}, folds=2)
    # a scikit-learn setting that the member fixes is not a tunable parameter
    with pytest.raises(TuningError, match="member 'svr' has no hyperparameter 'kernel'"):
        tune("svr", X, y, {"kernel": ["linear"]}, folds=2)
    with pytest.raises(TuningError, match="member 'mlr' has no hyperparameter 'C'"):
        check_params("mlr", {"C": 1.0})
    with pytest.raises(TuningError, match="unknown member 'knn'"):
        tune("knn", X, y, {}, folds=2)
    with pytest.raises(TuningError, match="parameter 'C' needs a non-empty list"):
        tune("svr", X, y, {"C": []}, folds=2)


def test_svr_gamma_grid_picks_the_right_width():
    rng = np.random.default_rng(1)
    n_cells, n_days = 60, 4
    x_cell = rng.uniform(-2, 2, n_cells)
    groups = cells_and_days(n_cells, n_days)
    x = x_cell[groups] + rng.normal(0, 0.05, groups.size)
    y = np.sin(2.5 * x) + rng.normal(0, 0.05, x.size)
    res = tune(
        "svr", x[:, None], y, {"gamma": [1e-4, 1.0, 1e4], "C": [10.0]}, folds=5, groups=groups
    )
    assert res.best_params == {"C": 10.0, "gamma": 1.0}
    assert list(res.table.columns) == ["C", "gamma", "mean_rmse", "sd_rmse", "rank"]
    assert len(res.table) == 3 and res.grouped and res.folds == 5
    best_row = res.table.loc[res.table["rank"] == 1].iloc[0]
    assert best_row["gamma"] == 1.0 and best_row["mean_rmse"] == pytest.approx(res.best_rmse)
    assert res.best_rmse < 0.15
    assert (res.table["mean_rmse"][res.table["gamma"] != 1.0] > 2 * res.best_rmse).all()
    assert (res.table["sd_rmse"] > 0).all()


def test_empty_grid_scores_defaults():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 2))
    y = 0.3 * X[:, 0] - 0.1 * X[:, 1] + rng.normal(0, 0.02, 200)
    res = tune("mlr", X, y, {}, folds=10, seed=0)
    assert res.best_params == {} and len(res.table) == 1
    assert 0.015 < res.best_rmse < 0.025  # the noise level
    assert not res.grouped


def test_grouped_folds_keep_each_cell_on_one_side():
    groups = cells_and_days(37, 9)
    splits = cv_splits(groups.size, groups, folds=10, seed=0)
    assert len(splits) == 10
    tested = np.zeros(groups.size, dtype=int)
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
        tested[test] += 1
    assert (tested == 1).all()  # every sample tested exactly once
    # ordinary KFold does split cells across train and test
    train, test = cv_splits(groups.size, None, folds=10, seed=0)[0]
    assert set(groups[train]) & set(groups[test])
    with pytest.raises(TuningError, match="needs >= 10 coarse cells, got 4"):
        cv_splits(40, cells_and_days(4, 10), folds=10, seed=0)


def test_grouped_cv_does_not_reward_memorising_cells():
    # y depends on the cell only, not on anything the predictors can explain across cells;
    # each cell's days share a unique predictor value, so a model can memorise cells.
    rng = np.random.default_rng(4)
    n_cells, n_days = 50, 8
    groups = cells_and_days(n_cells, n_days)
    X = rng.normal(size=(n_cells, 2))[groups]
    y = rng.normal(size=n_cells)[groups] + rng.normal(0, 0.01, groups.size)
    grid = {"n_estimators": [20]}
    leaky = tune("rf", X, y, grid, folds=5, groups=None, n_jobs=1)
    grouped = tune("rf", X, y, grid, folds=5, groups=groups, n_jobs=1)
    assert leaky.best_rmse < 0.3
    assert grouped.best_rmse > 0.8


def test_subsample_is_deterministic_and_capped():
    idx = subsample_indices(1000, 100, seed=5)
    assert idx.size == 100 and np.unique(idx).size == 100 and (np.diff(idx) > 0).all()
    np.testing.assert_array_equal(idx, subsample_indices(1000, 100, seed=5))
    assert not np.array_equal(idx, subsample_indices(1000, 100, seed=6))
    np.testing.assert_array_equal(subsample_indices(50, 100, seed=5), np.arange(50))
    rng = np.random.default_rng(6)
    X = rng.normal(size=(400, 2))
    y = X[:, 0] + rng.normal(0, 0.1, 400)
    a = tune("svr", X, y, {"C": [0.1, 1.0]}, folds=3, seed=1, max_samples=120)
    b = tune("svr", X, y, {"C": [0.1, 1.0]}, folds=3, seed=1, max_samples=120)
    assert a.n_samples == 120
    np.testing.assert_array_equal(a.table["mean_rmse"], b.table["mean_rmse"])


def test_non_finite_samples_rejected():
    X = np.zeros((20, 1))
    X[3, 0] = np.nan
    with pytest.raises(TuningError, match="finite"):
        tune("mlr", X, np.zeros(20), {}, folds=2)
