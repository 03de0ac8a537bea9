"""Write synthetic SMAP L3 radiometer daily files (SPL3SMP) in the real product's layout.

The layout is that of the later releases (version 4 onwards, e.g. R19240) as
:mod:`smdownscale.products.smap` reads it, checked against the real early-release file
``SMAP_L3_SM_P_20150401_R13080_001.h5``: groups ``Soil_Moisture_Retrieval_Data_AM`` and
``..._PM`` (datasets of the PM group carry a ``_pm`` suffix), each with global
(406, 964) datasets, gzip, chunks (1, 964): ``soil_moisture`` float32 with units
``cm**3/cm**3`` and _FillValue -9999, ``latitude``/``longitude`` float32 at the EASE-Grid
2.0 cell centres (-9999 where the file has no retrieval attempt), ``retrieval_qual_flag`` and
``surface_flag`` uint16 (_FillValue 65534) with the product's flag_masks and meanings;
``Metadata/DatasetIdentification`` (shortName SPL3SMP, fileName) and ``Metadata/Extent``
(the day as rangeBeginningDateTime .. rangeEndingDateTime).

The demo's coarse product carries ESA CCI-like flag bits (:mod:`.observe`); they become the
SMAP flags their meaning corresponds to: frozen (1) -> surface bits radar and model frozen
ground, dense vegetation (2) -> surface bit dense vegetation, and both, like low weight (16),
-> retrieval not recommended; physical bounds (8) -> not successful. Cells without a value
have no retrieval (flag 7, soil moisture fill).

Writing is atomic (:func:`smdownscale.atomic.atomic_path`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import h5py
import numpy as np

from ..atomic import atomic_path
from ..ease2 import EASE2_M36_NCOLS, EASE2_M36_NROWS, Ease2Grid
from ..products.smap_target import FLAG_FILL, SURFACE_BITS
from .observe import FLAG_DENSE_VEGETATION, FLAG_FROZEN, FLAG_LOW_WEIGHT, FLAG_PHYSICAL_BOUNDARY

SM_FILL = np.float32(-9999.0)
NOT_RECOMMENDED, NOT_ATTEMPTED, NOT_SUCCESSFUL = 1, 2, 4
_QUAL_ATTRS = {
    "flag_masks": b"1s, 2s, 4s",
    "flag_meanings": b"Retrieval_recommended Retrieval_attempted Retrieval_success",
    "long_name": b"Bit flags that record the conditions and the quality of the retrieval "
    b"algorithms that generate soil moisture for the grid cell.",
}
_SURFACE_ATTRS = {
    "flag_masks": ", ".join(f"{b}s" for b in SURFACE_BITS.values()).encode(),
    "flag_meanings": " ".join(f"36_km_{n}" for n in SURFACE_BITS).encode(),
    "long_name": b"Bit flags that record ambient surface conditions for the grid cell",
}


def smap_flags(sm: np.ndarray, demo_flag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(retrieval_qual_flag, surface_flag) uint16 of the demo's values and flags (module
    docstring)."""
    flag = np.asarray(demo_flag).astype(np.int64)
    surface = np.zeros(flag.shape, dtype=np.uint16)
    frozen = (flag & FLAG_FROZEN) != 0
    dense = (flag & FLAG_DENSE_VEGETATION) != 0
    surface[frozen] |= SURFACE_BITS["radar_frozen_ground"] | SURFACE_BITS["model_frozen_ground"]
    surface[dense] |= SURFACE_BITS["dense_vegetation"]
    qual = np.zeros(flag.shape, dtype=np.uint16)
    qual[frozen | dense | ((flag & FLAG_LOW_WEIGHT) != 0)] |= NOT_RECOMMENDED
    qual[(flag & FLAG_PHYSICAL_BOUNDARY) != 0] |= NOT_RECOMMENDED | NOT_SUCCESSFUL
    qual[~np.isfinite(sm)] = NOT_RECOMMENDED | NOT_ATTEMPTED | NOT_SUCCESSFUL
    return qual, surface


def _global(window: np.ndarray, grid: Ease2Grid, fill: float | int, dtype: str) -> np.ndarray:
    out = np.full((EASE2_M36_NROWS, EASE2_M36_NCOLS), fill, dtype=dtype)
    out[grid.row0 : grid.row1, grid.col0 : grid.col1] = window
    return out


def _write_pass(
    f: h5py.File, suffix: str, grid: Ease2Grid, sm: np.ndarray, demo_flag: np.ndarray
) -> None:
    group = f.create_group(f"Soil_Moisture_Retrieval_Data_{'PM' if suffix else 'AM'}")
    kw = {"compression": "gzip", "chunks": (1, EASE2_M36_NCOLS)}
    qual, surface = smap_flags(sm, demo_flag)
    values = np.where(np.isfinite(sm), sm, SM_FILL).astype(np.float32)
    ds = group.create_dataset(f"soil_moisture{suffix}", data=_global(values, grid, SM_FILL, "f4"),
                              fillvalue=SM_FILL, **kw)  # fmt: skip
    ds.attrs["units"] = b"cm**3/cm**3"
    ds.attrs["_FillValue"] = SM_FILL
    ds.attrs["valid_min"] = np.float32(0.02)
    ds.attrs["valid_max"] = np.float32(0.5)
    ds.attrs["long_name"] = (
        b"Representative soil moisture measurement for the Earth based grid cell."
    )
    lat2 = np.broadcast_to(grid.lat[:, None], grid.shape)
    lon2 = np.broadcast_to(grid.lon[None, :], grid.shape)
    for name, field in ((f"latitude{suffix}", lat2), (f"longitude{suffix}", lon2)):
        d = group.create_dataset(name, data=_global(field.astype("f4"), grid, SM_FILL, "f4"),
                                 fillvalue=SM_FILL, **kw)  # fmt: skip
        d.attrs["_FillValue"] = SM_FILL
        d.attrs["units"] = b"degrees_north" if name.startswith("lat") else b"degrees_east"
    for name, field, attrs in (
        (f"retrieval_qual_flag{suffix}", qual, _QUAL_ATTRS),
        (f"surface_flag{suffix}", surface, _SURFACE_ATTRS),
    ):
        fill_all = 7 if name.startswith("retrieval") else FLAG_FILL
        d = group.create_dataset(name, data=_global(field, grid, fill_all, "u2"),
                                 fillvalue=np.uint16(FLAG_FILL), **kw)  # fmt: skip
        d.attrs["_FillValue"] = np.uint16(FLAG_FILL)
        for k, v in attrs.items():
            d.attrs[k] = v


def write_smap_l3(
    path: str | Path,
    day: dt.date,
    grid: Ease2Grid,
    am: tuple[np.ndarray, np.ndarray],
    pm: tuple[np.ndarray, np.ndarray],
) -> Path:
    """Write one day's SPL3SMP file: ``am`` and ``pm`` are (soil moisture m3 m-3 with NaN
    where no retrieval, demo flag bits) on the window ``grid`` (module docstring)."""
    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        _write_pass(f, "", grid, *am)
        _write_pass(f, "_pm", grid, *pm)
        ident = f.create_group("Metadata/DatasetIdentification")
        ident.attrs["shortName"] = b"SPL3SMP"
        ident.attrs["fileName"] = path.name.encode()
        extent = f.create_group("Metadata/Extent")
        extent.attrs["rangeBeginningDateTime"] = f"{day:%Y-%m-%d}T00:00:00.000Z".encode()
        extent.attrs["rangeEndingDateTime"] = f"{day:%Y-%m-%d}T23:59:59.999Z".encode()
    return path
