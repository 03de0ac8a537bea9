"""Harmonisation's first pass as tasks: one day's raw predictors on the fine grid.

Rule harmonise_predictors regrids a period's raw files day by day into scratch cubes
(then gap-fills and writes them in blocks of rows: :func:`smdownscale.harmonise.fill_and_flag`).
Each day is a task (:class:`RegridDay`: MOD11A1 LST, MCD43C3 albedo, IMERG precipitation)
and so is each 16-day MOD13A2 composite (:class:`RegridComposite`), run through
:class:`smdownscale.blockrun.BlockRunner`. A task holds file paths and the grid only, so it
runs in a dask worker as well as in the job's process. The raw files are read holding
:data:`smdownscale.blockrun.FILE_LOCK` (HDF4 and HDF5 are not thread-safe); the regridding
runs outside it. The index from the fine grid to the MODIS tiles' pixels is built once per
set of tiles and process.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .blockrun import FILE_LOCK
from .grid import LatLonGrid
from .harmonise import check_days, datetime64_days
from .products.imerg import imerg_to_grid, read_imerg
from .products.mcd43c3 import albedo_to_grid, read_mcd43c3_albedo
from .products.modis_sinusoidal import (
    ModisTile,
    TileIndex,
    apply_index,
    build_index,
    read_mod11a1_lst,
    read_mod13a2_ndvi,
)

_INDEX_LOCK = threading.Lock()
_INDEX: dict[tuple, TileIndex] = {}


def modis_to_fine(tiles: Sequence[ModisTile], fine: LatLonGrid) -> np.ndarray:
    """float32 fine field of a day's MODIS tiles (NaN where no tile or no valid pixel)."""
    if not tiles:
        return np.full(fine.shape, np.nan, dtype=np.float32)
    key = (fine, tuple(t.georef for t in tiles))
    with _INDEX_LOCK:
        index = _INDEX.get(key)
        if index is None:
            _INDEX.clear()  # one set of tiles at a time is what a period uses
            index = _INDEX[key] = build_index([t.georef for t in tiles], fine)
    return apply_index(index, [t.values for t in tiles])


@dataclass(frozen=True)
class RegridComposite:
    """Task: a MOD13A2 composite's tiles (paths) -> its NDVI on the fine grid."""

    fine: LatLonGrid
    ndvi_qc: str

    def __call__(self, paths: Sequence[str]) -> np.ndarray:
        with FILE_LOCK:
            tiles = [read_mod13a2_ndvi(p, qc=self.ndvi_qc) for p in paths]
        return modis_to_fine(tiles, self.fine)


@dataclass(frozen=True)
class DayFiles:
    """One day's raw files: MOD11A1 tiles, the MCD43C3 file (None: absent at the
    provider) and the IMERG file."""

    day: dt.date
    lst: tuple[str, ...]
    albedo: str | None
    imerg: str


@dataclass(frozen=True)
class RegridDay:
    """Task: a day's files -> {"lst", "albedo", "precipitation"} on the fine grid."""

    fine: LatLonGrid
    lst_qc: str
    precipitation_method: str

    def __call__(self, files: DayFiles) -> dict[str, np.ndarray]:
        fine = self.fine
        with FILE_LOCK:
            tiles = [read_mod11a1_lst(p, qc=self.lst_qc) for p in files.lst]
            albedo_raw = read_mcd43c3_albedo(files.albedo, bbox=fine.bbox) if files.albedo else None
            rain = read_imerg(files.imerg, bbox=fine.bbox).load()
        check_days(files.imerg, datetime64_days(rain["time"].values), [files.day])
        lst = modis_to_fine(tiles, fine)
        if albedo_raw is not None:
            albedo = albedo_to_grid(albedo_raw, fine)
        else:
            albedo = np.full(fine.shape, np.nan, dtype=np.float32)
        precip = imerg_to_grid(rain, fine, method=self.precipitation_method)
        return {"lst": lst, "albedo": albedo, "precipitation": precip}
