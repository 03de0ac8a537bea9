"""Predictor cubes on the fine grid: gap filling, gap flags and the blocked second pass.

Gap filling (METHOD.md section 2, off unless ``gapfill.enabled``): a fine cell-day without
a usable value is filled by linear interpolation in time between the nearest valid days
before and after it, when both lie within ``max_days``; otherwise by the mean of the cell's
valid days in the period. It works within one period (the job's unit), so a gap at a
period's edge is filled from that period's side only. Only the predictors listed in
``gapfill.predictors`` are filled (default LST and albedo: NDVI is constant within its
16-day composite, so there is nothing to interpolate, and daily rain must not be
interpolated in time). Every filled cell-day is flagged, one bit per predictor, in the
``gap_flag`` variable; filled values serve prediction only, never training: the coarse
aggregation masks them (:func:`observed_only`).

Harmonising a period runs in two passes (rule ``harmonise_predictors``) over the same blocks
of the region (rows by columns): pass 1 regrids each block of each day's raw files into
uncompressed scratch cubes (:func:`scratch_cubes`); pass 2 (:func:`fill_and_flag`) reads a
block of every day, gap-fills, computes the flag and writes the compressed file a block at
a time; blocks of whole chunks write each compressed chunk once.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .calendar import composite_starts, modis_date_code, period_of

#: Bits of the per-cell-day ``gap_flag``: which predictor was filled.
GAP_BITS: dict[str, int] = {"lst": 1, "ndvi": 2, "albedo": 4, "precipitation": 8}

#: Daily fine-grid predictors and their CF attributes (units after reading, METHOD.md s.2).
DAILY_PREDICTORS: dict[str, dict[str, str]] = {
    "lst": {
        "standard_name": "surface_temperature",
        "long_name": "daytime land surface temperature (MOD11A1 LST_Day_1km)",
        "units": "K",
    },
    "ndvi": {
        "standard_name": "normalized_difference_vegetation_index",
        "long_name": "NDVI of the 16-day composite holding the day (MOD13A2)",
        "units": "1",
    },
    "albedo": {
        "standard_name": "surface_albedo",
        "long_name": "shortwave albedo, mean of white-sky and black-sky (MCD43C3)",
        "units": "1",
    },
    "precipitation": {
        "standard_name": "lwe_thickness_of_precipitation_amount",
        "long_name": "daily precipitation (GPM IMERG Final)",
        "units": "mm d-1",
    },
}


def gapfill(cube: np.ndarray, max_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Fill NaN cell-days of a (time, ...) cube; returns (filled float32 cube, filled mask).

    Interpolation needs a valid day on each side within ``max_days``; otherwise the cell's
    period mean is used; a cell with no valid day stays NaN. Two passes over time on 2-D
    slices (backward: the next valid value and day; forward: fill), so memory stays a small
    multiple of the cube's own size.
    """
    cube = np.asarray(cube, dtype=np.float32)
    nt = cube.shape[0]
    valid = np.isfinite(cube)
    count = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (np.where(valid, cube, 0).sum(axis=0, dtype=np.float64) / count).astype(np.float32)
    far = np.int32(10 * (nt + max_days + 1))  # farther than any window
    next_val = np.empty_like(cube)
    next_day = np.empty(cube.shape, dtype=np.int32)
    val = np.full(cube.shape[1:], np.nan, dtype=np.float32)
    day = np.full(cube.shape[1:], far, dtype=np.int32)
    for t in range(nt - 1, -1, -1):
        val = np.where(valid[t], cube[t], val)
        day = np.where(valid[t], t, day)
        next_val[t], next_day[t] = val, day
    out = cube.copy()
    filled = np.zeros(cube.shape, dtype=bool)
    prev_val = np.full(cube.shape[1:], np.nan, dtype=np.float32)
    prev_day = np.full(cube.shape[1:], -far, dtype=np.int32)
    for t in range(nt):
        gap = ~valid[t]
        d_prev = t - prev_day
        d_next = next_day[t] - t
        near = gap & (d_prev <= max_days) & (d_next <= max_days)
        with np.errstate(invalid="ignore", divide="ignore"):
            interp = prev_val + (next_val[t] - prev_val) * (d_prev / (d_prev + d_next))
        out[t] = np.where(gap, np.where(near, interp, mean), cube[t])
        filled[t] = gap & np.isfinite(out[t])
        prev_val = np.where(valid[t], cube[t], prev_val)
        prev_day = np.where(valid[t], t, prev_day)
    return out, filled


def gap_flag(filled: dict[str, np.ndarray]) -> np.ndarray:
    """Combine per-predictor filled masks into the uint8 ``gap_flag`` bit field."""
    flag = None
    for name, mask in filled.items():
        bits = np.where(mask, np.uint8(GAP_BITS[name]), np.uint8(0))
        flag = bits if flag is None else flag | bits
    if flag is None:
        raise ValueError("no predictor masks given")
    return flag.astype(np.uint8)


def observed_only(values: np.ndarray, flag: np.ndarray, name: str) -> np.ndarray:
    """``values`` (float) with NaN wherever ``flag`` says predictor ``name`` was gap-filled.

    ``flag`` is the ``gap_flag`` of the same cell-days (broadcastable to ``values``).
    """
    values = np.asarray(values, dtype=np.float64)
    filled = (np.asarray(flag).astype(np.uint8) & np.uint8(GAP_BITS[name])) != 0
    return np.where(filled, np.nan, values)


def fill_and_flag(
    read_block: Callable[[str, int], np.ndarray],
    write_block: Callable[[str, int, np.ndarray], None],
    nblocks: int,
    fill: Collection[str],
    max_days: int,
) -> dict[str, int]:
    """Pass 2 of a period: gap-fill the ``fill`` predictors and write every predictor and
    the ``gap_flag``, one block of the region (every day) at a time.

    ``read_block(name, k)`` returns predictor ``name``'s (time, rows, cols) cube of
    observed values (NaN where missing) on block ``k`` of ``nblocks``, for each predictor
    of :data:`GAP_BITS`; ``write_block(name, k, cube)`` stores block ``k`` of a predictor
    or of ``gap_flag`` (uint8). Gap filling works along time only, so blocks are
    independent. Memory is bounded by a block. Returns the number of filled cell-days per
    predictor.
    """
    unknown = set(fill) - set(GAP_BITS)
    if unknown:
        raise ValueError(f"cannot gap-fill {sorted(unknown)}; choose from {list(GAP_BITS)}")
    counts = dict.fromkeys(GAP_BITS, 0)
    for k in range(nblocks):
        filled = {}
        for name in GAP_BITS:
            cube = np.asarray(read_block(name, k), dtype=np.float32)
            if name in fill:
                cube, filled[name] = gapfill(cube, max_days)
                counts[name] += int(filled[name].sum())
            else:
                filled[name] = np.zeros(cube.shape, dtype=bool)
            write_block(name, k, cube)
        write_block("gap_flag", k, gap_flag(filled))
    return counts


class ScratchCube:
    """A float32 cube of ``ndays`` days over a region cut into blocks, in an uncompressed
    raw file: written a block of a day at a time (pass 1), read a block of every day at a
    time (pass 2).

    The file holds the blocks one after another, each block day after day, so a block of a
    day and a block of every day are each one contiguous piece, whatever the region's
    width. Plain positional file I/O, no memory map: the data live in the file (and the
    kernel's page cache, which it writes back and reclaims), never in the process's memory.
    """

    def __init__(self, path: str | Path, ndays: int, blocks: Sequence[tuple[slice, slice]]) -> None:
        self.path = Path(path)
        self.ndays = ndays
        self.shapes = [(r.stop - r.start, c.stop - c.start) for r, c in blocks]
        if any(h < 1 or w < 1 for h, w in self.shapes):
            raise ValueError(f"{self.path.name}: empty block among {list(blocks)}")
        self._offsets = np.concatenate(
            [[0], np.cumsum([ndays * h * w * 4 for h, w in self.shapes])]
        ).tolist()
        self._file = open(self.path, "w+b")  # closed by close()
        self._file.truncate(self._offsets[-1])

    def _check(self, k: int) -> tuple[int, int]:
        if not 0 <= k < len(self.shapes):
            raise IndexError(f"{self.path.name}: block {k} outside 0..{len(self.shapes) - 1}")
        return self.shapes[k]

    def write(self, day: int, k: int, values: np.ndarray) -> None:
        """Write block ``k`` of day ``day``."""
        shape = self._check(k)
        values = np.ascontiguousarray(values, dtype=np.float32)
        if values.shape != shape:
            raise ValueError(
                f"{self.path.name}: values of shape {values.shape} for block {k} of {shape}"
            )
        if not 0 <= day < self.ndays:
            raise IndexError(f"{self.path.name}: day {day} outside 0..{self.ndays - 1}")
        self._file.seek(self._offsets[k] + day * values.nbytes)
        self._file.write(memoryview(values).cast("B"))

    def read(self, k: int) -> np.ndarray:
        """Block ``k`` of every day, (time, rows, cols)."""
        out = np.empty((self.ndays, *self._check(k)), dtype=np.float32)
        self._file.seek(self._offsets[k])
        if self._file.readinto(memoryview(out).cast("B")) != out.nbytes:
            raise OSError(f"{self.path}: short read")
        return out

    def close(self) -> None:
        self._file.close()


@contextmanager
def scratch_cubes(
    folder: str | Path,
    names: Sequence[str],
    ndays: int,
    blocks: Sequence[tuple[slice, slice]],
) -> Iterator[dict[str, ScratchCube]]:
    """One :class:`ScratchCube` of ``ndays`` days over ``blocks`` per name, in the scratch
    folder ``folder``.

    Give a hidden folder beside the output (same file system), named after it, e.g.
    ``.predictors_2010-097.nc.scratch``: the name is the same on every attempt, so scratch
    left by a killed job is removed by the next one. The folder is always deleted on exit,
    also after an error. The cubes start as zeros (sparse files): write every day before
    reading.
    """
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    cubes: dict[str, ScratchCube] = {}
    try:
        for name in names:
            cubes[name] = ScratchCube(folder / f"{name}.f32", ndays, blocks)
        yield cubes
    finally:
        for cube in cubes.values():
            cube.close()
        shutil.rmtree(folder, ignore_errors=True)


def composites_of_days(days: Sequence[dt.date]) -> tuple[list[dt.date], list[int]]:
    """The 16-day MOD13A2 composites holding ``days`` (first days, in date order) and, for
    each day, the index of its composite in that list."""
    starts = composite_starts(list(days))
    where = {s: k for k, s in enumerate(starts)}
    return starts, [where[period_of(d, 16).nominal_start] for d in days]


def check_days(path: str | Path, found: Sequence[dt.date], expected: Sequence[dt.date]) -> None:
    """Raise ValueError naming ``path`` when the days a file holds are not those expected."""
    found, expected = list(found), list(expected)
    if found != expected:

        def show(days: list[dt.date]) -> str:
            if len(days) > 3:
                return f"{len(days)} days {days[0]}..{days[-1]}"
            return ", ".join(str(d) for d in days) or "no day"

        raise ValueError(
            f"{path}: holds {show(found)}, but was read for {show(expected)}; "
            "the inputs are out of order or the file is mislabelled"
        )


def modis_files_by_day(
    paths: Sequence[str | Path], days: Sequence[dt.date], product: str
) -> dict[dt.date, list[str]]:
    """MODIS-family files (names carrying ``.AYYYYDDD.``) grouped by the day they hold.

    Every day of ``days`` gets a list, empty where the provider has no granule (an outage:
    the catalogue of real runs lists only granules that exist), so the caller treats that
    day as missing data. A file for none of ``days`` raises ValueError naming it.
    """
    by_code = {modis_date_code(d): d for d in days}
    out: dict[dt.date, list[str]] = {d: [] for d in days}
    for p in paths:
        found = [code for code in by_code if f".{code}." in Path(p).name]
        if len(found) != 1:
            raise ValueError(
                f"{p}: not a {product} file of any day asked for ({days[0]}..{days[-1]}); "
                "the inputs are out of order"
            )
        out[by_code[found[0]]].append(str(p))
    return out


def datetime64_days(values: np.ndarray) -> list[dt.date]:
    """datetime64 values as calendar days (dates)."""
    return [np.datetime64(d, "D").item() for d in np.atleast_1d(values)]


def flag_attrs() -> dict[str, object]:
    names = list(GAP_BITS)
    return {
        "long_name": "predictors filled by temporal gap filling",
        "flag_masks": np.array([GAP_BITS[n] for n in names], dtype=np.uint8),
        "flag_meanings": " ".join(f"{n}_filled" for n in names),
        "units": "1",
    }


def locate_stations(table, fine, coarse):  # noqa: ANN001, ANN201 (pandas, LatLonGrid)
    """Add fine/coarse cell indices to a station table; split off stations outside the region.

    Returns ``(inside, outside)``: ``inside`` gains ``fine_row``, ``fine_col``, ``fine_index``
    (flat, row-major), ``coarse_row``, ``coarse_col``, ``coarse_index``; ``outside`` lists
    each dropped station once (network, station, lat, lon).
    """
    import pandas as pd

    frow, fcol = fine.cell_index(table["lat"].to_numpy(), table["lon"].to_numpy())
    crow, ccol = coarse.cell_index(table["lat"].to_numpy(), table["lon"].to_numpy())
    located = table.assign(
        fine_row=frow,
        fine_col=fcol,
        fine_index=np.where(frow >= 0, frow * fine.nlon + fcol, -1),
        coarse_row=crow,
        coarse_col=ccol,
        coarse_index=np.where(crow >= 0, crow * coarse.nlon + ccol, -1),
    )
    inside_mask = located["fine_row"] >= 0
    outside = (
        located.loc[~inside_mask, ["network", "station", "lat", "lon"]]
        .drop_duplicates()
        .reset_index(drop=True)
    )
    inside = located.loc[inside_mask].reset_index(drop=True)
    return inside, pd.DataFrame(outside)
