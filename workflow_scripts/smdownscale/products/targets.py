"""The coarse products a run can downscale (config ``grid.coarse_product``), one entry each.

A target names its raw granules' product key (the key of ``period_granules``, the raw
index and ``archives``), how it calls itself, and a reader that turns a period's daily
files into ``sm`` (time, lat, lon, m3 m-3, NaN where unusable) and ``flag`` on the run's
coarse grid, checking each file's identity. A new target is one reader module and one entry
here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import xarray as xr

from .esa_cci import read_esa_cci_days, resolve_mask_flags
from .smap_target import read_smap_target_days, resolve_surface_flags

log = logging.getLogger(__name__)

Reader = Callable[[Sequence[str], Any, Mapping[str, Any]], list[xr.Dataset]]


@dataclass(frozen=True)
class Target:
    key: str  # granule product key
    title: str
    read: Reader  # (files, coarse grid, config) -> one Dataset a day
    describe: Callable[[Mapping[str, Any]], str]  # config -> what the coarse sm holds


def _read_esa_cci(files: Sequence[str], grid, cfg: Mapping[str, Any]) -> list[xr.Dataset]:
    e = cfg["esa_cci"]
    mask = resolve_mask_flags(e["mask_flags"])
    log.info("ESA CCI mask bits %d", mask)
    return read_esa_cci_days(
        files, grid, mask, version=e["version"], allow_mixed_versions=e["allow_mixed_versions"]
    )


def _read_smap(files: Sequence[str], grid, cfg: Mapping[str, Any]) -> list[xr.Dataset]:
    s = cfg["smap"]
    surface = resolve_surface_flags(s["mask_surface_flags"])
    log.info(
        "SMAP L3 %s pass, %s retrievals, surface flag mask %d", s["pass"], s["quality"], surface
    )
    return read_smap_target_days(files, grid, s["pass"], s["quality"], surface, s["crid"])


TARGETS: dict[str, Target] = {
    "esa_cci": Target(
        "esa_cci",
        "ESA CCI",
        _read_esa_cci,
        lambda cfg: "ESA CCI SM COMBINED, flagged cells removed",
    ),
    "smap_l3": Target(
        "smap_l3",
        "SMAP L3",
        _read_smap,
        lambda cfg: (
            f"SMAP L3 {cfg['smap']['pass']} ({cfg['smap']['crid']}), retrievals "
            f"{cfg['smap']['quality']}, flagged cells removed"
        ),
    ),
}


def run_target(cfg: Mapping[str, Any]) -> Target:
    """The run's target (``grid.coarse_product``)."""
    return TARGETS[cfg["grid"]["coarse_product"]]
