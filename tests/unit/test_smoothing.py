"""The members' spatial smoothing: a normalised Gaussian over predicted cells only."""

import math

import numpy as np
import pytest

from smdownscale.grid import LatLonGrid
from smdownscale.smoothing import halo_rows, sigma_cells, smooth_masked


def test_sigma_in_cells_follows_the_latitude():
    equator = LatLonGrid(north=1, south=-1, west=0, east=2, res=0.01)
    sy, sx = sigma_cells(2.0, equator)
    assert sy == pytest.approx(2.0 / 1.1132) and sx == pytest.approx(sy)
    north = LatLonGrid(north=61, south=59, west=0, east=2, res=0.01)
    sy, sx = sigma_cells(2.0, north)
    assert sx == pytest.approx(sy / math.cos(math.radians(60)))
    assert sigma_cells(0.0, north) == (0.0, 0.0)
    with pytest.raises(ValueError, match=">= 0 km"):
        sigma_cells(-1.0, north)


def test_missing_cells_stay_missing_and_do_not_pull_neighbours():
    field = np.full((2, 30, 40), 0.25)
    field[:, 10:14, 5:9] = np.nan
    field[1, :, 35:] = np.nan  # a region edge
    out = smooth_masked(field, (2.0, 2.0))
    assert np.array_equal(np.isnan(out), np.isnan(field))
    np.testing.assert_allclose(out[np.isfinite(out)], 0.25, rtol=1e-6)
    assert out.dtype == np.float32


def test_no_smoothing_is_the_identity():
    rng = np.random.default_rng(0)
    field = rng.uniform(0, 0.4, (3, 12, 9))
    np.testing.assert_array_equal(smooth_masked(field, (0.0, 0.0)), field.astype(np.float32))


def test_white_noise_loses_the_expected_variance_and_values_stay_in_range():
    """A 2-D Gaussian of sigma s cells keeps 1 / (4 pi s^2) of white noise's variance."""
    rng = np.random.default_rng(1)
    noise = rng.normal(0.2, 0.05, (200, 200))
    s = 2.5
    out = smooth_masked(noise, (s, s))[20:-20, 20:-20]
    ratio = out.var() / noise.var()
    assert ratio == pytest.approx(1 / (4 * math.pi * s**2), rel=0.2)
    assert noise.min() <= out.min() and out.max() <= noise.max()


def test_blocks_of_rows_with_a_halo_equal_the_whole_field():
    rng = np.random.default_rng(2)
    field = rng.uniform(0, 0.4, (2, 57, 31))
    field[:, 20:23, 4:10] = np.nan
    sigma = (1.7, 2.2)
    whole = smooth_masked(field, sigma)
    h = halo_rows(sigma)
    parts = []
    for r0 in range(0, 57, 10):
        r1 = min(r0 + 10, 57)
        e0, e1 = max(0, r0 - h), min(57, r1 + h)
        parts.append(smooth_masked(field[:, e0:e1], sigma)[:, r0 - e0 : r1 - e0])
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=1e-6, equal_nan=True)
