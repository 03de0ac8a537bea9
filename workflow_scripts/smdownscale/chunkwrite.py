"""Compress a grid file's chunks on every thread a job has, and write them directly.

HDF5 (under netCDF-4) compresses each chunk in the writing thread, so a job writing a
compressed cube spends most of its time in zlib on one core (a Three-North harmonisation:
70 of its 80 s). :class:`ChunkRowWriter` takes over the data writes of datasets that are
chunked (every leading dimension, e.g. ``time``, in one chunk) and filtered by shuffle then
deflate, exactly as :class:`smdownscale.netcdf.GridFileWriter` creates them: rows are
gathered per row of chunks, and once a row of chunks is complete its chunks are shuffled
and deflated on ``threads`` threads (zlib releases the GIL) and written as they are
(``write_direct_chunk``), in order. Each chunk is the zlib stream of its shuffled bytes, the
format HDF5's own filters write, so every netCDF reader decodes the file as before.

Memory: at most one row of chunks a dataset waits for its missing rows. A write that does
not fit (rows written again after their chunk row went out, a single time step of a cube)
goes through HDF5's own filters, after the pending rows of that dataset are written.
"""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import h5py
import numpy as np

#: HDF5 filter ids: the only pipeline this writer reproduces.
_SHUFFLE, _DEFLATE = 2, 1


def shuffle_deflate(chunk: np.ndarray, level: int) -> bytes:
    """The bytes HDF5's shuffle then deflate filters make of a (C-ordered) chunk."""
    flat = np.ascontiguousarray(chunk).reshape(-1)
    if flat.itemsize > 1:  # byte k of every element, for k = 0 .. itemsize - 1
        flat = np.ascontiguousarray(flat.view(np.uint8).reshape(-1, flat.itemsize).T)
    return zlib.compress(memoryview(flat).cast("B"), level)


def deflate_level(dset: h5py.Dataset) -> int | None:
    """The deflate level when the dataset's filters are shuffle then deflate and its leading
    dimensions are whole chunks; None for any other layout (then HDF5 writes it)."""
    if dset.chunks is None or dset.ndim < 2:
        return None
    if any(c != n for c, n in zip(dset.chunks[:-2], dset.shape[:-2], strict=True)):
        return None
    plist = dset.id.get_create_plist()
    filters = [plist.get_filter(i) for i in range(plist.get_nfilters())]
    if [f[0] for f in filters] != [_SHUFFLE, _DEFLATE]:
        return None
    return int(filters[1][2][0])


@dataclass
class _Pending:
    """A row of chunks being gathered: its rows, and which of them were written."""

    data: np.ndarray
    written: np.ndarray


class ChunkRowWriter:
    """Data writes of an HDF5 file's grid datasets, compressed on ``threads`` threads."""

    def __init__(self, h5: h5py.File, threads: int = 1) -> None:
        self.h5 = h5
        self._pool = ThreadPoolExecutor(max(1, int(threads)))
        self._pending: dict[tuple[str, int], _Pending] = {}
        self._done: set[tuple[str, int]] = set()
        self._levels: dict[str, int | None] = {}

    def _level(self, name: str) -> int | None:
        if name not in self._levels:
            self._levels[name] = deflate_level(self.h5[name])
        return self._levels[name]

    def write(self, name: str, values: np.ndarray, rows: slice) -> None:
        """Write ``values`` (every leading index, ``rows``, every column) of ``name``."""
        dset = self.h5[name]
        level = self._level(name)
        crow = dset.chunks[-2] if dset.chunks else 0
        first, last = (rows.start // crow, (rows.stop - 1) // crow) if crow else (0, -1)
        if level is None or any((name, k) in self._done for k in range(first, last + 1)):
            self.flush(name)
            dset[..., rows, :] = values
            return
        nrows = dset.shape[-2]
        for k in range(first, last + 1):
            lo, hi = k * crow, min((k + 1) * crow, nrows)
            part = self._pending.get((name, k))
            if part is None:
                data = np.full((*dset.shape[:-2], hi - lo, dset.shape[-1]), dset.fillvalue,
                               dtype=dset.dtype)  # fmt: skip
                part = self._pending[(name, k)] = _Pending(data, np.zeros(hi - lo, bool))
            a, b = max(lo, rows.start), min(hi, rows.stop)
            part.data[..., a - lo : b - lo, :] = values[..., a - rows.start : b - rows.start, :]
            part.written[a - lo : b - lo] = True
            if part.written.all():
                self._write_row(name, k)

    def _write_row(self, name: str, k: int) -> None:
        """Compress the chunks of row ``k`` of chunks in parallel and write them in order."""
        part = self._pending.pop((name, k))
        dset = self.h5[name]
        level = self._levels[name]
        assert level is not None
        crow, ccol = dset.chunks[-2:]
        lead = (0,) * (dset.ndim - 2)
        starts = range(0, dset.shape[-1], ccol)
        shape = (*dset.shape[:-2], crow, ccol)

        def encode(c0: int) -> bytes:
            block = part.data[..., c0 : c0 + ccol]
            if block.shape != shape:  # an edge chunk is stored whole: pad it with the fill
                full = np.full(shape, dset.fillvalue, dtype=dset.dtype)
                full[..., : block.shape[-2], : block.shape[-1]] = block
                block = full
            return shuffle_deflate(block, level)

        for c0, data in zip(starts, self._pool.map(encode, starts), strict=True):
            dset.id.write_direct_chunk((*lead, k * crow, c0), data, 0)
        self._done.add((name, k))

    def flush(self, name: str | None = None) -> None:
        """Write the pending rows of chunks of ``name`` (of every dataset: None); rows never
        written hold the fill value, as HDF5 would give them."""
        for key in sorted(k for k in self._pending if name is None or k[0] == name):
            self._write_row(*key)

    def close(self) -> None:
        """Write what is pending and stop the threads."""
        self.flush()
        self._pool.shutdown()

    def discard(self) -> None:
        """Stop the threads without writing what is pending (the file is being dropped)."""
        self._pending.clear()
        self._pool.shutdown()
