"""Reader for SRTMGL3 elevation tiles (LP DAAC, 3 arc-second, 1 x 1 degree).

File: ``N39E110.SRTMGL3.hgt.zip``, a zip archive holding ``N39E110.hgt``. The ``.hgt`` is a
raw 1201 x 1201 grid of big-endian int16 elevations in metres (EGM96 geoid heights), row 0 at
latitude N+1 (north edge) and row 1200 at latitude N, column 0 at longitude E and column 1200
at E+1; samples are points 3 arc-seconds (1/1200 deg) apart, so the outermost rows and
columns are shared with the neighbouring tiles. Voids are -32768. The tile is named by its
south-west corner (``S`` / ``W`` for negative values).

Conventions: :func:`read_srtm_tile` returns float32 metres, NaN at voids, lat descending.
:func:`srtm_to_grid` averages the samples whose point falls in each fine cell (the cell
holding a point on an interior cell edge is the one south / east of it, as in
:meth:`LatLonGrid.cell_index`); a sample shared by two or four tiles is counted once (see
:func:`_keep_mask`), so tile seams carry no double weight. :func:`slope_aspect` gives slope
and aspect in degrees from centred differences with metric spacing on a sphere.
"""

from __future__ import annotations

import math
import re
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ..grid import LatLonGrid
from .base import REDOWNLOAD, ProductError, sniff

SRTM_SAMPLES = 1201
SRTM_VOID = -32768
#: Samples per degree (3 arc-seconds).
SRTM_PER_DEG = 1200
EARTH_RADIUS_M = 6371007.181
_TILE_RE = re.compile(r"([NS])(\d{2})([EW])(\d{3})")


def parse_tile_name(name: str) -> tuple[int, int]:
    """(lat_south, lon_west) of a tile name such as ``N39E110`` or ``S05W072.hgt``."""
    m = _TILE_RE.search(Path(name).name)
    if not m:
        raise ValueError(f"{name!r} does not contain an SRTM tile name like N39E110")
    lat = int(m.group(2)) * (1 if m.group(1) == "N" else -1)
    lon = int(m.group(4)) * (1 if m.group(3) == "E" else -1)
    return lat, lon


#: What to do with a file that is some other elevation product.
GET_SRTMGL3 = (
    "the workflow reads SRTMGL3 v003 tiles (3 arc-second .hgt in a zip) from LP DAAC: put "
    "{name} there"
)
#: Members of a DEM archive other than .hgt, and what they are.
_OTHER_DEM_MEMBERS = {
    (".tif", ".tiff"): "a GeoTIFF",
    (".bil", ".flt", ".adf", ".hdr"): "an ESRI grid",
    (".dt0", ".dt1", ".dt2"): "a DTED tile",
    (".asc",): "an ASCII grid",
    (".nc", ".nc4", ".h5"): "a NetCDF/HDF5 grid",
}


def _get(path: Path) -> str:
    """The advice for a file that is another product: fetch the SRTMGL3 tile of its name."""
    m = _TILE_RE.search(path.name)
    return GET_SRTMGL3.format(name=f"{m.group(0)}.SRTMGL3.hgt.zip" if m else "the SRTMGL3 tile")


def _which_dem(names: str) -> str:
    return "GMTED2010" if "gmted" in names.lower() else "another DEM (GMTED2010, ASTER, ...)"


def _tiff_shape(head: bytes) -> str:
    """``4800 x 3600 int16`` from a classic TIFF header (first IFD), '' when it cannot tell."""
    try:
        order = "<" if head[:2] == b"II" else ">"
        (ifd,) = struct.unpack_from(f"{order}I", head, 4)
        (count,) = struct.unpack_from(f"{order}H", head, ifd)
        tags: dict[int, int] = {}
        for i in range(count):
            entry = ifd + 2 + 12 * i
            tag, kind = struct.unpack_from(f"{order}HH", head, entry)
            (tags[tag],) = struct.unpack_from(order + ("H" if kind == 3 else "I"), head, entry + 8)
    except struct.error:
        return ""
    if 256 not in tags or 257 not in tags:
        return ""
    bits, fmt = tags.get(258, 0), {1: "uint", 2: "int", 3: "float"}.get(tags.get(339, 1), "")
    return f"{tags[256]} x {tags[257]}" + (f" {fmt}{bits}" if bits and fmt else "")


def _not_a_zip(path: Path, exc: Exception) -> ProductError:
    """What a ``.hgt.zip`` that is no zip really is, and what to do."""
    kind = sniff(path)
    if "TIFF" in kind:
        with open(path, "rb") as f:
            shape = _tiff_shape(f.read(65536))
        return ProductError(
            path,
            f"not a readable zip archive: it is a {shape + ' ' if shape else ''}GeoTIFF image, "
            f"a tile of {_which_dem(path.name)}, not an SRTMGL3 .hgt.zip",
            _get(path),
        )
    if kind == "an HTML page":
        return ProductError(
            path,
            "not a readable zip archive: it is an HTML page (a login or error page saved in "
            "place of the tile)",
            "check the Earthdata login or the URL, then delete it and download it again",
        )
    if kind == "empty":
        return ProductError(path, "not a readable zip archive: it is empty", REDOWNLOAD)
    if kind in ("unknown", "a zip archive"):
        return ProductError(
            path, f"not a readable zip archive ({exc}): it is cut short or damaged", REDOWNLOAD
        )
    return ProductError(
        path, f"not a readable zip archive: it is {kind}, not an SRTMGL3 .hgt.zip", _get(path)
    )


def _hgt_bytes(path: Path) -> tuple[bytes, str]:
    """The raw ``.hgt`` bytes and member name of a ``.hgt.zip`` (or a bare ``.hgt``)."""
    if path.suffix.lower() == ".hgt":
        return path.read_bytes(), path.name
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            members = [n for n in names if n.lower().endswith(".hgt")]
            if members:
                return zf.read(members[0]), members[0]
    except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as exc:
        raise _not_a_zip(path, exc) from None
    listed = ", ".join(names) or "none"
    for endings, what in _OTHER_DEM_MEMBERS.items():
        if any(n.lower().endswith(endings) for n in names):
            raise ProductError(
                path,
                f"zip holds no .hgt file (members: {listed}) but {what}: a tile of "
                f"{_which_dem(' '.join(names) + path.name)}, not SRTMGL3",
                _get(path),
            )
    raise ProductError(path, f"zip holds no .hgt file (members: {listed})", REDOWNLOAD)


def _size_problem(path: Path, member: str, size: int) -> ProductError:
    """Why ``size`` bytes are not an SRTMGL3 .hgt, from what the size tells."""
    expected = SRTM_SAMPLES * SRTM_SAMPLES * 2
    head = f"{member} has {size} bytes, not {expected} (1201 x 1201 int16)"
    for width, what in ((2, "int16"), (4, "4-byte (int32 or float32)")):
        n = math.isqrt(size // width)
        if size % width == 0 and n * n * width == size and n > 1:
            if width == 2 and n == 3601:
                return ProductError(
                    path,
                    f"{head}: a 3601 x 3601 grid, a 1 arc-second tile (SRTMGL1 or NASADEM), "
                    "not SRTMGL3",
                    _get(path),
                )
            if width == 2 or n == SRTM_SAMPLES:
                return ProductError(
                    path, f"{head}: a {n} x {n} grid of {what} values, another DEM's tile",
                    _get(path),
                )  # fmt: skip
    if size < expected:
        return ProductError(path, f"{head}: it is cut short", REDOWNLOAD)
    return ProductError(path, f"{head}: no square grid of int16 samples", _get(path))


def _byte_order_swapped(data: bytes) -> bool:
    """Whether the samples are far smoother read little-endian: terrain is smooth in the
    true byte order, while the swapped order puts each sample's low byte in its high byte."""
    be = np.frombuffer(data, dtype=">i2").reshape(SRTM_SAMPLES, SRTM_SAMPLES)
    le = np.frombuffer(data, dtype="<i2").reshape(SRTM_SAMPLES, SRTM_SAMPLES)
    ok = (be[:, 1:] != SRTM_VOID) & (be[:, :-1] != SRTM_VOID)
    if not ok.any():
        return False
    rough_be = np.abs(np.diff(be.astype(np.int32), axis=1))[ok].mean()
    rough_le = np.abs(np.diff(le.astype(np.int32), axis=1))[ok].mean()
    return bool(rough_be > 100 and rough_be > 10 * rough_le)


def read_srtm_tile(path: str | Path) -> xr.DataArray:
    """One SRTMGL3 tile as a (lat, lon) DataArray of float32 metres, NaN at voids.

    Coordinates are the sample points: lat N+1 ... N (descending), lon E ... E+1.
    Raises :class:`ProductError` naming the file and saying what it really is when the zip
    is unreadable (an HTML page, a GeoTIFF such as a GMTED2010 tile, cut short) or holds no
    ``.hgt`` (another DEM's GeoTIFF or grid), when the ``.hgt`` is not 1201 x 1201 int16
    (a 1 arc-second 3601 x 3601 tile, another grid, cut short) or is little-endian, and when
    its tile (the member's name) is not the one the file's name says.
    """
    path = Path(path)
    if not path.is_file():
        raise ProductError(path, "file not found", "download it or check raw/ paths")
    data, member = _hgt_bytes(path)
    if len(data) != SRTM_SAMPLES * SRTM_SAMPLES * 2:
        raise _size_problem(path, member, len(data))
    try:
        lat_south, lon_west = parse_tile_name(member)
    except ValueError:
        try:
            lat_south, lon_west = parse_tile_name(path.name)
        except ValueError:
            raise ProductError(path, f"no tile name like N39E110 in {member!r}") from None
    if _TILE_RE.search(path.name) and parse_tile_name(path.name) != (lat_south, lon_west):
        named = _TILE_RE.search(path.name).group(0)  # type: ignore[union-attr]
        raise ProductError(
            path,
            f"holds {member}, the tile at {lat_south}, {lon_west}, not {named} as its name says",
            f"a tile of another place saved under this name: delete it and download "
            f"{named}.SRTMGL3.hgt.zip again",
        )
    if _byte_order_swapped(data):
        raise ProductError(
            path,
            f"{member} reads as noise in big-endian order and smoothly little-endian: its "
            "samples are little-endian, not the big-endian int16 of SRTM .hgt (re-saved by "
            "another tool)",
            _get(path),
        )
    raw = np.frombuffer(data, dtype=">i2").reshape(SRTM_SAMPLES, SRTM_SAMPLES)
    elev = raw.astype(np.float32)
    elev[raw == SRTM_VOID] = np.nan
    steps = np.arange(SRTM_SAMPLES)
    return xr.DataArray(
        elev,
        dims=("lat", "lon"),
        coords={
            "lat": (lat_south + 1) - steps / SRTM_PER_DEG,
            "lon": lon_west + steps / SRTM_PER_DEG,
        },
        name="elevation",
        attrs={
            "units": "m",
            "long_name": "SRTMGL3 elevation above the EGM96 geoid",
            "lat_south": lat_south,
            "lon_west": lon_west,
            "source_file": str(path),
        },
    )


def _tile_corner(tile: xr.DataArray) -> tuple[int, int]:
    if "lat_south" in tile.attrs and "lon_west" in tile.attrs:
        return int(tile.attrs["lat_south"]), int(tile.attrs["lon_west"])
    return round(float(tile["lat"][-1])), round(float(tile["lon"][0]))


def _keep_mask(lat_s: int, lon_w: int, present: set[tuple[int, int]]) -> np.ndarray:
    """(1201, 1201) mask of the samples this tile contributes, so shared samples count once.

    Each lattice point is owned by the tile that has it in rows 0..1199 and columns 0..1199
    (its north-west-inclusive square). When the owner is absent, the next candidate is the
    tile north of the owner (point in its last row), then the one west (last column), then
    north-west (last corner). Seen from a tile T this means: its last row (except the corner)
    is dropped when the tile south of T is present; its last column (rows 1..1199) when the
    tile east is present; the top sample of the last column when the tile east or north-east
    is present; the corner when the tile south, east or south-east is present.
    """
    keep = np.ones((SRTM_SAMPLES, SRTM_SAMPLES), dtype=bool)
    south = (lat_s - 1, lon_w) in present
    east = (lat_s, lon_w + 1) in present
    north_east = (lat_s + 1, lon_w + 1) in present
    south_east = (lat_s - 1, lon_w + 1) in present
    last = SRTM_SAMPLES - 1
    if south:
        keep[last, :last] = False
    if east:
        keep[1:last, last] = False
    if east or north_east:
        keep[0, last] = False
    if south or east or south_east:
        keep[last, last] = False
    return keep


def srtm_to_grid(tiles: Sequence[xr.DataArray | str | Path], grid: LatLonGrid) -> np.ndarray:
    """Mean elevation (m, float32) of the SRTM samples falling in each cell of ``grid``.

    ``tiles`` are :func:`read_srtm_tile` results or tile paths (any number, any order); paths
    are read one at a time, so a large region never holds all its tiles in memory (a tile
    is 5.8 MB as float32). Samples shared by neighbouring tiles count once; voids are left
    out; cells without a sample are NaN.
    """
    total = np.zeros(grid.size)
    count = np.zeros(grid.size)
    corners = [
        _tile_corner(t) if isinstance(t, xr.DataArray) else parse_tile_name(str(t)) for t in tiles
    ]
    present = set(corners)
    if len(present) != len(corners):
        raise ValueError("the same SRTM tile was given twice")
    for item, (lat_s, lon_w) in zip(tiles, corners, strict=True):
        tile = item if isinstance(item, xr.DataArray) else read_srtm_tile(item)
        if _tile_corner(tile) != (lat_s, lon_w):
            raise ProductError(
                tile.attrs.get("source_file", str(item)),
                f"holds tile {_tile_corner(tile)}, not the one its name says ({lat_s}, {lon_w})",
            )
        lat = np.asarray(tile["lat"], dtype=np.float64)
        lon = np.asarray(tile["lon"], dtype=np.float64)
        row, _ = grid.cell_index(lat, np.full(lat.shape, grid.west + grid.res / 2))
        _, col = grid.cell_index(np.full(lon.shape, grid.north - grid.res / 2), lon)
        r_in = np.nonzero(row >= 0)[0]
        c_in = np.nonzero(col >= 0)[0]
        if r_in.size == 0 or c_in.size == 0:
            continue
        rs = slice(r_in[0], r_in[-1] + 1)
        cs = slice(c_in[0], c_in[-1] + 1)
        values = np.asarray(tile.values, dtype=np.float64)[rs, cs]
        keep = _keep_mask(lat_s, lon_w, present)[rs, cs]
        keep &= np.isfinite(values)
        keep &= (row[rs, None] >= 0) & (col[None, cs] >= 0)
        cell = row[rs, None] * grid.nlon + col[None, cs]
        total += np.bincount(cell[keep], weights=values[keep], minlength=grid.size)
        count += np.bincount(cell[keep], minlength=grid.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return np.where(count > 0, mean, np.nan).reshape(grid.shape).astype(np.float32)


def slope_aspect(elev: np.ndarray, grid: LatLonGrid) -> tuple[np.ndarray, np.ndarray]:
    """Slope and aspect (degrees) of a (lat, lon) elevation field in metres on ``grid``.

    Centred differences (one-sided at the edges) with the metric spacing of each row:
    dy = R * res, dx = R * cos(lat) * res (R = 6371007.181 m). Slope is 0 (flat) to 90;
    aspect is the compass direction the slope faces (downhill), 0 = north, 90 = east,
    NaN where the slope is 0. NaN elevations make their neighbours' values NaN.
    """
    elev = np.asarray(elev, dtype=np.float64)
    if elev.shape != grid.shape:
        raise ValueError(f"elevation of shape {elev.shape} does not match grid {grid.shape}")
    res_m = EARTH_RADIUS_M * np.deg2rad(grid.res)
    dy = res_m
    dx = res_m * np.cos(np.deg2rad(grid.lat))[:, None]
    dz_drow, dz_dcol = np.gradient(elev)
    dz_dnorth = -dz_drow / dy  # rows run north -> south
    dz_deast = dz_dcol / dx
    slope = np.degrees(np.arctan(np.hypot(dz_deast, dz_dnorth)))
    aspect = np.degrees(np.arctan2(-dz_deast, -dz_dnorth)) % 360.0
    aspect = np.where(slope > 0, aspect, np.nan)
    return slope.astype(np.float32), aspect.astype(np.float32)
