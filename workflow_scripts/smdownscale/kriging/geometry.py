"""Positions, distances and shared checks of the kriging (METHOD.md section 8).

Geometry
One geometry for fitting and kriging, the same as gstools' ``latlon=True`` models with
``geo_scale=gs.KM_SCALE``: the empirical variogram is binned by great-circle distance
(km), and every covariance is evaluated at the *chordal* distance (km) between the points
on the 6371 km sphere (Yadrenko's construction; gstools converts the great-circle bin
lags to chordal distances when it fits). A covariance model valid in 3-D is then
positive definite on the sphere, and the kriging equals ``gs.krige.Ordinary`` on the same
model (a unit test checks this to 1e-8).
"""

from __future__ import annotations

import gstools as gs
import numpy as np

#: Earth radius (km) of the spherical geometry; gstools' ``KM_SCALE``.
EARTH_RADIUS_KM = float(gs.KM_SCALE)

#: Default number of target points per kriging chunk (bounds memory: ~3 arrays of
#: chunk x n_stations float64).
DEFAULT_CHUNK = 4096


class KrigingError(ValueError):
    """Inputs or settings that cannot be used, with a message saying what to change."""


def xyz_km(lon: np.ndarray, lat: np.ndarray, radius: float = EARTH_RADIUS_KM) -> np.ndarray:
    """(n, 3) Cartesian positions (km) of lon/lat points (degrees) on a sphere.

    Euclidean distances between these rows are the chordal distances used by every
    covariance here (the same positions gstools builds for ``latlon=True`` models).
    """
    lat_r = np.deg2rad(np.asarray(lat, dtype=np.float64).ravel())
    lon_r = np.deg2rad(np.asarray(lon, dtype=np.float64).ravel())
    c = np.cos(lat_r)
    return radius * np.column_stack([c * np.cos(lon_r), c * np.sin(lon_r), np.sin(lat_r)])


def chordal_to_great_circle(d: np.ndarray, radius: float = EARTH_RADIUS_KM) -> np.ndarray:
    """Great-circle distance (km) of a chordal distance (km) on the sphere."""
    return 2.0 * radius * np.arcsin(np.clip(np.asarray(d) / (2.0 * radius), 0.0, 1.0))


def great_circle_to_chordal_km(
    d: np.ndarray | float, radius: float = EARTH_RADIUS_KM
) -> np.ndarray:
    """Chordal distance (km) of a great-circle distance (km) on the sphere."""
    return 2.0 * radius * np.sin(np.asarray(d, dtype=np.float64) / (2.0 * radius))


def as_fields(values: np.ndarray, n: int) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2 or v.shape[0] != n:
        raise KrigingError(f"station values must be (n_stations={n}, n_fields), got {v.shape}")
    return v


def check_points(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon = np.asarray(lon, dtype=np.float64).ravel()
    lat = np.asarray(lat, dtype=np.float64).ravel()
    if lon.shape != lat.shape:
        raise KrigingError(f"lon and lat differ in length: {lon.size} vs {lat.size}")
    return lon, lat
