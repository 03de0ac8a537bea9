"""Spatial smoothing of the members' 1 km fields (METHOD.md section 6).

A member trained on coarse cell-days and applied to 1 km predictors passes the predictors'
1 km noise (MODIS LST about 1 K, albedo retrieval noise, gap-filled cloud edges) and the
members' own piecewise response into its field; below a few km that detail is not skill.
Against truth on the five skill worlds the members' detail at the pixel scale correlates
little with the truth's (the truth is rough there: soil texture, run-on, wet patches), and a
Gaussian of 1.5-2 km standard deviation lowers the RMSE of every world's product by 2-4 %
(``make skill``). The smoothing is a normalised convolution: missing cells stay missing and
do not pull their neighbours towards zero, and at the region's edges the weights are
renormalised over the cells that exist.

The kernel's standard deviation is given in km and converted to cells at the region's
central latitude (one kernel for the whole region, so a field processed in blocks of rows
with a halo of :func:`halo_rows` equals the field processed whole).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from .grid import LatLonGrid

KM_PER_DEG = 111.32  # along a meridian; along a parallel times cos(latitude)
TRUNCATE = 3.0  # kernel radius in standard deviations


def sigma_cells(km: float, grid: LatLonGrid) -> tuple[float, float]:
    """The kernel's standard deviation in (row, column) cells for ``km`` kilometres on
    ``grid``, at its central latitude."""
    if km < 0:
        raise ValueError(f"smoothing standard deviation must be >= 0 km, got {km}")
    centre = math.radians(0.5 * (grid.north + grid.south))
    dy = KM_PER_DEG * grid.res
    dx = KM_PER_DEG * grid.res * max(math.cos(centre), 1e-6)
    return km / dy, km / dx


def halo_rows(sigma: tuple[float, float]) -> int:
    """Rows a block needs on each side so that its smoothed rows equal the whole field's."""
    return int(TRUNCATE * sigma[0] + 0.5)


def smooth_masked(values: np.ndarray, sigma: tuple[float, float]) -> np.ndarray:
    """Gaussian smoothing of each 2-D field (last two axes) of ``values`` over its finite
    cells only; non-finite cells stay NaN. ``sigma`` (rows, columns) in cells; (0, 0)
    returns the values unchanged. float32."""
    values = np.asarray(values)
    if sigma[0] <= 0 and sigma[1] <= 0:
        return values.astype(np.float32, copy=False)
    ok = np.isfinite(values)
    full = (0.0,) * (values.ndim - 2) + tuple(sigma)
    kw = {"sigma": full, "mode": "constant", "cval": 0.0, "truncate": TRUNCATE}
    num = ndimage.gaussian_filter(np.where(ok, values, 0.0).astype(np.float64), **kw)
    den = ndimage.gaussian_filter(ok.astype(np.float64), **kw)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(ok & (den > 0), num / np.where(den > 0, den, 1.0), np.nan)
    return out.astype(np.float32)
