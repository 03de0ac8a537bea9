"""The EASE-Grid 2.0 36 km coarse grid and its index map to the 0.01 deg fine grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from smdownscale.ease2 import (
    EASE2_M36_CELL_M,
    Ease2Grid,
    ease2_cover,
    ease2_region_grids,
    ease2_xy,
)
from smdownscale.grid import GridError, block_map
from smdownscale.netcdf import write_dataset
from smdownscale.products.smap import read_smap_l3

BBOX = (112.0, 36.0, 114.0, 38.0)


def test_window_covers_the_bbox_with_whole_cells():
    coarse = ease2_cover(BBOX)
    w, s, e, n = coarse.bbox
    assert w <= 112.0 < w + 0.3735 and e - 0.3735 < 114.0 <= e
    assert s <= 36.0 < s + 0.34 and n - 0.34 < 38.0 <= n
    # rows are latitude bands 36032.22 m tall in y: equal in y, not in latitude
    _, y = ease2_xy(coarse.lat_bounds.ravel(), np.full(2 * coarse.nlat, 113.0))
    np.testing.assert_allclose(-np.diff(y.reshape(-1, 2), axis=1), EASE2_M36_CELL_M, rtol=1e-7)
    heights = -np.diff(coarse.lat_bounds, axis=1).ravel()
    assert heights.min() < heights.max() - 1e-3  # irregular in latitude
    widths = np.diff(coarse.lon_bounds, axis=1)
    np.testing.assert_allclose(widths, 360 / 964, rtol=1e-7)
    # edges are shared: bounds are contiguous, centres inside them
    np.testing.assert_allclose(coarse.lat_bounds[1:, 0], coarse.lat_bounds[:-1, 1])
    assert np.all((coarse.lat < coarse.lat_bounds[:, 0]) & (coarse.lat > coarse.lat_bounds[:, 1]))
    row, col = coarse.cell_index(coarse.lat, coarse.lon)
    assert row.tolist() == list(range(coarse.nlat)) and col.tolist() == list(range(coarse.nlon))
    assert coarse.cell_index(0.0, 0.0)[0] == -1


def test_every_fine_cell_belongs_to_the_cell_holding_its_centre():
    coarse, fine = ease2_region_grids(BBOX, 0.01)
    blocks = block_map(fine, coarse)
    assert blocks.shape == coarse.shape and blocks.factor is None
    lat2, lon2 = np.meshgrid(fine.lat, fine.lon, indexing="ij")
    row, col = coarse.cell_index(lat2, lon2)
    assert (row >= 0).all() and (col >= 0).all()
    np.testing.assert_array_equal(row, np.broadcast_to(blocks.rows[:, None], row.shape))
    np.testing.assert_array_equal(col, np.broadcast_to(blocks.cols[None, :], col.shape))
    # the fine grid is the cells whose centre is in the window: one more row or column on
    # any side would fall outside it
    for lat, lon in (
        (fine.north + 0.005, fine.lon[0]),
        (fine.south - 0.005, fine.lon[0]),
        (fine.lat[0], fine.west - 0.005),
        (fine.lat[0], fine.east + 0.005),
    ):
        assert coarse.cell_index(lat, lon)[0] == -1
    sizes = np.bincount(blocks.rows)
    assert 33 <= sizes.min() and sizes.max() <= 37  # 36.03 km of latitude at 36-38 N
    assert set(np.bincount(blocks.cols)) <= {37, 38}  # 0.3734 deg of longitude
    # coarse centres sit inside their blocks, in fine-cell units
    starts = blocks.row_starts
    assert np.all(blocks.row_centres >= starts - 0.5)
    assert np.all(blocks.row_centres <= np.r_[starts[1:], blocks.rows.size] - 0.5)


def test_window_outside_the_grid_is_refused():
    with pytest.raises(GridError, match="EASE-Grid 2.0"):
        ease2_cover((10.0, 86.0, 11.0, 88.0))
    with pytest.raises(GridError, match="rows"):
        Ease2Grid(400, 410, 0, 10)


def test_coarse_file_round_trip_keeps_the_irregular_latitudes(tmp_path):
    coarse, _ = ease2_region_grids(BBOX, 0.01)
    values = np.arange(coarse.size, dtype="f4").reshape(coarse.shape)
    ds = xr.Dataset({"sm": (("lat", "lon"), values, {"units": "m3 m-3"})})
    write_dataset(ds, tmp_path / "c.nc", coarse)
    with xr.open_dataset(tmp_path / "c.nc") as back:
        np.testing.assert_allclose(back["lat"].values, coarse.lat)
        np.testing.assert_allclose(back["lat_bnds"].values, coarse.lat_bounds)
        np.testing.assert_array_equal(back["sm"].values, values)
        assert "rows 77:84" in back["lat"].attrs["comment"]


@pytest.mark.realdata
def test_window_centres_are_the_real_files_cells(realdata: Path):
    path = realdata / "smap" / "SMAP_L3_SM_P_20150401_R13080_001.h5"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    real = read_smap_l3(path)
    lat, lon = real["latitude"].values, real["longitude"].values
    rows, cols = np.nonzero(np.isfinite(lat) & np.isfinite(lon))
    # a window over the cells the file locates (all of them: every row and column it has)
    grid = Ease2Grid(int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1)
    r, c = rows - grid.row0, cols - grid.col0
    np.testing.assert_allclose(grid.lat[r], lat[rows, cols], atol=1e-4)
    np.testing.assert_allclose(grid.lon[c], lon[rows, cols], atol=1e-4)
    # and the lookup puts the file's own centres back in their cells
    got_r, got_c = grid.cell_index(lat[rows, cols], lon[rows, cols])
    np.testing.assert_array_equal(got_r, r)
    np.testing.assert_array_equal(got_c, c)
