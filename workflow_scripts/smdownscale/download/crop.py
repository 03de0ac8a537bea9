"""Crop on arrival: keep of a downloaded granule only what the run reads.

Most of the paper run's bytes are global files of which the region uses a small window
(MCD43C3: a 3600 x 7200 CMG of 24 SDS, two of them read) and MODIS tiles of which the
readers use two of twelve SDS. After a download is verified against the provider's size
and checksum and the format check, :func:`crop_granule` rewrites it in its own format with
only the variables and window the readers use, checks that the reader takes the crop, and
replaces the original with it (the original is moved to ``<raw>/originals/`` when
``download.crop.keep_originals`` is set, else deleted). The crop carries a global attribute
(:data:`CROP_ATTRIBUTE`, a :class:`CropInfo` as JSON) with the original's name, size,
sha256 and provider checksum, and what was kept; the download record (the manifest) holds
the same. A reader asked for cells outside a crop's window stops with a message naming the
file (a larger region needs the granule again), never with gaps that look like data.

Which products are cropped, and how, is the registry :data:`CROPS`; SRTM tiles (1 x 1 deg)
and the evaluation references are kept as they come.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from ..config import run_grids
from ..ease2 import ease2_cover
from ..products.base import ProductError
from ..products.mcd43c3 import BSA, CMG_RES, WSA, cmg_window, read_mcd43c3_albedo
from ..products.modis_sinusoidal import MOD11A1_LST, MOD11A1_QC, MOD13A2_NDVI, MOD13A2_RELIABILITY
from . import crop_hdf4, crop_hdf5, crop_netcdf

CROP_ATTRIBUTE = "smdownscale_crop"
ORIGINALS_DIR = "originals"

Bbox = tuple[float, float, float, float]


@dataclass(frozen=True)
class CropInfo:
    """What a crop holds and where it came from (stored in the crop and in its record)."""

    original: str  # the original's file name
    original_size: int
    original_sha256: str
    provider_checksum: str  # "" when the provider publishes none
    variables: tuple[str, ...]  # kept variables; () = all of them
    bbox: Bbox | None  # the window's cell centres lie in it; None = the whole grid

    def to_text(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_text(cls, text: str) -> CropInfo:
        d = json.loads(text)
        return cls(
            original=str(d["original"]),
            original_size=int(d["original_size"]),
            original_sha256=str(d["original_sha256"]),
            provider_checksum=str(d["provider_checksum"]),
            variables=tuple(d["variables"]),
            bbox=None if d["bbox"] is None else tuple(float(v) for v in d["bbox"]),  # type: ignore[arg-type]
        )

    def describe(self) -> str:
        kept = ", ".join(self.variables) if self.variables else "all variables"
        where = (
            "whole grid" if self.bbox is None else "bbox " + ",".join(f"{v:g}" for v in self.bbox)
        )
        return f"{kept}; {where}"


@dataclass(frozen=True)
class Crop:
    """How one product is cropped: its format, the variables kept (() = all) and whether
    it is cut to the region's window."""

    fmt: str  # "hdf4", "hdf5" (SMAP L3) or "netcdf"
    variables: tuple[str, ...]
    window: bool
    #: rough share of the original's bytes a crop keeps at a window of the whole grid
    #: (kept variables against all of them), for estimates before anything is fetched
    variable_share: float


#: The products cropped on arrival. MODIS tiles keep their whole tile (the sinusoidal
#: readers georeference it from the tile number) and drop the SDS no reader uses. Shares
#: measured on the real tiles MOD11A1.A2021227.h11v05 (0.29) and MOD13A2.A2021225.h11v06
#: (0.08); MCD43C3's is two of its 24 SDS (no real granule at hand).
CROPS: dict[str, Crop] = {
    "mcd43c3": Crop("hdf4", (BSA, WSA), window=True, variable_share=2 / 24),
    "mod11a1": Crop("hdf4", (MOD11A1_LST, MOD11A1_QC), window=False, variable_share=0.30),
    "mod13a2": Crop(
        "hdf4", (MOD13A2_NDVI, MOD13A2_RELIABILITY), window=False, variable_share=0.10
    ),  # fmt: skip
    "imerg": Crop("netcdf", (), window=True, variable_share=1.0),
    "esa_cci": Crop("netcdf", (), window=True, variable_share=1.0),
    "smap_l3": Crop("hdf5", (), window=True, variable_share=1.0),
}


def cropped_products(cfg: Mapping[str, Any]) -> list[str]:
    """The products this run crops on arrival."""
    c = cfg["download"]["crop"]
    return [k for k in c["products"] if k in CROPS] if c["enabled"] else []


def crop_bbox(cfg: Mapping[str, Any]) -> Bbox:
    """The region a crop keeps: the fine grid's bbox widened by ``download.crop.margin_deg``
    (more than any reader's own margin, see :mod:`smdownscale.products.imerg`)."""
    _, fine = run_grids(cfg)
    m = float(cfg["download"]["crop"]["margin_deg"])
    west, south, east, north = fine.bbox
    return (
        max(west - m, -180.0),
        max(south - m, -90.0),
        min(east + m, 180.0),
        min(north + m, 90.0),
    )


def kept_share(key: str, cfg: Mapping[str, Any]) -> float:
    """Estimated share of a granule's bytes its crop keeps (1 for a product not cropped):
    the kept variables' share times, for a window, the window's share of the globe's
    cells."""
    if key not in cropped_products(cfg):
        return 1.0
    spec = CROPS[key]
    share = spec.variable_share
    if spec.window:
        west, south, east, north = crop_bbox(cfg)
        share *= (east - west) / 360.0 * (north - south) / 180.0
    return share


def _cmg_window(bbox: Bbox) -> crop_hdf4.Window:
    rows, cols = cmg_window(bbox, 0.0)
    ul = (-180.0 + cols.start * CMG_RES, 90.0 - rows.start * CMG_RES)
    lr = (-180.0 + cols.stop * CMG_RES, 90.0 - rows.stop * CMG_RES)
    return rows, cols, (round(ul[0], 6), round(ul[1], 6)), (round(lr[0], 6), round(lr[1], 6))


def write_crop(key: str, src: Path, tmp: Path, info: CropInfo) -> None:
    """Write the crop of ``src`` (product ``key``) to ``tmp`` as ``info`` describes it."""
    spec = CROPS[key]
    attribute = (CROP_ATTRIBUTE, info.to_text())
    if spec.fmt == "hdf4":
        window = _cmg_window(info.bbox) if spec.window and info.bbox else None
        crop_hdf4.subset_hdfeos(src, tmp, spec.variables, attribute, window)
    elif spec.fmt == "hdf5":
        if info.bbox is None:
            raise ValueError(f"{key}: an HDF5 crop needs a bbox")
        # two more 36 km cells around the cells under the bbox
        west, south, east, north = info.bbox
        cover = ease2_cover((west, max(south, -85.0), east, min(north, 85.0)))
        crop_hdf5.subset_hdf5(src, tmp, cover.grown(2), attribute)
    else:
        if info.bbox is None:
            raise ValueError(f"{key}: a NetCDF crop needs a bbox")
        crop_netcdf.subset_netcdf(src, tmp, info.bbox, attribute)


def crop_reader_check(
    key: str, check: Callable[[Path, Path], None]
) -> Callable[[Path, Path], None]:
    """The check a crop must pass: the product's format check, but for MCD43C3 only that
    the reader takes it (a region of fill values on some day is a valid crop, while a global
    original without one valid value is not)."""
    if key != "mcd43c3":
        return check

    def reads(path: Path, target: Path) -> None:
        read_mcd43c3_albedo(path)

    return reads


def read_crop_info(path: Path) -> CropInfo | None:
    """The :class:`CropInfo` a cropped raw file carries; None for a file as the provider
    wrote it (or one that cannot be read: the format check says why)."""
    try:
        if path.suffix == ".hdf":
            text = crop_hdf4.read_text_attribute(path, CROP_ATTRIBUTE)
        elif path.suffix in (".nc", ".nc4"):
            text = crop_netcdf.read_text_attribute(path, CROP_ATTRIBUTE)
        elif path.suffix == ".h5":
            text = crop_hdf5.read_text_attribute(path, CROP_ATTRIBUTE)
        else:
            return None
    except ProductError:
        return None
    return None if text is None else CropInfo.from_text(text)


def crop_granule(
    key: str,
    target: Path,
    raw: Path,
    cfg: Mapping[str, Any],
    *,
    sha256: str,
    provider_checksum: str,
    check: Callable[[Path, Path], None],
) -> CropInfo:
    """Replace the verified original ``target`` by its crop; returns what the crop holds.

    ``check`` (the product's reader check, called as ``check(file, target)``) must take the
    crop before it replaces the original; the original then moves to ``<raw>/originals/``
    (``download.crop.keep_originals``) or is deleted. Nothing is left half-done: on an
    error the original stays where it was and the partial crop is removed.
    """
    spec = CROPS[key]
    info = CropInfo(
        original=target.name,
        original_size=target.stat().st_size,
        original_sha256=sha256,
        provider_checksum=provider_checksum,
        variables=spec.variables,
        bbox=crop_bbox(cfg) if spec.window else None,
    )
    keep = bool(cfg["download"]["crop"]["keep_originals"])
    kept = raw / ORIGINALS_DIR / target.relative_to(raw)
    with atomic_path(target) as tmp:
        write_crop(key, target, tmp, info)
        check(tmp, target)
        if keep:
            kept.parent.mkdir(parents=True, exist_ok=True)
            os.replace(target, kept)
    return info
