"""The format check of an ERA5-Land daily-statistics file (the evaluation reference).

The workflow asks the Copernicus CDS for one month of ``derived-era5-land-daily-statistics``
over the run's region (:mod:`smdownscale.download.cds`), saved as
``ERA5-Land/YYYY/ERA5-Land.daily.YYYY-MM.nc``. Nothing reads it yet, so this check is what
stands between a wrong file and the evaluation: a file is accepted only when

* each configured variable (default ``swvl1``) is there, and a soil-water variable
  (``swvl1`` .. ``swvl4``) is volumetric, m3 m-3 in any usual spelling (the CDS writes
  ``m**3 m**-3``): anything else is refused, there is nothing to convert;
* its grid is ERA5-Land's 0.1 deg lattice (1-D ``latitude``/``longitude``, spacing 0.1 deg;
  longitudes 0..360 are taken as -180..180) and covers the region asked for (``bbox``);
* its time axis (``valid_time`` as the current CDS writes, or ``time`` as older NetCDF
  conversions did) holds daily values at 00:00, one a day, every day of the month its name
  says. ERA5 and ERA5-Land hourly or 6-hourly files, and other months, are refused;
* its last time slice reads (a file cut short fails).

The real ERA5 file of the tests (CDS NetCDF of 2018: 6-hourly, 5 deg, ``time``) fails the
grid check.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

import cftime
import netCDF4
import numpy as np

from .base import REDOWNLOAD, ProductError, covers
from .units import ACCEPTED, VOLUMETRIC, soil_moisture_units

ERA5_LAND_RES = 0.1
_NAME_RE = re.compile(r"ERA5-Land\.daily\.(\d{4})-(\d{2})")
_SOIL_WATER = re.compile(r"^swvl[1-4]$")
_ADVICE = "request ERA5-Land daily statistics (derived-era5-land-daily-statistics) again"


def check_era5_land(
    path: str | Path,
    target: str | Path,
    variables: Sequence[str] = ("swvl1",),
    bbox: Sequence[float] | None = None,
) -> None:
    """ProductError naming ``target`` unless ``path`` is the ERA5-Land month its name says
    (see the module docstring); ``bbox`` is (west, south, east, north) in degrees."""
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise ProductError(target, f"not a readable NetCDF file ({exc})", REDOWNLOAD) from None
    with ds:
        for name in variables:
            _check_variable(target, ds, name)
        _check_grid(target, ds, bbox)
        _check_days(target, ds)
        for name in variables:
            var = ds.variables[name]
            try:
                var[-1] if var.ndim and var.shape[0] else var[...]
            except (OSError, RuntimeError, IndexError) as exc:
                raise ProductError(target, f"cannot read {name!r} ({exc})", REDOWNLOAD) from None


def _check_variable(target: str | Path, ds: netCDF4.Dataset, name: str) -> None:
    if name not in ds.variables:
        raise ProductError(
            target,
            f"has no variable {name!r} (variables: {', '.join(ds.variables) or 'none'})",
            _ADVICE,
        )
    if not _SOIL_WATER.match(name):
        return
    var = ds.variables[name]
    units = var.getncattr("units") if "units" in var.ncattrs() else None
    if soil_moisture_units(units) != VOLUMETRIC:
        found = f"is in {units!r}" if units is not None else "has no units attribute"
        raise ProductError(
            target,
            f"{name!r} {found}, not volumetric soil water in {ACCEPTED}",
            f"this is not ERA5-Land volumetric soil water: {_ADVICE}",
        )


def _coordinate(target: str | Path, ds: netCDF4.Dataset, names: Sequence[str]) -> np.ndarray:
    for name in names:
        if name in ds.variables and ds.variables[name].ndim == 1:
            return np.asarray(ds.variables[name][:], dtype=np.float64)
    raise ProductError(
        target, f"has no 1-D {' or '.join(repr(n) for n in names)} coordinate", _ADVICE
    )


def _check_grid(target: str | Path, ds: netCDF4.Dataset, bbox: Sequence[float] | None) -> None:
    lat = _coordinate(target, ds, ("latitude", "lat"))
    lon = _coordinate(target, ds, ("longitude", "lon"))
    lon = np.where(lon > 180, lon - 360, lon)
    for name, values in (("latitude", lat), ("longitude", lon)):
        steps = np.abs(np.diff(values))
        if values.size < 2 or not np.allclose(steps, ERA5_LAND_RES, atol=1e-3):
            step = f"{np.median(steps):g} deg" if steps.size else "a single value"
            raise ProductError(
                target,
                f"{name} steps by {step}, not ERA5-Land's {ERA5_LAND_RES} deg",
                f"this is not an ERA5-Land file (ERA5-Land is on 0.1 deg, ERA5 on 0.25 deg): "
                f"{_ADVICE}",
            )
    if bbox is None:
        return
    west, south, east, north = bbox
    if not covers(lat, lon, bbox, ERA5_LAND_RES / 2):
        raise ProductError(
            target,
            f"covers latitude {lat.min():g}..{lat.max():g}, longitude {lon.min():g}.."
            f"{lon.max():g}, not the region {south:g}..{north:g} N, {west:g}..{east:g} E",
            f"it was requested for another region: delete it and {_ADVICE}",
        )


def _check_days(target: str | Path, ds: netCDF4.Dataset) -> None:
    name = next((n for n in ("valid_time", "time") if n in ds.variables), None)
    if name is None:
        raise ProductError(target, "has no 'valid_time' or 'time' coordinate", _ADVICE)
    var = ds.variables[name]
    try:
        stamps = cftime.num2date(
            np.asarray(var[:]),
            var.units,
            getattr(var, "calendar", "standard"),
            only_use_cftime_datetimes=False,
            only_use_python_datetimes=True,
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise ProductError(target, f"cannot decode {name!r} ({exc})", _ADVICE) from None
    stamps = list(np.atleast_1d(stamps))
    steps = {(b - a).total_seconds() / 3600 for a, b in zip(stamps, stamps[1:], strict=False)}
    if steps - {24.0} or any((s.hour, s.minute, s.second) != (0, 0, 0) for s in stamps):
        step = ", ".join(f"{h:g} h" for h in sorted(steps)) or f"one value at {stamps[0]}"
        raise ProductError(
            target,
            f"{name} steps by {step}; ERA5-Land daily statistics hold one value a day at 00:00",
            f"this is an hourly or sub-daily file: {_ADVICE}",
        )
    m = _NAME_RE.search(Path(target).name)
    if m is None:
        return
    year, month = int(m.group(1)), int(m.group(2))
    expected = [dt.date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]
    found = [s.date() for s in stamps]
    if found != expected:
        shown = f"{found[0]}..{found[-1]} ({len(found)} days)" if found else "no day"
        raise ProductError(
            target,
            f"holds {shown}, but its name says {year}-{month:02d} ({len(expected)} days)",
            f"delete it and {_ADVICE}",
        )


def open_cds(path: str | Path, variable: str = "swvl1"):
    """One CDS NetCDF's ``variable`` as a DataArray (time, lat, lon), whatever the era of
    the CDS conversion: ``valid_time`` (current) or ``time`` (before 2024), packed int16
    with scale and offset or float; unpacked to float32, latitudes descending, longitudes
    in -180..180. No format check: :func:`read_era5_land` checks first."""
    import xarray as xr

    with xr.open_dataset(path) as ds:
        da = ds[variable]
        rename = {k: v for k, v in (("valid_time", "time"), ("latitude", "lat"),
                                    ("longitude", "lon")) if k in da.dims}  # fmt: skip
        da = da.rename(rename).astype(np.float32).load()
    da = da.assign_coords(lon=((da["lon"].values + 180.0) % 360.0) - 180.0)
    return da.sortby("lat", ascending=False).sortby("lon")


def read_era5_land(
    paths: Sequence[str | Path],
    variable: str = "swvl1",
    bbox: Sequence[float] | None = None,
):
    """The months ``paths`` (each checked by :func:`check_era5_land`) as one DataArray
    (time, lat, lon) of daily values (:func:`open_cds`; dates at 00:00), m3 m-3."""
    import xarray as xr

    parts = []
    for path in paths:
        check_era5_land(path, path, (variable,), bbox)
        da = open_cds(path, variable)
        days = da["time"].values.astype("datetime64[D]").astype("datetime64[ns]")
        parts.append(da.assign_coords(time=days))
    if not parts:
        raise ValueError("no ERA5-Land file to read")
    out = xr.concat(parts, dim="time")
    out.attrs["units"] = "m3 m-3"
    return out
