"""Write a year of TerraClimate PDSI as the Northwest Knowledge Network serves it (demo).

Format: :mod:`smdownscale.products.terraclimate`. The demo's PDSI is derived from its truth
(:func:`demo_pdsi`), so the drought analysis runs on the demo and its answer is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import netCDF4
import numpy as np

from ..atomic import atomic_path
from ..products.terraclimate import TERRACLIMATE_RES

#: The demo's PDSI: the truth's monthly mean soil moisture standardised over the region's
#: cells and months, times this, clipped to [-6, 6].
PDSI_SCALE = 3.0


def terraclimate_lattice(bbox: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(lat descending, lon) centres of TerraClimate's 1/24 deg cells covering ``bbox``
    (west, south, east, north) with one cell of margin."""
    west, south, east, north = bbox
    r = TERRACLIMATE_RES

    def centres(lo: float, hi: float) -> np.ndarray:
        k0, k1 = int(np.floor(lo / r)) - 1, int(np.ceil(hi / r)) + 1
        return np.round((np.arange(k0, k1) + 0.5) * r, 8)

    return centres(south, north)[::-1], centres(west, east)


def demo_pdsi(
    monthly_sm: np.ndarray, fine_lat: np.ndarray, fine_lon: np.ndarray, lat: np.ndarray,
    lon: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """PDSI (months, lat, lon) on TerraClimate cells from the truth's monthly mean soil
    moisture (months, y, x; NaN for months without truth): each cell the mean of the fine
    cells whose centres fall in it, standardised over all cells and months, x PDSI_SCALE."""
    r = TERRACLIMATE_RES
    ri = np.floor((lat[0] + r / 2 - np.asarray(fine_lat)) / r).astype(np.int64)
    ci = np.floor((np.asarray(fine_lon) - (lon[0] - r / 2)) / r).astype(np.int64)
    rok, cok = (ri >= 0) & (ri < lat.size), (ci >= 0) & (ci < lon.size)
    idx = (ri[rok][:, None] * lon.size + ci[cok][None, :]).ravel()
    sm = np.asarray(monthly_sm, dtype=np.float64)[:, rok][:, :, cok]
    n = np.bincount(idx, minlength=lat.size * lon.size)
    cells = np.full((sm.shape[0], lat.size * lon.size), np.nan)
    for k in range(sm.shape[0]):
        with np.errstate(invalid="ignore", divide="ignore"):
            cells[k] = np.bincount(idx, weights=sm[k].ravel(), minlength=n.size) / n
    z = (cells - np.nanmean(cells)) / np.nanstd(cells)
    return np.clip(PDSI_SCALE * z, -6, 6).reshape(sm.shape[0], lat.size, lon.size)


def write_terraclimate_year(
    path: str | Path, year: int, lat: np.ndarray, lon: np.ndarray, pdsi: np.ndarray
) -> Path:
    """Write a year of PDSI (12, lat, lon) in TerraClimate's format (packed int16, scale
    0.01, fill -32768, days since 1900-01-01); NaN becomes the fill (for the demo, tests)."""
    epoch = np.datetime64("1900-01-01")
    days = [(np.datetime64(f"{year}-{k:02d}-01") - epoch).astype(int) for k in range(1, 13)]
    with atomic_path(Path(path)) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        ds.createDimension("time", 12)
        ds.createDimension("lat", lat.size)
        ds.createDimension("lon", lon.size)
        t = ds.createVariable("time", "f8", ("time",))
        t.setncatts({"units": "days since 1900-01-01 00:00:00", "calendar": "gregorian"})
        t[:] = days
        ds.createVariable("lat", "f8", ("lat",))[:] = lat
        ds.createVariable("lon", "f8", ("lon",))[:] = lon
        v = ds.createVariable("PDSI", "i2", ("time", "lat", "lon"), fill_value=np.int16(-32768))
        v.setncatts({"long_name": "palmer_drought_severity_index", "units": "unitless",
                     "scale_factor": 0.01, "add_offset": 0.0})  # fmt: skip
        arr = np.asarray(pdsi, dtype=np.float64)
        gap = ~np.isfinite(arr)
        v[:] = np.ma.array(np.where(gap, 0.0, arr), mask=gap)
        ds.setncatts({"title": "TerraClimate (SYNTHETIC: smdownscale demo)"})
    return Path(path)
