import numpy as np
import pytest

from smdownscale.grid import LatLonGrid, region_grids
from smdownscale.regrid import bilinear


@pytest.fixture
def source():
    """A 0.1 deg field around the grid (lat descending), with NaN holes."""
    lat = np.round(np.arange(40.55, 38.9, -0.1), 4)
    lon = np.round(np.arange(109.95, 111.6, 0.1), 4)
    rng = np.random.default_rng(5)
    values = rng.uniform(0, 10, (lat.size, lon.size))
    values[rng.random(values.shape) < 0.1] = np.nan
    return values, lat, lon


@pytest.mark.parametrize("chunk_cells", [1, 150, 1000, 7777])
def test_chunked_equals_unchunked(source, chunk_cells):
    values, lat, lon = source
    _, fine = region_grids((110, 39, 111.5, 40.5), 0.25, 0.01)
    whole = bilinear(values, lat, lon, fine, chunk_cells=fine.size)
    chunked = bilinear(values, lat, lon, fine, chunk_cells=chunk_cells)
    assert whole.shape == fine.shape and whole.dtype == np.float64
    np.testing.assert_array_equal(chunked, whole)
    assert np.isnan(whole).any() and np.isfinite(whole).mean() > 0.5


def test_bilinear_reproduces_a_plane_and_masks_outside():
    lat = np.array([40.0, 39.5, 39.0])
    lon = np.array([110.0, 110.5, 111.0])
    values = 2.0 * lon[None, :] - 3.0 * lat[:, None]
    grid = LatLonGrid(north=40.2, south=38.8, west=109.8, east=111.2, res=0.1)
    out = bilinear(values, lat, lon, grid, chunk_cells=20)
    inside = (grid.lat[:, None] >= 39.0) & (grid.lat[:, None] <= 40.0)
    inside = inside & (grid.lon[None, :] >= 110.0) & (grid.lon[None, :] <= 111.0)
    expected = 2.0 * grid.lon[None, :] - 3.0 * grid.lat[:, None]
    np.testing.assert_allclose(out[inside], np.broadcast_to(expected, grid.shape)[inside])
    assert np.isnan(out[~inside]).all()


def test_nan_source_cell_does_not_leak():
    lat = np.array([40.0, 39.5, 39.0])
    lon = np.array([110.0, 110.5, 111.0])
    values = np.ones((3, 3))
    values[0, 0] = np.nan
    grid = LatLonGrid(north=40.0, south=39.0, west=110.0, east=111.0, res=0.1)
    out = bilinear(values, lat, lon, grid, chunk_cells=3)
    # cells between the NaN corner and its neighbours are NaN; the other quadrants are 1
    assert np.isnan(out[:5, :5]).all()
    assert (out[5:, 5:] == 1).all()
