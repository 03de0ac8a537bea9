"""Members fitted on predictor subsets: a cell-day is predicted by the richest model it has."""

import numpy as np
import pytest

from smdownscale.members import MemberError, fit_member
from smdownscale.members.subsets import (
    NO_SUBSET,
    assign_subsets,
    fit_subsets,
    predictor_subsets,
    subset_label,
)
from smdownscale.windows import select_samples

NAMES = ["lst", "ndvi", "albedo", "elevation"]


def test_subsets_are_ordered_richest_first_and_end_with_the_required():
    s = predictor_subsets(NAMES, ["lst", "albedo"])
    assert s == [(0, 1, 2, 3), (1, 2, 3), (0, 1, 3), (1, 3)]
    assert [subset_label(NAMES, c) for c in s] == [
        "all",
        "without_lst",
        "without_albedo",
        "without_lst_albedo",
    ]
    assert predictor_subsets(NAMES, []) == [(0, 1, 2, 3)]
    assert predictor_subsets(NAMES, ["precipitation"]) == [(0, 1, 2, 3)]  # not used: ignored
    assert predictor_subsets(["lst"], ["lst"]) == [(0,)]  # never an empty predictor set
    with pytest.raises(MemberError, match="no predictors"):
        predictor_subsets([], [])


def test_each_row_takes_the_richest_subset_it_has():
    s = predictor_subsets(NAMES, ["lst", "albedo"])
    X = np.ones((5, 4))
    X[1, 0] = np.nan  # no lst
    X[2, 2] = np.nan  # no albedo
    X[3, [0, 2]] = np.nan  # neither
    X[4, 1] = np.nan  # a required predictor missing
    assert assign_subsets(X, s).tolist() == [0, 1, 2, 3, NO_SUBSET]


def world(n=3000, seed=0):
    """y follows wetness, which lst sees sharply and ndvi (greening after rain) loosely;
    lst is missing on 'cloudy' (wet) rows."""
    rng = np.random.default_rng(seed)
    wet = rng.uniform(0, 1, n)
    ndvi = 0.1 + 0.3 * wet + rng.normal(0, 0.03, n)
    lst = 310 - 20 * wet + rng.normal(0, 0.5, n)
    y = 0.05 + 0.3 * wet + 0.1 * ndvi
    cloudy = wet > 0.6  # clouds come with wet days, as after rain
    X = np.column_stack([lst, ndvi])
    X[cloudy, 0] = np.nan
    return X, y, cloudy


def test_cell_days_without_lst_are_predicted_by_a_model_fitted_without_it():
    X, y, cloudy = world()
    subsets = predictor_subsets(["lst", "ndvi"], ["lst"])

    def fit(Xs, ys):
        return fit_member("mlr", Xs, ys, {}, 0)

    member, counts = fit_subsets(fit, "mlr", X, y, subsets, 8)
    assert counts == {"0": int((~cloudy).sum()), "1": X.shape[0]}  # cloudy rows train subset 1
    pred = member.predict(X)
    assert np.isfinite(pred).all()  # every row predicted: none is lost to a cloud
    np.testing.assert_array_equal(member.codes(X), np.where(cloudy, 1, 0))
    clear = ~cloudy
    # with lst the clear rows are predicted almost exactly
    assert np.sqrt(np.mean((pred[clear] - y[clear]) ** 2)) < 0.01
    # the model without lst was trained on cloudy (wet) days too: no dry bias there, unlike
    # predicting the cloudy rows with a dry clear-sky lst filled in
    assert abs(np.mean(pred[cloudy] - y[cloudy])) < 0.02
    filled = X.copy()
    filled[cloudy, 0] = np.nanmean(X[clear, 0])
    full_only = member.models[0].predict(filled[:, [0, 1]])
    assert np.mean(full_only[cloudy] - y[cloudy]) < -0.1


def test_a_subset_with_too_few_samples_is_skipped_and_its_rows_fall_through():
    X, y, cloudy = world(n=200)
    X[:190, 0] = np.nan  # only 10 rows with lst: below 8 per predictor for 2 predictors
    subsets = predictor_subsets(["lst", "ndvi"], ["lst"])
    member, counts = fit_subsets(
        lambda a, b: fit_member("mlr", a, b, {}, 0), "mlr", X, y, subsets, 8
    )
    assert counts["0"] == 0 and member.models[0] is None
    assert (member.codes(X) == 1).all()  # rows with lst use the model without it
    assert np.isfinite(member.predict(X)).all()
    X[:, 1] = np.nan
    with pytest.raises(MemberError, match="no predictor subset has enough"):
        fit_subsets(lambda a, b: fit_member("mlr", a, b, {}, 0), "mlr", X, y, subsets, 8)


def test_window_samples_need_only_the_required_predictors():
    rng = np.random.default_rng(1)
    sm = rng.uniform(0.1, 0.3, (4, 3, 3))
    feats = rng.uniform(0, 1, (4, 3, 3, 2))
    feats[0, :, :, 0] = np.nan  # a cloudy day: first predictor missing everywhere
    labels = np.zeros((3, 3), int)
    off = np.arange(4)
    strict = select_samples(sm, feats, off, 4, labels, 0, min_samples=1)
    loose = select_samples(sm, feats, off, 4, labels, 0, min_samples=1, required=[1])
    assert strict.n == 27 and loose.n == 36
    assert np.isnan(loose.X[:, 0]).sum() == 9 and np.isfinite(loose.X[:, 1]).all()
