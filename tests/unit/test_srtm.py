"""SRTMGL3 tile reader/writer, block means across tile seams, slope and aspect."""

from __future__ import annotations

import itertools
import zipfile
from pathlib import Path

import numpy as np
import pytest

from smdownscale.demo.write_srtm import write_srtm_tile
from smdownscale.grid import LatLonGrid
from smdownscale.products.base import ProductError
from smdownscale.products.srtm import (
    EARTH_RADIUS_M,
    _keep_mask,
    read_srtm_tile,
    slope_aspect,
    srtm_to_grid,
)
from smdownscale.rawlayout import srtm

N = 1201


def _lattice(n_tiles_lat: int, n_tiles_lon: int) -> np.ndarray:
    """Shared sample lattice of a block of tiles: elev = col + 3 * row (metres)."""
    rows = np.arange(n_tiles_lat * 1200 + 1)[:, None]
    cols = np.arange(n_tiles_lon * 1200 + 1)[None, :]
    return (cols + 3 * rows).astype(np.float64)


def _write_block(
    root: Path, lattice: np.ndarray, north: int, west: int, skip: set[tuple[int, int]] = frozenset()
) -> list:
    """Write the tiles of ``lattice`` (north-west corner at north/west) and read them back."""
    tiles = []
    n_lat = (lattice.shape[0] - 1) // 1200
    n_lon = (lattice.shape[1] - 1) // 1200
    for i in range(n_lat):
        for j in range(n_lon):
            lat_s, lon_w = north - i - 1, west + j
            if (lat_s, lon_w) in skip:
                continue
            block = lattice[i * 1200 : i * 1200 + N, j * 1200 : j * 1200 + N]
            path = write_srtm_tile(root / srtm(lat_s, lon_w), lat_s, lon_w, block)
            tiles.append(read_srtm_tile(path))
    return tiles


def test_round_trip_and_layout(tmp_path: Path) -> None:
    y, x = np.mgrid[0:N, 0:N]
    elev = 1200.0 + 400.0 * np.sin(x / 97.0) * np.cos(y / 53.0) + 0.3 * x
    elev[10, 20] = np.nan
    elev[0, 0] = -12.4
    path = write_srtm_tile(tmp_path / srtm(39, 110), 39, 110, elev)
    assert path.name == "N39E110.SRTMGL3.hgt.zip"
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["N39E110.hgt"]
        raw = zf.read("N39E110.hgt")
    assert len(raw) == N * N * 2
    assert int.from_bytes(raw[:2], "big", signed=True) == -12  # big-endian int16, row 0 first
    tile = read_srtm_tile(path)
    assert tile.dims == ("lat", "lon") and tile.shape == (N, N) and tile.dtype == np.float32
    assert tile["lat"].values[0] == 40.0 and tile["lat"].values[-1] == 39.0
    assert tile["lon"].values[0] == 110.0 and tile["lon"].values[-1] == 111.0
    np.testing.assert_array_equal(np.isnan(tile.values), np.isnan(elev))
    np.testing.assert_array_equal(tile.values, np.rint(elev).astype(np.float32))
    assert (tile.attrs["lat_south"], tile.attrs["lon_west"]) == (39, 110)


def test_southern_western_names(tmp_path: Path) -> None:
    path = write_srtm_tile(tmp_path / srtm(-5, -72), -5, -72, np.zeros((N, N)))
    assert path.name == "S05W072.SRTMGL3.hgt.zip"
    tile = read_srtm_tile(path)
    assert tile["lat"].values[0] == -4.0 and tile["lon"].values[0] == -72.0


@pytest.mark.parametrize("skip", [set(), {(38, 111)}, {(39, 111)}, {(38, 110), (39, 111)}])
def test_block_mean_of_a_ramp_across_seams(tmp_path: Path, skip: set) -> None:
    """2 x 2 tiles (38-40 N, 110-112 E) of elev = col + 3 row; fine cells of 0.01 deg.

    A 0.01 deg cell holds 12 x 12 samples; cell (i, j) holds lattice rows 12i..12i+11 and
    columns 12j..12j+11 (a sample on a cell edge belongs to the cell south / east of it), so
    its mean is 12j + 5.5 + 3 (12i + 5.5). Counting a seam sample twice would pull the seam
    cells' means off that value.
    """
    lattice = _lattice(2, 2)
    tiles = _write_block(tmp_path, lattice, north=40, west=110, skip=skip)
    grid = LatLonGrid(north=40.0, south=38.0, west=110.0, east=112.0, res=0.01)
    out = srtm_to_grid(tiles, grid)
    i = np.arange(grid.nlat)[:, None]
    j = np.arange(grid.nlon)[None, :]
    expected = 12 * j + 5.5 + 3 * (12 * i + 5.5)
    for lat_s, lon_w in skip:
        rows = slice((40 - lat_s - 1) * 100, (40 - lat_s) * 100)
        cols = slice((lon_w - 110) * 100, (lon_w - 109) * 100)
        expected = expected.astype(float)
        expected[rows, cols] = np.nan
    # Cells of a missing tile get the shared edge samples of present neighbours, if any:
    # compare only where the expectation is defined.
    defined = np.isfinite(expected)
    np.testing.assert_allclose(out[defined], expected[defined], rtol=0, atol=1e-3)


def test_block_mean_on_a_coarser_unaligned_grid(tmp_path: Path) -> None:
    lattice = _lattice(1, 2)
    lattice[600, 1500] = np.nan  # a void
    tiles = _write_block(tmp_path, lattice, north=40, west=110)
    # 0.25 deg cells = 300 x 300 samples; the grid starts at 110.5, 39.25.
    grid = LatLonGrid(north=39.75, south=39.25, west=110.5, east=111.5, res=0.25)
    out = srtm_to_grid(tiles, grid)
    r0, c0 = 300, 600  # lattice row/col of the grid's north-west corner
    expected = np.empty(grid.shape)
    for a in range(grid.nlat):
        for b in range(grid.nlon):
            block = lattice[r0 + 300 * a : r0 + 300 * (a + 1), c0 + 300 * b : c0 + 300 * (b + 1)]
            expected[a, b] = np.nanmean(block)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert out[1, 3] != pytest.approx(300 * 3 + 149.5 + 600 + 3 * (300 + 149.5 + 300))


def test_cells_without_samples_are_nan(tmp_path: Path) -> None:
    _write_block(tmp_path, _lattice(1, 1), north=40, west=110)
    grid = LatLonGrid(north=40.0, south=39.0, west=110.5, east=111.5, res=0.25)
    out = srtm_to_grid([tmp_path / srtm(39, 110)], grid)  # a path: read inside
    assert np.all(np.isfinite(out[:, :3])) and np.all(np.isnan(out[:, 3]))
    # Column 2 (111.0-111.25 E) holds only the tile's east-edge samples at exactly 111 E,
    # which belong to the cell east of that edge: lattice column 1200, rows 300a..300a+299.
    np.testing.assert_allclose(out[:, 2], 1200 + 3 * (300 * np.arange(4) + 149.5))


@pytest.mark.parametrize("layout", ["2x2", "3x3"])
def test_keep_masks_count_every_lattice_point_once(layout: str) -> None:
    n = int(layout[0])
    corners = [(la, lo) for la in range(n) for lo in range(n)]
    subsets = [
        set(c) for k in range(1, len(corners) + 1) for c in itertools.combinations(corners, k)
    ]
    if n == 3:
        subsets = subsets[:: max(1, len(subsets) // 12)]
    for present in subsets:
        count = np.zeros((n * 1200 + 1, n * 1200 + 1), dtype=np.int8)
        covered = np.zeros_like(count, dtype=bool)
        for la, lo in present:
            r0 = (n - 1 - la) * 1200
            c0 = lo * 1200
            count[r0 : r0 + N, c0 : c0 + N] += _keep_mask(la, lo, present)
            covered[r0 : r0 + N, c0 : c0 + N] = True
        assert np.all(count[covered] == 1), sorted(present)
        assert np.all(count[~covered] == 0)


def test_slope_and_aspect_of_planes() -> None:
    grid = LatLonGrid(north=1.0, south=-1.0, west=10.0, east=12.0, res=0.01)
    lat2, lon2 = np.meshgrid(grid.lat, grid.lon, indexing="ij")
    rise = 0.05  # 5 m per 100 m
    north_up = rise * EARTH_RADIUS_M * np.deg2rad(lat2)
    slope, aspect = slope_aspect(north_up, grid)
    np.testing.assert_allclose(slope, np.degrees(np.arctan(rise)), rtol=1e-5)
    np.testing.assert_allclose(aspect, 180.0, atol=1e-6)  # rises to the north: faces south
    east_up = rise * EARTH_RADIUS_M * np.deg2rad(lon2 - 10.0) * np.cos(np.deg2rad(lat2))
    slope, aspect = slope_aspect(east_up, grid)
    np.testing.assert_allclose(slope, np.degrees(np.arctan(rise)), rtol=1e-3)
    np.testing.assert_allclose(aspect, 270.0, atol=0.1)  # rises to the east: faces west
    flat_slope, flat_aspect = slope_aspect(np.full(grid.shape, 300.0), grid)
    assert np.all(flat_slope == 0) and np.all(np.isnan(flat_aspect))


def test_wrong_size_hgt_is_a_product_error(tmp_path: Path) -> None:
    path = tmp_path / srtm(39, 110)
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("N39E110.hgt", b"\0" * (1200 * 1200 * 2))
    with pytest.raises(ProductError, match="2880000 bytes, not 2884802") as err:
        read_srtm_tile(path)
    assert str(path) in str(err.value)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("N39E110.hgt", b"\0" * (3601 * 3601 * 2))
    with pytest.raises(ProductError, match="SRTMGL1"):
        read_srtm_tile(path)


def test_zip_without_hgt_and_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "N39E110.SRTMGL3.hgt.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("README.txt", "nothing")
    with pytest.raises(ProductError, match=r"zip holds no \.hgt file \(members: README.txt\)"):
        read_srtm_tile(path)
    path.write_text("<html>Earthdata login</html>")
    with pytest.raises(ProductError, match="not a readable zip archive") as err:
        read_srtm_tile(path)
    assert err.value.path == str(path)
