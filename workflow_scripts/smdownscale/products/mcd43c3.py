"""MCD43C3 v061 BRDF/Albedo on the 0.05 deg Climate Modeling Grid (CMG): reading and regridding.

Format, as the MCD43 user guide and LP DAAC describe it (no real granule was at hand to check
against, so these are documented assumptions; the reader checks what it relies on):

* HDF4-EOS grid ``MCD_CMG_BRDF_0.05Deg``, 3600 rows x 7200 columns, global: row 0 is the
  band 90..89.95 N (centre 89.975 N), column 0 the band 180..179.95 W (centre -179.975).
  ``StructMetadata.0`` says ``Projection=GCTP_GEO``; MCD43C files write the corners in plain
  degrees, ``(-180.000000,90.000000)``, where HDF-EOS expects packed DMS (a known quirk); the
  reader accepts either form and otherwise relies on the fixed CMG geometry.
* SDS ``Albedo_WSA_shortwave`` (white-sky, bihemispherical reflectance) and
  ``Albedo_BSA_shortwave`` (black-sky at local solar noon, directional hemispherical), int16,
  ``scale_factor`` 0.001, ``add_offset`` 0, ``_FillValue`` 32767, ``valid_range`` [0, 32766].
  Values are read as raw * scale_factor + add_offset from the attributes when present.
* ``CoreMetadata.0`` names the granule (``LOCALGRANULEID``, ``SHORTNAME``, ``VERSIONID``) and
  its 16-day retrieval window (``RANGEBEGINNINGDATE`` .. ``RANGEENDINGDATE``), which holds the
  product day; the reader refuses a file whose metadata say another product, collection or
  day than its name (:mod:`smdownscale.products.modis_metadata`).

The shortwave albedo handed to the models is the blue-sky albedo at a diffuse fraction of 0.5,
i.e. the mean of white- and black-sky albedo (Lucht et al. 2000; Schaaf et al. 2002); it is
NaN where either is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..grid import LatLonGrid
from ..regrid import bilinear
from .base import REDOWNLOAD, ProductError
from .modis_metadata import check_granule
from .modis_sinusoidal import (
    attr_scalar,
    global_attributes,
    not_there,
    open_hdf4,
    parse_struct_metadata,
    struct_metadata_text,
)

WSA = "Albedo_WSA_shortwave"
BSA = "Albedo_BSA_shortwave"
CMG_RES = 0.05
CMG_SHAPE = (3600, 7200)
#: Diffuse-sky fraction used to combine white- and black-sky albedo into blue-sky albedo.
DIFFUSE_FRACTION = 0.5


def cmg_lat() -> np.ndarray:
    """Cell-centre latitudes of the 0.05 deg CMG, north to south."""
    return np.round(90.0 - (np.arange(CMG_SHAPE[0]) + 0.5) * CMG_RES, 10)


def cmg_lon() -> np.ndarray:
    """Cell-centre longitudes of the 0.05 deg CMG, west to east."""
    return np.round(-180.0 + (np.arange(CMG_SHAPE[1]) + 0.5) * CMG_RES, 10)


def cmg_window(
    bbox: tuple[float, float, float, float] | None, margin_deg: float
) -> tuple[slice, slice]:
    """Row and column slices of the CMG cells whose centres lie in bbox + margin.

    ``bbox`` is (west, south, east, north) in degrees, without antimeridian wrap; ``None``
    selects the whole globe. The window is clipped to the globe.
    """
    if bbox is None:
        return slice(0, CMG_SHAPE[0]), slice(0, CMG_SHAPE[1])
    west, south, east, north = bbox
    if not (west < east and south < north):
        raise ValueError(
            f"bbox {bbox} must be (west, south, east, north) with west<east, south<north"
        )
    lat, lon = cmg_lat(), cmg_lon()
    rows = np.nonzero((lat >= south - margin_deg) & (lat <= north + margin_deg))[0]
    cols = np.nonzero((lon >= west - margin_deg) & (lon <= east + margin_deg))[0]
    if rows.size == 0 or cols.size == 0:
        raise ValueError(f"bbox {bbox} holds no 0.05 deg CMG cell")
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _degrees(value: float) -> float:
    """A StructMetadata corner coordinate in degrees: plain degrees as MCD43C files write
    them, or HDF-EOS packed DMS (DDDMMMSSS.SS) as the standard says."""
    if abs(value) <= 360.0:
        return value
    sign = -1.0 if value < 0 else 1.0
    v = abs(value)
    deg, rest = divmod(v, 1_000_000.0)
    minutes, seconds = divmod(rest, 1000.0)
    return sign * (deg + minutes / 60.0 + seconds / 3600.0)


#: (first row, first column, rows, columns) of a file's grid in the global CMG.
FileWindow = tuple[int, int, int, int]


def _file_window(sd: Any, path: Path) -> FileWindow:
    """Where the file's grid lies in the global 0.05 deg CMG, from StructMetadata.0: the
    whole CMG for a provider's file, a window for a crop (see
    :mod:`smdownscale.download.crop`). ProductError if the grid is not a 0.05 deg CMG
    window."""
    text = struct_metadata_text(global_attributes(sd, path))
    if text is None:
        return 0, 0, *CMG_SHAPE  # the SDS shape check guards the geometry
    grids = [g for g in parse_struct_metadata(text) if WSA in g.fields or BSA in g.fields]
    if not grids:
        return 0, 0, *CMG_SHAPE
    g = grids[0]
    if g.upper_left is None or g.lower_right is None:
        if (g.ydim, g.xdim) != CMG_SHAPE:
            raise ProductError(
                path, f"grid {g.name!r} is {g.ydim} x {g.xdim} with no corners",
                "not an MCD43C3 0.05 deg file",
            )  # fmt: skip
        return 0, 0, *CMG_SHAPE
    west, north = (_degrees(v) for v in g.upper_left)
    east, south = (_degrees(v) for v in g.lower_right)
    col0, row0 = (west + 180.0) / CMG_RES, (90.0 - north) / CMG_RES
    ncols, nrows = (east - west) / CMG_RES, (north - south) / CMG_RES
    exact = all(abs(v - round(v)) < 1e-6 for v in (col0, row0, ncols, nrows))
    r0, c0, nr, nc = (round(v) for v in (row0, col0, nrows, ncols))
    if (
        not exact
        or (nr, nc) != (g.ydim, g.xdim)
        or r0 < 0 or c0 < 0 or r0 + nr > CMG_SHAPE[0] or c0 + nc > CMG_SHAPE[1]
    ):  # fmt: skip
        raise ProductError(
            path, f"grid {g.name!r} is {g.ydim} x {g.xdim} from {g.upper_left} to "
            f"{g.lower_right}, not the 0.05 deg CMG or a window of it",
            "not an MCD43C3 0.05 deg file",
        )  # fmt: skip
    return r0, c0, nr, nc


def _in_file(
    path: Path, rows: slice, cols: slice, window: FileWindow, clipped: bool
) -> tuple[slice, slice]:
    """The global CMG ``rows``, ``cols`` as indices into a file holding ``window``; with
    ``clipped``, the part of them the file holds. ProductError when the file is a crop that
    does not hold the cells asked for (a larger region needs the granule again)."""
    r0, c0, nr, nc = window
    if clipped:
        rows = slice(max(rows.start, r0), min(rows.stop, r0 + nr))
        cols = slice(max(cols.start, c0), min(cols.stop, c0 + nc))
    if rows.start < r0 or cols.start < c0 or rows.stop > r0 + nr or cols.stop > c0 + nc:
        lat, lon = cmg_lat(), cmg_lon()
        raise ProductError(
            path,
            f"holds the CMG cells {lat[r0]:g}..{lat[r0 + nr - 1]:g} N, {lon[c0]:g}.."
            f"{lon[c0 + nc - 1]:g} E (cropped on arrival), not the region asked for",
            "delete it (and its record under raw/manifest/) and run again to download it for "
            "this region, or widen download.crop.margin_deg",
        )
    return slice(rows.start - r0, rows.stop - r0), slice(cols.start - c0, cols.stop - c0)


def _read_window(
    sd: Any, path: Path, name: str, rows: slice, cols: slice, shape: tuple[int, int]
) -> np.ndarray:
    """Decoded (physical) values of SDS ``name`` in the window (indices into the file's own
    grid of ``shape``); NaN for fill / out of range."""
    from pyhdf.error import HDF4Error

    if name not in sd.datasets():
        raise not_there(sd, path, name, list(sd.datasets()), "MCD43C3")
    try:
        sds = sd.select(name)
        try:
            _, rank, dims, _, _ = sds.info()
            if rank != 2 or tuple(dims) != shape:
                raise ProductError(
                    path, f"SDS {name!r} has shape {tuple(dims)}, not {shape}",
                    "not an MCD43C3 0.05 deg file",
                )  # fmt: skip
            attrs = sds.attributes()
            raw = np.asarray(sds[rows, cols])
        finally:
            sds.endaccess()
    except HDF4Error as err:
        raise ProductError(path, f"cannot read SDS {name!r} ({err})", REDOWNLOAD) from None
    ok = raw != attr_scalar(attrs, "_FillValue", 32767)
    vr = attrs.get("valid_range")
    if isinstance(vr, list | tuple) and len(vr) == 2:
        ok &= (raw >= vr[0]) & (raw <= vr[1])
    scale = attr_scalar(attrs, "scale_factor", 0.001)
    offset = attr_scalar(attrs, "add_offset", 0.0)
    return np.where(ok, raw * scale + offset, np.nan).astype(np.float32)


def read_mcd43c3_albedo(
    path: str | Path,
    bbox: tuple[float, float, float, float] | None = None,
    margin_deg: float = 0.1,
) -> xr.Dataset:
    """White- and black-sky shortwave albedo (fractions) of an MCD43C3 file (the global CMG
    as the provider writes it, or a window of it cropped on arrival).

    Returns a Dataset with ``wsa`` and ``bsa`` (lat, lon) float32, NaN where the file holds the
    fill value or a value outside ``valid_range``; lat descending, lon ascending (cell
    centres). With ``bbox`` (west, south, east, north), only the cells whose centres lie
    within bbox widened by ``margin_deg`` are read (the margin keeps the CMG cells that
    bilinear interpolation needs around the region's edge cells); a crop must hold every
    cell of ``bbox`` (ProductError otherwise), and gives what it holds of the margin.
    ``bbox=None`` reads all the file holds.
    """
    path = Path(path)
    rows, cols = cmg_window(bbox, margin_deg)
    sd = open_hdf4(path)
    try:
        window = _file_window(sd, path)
        if bbox is None:  # all the file holds
            rows = slice(window[0], window[0] + window[2])
            cols = slice(window[1], window[1] + window[3])
        else:  # the margin may reach past a crop's window: bbox itself must be inside it
            inner_rows, inner_cols = cmg_window(bbox, 0.0)
            _in_file(path, inner_rows, inner_cols, window, clipped=False)
        file_rows, file_cols = _in_file(path, rows, cols, window, clipped=True)
        shape = (window[2], window[3])
        wsa = _read_window(sd, path, WSA, file_rows, file_cols, shape)
        bsa = _read_window(sd, path, BSA, file_rows, file_cols, shape)
        check_granule(path, global_attributes(sd, path), "MCD43C3")
    finally:
        sd.end()
    rows = slice(file_rows.start + window[0], file_rows.stop + window[0])
    cols = slice(file_cols.start + window[1], file_cols.stop + window[1])
    attrs = {"units": "1", "source_file": path.name}
    return xr.Dataset(
        {
            "wsa": (("lat", "lon"), wsa, {**attrs, "long_name": "white-sky shortwave albedo"}),
            "bsa": (("lat", "lon"), bsa, {**attrs, "long_name": "black-sky shortwave albedo"}),
        },
        coords={"lat": cmg_lat()[rows], "lon": cmg_lon()[cols]},
        attrs={"product": "MCD43C3", "collection": "061"},
    )


def blue_sky_albedo(
    wsa: np.ndarray, bsa: np.ndarray, diffuse_fraction: float = DIFFUSE_FRACTION
) -> np.ndarray:
    """Blue-sky albedo = f * WSA + (1 - f) * BSA; NaN where either input is NaN."""
    return diffuse_fraction * np.asarray(wsa, np.float64) + (1.0 - diffuse_fraction) * np.asarray(
        bsa, np.float64
    )


def albedo_to_grid(ds: xr.Dataset, grid: LatLonGrid) -> np.ndarray:
    """float32 (nlat, nlon): shortwave albedo (mean of white and black sky) bilinear on ``grid``.

    A fine cell is NaN when any of the four surrounding CMG cells lacks either albedo, or when
    it lies outside the CMG cell centres read (see ``margin_deg``).
    """
    albedo = blue_sky_albedo(ds["wsa"].values, ds["bsa"].values)
    out = bilinear(albedo, ds["lat"].values, ds["lon"].values, grid)
    return out.astype(np.float32)
