"""Compress a grid file's chunks on every thread a job has, and write them directly.

HDF5 (under netCDF-4) compresses each chunk in the writing thread, so a job writing a
compressed cube spends most of its time in zlib on one core (a Three-North harmonisation:
70 of its 80 s). :class:`ChunkWriter` takes over the data writes of datasets that are
chunked (every leading dimension, e.g. ``time``, in one chunk) and filtered by shuffle then
deflate, exactly as :class:`smdownscale.netcdf.GridFileWriter` creates them: written cells
are gathered per chunk, and the chunks a write completes are shuffled and deflated on
``threads`` threads (zlib releases the GIL) and written as they are
(``write_direct_chunk``), in order. Each chunk is the zlib stream of its shuffled bytes, the
format HDF5's own filters write, so every netCDF reader decodes the file as before.

Memory: the chunks that wait for their missing cells. Blocks of whole chunks (rows and
columns) leave none waiting; blocks of whole rows shorter than a chunk leave one row of
chunks a dataset, across the region; blocks nested in the chunks
(:func:`smdownscale.netcdf.chunk_nested`) and taken column by column within a row of chunks
(:func:`smdownscale.tiling.grid_blocks`) leave the chunks of one block's width. A
write that does not fit (cells written again after their chunk went out, a single time step
of a cube) goes through HDF5's own filters, after the pending chunks of that dataset are
written, and marks the chunks it touched as written.
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
    """A chunk being gathered: its values (edge chunks cut to the dataset), and which of
    its cells were written."""

    data: np.ndarray
    written: np.ndarray


class ChunkWriter:
    """Data writes of an HDF5 file's grid datasets, compressed on ``threads`` threads."""

    def __init__(self, h5: h5py.File, threads: int = 1) -> None:
        self.h5 = h5
        self._pool = ThreadPoolExecutor(max(1, int(threads)))
        self._pending: dict[tuple[str, int, int], _Pending] = {}
        self._done: set[tuple[str, int, int]] = set()
        self._levels: dict[str, int | None] = {}

    def _level(self, name: str) -> int | None:
        if name not in self._levels:
            self._levels[name] = deflate_level(self.h5[name])
        return self._levels[name]

    def _keys(self, name: str, rows: slice, cols: slice) -> list[tuple[int, int]]:
        """The (row, column) chunks of ``rows`` x ``cols``; none for a dataset this writer
        leaves to HDF5."""
        if self._level(name) is None:
            return []
        crow, ccol = self.h5[name].chunks[-2:]
        return [
            (k, j)
            for k in range(rows.start // crow, (rows.stop - 1) // crow + 1)
            for j in range(cols.start // ccol, (cols.stop - 1) // ccol + 1)
        ]

    def write_through(self, name: str, index: tuple, values: np.ndarray, rows: slice,
                      cols: slice) -> None:  # fmt: skip
        """Write ``values`` at ``(*index, rows, cols)`` of ``name`` through HDF5's own
        filters (after the dataset's pending chunks); the chunks it touches are then
        written, so later writes to them go through HDF5 as well, never over it."""
        self.flush(name)
        self.h5[name][(*index, rows, cols)] = values
        self._done.update((name, k, j) for k, j in self._keys(name, rows, cols))

    def write(self, name: str, values: np.ndarray, rows: slice, cols: slice | None = None) -> None:
        """Write ``values`` (every leading index, ``rows``, ``cols``: every column when
        None) of ``name``."""
        dset = self.h5[name]
        nrows, ncols = dset.shape[-2:]
        cols = slice(0, ncols) if cols is None else cols
        keys = self._keys(name, rows, cols)
        if not keys or any((name, k, j) in self._done for k, j in keys):
            self.write_through(name, (Ellipsis,), values, rows, cols)
            return
        crow, ccol = dset.chunks[-2:]
        complete = []
        for k, j in keys:
            r0, r1 = k * crow, min((k + 1) * crow, nrows)
            c0, c1 = j * ccol, min((j + 1) * ccol, ncols)
            part = self._pending.get((name, k, j))
            if part is None:
                data = np.full((*dset.shape[:-2], r1 - r0, c1 - c0), dset.fillvalue,
                               dtype=dset.dtype)  # fmt: skip
                part = self._pending[(name, k, j)] = _Pending(data, np.zeros(data.shape[-2:], bool))
            a, b = max(r0, rows.start), min(r1, rows.stop)
            c, d = max(c0, cols.start), min(c1, cols.stop)
            part.data[..., a - r0 : b - r0, c - c0 : d - c0] = values[
                ..., a - rows.start : b - rows.start, c - cols.start : d - cols.start
            ]
            part.written[a - r0 : b - r0, c - c0 : d - c0] = True
            if part.written.all():
                complete.append((k, j))
        self._write_chunks(name, complete)

    def _write_chunks(self, name: str, keys: list[tuple[int, int]]) -> None:
        """Compress the chunks ``keys`` of ``name`` in parallel and write them in order."""
        if not keys:
            return
        parts = [self._pending.pop((name, k, j)) for k, j in keys]
        dset = self.h5[name]
        level = self._levels[name]
        assert level is not None
        crow, ccol = dset.chunks[-2:]
        lead = (0,) * (dset.ndim - 2)
        shape = (*dset.shape[:-2], crow, ccol)

        def encode(part: _Pending) -> bytes:
            block = part.data
            if block.shape != shape:  # an edge chunk is stored whole: pad it with the fill
                full = np.full(shape, dset.fillvalue, dtype=dset.dtype)
                full[..., : block.shape[-2], : block.shape[-1]] = block
                block = full
            return shuffle_deflate(block, level)

        for (k, j), data in zip(keys, self._pool.map(encode, parts), strict=True):
            dset.id.write_direct_chunk((*lead, k * crow, j * ccol), data, 0)
            self._done.add((name, k, j))

    def flush(self, name: str | None = None) -> None:
        """Write the pending chunks of ``name`` (of every dataset: None); cells never
        written hold the fill value, as HDF5 would give them."""
        names = sorted({key[0] for key in self._pending if name is None or key[0] == name})
        for n in names:
            self._write_chunks(n, sorted(key[1:] for key in self._pending if key[0] == n))

    def close(self) -> None:
        """Write what is pending and stop the threads."""
        self.flush()
        self._pool.shutdown()

    def discard(self) -> None:
        """Stop the threads without writing what is pending (the file is being dropped)."""
        self._pending.clear()
        self._pool.shutdown()
