"""Harmonisation tasks by bands of rows: stitched, the bands give the whole day exactly.

One day of raw files in the real products' layouts over a region that crosses the MODIS
v04/v05 tile edge (40 N), with rain that varies from 0.1 deg cell to cell and gaps in every
product, regridded once as one band of the whole region and once in bands of a few rows.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from smdownscale import rawlayout
from smdownscale.demo.write_imerg import write_imerg
from smdownscale.demo.write_modis import write_mcd43c3, write_mod11a1, write_mod13a2
from smdownscale.grid import GridError, LatLonGrid
from smdownscale.harmonise_days import (
    Band,
    CompositeBand,
    DayBand,
    DayFiles,
    RegridComposite,
    RegridDay,
    halo_rows,
    row_bands,
    tiles_touching,
)
from smdownscale.products.mcd43c3 import CMG_SHAPE
from smdownscale.products.modis_sinusoidal import (
    read_mod11a1_lst,
    read_mod13a2_ndvi,
    regrid_tiles,
    tile_rows,
)

DAY = dt.date(2010, 4, 7)
COMPOSITE = dt.date(2010, 4, 7)
FINE = LatLonGrid(north=40.4, south=39.6, west=110.0, east=110.5, res=0.01)


@pytest.fixture(scope="module")
def day_files(tmp_path_factory) -> tuple[DayFiles, tuple[str, ...]]:
    root = tmp_path_factory.mktemp("raw")
    rng = np.random.default_rng(11)
    tiles = rawlayout.modis_tiles_for_bbox(FINE.bbox)
    assert len({v for _, v in tiles}) == 2  # the region crosses a tile edge
    lst, ndvi = [], []
    for h, v in tiles:
        values = rng.uniform(270, 320, (1200, 1200))
        qc = np.where(rng.random((1200, 1200)) < 0.2, 2, 0).astype(np.uint8)  # cloud
        lst.append(
            str(
                write_mod11a1(
                    root / rawlayout.modis_tile("MOD11A1", DAY, h, v), values, qc, h, v, DAY
                )
            )
        )
        nd = rng.uniform(0.1, 0.8, (1200, 1200))
        rel = np.where(rng.random((1200, 1200)) < 0.1, 3, 0).astype(np.int8)
        path = root / rawlayout.modis_tile("MOD13A2", COMPOSITE, h, v)
        ndvi.append(
            str(write_mod13a2(path, nd, rel, np.zeros((1200, 1200), np.uint16), h, v, COMPOSITE))
        )
    wsa = rng.uniform(0.1, 0.3, CMG_SHAPE)
    wsa[::11, ::5] = np.nan
    albedo = write_mcd43c3(root / rawlayout.mcd43c3(DAY), wsa, wsa * 0.9, DAY)
    window = LatLonGrid(north=42.0, south=38.0, west=108.0, east=112.0, res=0.1)
    rain = np.where(rng.random(window.shape) < 0.5, rng.gamma(0.8, 8.0, window.shape), 0.0)
    rain[17, 20:23] = np.nan
    imerg = write_imerg(root / rawlayout.imerg(DAY), DAY, rain, grid=window)
    return DayFiles(DAY, tuple(lst), str(albedo), str(imerg)), tuple(ndvi)


def whole(fine: LatLonGrid) -> Band:
    return Band(0, fine.nlat, 0, fine.nlat)


@pytest.mark.parametrize("method", ["bilinear", "conservative"])
def test_bands_of_a_day_equal_the_whole_day(day_files, method) -> None:
    files, _ = day_files
    task = RegridDay(FINE, "good", method)
    reference = task(DayBand(files, whole(FINE)))
    assert all(np.isfinite(f).mean() > 0.5 for f in reference.values())
    bands = row_bands(FINE.nlat, 7, halo_rows(FINE))  # edges inside 0.1 deg cells
    assert len(bands) == 12 and bands[1].outer_start == 0 and bands[2].outer_start == 14 - 11
    parts = [task(DayBand(files, b)) for b in bands]
    for name, field in reference.items():
        stitched = np.concatenate([part[name] for part in parts])
        np.testing.assert_array_equal(stitched, field, err_msg=name)


def test_conservative_bands_need_their_halo(day_files) -> None:
    """Without the halo, a band cuts 0.1 deg cells and their fine mean moves: the test
    above would fail."""
    files, _ = day_files
    task = RegridDay(FINE, "good", "conservative")
    reference = task(DayBand(files, whole(FINE)))["precipitation"]
    bare = np.concatenate(
        [task(DayBand(files, b))["precipitation"] for b in row_bands(FINE.nlat, 7, 0)]
    )
    assert not np.allclose(bare, reference, equal_nan=True)


def test_bands_of_a_composite_equal_the_whole_composite(day_files) -> None:
    _, ndvi = day_files
    task = RegridComposite(FINE, "good")
    reference = task(CompositeBand(ndvi, whole(FINE)))
    assert 0.5 < np.isfinite(reference).mean() < 1
    bands = row_bands(FINE.nlat, 25, halo_rows(FINE))
    stitched = np.concatenate([task(CompositeBand(ndvi, b)) for b in bands])
    np.testing.assert_array_equal(stitched, reference)


def test_a_band_reads_only_the_tiles_it_touches(day_files) -> None:
    files, _ = day_files
    north = FINE.rows(0, 20)  # 40.4-40.2 N: tile row v04 only
    kept = tiles_touching(files.lst, north)
    assert len(kept) == len(files.lst) // 2 and all("v04" in Path(p).name for p in kept)
    assert tiles_touching(["notagranule.hdf"], north) == ["notagranule.hdf"]


def test_row_bands_cover_every_row_once_and_stay_inside() -> None:
    bands = row_bands(100, 30, 5)
    assert [(b.start, b.stop) for b in bands] == [(0, 30), (30, 60), (60, 90), (90, 100)]
    assert [(b.outer_start, b.outer_stop) for b in bands] == [
        (0, 35),
        (25, 65),
        (55, 95),
        (85, 100),
    ]
    assert row_bands(10, 30, 5) == [Band(0, 10, 0, 10)]
    with pytest.raises(ValueError, match="band_rows"):
        row_bands(10, 0, 5)


def test_grid_rows_and_errors() -> None:
    band = FINE.rows(10, 30)
    assert band.shape == (20, FINE.nlon)
    np.testing.assert_array_equal(band.lat, FINE.lat[10:30])
    assert FINE.subgrid(band) == (slice(10, 30), slice(0, FINE.nlon))
    with pytest.raises(GridError, match="rows 30:10"):
        FINE.rows(30, 10)


def test_tile_rows_read_are_those_of_the_whole_tile(day_files) -> None:
    files, ndvi = day_files
    band = FINE.rows(30, 45)
    lats = (float(band.lat[-1]), float(band.lat[0]))
    for path in files.lst:
        full = read_mod11a1_lst(path)
        part = read_mod11a1_lst(path, lats=lats)
        rows = tile_rows(full.georef, lats)
        assert part.georef == full.georef and 0 < rows.stop - rows.start < 40
        np.testing.assert_array_equal(part.values[rows], full.values[rows])
        assert np.isnan(np.delete(part.values, np.r_[rows], axis=0)).all()
    # latitudes outside a tile (a band grazing its edge): one edge row, never none
    outside = read_mod11a1_lst(files.lst[0], lats=(10.0, 10.5))
    assert tile_rows(outside.georef, (10.0, 10.5)) == slice(1199, 1200)
    assert np.isnan(outside.values[:1199]).all()
    assert tile_rows(outside.georef, (80.0, 80.5)) == slice(0, 1)
    # the whole region's tasks (also reading rows) give what whole tiles give
    day = RegridDay(FINE, "good", "bilinear")(DayBand(files, whole(FINE)))
    expected = regrid_tiles([read_mod11a1_lst(p) for p in files.lst], FINE)
    np.testing.assert_array_equal(day["lst"], expected)
    composite = RegridComposite(FINE, "good")(CompositeBand(ndvi, whole(FINE)))
    expected = regrid_tiles([read_mod13a2_ndvi(p) for p in ndvi], FINE)
    np.testing.assert_array_equal(composite, expected)
