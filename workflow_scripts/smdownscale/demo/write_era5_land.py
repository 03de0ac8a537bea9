"""Write a month of ERA5-Land daily statistics as the current CDS delivers them (for tests).

Layout of the current CDS NetCDF4 output (``derived-era5-land-daily-statistics``):
dimensions ``valid_time`` (one a day, 00:00), ``latitude`` (descending) and ``longitude`` on
the 0.1 deg lattice; ``swvl1`` float32 (valid_time, latitude, longitude), units
``m**3 m**-3``, NaN fill over sea. This follows the CDS documentation of its NetCDF
conversion; no real daily-statistics file was inspected (the real ERA5 file in
shared/realdata is the 2018 6-hourly format). The keyword arguments exist to write the
mutated files of the reliability tests.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import netCDF4
import numpy as np

from ..atomic import atomic_path


def write_era5_land_month(
    path: str | Path,
    year: int,
    month: int,
    area: Sequence[float],
    *,
    res: float = 0.1,
    step_hours: int = 24,
    days: int | None = None,
    units: str | None = "m**3 m**-3",
    variable: str = "swvl1",
    value: float = 0.25,
    values: np.ndarray | None = None,
) -> Path:
    """Write ``path`` over ``area`` (north, west, south, east, as a CDS request) and return it.

    ``days`` (default: the whole month) values ``step_hours`` apart from the 1st at 00:00;
    ``units=None`` leaves the attribute out. ``values`` (time, latitude, longitude) replaces
    the constant ``value`` (the demo's reference, :func:`era5_land_from_truth`).
    """
    north, west, south, east = area
    lat = np.round(np.arange(north, south - res / 2, -res), 6)
    lon = np.round(np.arange(west, east + res / 2, res), 6)
    ndays = calendar.monthrange(year, month)[1] if days is None else days
    start = dt.datetime(year, month, 1)
    hours = np.arange(0, ndays * 24, step_hours)
    epoch = dt.datetime(1970, 1, 1)
    seconds = [int((start - epoch).total_seconds()) + int(h) * 3600 for h in hours]
    with atomic_path(Path(path)) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.createDimension("valid_time", len(seconds))
        ds.createDimension("latitude", lat.size)
        ds.createDimension("longitude", lon.size)
        t = ds.createVariable("valid_time", "i8", ("valid_time",))
        t.setncatts({"units": "seconds since 1970-01-01", "calendar": "proleptic_gregorian"})
        t[:] = seconds
        ds.createVariable("latitude", "f8", ("latitude",))[:] = lat
        ds.createVariable("longitude", "f8", ("longitude",))[:] = lon
        var = ds.createVariable(
            variable, "f4", ("valid_time", "latitude", "longitude"), fill_value=np.float32(np.nan)
        )
        attrs = {"long_name": "Volumetric soil water layer 1"}
        if units is not None:
            attrs["units"] = units
        var.setncatts(attrs)
        shape = (len(seconds), lat.size, lon.size)
        if values is not None and np.shape(values) != shape:
            raise ValueError(f"values of shape {np.shape(values)}, the file holds {shape}")
        var[:] = np.full(shape, value, np.float32) if values is None else values
        ds.setncatts({"Conventions": "CF-1.7", "institution": "SYNTHETIC (smdownscale tests)"})
    return Path(path)


#: The demo's ERA5-Land: a land-surface model's smooth, biased view of the true field.
ERA5_OFFSET = 0.03
ERA5_SCALE = 0.8
ERA5_NOISE_SD = 0.015


def era5_lattice(area: Sequence[float], res: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(lat descending, lon) cell centres of ERA5-Land's lattice over a CDS ``area``."""
    north, west, south, east = area
    lat = np.round(np.arange(north, south - res / 2, -res), 6)
    lon = np.round(np.arange(west, east + res / 2, res), 6)
    return lat, lon


def era5_land_from_truth(
    truth: np.ndarray,
    truth_lat: np.ndarray,
    truth_lon: np.ndarray,
    area: Sequence[float],
    rng: np.random.Generator,
    res: float = 0.1,
) -> np.ndarray:
    """The demo's ERA5-Land swvl1 (time, lat, lon) from the true 1 km field (time, y, x).

    Each 0.1 deg cell takes the mean of the true fine cells whose centres fall in it, then
    ``ERA5_OFFSET + ERA5_SCALE x mean`` plus independent noise of SD ``ERA5_NOISE_SD``
    (a model's damped, offset climatology with its own errors, independent of the
    satellite's); NaN where no fine cell falls in the cell.
    """
    from ..reference import reference_index, to_reference

    lat, lon = era5_lattice(area, res)
    rows = reference_index(truth_lat, lat, res, descending=True)
    cols = reference_index(truth_lon, lon, res, descending=False)
    out = to_reference(truth, rows, cols, (lat.size, lon.size), min_share=0.0)
    out = ERA5_OFFSET + ERA5_SCALE * out + ERA5_NOISE_SD * rng.standard_normal(out.shape)
    return out.astype(np.float32)
