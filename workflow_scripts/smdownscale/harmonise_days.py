"""Harmonisation's first pass as tasks: a band of rows of one day's raw predictors on the fine
grid.

Rule harmonise_predictors regrids a period's raw files into scratch cubes (then gap-fills
and writes them in blocks of rows: :func:`smdownscale.harmonise.fill_and_flag`). Each band
of rows (:func:`row_bands`, ``resources.chunk_rows`` rows) of each day is a task
(:class:`RegridDay`: MOD11A1 LST, MCD43C3 albedo, IMERG precipitation), and so is each band
of each 16-day MOD13A2 composite (:class:`RegridComposite`), run through
:class:`smdownscale.blockrun.BlockRunner`: a task's memory is one band's, whatever the
region's height. A task holds file paths, the grid and its band only, so it runs in a dask
worker as well as in the job's process. It reads the rows of the MODIS tiles that hold its
band's latitudes (the rest of a tile stays NaN) and windows of the global files, holding
:data:`smdownscale.blockrun.FILE_LOCK` (HDF4 and HDF5 are not thread-safe); the regridding
runs outside it. A band is computed with a halo of rows (one IMERG cell and a row) and cut
back, so that the conservative IMERG regridding, which works per 0.1 deg cell, sees whole
cells: the bands give the whole day's values exactly. The index from the fine grid to the
MODIS tiles' pixels is built once per band, set of tiles and process (tasks are ordered band
by band).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .blockrun import FILE_LOCK
from .grid import LatLonGrid
from .harmonise import check_days, datetime64_days
from .products.imerg import IMERG_RES, imerg_to_grid, read_imerg
from .products.mcd43c3 import albedo_to_grid, read_mcd43c3_albedo
from .products.modis_metadata import parse_granule_name
from .products.modis_sinusoidal import (
    ModisTile,
    TileIndex,
    apply_index,
    build_index,
    read_mod11a1_lst,
    read_mod13a2_ndvi,
)
from .rawlayout import modis_tiles_for_bbox

_INDEX_LOCK = threading.Lock()
#: the last few (band, tiles) indexes of this process: a task in flight may still be on
#: the previous band while the next one starts
_INDEX: OrderedDict[tuple, TileIndex] = OrderedDict()
_INDEX_KEEP = 4


@dataclass(frozen=True)
class Band:
    """Rows ``start:stop`` of the region that a task gives, computed on the rows
    ``outer_start:outer_stop`` (the band and its halo, inside the region)."""

    start: int
    stop: int
    outer_start: int
    outer_stop: int

    @property
    def rows(self) -> slice:
        return slice(self.start, self.stop)

    def grid(self, fine: LatLonGrid) -> LatLonGrid:
        """The rows the task computes on."""
        return fine.rows(self.outer_start, self.outer_stop)

    def cut(self, field: np.ndarray) -> np.ndarray:
        """The band's own rows of a field computed on :meth:`grid`."""
        return field[self.start - self.outer_start : self.stop - self.outer_start]


def halo_rows(fine: LatLonGrid) -> int:
    """Rows of halo a band needs: one IMERG cell and a row (whole cells for conservative
    regridding; bilinear interpolation and the MODIS index are per fine cell)."""
    return math.ceil(round(IMERG_RES / fine.res, 6)) + 1


def row_bands(nlat: int, band_rows: int, halo: int) -> list[Band]:
    """The region's rows in bands of ``band_rows`` (the last one shorter), north to south,
    each with ``halo`` rows either side where the region has them."""
    if band_rows < 1 or halo < 0:
        raise ValueError(f"band_rows must be >= 1 and halo >= 0, got {band_rows}, {halo}")
    return [
        Band(r0, min(r0 + band_rows, nlat), max(r0 - halo, 0), min(r0 + band_rows + halo, nlat))
        for r0 in range(0, nlat, band_rows)
    ]


@functools.lru_cache(maxsize=64)
def _tiles_of(bbox: tuple[float, float, float, float]) -> frozenset[tuple[int, int]]:
    """The MODIS tiles a band touches, once per band (the walk along its edges is not free)."""
    return frozenset(modis_tiles_for_bbox(bbox))


def tiles_touching(paths: Sequence[str], grid: LatLonGrid) -> list[str]:
    """The MODIS tile files among ``paths`` whose tile touches ``grid``: a band reads only
    those. A name that is not a granule name is kept (its reader says what is wrong)."""
    wanted = _tiles_of(grid.bbox)
    keep = []
    for p in paths:
        name = parse_granule_name(Path(p).name)
        if name is None or name.tile is None or name.tile in wanted:
            keep.append(p)
    return keep


def band_lats(grid: LatLonGrid) -> tuple[float, float]:
    """(south, north) cell-centre latitudes of a band: the MODIS tile rows to read."""
    lat = grid.lat
    return float(lat[-1]), float(lat[0])


def modis_to_fine(tiles: Sequence[ModisTile], fine: LatLonGrid) -> np.ndarray:
    """float32 fine field of a day's MODIS tiles (NaN where no tile or no valid pixel)."""
    if not tiles:
        return np.full(fine.shape, np.nan, dtype=np.float32)
    key = (fine, tuple(t.georef for t in tiles))
    with _INDEX_LOCK:
        index = _INDEX.get(key)
        if index is None:
            index = _INDEX[key] = build_index([t.georef for t in tiles], fine)
            while len(_INDEX) > _INDEX_KEEP:
                _INDEX.popitem(last=False)
        _INDEX.move_to_end(key)
    return apply_index(index, [t.values for t in tiles])


@dataclass(frozen=True)
class CompositeBand:
    """A MOD13A2 composite's tile files and the band of rows to regrid."""

    paths: tuple[str, ...]
    band: Band


@dataclass(frozen=True)
class RegridComposite:
    """Task: a band of a MOD13A2 composite's tiles -> its NDVI on the band's fine rows."""

    fine: LatLonGrid
    ndvi_qc: str

    def __call__(self, item: CompositeBand) -> np.ndarray:
        grid = item.band.grid(self.fine)
        with FILE_LOCK:
            tiles = [
                read_mod13a2_ndvi(p, qc=self.ndvi_qc, lats=band_lats(grid))
                for p in tiles_touching(item.paths, grid)
            ]
        return item.band.cut(modis_to_fine(tiles, grid))


@dataclass(frozen=True)
class DayFiles:
    """One day's raw files: MOD11A1 tiles, the MCD43C3 file (None: absent at the
    provider) and the IMERG file."""

    day: dt.date
    lst: tuple[str, ...]
    albedo: str | None
    imerg: str


@dataclass(frozen=True)
class DayBand:
    """A day's files and the band of rows to regrid."""

    files: DayFiles
    band: Band


@dataclass(frozen=True)
class RegridDay:
    """Task: a band of a day's files -> {"lst", "albedo", "precipitation"} on the band's
    fine rows."""

    fine: LatLonGrid
    lst_qc: str
    precipitation_method: str

    def __call__(self, item: DayBand) -> dict[str, np.ndarray]:
        files, band = item.files, item.band
        grid = band.grid(self.fine)
        with FILE_LOCK:
            tiles = [
                read_mod11a1_lst(p, qc=self.lst_qc, lats=band_lats(grid))
                for p in tiles_touching(files.lst, grid)
            ]
            albedo_raw = read_mcd43c3_albedo(files.albedo, bbox=grid.bbox) if files.albedo else None
            rain = read_imerg(files.imerg, bbox=grid.bbox).load()
        check_days(files.imerg, datetime64_days(rain["time"].values), [files.day])
        lst = modis_to_fine(tiles, grid)
        if albedo_raw is not None:
            albedo = albedo_to_grid(albedo_raw, grid)
        else:
            albedo = np.full(grid.shape, np.nan, dtype=np.float32)
        precip = imerg_to_grid(rain, grid, method=self.precipitation_method)
        return {
            "lst": band.cut(lst),
            "albedo": band.cut(albedo),
            "precipitation": band.cut(precip),
        }
