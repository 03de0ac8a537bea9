"""SMAP L3 (SPL3SMP) as the coarse target: daily images on an EASE-Grid 2.0 window.

:func:`read_smap_target_days` turns a period's SPL3SMP files (:func:`.smap.read_smap_l3`
checks each one's identity, units, day and grid) into the workflow's coarse soil moisture:
``sm`` (time, lat, lon) m3 m-3 on an :class:`~smdownscale.ease2.Ease2Grid` window, NaN where
the file has no retrieval, the retrieval fails the configured quality, a configured
``surface_flag`` bit is set, or the value lies outside [0, 1]; ``flag`` keeps the raw
``retrieval_qual_flag`` and ``surface_flag`` the raw surface bits, so what was dropped can be
traced.

Choices (config ``smap``):

* ``pass``: ``AM`` (descending, 6 AM local; the SMAP 16-day system used it because morning
  retrievals are the better ones), ``PM`` (ascending), or ``AM_then_PM`` (the AM value, the
  PM value where the AM one is missing or masked).
* ``quality``: ``recommended`` keeps retrievals whose ``retrieval_qual_flag`` bit 1
  ("retrieval not recommended") is clear; ``successful`` those whose bit 4 ("retrieval not
  successful") is clear.
* ``mask_surface_flags``: ``surface_flag`` bits (values or names) whose cells are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ..ease2 import Ease2Grid
from .base import ProductError
from .smap import FLAG_FILL, read_smap_l3

log = logging.getLogger(__name__)

#: ``retrieval_qual_flag`` bits (a set bit means "no").
QUALITY_BITS = {"recommended": 1, "successful": 4}
#: ``surface_flag`` bits by name (SPL3SMP flag_meanings without the ``36_km_`` prefix).
SURFACE_BITS = {
    "static_water_body": 1,
    "radar_water_body_detection": 2,
    "coastal_proximity": 4,
    "urban_area": 8,
    "precipitation": 16,
    "snow_or_ice": 32,
    "permanent_snow_or_ice": 64,
    "radar_frozen_ground": 128,
    "model_frozen_ground": 256,
    "mountainous_terrain": 512,
    "dense_vegetation": 1024,
    "nadir_region": 2048,
}
#: The fill value of SPL3SMP's uint16 flags.
PASSES = ("AM", "PM", "AM_then_PM")


def resolve_surface_flags(flags: Sequence[int | str]) -> int:
    """The bit mask of ``smap.mask_surface_flags``: bit values and names (ValueError naming
    the unknown ones)."""
    mask, unknown = 0, []
    for f in flags:
        if isinstance(f, str) and f in SURFACE_BITS:
            mask |= SURFACE_BITS[f]
        elif isinstance(f, int) and not isinstance(f, bool) and f in SURFACE_BITS.values():
            mask |= f
        else:
            unknown.append(f)
    if unknown:
        raise ValueError(
            f"unknown SMAP surface flag(s) {unknown}: use bit values "
            f"{sorted(SURFACE_BITS.values())} or names {list(SURFACE_BITS)}"
        )
    return mask


def usable(
    sm: np.ndarray, qual: np.ndarray, surface: np.ndarray, quality: str, surface_mask: int
) -> np.ndarray:
    """Where a retrieval is kept: a value in [0, 1], a quality flag (not fill) without the
    ``quality`` bit, and no bit of ``surface_mask`` in a surface flag (fill counts as set)."""
    qual = np.asarray(qual).astype(np.int64)
    surface = np.asarray(surface).astype(np.int64)
    with np.errstate(invalid="ignore"):
        ok = (sm >= 0.0) & (sm <= 1.0)
    ok &= (qual != FLAG_FILL) & ((qual & QUALITY_BITS[quality]) == 0)
    if surface_mask:
        ok &= (surface != FLAG_FILL) & ((surface & surface_mask) == 0)
    return ok


def _window(ds: xr.Dataset, grid: Ease2Grid, name: str, fill: float | int) -> np.ndarray:
    r0, r1, c0, c1 = ds.attrs.get("window", (0, 406, 0, 964))
    if not (r0 <= grid.row0 and grid.row1 <= r1 and c0 <= grid.col0 and grid.col1 <= c1):
        raise ProductError(
            ds.attrs["source_file"],
            f"holds EASE2 rows {r0}:{r1}, columns {c0}:{c1} (cropped on arrival), not the "
            f"region's rows {grid.row0}:{grid.row1}, columns {grid.col0}:{grid.col1}",
            "delete it (and its record under raw/manifest/) and run again to download it for "
            "this region, or widen download.crop.margin_deg",
        )
    if name not in ds:
        return np.full(grid.shape, fill)
    return ds[name].values[grid.row0 : grid.row1, grid.col0 : grid.col1]


def smap_pass_image(
    path: str | Path, grid: Ease2Grid, pass_: str, quality: str, surface_mask: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.datetime64]:
    """One file's pass on the window: (sm with unusable cells NaN, quality flag, surface
    flag, day). A file without a quality flag is refused: the quality choice cannot be
    applied to it."""
    ds = read_smap_l3(path, pass_)
    if "retrieval_qual_flag" not in ds:
        raise ProductError(
            path,
            f"the {pass_} pass has no retrieval_qual_flag",
            "not an SPL3SMP file as NSIDC delivers it (the quality cannot be checked)",
        )
    sm = _window(ds, grid, "soil_moisture", np.nan).astype(np.float32)
    qual = _window(ds, grid, "retrieval_qual_flag", FLAG_FILL).astype(np.uint16)
    surface = _window(ds, grid, "surface_flag", FLAG_FILL).astype(np.uint16)
    keep = usable(sm, qual, surface, quality, surface_mask)
    sm = np.where(keep, sm, np.float32(np.nan))
    return sm, qual, surface, ds["time"].values


def read_smap_target(
    path: str | Path,
    grid: Ease2Grid,
    pass_: str = "AM",
    quality: str = "recommended",
    surface_mask: int = 0,
    crid: str | None = None,
) -> xr.Dataset:
    """One day's coarse soil moisture from a SPL3SMP file (module docstring) on ``grid``:
    ``sm``, ``flag`` (retrieval_qual_flag of the pass that gave the value, AM where neither
    did) and ``surface_flag``, (time, lat, lon). ``crid``: the release the file's name must
    carry (ProductError otherwise)."""
    if pass_ not in PASSES:
        raise ValueError(f"SMAP pass must be one of {PASSES}, not {pass_!r}")
    if crid is not None and f"_{crid}_" not in Path(path).name:
        raise ProductError(
            path,
            f"its name is not of release {crid} (config smap.crid)",
            "use the files of the configured release, or set smap.crid to this file's",
        )
    first = "PM" if pass_ == "PM" else "AM"
    sm, qual, surface, day = smap_pass_image(path, grid, first, quality, surface_mask)
    if pass_ == "AM_then_PM":
        pm, pqual, psurf, _ = smap_pass_image(path, grid, "PM", quality, surface_mask)
        take = np.isnan(sm) & np.isfinite(pm)
        sm = np.where(take, pm, sm)
        qual = np.where(take, pqual, qual)
        surface = np.where(take, psurf, surface)
    dims = ("time", "lat", "lon")
    coords = {"time": ("time", np.array([day], dtype="datetime64[ns]")), **grid.coords()}
    return xr.Dataset(
        {
            "sm": (
                dims,
                sm[None].astype(np.float32),
                {
                    "long_name": "volumetric soil moisture",
                    "units": "m3 m-3",
                    "comment": (
                        f"SMAP L3 {pass_}; NaN where no retrieval, retrieval not {quality}, "
                        f"surface flag & {surface_mask} != 0, or outside [0, 1]"
                    ),
                },
            ),
            "flag": (
                dims,
                qual[None].astype(np.uint16),
                {
                    "long_name": "SMAP retrieval_qual_flag (raw bits)",
                    "flag_masks": np.array([1, 2, 4], dtype=np.uint16),
                    "flag_meanings": (
                        "retrieval_not_recommended retrieval_not_attempted retrieval_not_successful"
                    ),
                },
            ),
            "surface_flag": (
                dims,
                surface[None].astype(np.uint16),
                {
                    "long_name": "SMAP surface_flag (raw bits)",
                    "flag_masks": np.array(list(SURFACE_BITS.values()), dtype=np.uint16),
                    "flag_meanings": " ".join(SURFACE_BITS),
                },
            ),
        },
        coords=coords,
        attrs={"source_file": str(path), "product_version": crid or "", "pass": pass_},
    )


def read_smap_target_days(
    paths: Sequence[str | Path],
    grid: Ease2Grid,
    pass_: str = "AM",
    quality: str = "recommended",
    surface_mask: int = 0,
    crid: str | None = None,
) -> list[xr.Dataset]:
    """:func:`read_smap_target` for each of a period's files, in order."""
    return [read_smap_target(p, grid, pass_, quality, surface_mask, crid) for p in paths]
