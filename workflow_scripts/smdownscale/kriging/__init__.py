"""Ordinary kriging of the stations' BMA parameters to the fine grid (METHOD.md section 8).

What is kriged
    Every per-station parameter is a *field*: the BMA weights ``w_<member>`` (through their
    centred log-ratio, so that the kriged weights are non-negative and sum to one at every
    cell), the bias terms ``a_<member>``, ``b_<member>`` and ``log_sigma`` (as they are).
    Station positions are degrees longitude/latitude (WGS84 treated as a sphere of radius
    6371 km); distances are in km.

The package, by step:

- :mod:`.geometry`: positions on the sphere, chordal and great-circle distances, checks;
- :mod:`.simplex`: weights through the centred log-ratio, back by softmax, delta-method SD;
- :mod:`.variogram`: the settings, the one pooled normalised variogram of all fields;
- :mod:`.solve`: ordinary kriging of many fields with one factorised system;
- :mod:`.fallback`: per-region values (pooled fits) where the fields are not kriged, and
  the per-cell source codes;
- :mod:`.fields`: a station parameter table kriged (or not) as fields;
- :mod:`.helper_grid`: the fields on the fine grid, in row blocks, via a helper grid.

Everything here is pure: arrays in, arrays (or xarray) out; no file paths.
"""

from .fallback import (
    SOURCE_KRIGED,
    SOURCE_MEANINGS,
    SOURCE_POOLED,
    SOURCE_POOLED_ALL,
    SOURCE_POOLED_ALL_IDENTITY,
    SOURCE_POOLED_IDENTITY,
    RegionValues,
    pooled_source,
)
from .fields import ParameterKriging
from .geometry import (
    DEFAULT_CHUNK,
    EARTH_RADIUS_KM,
    KrigingError,
    chordal_to_great_circle,
    great_circle_to_chordal_km,
    xyz_km,
)
from .helper_grid import KrigedGrid, helper_index, krige_parameters
from .simplex import WEIGHT_FLOOR, WEIGHT_PREFIX, clr, clr_inverse, weights_sd
from .solve import OrdinaryKriging
from .variogram import (
    FAMILIES,
    KrigingSettings,
    VariogramFit,
    fit_variogram,
    normalised_model,
    standardise_fields,
    variogram_table,
)

__all__ = [
    "DEFAULT_CHUNK",
    "EARTH_RADIUS_KM",
    "FAMILIES",
    "SOURCE_KRIGED",
    "SOURCE_MEANINGS",
    "SOURCE_POOLED",
    "SOURCE_POOLED_ALL",
    "SOURCE_POOLED_ALL_IDENTITY",
    "SOURCE_POOLED_IDENTITY",
    "WEIGHT_FLOOR",
    "WEIGHT_PREFIX",
    "KrigedGrid",
    "KrigingError",
    "KrigingSettings",
    "OrdinaryKriging",
    "ParameterKriging",
    "RegionValues",
    "VariogramFit",
    "chordal_to_great_circle",
    "clr",
    "clr_inverse",
    "fit_variogram",
    "great_circle_to_chordal_km",
    "helper_index",
    "krige_parameters",
    "normalised_model",
    "pooled_source",
    "standardise_fields",
    "variogram_table",
    "weights_sd",
    "xyz_km",
]
