"""Reader for GPM IMERG Final daily precipitation (GPM_3IMERGDF V07, NetCDF4 ``.nc4``).

File: ``3B-DAY.MS.MRG.3IMERG.YYYYMMDD-S000000-E235959.V07B.nc4`` from GES DISC. Format as
this module assumes it (no real file was available to inspect; taken from the product
documentation and published ``xarray`` dumps of V07B files):

* dimensions ``time`` (1), ``lon`` (3600), ``lat`` (1800), ``nv`` (2);
* data variables are **lon-major**: ``precipitation(time, lon, lat)`` float32, units
  ``mm/day`` (daily mean rate), ``_FillValue`` -9999.9; companions ``MWprecipitation`` and
  ``randomError`` (float32, mm/day), ``precipitation_cnt``, ``precipitation_cnt_cond``,
  ``MWprecipitation_cnt``, ``MWprecipitation_cnt_cond``, ``randomError_cnt`` (int16 counts
  of half-hours) and ``probabilityLiquidPrecipitation`` (int16, percent);
* ``lat`` -89.95 ... 89.95 and ``lon`` -179.95 ... 179.95 (cell centres, ascending, 0.1 deg);
  ``time`` with ``bounds = "time_bnds"`` (``time_bnds(time, nv)``).

GES DISC subsetting (OPeNDAP/Harmony) returns the same structure over a lat/lon window, so
the reader accepts any window and any axis order or orientation: it finds the ``lat`` and
``lon`` dimensions by name, reads only the requested window, and returns (lat, lon) with lat
descending (north to south, the project convention) and lon ascending. Older V06 files name
the variable ``precipitationCal`` (units ``mm``: a daily accumulation, which is the same
number as mm/day); a ``mm/hr`` variable is multiplied by 24 (logged).

What a file says of itself is checked against its name (the day and version it stands for):
the day of its ``time`` axis and ``BeginDate`` against the name's day; ``time_bnds`` and
``BeginDate``..``EndDate`` must span one day (a half-hourly or monthly file is refused); the
version in the name (``V07B``) against the variable names (``precipitation`` since V07,
``precipitationCal`` before) and ``ProductVersion`` in ``FileHeader`` when present; a time
axis that cannot be decoded is an error, not a fall back to the name.

Regridding to the fine grid (:func:`imerg_to_grid`): ``bilinear`` interpolates between 0.1 deg
cell centres (:func:`smdownscale.regrid.bilinear`; NaN wherever any of the four surrounding
cells is NaN). ``conservative`` is mass-preserving: every fine cell belongs to the 0.1 deg
cell holding its centre; the bilinear field is used as the within-cell shape and rescaled
multiplicatively, per 0.1 deg cell, so that the mean of that cell's fine cells equals the
0.1 deg value exactly. Where the bilinear shape is unusable for a 0.1 deg cell (a NaN
neighbour, a grid edge, or an all-zero shape) the fine cells take the 0.1 deg value itself
(piecewise constant, trivially mass-preserving). A NaN 0.1 deg cell gives NaN fine cells.
Values never become negative.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from typing import Literal

import cftime
import netCDF4
import numpy as np
import xarray as xr

from ..grid import LatLonGrid
from ..regrid import bilinear
from .base import REDOWNLOAD, ProductError, day_from_name, not_readable

log = logging.getLogger(__name__)

IMERG_RES = 0.1
IMERG_FILL = np.float32(-9999.9)
#: Candidate names of the precipitation variable, newest first.
PRECIP_NAMES = ("precipitation", "precipitationCal")
_NAME_RE = re.compile(r"3IMERG\.(\d{8})-S\d{6}-E\d{6}")
_VERSION_RE = re.compile(r"\.(V(\d\d)[A-Z]?)\.nc4?(?:\.part)?$")
_UNIT_FACTORS = {"mm/day": 1.0, "mm day-1": 1.0, "mm d-1": 1.0, "mm": 1.0, "mm/hr": 24.0}
_UNIT_FACTORS.update({"mm/h": 24.0, "mm h-1": 24.0, "mm hr-1": 24.0})

Bbox = tuple[float, float, float, float]


def imerg_date(path: str | Path) -> dt.date:
    """The day of an IMERG daily file, from its name (``...3IMERG.YYYYMMDD-S000000-...``)."""
    return day_from_name(
        path,
        _NAME_RE,
        "an IMERG daily file",
        "3B-DAY.MS.MRG.3IMERG.YYYYMMDD-S000000-E235959.V07B.nc4",
    )


def _window(coord: np.ndarray, lo: float, hi: float) -> slice:
    """Index slice of a monotonic coordinate covering [lo, hi]."""
    inside = np.nonzero((coord >= lo) & (coord <= hi))[0]
    if inside.size == 0:
        return slice(0, 0)
    return slice(int(inside[0]), int(inside[-1]) + 1)


def _coord(path: str | Path, ds: netCDF4.Dataset, name: str) -> np.ndarray:
    if name not in ds.variables:
        raise ProductError(path, f"no {name!r} coordinate variable", "not an IMERG grid file")
    try:
        values = np.asarray(ds.variables[name][:], dtype=np.float64)
    except (OSError, RuntimeError) as exc:
        raise ProductError(path, f"cannot read {name!r} ({exc})", REDOWNLOAD) from None
    steps = np.abs(np.diff(values))
    if values.size > 1 and not np.allclose(steps, IMERG_RES, atol=1e-4):
        raise ProductError(
            path,
            f"{name} is not a regular {IMERG_RES} deg axis "
            f"(steps {steps.min():.4g}..{steps.max():.4g})",
            "not an IMERG 0.1 deg product",
        )
    return np.round(values, 4)


def _decode(path: str | Path, var: netCDF4.Variable, values: np.ndarray) -> list[dt.datetime]:
    """Times of ``var`` (units ``seconds since ...``) as datetimes; ProductError if undecodable.

    IMERG labels its time axis ``calendar = "julian"`` while storing plain Unix seconds
    (the proleptic Gregorian count); decoding with a true Julian calendar would shift
    dates by about 13 days, so the numbers are decoded with the standard calendar.
    """
    units = str(getattr(var, "units", ""))
    try:
        out = cftime.num2date(
            np.asarray(values, dtype=np.float64).ravel(),
            units.replace(" UTC", "").rstrip("Z"),
            "standard",
            only_use_cftime_datetimes=False,
            only_use_python_datetimes=True,
        )
    except (AttributeError, ValueError, OSError, RuntimeError, TypeError):
        raise ProductError(
            path,
            f"its {var.name!r} axis cannot be decoded (units {units!r}), so the day it holds "
            "is unknown",
            "not an IMERG daily file as GES DISC writes it: delete it and download it again",
        ) from None
    return list(out)


def _not_daily(path: str | Path, what: str) -> ProductError:
    return ProductError(
        path,
        f"{what}, not one day: not an IMERG daily (3B-DAY) file",
        "another IMERG product saved under this name, such as half-hourly 3B-HHR or monthly "
        "3B-MO: delete it and download the daily file",
    )


def _day(path: str | Path, ds: netCDF4.Dataset) -> np.datetime64:
    """The file's day at 00:00, from ``time`` (else its name), checked against what the file
    says of itself: ``time_bnds`` and ``BeginDate``/``EndDate`` must span that one day, and a
    file named like an IMERG daily file must hold its name's day."""
    var = ds.variables.get("time")
    named = imerg_date(path) if _NAME_RE.search(Path(path).name) else None
    day = None
    if var is not None and var.size == 1:
        day = _decode(path, var, var[:])[0].date()
        bounds = ds.variables.get(str(getattr(var, "bounds", "")))
        if bounds is not None and bounds.size == 2:
            start, end = _decode(path, var, bounds[:])
            hours = (end - start).total_seconds() / 3600
            if not 23 <= hours <= 25:
                raise _not_daily(path, f"its time_bnds span {hours:g} hours ({start}..{end})")
    attrs = ds.ncattrs()
    if "BeginDate" in attrs and "EndDate" in attrs:
        begin, end = str(ds.getncattr("BeginDate")), str(ds.getncattr("EndDate"))
        if begin != end:
            raise _not_daily(path, f"it covers {begin}..{end} (BeginDate..EndDate)")
        day = day or _as_date(path, begin)
        if _as_date(path, begin) != day:
            raise ProductError(
                path, f"its BeginDate {begin} is not the day of its time axis, {day}", REDOWNLOAD
            )
    if day is None:
        return np.datetime64(imerg_date(path), "ns")
    if named is not None and day != named:
        raise ProductError(
            path,
            f"holds {day} by its own time axis / BeginDate, but its name says {named}",
            "another day's file saved under this name: delete it and download the file of "
            f"{named} again",
        )
    return np.datetime64(day, "ns")


def _as_date(path: str | Path, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise ProductError(path, f"its BeginDate {text!r} is not a date", REDOWNLOAD) from None


def _check_version(path: str | Path, ds: netCDF4.Dataset, name: str) -> None:
    """The version in the file name (``V07B``) against the file's own: its variable names
    (V06 ``precipitationCal``, V07 ``precipitation``) and ``ProductVersion`` in FileHeader."""
    m = _VERSION_RE.search(Path(path).name)
    if not m:
        return
    version, major = m.group(1), int(m.group(2))
    header = str(getattr(ds, "FileHeader", ""))
    own = re.search(r"ProductVersion=(V\d\d[A-Z]?)", header)
    # the whole version (V07A is not V07B) where both say it, else the major version
    whole = own is not None and len(own.group(1)) == len(version) == 4
    if own and (own.group(1) != version if whole else own.group(1)[:3] != version[:3]):
        found = f"ProductVersion {own.group(1)} (FileHeader)"
    elif (name == "precipitation") != (major >= 7):
        found = f"the variable {name!r} of IMERG {'V07' if name == 'precipitation' else 'V06'}"
    else:
        return
    raise ProductError(
        path,
        f"holds {found}, but its name says {version}",
        f"a file of another IMERG version saved under this name: delete it and download the "
        f"{version} file",
    )


def read_imerg(path: str | Path, bbox: Bbox | None = None, margin_deg: float = 0.2) -> xr.DataArray:
    """Daily precipitation (mm/day) as a (lat, lon) DataArray, lat descending.

    ``bbox`` = (west, south, east, north) degrees; the window read is the bbox widened by
    ``margin_deg`` on each side (so that bilinear interpolation to the bbox's edge cells has
    its neighbours). None reads the whole file. Fill values and negative values are NaN.
    Raises :class:`ProductError` naming the file when it is unreadable, has no precipitation
    variable, has unknown units, or does not cover ``bbox``.
    """
    if not Path(path).is_file():
        raise ProductError(path, "file not found", "download it or check raw/ paths")
    try:
        ds = netCDF4.Dataset(path, "r")
    except OSError as exc:
        raise not_readable(path, "NetCDF", str(exc)) from None
    try:
        ds.set_auto_maskandscale(False)
        name = next((n for n in PRECIP_NAMES if n in ds.variables), None)
        if name is None:
            raise ProductError(
                path,
                f"no precipitation variable ({' or '.join(PRECIP_NAMES)}); "
                f"variables: {', '.join(ds.variables)}",
                "not an IMERG daily file",
            )
        var = ds.variables[name]
        dims = var.dimensions
        if "lat" not in dims or "lon" not in dims:
            raise ProductError(path, f"{name!r} has dimensions {dims}, without lat and lon")
        units = str(getattr(var, "units", "")).strip()
        if units not in _UNIT_FACTORS:
            raise ProductError(
                path,
                f"{name!r} has units {units!r}; expected mm/day, mm or mm/hr",
                "not an IMERG daily file: put the GPM_3IMERGDF file there",
            )
        _check_version(path, ds, name)
        day = _day(path, ds)
        lat = _coord(path, ds, "lat")
        lon = _coord(path, ds, "lon")
        if bbox is None:
            rows, cols = slice(0, lat.size), slice(0, lon.size)
        else:
            west, south, east, north = bbox
            half = IMERG_RES / 2
            covered = (
                lat.min() - half <= south + 1e-9
                and lat.max() + half >= north - 1e-9
                and lon.min() - half <= west + 1e-9
                and lon.max() + half >= east - 1e-9
            )
            if not covered:
                raise ProductError(
                    path,
                    f"covers lon {lon.min() - half:g}..{lon.max() + half:g}, "
                    f"lat {lat.min() - half:g}..{lat.max() + half:g}, not the bbox "
                    f"(west={west}, south={south}, east={east}, north={north})",
                    "download a subset that covers the region",
                )
            rows = _window(lat, south - margin_deg, north + margin_deg)
            cols = _window(lon, west - margin_deg, east + margin_deg)
        index = []
        for d in dims:
            if d == "lat":
                index.append(rows)
            elif d == "lon":
                index.append(cols)
            elif ds.dimensions[d].size == 1:
                index.append(0)
            else:
                raise ProductError(path, f"{name!r} has {ds.dimensions[d].size} steps along {d!r}")
        try:
            raw = np.asarray(var[tuple(index)])
        except (OSError, RuntimeError) as exc:
            raise ProductError(path, f"cannot read {name!r} ({exc})", REDOWNLOAD) from None
        kept = [d for d in dims if d in ("lat", "lon")]
        if kept == ["lon", "lat"]:
            raw = raw.T
        fill = getattr(var, "_FillValue", IMERG_FILL)
        values = raw.astype(np.float32)
        with np.errstate(invalid="ignore"):
            bad = (raw == fill) | ~np.isfinite(values) | (values < 0)
        values[bad] = np.nan
        if _UNIT_FACTORS[units] != 1.0:
            log.info(
                "%s: %r is a daily mean rate in %s, multiplied by %g to mm/day",
                path, name, units, _UNIT_FACTORS[units],
            )  # fmt: skip
            values *= np.float32(_UNIT_FACTORS[units])
        lat_w, lon_w = lat[rows], lon[cols]
        if lat_w.size > 1 and lat_w[0] < lat_w[-1]:
            lat_w, values = lat_w[::-1], values[::-1, :]
        if lon_w.size > 1 and lon_w[0] > lon_w[-1]:
            lon_w, values = lon_w[::-1], values[:, ::-1]
    finally:
        ds.close()
    return xr.DataArray(
        np.ascontiguousarray(values),
        dims=("lat", "lon"),
        coords={"lat": lat_w, "lon": lon_w, "time": day},
        name="precipitation",
        attrs={
            "long_name": "daily precipitation (IMERG Final, combined microwave-IR)",
            "units": "mm/day",
            "source_file": str(path),
            "source_variable": name,
        },
    )


def _source_grid(da: xr.DataArray) -> LatLonGrid:
    lat = np.asarray(da["lat"], dtype=np.float64)
    lon = np.asarray(da["lon"], dtype=np.float64)
    return LatLonGrid.from_coords(lat, lon)


def imerg_to_grid(
    da: xr.DataArray,
    grid: LatLonGrid,
    method: Literal["bilinear", "conservative"] = "bilinear",
) -> np.ndarray:
    """Regrid a :func:`read_imerg` field (lat descending) to ``grid`` (mm/day, float32).

    See the module docstring for the two methods. Fine cells outside the source window or
    whose source cell is NaN are NaN.
    """
    values = np.asarray(da.values, dtype=np.float64)
    shape = bilinear(values, da["lat"].values, da["lon"].values, grid)
    if method == "bilinear":
        return shape.astype(np.float32)
    if method != "conservative":
        raise ValueError(
            f"unknown IMERG regrid method {method!r}; use 'bilinear' or 'conservative'"
        )
    src = _source_grid(da)
    row, _ = src.cell_index(grid.lat, np.full(grid.nlat, src.west + src.res / 2))
    _, col = src.cell_index(np.full(grid.nlon, src.north - src.res / 2), grid.lon)
    inside = (row[:, None] >= 0) & (col[None, :] >= 0)
    cell = np.where(inside, row[:, None] * src.nlon + col[None, :], -1)
    const = np.where(inside, values.ravel()[np.where(inside, cell, 0)], np.nan)
    ids = cell[inside]
    n = np.bincount(ids, minlength=src.size)
    shape_in = shape[inside]
    finite = np.isfinite(shape_in)
    n_finite = np.bincount(ids, weights=finite, minlength=src.size)
    total = np.bincount(ids, weights=np.where(finite, shape_in, 0.0), minlength=src.size)
    usable = (n > 0) & (n_finite == n) & (total > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(usable, values.ravel() * n / total, np.nan)
    out = np.full(grid.shape, np.nan)
    out[inside] = np.where(usable[ids], shape_in * scale[ids], const[inside])
    return out.astype(np.float32)
