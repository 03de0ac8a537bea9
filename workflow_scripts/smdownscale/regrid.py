"""Interpolation of regular lat/lon source grids onto a :class:`~smdownscale.grid.LatLonGrid`."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from .grid import LatLonGrid

#: Target cells interpolated at once: bounds the temporaries (points, weights, indices)
#: to a few tens of MiB whatever the region's size.
CHUNK_CELLS = 1 << 19


def bilinear(
    values: np.ndarray,
    src_lat: np.ndarray,
    src_lon: np.ndarray,
    grid: LatLonGrid,
    chunk_cells: int = CHUNK_CELLS,
) -> np.ndarray:
    """Bilinear interpolation of a (lat, lon) field at the grid's cell centres (float64).

    ``src_lat``/``src_lon`` are the source cell centres (either order). A target cell whose
    four surrounding source cells are not all finite gets NaN, so gaps never leak values in;
    targets outside the source's centre-to-centre extent are NaN too. Target rows are
    interpolated in blocks of about ``chunk_cells`` cells (at least one row), so temporaries
    stay bounded; the result does not depend on the block size.
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
    lat, lon = grid.lat, grid.lon
    out = np.empty(grid.shape, dtype=np.float64)
    step = max(1, chunk_cells // max(grid.nlon, 1))
    for r0 in range(0, grid.nlat, step):
        r1 = min(r0 + step, grid.nlat)
        lat2, lon2 = np.meshgrid(lat[r0:r1], lon, indexing="ij")
        points = np.stack([lat2.ravel(), lon2.ravel()], axis=1)
        out[r0:r1] = interp(points).reshape(r1 - r0, grid.nlon)
    return out
