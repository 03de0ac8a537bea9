"""Render the demo world's fine fields as the arrays each real product file holds.

These are the demo's "sensors": pure functions from the world's fine-grid fields to product
arrays (tiles, QC bits, composites, coarser grids), which the ``write_*`` modules then put in
the real file formats.

* MOD11A1: each sinusoidal pixel takes the clear-sky LST of the fine cell holding its
  centre. Cloudy pixels are fill with mandatory QA ``10`` (not produced, cloud); pixels
  outside the world are fill with QA ``11``. Clear pixels are QA ``00`` with 0.5 K retrieval
  noise, except a fraction ``degraded_fraction`` that is QA ``01`` ("other quality") with an
  LST error class of <= 2 K or <= 3 K and correspondingly larger noise (1.5 K / 2.5 K).
* MOD13A2: maximum-value composite of the NDVI of the composite's clear days. Pixel
  reliability 0 (good) with at least 3 clear days, 1 (marginal) with 1-2, and 3 (cloudy) with
  none, where the value is cloud-contaminated (half the period's mean NDVI), as real cloudy
  composites are; VI Quality bits 0-1 follow reliability (00, 01, 10); outside: fill, -1, 11.
* MCD43C3: the 0.05 deg block mean of the fine white/black-sky albedo placed on the global
  CMG; a small random fraction of CMG cells is missing (no full inversion).
* IMERG: the 0.1 deg block mean of the fine precipitation (grid-box mean rain).
* SRTMGL3: elevation at the 3-arcsecond sample points by bilinear interpolation of the fine
  elevation, plus short-scale relief noise the 1 km field does not hold; a few voids.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from ..grid import LatLonGrid, block_factor, block_mean, global_grid
from ..products.modis_sinusoidal import sample_grid_on_tile

CMG_RES = 0.05
IMERG_RES = 0.1
SRTM_N = 1201

# MOD11A1 QC_Day values used by the demo (bit layout in products.modis_sinusoidal)
QC_GOOD = 0b00000000
QC_CLOUD = 0b00000010
QC_NOT_PRODUCED = 0b00000011


def _other_quality(err_class: int) -> int:
    """QA 01, data quality 01 ('other'), emissivity error 01, LST error class in bits 6-7."""
    return 0b01 | (0b01 << 2) | (0b01 << 4) | (err_class << 6)


def lst_tile(
    lst: np.ndarray,
    cloud: np.ndarray,
    fine: LatLonGrid,
    h: int,
    v: int,
    rng: np.random.Generator,
    degraded_fraction: float = 0.15,
) -> tuple[np.ndarray, np.ndarray]:
    """One day's MOD11A1 tile (LST in K with NaN fill, QC_Day uint8) from fine fields."""
    value = sample_grid_on_tile(lst, fine, h, v)
    cloudy = sample_grid_on_tile(cloud.astype(np.float32), fine, h, v)
    inside = np.isfinite(value)
    clear = inside & (cloudy < 0.5)
    qc = np.full(value.shape, QC_NOT_PRODUCED, dtype=np.uint8)
    qc[inside & ~clear] = QC_CLOUD
    u = rng.random(value.shape)
    degraded2 = clear & (u < degraded_fraction / 2)
    degraded3 = clear & (u >= degraded_fraction / 2) & (u < degraded_fraction)
    qc[clear] = QC_GOOD
    qc[degraded2] = _other_quality(0b01)
    qc[degraded3] = _other_quality(0b10)
    sd = np.where(degraded2, 1.5, np.where(degraded3, 2.5, 0.5))
    out = np.where(clear, value + sd * rng.standard_normal(value.shape), np.nan)
    return out.astype(np.float32), qc


def ndvi_composite(ndvi: np.ndarray, cloud: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-value composite over the days of (time, lat, lon) fields, and reliability."""
    clear = ~cloud.astype(bool)
    n_clear = clear.sum(axis=0)
    mvc = np.where(clear, ndvi, -np.inf).max(axis=0)
    contaminated = 0.5 * ndvi.mean(axis=0)
    value = np.where(n_clear > 0, mvc, contaminated)
    reliability = np.where(n_clear >= 3, 0, np.where(n_clear >= 1, 1, 3)).astype(np.int8)
    return value.astype(np.float32), reliability


def ndvi_tile(
    composite: np.ndarray, reliability: np.ndarray, fine: LatLonGrid, h: int, v: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MOD13A2 tile arrays (NDVI, pixel reliability int8, VI Quality uint16) from a composite."""
    value = sample_grid_on_tile(composite, fine, h, v)
    rel = sample_grid_on_tile(reliability.astype(np.float32), fine, h, v)
    inside = np.isfinite(value)
    rel_out = np.where(inside, rel, -1).astype(np.int8)
    viq_bits = {0: 0b00, 1: 0b01, 3: 0b10}
    viq = np.full(value.shape, 0b11, dtype=np.uint16)
    for r, bits in viq_bits.items():
        viq[rel_out == r] = bits
    return value, rel_out, viq


def aligned_block_mean(
    field: np.ndarray, fine: LatLonGrid, res: float
) -> tuple[np.ndarray, LatLonGrid]:
    """Block mean of a fine field at ``res`` over the largest ``res``-aligned box inside it.

    Returns the coarser values and their grid (edges on multiples of ``res``).
    """
    w, s, e, n = (
        np.ceil(np.round(fine.west / res, 6)) * res,
        np.ceil(np.round(fine.south / res, 6)) * res,
        np.floor(np.round(fine.east / res, 6)) * res,
        np.floor(np.round(fine.north / res, 6)) * res,
    )
    w, s, e, n = (float(np.round(x, 10)) for x in (w, s, e, n))
    inner = LatLonGrid(north=n, south=s, west=w, east=e, res=fine.res)
    target = LatLonGrid(north=n, south=s, west=w, east=e, res=res)
    rows, cols = fine.subgrid(inner)
    return block_mean(field[rows, cols], block_factor(inner, target), 0.5), target


def to_global_cmg(
    field: np.ndarray, fine: LatLonGrid, rng: np.random.Generator, missing_fraction: float = 0.02
) -> np.ndarray:
    """A fine field's 0.05 deg block mean placed on the global CMG (NaN elsewhere)."""
    cmg = global_grid(CMG_RES)
    values, region = aligned_block_mean(field, fine, CMG_RES)
    values[rng.random(values.shape) < missing_fraction] = np.nan
    out = np.full(cmg.shape, np.nan, dtype=np.float32)
    rows, cols = cmg.subgrid(region)
    out[rows, cols] = values
    return out


def to_imerg(field: np.ndarray, fine: LatLonGrid) -> tuple[np.ndarray, LatLonGrid]:
    """A fine precipitation field's 0.1 deg block mean and the 0.1 deg grid it lies on."""
    values, region = aligned_block_mean(field, fine, IMERG_RES)
    return values.astype(np.float32), region


def srtm_tile(
    elevation: np.ndarray,
    fine: LatLonGrid,
    lat_south: int,
    lon_west: int,
    rng: np.random.Generator,
    relief_sd_m: float = 8.0,
    void_fraction: float = 0.0005,
) -> np.ndarray:
    """(1201, 1201) SRTMGL3 samples of the tile with south-west corner (lat_south, lon_west).

    Samples more than one fine cell outside the world are voids (NaN).
    """
    lat = lat_south + 1 - np.arange(SRTM_N) / (SRTM_N - 1)
    lon = lon_west + np.arange(SRTM_N) / (SRTM_N - 1)
    interp = RegularGridInterpolator(
        (fine.lat[::-1], fine.lon), elevation[::-1], bounds_error=False, fill_value=None
    )
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    out = interp(np.stack([lat2.ravel(), lon2.ravel()], axis=1)).reshape(SRTM_N, SRTM_N)
    out = out + relief_sd_m * rng.standard_normal(out.shape)
    margin = fine.res
    outside = (
        (lat2 > fine.north + margin)
        | (lat2 < fine.south - margin)
        | (lon2 < fine.west - margin)
        | (lon2 > fine.east + margin)
    )
    out[outside | (rng.random(out.shape) < void_fraction)] = np.nan
    return out
