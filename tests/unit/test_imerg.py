"""IMERG daily reader, writer and regridding."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from smdownscale.demo.write_imerg import imerg_file_name, write_imerg
from smdownscale.grid import LatLonGrid, region_grids
from smdownscale.products.base import ProductError
from smdownscale.products.imerg import imerg_date, imerg_to_grid, read_imerg

DAY = dt.date(2010, 7, 1)
#: A 0.1 deg window as GES DISC subsetting would return it (region plus margin).
WINDOW = LatLonGrid(north=42.0, south=39.0, west=99.0, east=103.0, res=0.1)
#: The region of interest inside the window.
BBOX = (100.0, 40.0, 102.0, 41.0)


def _field(grid: LatLonGrid, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = np.where(rng.random(grid.shape) < 0.4, rng.gamma(0.8, 8.0, grid.shape), 0.0)
    p[3, 5:9] = np.nan
    return p


@pytest.fixture()
def window_file(tmp_path: Path) -> tuple[Path, np.ndarray]:
    p = _field(WINDOW)
    path = write_imerg(tmp_path / imerg_file_name(DAY), DAY, p, grid=WINDOW)
    return path, p


def test_written_file_has_the_lon_major_layout(window_file) -> None:
    path, p = window_file
    with netCDF4.Dataset(path) as ds:
        var = ds["precipitation"]
        assert var.dimensions == ("time", "lon", "lat")
        assert var.dtype == np.float32 and var.units == "mm/day"
        assert var._FillValue == np.float32(-9999.9)
        lat = ds["lat"][:]
        assert lat[0] == pytest.approx(39.05) and lat[-1] == pytest.approx(41.95)
        assert ds["time"].bounds == "time_bnds"
        assert ds["precipitation_cnt"].dtype == np.int16
        # Cell (lat row 0 = northernmost in the project's layout) is the file's last lat.
        assert var[0, 0, -1] == np.float32(p[0, 0])
        assert var[0, 0, 0] == np.float32(p[-1, 0])
        assert ds.BeginDate == "2010-07-01"


def test_round_trip_whole_file(window_file) -> None:
    path, p = window_file
    da = read_imerg(path)
    assert da.dims == ("lat", "lon") and da.shape == WINDOW.shape
    np.testing.assert_allclose(da["lat"].values, WINDOW.lat)
    np.testing.assert_allclose(da["lon"].values, WINDOW.lon)
    np.testing.assert_array_equal(da.values, p.astype(np.float32))
    assert da.attrs["units"] == "mm/day"
    assert da["time"].values == np.datetime64(DAY)
    assert imerg_date(path) == DAY


def test_bbox_subset_with_margin(window_file) -> None:
    path, p = window_file
    da = read_imerg(path, bbox=BBOX, margin_deg=0.2)
    # Centres within [bbox - 0.2, bbox + 0.2]: lat 39.85..41.15, lon 99.85..102.15.
    assert da.shape == (14, 24)
    assert da["lat"].values[0] == pytest.approx(41.15) and da["lat"].values[-1] == pytest.approx(
        39.85
    )
    assert da["lon"].values[0] == pytest.approx(99.85)
    rows = slice(round((42.0 - 41.2) / 0.1), round((42.0 - 39.8) / 0.1))
    cols = slice(round((99.8 - 99.0) / 0.1), round((102.2 - 99.0) / 0.1))
    np.testing.assert_array_equal(da.values, p[rows, cols].astype(np.float32))


def test_any_orientation_and_v06_names(tmp_path: Path) -> None:
    """A lat-major, lat-descending file with V06 names and mm/hr units reads the same."""
    p = _field(WINDOW, seed=3)
    path = tmp_path / "3B-DAY.MS.MRG.3IMERG.20100701-S000000-E235959.V06.nc4"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", 1)
        ds.createDimension("lat", WINDOW.nlat)
        ds.createDimension("lon", WINDOW.nlon)
        ds.createVariable("lat", "f4", ("lat",))[:] = WINDOW.lat
        ds.createVariable("lon", "f4", ("lon",))[:] = WINDOW.lon
        v = ds.createVariable("precipitationCal", "f4", ("time", "lat", "lon"), fill_value=-9999.9)
        v.units = "mm/hr"
        v[:] = np.where(np.isfinite(p), p / 24.0, -9999.9)[None]
    da = read_imerg(path)
    np.testing.assert_allclose(da.values, p, rtol=1e-6)
    np.testing.assert_array_equal(np.isnan(da.values), np.isnan(p))
    assert da.attrs["source_variable"] == "precipitationCal"
    assert da["time"].values == np.datetime64(DAY)  # no time variable: from the name


def test_bilinear_reproduces_a_linear_field(window_file, tmp_path: Path) -> None:
    lat2, lon2 = np.meshgrid(WINDOW.lat, WINDOW.lon, indexing="ij")
    p = 2.0 + 0.5 * (lat2 - 39.0) + 0.25 * (lon2 - 99.0)
    path = write_imerg(tmp_path / "linear" / imerg_file_name(DAY), DAY, p, grid=WINDOW)
    _, fine = region_grids(BBOX, 0.25, 0.01)
    out = imerg_to_grid(read_imerg(path, bbox=fine.bbox), fine, "bilinear")
    flat, flon = np.meshgrid(fine.lat, fine.lon, indexing="ij")
    np.testing.assert_allclose(out, 2.0 + 0.5 * (flat - 39.0) + 0.25 * (flon - 99.0), rtol=1e-5)


def test_conservative_preserves_the_0p1_means(window_file) -> None:
    path, p = window_file
    _, fine = region_grids(BBOX, 0.25, 0.01)
    da = read_imerg(path, bbox=fine.bbox)
    out = imerg_to_grid(da, fine, "conservative")
    assert out.dtype == np.float32 and out.shape == fine.shape
    # Each 0.1 deg cell of the bbox holds 10 x 10 fine cells; their mean is the source value.
    means = out.reshape(10, 10, 20, 10).mean(axis=(1, 3))
    src = p[round((42.0 - 41.0) / 0.1) : round((42.0 - 40.0) / 0.1), 10:30]
    np.testing.assert_allclose(means, src, rtol=1e-5, atol=1e-6)
    assert np.nanmin(out) >= 0.0
    # Not piecewise constant where the neighbourhood is complete: the shape is bilinear.
    wet = np.isfinite(src) & (src > 0)
    blocks = out.reshape(10, 10, 20, 10).transpose(0, 2, 1, 3).reshape(10, 20, 100)
    assert np.any(np.nanstd(blocks[wet], axis=1) > 0)


def test_conservative_keeps_nan_and_mass_next_to_gaps(window_file) -> None:
    path, p = window_file
    # Window row 3 (lat 41.6-41.7) is NaN in columns 5-8 (lon 99.5-99.9).
    cover = LatLonGrid(north=41.8, south=41.6, west=99.5, east=100.0, res=0.01)
    out = imerg_to_grid(read_imerg(path, bbox=cover.bbox), cover, "conservative")
    assert np.all(np.isnan(out[10:, :40]))
    assert np.all(np.isfinite(out[10:, 40:])) and np.all(np.isfinite(out[:10]))
    means = out.reshape(2, 10, 5, 10).mean(axis=(1, 3))
    np.testing.assert_allclose(means, p[2:4, 5:10], rtol=1e-5, atol=1e-6)


def test_bilinear_nan_does_not_leak(window_file) -> None:
    path, p = window_file
    grid = LatLonGrid(north=41.8, south=41.6, west=99.5, east=100.0, res=0.01)
    out = imerg_to_grid(read_imerg(path, bbox=grid.bbox), grid, "bilinear")
    # Fine centres inside the NaN source cells (window row 3 = lat 41.6..41.7, cols 5..8).
    assert np.all(np.isnan(out[10:, 0:40]))


def test_bbox_outside_file_is_a_product_error(window_file) -> None:
    path, _ = window_file
    with pytest.raises(ProductError, match="not the bbox") as err:
        read_imerg(path, bbox=(110.0, 40.0, 111.0, 41.0))
    assert str(path) in str(err.value)


def test_missing_variable_and_garbage_are_product_errors(tmp_path: Path) -> None:
    path = tmp_path / imerg_file_name(DAY)
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("lat", 3)
        ds.createVariable("rain", "f4", ("lat",))
    with pytest.raises(ProductError, match="no precipitation variable") as err:
        read_imerg(path)
    assert str(path) in str(err.value)
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(ProductError, match="not a readable NetCDF file"):
        read_imerg(path)


def test_unknown_method(window_file) -> None:
    path, _ = window_file
    grid = LatLonGrid(north=41.0, south=40.0, west=100.0, east=101.0, res=0.01)
    with pytest.raises(ValueError, match="unknown IMERG regrid method"):
        imerg_to_grid(read_imerg(path, bbox=grid.bbox), grid, "nearest")  # type: ignore[arg-type]
