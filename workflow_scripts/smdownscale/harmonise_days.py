"""Harmonisation's first pass as tasks: a block of one day's raw predictors on the fine grid.

Rule harmonise_predictors regrids a period's raw files into scratch cubes (then gap-fills
and writes them block by block: :func:`smdownscale.harmonise.fill_and_flag`). The region is
cut into blocks of ``resources.chunk_rows`` rows by ``resources.chunk_cols`` columns
(:func:`smdownscale.tiling.grid_blocks`); each block of each day is a task
(:class:`RegridDay`: MOD11A1 LST, MCD43C3 albedo, IMERG precipitation), and so is each
block of each 16-day MOD13A2 composite
(:class:`RegridComposite`), run through :class:`smdownscale.blockrun.BlockRunner`: a task's
memory is one block's, whatever the region's height and width. A task holds file paths, the
grid and its block only, so it runs in a dask worker as well as in the job's process. It
reads the rows of the MODIS tiles that touch its block and hold its latitudes (the rest of a
tile stays NaN) and windows of the global files, holding
:data:`smdownscale.blockrun.FILE_LOCK` (HDF4 and HDF5 are not thread-safe); the regridding
runs outside it. A block is computed with a halo (one IMERG cell and a cell, on every side
the region has) and cut back, so that the conservative IMERG regridding, which works per
0.1 deg cell, sees whole cells, and the bilinear windows of the global files the same
neighbours: the blocks give the whole day's values exactly. The index from the fine grid to
the MODIS tiles' pixels is built once per block, set of tiles and process (tasks are
ordered block by block).
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
from .tiling import Block

_INDEX_LOCK = threading.Lock()
#: the last few (block, tiles) indexes of this process: a task in flight may still be on
#: the previous block while the next one starts
_INDEX: OrderedDict[tuple, TileIndex] = OrderedDict()
_INDEX_KEEP = 4


def halo_cells(fine: LatLonGrid) -> int:
    """Rows and columns of halo a block needs: one IMERG cell and a cell (whole cells for
    conservative regridding; bilinear interpolation and the MODIS index are per fine
    cell)."""
    return math.ceil(round(IMERG_RES / fine.res, 6)) + 1


@functools.lru_cache(maxsize=64)
def _tiles_of(bbox: tuple[float, float, float, float]) -> frozenset[tuple[int, int]]:
    """The MODIS tiles a block touches, once per block (the walk along its edges is not
    free)."""
    return frozenset(modis_tiles_for_bbox(bbox))


def tiles_touching(paths: Sequence[str], grid: LatLonGrid) -> list[str]:
    """The MODIS tile files among ``paths`` whose tile touches ``grid``: a block reads only
    those. A name that is not a granule name is kept (its reader says what is wrong)."""
    wanted = _tiles_of(grid.bbox)
    keep = []
    for p in paths:
        name = parse_granule_name(Path(p).name)
        if name is None or name.tile is None or name.tile in wanted:
            keep.append(p)
    return keep


def band_lats(grid: LatLonGrid) -> tuple[float, float]:
    """(south, north) cell-centre latitudes of a block: the MODIS tile rows to read."""
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
class CompositeBlock:
    """A MOD13A2 composite's tile files and the block to regrid."""

    paths: tuple[str, ...]
    block: Block


@dataclass(frozen=True)
class RegridComposite:
    """Task: a block of a MOD13A2 composite's tiles -> its NDVI on the block's fine cells."""

    fine: LatLonGrid
    ndvi_qc: str

    def __call__(self, item: CompositeBlock) -> np.ndarray:
        grid = item.block.grid(self.fine)
        with FILE_LOCK:
            tiles = [
                read_mod13a2_ndvi(p, qc=self.ndvi_qc, lats=band_lats(grid))
                for p in tiles_touching(item.paths, grid)
            ]
        return item.block.cut(modis_to_fine(tiles, grid))


@dataclass(frozen=True)
class DayFiles:
    """One day's raw files: MOD11A1 tiles, the MCD43C3 file (None: absent at the
    provider) and the IMERG file."""

    day: dt.date
    lst: tuple[str, ...]
    albedo: str | None
    imerg: str


@dataclass(frozen=True)
class DayBlock:
    """A day's files and the block to regrid."""

    files: DayFiles
    block: Block


@dataclass(frozen=True)
class RegridDay:
    """Task: a block of a day's files -> {"lst", "albedo", "precipitation"} on the
    block's fine cells."""

    fine: LatLonGrid
    lst_qc: str
    precipitation_method: str

    def __call__(self, item: DayBlock) -> dict[str, np.ndarray]:
        files, block = item.files, item.block
        grid = block.grid(self.fine)
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
            "lst": block.cut(lst),
            "albedo": block.cut(albedo),
            "precipitation": block.cut(precip),
        }
