import numpy as np
import pytest

from smdownscale.prediction import (
    SOURCE_CODES,
    ModelResolutionError,
    predict_block,
    resolve_models,
    use_threads,
)


class Const:
    """A stand-in fitted member: predicts a constant, NaN for rows with a missing feature."""

    def __init__(self, value):
        self.value = value

    def predict(self, X):
        return np.where(np.isfinite(X).all(axis=1), self.value, np.nan).astype("f4")

    def codes(self, X):  # one predictor subset (all predictors): 0, or -1 where one is missing
        return np.where(np.isfinite(X).all(axis=1), 0, -1).astype("i1")


def bundle(regions, pooled=None, predictors=("lst",)):
    return {
        "period": "2010-113",
        "regions": regions,
        "pooled": pooled,
        "predictors": list(predictors),
    }


def test_each_source_is_served_from_its_file():
    own = {"rf": Const(0.1)}
    prev = {"rf": Const(0.2)}
    pooled = {"rf": Const(0.3)}
    records = [
        {"region": 0, "source": "own"},
        {"region": 1, "source": "previous"},
        {"region": 2, "source": "pooled"},
        {"region": 3, "source": "none"},
    ]
    models = resolve_models(records, bundle({0: own}, pooled), bundle({1: prev}))
    assert {c: s for c, (s, _) in models.items()} == {
        0: "own",
        1: "previous",
        2: "pooled",
        3: "none",
    }
    labels = np.array([[0, 1, 2, 3, -1]])
    X = np.ones((2, 1, 5, 1), dtype="f4")
    X[1, 0, 0, 0] = np.nan  # region 0, day 1: a missing predictor
    result, source, subset = predict_block(X, labels, models, ["rf"])
    np.testing.assert_allclose(result["rf"][0, 0], [0.1, 0.2, 0.3, np.nan, np.nan])
    assert subset[0, 0].tolist() == [0, 0, 0, -1, -1] and subset[1, 0, 0] == -1
    assert np.isnan(result["rf"][1, 0, 0]) and result["rf"][1, 0, 1] == pytest.approx(0.2)
    assert source[0].tolist() == [
        SOURCE_CODES[s] for s in ("own", "previous", "pooled", "none")
    ] + [-1]


def test_previous_model_missing_is_a_clear_error():
    with pytest.raises(ModelResolutionError, match="region 1: the fit chose the previous"):
        resolve_models([{"region": 1, "source": "previous"}], bundle({}), bundle({}))
    with pytest.raises(ModelResolutionError, match="previous period's models use predictors"):
        resolve_models(
            [{"region": 1, "source": "previous"}],
            bundle({}),
            bundle({1: {"rf": Const(0)}}, predictors=("ndvi",)),
        )


def test_a_period_without_any_model_predicts_nothing():
    models = resolve_models([{"region": 0, "source": "none"}], bundle({}), None)
    result, source, subset = predict_block(
        np.ones((3, 2, 2, 1), "f4"), np.zeros((2, 2), int), models, ["rf", "mlr"]
    )
    assert all(np.isnan(v).all() for v in result.values()) and (subset == -1).all()
    assert (source == SOURCE_CODES["none"]).all()


def test_region_models_hand_over_smoothly_across_a_border():
    """Two regions whose models disagree: far from the border each cell has its own region's
    value; across it the values change in small steps instead of one jump."""
    from smdownscale.prediction import region_weights

    labels = np.zeros((4, 40), int)
    labels[:, 20:] = 1
    labels[:, 38:] = -1  # outside every region
    models = {0: ("own", {"rf": Const(0.1)}), 1: ("own", {"rf": Const(0.3)})}
    w = region_weights(labels, [0, 1], 3.0)
    inside = labels >= 0
    np.testing.assert_allclose((w[0] + w[1])[inside], 1.0, atol=1e-6)
    assert (w[0][~inside] == 0).all() and (w[1][~inside] == 0).all()
    X = np.ones((1, 4, 40, 1), "f4")
    result, source, _ = predict_block(X, labels, models, ["rf"], w)
    row = result["rf"][0, 0]
    assert row[0] == pytest.approx(0.1) and row[30] == pytest.approx(0.3)
    assert np.isnan(row[38:]).all()  # no region: no prediction
    steps = np.abs(np.diff(row[:38]))
    assert steps.max() < 0.2 / 4  # the 0.2 jump spread over many cells
    assert source[0, 19] == SOURCE_CODES["own"] and source[0, 38] == -1
    # without blending: one jump of 0.2 at the border
    hard, _, _ = predict_block(X, labels, models, ["rf"], region_weights(labels, [0, 1], 0))
    assert np.abs(np.diff(hard["rf"][0, 0, :38])).max() == pytest.approx(0.2)


def test_a_region_without_a_model_stays_missing_even_beside_one_with_a_model():
    from smdownscale.prediction import region_weights

    labels = np.zeros((2, 20), int)
    labels[:, 10:] = 1
    models = {0: ("own", {"rf": Const(0.1)}), 1: ("none", None)}
    w = region_weights(labels, [0, 1], 2.0)
    result, _, _ = predict_block(np.ones((1, 2, 20, 1), "f4"), labels, models, ["rf"], w)
    assert np.isnan(result["rf"][0, :, 10:]).all()
    np.testing.assert_allclose(result["rf"][0, :, :10], 0.1)


def test_every_fitted_model_predicts_on_the_jobs_threads():
    from smdownscale.members import fit_member
    from smdownscale.members.subsets import fit_subsets

    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 2))
    y = 0.2 + 0.05 * X[:, 0]
    sub, _ = fit_subsets(lambda A, b: fit_member("rf", A, b, {"n_estimators": 5}, seed=0),
                         "rf", X, y, [(0, 1), (0,)], 8)  # fmt: skip
    plain = fit_member("mlr", X, y, {}, seed=0)
    shared = {"rf": sub, "mlr": plain}
    models = {0: ("own", shared), 1: ("previous", shared), 2: ("none", None)}
    assert [m.n_jobs for m in sub.models] == [2, 2] and plain.n_jobs == 2  # the fit's
    assert use_threads(models, 4) == 3  # each model once, however many regions share it
    assert [m.n_jobs for m in sub.models] == [4, 4] and plain.n_jobs == 4
    before = sub.predict(X)
    use_threads(models, 1)
    np.testing.assert_array_equal(sub.predict(X), before)  # threads change time, not values


def test_region_weights_of_a_block_with_its_pad_equal_the_whole_regions():
    """predict_period's blocks read the region labels with ``pad`` cells around them (the
    Gaussian's reach, truncated at 2 SD): a block's weights, cut back, are the whole
    region's, in rows and columns, at the region's edges too."""
    from smdownscale.prediction import region_weights
    from smdownscale.tiling import grid_blocks

    rng = np.random.default_rng(3)
    labels = np.repeat(np.repeat(rng.integers(-1, 3, (6, 9)), 10, axis=0), 10, axis=1)
    blend = 4.0
    pad = int(np.ceil(2 * blend)) + 1
    whole = region_weights(labels, [0, 1, 2], blend)
    for b in grid_blocks(*labels.shape, 16, 32, pad):
        r, c = b.row_span, b.col_span
        around = labels[r.outer_start : r.outer_stop, c.outer_start : c.outer_stop]
        part = region_weights(around, [0, 1, 2], blend, (r.inner, c.inner))
        for k in (0, 1, 2):
            np.testing.assert_allclose(part[k], whole[k][b.rows, b.cols], atol=1e-6)
    # a pad short of the reach changes the weights near a block's inner edges
    b = grid_blocks(*labels.shape, 16, 32, 2)[5]
    r, c = b.row_span, b.col_span
    around = labels[r.outer_start : r.outer_stop, c.outer_start : c.outer_stop]
    part = region_weights(around, [0, 1, 2], blend, (r.inner, c.inner))
    assert not all(np.allclose(part[k], whole[k][b.rows, b.cols], atol=1e-6) for k in (0, 1, 2))
