"""Rewrite an HDF-EOS 2 grid granule (MODIS) with only some SDS and, optionally, a window.

:func:`subset_hdfeos` keeps what a reader needs and nothing else: the kept SDS with their
number types, attributes (in file order) and DEFLATE level; every global attribute (ECS
``CoreMetadata.0`` and ``ArchiveMetadata.0`` stay as the provider wrote them, so the readers'
identity checks still run); ``StructMetadata.0`` edited to list only the kept fields and,
for a window, its new size and corners; and one more global attribute that says what was
done (see :class:`smdownscale.download.crop.CropInfo`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..hdfeos_write import Sds, write_hdfeos
from ..products.base import ProductError
from ..products.modis_sinusoidal import (
    global_attributes,
    open_hdf4,
    parse_struct_metadata,
    struct_metadata_text,
)

_STRUCT_METADATA_LEN = 32000
_DATA_FIELD = re.compile(r"[ \t]*OBJECT=DataField_\d+\n.*?END_OBJECT=DataField_\d+\n", re.S)
_FIELD_NAME = re.compile(r'DataFieldName="([^"]*)"')

#: A window in the file's grid: (first row, first column, rows, columns) and the new corners
#: (upper left, lower right) in the grid's own units.
Window = tuple[slice, slice, tuple[float, float], tuple[float, float]]


def edit_struct_metadata(
    text: str,
    grid_name: str,
    keep: Sequence[str],
    shape: tuple[int, int] | None = None,
    corners: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> str:
    """``StructMetadata`` text with only the ``keep`` fields of ``grid_name`` (renumbered)
    and, when given, the grid's new ``shape`` (rows, columns) and ``corners``; NUL-padded to
    32000 characters as HDF-EOS writes it."""
    text = text.split("\x00", 1)[0]
    start = text.find(f'GridName="{grid_name}"')
    if start < 0:
        raise ValueError(f"StructMetadata has no grid {grid_name!r}")
    end = text.find("END_GROUP=GRID_", start)
    block = text[start:end]
    counter = iter(range(1, 1000))

    def keep_field(m: re.Match[str]) -> str:
        name = _FIELD_NAME.search(m.group(0))
        if name is None or name.group(1) not in keep:
            return ""
        return re.sub(r"DataField_\d+", f"DataField_{next(counter)}", m.group(0))

    block = _DATA_FIELD.sub(keep_field, block)
    if shape is not None:
        block = re.sub(r"XDim=\d+", f"XDim={shape[1]}", block, count=1)
        block = re.sub(r"YDim=\d+", f"YDim={shape[0]}", block, count=1)
    if corners is not None:
        (ulx, uly), (lrx, lry) = corners
        block = re.sub(r"UpperLeftPointMtrs=\([^)]*\)",
                       f"UpperLeftPointMtrs=({ulx:.6f},{uly:.6f})", block, count=1)  # fmt: skip
        block = re.sub(r"LowerRightMtrs=\([^)]*\)",
                       f"LowerRightMtrs=({lrx:.6f},{lry:.6f})", block, count=1)  # fmt: skip
    out = text[:start] + block + text[end:]
    if len(out) >= _STRUCT_METADATA_LEN:
        raise ValueError("StructMetadata.0 longer than 32000 characters")
    return out + "\x00" * (_STRUCT_METADATA_LEN - len(out))


def _sds_attrs(sds: Any) -> tuple[tuple[str, int, object], ...]:
    """An SDS's attributes as (name, number type, value), in file order."""
    full = sds.attributes(full=1)
    ordered = sorted(full.items(), key=lambda kv: kv[1][1])
    return tuple((name, int(nt), value) for name, (value, _, nt, _) in ordered)


def _deflate_level(sds: Any) -> int:
    try:
        kind, *rest = sds.getcompress()
    except Exception:  # pyhdf raises HDF4Error for an uncompressed SDS
        return 1
    return int(rest[0]) if kind == 4 and rest else 1  # 4 = COMP_DEFLATE


def subset_hdfeos(
    src: Path,
    tmp: Path,
    keep: Sequence[str],
    crop_attribute: tuple[str, str],
    window: Window | None = None,
) -> None:
    """Write ``tmp``: ``src`` with only the SDS ``keep`` (all on one grid), cut to
    ``window`` when given, plus the global attribute ``crop_attribute`` (name, text).

    Raises :class:`ProductError` naming ``src`` when a kept SDS is missing or the file's
    structure is not one this function can rewrite faithfully.
    """
    from pyhdf.SD import SDC

    sd = open_hdf4(src)
    try:
        attrs = global_attributes(sd, src)
        present = list(sd.datasets())
        missing = [k for k in keep if k not in present]
        if missing:
            raise ProductError(src, f"no SDS {', '.join(map(repr, missing))} to keep",
                               "not the product its name says; re-download it")  # fmt: skip
        struct = struct_metadata_text(attrs)
        grids = [g for g in parse_struct_metadata(struct or "") if set(keep) <= set(g.fields)]
        if struct is None or not grids:
            raise ProductError(src, "StructMetadata.0 names no grid holding "
                               f"{', '.join(keep)}", "cannot crop it faithfully")  # fmt: skip
        grid = grids[0]
        rows, cols = (window[0], window[1]) if window else (slice(None), slice(None))
        sds, level = [], 1
        for name in keep:
            s = sd.select(name)
            try:
                _, rank, _, nt, _ = s.info()
                if rank != 2:
                    raise ProductError(src, f"SDS {name!r} has rank {rank}, not 2",
                                       "cannot crop it faithfully")  # fmt: skip
                sds.append(Sds(name, int(nt), _sds_attrs(s), s[rows, cols]))
                level = max(level, _deflate_level(s))
            finally:
                s.endaccess()
        full = sd.attributes(full=1)
        others = []
        for name, (value, _index, nt, _) in sorted(full.items(), key=lambda kv: kv[1][1]):
            if name == "HDFEOSVersion" or name.startswith("StructMetadata."):
                continue
            if nt != SDC.CHAR8:
                raise ProductError(src, f"global attribute {name!r} is not text",
                                   "cannot crop it faithfully")  # fmt: skip
            others.append((name, str(value)))
    finally:
        sd.end()
    shape = sds[0].data.shape if window else None
    corners = (window[2], window[3]) if window else None
    text = edit_struct_metadata(struct, grid.name, keep, shape, corners)
    write_hdfeos(tmp, grid.name, text, sds, [*others, crop_attribute], level)


def read_text_attribute(path: Path, name: str) -> str | None:
    """A global text attribute of an HDF4 file, or None when it has none."""
    sd = open_hdf4(path)
    try:
        value = global_attributes(sd, path).get(name)
    finally:
        sd.end()
    return None if value is None else str(value)
