"""Predictor cubes on the fine grid: gap filling and gap flags.

Gap filling (METHOD.md section 2, off unless ``gapfill.enabled``): a fine cell-day without
a usable value is filled by linear interpolation in time between the nearest valid days
before and after it, when both lie within ``max_days``; otherwise by the mean of the cell's
valid days in the period. It works within one period (the job's unit), so a gap at a
period's edge is filled from that period's side only. NDVI is one composite per period,
so a missing composite pixel stays missing. Every filled cell-day is flagged, one bit per
predictor, in the ``gap_flag`` variable.
"""

from __future__ import annotations

import numpy as np

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
        "long_name": "NDVI of the period's 16-day composite (MOD13A2)",
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
