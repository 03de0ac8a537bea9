"""Feature cubes: the configured predictors, in order, as (..., p) arrays.

Daily predictors (lst, ndvi, albedo, precipitation) vary in time; static ones (elevation,
slope) are broadcast over the days. The same order is used on the coarse grid (training)
and on the fine grid (prediction), so a model's feature j always means the same predictor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

DAILY = ("lst", "ndvi", "albedo", "precipitation")
STATIC = ("elevation", "slope")


def check_names(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in DAILY + STATIC]
    if unknown:
        raise ValueError(f"unknown predictor(s) {unknown}; known: {list(DAILY + STATIC)}")


def stack(
    daily: Mapping[str, np.ndarray], static: Mapping[str, np.ndarray], names: Sequence[str]
) -> np.ndarray:
    """(t, ..., p) float32 from daily (t, ...) and static (...) arrays, in ``names`` order."""
    check_names(names)
    shape = next(iter(daily.values())).shape if daily else None
    if shape is None:
        raise ValueError("at least one daily array is needed to know the number of days")
    cols = []
    for n in names:
        if n in DAILY:
            cols.append(np.asarray(daily[n], dtype=np.float32))
        else:
            cols.append(np.broadcast_to(np.asarray(static[n], dtype=np.float32), shape))
    return np.stack(cols, axis=-1)


def read_block(
    pred, static_nc, names: Sequence[str], rows: slice, ndays: int, nlon: int, cols=None
):
    """(t, len(rows), len(cols), p) features of fine rows ``rows`` and columns ``cols``
    (every one of the ``nlon`` when None) from an open predictors file (daily) and static
    file, in ``names`` order."""
    from .netcdf import read_rows

    daily = {n: read_rows(pred, n, rows, cols) for n in names if n in DAILY}
    static = {n: read_rows(static_nc, n, rows, cols) for n in names if n in STATIC}
    if not daily:  # static-only feature sets still need the time axis
        width = nlon if cols is None else cols.stop - cols.start
        daily = {"_": np.zeros((ndays, rows.stop - rows.start, width), "f4")}
    return stack(daily, static, names)


def coarse_cube(ds: xr.Dataset, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(sm (t, y, x), features (t, y, x, p)) from a coarse period file."""
    daily = {n: ds[n].values for n in names if n in DAILY}
    if not daily:  # static-only feature sets still need the time axis
        daily = {"_sm": ds["sm"].values}
    static = {n: ds[n].values for n in names if n in STATIC}
    return ds["sm"].values.astype(np.float32), stack(daily, static, names)
