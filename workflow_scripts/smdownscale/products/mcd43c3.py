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


def _check_cmg_struct(sd: Any, path: Path) -> None:
    """ProductError if StructMetadata.0 describes something other than the global 0.05 deg CMG."""
    text = struct_metadata_text(sd.attributes())
    if text is None:
        return  # the SDS shape check below still guards the geometry
    grids = [g for g in parse_struct_metadata(text) if WSA in g.fields or BSA in g.fields]
    for g in grids:
        if (g.ydim, g.xdim) != CMG_SHAPE:
            raise ProductError(
                path, f"grid {g.name!r} is {g.ydim} x {g.xdim}, not the 3600 x 7200 CMG",
                "not an MCD43C3 0.05 deg file",
            )  # fmt: skip
        if g.upper_left is not None and g.upper_left[0] not in (-180.0, -180000000.0):
            raise ProductError(
                path, f"grid {g.name!r} starts at {g.upper_left}, not at 180 W / 90 N",
                "not a global MCD43C3 file",
            )  # fmt: skip


def _read_window(sd: Any, path: Path, name: str, rows: slice, cols: slice) -> np.ndarray:
    """Decoded (physical) values of SDS ``name`` in the window; NaN for fill / out of range."""
    from pyhdf.error import HDF4Error

    if name not in sd.datasets():
        raise not_there(sd, path, name, list(sd.datasets()), "MCD43C3")
    try:
        sds = sd.select(name)
        try:
            _, rank, dims, _, _ = sds.info()
            if rank != 2 or tuple(dims) != CMG_SHAPE:
                raise ProductError(
                    path, f"SDS {name!r} has shape {tuple(dims)}, not {CMG_SHAPE}",
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
    """White- and black-sky shortwave albedo (fractions) of an MCD43C3 file.

    Returns a Dataset with ``wsa`` and ``bsa`` (lat, lon) float32, NaN where the file holds the
    fill value or a value outside ``valid_range``; lat descending, lon ascending (cell
    centres). With ``bbox`` (west, south, east, north), only the cells whose centres lie
    within bbox widened by ``margin_deg`` are read (the margin keeps the CMG cells that
    bilinear interpolation needs around the region's edge cells).
    """
    path = Path(path)
    rows, cols = cmg_window(bbox, margin_deg)
    sd = open_hdf4(path)
    try:
        _check_cmg_struct(sd, path)
        wsa = _read_window(sd, path, WSA, rows, cols)
        bsa = _read_window(sd, path, BSA, rows, cols)
        check_granule(path, global_attributes(sd, path), "MCD43C3")
    finally:
        sd.end()
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
