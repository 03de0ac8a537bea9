"""MOD11A1 / MOD13A2 v061 sinusoidal tiles: reading, georeferencing and mapping to the fine grid.

File format (checked against real v061 granules, see ``tests/unit/test_modis.py``):

* HDF4-EOS *grid* files, one 10 x 10 deg MODIS sinusoidal tile (``hHHvVV``) each, 1200 x 1200
  pixels of 926.625 m for the 1 km products. The geometry is in the global attribute
  ``StructMetadata.0`` (ODL text): ``GridName``, ``XDim``, ``YDim``, ``UpperLeftPointMtrs`` and
  ``LowerRightMtrs`` (outer *edges* of the corner pixels, metres in the sinusoidal plane),
  ``Projection=GCTP_SNSOID`` with ``ProjParams`` holding the sphere radius 6371007.181 m.
* Rows run north -> south (row 0 holds ``UpperLeftPointMtrs``'s y), columns west -> east.
* MOD11A1 ``LST_Day_1km``: uint16, ``scale_factor`` 0.02 (K = raw * 0.02), ``_FillValue`` 0,
  ``valid_range`` [7500, 65535]; ``QC_Day``: uint8 bit field (see :func:`read_mod11a1_lst`).
* MOD13A2 ``1 km 16 days NDVI``: int16, ``_FillValue`` -3000, ``valid_range`` [-2000, 10000].
  Its ``scale_factor`` attribute is **10000** and means *divide* (NDVI = raw / 10000), the
  opposite of the multiply convention of MOD11A1; ``1 km 16 days pixel reliability`` is int8
  (-1 fill, 0 good, 1 marginal, 2 snow/ice, 3 cloudy).

Every read checks the granule's own ``CoreMetadata.0`` (product, collection, day, tile) and its
grid corners against the file's name, which is what the file stands for
(:mod:`smdownscale.products.modis_metadata`): another granule under the name is an error.

Mapping to the fine lat/lon grid is an exact inverse mapping: for each fine-cell centre compute
its sinusoidal (x, y) on the MODIS sphere and take the tile pixel holding it (nearest neighbour
in the tile's own pixel grid). The mapping depends only on the tiles' georeferencing, so it is
computed once (:func:`build_index`) and applied to every day's values (:func:`apply_index`).
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..grid import LatLonGrid
from ..rawlayout import MODIS_SPHERE_RADIUS_M, MODIS_TILE_SIZE_M, MODIS_XMIN_M, MODIS_YMAX_M
from .base import REDOWNLOAD, ProductError, not_readable
from .modis_metadata import check_granule, granule_of, joined_attribute

QcLevel = Literal["strict", "good", "any"]

#: Pixels per tile side of the 1 km MODIS land products.
TILE_PIXELS_1KM = 1200
#: Fine-grid cells handled per chunk when building an index (bounds temporary memory).
CHUNK_CELLS = 1_000_000
#: Largest accepted mismatch (m) between a file's tile corners and the nominal tile grid.
_CORNER_TOLERANCE_M = 1.0

MOD11A1_LST = "LST_Day_1km"
MOD11A1_QC = "QC_Day"
MOD13A2_NDVI = "1 km 16 days NDVI"
MOD13A2_RELIABILITY = "1 km 16 days pixel reliability"
MOD13A2_VI_QUALITY = "1 km 16 days VI Quality"


@dataclass(frozen=True)
class TileGeoref:
    """Where a tile's pixels lie in the MODIS sinusoidal plane.

    ``upper_left_m`` / ``lower_right_m`` are the (x, y) outer edges of the tile in metres;
    ``shape`` is (nrow, ncol). Pixel (r, c) covers x in [ULx + c*w, ULx + (c+1)*w) and
    y in (ULy - (r+1)*h, ULy - r*h].
    """

    h: int
    v: int
    upper_left_m: tuple[float, float]
    lower_right_m: tuple[float, float]
    shape: tuple[int, int]

    @property
    def pixel_size_m(self) -> tuple[float, float]:
        """(width, height) of one pixel in metres (both positive)."""
        nrow, ncol = self.shape
        return (
            (self.lower_right_m[0] - self.upper_left_m[0]) / ncol,
            (self.upper_left_m[1] - self.lower_right_m[1]) / nrow,
        )

    @classmethod
    def nominal(cls, h: int, v: int, n: int = TILE_PIXELS_1KM) -> TileGeoref:
        """The georeferencing of tile (h, v) on the standard MODIS tile grid."""
        if not (0 <= h <= 35 and 0 <= v <= 17):
            raise ValueError(f"MODIS tile h{h:02d}v{v:02d} does not exist (h 0..35, v 0..17)")
        ulx = MODIS_XMIN_M + h * MODIS_TILE_SIZE_M
        uly = MODIS_YMAX_M - v * MODIS_TILE_SIZE_M
        return cls(
            h=h,
            v=v,
            upper_left_m=(ulx, uly),
            lower_right_m=(ulx + MODIS_TILE_SIZE_M, uly - MODIS_TILE_SIZE_M),
            shape=(n, n),
        )


@dataclass(frozen=True, eq=False)
class ModisTile:
    """One decoded SDS of a MODIS sinusoidal tile.

    ``values`` is float32 (nrow, ncol) in physical units (K for LST, a fraction for NDVI),
    NaN where the file holds the fill value, a value outside ``valid_range``, or a pixel the
    QC filter rejected. Corners are the outer edges (metres) from ``StructMetadata.0``.
    """

    values: np.ndarray
    h: int
    v: int
    upper_left_m: tuple[float, float]
    lower_right_m: tuple[float, float]
    product: str
    variable: str

    @property
    def georef(self) -> TileGeoref:
        return TileGeoref(
            h=self.h,
            v=self.v,
            upper_left_m=self.upper_left_m,
            lower_right_m=self.lower_right_m,
            shape=(int(self.values.shape[0]), int(self.values.shape[1])),
        )


# --------------------------------------------------------------------------- StructMetadata


@dataclass(frozen=True)
class GridStruct:
    """One ``GROUP=GRID_n`` of an HDF-EOS ``StructMetadata`` ODL text."""

    name: str
    xdim: int
    ydim: int
    upper_left: tuple[float, float] | None
    lower_right: tuple[float, float] | None
    projection: str
    fields: tuple[str, ...]


_GRID_BLOCK = re.compile(r"GROUP=(GRID_\d+)\s*\n(.*?)\n\s*END_GROUP=\1", re.S)


def _odl_value(block: str, key: str) -> str | None:
    m = re.search(rf"^\s*{re.escape(key)}=(.*)$", block, re.M)
    return m.group(1).strip() if m else None


def _odl_pair(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    m = re.fullmatch(r"\(\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*\)", text)
    return (float(m.group(1)), float(m.group(2))) if m else None


def parse_struct_metadata(text: str) -> list[GridStruct]:
    """The grids described by an HDF-EOS ``StructMetadata`` text (NUL padding ignored)."""
    text = text.split("\x00", 1)[0]
    grids = []
    for m in _GRID_BLOCK.finditer(text):
        block = m.group(2)
        name = (_odl_value(block, "GridName") or "").strip('"')
        xdim = _odl_value(block, "XDim")
        ydim = _odl_value(block, "YDim")
        fields = tuple(re.findall(r'DataFieldName="([^"]*)"', block))
        grids.append(
            GridStruct(
                name=name,
                xdim=int(xdim) if xdim and xdim.isdigit() else -1,
                ydim=int(ydim) if ydim and ydim.isdigit() else -1,
                upper_left=_odl_pair(_odl_value(block, "UpperLeftPointMtrs")),
                lower_right=_odl_pair(_odl_value(block, "LowerRightMtrs")),
                projection=_odl_value(block, "Projection") or "",
                fields=fields,
            )
        )
    return grids


def struct_metadata_text(global_attrs: dict[str, object]) -> str | None:
    """``StructMetadata.0``, ``.1``, ... joined (HDF-EOS splits it every 32000 characters)."""
    return joined_attribute(global_attrs, "StructMetadata")


def tile_hv(upper_left_m: tuple[float, float]) -> tuple[int, int]:
    """(h, v) of the tile whose upper-left corner is ``upper_left_m`` (nearest tile corner)."""
    h = round((upper_left_m[0] - MODIS_XMIN_M) / MODIS_TILE_SIZE_M)
    v = round((MODIS_YMAX_M - upper_left_m[1]) / MODIS_TILE_SIZE_M)
    return h, v


# ------------------------------------------------------------------------------ HDF4 access


def open_hdf4(path: Path) -> Any:
    """Open ``path`` read-only with pyhdf's SD interface; ProductError if it is not HDF4."""
    from pyhdf.error import HDF4Error
    from pyhdf.SD import SD, SDC

    if not path.is_file():
        raise ProductError(path, "file not found", "download it, or check the raw data folder")
    try:
        return SD(str(path), SDC.READ)
    except HDF4Error as err:
        raise not_readable(path, "HDF4", str(err)) from None


#: Global attributes already read, by file identity (path, inode, size, mtime): pyhdf
#: decodes the long metadata texts a character at a time (about 50 ms a MODIS file), and
#: harmonisation reads each file once per block. A replaced file has a new identity.
_ATTRS: OrderedDict[tuple, dict[str, object]] = OrderedDict()
_ATTRS_LOCK = threading.Lock()
_ATTRS_KEEP = 256


def global_attributes(sd: Any, path: Path) -> dict[str, object]:
    """The file's global attributes; ProductError naming the file when they cannot be read."""
    from pyhdf.error import HDF4Error

    try:
        st = os.stat(path)
        key = (os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        key = None
    with _ATTRS_LOCK:
        cached = _ATTRS.get(key) if key else None
    if cached is not None:
        return dict(cached)
    try:
        attrs = sd.attributes()
    except HDF4Error as err:
        raise ProductError(path, f"cannot read global attributes ({err})", REDOWNLOAD) from None
    if key:
        with _ATTRS_LOCK:
            _ATTRS[key] = dict(attrs)
            while len(_ATTRS) > _ATTRS_KEEP:
                _ATTRS.popitem(last=False)
    return attrs


def not_there(sd: Any, path: Path, name: str, names: list[str], product: str) -> ProductError:
    """The error for a file without SDS ``name``: what it holds, and which granule its own
    ``CoreMetadata.0`` says it is (a neighbouring product's file has other SDS)."""
    try:
        granule = granule_of(sd.attributes())
    except Exception:  # the message is built for an error already found: never mask it
        granule = None
    if granule and not granule.startswith(f"{product}."):
        return ProductError(
            path,
            f"has no SDS {name!r} (it holds {sorted(names)}): by its own CoreMetadata.0 it is "
            f"{granule}, not {product}",
            f"another product saved under this name: delete it and download the {product} "
            "granule again",
        )
    return ProductError(
        path,
        f"has no SDS {name!r} (it holds {sorted(names)})",
        f"is this really a {product} v061 file? download the {product} granule again",
    )


def require_sds(sd: Any, path: Path, names: Sequence[str], product: str) -> None:
    """ProductError naming the file and the first of ``names`` that it lacks."""
    from pyhdf.error import HDF4Error

    try:
        present = list(sd.datasets())
    except HDF4Error as err:
        raise ProductError(path, f"cannot list the SDS of the file ({err})", REDOWNLOAD) from None
    for name in names:
        if name not in present:
            raise not_there(sd, path, name, present, product)


def read_sds(
    sd: Any, path: Path, name: str, product: str, rows: slice | None = None
) -> tuple[np.ndarray, dict[str, object], tuple[int, ...]]:
    """The raw array (its ``rows`` only, when given), attributes and full shape of SDS
    ``name``; ProductError naming file and SDS otherwise."""
    from pyhdf.error import HDF4Error

    require_sds(sd, path, [name], product)
    try:
        sds = sd.select(name)
        try:
            attrs = sds.attributes()
            dims = sds.info()[2]
            shape = tuple(int(d) for d in (dims if isinstance(dims, list) else [dims]))
            data = sds.get() if rows is None else sds[rows]
        finally:
            sds.endaccess()
    except HDF4Error as err:
        raise ProductError(path, f"cannot read SDS {name!r} ({err})", REDOWNLOAD) from None
    return np.asarray(data), attrs, shape


def _corner_mismatch_m(
    h: int, v: int, upper_left: tuple[float, float], lower_right: tuple[float, float]
) -> float:
    """Largest distance (m) between the given corners and those of nominal tile (h, v)."""
    if not (0 <= h <= 35 and 0 <= v <= 17):
        return float("inf")
    nominal = TileGeoref.nominal(h, v)
    given = upper_left + lower_right
    expected = nominal.upper_left_m + nominal.lower_right_m
    return max(abs(a - b) for a, b in zip(given, expected, strict=True))


def _georef_from_sd(sd: Any, path: Path, sds_name: str, product: str) -> TileGeoref:
    """Tile georeferencing from ``StructMetadata.0`` (the grid holding ``sds_name``)."""
    text = struct_metadata_text(global_attributes(sd, path))
    if text is None:
        raise ProductError(
            path,
            "has no StructMetadata.0 global attribute, so its tile position is unknown",
            f"not an HDF-EOS {product} file: download it again",
        )
    grids = parse_struct_metadata(text)
    grid = next((g for g in grids if sds_name in g.fields), grids[0] if len(grids) == 1 else None)
    if grid is None or grid.upper_left is None or grid.lower_right is None or grid.xdim <= 0:
        raise ProductError(
            path,
            f"StructMetadata.0 has no grid with UpperLeftPointMtrs/LowerRightMtrs/XDim/YDim "
            f"for SDS {sds_name!r}",
            f"not a complete HDF-EOS {product} file: download it again",
        )
    if "SNSOID" not in grid.projection:
        raise ProductError(
            path,
            f"grid {grid.name!r} has projection {grid.projection!r}, not GCTP_SNSOID",
            f"not a {product} sinusoidal tile",
        )
    h, v = tile_hv(grid.upper_left)
    if _corner_mismatch_m(h, v, grid.upper_left, grid.lower_right) > _CORNER_TOLERANCE_M:
        raise ProductError(
            path,
            f"grid corners {grid.upper_left} / {grid.lower_right} are not a MODIS sinusoidal tile",
            f"not a standard {product} tile",
        )
    return TileGeoref(
        h=h,
        v=v,
        upper_left_m=grid.upper_left,
        lower_right_m=grid.lower_right,
        shape=(grid.ydim, grid.xdim),
    )


def read_tile_georef(path: str | Path, sds_name: str = MOD11A1_LST) -> TileGeoref:
    """Georeferencing of a MODIS tile file without reading its data (for :func:`build_index`)."""
    path = Path(path)
    sd = open_hdf4(path)
    try:
        return _georef_from_sd(sd, path, sds_name, "MODIS")
    finally:
        sd.end()


def attr_scalar(attrs: dict[str, object], key: str, default: float) -> float:
    """First value of attribute ``key`` as a float, ``default`` when absent or not numeric."""
    value = attrs.get(key, default)
    if isinstance(value, list | tuple):
        value = value[0]
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _valid_mask(raw: np.ndarray, attrs: dict[str, object], default_fill: float) -> np.ndarray:
    """True where ``raw`` is neither the fill value nor outside ``valid_range``."""
    fill = attr_scalar(attrs, "_FillValue", default_fill)
    ok = raw != fill
    vr = attrs.get("valid_range")
    if isinstance(vr, list | tuple) and len(vr) == 2:
        ok &= (raw >= vr[0]) & (raw <= vr[1])
    return ok


def _check_shape(path: Path, name: str, shape: tuple[int, ...], georef: TileGeoref) -> None:
    if shape != georef.shape:
        raise ProductError(
            path,
            f"SDS {name!r} has shape {shape} but StructMetadata.0 says {georef.shape}",
            REDOWNLOAD,
        )


def tile_rows(georef: TileGeoref, lats: tuple[float, float] | None) -> slice:
    """The tile's pixel rows that hold the latitudes ``lats`` (south, north; cell centres
    of a band of the fine grid, a row of margin either side; at least one row); every row
    for None.

    Sinusoidal y depends on latitude alone, so a band of fine rows maps to a band of tile
    rows, the same rows :func:`build_index` finds for its cells.
    """
    nrow = georef.shape[0]
    if lats is None:
        return slice(0, nrow)
    _, ph = georef.pixel_size_m
    _, y = sinusoidal_xy(np.array([lats[1], lats[0]]), 0.0)
    first, last = np.floor((georef.upper_left_m[1] - y) / ph)
    # never empty (pyhdf cannot read no rows): a band that only grazes the tile reads an
    # edge row, which no cell of the band maps to
    start = int(np.clip(first - 1, 0, nrow - 1))
    return slice(start, int(np.clip(last + 2, start + 1, nrow)))


def _check_dtype(path: Path, name: str, raw: np.ndarray, expected: type, product: str) -> None:
    if raw.dtype != np.dtype(expected):
        raise ProductError(
            path,
            f"SDS {name!r} is {raw.dtype}, expected {np.dtype(expected)}",
            f"not a {product} v061 file",
        )


# ---------------------------------------------------------------------------------- readers


def _read_value_and_quality(
    path: Path,
    product: str,
    value_sds: str,
    value_dtype: type,
    quality_sds: str,
    lats: tuple[float, float] | None = None,
) -> tuple[np.ndarray, dict[str, object], np.ndarray, TileGeoref, slice]:
    """A tile's raw value SDS (checked dtype), its attributes, its quality SDS, georef and
    the rows read (:func:`tile_rows` of ``lats``), once the granule's own metadata agree
    with its name (:func:`check_granule`)."""
    sd = open_hdf4(path)
    try:
        require_sds(sd, path, [value_sds, quality_sds], product)
        georef = _georef_from_sd(sd, path, value_sds, product)
        rows = tile_rows(georef, lats)
        raw, attrs, value_shape = read_sds(sd, path, value_sds, product, rows)
        quality, _, quality_shape = read_sds(sd, path, quality_sds, product, rows)
        name = check_granule(path, global_attributes(sd, path), product)
    finally:
        sd.end()
    if name.tile != (georef.h, georef.v):
        raise ProductError(
            path,
            f"its grid corners (StructMetadata.0) are those of tile h{georef.h:02d}v{georef.v:02d}"
            f", but its name and CoreMetadata.0 say {name.describe()}",
            "the file was altered or damaged: delete it and download it again",
        )
    _check_dtype(path, value_sds, raw, value_dtype, product)
    _check_shape(path, value_sds, value_shape, georef)
    _check_shape(path, quality_sds, quality_shape, georef)
    return raw, attrs, quality, georef, rows


def _in_tile(values: np.ndarray, georef: TileGeoref, rows: slice) -> np.ndarray:
    """float32 tile of ``georef``'s shape: ``values`` in ``rows``, NaN elsewhere."""
    if rows == slice(0, georef.shape[0]):
        return values
    out = np.full(georef.shape, np.nan, dtype=np.float32)
    out[rows] = values
    return out


def lst_qc_keep(qc: np.ndarray, qc_level: QcLevel) -> np.ndarray:
    """Which MOD11A1 ``QC_Day`` values pass ``qc_level`` (see :func:`read_mod11a1_lst`)."""
    qc = np.asarray(qc).astype(np.uint8)
    mandatory = qc & 0b11
    lst_error = (qc >> 6) & 0b11
    if qc_level == "strict":
        return mandatory == 0
    if qc_level == "good":
        return (mandatory == 0) | ((mandatory == 1) & (lst_error <= 1))
    if qc_level == "any":
        return np.ones(qc.shape, dtype=bool)
    raise ValueError(f"qc must be 'strict', 'good' or 'any', got {qc_level!r}")


def read_mod11a1_lst(
    path: str | Path, qc: QcLevel = "good", lats: tuple[float, float] | None = None
) -> ModisTile:
    """Daytime land-surface temperature (K) of a MOD11A1 v061 tile, QC-filtered.

    Decoding: K = raw * ``scale_factor`` (+ ``add_offset`` if present; 0.02 and none in
    v061); raw equal to ``_FillValue`` (0) or outside ``valid_range`` ([7500, 65535]) is NaN.

    ``QC_Day`` bits (bit 0 = least significant), from the MOD11 user guide:

    * bits 0-1, mandatory QA: 00 LST produced, good quality; 01 LST produced, other quality
      (check the other bits); 10 not produced due to cloud; 11 not produced, other reasons;
    * bits 2-3, data quality: 00 good; 01 other quality; 10/11 TBD;
    * bits 4-5, emissivity error: 00 <= 0.01; 01 <= 0.02; 10 <= 0.04; 11 > 0.04;
    * bits 6-7, LST error: 00 <= 1 K; 01 <= 2 K; 10 <= 3 K; 11 > 3 K.

    ``qc``: ``"strict"`` keeps mandatory QA 00 only; ``"good"`` keeps 00, and 01 when the LST
    error flag is <= 01 (average error <= 2 K); ``"any"`` keeps every value in valid range.

    ``lats`` (south, north): only the rows holding those latitudes are read and decoded
    (:func:`tile_rows`); the tile's other rows are NaN.
    """
    path = Path(path)
    raw, attrs, qc_raw, georef, rows = _read_value_and_quality(
        path, "MOD11A1", MOD11A1_LST, np.uint16, MOD11A1_QC, lats
    )
    keep = _valid_mask(raw, attrs, 0) & lst_qc_keep(qc_raw, qc)
    scale = attr_scalar(attrs, "scale_factor", 0.02)
    offset = attr_scalar(attrs, "add_offset", 0.0)
    values = np.where(keep, raw.astype(np.float64) * scale + offset, np.nan).astype(np.float32)
    return _tile(_in_tile(values, georef, rows), georef, "MOD11A1", MOD11A1_LST)


def ndvi_reliability_keep(reliability: np.ndarray, qc_level: QcLevel) -> np.ndarray:
    """Which MOD13A2 pixel-reliability ranks pass ``qc_level`` (see :func:`read_mod13a2_ndvi`)."""
    rel = np.asarray(reliability).astype(np.int16)
    if qc_level == "strict":
        return rel == 0
    if qc_level == "good":
        return (rel == 0) | (rel == 1)
    if qc_level == "any":
        return np.ones(rel.shape, dtype=bool)
    raise ValueError(f"qc must be 'strict', 'good' or 'any', got {qc_level!r}")


def read_mod13a2_ndvi(
    path: str | Path, qc: QcLevel = "good", lats: tuple[float, float] | None = None
) -> ModisTile:
    """16-day NDVI (fraction, -0.2..1) of a MOD13A2 v061 tile, filtered by pixel reliability.

    Decoding: NDVI = raw / 10000. The file's ``scale_factor`` attribute is 10000.0 and is
    meant as a divisor (MOD13 convention); a factor <= 1 would be applied as a multiplier.
    Raw equal to ``_FillValue`` (-3000) or outside ``valid_range`` ([-2000, 10000]) is NaN.

    ``1 km 16 days pixel reliability`` (int8): -1 fill, 0 good data, 1 marginal data,
    2 snow/ice, 3 cloudy. ``qc``: ``"strict"`` keeps 0; ``"good"`` keeps 0 and 1; ``"any"``
    keeps every NDVI in valid range whatever its rank. ``lats``: as for
    :func:`read_mod11a1_lst`.
    """
    path = Path(path)
    raw, attrs, rel, georef, rows = _read_value_and_quality(
        path, "MOD13A2", MOD13A2_NDVI, np.int16, MOD13A2_RELIABILITY, lats
    )
    keep = _valid_mask(raw, attrs, -3000) & ndvi_reliability_keep(rel, qc)
    sf = attr_scalar(attrs, "scale_factor", 10000.0)
    offset = attr_scalar(attrs, "add_offset", 0.0)
    phys = (raw.astype(np.float64) - offset) / sf if sf > 1 else raw * sf + offset
    values = np.where(keep, phys, np.nan).astype(np.float32)
    return _tile(_in_tile(values, georef, rows), georef, "MOD13A2", MOD13A2_NDVI)


def _tile(values: np.ndarray, georef: TileGeoref, product: str, variable: str) -> ModisTile:
    return ModisTile(
        values=values,
        h=georef.h,
        v=georef.v,
        upper_left_m=georef.upper_left_m,
        lower_right_m=georef.lower_right_m,
        product=product,
        variable=variable,
    )


# --------------------------------------------------------------------------- projection


def sinusoidal_xy(
    lat: np.ndarray | float, lon: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """MODIS sinusoidal (x, y) in metres of lat/lon in degrees (sphere R = 6371007.181 m).

    x = R * lon_rad * cos(lat_rad), y = R * lat_rad.
    """
    lat_r = np.radians(np.asarray(lat, dtype=np.float64))
    lon_r = np.radians(np.asarray(lon, dtype=np.float64))
    return MODIS_SPHERE_RADIUS_M * lon_r * np.cos(lat_r), MODIS_SPHERE_RADIUS_M * lat_r


def sinusoidal_latlon(
    x: np.ndarray | float, y: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`sinusoidal_xy`: (lat, lon) in degrees; lon NaN off the globe."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    lat_r = y / MODIS_SPHERE_RADIUS_M
    with np.errstate(divide="ignore", invalid="ignore"):
        lon = np.degrees(x / (MODIS_SPHERE_RADIUS_M * np.cos(lat_r)))
    lon = np.where(np.abs(lon) <= 180.0, lon, np.nan)
    return np.degrees(lat_r), lon


# ------------------------------------------------------------------- inverse mapping (index)


@dataclass(frozen=True, eq=False)
class TileIndex:
    """For each fine-grid cell, the flat position of its source pixel among the tiles.

    ``source`` (nlat, nlon) holds ``k * npix + row * ncol + col`` for tile ``k`` of ``tiles``
    (all tiles have the same shape, ``npix`` pixels), or -1 where no tile covers the cell.
    """

    grid: LatLonGrid
    tiles: tuple[TileGeoref, ...]
    source: np.ndarray

    @property
    def covered(self) -> np.ndarray:
        """Boolean (nlat, nlon): cells that some tile covers."""
        return self.source >= 0


def _row_chunks(grid: LatLonGrid, chunk_cells: int) -> list[tuple[int, int]]:
    rows = max(1, chunk_cells // max(grid.nlon, 1))
    return [(r0, min(r0 + rows, grid.nlat)) for r0 in range(0, grid.nlat, rows)]


def build_index(
    georefs: Sequence[TileGeoref], grid: LatLonGrid, chunk_cells: int = CHUNK_CELLS
) -> TileIndex:
    """Map every fine-cell centre of ``grid`` to the tile pixel holding it.

    For a centre (lat, lon): (x, y) = :func:`sinusoidal_xy`; the first tile with
    ULx <= x < LRx and LRy < y <= ULy holds it, at row = floor((ULy - y) / pixel_h),
    col = floor((x - ULx) / pixel_w). Processed in row chunks of about ``chunk_cells``
    cells so that temporaries do not grow with the region.
    """
    georefs = tuple(georefs)
    if not georefs:
        raise ValueError("build_index needs at least one tile")
    shapes = {g.shape for g in georefs}
    if len(shapes) != 1:
        raise ValueError(f"tiles of different shapes cannot share one index: {sorted(shapes)}")
    nrow, ncol = georefs[0].shape
    npix = nrow * ncol
    dtype = np.int32 if len(georefs) * npix < 2**31 - 1 else np.int64
    source = np.full(grid.shape, -1, dtype=dtype)
    lon = grid.lon
    lat_all = grid.lat
    for r0, r1 in _row_chunks(grid, chunk_cells):
        lat2, lon2 = np.meshgrid(lat_all[r0:r1], lon, indexing="ij")
        x, y = sinusoidal_xy(lat2, lon2)
        out = np.full(x.shape, -1, dtype=dtype)
        for k, g in enumerate(georefs):
            pw, ph = g.pixel_size_m
            row = np.floor((g.upper_left_m[1] - y) / ph)
            col = np.floor((x - g.upper_left_m[0]) / pw)
            inside = (row >= 0) & (row < nrow) & (col >= 0) & (col < ncol) & (out < 0)
            if inside.any():
                flat = k * npix + row[inside].astype(np.int64) * ncol + col[inside].astype(np.int64)
                out[inside] = flat.astype(dtype)
        source[r0:r1] = out
    return TileIndex(grid=grid, tiles=georefs, source=source)


def apply_index(
    index: TileIndex, values: Sequence[np.ndarray], chunk_cells: int = CHUNK_CELLS
) -> np.ndarray:
    """float32 (nlat, nlon) field: each cell takes its source pixel's value (NaN if none).

    ``values`` are the tiles' arrays in the order of ``index.tiles``.
    """
    if len(values) != len(index.tiles):
        raise ValueError(f"index was built for {len(index.tiles)} tiles, got {len(values)} arrays")
    for g, v in zip(index.tiles, values, strict=True):
        if v.shape != g.shape:
            raise ValueError(f"tile h{g.h:02d}v{g.v:02d}: values {v.shape} != georef {g.shape}")
    flat = np.concatenate([np.asarray(v, dtype=np.float32).ravel() for v in values])
    out = np.empty(index.grid.shape, dtype=np.float32)
    for r0, r1 in _row_chunks(index.grid, chunk_cells):
        src = index.source[r0:r1]
        out[r0:r1] = np.where(src >= 0, flat[np.maximum(src, 0)], np.float32(np.nan))
    return out


def regrid_tiles(tiles: Sequence[ModisTile], grid: LatLonGrid) -> np.ndarray:
    """float32 (nlat, nlon): the tiles' values at the fine cells (NaN where no tile covers).

    Convenience for one day; for many days with the same tiles, build the index once with
    :func:`build_index` and call :func:`apply_index` per day.
    """
    index = build_index([t.georef for t in tiles], grid)
    return apply_index(index, [t.values for t in tiles])


# ----------------------------------------------------------------- forward mapping (demo)


def tile_pixel_latlon(h: int, v: int, n: int = TILE_PIXELS_1KM) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lon) in degrees of the pixel centres of nominal tile (h, v), each (n, n).

    Pixels off the sinusoidal globe (|lon| > 180, in the corners of edge tiles) get lon NaN.
    """
    g = TileGeoref.nominal(h, v, n)
    pw, ph = g.pixel_size_m
    x = g.upper_left_m[0] + (np.arange(n) + 0.5) * pw
    y = g.upper_left_m[1] - (np.arange(n) + 0.5) * ph
    xx, yy = np.meshgrid(x, y)
    return sinusoidal_latlon(xx, yy)


def sample_grid_on_tile(
    field: np.ndarray, grid: LatLonGrid, h: int, v: int, n: int = TILE_PIXELS_1KM
) -> np.ndarray:
    """float32 (n, n): each pixel of tile (h, v) takes the grid cell holding its centre.

    Pixels whose centre lies outside ``grid`` (or off the globe) are NaN.
    """
    field = np.asarray(field)
    if field.shape != grid.shape:
        raise ValueError(f"field {field.shape} does not match grid {grid.shape}")
    lat, lon = tile_pixel_latlon(h, v, n)
    row, col = grid.cell_index(lat, lon)
    inside = row >= 0
    out = np.full((n, n), np.nan, dtype=np.float32)
    out[inside] = field[row[inside], col[inside]]
    return out
