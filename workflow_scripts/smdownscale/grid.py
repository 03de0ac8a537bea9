"""Regular latitude/longitude grids, cell indexing and fine -> coarse aggregation.

Conventions (METHOD.md section 1):

* Grids are regular in EPSG:4326 and cell-centred. Latitude runs north -> south (descending),
  as in ESA CCI SM and in MODIS tiles; longitude runs west -> east.
* The fine grid's bounds are the configured bbox snapped *outward* to the coarse grid's cell
  edges, so that every coarse cell holds a whole ``factor x factor`` block of fine cells
  (25 x 25 for 0.25 deg / 0.01 deg).
* Positions are computed from integer cell counts, never by accumulating floats, so that
  the same grid is produced on every machine and cell edges line up exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import xarray as xr

from .blocks import Blocks, BlocksError, as_blocks, sub_rows

#: Decimal places used when rounding coordinates derived from integer cell counts.
_ROUND = 10

AggregationMethod = Literal["mean", "cubic", "nearest"]


class CoarseGrid(Protocol):
    """What the workflow needs of a coarse grid: :class:`LatLonGrid` or a rectilinear one
    such as :class:`smdownscale.ease2.Ease2Grid` (cell centres, bounds, lookup)."""

    @property
    def lat(self) -> np.ndarray: ...
    @property
    def lon(self) -> np.ndarray: ...
    @property
    def shape(self) -> tuple[int, int]: ...
    @property
    def bbox(self) -> tuple[float, float, float, float]: ...
    def cell_index(
        self, lat: np.ndarray | float, lon: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]: ...


class GridError(ValueError):
    """A grid or bounding box that cannot be used, with a message saying what to change."""


def cf_coords(
    lat: np.ndarray,
    lon: np.ndarray,
    what: str = "cell centre",
    extra: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, xr.DataArray]:
    """CF coordinate variables (lat, lon) of cell centres; ``extra`` adds attributes per
    coordinate (``{"lat": {...}, "lon": {...}}``)."""
    extra = extra or {}
    out = {}
    for name, values, std, units, axis in (
        ("lat", lat, "latitude", "degrees_north", "Y"),
        ("lon", lon, "longitude", "degrees_east", "X"),
    ):
        attrs = {"standard_name": std, "long_name": f"{std} of {what}", "units": units}
        attrs.update(axis=axis, **extra.get(name, {}))
        out[name] = xr.DataArray(values, dims=name, attrs=attrs)
    return out


class GridShape:
    """Shape, size and point membership of a grid from its ``nlat``, ``nlon`` and
    ``cell_index`` (shared by :class:`LatLonGrid` and the EASE2 grid)."""

    nlat: int
    nlon: int

    def cell_index(
        self, lat: np.ndarray | float, lon: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, int]:
        return (self.nlat, self.nlon)

    @property
    def size(self) -> int:
        return self.nlat * self.nlon

    def contains(self, lat: np.ndarray | float, lon: np.ndarray | float) -> np.ndarray:
        row, _ = self.cell_index(lat, lon)
        return row >= 0


@dataclass(frozen=True)
class LatLonGrid(GridShape):
    """A regular, cell-centred lat/lon grid described by its outer edges and resolution.

    ``north``, ``south``, ``west`` and ``east`` are cell *edges* in degrees; ``res`` is the
    cell size in degrees. ``nlat`` and ``nlon`` must come out as whole numbers.
    """

    north: float
    south: float
    west: float
    east: float
    res: float

    def __post_init__(self) -> None:
        if not self.res > 0:
            raise GridError(f"grid resolution must be positive, got {self.res}")
        if not (self.north > self.south and self.east > self.west):
            raise GridError(
                f"grid edges are empty or inverted: north={self.north}, south={self.south}, "
                f"west={self.west}, east={self.east}"
            )
        for name, span in (("lat", self.north - self.south), ("lon", self.east - self.west)):
            n = span / self.res
            if abs(n - round(n)) > 1e-6:
                raise GridError(
                    f"the {name} span {span} deg is not a whole number of {self.res} deg cells"
                )

    @property
    def nlat(self) -> int:
        return round((self.north - self.south) / self.res)

    @property
    def nlon(self) -> int:
        return round((self.east - self.west) / self.res)

    @property
    def lat(self) -> np.ndarray:
        """Cell-centre latitudes, north to south."""
        return np.round(self.north - (np.arange(self.nlat) + 0.5) * self.res, _ROUND)

    @property
    def lon(self) -> np.ndarray:
        """Cell-centre longitudes, west to east."""
        return np.round(self.west + (np.arange(self.nlon) + 0.5) * self.res, _ROUND)

    @property
    def lat_bounds(self) -> np.ndarray:
        """(nlat, 2) array of [north edge, south edge] per row (CF bounds order follows lat)."""
        i = np.arange(self.nlat)
        return np.round(
            np.stack([self.north - i * self.res, self.north - (i + 1) * self.res], axis=1), _ROUND
        )

    @property
    def lon_bounds(self) -> np.ndarray:
        """(nlon, 2) array of [west edge, east edge] per column."""
        j = np.arange(self.nlon)
        return np.round(
            np.stack([self.west + j * self.res, self.west + (j + 1) * self.res], axis=1), _ROUND
        )

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) edges."""
        return (self.west, self.south, self.east, self.north)

    def cell_index(
        self, lat: np.ndarray | float, lon: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the cell holding each point; -1 for points outside the grid.

        A point on an interior edge belongs to the cell south (row) / east (column) of it;
        points on the grid's outer south or east edge are outside.
        """
        lat = np.asarray(lat, dtype=float)
        lon = np.asarray(lon, dtype=float)
        row = np.floor(np.round((self.north - lat) / self.res, 9)).astype(np.int64)
        col = np.floor(np.round((lon - self.west) / self.res, 9)).astype(np.int64)
        inside = (row >= 0) & (row < self.nlat) & (col >= 0) & (col < self.nlon)
        inside &= np.isfinite(lat) & np.isfinite(lon)
        return np.where(inside, row, -1), np.where(inside, col, -1)

    def subgrid(self, other: LatLonGrid) -> tuple[slice, slice]:
        """Row and column slices of this grid that cover ``other`` (same resolution, aligned)."""
        if not math.isclose(self.res, other.res):
            raise GridError(f"resolutions differ: {self.res} vs {other.res}")
        r0 = (self.north - other.north) / self.res
        c0 = (other.west - self.west) / self.res
        if abs(r0 - round(r0)) > 1e-6 or abs(c0 - round(c0)) > 1e-6:
            raise GridError("grids are not aligned on the same cell edges")
        r0, c0 = round(r0), round(c0)
        if r0 < 0 or c0 < 0 or r0 + other.nlat > self.nlat or c0 + other.nlon > self.nlon:
            raise GridError(f"grid {other.bbox} is not inside grid {self.bbox}")
        return slice(r0, r0 + other.nlat), slice(c0, c0 + other.nlon)

    def expanded(self, margin_deg: float) -> LatLonGrid:
        """The same grid grown by ``margin_deg`` (a whole number of cells) on every side."""
        n = margin_deg / self.res
        if abs(n - round(n)) > 1e-6:
            raise GridError(f"margin {margin_deg} is not a whole number of {self.res} deg cells")
        return LatLonGrid(
            north=float(np.round(self.north + margin_deg, _ROUND)),
            south=float(np.round(self.south - margin_deg, _ROUND)),
            west=float(np.round(self.west - margin_deg, _ROUND)),
            east=float(np.round(self.east + margin_deg, _ROUND)),
            res=self.res,
        )

    def rows(self, start: int, stop: int) -> LatLonGrid:
        """The grid of rows ``start`` to ``stop`` (exclusive, north to south), every column."""
        return self.window(start, stop, 0, self.nlon)

    def window(self, row_start: int, row_stop: int, col_start: int, col_stop: int) -> LatLonGrid:
        """The grid of rows ``row_start:row_stop`` (north to south) and columns
        ``col_start:col_stop`` (west to east), stops exclusive."""
        if not 0 <= row_start < row_stop <= self.nlat:
            raise GridError(
                f"rows {row_start}:{row_stop} are not a band of this grid's {self.nlat} rows"
            )
        if not 0 <= col_start < col_stop <= self.nlon:
            raise GridError(
                f"columns {col_start}:{col_stop} are not a band of this grid's {self.nlon} columns"
            )
        if (row_start, row_stop, col_start, col_stop) == (0, self.nlat, 0, self.nlon):
            return self
        parent, r0, c0 = self, 0, 0
        if isinstance(self, GridWindow) and self.parent is not None:
            parent, r0, c0 = self.parent, self.row0, self.col0
        west = float(np.round(self.west + col_start * self.res, _ROUND)) if col_start else self.west
        east = (
            self.east
            if col_stop == self.nlon
            else np.round(self.west + col_stop * self.res, _ROUND)
        )
        return GridWindow(
            north=float(np.round(self.north - row_start * self.res, _ROUND)),
            south=float(np.round(self.north - row_stop * self.res, _ROUND)),
            west=west,
            east=float(east),
            res=self.res,
            parent=parent,
            row0=r0 + row_start,
            col0=c0 + col_start,
        )

    def coords(self) -> dict[str, xr.DataArray]:
        """CF coordinate variables (lat, lon) for building xarray objects on this grid."""
        return cf_coords(self.lat, self.lon)

    def dataarray(self, values: np.ndarray, name: str, **attrs: object) -> xr.DataArray:
        """Wrap a (..., nlat, nlon) array; leading dims must be named by the caller if any."""
        if values.shape[-2:] != self.shape:
            raise GridError(f"array shape {values.shape} does not end in grid shape {self.shape}")
        if values.ndim != 2:
            raise GridError("dataarray() wraps 2-D fields; build higher-rank arrays explicitly")
        return xr.DataArray(
            values, dims=("lat", "lon"), coords=self.coords(), name=name, attrs=attrs
        )

    @classmethod
    def from_coords(cls, lat: np.ndarray, lon: np.ndarray) -> LatLonGrid:
        """Rebuild a grid from its (descending lat, ascending lon) cell-centre coordinates."""
        lat = np.asarray(lat, dtype=float)
        lon = np.asarray(lon, dtype=float)
        if lat.size < 2 or lon.size < 2:
            raise GridError("need at least two cells along each axis to infer a grid")
        res = float(np.round(lon[1] - lon[0], _ROUND))
        if lat[0] < lat[-1]:
            raise GridError("latitude must be descending (north to south)")
        if not (
            np.allclose(np.diff(lon), res, atol=1e-7) and np.allclose(np.diff(lat), -res, atol=1e-7)
        ):
            raise GridError("coordinates are not a regular grid with equal lat/lon spacing")
        return cls(
            north=float(np.round(lat[0] + res / 2, _ROUND)),
            south=float(np.round(lat[-1] - res / 2, _ROUND)),
            west=float(np.round(lon[0] - res / 2, _ROUND)),
            east=float(np.round(lon[-1] + res / 2, _ROUND)),
            res=res,
        )


@dataclass(frozen=True)
class GridWindow(LatLonGrid):
    """Rows and columns of a larger grid (:meth:`LatLonGrid.window`): its edges as a
    :class:`LatLonGrid` of its own, its cell centres and bounds exactly those of the larger
    grid's cells. Edges recomputed from the window's corner are rounded (``_ROUND``
    decimals), which for a resolution that is not a short decimal (1/120 deg) moves the
    centres by about 1e-10 deg, enough to change interpolated values in their last bit: a
    field computed in windows then equals the field computed whole."""

    parent: LatLonGrid | None = None
    row0: int = 0
    col0: int = 0

    def _rows(self) -> slice:
        return slice(self.row0, self.row0 + self.nlat)

    def _cols(self) -> slice:
        return slice(self.col0, self.col0 + self.nlon)

    @property
    def lat(self) -> np.ndarray:
        return super().lat if self.parent is None else self.parent.lat[self._rows()]

    @property
    def lon(self) -> np.ndarray:
        return super().lon if self.parent is None else self.parent.lon[self._cols()]

    @property
    def lat_bounds(self) -> np.ndarray:
        return super().lat_bounds if self.parent is None else self.parent.lat_bounds[self._rows()]

    @property
    def lon_bounds(self) -> np.ndarray:
        return super().lon_bounds if self.parent is None else self.parent.lon_bounds[self._cols()]


def global_grid(res: float) -> LatLonGrid:
    """The global grid at ``res`` degrees (ESA CCI SM: 0.25 deg, 720 x 1440)."""
    return LatLonGrid(north=90.0, south=-90.0, west=-180.0, east=180.0, res=res)


def snap_bbox(
    bbox: tuple[float, float, float, float], res: float
) -> tuple[float, float, float, float]:
    """Snap (west, south, east, north) outward to multiples of ``res`` degrees."""
    west, south, east, north = bbox

    def down(x: float) -> float:
        return float(np.round(math.floor(np.round(x / res, 9)) * res, _ROUND))

    def up(x: float) -> float:
        return float(np.round(math.ceil(np.round(x / res, 9)) * res, _ROUND))

    return (down(west), down(south), up(east), up(north))


def bbox_message(bbox: tuple[float, float, float, float], cell: str, max_lat: float) -> str:
    """What is wrong with a bbox that holds no cell of a grid reaching +-``max_lat``."""
    west, south, east, north = bbox
    return (
        f"bbox (west={west}, south={south}, east={east}, north={north}) holds no {cell}: it "
        f"needs -180 <= west < east <= 180 and -{max_lat:g} <= south < north <= {max_lat:g} "
        "(check the order [west, south, east, north] in config key 'region.bbox')"
    )


def region_grids(
    bbox: tuple[float, float, float, float], coarse_res: float, fine_res: float
) -> tuple[LatLonGrid, LatLonGrid]:
    """Coarse and fine grids for a (west, south, east, north) region.

    The region is snapped outward to the coarse grid's edges; the fine grid covers exactly
    the same area. Raises :class:`GridError` naming the problem when the bbox is empty or
    outside the globe, or when the resolutions do not nest.
    """
    west, south, east, north = bbox
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise GridError(bbox_message(bbox, "coarse cell", 90))
    factor = coarse_res / fine_res
    if abs(factor - round(factor)) > 1e-6 or round(factor) < 1:
        raise GridError(
            f"fine resolution {fine_res} deg does not divide the coarse resolution {coarse_res} "
            "deg into a whole number of cells (config key 'grid.fine_res_deg')"
        )
    w, s, e, n = snap_bbox(bbox, coarse_res)
    coarse = LatLonGrid(north=n, south=s, west=w, east=e, res=coarse_res)
    fine = LatLonGrid(north=n, south=s, west=w, east=e, res=fine_res)
    return coarse, fine


def block_factor(fine: LatLonGrid, coarse: LatLonGrid) -> int:
    """Number of fine cells along one side of a coarse cell (fine must nest in coarse)."""
    factor = coarse.res / fine.res
    if abs(factor - round(factor)) > 1e-6:
        raise GridError(f"fine resolution {fine.res} does not nest in coarse {coarse.res}")
    if fine.bbox != coarse.bbox:
        raise GridError(
            f"fine grid {fine.bbox} and coarse grid {coarse.bbox} cover different areas"
        )
    return round(factor)


def block_map(fine: LatLonGrid, coarse: CoarseGrid) -> Blocks:
    """The index map from the fine grid to the coarse grid (:mod:`.blocks`): each fine cell
    belongs to the coarse cell holding its centre. A lat/lon coarse grid must nest the fine
    one (whole ``factor x factor`` blocks); any other rectilinear coarse grid (EASE-Grid 2.0)
    must hold every fine cell centre."""
    if isinstance(coarse, LatLonGrid):
        return Blocks.regular(block_factor(fine, coarse), fine.nlat, fine.nlon)
    rows, _ = coarse.cell_index(fine.lat, np.full(fine.nlat, coarse.lon[0]))
    _, cols = coarse.cell_index(np.full(fine.nlon, coarse.lat[0]), fine.lon)
    if (rows < 0).any() or (cols < 0).any():
        raise GridError(
            f"fine grid {fine.bbox} reaches beyond the coarse grid {coarse.bbox}: "
            f"{int((rows < 0).sum())} fine rows and {int((cols < 0).sum())} columns outside"
        )
    try:
        return Blocks(
            rows,
            cols,
            (fine.north - coarse.lat) / fine.res - 0.5,
            (coarse.lon - fine.west) / fine.res - 0.5,
        )
    except BlocksError as err:
        raise GridError(f"fine grid {fine.bbox} and coarse grid {coarse.bbox}: {err}") from None


def coarse_index_of_fine(fine: LatLonGrid, coarse: LatLonGrid) -> np.ndarray:
    """(nlat_f, nlon_f) flat index of the coarse cell holding each fine cell."""
    return block_map(fine, coarse).flat_index()


def block_mean(
    values: np.ndarray, factor: int | Blocks, min_valid_fraction: float = 0.5
) -> np.ndarray:
    """NaN-aware mean over the blocks of the last two axes (``factor x factor`` blocks, or an
    index map's). A block whose fraction of finite values is below ``min_valid_fraction``
    gives NaN."""
    values = np.asarray(values, dtype=np.float64)
    try:
        blocks = as_blocks(factor, values.shape)
    except BlocksError as err:
        raise GridError(f"array of shape {values.shape}: {err}") from None
    return blocks.mean(values, min_valid_fraction)


def repeat_blocks(coarse: np.ndarray, factor: int | Blocks) -> np.ndarray:
    """A coarse field (..., ny, nx) repeated over its fine blocks (the inverse layout of
    :func:`block_mean`)."""
    if isinstance(factor, Blocks):
        return factor.repeat(coarse)
    return np.repeat(np.repeat(coarse, factor, axis=-2), factor, axis=-1)


def _keys_cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys (1981) cubic-convolution kernel, the kernel of GDAL's and ArcGIS's 'cubic'."""
    x = np.abs(x)
    out = np.zeros_like(x)
    m1 = x <= 1
    m2 = (x > 1) & (x < 2)
    out[m1] = (a + 2) * x[m1] ** 3 - (a + 3) * x[m1] ** 2 + 1
    out[m2] = a * x[m2] ** 3 - 5 * a * x[m2] ** 2 + 8 * a * x[m2] - 4 * a
    return out


def _cubic_weights(blocks: Blocks, axis: int) -> np.ndarray:
    """(n_coarse, n_fine) weights of the cubic kernel stretched by the block width along
    ``axis`` (anti-aliased).

    This is cubic convolution as GIS tools apply it when *reducing* resolution: the kernel's
    support scales with the reduction factor, so each coarse cell is a cubic-weighted mean
    of the fine cells within two coarse cells of its centre, not a point sample.
    """
    centres = blocks.row_centres if axis == 0 else blocks.col_centres
    n_fine = blocks.fine_shape[axis]
    width = blocks.widths(axis)
    return _keys_cubic((np.arange(n_fine)[None, :] - centres[:, None]) / width[:, None])


def block_cubic(
    values: np.ndarray, factor: int | Blocks, min_valid_fraction: float = 0.5
) -> np.ndarray:
    """Cubic-convolution reduction of the last two axes to the blocks (NaN-aware).

    Missing fine cells are left out and the remaining weights renormalised; a coarse cell
    whose own block has fewer valid cells than ``min_valid_fraction`` gives NaN, as for the
    block mean.
    """
    values = np.asarray(values, dtype=np.float64)
    try:
        blocks = as_blocks(factor, values.shape)
    except BlocksError as err:
        raise GridError(f"array of shape {values.shape}: {err}") from None
    wy = _cubic_weights(blocks, 0)
    wx = _cubic_weights(blocks, 1)
    valid = np.isfinite(values)
    filled = np.where(valid, values, 0.0)
    num = np.einsum("ij,...jk,lk->...il", wy, filled, wx, optimize=True)
    den = np.einsum("ij,...jk,lk->...il", wy, valid.astype(np.float64), wx, optimize=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    frac_ok = blocks.mean(valid.astype(np.float64), 0.0) >= min_valid_fraction
    return np.where(frac_ok & (np.abs(den) > 1e-9), out, np.nan)


def block_nearest(
    values: np.ndarray, factor: int | Blocks, min_valid_fraction: float = 0.0
) -> np.ndarray:
    """The fine cell at each coarse cell's centre (paper 002's nearest-neighbour resampling).

    For an even ``factor`` the centre falls on a corner; the cell south-east of it is used.
    ``min_valid_fraction`` is accepted for a uniform signature and ignored: a point sample
    is valid when its one cell is.
    """
    values = np.asarray(values, dtype=np.float64)
    try:
        blocks = as_blocks(factor, values.shape)
    except BlocksError as err:
        raise GridError(f"array of shape {values.shape}: {err}") from None
    return blocks.nearest(values)


AGGREGATORS = {"mean": block_mean, "cubic": block_cubic, "nearest": block_nearest}


def aggregate(
    values: np.ndarray,
    factor: int | Blocks,
    method: AggregationMethod = "mean",
    min_valid_fraction: float = 0.5,
) -> np.ndarray:
    """Aggregate the last two axes of a fine field to the coarse grid by ``method``."""
    try:
        fn = AGGREGATORS[method]
    except KeyError:
        raise GridError(
            f"unknown aggregation method {method!r}; choose one of {sorted(AGGREGATORS)}"
        ) from None
    return fn(values, factor, min_valid_fraction)


def aggregation_halo(method: AggregationMethod) -> int:
    """Coarse rows beyond a block that ``method`` reads: the cubic kernel reaches 2."""
    return 2 if method == "cubic" else 0


def aggregate_blocked(
    read_rows: Callable[[slice], np.ndarray],
    blocks: Blocks,
    method: AggregationMethod = "mean",
    min_valid_fraction: float = 0.5,
    block_rows: int = 256,
) -> np.ndarray:
    """:func:`aggregate` of a (..., nlat, nlon) field read a chunk of fine rows at a time.

    ``read_rows(rows)`` returns the fine rows ``rows`` (all leading axes and columns, NaN
    where missing). Chunks hold whole coarse rows (at most ``block_rows`` fine rows, at least
    one coarse row). For ``cubic``, whose kernel reaches two coarse cells beyond a coarse
    cell's centre, each chunk is read with a halo of two coarse rows on each side (clipped to
    the field) and the halo's coarse rows are cropped, so the result equals the whole-field
    aggregation whatever the chunk size. Memory is bounded by one chunk plus its halo.
    """
    halo = aggregation_halo(method)
    ncy = blocks.shape[0]
    parts = []
    for chunk in blocks.row_chunks(block_rows):
        crows = blocks.coarse_rows(chunk)
        lo, hi = max(0, crows.start - halo), min(ncy, crows.stop + halo)
        sub, fine = sub_rows(blocks, slice(lo, hi))
        out = aggregate(read_rows(fine), sub, method, min_valid_fraction)
        parts.append(out[..., crows.start - lo : crows.stop - lo, :])
    return np.concatenate(parts, axis=-2)
