"""The sub-cell detail correction calibrated at stations (smdownscale.subcell)."""

import numpy as np
import pytest

from smdownscale.blocks import Blocks
from smdownscale.subcell import (
    DetailModel,
    background,
    coarse_means,
    detail,
    detail_at,
    fit_detail,
    quasi_demean,
    ridge_fit,
    ridge_fit_stations,
)


def irregular_blocks() -> Blocks:
    """An EASE-grid-like map: uneven blocks of 3, 5 and 4 rows, 6, 2 and 4 columns."""
    rows = np.repeat(np.arange(3), [3, 5, 4])
    cols = np.repeat(np.arange(3), [6, 2, 4])
    return Blocks(rows, cols, np.array([1.0, 5.0, 9.5]), np.array([2.5, 6.5, 9.5]))


@pytest.mark.parametrize("band", [1, 4, 5, 12, 100])
@pytest.mark.parametrize("blocks", [Blocks.regular(4, 12, 8), irregular_blocks()])
def test_coarse_means_by_bands_equal_the_block_means(blocks, band):
    rng = np.random.default_rng(1)
    ny, nx = blocks.fine_shape
    field = rng.normal(size=(3, ny, nx))
    field[rng.random(field.shape) < 0.3] = np.nan
    field[1, blocks.rows == 0] = np.nan  # a day whose first row of coarse cells is empty
    got = coarse_means(lambda rows: field[:, rows], blocks, band)
    for t in range(3):
        for i in range(blocks.shape[0]):
            for j in range(blocks.shape[1]):
                cell = field[t][np.ix_(blocks.rows == i, blocks.cols == j)]
                want = np.nanmean(cell) if np.isfinite(cell).any() else np.nan
                np.testing.assert_allclose(got[t, i, j], want, equal_nan=True)
    assert np.isnan(got[1, 0]).all()


def test_coarse_means_of_a_static_field():
    blocks = Blocks.regular(2, 4, 4)
    field = np.arange(16.0).reshape(4, 4)
    got = coarse_means(lambda rows: field[rows], blocks, 3)
    np.testing.assert_allclose(got, [[2.5, 4.5], [10.5, 12.5]])


@pytest.mark.parametrize("blocks", [Blocks.regular(4, 12, 8), irregular_blocks()])
def test_the_detail_of_a_linear_field_is_zero_between_the_outer_centres(blocks):
    """A coarse cell's mean of a linear field is its value at the cell's centre, and the
    bilinear background reproduces the field between the outer centres: no detail there."""
    ny, nx = blocks.fine_shape
    i, j = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    field = (300.0 + 0.7 * i - 0.4 * j)[None].repeat(2, 0)
    back = background(coarse_means(lambda rows: field[:, rows], blocks, 5))
    d = np.concatenate(
        [
            detail(field[:, r0 : r0 + 5], back, blocks, slice(r0, min(r0 + 5, ny)))
            for r0 in (0, 5, 10)
        ],
        axis=1,
    )
    inner = np.ix_(
        (i[:, 0] >= blocks.row_centres[0]) & (i[:, 0] <= blocks.row_centres[-1]),
        (j[0] >= blocks.col_centres[0]) & (j[0] <= blocks.col_centres[-1]),
    )
    np.testing.assert_allclose(d[0][inner], 0.0, atol=1e-9)
    got = detail_at(field[:, [5], [3]], back, blocks, np.array([5]), np.array([3]))
    np.testing.assert_allclose(got[:, 0], d[:, 5, 3], atol=1e-12)


def test_a_detail_has_no_step_at_coarse_cell_edges():
    """Subtracting each cell's own mean would leave a step where neighbouring means differ;
    the interpolated background does not."""
    blocks = Blocks.regular(5, 10, 10)
    field = np.where(np.arange(10) < 5, 0.0, 1.0)[None, None, :].repeat(10, 1)  # a sharp edge
    field = field + np.linspace(0, 2, 10)[None, None, :]  # on a ramp
    back = background(coarse_means(lambda rows: field[:, rows], blocks, 10))
    smooth = (field - detail(field, back, blocks, slice(0, 10)))[0, 0]  # what is subtracted
    own = blocks.repeat(coarse_means(lambda rows: field[:, rows], blocks, 10))[0, 0]
    step = np.abs(np.diff(own))[4]  # each cell's own mean jumps by 2.1 at the edge
    assert step > 2.0
    # the background spreads that over the 5 cells between the two centres
    np.testing.assert_allclose(np.abs(np.diff(smooth)).max(), step / 5, rtol=1e-9)


def test_background_fills_cells_without_a_value():
    means = np.array([[[1.0, np.nan], [3.0, 5.0]], [[np.nan, np.nan], [np.nan, np.nan]]])
    got = background(means)
    np.testing.assert_allclose(got[0], [[1.0, 3.0], [3.0, 5.0]])
    assert np.isnan(got[1]).all()


def station_world(n_stations: int, signal: float, seed: int = 3):
    """Pairs at stations: errors = signal x (0.04 * x0 - 0.02 * x1) + a station bias + noise;
    x2 carries nothing. Stations in five spatial folds."""
    rng = np.random.default_rng(seed)
    days = 40
    st = np.repeat(np.arange(n_stations), days)
    folds = st % 5
    x = rng.normal(size=(st.size, 3))
    x[:, 1] += np.repeat(rng.normal(size=n_stations), days)  # a static part, as terrain
    bias = np.repeat(rng.normal(0, 0.02, n_stations), days)
    e = signal * (0.04 * x[:, 0] - 0.02 * x[:, 1]) + bias + rng.normal(0, 0.02, st.size)
    return x, e, st.astype(str), folds


def test_a_detail_the_members_miss_is_found_and_used():
    x, e, st, folds = station_world(40, 1.0)
    fit = fit_detail(x, e, st, folds, ["a", "b", "c"], [0.01, 0.1, 1.0, 10.0], 0.95)
    assert fit.model is not None, fit.reason
    np.testing.assert_allclose(fit.model.coef, [0.04, -0.02, 0.0], atol=0.006)
    assert fit.model.ridge in (0.01, 0.1)
    assert fit.n_stations == 40 and fit.n_pairs == 1600
    assert fit.cv[-1]["ridge_per_pair"] is None  # the no-correction candidate is scored
    assert min(c["heldout_mse"] for c in fit.cv[:-1]) < fit.cv[-1]["heldout_mse"]


def test_details_that_carry_nothing_are_not_used():
    x, e, st, folds = station_world(40, 0.0)
    fit = fit_detail(x, e, st, folds, ["a", "b", "c"], [0.01, 1.0], 0.95)
    assert fit.model is None
    assert fit.reason.startswith("no clear gain at held-out stations")


def test_too_few_stations_to_cross_validate():
    x, e, st, folds = station_world(2, 1.0)
    fit = fit_detail(x, e, st, folds, ["a", "b", "c"], [1.0], 0.5)
    assert fit.model is None and "too few stations" in fit.reason


def test_ridge_fit_without_penalty_is_least_squares_and_the_penalty_shrinks():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(500, 2)) * [1.0, 30.0]
    e = 0.5 + 0.1 * x[:, 0] - 0.002 * x[:, 1]
    coef, b0 = ridge_fit(x, e, 0.0)
    np.testing.assert_allclose(coef, [0.1, -0.002], rtol=1e-9)
    np.testing.assert_allclose(b0, 0.5, atol=1e-9)
    shrunk, _ = ridge_fit(x, e, 1.0)  # standardised: both shrink by the same factor 1/2
    np.testing.assert_allclose(shrunk / coef, 0.5, rtol=0.05)


def test_correction_counts_missing_details_as_zero_and_round_trips():
    model = DetailModel(("lst", "elevation"), np.array([0.01, -0.002]), 1.0)
    x = np.array([[1.0, 10.0], [np.nan, 10.0], [np.nan, np.nan]])
    got = model.correction(x)
    np.testing.assert_allclose(got[:2], [0.01 - 0.02, -0.02])
    assert np.isnan(got[2])
    again = DetailModel.from_dict(model.to_dict())
    assert again.features == model.features and again.ridge == 1.0
    np.testing.assert_array_equal(again.coef, model.coef)
    with pytest.raises(ValueError, match="3 details given, the model has 2"):
        model.correction(np.zeros((1, 3)))


def test_too_few_pairs_per_feature_fit_nothing():
    x, e, st, folds = station_world(40, 1.0)  # 1600 pairs, three features
    fit = fit_detail(x, e, st, folds, ["a", "b", "c"], [0.1], 0.5, min_pairs_per_feature=600)
    assert fit.model is None
    assert fit.reason == (
        "1600 training pairs, fewer than the 1800 needed (600 per feature, "
        "bma.subcell.min_pairs_per_feature)"
    )
    assert fit_detail(x, e, st, folds, ["a", "b", "c"], [0.1], 0.5, 500).model is not None


def test_add_feature_by_feature_equals_the_stacked_correction():
    rng = np.random.default_rng(5)
    model = DetailModel(("lst", "ndvi", "elevation"), np.array([0.003, 0.08, -0.0004]), 1.0)
    lst = rng.normal(size=(4, 6, 5))
    lst[rng.random(lst.shape) < 0.4] = np.nan  # LST under cloud
    ndvi = rng.normal(size=(4, 6, 5))
    elevation = rng.normal(size=(6, 5)) * 50  # static: broadcast over the days
    got = model.add(iter([lst, ndvi, elevation]))
    stacked = np.stack([lst, ndvi, np.broadcast_to(elevation, lst.shape)], axis=-1)
    assert got.dtype == np.float32 and got.shape == (4, 6, 5)
    np.testing.assert_allclose(got, model.correction(stacked), rtol=1e-5, atol=1e-6)


def test_quasi_demean_removes_the_station_effect_share_of_each_station_mean():
    # two stations of four pairs: errors +-1 about station means +10 and -10; a detail
    # that varies within the stations but not with the errors, and a static one
    st = np.array(["A"] * 4 + ["B"] * 4)
    wiggle = np.array([1.0, -1.0, 1.0, -1.0])
    e = np.concatenate([10 + wiggle, -10 + wiggle])
    x = np.column_stack([[1.0, 1, -1, -1, 2, 2, -2, -2], np.repeat([3.0, 7.0], 4)])
    xt, et, effect = quasi_demean(x, e, st)
    within = 8 / 5  # squared residuals over 8 pairs - 2 stations - 1 within-station feature
    between = 200 - within / 4  # variance of the station means less its sampling share
    theta = 1 - np.sqrt(within / (within + 4 * between))
    assert effect.within_sd == pytest.approx(np.sqrt(within))
    assert effect.between_sd == pytest.approx(np.sqrt(between))
    assert effect.theta == pytest.approx(theta)
    np.testing.assert_allclose(et, e - theta * np.repeat([10.0, -10.0], 4))
    means = np.repeat([[0.0, -2.0], [0.0, 2.0]], 4, axis=0)
    np.testing.assert_allclose(xt, x - x.mean(axis=0) - theta * means)


def test_quasi_demean_with_unequal_stations_and_details_that_explain_the_days():
    # stations of 3, 5 and 8 pairs; the errors are a station bias plus 0.5 x the detail
    # exactly, so no day-to-day noise is left: theta is 1 at every station (the within fit)
    st = np.repeat(["A", "B", "C"], [3, 5, 8])
    d = np.sin(np.arange(16.0))
    e = np.repeat([1.0, -2.0, 0.5], [3, 5, 8]) + 0.5 * d
    xt, et, effect = quasi_demean(d[:, None], e, st)
    assert effect.within_sd == pytest.approx(0.0, abs=1e-12)
    assert effect.theta == 1.0
    # with noise, each station's theta follows its own count
    noise = np.tile([0.1, -0.1], 8)
    xt, et, effect = quasi_demean(d[:, None], e + noise, st)
    resid = np.linalg.lstsq(
        (d - np.repeat([d[:3].mean(), d[3:8].mean(), d[8:].mean()], [3, 5, 8]))[:, None],
        noise - np.repeat([noise[:3].mean(), noise[3:8].mean(), noise[8:].mean()], [3, 5, 8]),
        rcond=None,
    )
    within = float(resid[1][0]) / (16 - 3 - 1)
    e_means = np.array([(e + noise)[:3].mean(), (e + noise)[3:8].mean(), (e + noise)[8:].mean()])
    between = np.var(e_means, ddof=1) - within * np.mean(1 / np.array([3, 5, 8]))
    thetas = 1 - np.sqrt(within / (within + np.array([3, 5, 8]) * between))
    assert effect.within_sd == pytest.approx(np.sqrt(within))
    assert effect.theta == pytest.approx(thetas.mean())
    ec = e + noise - (e + noise).mean()
    np.testing.assert_allclose(
        et, ec - np.repeat(thetas, [3, 5, 8]) * np.repeat(e_means - (e + noise).mean(), [3, 5, 8])
    )


def test_quasi_demean_with_one_pair_per_station_is_the_pooled_fit():
    st = np.array(["A", "B", "C", "D"])
    x = np.array([[1.0], [2.0], [4.0], [3.0]])
    e = np.array([0.1, 0.3, 0.2, 0.0])
    xt, et, effect = quasi_demean(x, e, st)
    assert effect.within_sd is None and effect.between_sd is None and effect.theta == 0.0
    np.testing.assert_allclose(xt, x - x.mean())
    np.testing.assert_allclose(et, e - e.mean())


def test_quasi_demean_without_a_station_effect_only_centres():
    st = np.repeat(["A", "B", "C"], 4)
    e = np.tile([1.0, -1.0, 2.0, -2.0], 3)  # every station mean is 0
    x = np.arange(12.0)[:, None]
    xt, et, effect = quasi_demean(x, e, st)
    assert effect.theta == 0.0 and effect.between_sd == 0.0
    np.testing.assert_allclose(et, e)
    np.testing.assert_allclose(xt, x - x.mean())


def test_station_biases_that_line_up_with_persistent_details_do_not_set_the_coefficient():
    # the detail has a persistent part per station and a day-to-day part; the error follows
    # the detail with slope 0.01, plus station biases that (by the chance a few stations
    # allow) follow the persistent part with slope 0.03
    rng = np.random.default_rng(12)
    n_st, days = 12, 80
    persistent = rng.normal(0, 1, n_st)
    bias = 0.03 * persistent
    st = np.repeat(np.arange(n_st).astype(str), days)
    x = (np.repeat(persistent, days) + rng.normal(0, 1, st.size))[:, None]
    e = np.repeat(bias, days) + 0.01 * x[:, 0] + rng.normal(0, 0.005, st.size)
    pooled, _ = ridge_fit(x, e, 0.0)
    coef, effect = ridge_fit_stations(x, e, st, 0.0)
    assert pooled[0] > 0.02  # the pooled fit takes the biases for detail
    assert coef[0] == pytest.approx(0.01, abs=0.002)
    assert effect.theta > 0.9


def test_fit_detail_reports_the_station_effect():
    x, e, st, folds = station_world(40, 0.0)
    fit = fit_detail(x, e, st, folds, ["a", "b", "c"], [0.01, 1.0], 0.95)
    assert fit.model is None  # reported whether or not the correction is used
    effect = fit.to_dict()["station_effect"]
    # without signal the errors are station biases with SD 0.02 and daily noise with SD 0.02
    assert effect["between_sd"] == pytest.approx(0.02, abs=0.006)
    assert effect["within_sd"] == pytest.approx(0.02, abs=0.004)
    assert 0.0 < effect["theta"] < 1.0
