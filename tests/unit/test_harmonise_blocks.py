"""Harmonisation tasks by blocks of rows and columns: stitched, the blocks give the whole day
exactly.

One day of raw files in the real products' layouts over a region that crosses the MODIS
v04/v05 tile edge (40 N), with rain that varies from 0.1 deg cell to cell and gaps in every
product, regridded once as one block of the whole region and once in blocks of a few rows,
columns or both.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from smdownscale import rawlayout
from smdownscale.demo.write_imerg import write_imerg
from smdownscale.demo.write_modis import write_mcd43c3, write_mod11a1, write_mod13a2
from smdownscale.grid import GridError, LatLonGrid, region_grids
from smdownscale.harmonise_days import (
    CompositeBlock,
    DayBlock,
    DayFiles,
    RegridComposite,
    RegridDay,
    halo_cells,
    tiles_touching,
)
from smdownscale.netcdf import CHUNK_CELLS, GridFileWriter, VarSpec, chunk_nested
from smdownscale.products.mcd43c3 import CMG_SHAPE
from smdownscale.products.modis_sinusoidal import (
    read_mod11a1_lst,
    read_mod13a2_ndvi,
    regrid_tiles,
    tile_rows,
)
from smdownscale.tiling import Block, Span, cube_blocks, grid_blocks, spans

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


def whole(fine: LatLonGrid) -> Block:
    return grid_blocks(fine.nlat, fine.nlon, fine.nlat, fine.nlon, 0)[0]


def stitch(blocks: list[Block], parts: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    out = np.full(shape, -999.0, dtype=np.float32)
    for block, part in zip(blocks, parts, strict=True):
        assert part.shape == block.shape
        out[block.rows, block.cols] = part
    return out


@pytest.mark.parametrize("method", ["bilinear", "conservative"])
@pytest.mark.parametrize("rows, cols", [(7, FINE.nlon), (FINE.nlat, 9), (13, 17)])
def test_blocks_of_a_day_equal_the_whole_day(day_files, method, rows, cols) -> None:
    files, _ = day_files
    task = RegridDay(FINE, "good", method)
    reference = task(DayBlock(files, whole(FINE)))
    assert all(np.isfinite(f).mean() > 0.5 for f in reference.values())
    # edges inside 0.1 deg cells (10 fine cells), in rows, columns or both
    blocks = grid_blocks(FINE.nlat, FINE.nlon, rows, cols, halo_cells(FINE))
    assert len(blocks) == -(-FINE.nlat // rows) * -(-FINE.nlon // cols) > 1
    parts = [task(DayBlock(files, b)) for b in blocks]
    for name, field in reference.items():
        stitched = stitch(blocks, [part[name] for part in parts], FINE.shape)
        np.testing.assert_array_equal(stitched, field, err_msg=name)


@pytest.mark.parametrize("rows, cols", [(7, FINE.nlon), (FINE.nlat, 9)])
def test_conservative_blocks_need_their_halo(day_files, rows, cols) -> None:
    """Without the halo, a block cuts 0.1 deg cells and their fine mean moves: the test
    above would fail, across rows and across columns alike."""
    files, _ = day_files
    task = RegridDay(FINE, "good", "conservative")
    reference = task(DayBlock(files, whole(FINE)))["precipitation"]
    blocks = grid_blocks(FINE.nlat, FINE.nlon, rows, cols, 0)
    bare = stitch(blocks, [task(DayBlock(files, b))["precipitation"] for b in blocks], FINE.shape)
    assert not np.allclose(bare, reference, equal_nan=True)


def test_blocks_of_a_composite_equal_the_whole_composite(day_files) -> None:
    _, ndvi = day_files
    task = RegridComposite(FINE, "good")
    reference = task(CompositeBlock(ndvi, whole(FINE)))
    assert 0.5 < np.isfinite(reference).mean() < 1
    blocks = grid_blocks(FINE.nlat, FINE.nlon, 25, 20, halo_cells(FINE))
    stitched = stitch(blocks, [task(CompositeBlock(ndvi, b)) for b in blocks], FINE.shape)
    np.testing.assert_array_equal(stitched, reference)


def test_a_block_reads_only_the_tiles_it_touches(day_files) -> None:
    files, _ = day_files
    north = FINE.rows(0, 20)  # 40.4-40.2 N: tile row v04 only
    kept = tiles_touching(files.lst, north)
    assert len(kept) == len(files.lst) // 2 and all("v04" in Path(p).name for p in kept)
    assert tiles_touching(["notagranule.hdf"], north) == ["notagranule.hdf"]


def test_spans_cover_every_index_once_and_stay_inside() -> None:
    got = spans(100, 30, 5)
    assert [(s.start, s.stop) for s in got] == [(0, 30), (30, 60), (60, 90), (90, 100)]
    assert [(s.outer_start, s.outer_stop) for s in got] == [(0, 35), (25, 65), (55, 95), (85, 100)]
    assert [s.inner for s in got] == [slice(0, 30), slice(5, 35), slice(5, 35), slice(5, 15)]
    assert spans(10, 30, 5) == [Span(0, 10, 0, 10)]
    with pytest.raises(ValueError, match="span size"):
        spans(10, 0, 5)


def test_grid_blocks_tile_the_region_row_by_row() -> None:
    blocks = grid_blocks(50, 70, 20, 30, 3)
    assert [(b.rows, b.cols) for b in blocks[:4]] == [
        (slice(0, 20), slice(0, 30)),
        (slice(0, 20), slice(30, 60)),
        (slice(0, 20), slice(60, 70)),
        (slice(20, 40), slice(0, 30)),
    ]
    cover = np.zeros((50, 70), int)
    for b in blocks:
        cover[b.rows, b.cols] += 1
    assert len(blocks) == 9 and (cover == 1).all()
    middle = blocks[4]  # rows 20:40, columns 30:60, computed on 17:43 x 27:63
    region = LatLonGrid(north=40.0, south=39.5, west=110.0, east=110.7, res=0.01)
    window = middle.grid(region)
    assert window.shape == (26, 36)
    assert region.subgrid(window) == (slice(17, 43), slice(27, 63))
    field = np.arange(26 * 36).reshape(26, 36)
    np.testing.assert_array_equal(middle.cut(field), field[3:23, 3:33])


def test_blocks_shorter_than_a_chunk_go_column_by_column_within_a_row_of_chunks() -> None:
    """With the output's chunk rows given, a row of chunks is finished a few columns at a
    time, so the chunks waiting in the writer do not grow with the region's width."""
    ordered = grid_blocks(300, 400, 50, 100, 0, chunk_rows=128)
    assert sorted((b.rows.start, b.cols.start) for b in ordered) == sorted(
        (b.rows.start, b.cols.start) for b in grid_blocks(300, 400, 50, 100, 0)
    )
    assert [(b.rows.start, b.cols.start) for b in ordered[:6]] == [
        (0, 0), (50, 0), (100, 0), (0, 100), (50, 100), (100, 100),
    ]  # fmt: skip
    # blocks of whole chunk rows keep the order row by row
    assert grid_blocks(512, 400, 256, 100, 0, chunk_rows=128) == grid_blocks(512, 400, 256, 100, 0)

    def most_waiting(nlon: int, chunk_rows: int) -> int:
        grid = LatLonGrid(north=43.0, south=40.0, west=100.0, east=100.0 + nlon / 100, res=0.01)
        spec = [VarSpec("x", ("time", "lat", "lon"), "f4", {})]
        most = 0
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "x.nc"
            with GridFileWriter(out, grid, [DAY], spec) as w:
                for b in grid_blocks(300, nlon, chunk_nested(20), 128, 0, chunk_rows=chunk_rows):
                    w.write("x", np.ones((1, *b.shape), np.float32), rows=b.rows, cols=b.cols)
                    most = max(most, len(w._chunks._pending))
            with netCDF4.Dataset(out) as nc:
                assert (nc["x"][:] == 1).all()
        return most

    assert most_waiting(512, 128) == most_waiting(2048, 128) == 1
    assert most_waiting(2048, 0) == 16 > most_waiting(512, 0)  # row by row: a row of chunks


def test_windows_keep_the_whole_grids_cell_centres_at_any_resolution() -> None:
    """At 30 arc-seconds (1/120 deg) a grid rebuilt from a window's rounded edges has
    centres about 1e-10 deg off the whole grid's, enough to change bilinear weights in
    their last bit; a window takes its centres and bounds from the whole grid."""
    _, grid = region_grids((104.0, 39.5, 106.0, 40.5), 0.25, 1 / 120)
    rebuilt_differ = 0
    for b in grid_blocks(grid.nlat, grid.nlon, 13, 17, halo_cells(grid)):
        w, r, c = b.grid(grid), b.row_span, b.col_span
        np.testing.assert_array_equal(w.lat, grid.lat[r.outer_start : r.outer_stop])
        np.testing.assert_array_equal(w.lon, grid.lon[c.outer_start : c.outer_stop])
        np.testing.assert_array_equal(w.lon_bounds, grid.lon_bounds[c.outer_start : c.outer_stop])
        assert grid.subgrid(w) == (
            slice(r.outer_start, r.outer_stop),
            slice(c.outer_start, c.outer_stop),
        )
        rebuilt = LatLonGrid(north=w.north, south=w.south, west=w.west, east=w.east, res=w.res)
        rebuilt_differ += not np.array_equal(rebuilt.lon, w.lon)
    assert rebuilt_differ > 0  # what the window guards against happens at this resolution
    inner = grid.window(10, 50, 20, 90).window(3, 10, 5, 30)
    np.testing.assert_array_equal(inner.lat, grid.lat[13:20])
    np.testing.assert_array_equal(inner.lon, grid.lon[25:50])


def test_cube_blocks_keep_to_the_cell_days_and_never_become_slivers() -> None:
    # Three-North, default members.chunk_cells: 256 rows (two chunks) by one chunk
    assert cube_blocks(256, 1_000_000, 1675, 16) == (256, 128)
    assert cube_blocks(20, 8192, 50, 16) == (16, 32)  # the tiny CI world
    assert cube_blocks(256, 2_000_000, 40, 16) == (40, 3072)  # a region lower than a block
    # a small cap: fewer rows rather than a column or two of 256 rows
    rows, cols = cube_blocks(256, 1000, 1675, 16)
    assert cols >= 32 and rows * cols * 16 <= 1000 * 2
    for chunk_rows, cells in [(256, 10_000_000), (300, 200_000), (7, 5000), (128, 64)]:
        rows, cols = cube_blocks(chunk_rows, cells, 5000, 16)
        assert rows <= chunk_rows
        for n in (rows, cols):  # nested with the 128-cell chunks
            assert n % CHUNK_CELLS == 0 or CHUNK_CELLS % n == 0, (chunk_rows, cells, n)


def test_grid_rows_windows_and_errors() -> None:
    band = FINE.rows(10, 30)
    assert band.shape == (20, FINE.nlon)
    np.testing.assert_array_equal(band.lat, FINE.lat[10:30])
    assert FINE.subgrid(band) == (slice(10, 30), slice(0, FINE.nlon))
    window = FINE.window(10, 30, 5, 12)
    np.testing.assert_array_equal(window.lon, FINE.lon[5:12])
    np.testing.assert_array_equal(window.lat, FINE.lat[10:30])
    assert FINE.subgrid(window) == (slice(10, 30), slice(5, 12))
    assert FINE.window(0, FINE.nlat, 0, FINE.nlon) is FINE
    with pytest.raises(GridError, match="rows 30:10"):
        FINE.rows(30, 10)
    with pytest.raises(GridError, match="columns 0:51"):
        FINE.window(0, 5, 0, 51)


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
    day = RegridDay(FINE, "good", "bilinear")(DayBlock(files, whole(FINE)))
    expected = regrid_tiles([read_mod11a1_lst(p) for p in files.lst], FINE)
    np.testing.assert_array_equal(day["lst"], expected)
    composite = RegridComposite(FINE, "good")(CompositeBlock(ndvi, whole(FINE)))
    expected = regrid_tiles([read_mod13a2_ndvi(p) for p in ndvi], FINE)
    np.testing.assert_array_equal(composite, expected)
