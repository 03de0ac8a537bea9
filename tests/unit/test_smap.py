"""SMAP L3 (SPL3SMP) reader and the EASE-Grid 2.0 36 km index of lat/lon grids."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from pyproj import Transformer

from smdownscale.grid import LatLonGrid
from smdownscale.products.base import ProductError
from smdownscale.products.smap import (
    EASE2_M36_CELL_M,
    EASE2_M36_NCOLS,
    EASE2_M36_NROWS,
    EASE2_M36_X0,
    EASE2_M36_Y0,
    ease2_index_of_grid,
    ease2_x,
    ease2_y,
    read_smap_l3,
    smap_date,
)

REAL_NAME = "SMAP_L3_SM_P_20150401_R13080_001.h5"
#: Valid soil_moisture cells in the real file (counted with h5py directly).
REAL_VALID = 35_278


@pytest.fixture(scope="module")
def real_file(realdata: Path) -> Path:
    path = realdata / "smap" / REAL_NAME
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="module")
def real(real_file: Path):
    return read_smap_l3(real_file)


@pytest.mark.realdata
def test_real_file_is_the_ease2_36km_grid(real) -> None:
    sm = real["soil_moisture"]
    assert sm.dims == ("y", "x") and sm.shape == (EASE2_M36_NROWS, EASE2_M36_NCOLS) == (406, 964)
    assert sm.dtype == np.float32
    valid = np.isfinite(sm.values)
    assert int(valid.sum()) == REAL_VALID
    assert float(np.nanmin(sm.values)) == pytest.approx(0.02)
    assert int(np.isfinite(real["latitude"].values).sum()) == 216_066
    assert real["retrieval_qual_flag"].dtype == np.uint16
    flags = real["retrieval_qual_flag"].values
    assert set(np.unique(flags[valid])) == {0, 1, 5}
    assert real.attrs["crs"] == "EPSG:6933"
    assert real["time"].values == np.datetime64("2015-04-01")
    # Cell-centre coordinates are symmetric and 36032.22 m apart.
    np.testing.assert_allclose(np.diff(real["x"].values), EASE2_M36_CELL_M)
    assert real["x"].values[0] == pytest.approx(-real["x"].values[-1])
    assert real["y"].values[0] == pytest.approx(-real["y"].values[-1])


@pytest.mark.realdata
def test_ease2_constants_reproduce_file_latlon(real) -> None:
    lat = real["latitude"].values.astype(np.float64)
    lon = real["longitude"].values.astype(np.float64)
    rows, cols = np.nonzero(np.isfinite(lat))
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:6933", always_xy=True).transform(
        lon[rows, cols], lat[rows, cols]
    )
    np.testing.assert_allclose(x, ease2_x()[cols], atol=0.01 * EASE2_M36_CELL_M)
    np.testing.assert_allclose(y, ease2_y()[rows], atol=0.01 * EASE2_M36_CELL_M)


@pytest.mark.realdata
def test_ease2_index_of_grid_agrees_with_file_cells(real) -> None:
    lat = real["latitude"].values
    lon = real["longitude"].values
    sm = real["soil_moisture"].values
    rows, cols = np.nonzero(np.isfinite(sm))
    pick = np.linspace(0, rows.size - 1, 12).astype(int)
    for r, c in zip(rows[pick], cols[pick], strict=True):
        # A one-cell 0.001 deg grid centred on the file's own cell centre ...
        la, lo = round(float(lat[r, c]), 4), round(float(lon[r, c]), 4)
        tiny = LatLonGrid(
            north=la + 0.0005, south=la - 0.0005, west=lo - 0.0005, east=lo + 0.0005, res=0.001
        )
        row, col = ease2_index_of_grid(tiny)
        assert (int(row[0, 0]), int(col[0, 0])) == (r, c)
    # ... and a 0.1 deg regional grid maps each cell to the EASE2 cell whose file centre is
    # within half a cell (in EASE2 metres) of it.
    grid = LatLonGrid(north=43.0, south=40.0, west=-96.0, east=-90.0, res=0.1)
    row, col = ease2_index_of_grid(grid)
    assert row.shape == col.shape == grid.shape and row.min() >= 0 and col.min() >= 0
    assert len(np.unique(row)) >= 8 and len(np.unique(col)) >= 16
    to_ease = Transformer.from_crs("EPSG:4326", "EPSG:6933", always_xy=True)
    lat2, lon2 = np.meshgrid(grid.lat, grid.lon, indexing="ij")
    fx, fy = to_ease.transform(lon2, lat2)
    ok = np.isfinite(lat[row, col])
    assert ok.sum() >= 300  # the swath covers about a fifth of this box on this day
    cx, cy = to_ease.transform(lon[row, col][ok].astype(float), lat[row, col][ok].astype(float))
    assert np.all(np.abs(fx[ok] - cx) <= EASE2_M36_CELL_M / 2 + 1)
    assert np.all(np.abs(fy[ok] - cy) <= EASE2_M36_CELL_M / 2 + 1)


def test_ease2_index_edges() -> None:
    # Beyond the grid's +-85.04 deg: -1.
    polar = LatLonGrid(north=88.0, south=86.0, west=0.0, east=1.0, res=0.5)
    assert np.all(ease2_index_of_grid(polar) == -1)
    # The west edge of the globe is column 0, the east edge column 963; the equator is
    # the edge between rows 202 and 203.
    band = LatLonGrid(north=0.5, south=-0.5, west=-180.0, east=180.0, res=0.5)
    row, col = ease2_index_of_grid(band)
    assert col[0, 0] == 0 and col[0, -1] == 963
    assert row[0, 0] == 202 and row[1, 0] == 203
    assert EASE2_M36_X0 == pytest.approx(-EASE2_M36_NCOLS / 2 * EASE2_M36_CELL_M)
    assert EASE2_M36_Y0 == pytest.approx(EASE2_M36_NROWS / 2 * EASE2_M36_CELL_M)


def _write_new_layout(path: Path, shape: tuple[int, int] = (406, 964)) -> np.ndarray:
    """A small stand-in for a version >= 4 file: AM and PM groups, ``_pm`` suffixes."""
    rng = np.random.default_rng(0)
    sm = rng.uniform(0.02, 0.5, shape).astype(np.float32)
    sm[rng.random(shape) < 0.5] = -9999.0
    lat = np.broadcast_to(np.float32(-9999.0), shape)
    with h5py.File(path, "w") as f:
        for group, sfx, values in (("AM", "", sm), ("PM", "_pm", sm[::-1])):
            g = f.create_group(f"Soil_Moisture_Retrieval_Data_{group}")
            g.create_dataset(f"soil_moisture{sfx}", data=values)
            g[f"soil_moisture{sfx}"].attrs["_FillValue"] = np.float32(-9999.0)
            g[f"soil_moisture{sfx}"].attrs["units"] = np.bytes_(b"cm**3/cm**3")  # as the real
            g.create_dataset(f"latitude{sfx}", data=lat)
            g.create_dataset(f"longitude{sfx}", data=lat)
    return sm


def test_am_pm_layout(tmp_path: Path) -> None:
    path = tmp_path / "SMAP_L3_SM_P_20200401_R17000_001.h5"
    sm = _write_new_layout(path)
    am = read_smap_l3(path, "AM")["soil_moisture"].values
    pm = read_smap_l3(path, "PM")["soil_moisture"].values
    expected = np.where(sm == -9999.0, np.nan, sm)
    np.testing.assert_array_equal(am, expected)
    np.testing.assert_array_equal(pm, expected[::-1])
    assert smap_date(path).isoformat() == "2020-04-01"


@pytest.mark.realdata
def test_pm_on_an_early_release_is_a_product_error(real_file: Path) -> None:
    with pytest.raises(ProductError, match="only the descending") as err:
        read_smap_l3(real_file, "PM")
    assert str(real_file) in str(err.value)


def test_bad_files(tmp_path: Path) -> None:
    wrong = tmp_path / "SMAP_L3_SM_P_E_20200401_R17000_001.h5"
    _write_new_layout(wrong, shape=(20, 30))
    with pytest.raises(ProductError, match=r"shape \(20, 30\), not \(406, 964\)") as err:
        read_smap_l3(wrong)
    assert str(wrong) in str(err.value)
    text = tmp_path / "SMAP_L3_SM_P_20200401_R17000_001.h5"
    text.write_text("not hdf5")
    with pytest.raises(ProductError, match="not a readable HDF5 file"):
        read_smap_l3(text)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_group("Geophysical_Data")
    with pytest.raises(ProductError, match="no Soil_Moisture_Retrieval_Data"):
        read_smap_l3(other)
