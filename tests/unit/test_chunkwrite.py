"""Chunks compressed on several threads and written directly read back exactly as written,
by netCDF4 and xarray, whatever the order and alignment of the writes."""

from __future__ import annotations

import datetime as dt
import zlib

import h5py
import netCDF4
import numpy as np
import pytest
import xarray as xr

from smdownscale.chunkwrite import deflate_level, shuffle_deflate
from smdownscale.grid import LatLonGrid
from smdownscale.netcdf import GridFileWriter, VarSpec

GRID = LatLonGrid(north=41.0, south=38.0, west=110.0, east=112.9, res=0.01)  # 300 x 290
DAYS = [dt.date(2010, 7, 1) + dt.timedelta(days=i) for i in range(5)]
SPECS = [
    VarSpec("sm", ("time", "lat", "lon"), "f4", {"units": "m3 m-3"}),
    VarSpec("flag", ("time", "lat", "lon"), "u1", {}, fill_value=False),
    VarSpec("elevation", ("lat", "lon"), "f4", {"units": "m"}),
]


def fields(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    sm = rng.uniform(0.02, 0.5, (len(DAYS), *GRID.shape)).astype(np.float32)
    sm[:, 40:60, 100:130] = np.nan  # a cloud: fill value in the file, NaN read back
    return {
        "sm": sm,
        "flag": rng.integers(0, 4, sm.shape).astype(np.uint8),
        "elevation": rng.normal(1200.0, 300.0, GRID.shape).astype(np.float32),
    }


def read_back(path) -> dict[str, np.ndarray]:
    with xr.open_dataset(path) as ds:
        return {name: ds[name].values for name in ("sm", "flag", "elevation")}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("block", [300, 128, 97, 25, 1])
def test_blocks_of_any_size_read_back_exactly(tmp_path, threads, block) -> None:
    want = fields()
    path = tmp_path / "cube.nc"
    with GridFileWriter(path, GRID, DAYS, SPECS, {"title": "t"}, threads=threads) as w:
        for r0 in range(0, GRID.nlat, block):
            rows = slice(r0, min(r0 + block, GRID.nlat))
            for name, values in want.items():
                w.write(name, values[..., rows, :], rows=rows)
        w.set_attrs(summary="written last")
    got = read_back(path)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])
    with netCDF4.Dataset(path) as nc:
        assert nc.summary == "written last" and nc.title == "t"
        assert nc["sm"].filters()["zlib"] and nc["sm"].filters()["shuffle"]
        assert nc["sm"].chunking() == [5, 128, 128]


@pytest.mark.parametrize("rows, cols", [(128, 128), (256, 128), (97, 60), (300, 1)])
def test_blocks_of_rows_and_columns_read_back_exactly(tmp_path, rows, cols) -> None:
    """Blocks written in any order; blocks of whole chunks leave no chunk waiting (the
    writer's memory is the block's, whatever the grid's width)."""
    want = fields(3)
    path = tmp_path / "cube.nc"
    blocks = [
        (slice(r0, min(r0 + rows, GRID.nlat)), slice(c0, min(c0 + cols, GRID.nlon)))
        for r0 in range(0, GRID.nlat, rows)
        for c0 in range(0, GRID.nlon, cols)
    ]
    order = np.random.default_rng(5).permutation(len(blocks))
    whole_chunks = rows % 128 == 0 and cols % 128 == 0
    with GridFileWriter(path, GRID, DAYS, SPECS, threads=2) as w:
        for k in order:
            r, c = blocks[k]
            for name, values in want.items():
                w.write(name, values[..., r, c], rows=r, cols=c)
            if whole_chunks:
                assert not w._chunks._pending
    got = read_back(path)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_rows_out_of_order_rewritten_and_single_days(tmp_path) -> None:
    want = fields(1)
    path = tmp_path / "cube.nc"
    with GridFileWriter(path, GRID, DAYS, SPECS, threads=2) as w:
        for r0 in (200, 0, 100):  # out of order, not chunk-aligned
            rows = slice(r0, r0 + 100)
            w.write("sm", np.zeros_like(want["sm"][..., rows, :]), rows=rows)  # then again:
            w.write("sm", want["sm"][..., rows, :], rows=rows)
        w.write("sm", want["sm"][..., 0:128, :] + 1, rows=slice(0, 128))  # after it went out
        w.write("sm", want["sm"][..., 0:128, :], rows=slice(0, 128))
        for i in range(len(DAYS)):  # one day at a time: through HDF5's own filters
            w.write("flag", want["flag"][i], time_index=i)
        np.testing.assert_array_equal(w.read("sm", slice(90, 140)), want["sm"][:, 90:140])
        w.write("elevation", want["elevation"][:150], rows=slice(0, 150))  # half never written
    got = read_back(path)
    np.testing.assert_array_equal(got["sm"], want["sm"])
    np.testing.assert_array_equal(got["flag"], want["flag"])
    np.testing.assert_array_equal(got["elevation"][:150], want["elevation"][:150])
    assert np.isnan(got["elevation"][150:]).all()  # unwritten rows read as fill


def test_writes_through_hdf5_are_never_overwritten_by_gathered_chunks(tmp_path) -> None:
    """A write that goes through HDF5's filters (it touches a chunk already written, or it
    is a single day) marks every chunk it touched as written: a later write to them goes
    through HDF5 too, instead of gathering them afresh from the fill value and putting
    that over what HDF5 wrote."""
    want = fields(4)["sm"]
    path = tmp_path / "cube.nc"
    with GridFileWriter(path, GRID, DAYS, SPECS, threads=2) as w:
        w.write("sm", want[..., 0:128, :], rows=slice(0, 128))  # chunk row 0: direct
        w.write("sm", want[..., 100:200, :], rows=slice(100, 200))  # through HDF5, half of row 1
        w.write("sm", want[..., 200:300, :], rows=slice(200, 300))  # rest of row 1 and row 2
        w.write("flag", fields(4)["flag"][0], time_index=0)  # day 0 through HDF5
        w.write("flag", fields(4)["flag"][:, :10], rows=slice(0, 10))  # every day, rows 0:10
    got = read_back(path)
    np.testing.assert_array_equal(got["sm"], want)
    flag = fields(4)["flag"]
    np.testing.assert_array_equal(got["flag"][0], flag[0])  # day 0 below row 10 kept
    np.testing.assert_array_equal(got["flag"][1:, :10], flag[1:, :10])


def test_a_failed_write_leaves_no_file(tmp_path) -> None:
    path = tmp_path / "cube.nc"
    with pytest.raises(RuntimeError), GridFileWriter(path, GRID, DAYS, SPECS, threads=2) as w:
        w.write("sm", fields()["sm"][..., :128, :], rows=slice(0, 128))
        raise RuntimeError("the job failed")
    assert not path.exists() and not list(tmp_path.iterdir())


def test_shuffle_deflate_is_what_hdf5_filters_decode(tmp_path) -> None:
    chunk = np.random.default_rng(2).normal(size=(3, 16, 8)).astype(np.float32)
    with h5py.File(tmp_path / "a.h5", "w") as f:
        d = f.create_dataset("x", shape=chunk.shape, dtype="f4", chunks=chunk.shape,
                             shuffle=True, compression="gzip", compression_opts=4)  # fmt: skip
        assert deflate_level(d) == 4
        d.id.write_direct_chunk((0, 0, 0), shuffle_deflate(chunk, 4), 0)
        np.testing.assert_array_equal(d[()], chunk)
        d[()] = chunk * 2  # and HDF5's own bytes decode as the same shuffled layout
        _, raw = d.id.read_direct_chunk((0, 0, 0))
        assert zlib.decompress(raw) == zlib.decompress(shuffle_deflate(chunk * 2, 4))
        plain = f.create_dataset("y", shape=(4, 4), dtype="f4", chunks=(2, 2), compression="gzip")
        assert deflate_level(plain) is None  # no shuffle: left to HDF5
