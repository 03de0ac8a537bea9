"""TerraClimate monthly PDSI (the drought evaluation's reference): check and read.

The workflow fetches one global file a year, ``TerraClimate/TerraClimate_PDSI_YYYY.nc``, as
the Northwest Knowledge Network serves it: variable ``PDSI`` (time, lat, lon), 1/24 deg
cells (centres at odd multiples of 1/48 deg, latitudes descending), twelve monthly values
(``time`` in days since 1900-01-01), packed int16 with a scale factor (0.01), fill -32768.
A file is accepted only when ``PDSI`` is there and dimensionless (no units, or units such
as ``unitless``), the grid has TerraClimate's spacing and covers the region, and its twelve
time steps are the months of the year its name says; the last slice must read. Values are
unpacked by the reader (xarray); PDSI below -2 is moderate drought or worse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import cftime
import netCDF4
import numpy as np

from .base import REDOWNLOAD, ProductError

TERRACLIMATE_RES = 1.0 / 24.0
_NAME_RE = re.compile(r"TerraClimate_PDSI_(\d{4})")
_UNITLESS = {"", "1", "unitless", "none", "dimensionless", "-"}


def check_terraclimate(
    path: str | Path, target: str | Path, bbox: Sequence[float] | None = None
) -> None:
    """ProductError naming ``target`` unless ``path`` is the PDSI year its name says."""
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise ProductError(target, f"not a readable NetCDF file ({exc})", REDOWNLOAD) from None
    with ds:
        if "PDSI" not in ds.variables:
            raise ProductError(
                target, f"no variable 'PDSI' (found {sorted(ds.variables)})", REDOWNLOAD
            )
        units = str(getattr(ds.variables["PDSI"], "units", "")).strip().lower()
        if units not in _UNITLESS:
            raise ProductError(target, f"PDSI has units {units!r}; the index is unitless")
        lat, lon = ds.variables["lat"][:], ds.variables["lon"][:]
        for name, c in (("lat", lat), ("lon", lon)):
            step = np.abs(np.diff(np.asarray(c, dtype=np.float64)))
            if c.size < 2 or not np.allclose(step, TERRACLIMATE_RES, atol=1e-6):
                raise ProductError(
                    target, f"{name} spacing is not TerraClimate's 1/24 deg", REDOWNLOAD
                )
        if bbox is not None:
            west, south, east, north = bbox
            if lat.min() > south or lat.max() < north or lon.min() > west or lon.max() < east:
                raise ProductError(target, f"the grid does not cover the region {bbox}")
        t = ds.variables["time"]
        dates = cftime.num2date(t[:], t.units, getattr(t, "calendar", "standard"))
        m = _NAME_RE.search(Path(target).name)
        year = int(m.group(1)) if m else dates[0].year
        months = [(d.year, d.month) for d in dates]
        if months != [(year, k) for k in range(1, 13)]:
            raise ProductError(
                target, f"time steps {months[:3]}... are not the 12 months of {year}", REDOWNLOAD
            )
        try:
            ds.variables["PDSI"][-1]
        except (OSError, RuntimeError, IndexError) as exc:
            raise ProductError(target, f"cannot read PDSI ({exc})", REDOWNLOAD) from None


def read_terraclimate(paths: Sequence[str | Path], bbox: Sequence[float] | None = None):
    """The years ``paths`` (each checked) as one DataArray (time, lat, lon) over ``bbox``
    (west, south, east, north; a cell's margin kept), unpacked float32, time the first day of
    each month."""
    import xarray as xr

    parts = []
    for path in paths:
        check_terraclimate(path, path, bbox)
        with xr.open_dataset(path) as ds:
            da = ds["PDSI"]
            if bbox is not None:
                west, south, east, north = bbox
                pad = TERRACLIMATE_RES
                da = da.sel(lat=slice(north + pad, south - pad)) if da.lat[0] > da.lat[-1] \
                    else da.sel(lat=slice(south - pad, north + pad))  # fmt: skip
                da = da.sel(lon=slice(west - pad, east + pad))
            da = da.astype(np.float32).load()
        times = np.array([np.datetime64(f"{str(t)[:7]}-01") for t in da["time"].values])
        parts.append(da.assign_coords(time=times.astype("datetime64[ns]")))
    if not parts:
        raise ValueError("no TerraClimate file to read")
    return xr.concat(parts, dim="time").sortby("lat", ascending=False)
