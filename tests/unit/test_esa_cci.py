"""ESA CCI SM reader and demo writer: real-file conformance, round trips, flags, bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from smdownscale.demo.write_esa_cci import REAL_COMPLEVEL, esa_cci_file_name, write_esa_cci
from smdownscale.grid import GridError, LatLonGrid, global_grid
from smdownscale.products.base import ProductError
from smdownscale.products.esa_cci import (
    ALL_FLAGS,
    BARREN_GROUND_BIT,
    DEFAULT_MASK_FLAGS,
    FLAG_BITS,
    esa_cci_date,
    esa_cci_version,
    read_esa_cci,
    resolve_mask_flags,
)

REAL_NAME = "ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100701000000-fv04.5.nc"
#: Valid ``sm`` cells in the real 2010-07-01 v04.5 image (counted with netCDF4 directly).
REAL_VALID = 164_073
DAY = dt.date(2010, 7, 1)
REGION = LatLonGrid(north=50.25, south=33.5, west=73.25, east=128.0, res=0.25)


@pytest.fixture(scope="module")
def real_file(realdata: Path) -> Path:
    path = realdata / "esa_cci" / REAL_NAME
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="module")
def real_global(real_file: Path):
    return read_esa_cci(real_file, mask_flags=0)


@pytest.mark.realdata
def test_real_image_counts_range_and_coords(real_file: Path, real_global) -> None:
    sm = real_global["sm"]
    assert sm.dims == ("time", "lat", "lon")
    assert sm.shape == (1, 720, 1440)
    assert sm.dtype == np.float32
    valid = np.isfinite(sm.values)
    assert int(valid.sum()) == REAL_VALID
    assert sm.values[valid].min() >= 0.0 and sm.values[valid].max() <= 1.0
    lat = real_global["lat"].values
    assert lat[0] == pytest.approx(89.875) and lat[-1] == pytest.approx(-89.875)
    assert np.all(np.diff(lat) < 0)
    assert real_global["lon"].values[0] == pytest.approx(-179.875)
    assert np.issubdtype(real_global["time"].dtype, np.datetime64)
    assert real_global["time"].values[0] == np.datetime64("2010-07-01")
    assert real_global.attrs["product_version"] == "04.5"
    # Raw flag: int8 with 127 as fill; every valid v04.5 cell has flag 0.
    flag = real_global["flag"].values
    assert flag.dtype == np.int8
    assert set(np.unique(flag[valid])) == {0}
    assert int((flag == 127).sum()) == 821_384
    assert "sm_uncertainty" in real_global
    assert int(np.isfinite(real_global["sm_uncertainty"].values).sum()) == 155_515


@pytest.mark.realdata
def test_real_image_default_mask(real_file: Path) -> None:
    masked = read_esa_cci(real_file)
    n = int(np.isfinite(masked["sm"].values).sum())
    print(f"valid sm cells with the default mask ({DEFAULT_MASK_FLAGS}): {n}")
    # v04.5 sets no flag bit on cells with a valid sm, so the default mask drops nothing.
    assert n == REAL_VALID
    assert masked["sm"].attrs["mask_flags"] == DEFAULT_MASK_FLAGS


@pytest.mark.realdata
def test_real_regional_read_equals_global_slice(real_file: Path, real_global) -> None:
    region = read_esa_cci(real_file, REGION, mask_flags=0)
    rows, cols = global_grid(0.25).subgrid(REGION)
    assert region["sm"].shape == (1, REGION.nlat, REGION.nlon)
    np.testing.assert_array_equal(region["sm"].values, real_global["sm"].values[:, rows, cols])
    np.testing.assert_array_equal(region["flag"].values, real_global["flag"].values[:, rows, cols])
    np.testing.assert_allclose(region["lat"].values, REGION.lat)
    assert int(np.isfinite(region["sm"].values).sum()) == 10_124


@pytest.mark.realdata
def test_writer_reproduces_real_structure(real_file: Path, real_global, tmp_path: Path) -> None:
    """The demo writer, fed the real image's values, gives the real file's structure and data."""
    src = netCDF4.Dataset(real_file)
    src.set_auto_maskandscale(False)
    companions = {n: src[n][0] for n in ("t0", "dnflag", "freqbandID", "mode", "sensor")}
    out = tmp_path / REAL_NAME
    write_esa_cci(
        out,
        DAY,
        real_global["sm"].values[0],
        real_global["flag"].values[0],
        version="04.5",
        sm_uncertainty=real_global["sm_uncertainty"].values[0],
        **companions,
    )
    with netCDF4.Dataset(out) as new:
        new.set_auto_maskandscale(False)
        assert new.data_model == src.data_model == "NETCDF4_CLASSIC"
        assert {k: len(v) for k, v in new.dimensions.items()} == {
            k: len(v) for k, v in src.dimensions.items()
        }
        assert list(new.variables) == list(src.variables)
        assert new.ncattrs() == src.ncattrs()
        assert new.product_version == "04.5"
        for name, a in src.variables.items():
            b = new[name]
            assert (b.dtype, b.dimensions, b.chunking()) == (a.dtype, a.dimensions, a.chunking())
            assert b.ncattrs() == a.ncattrs(), name
            for attr in a.ncattrs():
                np.testing.assert_array_equal(b.getncattr(attr), a.getncattr(attr), err_msg=name)
            fa, fb = a.filters(), b.filters()
            assert (fb["zlib"], fb["shuffle"]) == (fa["zlib"], fa["shuffle"]) == (True, True)
            assert fa["complevel"] == REAL_COMPLEVEL
            np.testing.assert_array_equal(b[:], a[:], err_msg=name)
    src.close()


def _synthetic(grid: LatLonGrid, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sm = rng.uniform(0.02, 0.5, grid.shape)
    sm[rng.random(grid.shape) < 0.2] = np.nan
    flag = np.where(np.isfinite(sm), 0, 127)
    return sm, flag


def test_round_trip_regional(tmp_path: Path) -> None:
    grid = LatLonGrid(north=42.0, south=40.0, west=100.0, east=103.0, res=0.25)
    sm, flag = _synthetic(grid)
    sm[0, 0] = 1.2  # outside [0, 1]: written as is, masked on reading
    unc = np.where(np.isfinite(sm), 0.04, np.nan)
    path = write_esa_cci(
        tmp_path / esa_cci_file_name(DAY, "08.1"), DAY, sm, flag, grid=grid, sm_uncertainty=unc
    )
    assert esa_cci_date(path) == DAY and esa_cci_version(path) == "08.1"
    ds = read_esa_cci(path, grid, mask_flags=0)
    expected = np.where(sm > 1, np.nan, sm).astype(np.float32)
    np.testing.assert_array_equal(ds["sm"].values[0], expected)
    np.testing.assert_array_equal(ds["flag"].values[0], flag)
    np.testing.assert_allclose(ds["sm_uncertainty"].values[0], unc.astype(np.float32))
    assert ds["time"].values[0] == np.datetime64(DAY)
    assert ds.attrs["product_version"] == "08.1"
    # Outside the region the global image is fill, and the global read sees that.
    glob = read_esa_cci(path, mask_flags=0)
    assert int(np.isfinite(glob["sm"].values).sum()) == int(np.isfinite(expected).sum())
    assert int((glob["flag"].values == 127).sum()) == 720 * 1440 - int((flag != 127).sum())


def test_flag_masking_by_bit(tmp_path: Path) -> None:
    grid = LatLonGrid(north=10.0, south=9.0, west=0.0, east=1.0, res=0.25)
    sm = np.full(grid.shape, 0.3)
    flag = np.zeros(grid.shape, dtype=int)
    flag[0, 0] = 1  # snow / frozen
    flag[0, 1] = 2 | 16  # dense vegetation + low weight
    flag[0, 2] = BARREN_GROUND_BIT  # advisory only
    flag[0, 3] = 32 | BARREN_GROUND_BIT
    path = write_esa_cci(tmp_path / esa_cci_file_name(DAY, "08.1"), DAY, sm, flag, grid=grid)
    with netCDF4.Dataset(path) as ds:
        meanings = ds["flag"].flag_meanings.split()
        assert dict(zip(ds["flag"].flag_values.tolist(), meanings, strict=True))[64] == (
            "barren_ground_advisory_flag"
        )

    def valid(mask: int) -> np.ndarray:
        return np.isfinite(read_esa_cci(path, grid, mask_flags=mask)["sm"].values[0, 0])

    np.testing.assert_array_equal(valid(DEFAULT_MASK_FLAGS), [False, False, True, False])
    np.testing.assert_array_equal(valid(0), [True, True, True, True])
    np.testing.assert_array_equal(valid(resolve_mask_flags([64])), [True, True, False, False])
    np.testing.assert_array_equal(valid(resolve_mask_flags([2])), [True, False, True, True])
    np.testing.assert_array_equal(valid(resolve_mask_flags("all")), [False, False, False, False])
    assert int(np.isfinite(read_esa_cci(path, grid)["sm"].values).sum()) == grid.size - 3


def test_resolve_mask_flags() -> None:
    assert DEFAULT_MASK_FLAGS == 63 == ALL_FLAGS & ~BARREN_GROUND_BIT
    assert resolve_mask_flags("all_but_barren") == 63
    assert resolve_mask_flags("all") == 127 == sum(FLAG_BITS)
    assert resolve_mask_flags("none") == 0
    assert resolve_mask_flags([1, 2]) == 3
    assert resolve_mask_flags(["barren_ground", "dense_vegetation"]) == 66
    assert resolve_mask_flags(["snow_coverage_or_temperature_below_zero"]) == 1
    with pytest.raises(ValueError, match="3 is not an ESA CCI flag bit"):
        resolve_mask_flags([3])
    with pytest.raises(ValueError, match="128 is not an ESA CCI flag bit"):
        resolve_mask_flags([128])
    with pytest.raises(ValueError, match="unknown ESA CCI flag name"):
        resolve_mask_flags(["clouds"])


def test_v04_flag_table_is_the_enumerated_one(tmp_path: Path) -> None:
    grid = LatLonGrid(north=1.0, south=0.0, west=0.0, east=1.0, res=0.25)
    sm, flag = _synthetic(grid)
    path = write_esa_cci(tmp_path / "a.nc", DAY, sm, flag, version="04.5", grid=grid)
    with netCDF4.Dataset(path) as ds:
        assert ds["flag"].flag_values.tolist()[-2:] == [23, 127]
        assert ds["sensor"].dtype == np.int16
        assert ds["flag"].dtype == np.int8 and ds["flag"]._FillValue == 127


def test_date_from_name() -> None:
    assert esa_cci_date(REAL_NAME) == DAY
    with pytest.raises(ProductError, match="not an ESA CCI SM daily image name"):
        esa_cci_date("soil_moisture_20100701.nc")


def test_truncated_file_is_a_product_error(tmp_path: Path) -> None:
    sm, flag = _synthetic(global_grid(0.25))
    path = write_esa_cci(tmp_path / esa_cci_file_name(DAY, "08.1"), DAY, sm, flag)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ProductError, match="not a readable NetCDF file") as err:
        read_esa_cci(path)
    assert str(path) in str(err.value) and "download it again" in str(err.value)


def test_not_netcdf_is_a_product_error(tmp_path: Path) -> None:
    path = tmp_path / esa_cci_file_name(DAY, "08.1")
    path.write_text("<html>login required</html>")
    with pytest.raises(ProductError, match="not a readable NetCDF file") as err:
        read_esa_cci(path)
    assert err.value.path == str(path)


def test_missing_sm_is_a_product_error(tmp_path: Path) -> None:
    path = tmp_path / "no_sm.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("lat", 720)
        ds.createDimension("lon", 1440)
        ds.createVariable("soil_moisture", "f4", ("lat", "lon"))
    with pytest.raises(ProductError, match="no 'sm' variable") as err:
        read_esa_cci(path)
    assert str(path) in str(err.value) and "soil_moisture" in str(err.value)


def test_wrong_grid_is_a_product_error(tmp_path: Path) -> None:
    path = tmp_path / "half_degree.nc"
    half = global_grid(0.5)
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", 1)
        ds.createDimension("lat", half.nlat)
        ds.createDimension("lon", half.nlon)
        ds.createVariable("lat", "f4", ("lat",))[:] = half.lat
        ds.createVariable("lon", "f4", ("lon",))[:] = half.lon
        ds.createVariable("sm", "f4", ("time", "lat", "lon"), fill_value=-9999.0)[:] = 0.2
    with pytest.raises(ProductError, match="global 0.25 deg grid") as err:
        read_esa_cci(path)
    assert str(path) in str(err.value) and "360 values" in str(err.value)


def test_misaligned_region_is_a_grid_error(tmp_path: Path) -> None:
    # The region is checked before the file is opened.
    with pytest.raises(GridError, match="not aligned"):
        read_esa_cci(
            tmp_path / "never_opened.nc",
            LatLonGrid(north=10.1, south=9.1, west=0.0, east=1.0, res=0.25),
        )


def test_float_flags_with_nan_are_written_as_fill(tmp_path: Path) -> None:
    grid = LatLonGrid(north=1.0, south=0.0, west=0.0, east=0.5, res=0.25)
    sm = np.array([[0.1, np.nan], [0.2, 0.3], [0.4, 0.5], [np.nan, 0.6]])
    flag = np.array([[0.0, np.nan], [2.0, 0.0], [0.0, 64.0], [np.nan, 0.0]])
    path = write_esa_cci(tmp_path / "f.nc", DAY, sm, flag, grid=grid)
    ds = read_esa_cci(path, grid)
    np.testing.assert_array_equal(ds["flag"].values[0], [[0, 127], [2, 0], [0, 64], [127, 0]])
    np.testing.assert_array_equal(
        np.isfinite(ds["sm"].values[0]), [[True, False], [False, True], [True, True], [False, True]]
    )
