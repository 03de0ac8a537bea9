"""MCD43C3 CMG albedo: writer/reader round trip, file layout, bilinear regridding, bad input."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest
from pyhdf.SD import SD, SDC

from smdownscale.demo.write_modis import write_mcd43c3
from smdownscale.grid import LatLonGrid
from smdownscale.products.base import ProductError
from smdownscale.products.mcd43c3 import (
    albedo_to_grid,
    blue_sky_albedo,
    cmg_lat,
    cmg_lon,
    cmg_window,
    read_mcd43c3_albedo,
)

# the region the synthetic albedo covers: rows 1000..1199 (40..30 N), cols 5000..5399 (70..90 E)
ROWS, COLS = slice(1000, 1200), slice(5000, 5400)
BBOX = (75.0, 33.0, 80.0, 37.0)  # west, south, east, north: well inside the patch


def _planes() -> tuple[np.ndarray, np.ndarray]:
    """White-/black-sky albedo linear in lat/lon on the patch, NaN (fill) elsewhere."""
    lat2, lon2 = np.meshgrid(cmg_lat()[ROWS], cmg_lon()[COLS], indexing="ij")
    wsa = np.full((3600, 7200), np.nan, dtype=np.float32)
    bsa = np.full((3600, 7200), np.nan, dtype=np.float32)
    wsa[ROWS, COLS] = 0.10 + 0.004 * (lat2 - 30.0) + 0.002 * (lon2 - 70.0)
    bsa[ROWS, COLS] = 0.08 + 0.003 * (lat2 - 30.0) + 0.001 * (lon2 - 70.0)
    return wsa, bsa


@pytest.fixture(scope="module")
def cmg_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wsa, bsa = _planes()
    bsa[1100, 5150] = np.nan  # one missing black-sky cell inside the region
    path = tmp_path_factory.mktemp("mcd43c3") / "MCD43C3.A2010009.061.hdf"
    return write_mcd43c3(path, wsa, bsa, dt.date(2010, 1, 9))


def test_round_trip_values_mask_and_coordinates(cmg_file: Path) -> None:
    wsa, bsa = _planes()
    bsa[1100, 5150] = np.nan
    ds = read_mcd43c3_albedo(cmg_file, bbox=BBOX, margin_deg=0.1)
    rows, cols = cmg_window(BBOX, 0.1)
    assert ds["wsa"].shape == ds["bsa"].shape == (rows.stop - rows.start, cols.stop - cols.start)
    # centres within bbox + margin: 37.075 .. 32.925 N and 74.925 .. 80.075 E
    assert ds.lat.values[0] == pytest.approx(37.075) and ds.lat.values[-1] == pytest.approx(32.925)
    assert ds.lon.values[0] == pytest.approx(74.925) and ds.lon.values[-1] == pytest.approx(80.075)
    for name, truth in (("wsa", wsa), ("bsa", bsa)):
        got = ds[name].values
        assert got.dtype == np.float32
        np.testing.assert_array_equal(np.isnan(got), np.isnan(truth[rows, cols]))
        assert np.nanmax(np.abs(got - truth[rows, cols])) <= 0.0005 + 1e-6  # 0.001 steps
    assert int(np.isnan(ds["bsa"].values).sum()) == 1


def test_whole_globe_read_keeps_fill_as_nan(cmg_file: Path) -> None:
    ds = read_mcd43c3_albedo(cmg_file)
    assert ds["wsa"].shape == (3600, 7200)
    assert ds.lat.values[0] == pytest.approx(89.975) and ds.lon.values[0] == pytest.approx(-179.975)
    assert int(np.isfinite(ds["wsa"].values).sum()) == 200 * 400
    assert np.isfinite(ds["wsa"].values[ROWS, COLS]).all()


def test_written_file_layout(cmg_file: Path) -> None:
    sd = SD(str(cmg_file))
    assert list(sd.datasets()) == ["Albedo_BSA_shortwave", "Albedo_WSA_shortwave"]
    sds = sd.select("Albedo_WSA_shortwave")
    assert sds.info()[2:4] == ([3600, 7200], SDC.INT16)
    assert list(sds.dimensions()) == ["YDim:MCD_CMG_BRDF_0.05Deg", "XDim:MCD_CMG_BRDF_0.05Deg"]
    attrs = sds.attributes()
    assert attrs["scale_factor"] == 0.001 and attrs["_FillValue"] == 32767
    assert attrs["valid_range"] == [0, 32766]
    assert sds.getcompress()[0] == SDC.COMP_DEFLATE
    text = sd.attributes()["StructMetadata.0"]
    assert len(text) == 32000
    assert 'GridName="MCD_CMG_BRDF_0.05Deg"' in text and "Projection=GCTP_GEO" in text
    assert re.search(r"XDim=7200\s+YDim=3600", text)
    assert cmg_file.stat().st_size < 1_000_000  # mostly fill: compression works


def test_albedo_to_grid_is_bilinear_blue_sky(cmg_file: Path) -> None:
    grid = LatLonGrid(north=37.0, south=33.0, west=75.0, east=80.0, res=0.01)
    ds = read_mcd43c3_albedo(cmg_file, bbox=grid.bbox)
    out = albedo_to_grid(ds, grid)
    assert out.dtype == np.float32 and out.shape == grid.shape
    lat2, lon2 = np.meshgrid(grid.lat, grid.lon, indexing="ij")
    wsa = 0.10 + 0.004 * (lat2 - 30.0) + 0.002 * (lon2 - 70.0)
    bsa = 0.08 + 0.003 * (lat2 - 30.0) + 0.001 * (lon2 - 70.0)
    expected = 0.5 * (wsa + bsa)
    # the missing black-sky CMG cell (34.975 N, 77.525 E) blanks the fine cells around it
    # (cells exactly one CMG spacing away sit on a bracket edge: either side is bilinear)
    dlat, dlon = np.abs(lat2 - 34.975), np.abs(lon2 - 77.525)
    assert np.isnan(out[(dlat < 0.049) & (dlon < 0.049)]).all()
    assert np.isfinite(out[(dlat > 0.051) | (dlon > 0.051)]).all()  # margin covers the edges
    assert np.isnan(out).sum() <= 11 * 11
    # bilinear reproduces a plane exactly: only the 0.001 quantisation remains
    assert np.nanmax(np.abs(out - expected)) <= 0.0005 + 1e-6


def test_blue_sky_is_mean_and_propagates_nan() -> None:
    out = blue_sky_albedo(np.array([0.2, np.nan, 0.3]), np.array([0.1, 0.1, np.nan]))
    assert out[0] == pytest.approx(0.15) and np.isnan(out[1:]).all()


def test_cmg_window_rejects_empty_and_clips_to_globe() -> None:
    rows, cols = cmg_window((179.0, 89.0, 180.0, 90.0), 0.1)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (0, 22, 7178, 7200)
    with pytest.raises(ValueError, match="west<east"):
        cmg_window((80.0, 30.0, 70.0, 40.0), 0.1)


def test_not_hdf4_and_missing_sds_raise_product_error(tmp_path: Path) -> None:
    text = tmp_path / "MCD43C3.A2010009.061.hdf"
    text.write_text("not an hdf file\n")
    with pytest.raises(ProductError, match="not a readable HDF4 file") as err:
        read_mcd43c3_albedo(text)
    assert str(text) in str(err.value)

    other = tmp_path / "other.hdf"
    sd = SD(str(other), SDC.WRITE | SDC.CREATE)
    sds = sd.create("Albedo_BSA_shortwave", SDC.INT16, (3600, 7200))
    sds.endaccess()
    sd.end()
    with pytest.raises(ProductError) as err:
        read_mcd43c3_albedo(other, bbox=BBOX)
    assert str(other) in str(err.value) and "'Albedo_WSA_shortwave'" in str(err.value)


def test_wrong_grid_shape_raises_product_error(tmp_path: Path) -> None:
    path = tmp_path / "MCD43C3.small.hdf"
    sd = SD(str(path), SDC.WRITE | SDC.CREATE)
    for name in ("Albedo_BSA_shortwave", "Albedo_WSA_shortwave"):
        sds = sd.create(name, SDC.INT16, (180, 360))
        sds[:] = np.zeros((180, 360), np.int16)
        sds.endaccess()
    sd.end()
    with pytest.raises(ProductError, match=r"shape \(180, 360\)") as err:
        read_mcd43c3_albedo(path, bbox=BBOX)
    assert str(path) in str(err.value)
