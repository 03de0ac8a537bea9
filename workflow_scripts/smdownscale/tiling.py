"""Tiling a region into blocks of rows and columns, each with a halo.

Jobs that hold every day of a period on part of the region (harmonisation, member
prediction) work through blocks (:func:`grid_blocks`): a block's memory is bounded whatever
the region's height and width. A block is computed on its cells and a halo around them
(:meth:`Block.grid`) and cut back (:meth:`Block.cut`), so that operations that look at
neighbours (regridding whole source cells, smoothing) give, stitched, the whole region's
values. With the output file's chunk rows given, blocks shorter than a chunk are taken
column by column within a row of chunks, so a writer gathering chunks
(:class:`smdownscale.chunkwrite.ChunkWriter`) holds the chunks of about one block's width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .grid import LatLonGrid
from .netcdf import chunk_nested


@dataclass(frozen=True)
class Span:
    """Indices ``start:stop`` of one axis of the region that a task gives, computed on
    ``outer_start:outer_stop`` (the span and its halo, inside the region)."""

    start: int
    stop: int
    outer_start: int
    outer_stop: int

    @property
    def slice(self) -> slice:
        return slice(self.start, self.stop)

    @property
    def inner(self) -> slice:
        """The span's own indices within the outer span."""
        return slice(self.start - self.outer_start, self.stop - self.outer_start)


def spans(n: int, size: int, halo: int) -> list[Span]:
    """``n`` indices in spans of ``size`` (the last one shorter), each with ``halo`` indices
    either side where the axis has them."""
    if size < 1 or halo < 0:
        raise ValueError(f"span size must be >= 1 and halo >= 0, got {size}, {halo}")
    return [
        Span(i0, min(i0 + size, n), max(i0 - halo, 0), min(i0 + size + halo, n))
        for i0 in range(0, n, size)
    ]


@dataclass(frozen=True)
class Block:
    """A block of the region that a task gives: rows ``row_span`` by columns ``col_span``,
    each computed with its halo."""

    row_span: Span
    col_span: Span

    @property
    def rows(self) -> slice:
        return self.row_span.slice

    @property
    def cols(self) -> slice:
        return self.col_span.slice

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows.stop - self.rows.start, self.cols.stop - self.cols.start)

    def grid(self, fine: LatLonGrid) -> LatLonGrid:
        """The cells the task computes on (the block and its halo)."""
        r, c = self.row_span, self.col_span
        return fine.window(r.outer_start, r.outer_stop, c.outer_start, c.outer_stop)

    def cut(self, field: np.ndarray) -> np.ndarray:
        """The block's own cells of a field computed on :meth:`grid`."""
        return field[..., self.row_span.inner, self.col_span.inner]


def grid_blocks(
    nlat: int, nlon: int, block_rows: int, block_cols: int, halo: int, chunk_rows: int = 0
) -> list[Block]:
    """The region in blocks of ``block_rows`` x ``block_cols`` cells (the last ones of a
    row or column smaller), each with ``halo`` cells around it where the region has them.

    In order row by row from the north-west; with ``chunk_rows`` (the rows of the output
    file's chunks), bands of that many rows are taken one after another and, within a
    band, blocks shorter than it column by column: each chunk is then complete before the
    blocks move on to the next columns, so a writer gathering chunks holds the chunks of
    about one block's width, not a row of chunks across the region."""
    blocks = [
        Block(r, c) for r in spans(nlat, block_rows, halo) for c in spans(nlon, block_cols, halo)
    ]
    if chunk_rows > 0:
        blocks.sort(key=lambda b: (b.rows.start // chunk_rows, b.cols.start, b.rows.start))
    return blocks


#: Fewest columns a prediction block is given before its rows are cut instead.
MIN_BLOCK_COLS = 32


def cube_blocks(chunk_rows: int, chunk_cells: int, nlat: int, ndays: int) -> tuple[int, int]:
    """(rows, columns) of the blocks of a job that holds every day of a period on a block
    (predict_period): ``chunk_rows`` rows (nested with the output chunks:
    :func:`smdownscale.netcdf.chunk_nested`; at most the region's ``nlat``) by as many
    columns as ``chunk_cells`` cell-days allow; where that leaves fewer than
    :data:`MIN_BLOCK_COLS` columns, fewer rows, so a block stays near ``chunk_cells``
    without becoming a sliver (many small tasks, each smoothing the region labels on its
    pad)."""
    rows = min(chunk_nested(chunk_rows), nlat)
    if chunk_cells // (rows * ndays) < MIN_BLOCK_COLS:
        rows = min(chunk_nested(max(1, chunk_cells // (MIN_BLOCK_COLS * ndays))), rows)
    return rows, chunk_nested(max(1, chunk_cells // (rows * ndays)))
