"""GLDAS-2.1 Noah 3-hourly 0.25 deg soil moisture (GES DISC ``GLDAS_NOAH025_3H`` v2.1): the
optional second evaluation reference (issue 16, item 4).

Format as this module assumes it, from the GES DISC README for GLDAS-2 (no real file was
available to inspect here; :mod:`smdownscale.demo.write_gldas` writes files in this layout):

* name ``GLDAS_NOAH025_3H.A{YYYYMMDD}.{HHMM}.021.nc4``, HHMM one of 0000, 0300, ..., 2100:
  one file per 3 hours, whose ``_inst`` variables are the instantaneous states at that UTC
  time;
* NetCDF4; dimensions ``time`` (unlimited, 1), ``lat`` (600), ``lon`` (1440), ``bnds`` (2);
* ``time`` double, units ``days since YYYY-MM-DD HH:MM:SS`` (the file's own stamp; decoded
  with cftime, any reference accepted), calendar ``standard``, bounds ``time_bnds``;
* ``lat`` float32 ascending -59.875 .. 89.875, ``lon`` float32 -179.875 .. 179.875, both on
  0.25 deg steps, so every centre ends in .125, .375, .625 or .875;
* ``SoilMoi0_10cm_inst`` float32 (time, lat, lon), units ``kg m-2`` (water in the 0-10 cm
  layer), ``_FillValue`` and ``missing_value`` -9999 over sea and ice.

Region subsets (as GES DISC OPeNDAP returns them) hold the same variables on a window of
that lattice; both global files and subsets are read.

A file is accepted (:func:`check_gldas`) only when it opens as NetCDF; holds the variable,
in kg m-2 in a usual spelling (``kg m-2``, ``kg/m2``, ``kg m**-2``, ``kg/m^2``; anything
else is refused: GLDAS writes nothing else, so there is no other unit to convert from); its
``lat``/``lon`` are 1-D, on 0.25 deg steps and on the GLDAS centres (the 1 deg GLDAS
product, ERA5-Land's 0.1 deg and ERA5's x.00/x.25 0.25 deg lattice are refused); it covers
the region asked for; it holds one time step, at the date and HHMM its name says (a name
without a GLDAS stamp is only held to a whole 3-hour UTC time); and the variable's last
slice reads (a file cut short fails).

:func:`read_gldas` turns the 3-hourly files into daily volumetric soil moisture: the mean
of a day's 8 instantaneous states (0000 .. 2100 UTC; all 8 are required, and a cell-day is
missing if any of its 8 is), divided by the water density times the layer depth:
``theta [m3 m-3] = W [kg m-2] / (1000 kg m-3 x d [m])``, i.e. /100 for 0-10 cm.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

import cftime
import netCDF4
import numpy as np
import xarray as xr

from .base import REDOWNLOAD, ProductError, covers, sniff

GLDAS_RES = 0.25
GLDAS_HOURS: tuple[str, ...] = tuple(f"{h:02d}00" for h in range(0, 24, 3))
GLDAS_VARIABLE = "SoilMoi0_10cm_inst"
#: South and west edges of the global GLDAS 0.25 deg lattice (600 x 1440 cells).
GLDAS_SOUTH = -60.0
GLDAS_WEST = -180.0
GLDAS_NLAT = 600
GLDAS_NLON = 1440
WATER_DENSITY = 1000.0  # kg m-3

_NAME_RE = re.compile(r"GLDAS_NOAH025_3H\.A(\d{8})\.(\d{4})\.(\d{3})")
_LAYER_RE = re.compile(r"^SoilMoi(\d+)_(\d+)cm(?:_inst|_tavg)?$")
_KG_M2 = {"kgm-2", "kg/m2"}
_ADVICE = "download the GLDAS_NOAH025_3H (version 2.1) file from GES DISC again"
_TOL = 1e-3  # deg: float32 coordinates against the lattice

Bbox = Sequence[float]


def gldas_name(day: dt.date, hhmm: str, version: str = "021") -> str:
    """The GES DISC name of the GLDAS Noah 0.25 deg 3-hourly file of ``day`` at ``hhmm``
    UTC (one of :data:`GLDAS_HOURS`), e.g. ``GLDAS_NOAH025_3H.A20100101.0300.021.nc4``."""
    if hhmm not in GLDAS_HOURS:
        raise ValueError(f"GLDAS 3-hourly files are at {', '.join(GLDAS_HOURS)} UTC, not {hhmm!r}")
    return f"GLDAS_NOAH025_3H.A{day:%Y%m%d}.{hhmm}.{version}.nc4"


def layer_depth_m(variable: str) -> float:
    """The thickness in m of the soil layer of a GLDAS soil-moisture variable:
    ``SoilMoi0_10cm_inst`` 0.10, ``SoilMoi10_40cm_inst`` 0.30, ``SoilMoi100_200cm_inst`` 1.0."""
    m = _LAYER_RE.match(variable)
    if m is None or int(m.group(2)) <= int(m.group(1)):
        raise ValueError(
            f"{variable!r} is not a GLDAS soil-moisture layer variable (such as "
            "SoilMoi0_10cm_inst or SoilMoi10_40cm_inst): its layer depth is unknown"
        )
    return (int(m.group(2)) - int(m.group(1))) / 100.0


def _overlapping(lo: float, hi: float, edge: float, n: int) -> np.ndarray:
    """Lattice indices (0 .. n-1, counted from ``edge``) of the 0.25 deg cells overlapping
    the interval (lo, hi) by more than a boundary."""
    if hi <= lo:
        raise ValueError(f"empty interval {lo:g}..{hi:g} (a bbox is west, south, east, north)")
    first = int(np.floor((lo - edge) / GLDAS_RES + 1e-9))
    last = int(np.ceil((hi - edge) / GLDAS_RES - 1e-9)) - 1
    return np.arange(max(first, 0), min(last, n - 1) + 1)


def gldas_cells(bbox: Bbox) -> tuple[np.ndarray, np.ndarray]:
    """(lat ascending, lon ascending) centres of the GLDAS lattice cells overlapping
    ``bbox`` (west, south, east, north; a cell touching it only along an edge is left out):
    the cells :func:`read_gldas` crops to, and the window a region subset holds."""
    west, south, east, north = (float(v) for v in bbox)
    rows = _overlapping(south, north, GLDAS_SOUTH, GLDAS_NLAT)
    cols = _overlapping(west, east, GLDAS_WEST, GLDAS_NLON)
    half = GLDAS_RES / 2
    return GLDAS_SOUTH + half + GLDAS_RES * rows, GLDAS_WEST + half + GLDAS_RES * cols


def _lattice_index(values: np.ndarray, edge: float) -> np.ndarray:
    """The lattice index of each centre (no check that it is on the lattice)."""
    return np.rint((values - edge) / GLDAS_RES - 0.5).astype(np.int64)


def _is_kg_m2(units: object) -> bool:
    if isinstance(units, bytes):
        units = units.decode("utf-8", "replace")
    text = re.sub(r"[\s.*^_]+", "", str(units).strip().lower().replace("⁻", "-"))
    return text in _KG_M2


def _check_variable(target: str | Path, ds: netCDF4.Dataset, variable: str) -> None:
    if variable not in ds.variables:
        raise ProductError(
            target,
            f"has no variable {variable!r} (variables: {', '.join(ds.variables) or 'none'})",
            f"not a GLDAS Noah 3-hourly file, or a subset without {variable}: {_ADVICE}",
        )
    var = ds.variables[variable]
    if set(var.dimensions) != {"time", "lat", "lon"}:
        raise ProductError(
            target,
            f"{variable!r} has dimensions {var.dimensions}, not (time, lat, lon)",
            f"not a GLDAS Noah 3-hourly file: {_ADVICE}",
        )
    units = var.getncattr("units") if "units" in var.ncattrs() else None
    if units is None or not _is_kg_m2(units):
        found = f"is in {units!r}" if units is not None else "has no units attribute"
        raise ProductError(
            target,
            f"{variable!r} {found}, not kg m-2 (also kg/m2, kg m**-2, kg/m^2), the water "
            "content GLDAS Noah writes",
            f"this is not GLDAS Noah soil moisture content, and no other unit is converted: "
            f"{_ADVICE}",
        )


def _axis(target: str | Path, ds: netCDF4.Dataset, name: str, edge: float) -> np.ndarray:
    """The ``lat`` or ``lon`` centres (lon wrapped to -180..180), checked to be on the GLDAS
    0.25 deg lattice: 1-D, monotonic 0.25 deg steps, centres at x.125/x.375/x.625/x.875."""
    var = ds.variables.get(name)
    if var is None or var.ndim != 1:
        raise ProductError(
            target, f"has no 1-D {name!r} coordinate", f"not a GLDAS lat/lon file: {_ADVICE}"
        )
    try:
        values = np.asarray(var[:], dtype=np.float64)
    except (OSError, RuntimeError) as exc:
        raise ProductError(target, f"cannot read {name!r} ({exc})", REDOWNLOAD) from None
    steps = np.diff(values)
    regular = np.allclose(np.abs(steps), GLDAS_RES, atol=_TOL) and (
        (steps > 0).all() or (steps < 0).all()
    )
    if values.size == 0 or not regular:
        step = f"{np.median(np.abs(steps)):g} deg" if steps.size else "no step (empty)"
        raise ProductError(
            target,
            f"{name} steps by {step}, not GLDAS's {GLDAS_RES} deg",
            "this is not a GLDAS Noah 0.25 deg file (GLDAS_NOAH10_3H is on 1 deg, ERA5-Land "
            f"on 0.1 deg): {_ADVICE}",
        )
    if name == "lon":
        values = np.where(values > 180.0, values - 360.0, values)
    elif values.min() < GLDAS_SOUTH or values.max() > 90.0:
        raise ProductError(
            target,
            f"lat reaches {values.min():g}..{values.max():g}, beyond GLDAS's -60..90",
            f"another 0.25 deg product (GLDAS has no cells south of 60 S): {_ADVICE}",
        )
    offset = (values - edge) / GLDAS_RES - 0.5
    if not np.allclose(offset, np.rint(offset), atol=_TOL / GLDAS_RES):
        raise ProductError(
            target,
            f"{name} centres such as {values[0]:g} are not on the GLDAS lattice (centres at "
            "x.125, x.375, x.625, x.875)",
            f"another 0.25 deg grid, such as ERA5's (centres at x.00, x.25): {_ADVICE}",
        )
    return values


def _check_cover(target: str | Path, lat: np.ndarray, lon: np.ndarray, bbox: Bbox) -> None:
    west, south, east, north = (float(v) for v in bbox)
    if not covers(lat, lon, bbox, GLDAS_RES / 2 + 1e-6):
        raise ProductError(
            target,
            f"covers latitude {lat.min():g}..{lat.max():g}, longitude {lon.min():g}.."
            f"{lon.max():g} (cell centres), not the region {south:g}..{north:g} N, "
            f"{west:g}..{east:g} E",
            "GLDAS has no cells south of 60 S: choose a region north of it"
            if south < GLDAS_SOUTH
            else f"it was requested for another region: delete it and {_ADVICE}",
        )


def _stamp(target: str | Path, ds: netCDF4.Dataset) -> dt.datetime:
    """The file's one time step, decoded (to the second) and checked against its name."""
    var = ds.variables.get("time")
    if var is None:
        raise ProductError(target, "has no 'time' coordinate", _ADVICE)
    if var.size != 1:
        raise ProductError(
            target,
            f"holds {var.size} time steps; a GLDAS 3-hourly file holds one",
            f"not a GLDAS_NOAH025_3H file (an aggregation or another product): {_ADVICE}",
        )
    try:
        stamp = cftime.num2date(
            float(np.asarray(var[:]).ravel()[0]),
            var.units,
            getattr(var, "calendar", "standard"),
            only_use_cftime_datetimes=False,
            only_use_python_datetimes=True,
        )
    except (AttributeError, TypeError, ValueError, IndexError) as exc:
        raise ProductError(target, f"cannot decode 'time' ({exc})", _ADVICE) from None
    stamp = (stamp + dt.timedelta(microseconds=500_000)).replace(microsecond=0)
    m = _NAME_RE.search(Path(target).name)
    if m is not None:
        named = dt.datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M")
        if stamp != named:
            raise ProductError(
                target,
                f"holds {stamp:%Y-%m-%d %H:%M}, its name says {named:%Y-%m-%d %H:%M}",
                f"another time's file saved under this name: delete it and {_ADVICE}",
            )
    elif f"{stamp:%H%M}" not in GLDAS_HOURS or stamp.second:
        raise ProductError(
            target,
            f"holds {stamp}, not one of the 3-hourly GLDAS times ({', '.join(GLDAS_HOURS)} UTC)",
            f"not a GLDAS_NOAH025_3H file: {_ADVICE}",
        )
    return stamp


def _checked(
    path: str | Path, target: str | Path, bbox: Bbox | None, variable: str
) -> tuple[dt.datetime, np.ndarray, np.ndarray]:
    """:func:`check_gldas`, returning the file's time stamp and its lat and lon centres."""
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        kind = sniff(path)
        if kind == "an HTML page":
            raise ProductError(
                target,
                "not a readable NetCDF file: it is an HTML page (a login or error page saved "
                "in place of the data)",
                "check the Earthdata login or the URL, then delete it and download it again",
            ) from None
        raise ProductError(target, f"not a readable NetCDF file ({exc})", REDOWNLOAD) from None
    with ds:
        _check_variable(target, ds, variable)
        lat = _axis(target, ds, "lat", GLDAS_SOUTH)
        lon = _axis(target, ds, "lon", GLDAS_WEST)
        if bbox is not None:
            _check_cover(target, lat, lon, bbox)
        stamp = _stamp(target, ds)
        var = ds.variables[variable]
        try:
            var[tuple(-1 if d == "time" else slice(None) for d in var.dimensions)]
        except (OSError, RuntimeError, IndexError) as exc:
            raise ProductError(target, f"cannot read {variable!r} ({exc})", REDOWNLOAD) from None
    return stamp, lat, lon


def check_gldas(
    path: str | Path,
    target: str | Path,
    bbox: Bbox | None = None,
    variable: str = GLDAS_VARIABLE,
) -> None:
    """ProductError naming ``target`` unless ``path`` is the GLDAS Noah 0.25 deg 3-hourly file
    its name says, covering ``bbox`` (west, south, east, north) when given (see the module
    docstring for what is checked)."""
    _checked(path, target, bbox, variable)


def _day_mean(
    paths: Sequence[str | Path], variable: str, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Mean (lat, lon) of ``variable`` over ``paths`` at lattice rows/cols (ascending), NaN
    where any file has fill; one file's window in memory at a time."""
    total = np.zeros((rows.size, cols.size))
    for path in paths:
        with netCDF4.Dataset(path) as ds:
            var = ds.variables[variable]
            pos = []
            for name, edge, wanted in (("lat", GLDAS_SOUTH, rows), ("lon", GLDAS_WEST, cols)):
                values = np.asarray(ds.variables[name][:], dtype=np.float64)
                if name == "lon":
                    values = np.where(values > 180.0, values - 360.0, values)
                where = {int(k): i for i, k in enumerate(_lattice_index(values, edge))}
                missing = [int(k) for k in wanted if int(k) not in where]
                if missing:
                    raise ProductError(
                        path,
                        f"holds another {name} window than the day's other files (no cell at "
                        f"{name} {edge + GLDAS_RES * (missing[0] + 0.5):g})",
                        "give read_gldas a bbox, or download every file over the same region",
                    )
                pos.append(np.array([where[int(k)] for k in wanted]))
            index = {"time": 0}
            for name, p in zip(("lat", "lon"), pos, strict=True):
                index[name] = slice(int(p.min()), int(p.max()) + 1)
            try:
                raw = var[tuple(index[d] for d in var.dimensions)]
            except (OSError, RuntimeError, IndexError) as exc:
                raise ProductError(path, f"cannot read {variable!r} ({exc})", REDOWNLOAD) from None
            kept = [d for d in var.dimensions if d != "time"]
            values = np.ma.filled(np.ma.asarray(raw, dtype=np.float64), np.nan)
            if kept == ["lon", "lat"]:
                values = values.T
            rel_r, rel_c = pos[0] - pos[0].min(), pos[1] - pos[1].min()
            total += values[np.ix_(rel_r, rel_c)]
    with np.errstate(invalid="ignore"):
        total[~np.isfinite(total)] = np.nan
    return total / len(paths)


def read_gldas(
    paths: Sequence[str | Path],
    variable: str = GLDAS_VARIABLE,
    bbox: Bbox | None = None,
) -> xr.DataArray:
    """Daily volumetric soil moisture (m3 m-3) from GLDAS Noah 3-hourly files.

    Each file is checked (:func:`check_gldas`) and grouped by the day of its own time stamp;
    every day needs all 8 files (0000 .. 2100 UTC), else ValueError naming the day and the
    missing HHMM. A day's value is the mean of its 8 instantaneous states (NaN for a cell if
    any of the 8 is fill), divided by 1000 kg m-3 x the layer depth (:func:`layer_depth_m`).
    With ``bbox`` (west, south, east, north) the result holds the lattice cells overlapping
    it (:func:`gldas_cells`: every point of the bbox lies in one of them); without, the cells
    of the first file, which every file must hold. Returns float32 (time, lat, lon), lat
    descending, lon ascending in -180..180, time the day at 00:00. One file's window is in
    memory at a time besides the days already read.
    """
    depth = layer_depth_m(variable)
    if not paths:
        raise ValueError("no GLDAS file to read")
    by_day: dict[dt.date, dict[str, str | Path]] = {}
    first_lat = first_lon = None
    for path in paths:
        stamp, lat, lon = _checked(path, path, bbox, variable)
        if first_lat is None:
            first_lat, first_lon = lat, lon
        hours = by_day.setdefault(stamp.date(), {})
        hhmm = f"{stamp:%H%M}"
        if hhmm in hours:
            raise ValueError(
                f"two GLDAS files hold {stamp:%Y-%m-%d %H:%M}: {hours[hhmm]} and {path} "
                "(give each 3-hourly file once)"
            )
        hours[hhmm] = path
    for day, hours in sorted(by_day.items()):
        missing = [h for h in GLDAS_HOURS if h not in hours]
        extra = sorted(set(hours) - set(GLDAS_HOURS))
        if missing or extra:
            what = f"lacks the file(s) of {', '.join(missing)} UTC" if missing else ""
            if extra:
                what += (" and " if what else "") + f"has off-lattice times {', '.join(extra)}"
            raise ValueError(
                f"GLDAS day {day} {what}: a daily mean needs all 8 3-hourly files "
                f"({', '.join(GLDAS_HOURS)}); download the missing ones or leave the day out"
            )
    if bbox is not None:
        lat_c, lon_c = gldas_cells(bbox)
    else:
        lat_c, lon_c = np.sort(first_lat), np.sort(first_lon)
    rows = _lattice_index(lat_c, GLDAS_SOUTH)
    cols = _lattice_index(lon_c, GLDAS_WEST)
    days = sorted(by_day)
    scale = 1.0 / (WATER_DENSITY * depth)
    out = np.empty((len(days), rows.size, cols.size), np.float32)
    for k, day in enumerate(days):
        files = [by_day[day][h] for h in GLDAS_HOURS]
        out[k] = _day_mean(files, variable, rows, cols) * scale
    half = GLDAS_RES / 2
    lat_out = (GLDAS_SOUTH + half + GLDAS_RES * rows)[::-1]
    lon_out = GLDAS_WEST + half + GLDAS_RES * cols
    return xr.DataArray(
        np.ascontiguousarray(out[:, ::-1, :]),
        dims=("time", "lat", "lon"),
        coords={
            "time": np.array([np.datetime64(d, "ns") for d in days]),
            "lat": lat_out,
            "lon": lon_out,
        },
        name=variable,
        attrs={
            "units": "m3 m-3",
            "long_name": f"volumetric soil moisture {variable} (GLDAS-2.1 Noah, daily mean)",
            "source_variable": variable,
            "comment": (
                f"daily mean of the 8 instantaneous 3-hourly states (0000..2100 UTC) of "
                f"{variable} in kg m-2, divided by 1000 kg m-3 x {depth:g} m layer depth "
                "to m3 m-3; NaN where any of the 8 is missing"
            ),
        },
    )
