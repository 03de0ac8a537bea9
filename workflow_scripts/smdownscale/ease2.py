"""The EASE-Grid 2.0 global 36 km grid (SMAP L3) as a coarse grid of the workflow.

EASE-Grid 2.0 global (EPSG:6933) is a cylindrical equal-area projection, true scale at
30 deg: x depends on longitude alone and y on latitude alone. Its cells are therefore
rectangles in latitude and longitude: the columns are longitude bands of equal width
(360 / 964 deg), the rows latitude bands whose height shrinks toward the poles (about
0.33 deg at 40 N). :class:`Ease2Grid` is a window of that grid with the interface of
:class:`~smdownscale.grid.LatLonGrid` that the workflow uses (centres, bounds, cell lookup,
CF coordinates), so coarse files on it are ordinary CF files with irregular latitude
spacing and their bounds.

The fine grid stays the regular 0.01 deg lat/lon grid (METHOD.md section 1): each fine
cell belongs to the EASE2 cell holding its centre. :func:`ease2_region_grids` picks the
EASE2 cells covering the region and the fine cells whose centres lie in them, so every
coarse cell holds a whole block of fine cells (of 28-38 rows and 37-38 columns at
mid-latitudes, unequal); :func:`smdownscale.grid.block_map` turns the pair into the index
map (:mod:`smdownscale.blocks`).

Constants (checked against the real ``SMAP_L3_SM_P_20150401_R13080_001.h5`` by the SMAP
reader's tests): 964 columns x 406 rows of 36032.220840584 m; the north-west corner of
cell (0, 0) at x = -17367530.44516138 m, y = 7314540.830638 m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import xarray as xr
from pyproj import Transformer

from .grid import GridError, GridShape, LatLonGrid, bbox_message, cf_coords

EASE2_M36_NCOLS = 964
EASE2_M36_NROWS = 406
EASE2_M36_CELL_M = 36032.220840584
EASE2_M36_X0 = -17367530.44516138
EASE2_M36_Y0 = 7314540.830638
EASE2_CRS = "EPSG:6933"
#: Decimal places kept for derived coordinates (about 1 mm).
_ROUND = 8


@lru_cache(maxsize=2)
def _transformer(inverse: bool) -> Transformer:
    src, dst = (EASE2_CRS, "EPSG:4326") if inverse else ("EPSG:4326", EASE2_CRS)
    return Transformer.from_crs(src, dst, always_xy=True)


def ease2_xy(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EASE-Grid 2.0 x, y (m) of points (degrees)."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    x, y = _transformer(False).transform(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def ease2_latlon(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude (degrees) of EASE-Grid 2.0 points (m)."""
    lon, lat = _transformer(True).transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)


def _row_edges_lat(rows: np.ndarray) -> np.ndarray:
    """Latitude of the north edge of global EASE2 rows (``rows`` may be ``nrows``)."""
    y = EASE2_M36_Y0 - np.asarray(rows, dtype=np.float64) * EASE2_M36_CELL_M
    lat, _ = ease2_latlon(y, np.zeros_like(y))
    return np.round(lat, _ROUND)


def _col_edges_lon(cols: np.ndarray) -> np.ndarray:
    x = EASE2_M36_X0 + np.asarray(cols, dtype=np.float64) * EASE2_M36_CELL_M
    _, lon = ease2_latlon(np.zeros_like(x), x)
    return np.round(lon, _ROUND)


@dataclass(frozen=True)
class Ease2Grid(GridShape):
    """Rows ``row0:row1`` and columns ``col0:col1`` of the global EASE-Grid 2.0 36 km grid."""

    row0: int
    row1: int
    col0: int
    col1: int

    def __post_init__(self) -> None:
        if not (0 <= self.row0 < self.row1 <= EASE2_M36_NROWS):
            raise GridError(f"EASE2 rows {self.row0}:{self.row1} are not inside 0:406")
        if not (0 <= self.col0 < self.col1 <= EASE2_M36_NCOLS):
            raise GridError(f"EASE2 columns {self.col0}:{self.col1} are not inside 0:964")

    name = "EASE-Grid 2.0 global 36 km (EPSG:6933)"

    @property
    def nlat(self) -> int:
        return self.row1 - self.row0

    @property
    def nlon(self) -> int:
        return self.col1 - self.col0

    @property
    def rows(self) -> np.ndarray:
        """Global EASE2 row of each row of the window."""
        return np.arange(self.row0, self.row1)

    @property
    def cols(self) -> np.ndarray:
        return np.arange(self.col0, self.col1)

    @property
    def lat(self) -> np.ndarray:
        """Cell-centre latitudes, north to south (the centre of each row's y band)."""
        return _row_edges_lat(self.rows + 0.5)

    @property
    def lon(self) -> np.ndarray:
        return _col_edges_lon(self.cols + 0.5)

    @property
    def lat_bounds(self) -> np.ndarray:
        edges = _row_edges_lat(np.arange(self.row0, self.row1 + 1))
        return np.stack([edges[:-1], edges[1:]], axis=1)

    @property
    def lon_bounds(self) -> np.ndarray:
        edges = _col_edges_lon(np.arange(self.col0, self.col1 + 1))
        return np.stack([edges[:-1], edges[1:]], axis=1)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) outer edges."""
        lat, lon = self.lat_bounds, self.lon_bounds
        return (float(lon[0, 0]), float(lat[-1, 1]), float(lon[-1, 1]), float(lat[0, 0]))

    @property
    def north(self) -> float:
        return self.bbox[3]

    @property
    def south(self) -> float:
        return self.bbox[1]

    @property
    def west(self) -> float:
        return self.bbox[0]

    @property
    def east(self) -> float:
        return self.bbox[2]

    @property
    def res(self) -> float:
        """The largest cell side in degrees (a nominal resolution: rows vary)."""
        heights = -np.diff(self.lat_bounds, axis=1)
        return float(max(heights.max(), 360.0 / EASE2_M36_NCOLS))

    def grown(self, cells: int) -> Ease2Grid:
        """The window grown by ``cells`` EASE2 cells on every side (within the global grid)."""
        return Ease2Grid(
            max(0, self.row0 - cells),
            min(EASE2_M36_NROWS, self.row1 + cells),
            max(0, self.col0 - cells),
            min(EASE2_M36_NCOLS, self.col1 + cells),
        )

    def cell_index(
        self, lat: np.ndarray | float, lon: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Row and column (in the window) of the cell holding each point; -1 outside."""
        lat = np.asarray(lat, dtype=float)
        lon = np.asarray(lon, dtype=float)
        x, y = ease2_xy(lat, lon)
        with np.errstate(invalid="ignore"):
            row = np.floor(np.round((EASE2_M36_Y0 - y) / EASE2_M36_CELL_M, 9)) - self.row0
            col = np.floor(np.round((x - EASE2_M36_X0) / EASE2_M36_CELL_M, 9)) - self.col0
        inside = np.isfinite(row) & np.isfinite(col)
        inside &= (row >= 0) & (row < self.nlat) & (col >= 0) & (col < self.nlon)
        row = np.where(inside, row, -1).astype(np.int64)
        col = np.where(inside, col, -1).astype(np.int64)
        return row, col

    def coords(self) -> dict[str, xr.DataArray]:
        """CF coordinate variables (lat, lon) of the cell centres."""
        return cf_coords(
            self.lat,
            self.lon,
            "EASE-Grid 2.0 36 km cell centre",
            {
                "lat": {"comment": f"rows {self.row0}:{self.row1} of {self.name}"},
                "lon": {"comment": f"columns {self.col0}:{self.col1} of {self.name}"},
            },
        )

    def dataarray(self, values: np.ndarray, name: str, **attrs: object) -> xr.DataArray:
        if values.shape != self.shape:
            raise GridError(f"array shape {values.shape} is not the grid shape {self.shape}")
        return xr.DataArray(
            values, dims=("lat", "lon"), coords=self.coords(), name=name, attrs=attrs
        )


def ease2_cover(bbox: tuple[float, float, float, float]) -> Ease2Grid:
    """The EASE2 36 km cells that cover (west, south, east, north)."""
    west, south, east, north = bbox
    if not (-180 <= west < east <= 180 and -85.0 <= south < north <= 85.0):
        raise GridError(bbox_message(bbox, "EASE-Grid 2.0 36 km cell", 85))
    x, y = ease2_xy(np.array([south, north]), np.array([west, east]))
    c0 = math.floor(round((x[0] - EASE2_M36_X0) / EASE2_M36_CELL_M, 9))
    c1 = math.ceil(round((x[1] - EASE2_M36_X0) / EASE2_M36_CELL_M, 9))
    r0 = math.floor(round((EASE2_M36_Y0 - y[1]) / EASE2_M36_CELL_M, 9))
    r1 = math.ceil(round((EASE2_M36_Y0 - y[0]) / EASE2_M36_CELL_M, 9))
    return Ease2Grid(r0, r1, c0, min(c1, EASE2_M36_NCOLS))


def ease2_region_grids(
    bbox: tuple[float, float, float, float], fine_res: float
) -> tuple[Ease2Grid, LatLonGrid]:
    """Coarse EASE2 window covering ``bbox`` and the fine lat/lon grid whose cell centres
    lie in it (module docstring): every fine cell is in one coarse cell, every coarse cell
    holds at least one whole row and column of fine cells."""
    coarse = ease2_cover(bbox)
    return coarse, ease2_fine_grid(coarse, fine_res)


def ease2_fine_grid(coarse: Ease2Grid, fine_res: float) -> LatLonGrid:
    """The fine lat/lon grid (cells on multiples of ``fine_res``) whose cell centres lie in
    the EASE2 window ``coarse``."""
    half = fine_res / 2.0

    def snap(x: float, up: bool) -> float:
        k = x / fine_res
        k = math.ceil(round(k, 9)) if up else math.floor(round(k, 9))
        return float(np.round(k * fine_res, 10))

    # the first / last fine centre inside the window (a centre on the south or east edge
    # belongs to the next cell, as in cell_index)
    north = snap(coarse.north + half, up=False)
    south = float(np.round(snap(coarse.south - half, up=False) + fine_res, 10))
    west = snap(coarse.west - half, up=True)
    east = float(np.round(snap(coarse.east + half, up=True) - fine_res, 10))
    return LatLonGrid(north=north, south=south, west=west, east=east, res=fine_res)
