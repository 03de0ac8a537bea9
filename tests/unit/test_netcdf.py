import datetime as dt

import numpy as np
import pytest
import xarray as xr

from smdownscale.grid import region_grids
from smdownscale.netcdf import GridFileWriter, VarSpec, open_grid_dataset, write_dataset


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
