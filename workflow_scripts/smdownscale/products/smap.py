"""Reader for SMAP L3 radiometer soil moisture (SPL3SMP, HDF5) on the EASE-Grid 2.0 36 km grid.

File: ``SMAP_L3_SM_P_YYYYMMDD_R<CRID>_<nnn>.h5``. Layout (inspected on the real
``SMAP_L3_SM_P_20150401_R13080_001.h5``, an early release):

* group ``Soil_Moisture_Retrieval_Data`` with (406, 964) datasets (row = y north to south,
  column = x west to east), gzip, chunks (1, 964): ``soil_moisture`` float32 cm3/cm3 (the
  same as m3 m-3), _FillValue -9999; ``latitude``/``longitude`` float32, **-9999 wherever the
  cell has no retrieval** (they are not a full coordinate grid in this release);
  ``retrieval_qual_flag`` uint16 (bits below; _FillValue 65534); ``EASE_row_index`` and
  ``EASE_column_index`` uint16; and about 25 more variables.
* the early release only has the descending (6 AM) pass. Later releases (product version 4
  onwards, e.g. ``..._R19240_001.h5``) have ``Soil_Moisture_Retrieval_Data_AM`` (same
  names) and ``Soil_Moisture_Retrieval_Data_PM`` whose datasets carry a ``_pm`` suffix
  (``soil_moisture_pm``, ``latitude_pm``, ...). Both layouts are read.

``retrieval_qual_flag`` bits (``flag_masks`` 1, 2, 4 with meanings Retrieval_recommended,
Retrieval_attempted, Retrieval_success; per the SMAP product specification a *set* bit means
"no": 1 = not recommended quality, 2 = not attempted, 4 = not successful). The reader
returns the flag raw and masks nothing but the fill value.

Counts in the real file (2015-04-01, AM): ``soil_moisture`` is valid in 35,278 cells,
0.02 ... 0.939 m3 m-3, 2,002 of them above the stated valid_max 0.5; ``latitude`` is valid in
216,066 cells. The flag is 0 in 20,878 cells, 1 in 10,373, 5 in 4,027 (all three with valid
soil moisture, even "not successful" 5) and 7 in the remaining 356,106 (no soil moisture).

EASE-Grid 2.0 global 36 km (EPSG:6933, cylindrical equal-area, true scale at 30 deg):
964 columns x 406 rows of 36032.220840584 m; the grid's outer corner is at
x = -17367530.44516138 m, y = 7314540.830638 m (the north-west corner of cell (0, 0)).
:func:`ease2_index_of_grid` uses these numbers; they reproduce the file's latitude/longitude
and EASE row/column indices to within 2e-5 of a cell in the real file.

What the file claims is checked against its own metadata (one :class:`ProductError` naming
the file and what to do for each):

* ``soil_moisture`` units: ``cm**3/cm**3`` (the real file) or any spelling of m3 m-3;
  percent by volume is divided by 100 (logged); percent of saturation and other units are
  refused. Missing units are taken as m3 m-3 (logged) only when
  ``Metadata/DatasetIdentification`` names the product SPL3SMP, whose specification fixes
  the unit; otherwise refused.
* the day: the name's day must be the day of ``Metadata/Extent`` ``rangeBeginningDateTime``
  and of the name in ``Metadata/DatasetIdentification`` ``fileName``, and the range must
  span one day (a daily composite). A name without a day takes the metadata's; a file with
  neither is refused (it used to get no day, NaT, silently).
* the grid: 406 x 964 datasets whose valid latitude/longitude sit at EASE-Grid 2.0 36 km
  cell centres; or, for a file cropped on arrival (:mod:`smdownscale.download.crop_hdf5`),
  the window its root attribute ``smdownscale_crop_window`` names, which the reader puts
  back in place on the global grid (fill around it; ``attrs["window"]`` says which rows
  and columns the file held, and :mod:`smdownscale.products.smap_target` refuses a region
  outside them).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import h5py
import numpy as np
import xarray as xr
from pyproj import Transformer

from ..ease2 import (
    EASE2_CRS,
    EASE2_M36_CELL_M,
    EASE2_M36_NCOLS,
    EASE2_M36_NROWS,
    EASE2_M36_X0,
    EASE2_M36_Y0,
)
from ..grid import LatLonGrid
from .base import REDOWNLOAD, ProductError
from .units import ACCEPTED, MISSING, SATURATION_PERCENT, soil_moisture_units, volumetric_factor

log = logging.getLogger(__name__)

SMAP_FILL = -9999.0
_NAME_RE = re.compile(r"SMAP_L3_SM_P_(\d{8})_R\d+_\d+")
_LEGACY_GROUP = "Soil_Moisture_Retrieval_Data"
FLAG_FILL = 65534  # retrieval_qual_flag and surface_flag fill


def smap_date(path: str | Path) -> dt.date:
    """The day of a SPL3SMP file, from its name (``SMAP_L3_SM_P_YYYYMMDD_R..._nnn.h5``)."""
    m = _NAME_RE.search(Path(path).name)
    if not m:
        raise ProductError(path, "file name is not a SMAP L3_SM_P name (SMAP_L3_SM_P_YYYYMMDD_...)")
    return dt.datetime.strptime(m.group(1), "%Y%m%d").date()


def ease2_x() -> np.ndarray:
    """EASE-Grid 2.0 36 km cell-centre x (m), west to east."""
    return EASE2_M36_X0 + (np.arange(EASE2_M36_NCOLS) + 0.5) * EASE2_M36_CELL_M


def ease2_y() -> np.ndarray:
    """EASE-Grid 2.0 36 km cell-centre y (m), north to south."""
    return EASE2_M36_Y0 - (np.arange(EASE2_M36_NROWS) + 0.5) * EASE2_M36_CELL_M


def _group_and_suffix(path: str | Path, f: h5py.File, pass_: str) -> tuple[h5py.Group, str]:
    if pass_ not in ("AM", "PM"):
        raise ValueError(f"pass_ must be 'AM' (descending) or 'PM' (ascending), not {pass_!r}")
    name = f"{_LEGACY_GROUP}_{pass_}"
    if name in f:
        return f[name], "_pm" if pass_ == "PM" else ""
    if _LEGACY_GROUP in f:
        if pass_ == "PM":
            raise ProductError(
                path,
                "this early-release file has only the descending (AM) pass",
                "use pass_='AM', or a later release (version 4 onwards) for PM retrievals",
            )
        return f[_LEGACY_GROUP], ""
    raise ProductError(
        path,
        f"no {_LEGACY_GROUP}[_AM|_PM] group (groups: {', '.join(f.keys())})",
        "not a SMAP L3_SM_P (SPL3SMP) file",
    )


#: Root attribute of a crop on arrival (:mod:`smdownscale.download.crop_hdf5`): the window
#: [row0, row1, col0, col1] of the global grid its 2-D datasets hold.
CROP_WINDOW = "smdownscale_crop_window"
GLOBAL_WINDOW = (0, EASE2_M36_NROWS, 0, EASE2_M36_NCOLS)


def file_window(path: str | Path, f: h5py.File) -> tuple[int, int, int, int]:
    """The rows and columns of the global grid the file's datasets hold: all of them, or
    the window of a crop on arrival."""
    if CROP_WINDOW not in f.attrs:
        return GLOBAL_WINDOW
    r0, r1, c0, c1 = (int(v) for v in np.asarray(f.attrs[CROP_WINDOW]).ravel())
    if not (0 <= r0 < r1 <= EASE2_M36_NROWS and 0 <= c0 < c1 <= EASE2_M36_NCOLS):
        raise ProductError(path, f"its crop window {[r0, r1, c0, c1]} is not inside the grid",
                           REDOWNLOAD)  # fmt: skip
    return r0, r1, c0, c1


def _on_global_grid(
    path: str | Path, name: str, raw: np.ndarray, window: tuple[int, int, int, int], fill: object
) -> np.ndarray:
    """``raw`` (the file's window) placed on the global 406 x 964 grid, ``fill`` around it."""
    r0, r1, c0, c1 = window
    if raw.shape != (r1 - r0, c1 - c0):
        raise ProductError(
            path,
            f"{name} has shape {raw.shape}, not ({r1 - r0}, {c1 - c0})"
            + ("" if window == GLOBAL_WINDOW else f" (its crop window {list(window)})"),
            "not the 36 km SPL3SMP product (the 9 km enhanced SPL3SMP_E is 1624 x 3856)",
        )
    if window == GLOBAL_WINDOW:
        return raw
    out = np.full((EASE2_M36_NROWS, EASE2_M36_NCOLS), fill, dtype=raw.dtype)
    out[r0:r1, c0:c1] = raw
    return out


def _read_raw(path: str | Path, group: h5py.Group, name: str) -> tuple[np.ndarray, h5py.Dataset]:
    if name not in group:
        raise ProductError(path, f"no dataset {group.name}/{name}", "not a SPL3SMP file")
    try:
        ds = group[name]
        return ds[()], ds
    except (OSError, KeyError) as exc:
        raise ProductError(path, f"cannot read {group.name}/{name} ({exc})", REDOWNLOAD) from None


def _read_float(
    path: str | Path, group: h5py.Group, name: str, window: tuple[int, int, int, int]
) -> np.ndarray:
    raw, ds = _read_raw(path, group, name)
    fill = ds.attrs.get("_FillValue", SMAP_FILL)
    out = raw.astype(np.float32)
    out[(raw == fill) | (raw == SMAP_FILL)] = np.nan
    return _on_global_grid(path, name, out, window, np.float32(np.nan))


def _read_flag(
    path: str | Path, group: h5py.Group, name: str, window: tuple[int, int, int, int]
) -> np.ndarray:
    raw, ds = _read_raw(path, group, name)
    fill = ds.attrs.get("_FillValue", FLAG_FILL)
    return _on_global_grid(path, name, np.asarray(raw), window, fill)


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _metadata(f: h5py.File, group: str, name: str) -> str:
    node = f.get(f"Metadata/{group}")
    return _text(node.attrs[name]).strip() if node is not None and name in node.attrs else ""


def _sm_scale(path: str | Path, f: h5py.File, ds: h5py.Dataset) -> float:
    """The factor that turns ``soil_moisture`` into m3 m-3 (see the module docstring)."""
    units = _text(ds.attrs["units"]) if "units" in ds.attrs else None
    factor = volumetric_factor(path, ds.name, units)
    if factor is not None:
        return factor
    kind = soil_moisture_units(units)
    short = _metadata(f, "DatasetIdentification", "shortName")
    if kind == MISSING and short == "SPL3SMP":
        log.warning("%s: %s has no units attribute; taken as m3 m-3 (cm3/cm3), the unit of "
                    "the SPL3SMP product its metadata name", path, ds.name)  # fmt: skip
        return 1.0
    if kind == MISSING:
        problem = f"{ds.name} has no units attribute, and its metadata do not name SPL3SMP"
    elif kind == SATURATION_PERCENT:
        problem = f"{ds.name} is in {units!r}, percent of saturation, not volumetric"
    else:
        problem = f"{ds.name} is in {units!r}, not volumetric soil moisture in {ACCEPTED}"
    raise ProductError(path, problem, "not a SMAP L3_SM_P (SPL3SMP) file as NSIDC delivers it")


def _day(path: str | Path, f: h5py.File) -> dt.date:
    """The file's day: its name's, checked against its metadata (see the module docstring)."""
    name_day = _NAME_RE.search(Path(path).name)
    claims: list[tuple[dt.date, str]] = []
    if name_day:
        claims.append((dt.datetime.strptime(name_day.group(1), "%Y%m%d").date(), "its name"))
    own = _NAME_RE.search(_metadata(f, "DatasetIdentification", "fileName"))
    if own:
        day = dt.datetime.strptime(own.group(1), "%Y%m%d").date()
        claims.append((day, "Metadata/DatasetIdentification fileName"))
    begin = _metadata(f, "Extent", "rangeBeginningDateTime")
    end = _metadata(f, "Extent", "rangeEndingDateTime")
    if begin:
        try:
            start = dt.datetime.fromisoformat(begin.replace("Z", "+00:00"))
            stop = dt.datetime.fromisoformat(end.replace("Z", "+00:00")) if end else start
        except ValueError:
            raise ProductError(
                path, f"Metadata/Extent rangeBeginningDateTime {begin!r} is not a date"
            ) from None
        if (stop - start).total_seconds() > 86400:
            raise ProductError(
                path,
                f"covers {begin} .. {end}, more than one day",
                "not a daily SPL3SMP file: use the daily L3_SM_P file of that day",
            )
        claims.append((start.date(), f"Metadata/Extent rangeBeginningDateTime {begin}"))
    if not claims:
        raise ProductError(
            path,
            "neither its name (SMAP_L3_SM_P_YYYYMMDD_...) nor its metadata give its day",
            "use the file as NSIDC delivers it, under its own name",
        )
    days = {d for d, _ in claims}
    if len(days) > 1:
        shown = "; ".join(f"{where}: {d}" for d, where in claims)
        raise ProductError(
            path,
            f"its name and its metadata give different days ({shown})",
            "the file was renamed: download the file of the day you need again",
        )
    return days.pop()


def _check_ease2(path: str | Path, lat: np.ndarray, lon: np.ndarray) -> None:
    """ProductError unless the file's valid lat/lon sit at the EASE2 36 km cell centres."""
    rows, cols = np.nonzero(np.isfinite(lat) & np.isfinite(lon))
    if rows.size == 0:
        return
    x, y = Transformer.from_crs("EPSG:4326", EASE2_CRS, always_xy=True).transform(
        lon[rows, cols].astype(np.float64), lat[rows, cols].astype(np.float64)
    )
    dcol = (x - EASE2_M36_X0) / EASE2_M36_CELL_M - 0.5 - cols
    drow = (EASE2_M36_Y0 - y) / EASE2_M36_CELL_M - 0.5 - rows
    worst = float(max(np.abs(dcol).max(), np.abs(drow).max()))
    if worst > 0.01:
        raise ProductError(
            path,
            f"latitude/longitude are {worst:.3g} cells off the EASE-Grid 2.0 36 km centres",
            "not a global EASE-Grid 2.0 36 km file",
        )


def read_smap_l3(path: str | Path, pass_: str = "AM") -> xr.Dataset:
    """One SPL3SMP file's ``pass_`` ("AM" descending / "PM" ascending) as a (y, x) Dataset.

    Variables: ``soil_moisture`` float32 m3 m-3 (NaN at the -9999 fill; no range masking),
    ``retrieval_qual_flag`` and ``surface_flag`` uint16 raw (when present), and 2-D
    ``latitude``/``longitude`` coordinates from the file (NaN where the file has fill).
    ``y``/``x`` are the EASE-Grid 2.0 cell-centre coordinates in metres (EPSG:6933);
    ``time`` is the file's day.
    Raises :class:`ProductError` naming the file when it is not readable HDF5, lacks the
    retrieval group, is not 406 x 964, its lat/lon are not on the EASE2 36 km grid, its
    units are not volumetric, or its name and metadata disagree on its day.
    """
    if not Path(path).is_file():
        raise ProductError(path, "file not found", "download it or check raw/ paths")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ProductError(path, f"not a readable HDF5 file ({exc})", REDOWNLOAD) from None
    with f:
        group, sfx = _group_and_suffix(path, f, pass_)
        window = file_window(path, f)
        sm = _read_float(path, group, f"soil_moisture{sfx}", window)
        sm *= _sm_scale(path, f, group[f"soil_moisture{sfx}"])
        day = np.datetime64(_day(path, f), "ns")
        lat = _read_float(path, group, f"latitude{sfx}", window)
        lon = _read_float(path, group, f"longitude{sfx}", window)
        qual = None
        if f"retrieval_qual_flag{sfx}" in group:
            qual = _read_flag(path, group, f"retrieval_qual_flag{sfx}", window)
        surface = None
        if f"surface_flag{sfx}" in group:
            surface = _read_flag(path, group, f"surface_flag{sfx}", window)
    _check_ease2(path, lat, lon)
    dims = ("y", "x")
    out = xr.Dataset(
        {
            "soil_moisture": (
                dims,
                sm,
                {"long_name": "SMAP L3 soil moisture", "units": "m3 m-3", "pass": pass_},
            )
        },
        coords={
            "y": ("y", ease2_y(), {"units": "m", "standard_name": "projection_y_coordinate"}),
            "x": ("x", ease2_x(), {"units": "m", "standard_name": "projection_x_coordinate"}),
            "latitude": (dims, lat, {"units": "degrees_north"}),
            "longitude": (dims, lon, {"units": "degrees_east"}),
            "time": day,
        },
        attrs={
            "source_file": str(path),
            "crs": EASE2_CRS,
            "grid": "EASE-Grid 2.0 global 36 km (M36)",
            "cell_size_m": EASE2_M36_CELL_M,
            "window": list(window),  # rows and columns the file holds (a crop: fill around)
        },
    )
    if qual is not None:
        out["retrieval_qual_flag"] = (dims, qual, {"comment": "raw bits; 65534 = fill"})
    if surface is not None:
        out["surface_flag"] = (dims, surface, {"comment": "raw bits; 65534 = fill"})
    return out


def ease2_index_of_grid(grid: LatLonGrid) -> np.ndarray:
    """(2, nlat, nlon) int64: row and column of the EASE2 36 km cell holding each cell centre.

    ``row, col = ease2_index_of_grid(grid)``; -1 where the centre is outside the EASE2
    grid (beyond about +-85.04 deg latitude). EPSG:6933 is cylindrical, so x depends only
    on longitude and y only on latitude, and the two axes are transformed separately.
    """
    to_ease = Transformer.from_crs("EPSG:4326", EASE2_CRS, always_xy=True)
    x, _ = to_ease.transform(grid.lon, np.zeros(grid.nlon))
    _, y = to_ease.transform(np.zeros(grid.nlat), grid.lat)
    col = np.floor((np.asarray(x) - EASE2_M36_X0) / EASE2_M36_CELL_M).astype(np.int64)
    row = np.floor((EASE2_M36_Y0 - np.asarray(y)) / EASE2_M36_CELL_M).astype(np.int64)
    col = np.where((col >= 0) & (col < EASE2_M36_NCOLS) & np.isfinite(x), col, -1)
    row = np.where((row >= 0) & (row < EASE2_M36_NROWS) & np.isfinite(y), row, -1)
    rows = np.broadcast_to(row[:, None], grid.shape)
    cols = np.broadcast_to(col[None, :], grid.shape)
    outside = (rows < 0) | (cols < 0)
    return np.stack([np.where(outside, -1, rows), np.where(outside, -1, cols)])
