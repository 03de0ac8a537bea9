"""Writing HDF-EOS 2 grid files (HDF4) as the MODIS products lay them out.

One writer serves the demo, which writes synthetic MOD11A1 / MOD13A2 / MCD43C3 files, and the
crop on arrival (:mod:`smdownscale.download.crop_hdf4`), which rewrites a downloaded granule
with fewer SDS or a smaller window. The layout copies real v061 granules: a Vgroup named
after the grid (class ``GRID``) holding the Vgroups ``Data Fields`` (the SDS) and ``Grid
Attributes`` (class ``GRID Vgroup``); SDS dimensions named ``YDim:<grid>`` / ``XDim:<grid>``;
global attributes ``HDFEOSVersion`` and ``StructMetadata.0`` first, then the others in the
order given.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path

HDFEOS_VERSION = "HDFEOS_V2.19"

#: An SDS attribute: name, HDF number type (SDC.*), value.
Attr = tuple[str, int, object]


@dataclass(frozen=True)
class Sds:
    """An SDS to write: name, HDF number type, attributes in file order, and the data."""

    name: str
    nt: int
    attrs: tuple[Attr, ...]
    data: np.ndarray


def write_hdfeos(
    path: Path,
    grid_name: str,
    struct_metadata: str,
    sds: Sequence[Sds],
    global_attrs: Sequence[tuple[str, str]],
    deflate_level: int,
) -> None:
    """Write the grid file ``path`` atomically (under a temporary name, then moved into
    place: no partial file is ever left at ``path``)."""
    with atomic_path(path) as tmp:
        _fill(tmp, grid_name, struct_metadata, sds, global_attrs, deflate_level)


def _fill(tmp: Path, grid_name: str, struct_metadata: str, sds: Sequence[Sds],
          global_attrs: Sequence[tuple[str, str]], deflate_level: int) -> None:  # fmt: skip
    import pyhdf.V  # noqa: F401 - HDF.vgstart() needs the V module loaded
    from pyhdf.HDF import HC, HDF
    from pyhdf.SD import SD, SDC

    sd = hdf = None
    try:
        sd = SD(str(tmp), SDC.WRITE | SDC.CREATE | SDC.TRUNC)
        hdf = HDF(str(tmp), HC.WRITE)
        vg = hdf.vgstart()
        grid = vg.create(grid_name)
        grid._class = "GRID"
        fields = vg.create("Data Fields")
        fields._class = "GRID Vgroup"
        grid_attrs = vg.create("Grid Attributes")
        grid_attrs._class = "GRID Vgroup"
        grid.insert(fields)
        grid.insert(grid_attrs)
        for s in sds:
            ds = sd.create(s.name, s.nt, s.data.shape)
            ds.dim(0).setname(f"YDim:{grid_name}")
            ds.dim(1).setname(f"XDim:{grid_name}")
            for name, nt, value in s.attrs:
                ds.attr(name).set(nt, value)
            ds.setcompress(SDC.COMP_DEFLATE, deflate_level)
            ds[:] = s.data
            fields.add(HC.DFTAG_NDG, ds.ref())
            ds.endaccess()
        sd.attr("HDFEOSVersion").set(SDC.CHAR8, HDFEOS_VERSION)
        sd.attr("StructMetadata.0").set(SDC.CHAR8, struct_metadata)
        for name, text in global_attrs:
            sd.attr(name).set(SDC.CHAR8, text)
        for v in (grid_attrs, fields, grid):
            v.detach()
        vg.end()
        hdf.close()
        hdf = None
        sd.end()
        sd = None
    finally:
        for handle, close in ((hdf, "close"), (sd, "end")):
            if handle is not None:  # an error left the file open: release it quietly
                with contextlib.suppress(Exception):  # the original error is what matters
                    getattr(handle, close)()
