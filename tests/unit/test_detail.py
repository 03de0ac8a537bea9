"""The temporal averaging of the members' fine detail (smdownscale.detail)."""

import numpy as np
import pytest

from smdownscale.detail import average_detail, window_mean
from smdownscale.smoothing import halo_rows, smooth_masked


def test_window_mean_known_values_skip_missing_and_cut_at_the_ends():
    v = np.array([1.0, np.nan, 3.0, 5.0, 9.0])[:, None, None]
    out = window_mean(v, 3)[:, 0, 0]
    # day 0: {1} (day 1 missing); day 1 stays missing; day 2: {3, 5}; day 3: {3, 5, 9};
    # day 4: {5, 9} (the window is cut at the end)
    np.testing.assert_allclose(out, [1.0, np.nan, 4.0, 17 / 3, 7.0])


def test_window_of_one_day_returns_the_values():
    rng = np.random.default_rng(1)
    v = rng.random((4, 20, 30)).astype(np.float32)
    v[1, 3, 4] = np.nan
    out = average_detail(v, (3.0, 3.0), 1)
    np.testing.assert_array_equal(out, v)


@pytest.mark.parametrize("window", [0, 2, 4])
def test_even_or_empty_window_is_refused(window):
    with pytest.raises(ValueError, match="odd number of days"):
        average_detail(np.zeros((3, 8, 8)), (2.0, 2.0), window)


def test_field_without_detail_keeps_its_daily_dynamics():
    # spatially uniform each day, changing from day to day: nothing below the split to average
    days = np.array([0.1, 0.3, 0.15, 0.25, 0.2])
    v = np.broadcast_to(days[:, None, None], (5, 24, 36)).copy()
    out = average_detail(v, (4.0, 4.0), 5)
    np.testing.assert_allclose(out, v, atol=1e-6)


def test_static_detail_is_kept_and_daily_noise_is_averaged_away():
    rng = np.random.default_rng(7)
    ny, nx, nt = 60, 80, 15
    y, x = np.mgrid[0:ny, 0:nx]
    large = 0.2 + 0.05 * np.sin(2 * np.pi * np.arange(nt) / nt)[:, None, None]  # daily
    detail = 0.03 * np.sin(2 * np.pi * x / 6.0) * np.cos(2 * np.pi * y / 7.0)  # static, fine
    noise = 0.03 * rng.standard_normal((nt, ny, nx))
    v = (large + detail + noise).astype(np.float32)
    out = average_detail(v, (4.0, 4.0), 5)
    inner = (slice(2, -2), slice(12, -12), slice(12, -12))  # full windows, no border effects
    err_before = np.sqrt(np.mean((v - large - detail)[inner] ** 2))
    err_after = np.sqrt(np.mean((out - large - detail)[inner] ** 2))
    # the detail's share of the noise is averaged over 5 days: error well below the input's
    assert err_after < 0.6 * err_before
    # and the static detail itself comes out clearer than any one day shows it
    true = np.broadcast_to(detail, v.shape)[inner].ravel()

    def detail_r(a):
        return np.corrcoef((a - smooth_masked(a, (4.0, 4.0)))[inner].ravel(), true)[0, 1]

    assert detail_r(v) < 0.5
    assert detail_r(out) > 0.7


def test_missing_cells_stay_missing():
    rng = np.random.default_rng(3)
    v = rng.random((5, 30, 30)).astype(np.float32)
    v[2, 10:14, 5:9] = np.nan
    out = average_detail(v, (3.0, 3.0), 3)
    assert np.isnan(out[2, 10:14, 5:9]).all()
    assert np.isfinite(
        np.delete(out.reshape(5, -1), np.flatnonzero(np.isnan(v[2]).ravel()), 1)
    ).all()


def test_blocks_of_rows_with_halo_equal_the_whole_field():
    # correct_period smooths at 2 km and splits at the detail Gaussian, in blocks of rows
    # read with the two kernels' halos added: the blocks must give the whole field exactly
    rng = np.random.default_rng(11)
    v = rng.random((5, 90, 40)).astype(np.float32)
    v[:, 40:45, 0:10] = np.nan
    sigma, split = (1.8, 2.3), (5.4, 7.0)

    def process(a):
        return average_detail(smooth_masked(a, sigma), split, 5)

    whole = process(v)
    halo = halo_rows(sigma) + halo_rows(split)
    for r0 in range(0, 90, 25):
        rows = slice(r0, min(r0 + 25, 90))
        ext = slice(max(0, r0 - halo), min(90, rows.stop + halo))
        part = process(v[:, ext])[:, rows.start - ext.start : rows.stop - ext.start]
        np.testing.assert_allclose(part, whole[:, rows], atol=2e-6, equal_nan=True)
