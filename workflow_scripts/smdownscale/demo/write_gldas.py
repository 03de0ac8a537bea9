"""Write GLDAS-2.1 Noah 3-hourly 0.25 deg files as GES DISC delivers them (for tests and the demo).

Layout (:mod:`smdownscale.products.gldas`, from the GES DISC README for GLDAS-2; no real
file was inspected): one NetCDF4 file per 3-hourly UTC time, named
``GLDAS_NOAH025_3H.A{YYYYMMDD}.{HHMM}.021.nc4``; dimensions ``time`` (unlimited, 1), ``lat``,
``lon``, ``bnds`` (2); ``time`` double ``days since`` the file's own stamp (value 0) with
``time_bnds`` (written as the 3 hours ending at the stamp: not checked by the reader);
``lat``/``lon`` float32 centres of the 0.25 deg lattice; ``SoilMoi0_10cm_inst`` float32
(time, lat, lon) in kg m-2 with ``_FillValue`` and ``missing_value`` -9999. A region subset
holds the lattice cells overlapping the region (:func:`gldas_lattice`). The keyword
arguments exist to write the mutated files of the tests.

The demo's GLDAS (:func:`gldas_from_truth`, :func:`gldas_three_hourly`) is a second
land-surface model's view of the true field, biased differently from the demo's ERA5-Land
(:mod:`smdownscale.demo.write_era5_land`), with its own independent noise and a diurnal cycle
that the daily mean removes exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import netCDF4
import numpy as np

from ..atomic import atomic_path
from ..products.gldas import GLDAS_HOURS, GLDAS_RES, GLDAS_VARIABLE, gldas_cells

GLDAS_FILL = np.float32(-9999.0)

#: The demo's GLDAS: another land-surface model's biased view of the true field
#: (the demo's ERA5-Land is 0.03 + 0.8 x truth + noise of SD 0.015).
GLDAS_OFFSET = -0.02
GLDAS_SCALE = 1.1
GLDAS_NOISE_SD = 0.02
#: Amplitude (kg m-2) of the zero-mean diurnal cycle of the 3-hourly states.
GLDAS_DIURNAL_KG_M2 = 0.5
#: kg m-2 of water in the 0-10 cm layer per m3 m-3 (1000 kg m-3 x 0.1 m).
KG_M2_PER_M3_M3 = 100.0


def gldas_lattice(bbox: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(lat ascending, lon ascending) centres of the GLDAS 0.25 deg lattice cells overlapping
    ``bbox`` (west, south, east, north): the window a GES DISC region subset returns."""
    return gldas_cells(bbox)


def write_gldas_file(
    path: str | Path,
    day: dt.date,
    hhmm: str,
    lat: np.ndarray,
    lon: np.ndarray,
    values: np.ndarray | None = None,
    *,
    value: float = 25.0,
    units: str | None = "kg m-2",
    variable: str = GLDAS_VARIABLE,
    time_offset_hours: float = 0.0,
) -> Path:
    """Write one GLDAS 3-hourly file of ``day`` at ``hhmm`` UTC to ``path`` (atomically) and
    return the path.

    ``lat``, ``lon`` are written in the order given (GLDAS writes both ascending);
    ``values`` (lat, lon) in kg m-2 replaces the constant ``value``, NaN written as the
    -9999 fill. ``units=None`` leaves the attribute out; ``time_offset_hours`` shifts the
    stored time away from the stamp of the name (a file that disagrees with its name).
    """
    if hhmm not in GLDAS_HOURS:
        raise ValueError(f"GLDAS 3-hourly files are at {', '.join(GLDAS_HOURS)} UTC, not {hhmm!r}")
    lat = np.asarray(lat, dtype=np.float32)
    lon = np.asarray(lon, dtype=np.float32)
    shape = (lat.size, lon.size)
    if values is None:
        data = np.full(shape, value, np.float32)
    elif np.shape(values) != shape:
        raise ValueError(f"values of shape {np.shape(values)}, the file holds (lat, lon) {shape}")
    else:
        data = np.asarray(values, dtype=np.float32)
    data = np.where(np.isfinite(data), data, GLDAS_FILL).astype(np.float32)
    stamp = dt.datetime.combine(day, dt.time(int(hhmm[:2]), int(hhmm[2:])))
    t = time_offset_hours / 24.0
    with atomic_path(Path(path)) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.createDimension("time", None)
        ds.createDimension("lat", lat.size)
        ds.createDimension("lon", lon.size)
        ds.createDimension("bnds", 2)
        tv = ds.createVariable("time", "f8", ("time",))
        tv.setncatts({
            "standard_name": "time",
            "units": f"days since {stamp:%Y-%m-%d %H:%M:%S}",
            "calendar": "standard",
            "bounds": "time_bnds",
        })  # fmt: skip
        tv[:] = [t]
        tb = ds.createVariable("time_bnds", "f8", ("time", "bnds"))
        tb[:] = [[t - 0.125, t]]
        for name, axis, units_ax in (("lat", lat, "degrees_north"), ("lon", lon, "degrees_east")):
            v = ds.createVariable(name, "f4", (name,))
            v.setncatts({
                "standard_name": "latitude" if name == "lat" else "longitude",
                "units": units_ax,
                "vmin": np.float32(axis.min()),
                "vmax": np.float32(axis.max()),
            })  # fmt: skip
            v[:] = axis
        var = ds.createVariable(
            variable, "f4", ("time", "lat", "lon"), fill_value=GLDAS_FILL, zlib=True, complevel=1
        )
        attrs = {
            "missing_value": GLDAS_FILL,
            "long_name": "Soil moisture content",
            "cell_methods": "time: point",
        }
        if units is not None:
            attrs["units"] = units
        var.setncatts(attrs)
        var[0] = data
        ds.setncatts({
            "title": "GLDAS2.1 LIS land surface model output",
            "institution": "NASA GSFC",
            "source": "Noah_v3.3",
            "Conventions": "CF-1.6",
            "comment": "SYNTHETIC (smdownscale tests and demo): written in the GES DISC "
            "layout by smdownscale.demo.write_gldas, not NASA data",
        })  # fmt: skip
    return Path(path)


def gldas_from_truth(
    truth: np.ndarray,
    truth_lat: np.ndarray,
    truth_lon: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """The demo's daily GLDAS soil moisture (days, lat, lon) in m3 m-3 from the true field
    (days, y, x) at fine centres ``truth_lat``, ``truth_lon``.

    ``lat``, ``lon`` are ascending 0.25 deg centres (:func:`gldas_lattice`). Each cell takes
    the mean of the true fine cells whose centres fall in it, then ``GLDAS_OFFSET +
    GLDAS_SCALE x mean`` plus independent noise of SD ``GLDAS_NOISE_SD``; NaN where no fine
    cell falls in the cell. Not clipped (the linear relation to the truth stays exact).
    """
    from ..reference import reference_index, to_reference

    rows = reference_index(truth_lat, lat, GLDAS_RES, descending=False)
    cols = reference_index(truth_lon, lon, GLDAS_RES, descending=False)
    out = to_reference(truth, rows, cols, (len(lat), len(lon)), min_share=0.0)
    out = GLDAS_OFFSET + GLDAS_SCALE * out + GLDAS_NOISE_SD * rng.standard_normal(out.shape)
    return out.astype(np.float32)


def gldas_three_hourly(daily: np.ndarray) -> np.ndarray:
    """The 8 instantaneous 3-hourly states (8, ...) in kg m-2 (0-10 cm layer) of daily values
    ``daily`` (...) in m3 m-3: ``daily x 100`` plus a cosine diurnal cycle of amplitude
    ``GLDAS_DIURNAL_KG_M2`` (largest at 0000 UTC) whose mean over the 8 steps is exactly
    zero, so the daily mean of the states is ``daily x 100`` (float64; NaN stays NaN)."""
    cycle = GLDAS_DIURNAL_KG_M2 * np.cos(2 * np.pi * np.arange(len(GLDAS_HOURS)) / 8)
    cycle -= cycle.mean()
    base = KG_M2_PER_M3_M3 * np.asarray(daily, dtype=np.float64)
    return base[None, ...] + cycle.reshape((-1,) + (1,) * base.ndim)
