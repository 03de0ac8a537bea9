"""Interpolation of regular lat/lon source grids onto a :class:`~smdownscale.grid.LatLonGrid`."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from .grid import LatLonGrid


def bilinear(
    values: np.ndarray, src_lat: np.ndarray, src_lon: np.ndarray, grid: LatLonGrid
) -> np.ndarray:
    """Bilinear interpolation of a (lat, lon) field at the grid's cell centres.

    ``src_lat``/``src_lon`` are the source cell centres (either order). A target cell whose
    four surrounding source cells are not all finite gets NaN, so gaps never leak values in;
    targets outside the source's centre-to-centre extent are NaN too.
    """
    values = np.asarray(values, dtype=np.float64)
    src_lat = np.asarray(src_lat, dtype=np.float64)
    src_lon = np.asarray(src_lon, dtype=np.float64)
    if values.shape != (src_lat.size, src_lon.size):
        raise ValueError(
            f"values {values.shape} do not match lat {src_lat.size} x lon {src_lon.size}"
        )
    if src_lat[0] > src_lat[-1]:
        src_lat, values = src_lat[::-1], values[::-1, :]
    if src_lon[0] > src_lon[-1]:
        src_lon, values = src_lon[::-1], values[:, ::-1]
    interp = RegularGridInterpolator(
        (src_lat, src_lon), values, method="linear", bounds_error=False, fill_value=np.nan
    )
    lat2, lon2 = np.meshgrid(grid.lat, grid.lon, indexing="ij")
    return interp(np.stack([lat2.ravel(), lon2.ravel()], axis=1)).reshape(grid.shape)
