import datetime as dt

import netCDF4
import numpy as np
import pytest
import xarray as xr

from smdownscale.grid import region_grids
from smdownscale.netcdf import (
    CHUNK_CELLS,
    GridFileWriter,
    VarSpec,
    chunk_aligned_rows,
    chunk_nested,
    cube_block_rows,
    file_days,
    keep_block_chunks,
    keep_one_chunk_row,
    open_grid_dataset,
    write_dataset,
)


@pytest.fixture
def grids():
    return region_grids((110, 39, 111, 40), 0.25, 0.01)


def test_incremental_writer_round_trip_with_cf_metadata(tmp_path, grids):
    _, fine = grids
    days = [dt.date(2010, 4, 7) + dt.timedelta(days=i) for i in range(3)]
    rng = np.random.default_rng(1)
    data = rng.random((3, *fine.shape)).astype("f4")
    data[1, :10, :10] = np.nan
    path = tmp_path / "cube.nc"
    specs = [
        VarSpec("lst", ("time", "lat", "lon"), attrs={"units": "K"}),
        VarSpec("elev", ("lat", "lon"), attrs={"units": "m"}),
    ]
    with GridFileWriter(path, fine, days, specs, {"title": "t"}) as w:
        for i in range(3):
            w.write("lst", data[i], time_index=i)
        w.write("elev", data[0, :50], rows=slice(0, 50))
        w.write("elev", data[0, 50:], rows=slice(50, 100))
        assert np.array_equal(w.read("lst", slice(0, 10)), data[:, :10], equal_nan=True)
    ds, grid = open_grid_dataset(path)
    assert grid == fine
    np.testing.assert_array_equal(ds["lst"].values, data)
    np.testing.assert_array_equal(ds["elev"].values, data[0])
    assert ds.attrs["Conventions"] == "CF-1.8"
    assert ds["lst"].attrs["grid_mapping"] == "crs" and ds["lst"].attrs["units"] == "K"
    assert ds["crs"].attrs["grid_mapping_name"] == "latitude_longitude"
    assert ds["lat"].attrs["bounds"] == "lat_bnds"
    assert ds.indexes["time"][0] == np.datetime64("2010-04-07")
    enc = ds["lst"].encoding
    assert enc["zlib"] and enc["chunksizes"] == (3, 100, 100)


def test_failed_write_leaves_no_file(tmp_path, grids):
    _, fine = grids
    path = tmp_path / "cube.nc"
    with (
        pytest.raises(RuntimeError),
        GridFileWriter(
            path, fine, [dt.date(2010, 1, 1)], [VarSpec("x", ("time", "lat", "lon"))]
        ) as w,
    ):
        w.write("x", np.zeros(fine.shape), time_index=0)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_write_dataset_small_file(tmp_path, grids):
    coarse, _ = grids
    ds = xr.Dataset(
        {"sm": (("time", "lat", "lon"), np.full((2, *coarse.shape), 0.25, "f4"))},
        coords={"time": np.array(["2010-04-07", "2010-04-08"], "datetime64[ns]")},
    )
    write_dataset(ds, tmp_path / "c.nc", coarse)
    back, grid = open_grid_dataset(tmp_path / "c.nc")
    assert grid == coarse and float(back["sm"].mean()) == pytest.approx(0.25)
    assert back["sm"].attrs["grid_mapping"] == "crs" and "lon_bnds" in back


def test_block_writes_and_a_variable_without_fill_value(tmp_path, grids):
    _, fine = grids
    days = [dt.date(2010, 4, 7) + dt.timedelta(days=i) for i in range(4)]
    rng = np.random.default_rng(2)
    data = rng.random((4, *fine.shape)).astype("f4")
    data[2, 5:9, :] = np.nan
    flag = rng.integers(0, 16, (4, *fine.shape)).astype("u1")
    flag[0, 0, 0] = 255  # the u1 default fill value: must stay a value
    specs = [
        VarSpec("lst", ("time", "lat", "lon")),
        VarSpec("gap_flag", ("time", "lat", "lon"), "u1", {"units": "1"}, fill_value=False),
    ]
    path = tmp_path / "cube.nc"
    with GridFileWriter(path, fine, days, specs) as w:
        for r0 in range(0, fine.nlat, 30):  # (time, rows, lon) blocks
            rows = slice(r0, min(r0 + 30, fine.nlat))
            w.write("lst", data[:, rows], rows=rows)
            w.write("gap_flag", flag[:, rows], rows=rows)
        np.testing.assert_array_equal(w.read("gap_flag", slice(0, 2)), flag[:, :2])
    with netCDF4.Dataset(path) as nc:
        assert "_FillValue" not in nc.variables["gap_flag"].ncattrs()
        assert "_FillValue" in nc.variables["lst"].ncattrs()
        assert file_days(nc) == days
    ds = xr.open_dataset(path)
    assert ds["gap_flag"].dtype == np.uint8  # not decoded to float
    np.testing.assert_array_equal(ds["gap_flag"].values, flag)
    np.testing.assert_array_equal(ds["lst"].values, data)


def test_nan_into_a_float_variable_without_fill_is_an_error(tmp_path, grids):
    _, fine = grids
    spec = VarSpec("x", ("lat", "lon"), fill_value=False)
    with (
        pytest.raises(ValueError, match="x: NaN values for a variable without a fill value"),
        GridFileWriter(tmp_path / "x.nc", fine, None, [spec]) as w,
    ):
        w.write("x", np.full(fine.shape, np.nan))
    assert list(tmp_path.iterdir()) == []


def test_chunk_nested_blocks_never_straddle_a_chunk_edge():
    assert [chunk_nested(n) for n in (1, 2, 3, 20, 40, 127)] == [1, 2, 2, 16, 32, 64]
    assert [chunk_nested(n) for n in (128, 200, 256, 2048, 3000)] == [128, 128, 256, 2048, 2944]
    for n in (1, 5, 20, 100, 128, 300, 2048):
        b = chunk_nested(n)
        assert b <= n and (CHUNK_CELLS % b == 0 or b % CHUNK_CELLS == 0)


def test_keep_block_chunks_is_a_blocks_chunks_whatever_the_region():
    chunk = 16 * CHUNK_CELLS * CHUNK_CELLS * 4  # one float32 chunk of a 16-day cube
    assert keep_block_chunks(256, 128, 16) == 2 * chunk
    assert keep_block_chunks(16, 32, 16) == chunk  # short blocks: the chunk they share
    assert keep_block_chunks(256, 2048, 16) == 2 * 16 * chunk


def test_chunk_aligned_rows():
    assert chunk_aligned_rows(256) == 256
    assert chunk_aligned_rows(300) == 2 * CHUNK_CELLS
    assert chunk_aligned_rows(CHUNK_CELLS) == CHUNK_CELLS
    assert chunk_aligned_rows(20) == 20  # smaller than a chunk: kept


def test_cube_block_rows_keeps_both_bounds():
    # resources.chunk_rows binds on a narrow region, the cell-day cap on a wide one
    assert cube_block_rows(20, 1_000_000, nlon=100, ndays=16) == 20
    assert cube_block_rows(256, 1_000_000, nlon=5475, ndays=16) == 11
    # a block of several chunks is rounded down to whole chunks
    assert cube_block_rows(300, 10**9, nlon=100, ndays=16) == 2 * CHUNK_CELLS
    # never below one row, however wide the period
    assert cube_block_rows(256, 1000, nlon=5475, ndays=16) == 1
    # the bound does not move with the region's height: rows only depend on its width
    assert cube_block_rows(20, 20_000_000, nlon=400, ndays=16) == 20


def test_a_chunk_row_cache_keeps_block_writes_exact(tmp_path, grids):
    """With netCDF's cache cut to one chunk row, a cube written and read back in blocks of
    rows smaller than a chunk equals the whole array (fine grid 100 x 100, 7-row blocks;
    a second chunk column when the grid is 200 wide)."""
    _, fine = grids
    days = [dt.date(2010, 4, 7) + dt.timedelta(days=i) for i in range(4)]
    data = np.random.default_rng(3).random((4, *fine.shape)).astype("f4")
    saved = netCDF4.get_chunk_cache()
    try:
        size = keep_one_chunk_row(fine.nlon, len(days))
        assert size == 4 * CHUNK_CELLS * fine.nlon * 4  # one chunk across 100 columns
        assert netCDF4.get_chunk_cache()[0] >= size
        assert keep_one_chunk_row(2 * CHUNK_CELLS + 1, 16) == 3 * 16 * CHUNK_CELLS**2 * 4
        keep_one_chunk_row(fine.nlon, len(days))
        path = tmp_path / "blocks.nc"
        spec = VarSpec("sm", ("time", "lat", "lon"))
        with GridFileWriter(path, fine, days, [spec]) as w:
            for r0 in range(0, fine.nlat, 7):
                rows = slice(r0, min(r0 + 7, fine.nlat))
                w.write("sm", data[:, rows], rows=rows)
        with netCDF4.Dataset(path) as nc:
            back = np.concatenate(
                [nc.variables["sm"][:, r0 : r0 + 7, :] for r0 in range(0, fine.nlat, 7)], axis=1
            )
    finally:
        netCDF4.set_chunk_cache(*saved)
    np.testing.assert_array_equal(back, data)


def test_file_days_without_time(tmp_path, grids):
    _, fine = grids
    with GridFileWriter(tmp_path / "s.nc", fine, None, [VarSpec("e", ("lat", "lon"))]) as w:
        w.write("e", np.zeros(fine.shape))
    with netCDF4.Dataset(tmp_path / "s.nc") as nc:
        assert file_days(nc) == []
