"""Cut a SMAP L3 granule (HDF5, global EASE-Grid 2.0 36 km) to a window of rows and columns.

:func:`subset_hdf5` copies every group, dataset and attribute of the source; a dataset
holding the global 406 x 964 grid (as two consecutive dimensions) keeps only the window (gzip, one
row a chunk, as NSIDC writes them), every other dataset is copied whole. The window is
recorded on the root group (:data:`WINDOW_ATTRIBUTE`, ``[row0, row1, col0, col1]``), from
which the reader puts the crop back in place on the global grid; one more root attribute
says what was done.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from ..ease2 import EASE2_M36_NCOLS, EASE2_M36_NROWS, Ease2Grid
from ..products.base import ProductError

WINDOW_ATTRIBUTE = "smdownscale_crop_window"


def grid_axis(shape: tuple[int, ...]) -> int | None:
    """The axis where a dataset's global 406 x 964 grid starts ((406, 964), (406, 964, 3)
    for the land-cover classes, ...), or None for a dataset without it."""
    for axis in range(len(shape) - 1):
        if shape[axis : axis + 2] == (EASE2_M36_NROWS, EASE2_M36_NCOLS):
            return axis
    return None


def subset_hdf5(src: Path, tmp: Path, window: Ease2Grid, crop_attribute: tuple[str, str]) -> None:
    """Write ``tmp``: ``src`` with its global 406 x 964 datasets cut to ``window``."""
    try:
        fin = h5py.File(src, "r")
    except OSError as err:
        raise ProductError(src, f"not a readable HDF5 file ({err})", "re-download it") from None
    rows, cols = slice(window.row0, window.row1), slice(window.col0, window.col1)
    with fin, h5py.File(tmp, "w", libver="v108") as fout:  # v108: attributes over 64 KB

        def copy(name: str, obj: h5py.Group | h5py.Dataset) -> None:
            if isinstance(obj, h5py.Group):
                dst = fout.require_group(name)
            else:
                data = obj[()]
                axis = grid_axis(obj.shape)
                if axis is not None:
                    index = [slice(None)] * obj.ndim
                    index[axis : axis + 2] = rows, cols
                    data = data[tuple(index)]
                options = {}
                if data.size and data.ndim and data.dtype.kind in "biuf":
                    chunks: tuple[int, ...] | bool = True
                    if axis is not None:  # one grid row a chunk, as NSIDC writes them
                        chunks = (*data.shape[:axis], 1, *data.shape[axis + 1 :])
                    options = {"chunks": chunks, "compression": "gzip", "compression_opts": 4}
                dst = fout.create_dataset(name, data=data, **options)
            for key, value in obj.attrs.items():
                dst.attrs[key] = value

        for key, value in fin.attrs.items():
            fout.attrs[key] = value
        fin.visititems(copy)
        fout.attrs[WINDOW_ATTRIBUTE] = np.array(
            [window.row0, window.row1, window.col0, window.col1], dtype=np.int32
        )
        fout.attrs[crop_attribute[0]] = crop_attribute[1]


def read_text_attribute(path: Path, name: str) -> str | None:
    """A root text attribute of an HDF5 file, or None when it has none (or it is unreadable)."""
    try:
        with h5py.File(path, "r") as f:
            value = f.attrs.get(name)
    except OSError:
        return None
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
