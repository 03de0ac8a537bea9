"""The fine -> coarse index map: which coarse cell holds each fine cell (METHOD.md section 1).

ESA CCI's 0.25 deg cells hold whole ``25 x 25`` blocks of 0.01 deg fine cells, so the
relation was an integer factor. A coarse grid that is not a lat/lon multiple of the fine
grid (SMAP's EASE-Grid 2.0 36 km) relates to it by an index map: each fine cell belongs to
the coarse cell holding its centre. Both kinds of coarse grid used here are rectilinear in
latitude and longitude (EASE-Grid 2.0 global is cylindrical: its rows are latitude bands,
its columns longitude bands), so the map factorises into a coarse row per fine row and a
coarse column per fine column, and every coarse cell is a rectangle of fine cells whose
size may vary from cell to cell.

:class:`Blocks` holds that map and does the block arithmetic every stage needs (block sums
and means, repeating coarse values over their blocks, the fine cell nearest each coarse
centre, positions between coarse centres for smooth interpolation, row chunks that do not
split a coarse row). :meth:`Blocks.regular` is the integer-factor case; every function that
used to take ``factor`` takes ``int | Blocks`` (:func:`as_blocks`), and for an integer
factor gives the same numbers as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class BlocksError(ValueError):
    """An index map that cannot be used, naming what is wrong."""


def _check_axis(name: str, index: np.ndarray, centres: np.ndarray) -> None:
    if index.ndim != 1 or index.size == 0:
        raise BlocksError(f"the {name} map must be a non-empty 1-D array")
    if index[0] != 0 or np.any(np.diff(index) < 0) or np.any(np.diff(index) > 1):
        raise BlocksError(
            f"the {name} map must start at coarse cell 0 and step by 0 or 1 (contiguous "
            "blocks in order)"
        )
    if centres.shape != (int(index[-1]) + 1,):
        raise BlocksError(
            f"{centres.size} {name} centres for {int(index[-1]) + 1} coarse {name}s in the map"
        )
    if centres.size > 1 and np.any(np.diff(centres) <= 0):
        raise BlocksError(f"the coarse {name} centres must increase along the fine axis")


@dataclass(frozen=True, eq=False)
class Blocks:
    """Fine -> coarse index map of a rectilinear coarse grid.

    ``rows[i]``: the coarse row holding fine row ``i`` (0, 0, ..., 1, 1, ...);
    ``cols[j]``: the coarse column holding fine column ``j``;
    ``row_centres[k]``, ``col_centres[k]``: the position of coarse row / column ``k``'s
    centre in fine-cell units along the fine axis (fine cell ``i``'s centre is at ``i``),
    used to interpolate between coarse centres.
    """

    rows: np.ndarray
    cols: np.ndarray
    row_centres: np.ndarray
    col_centres: np.ndarray

    def __post_init__(self) -> None:
        for name in ("rows", "cols"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.int64))
        for name in ("row_centres", "col_centres"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        _check_axis("row", self.rows, self.row_centres)
        _check_axis("column", self.cols, self.col_centres)

    @classmethod
    def regular(cls, factor: int, ny: int, nx: int) -> Blocks:
        """``factor x factor`` blocks tiling a (ny, nx) fine grid."""
        f = int(factor)
        if f < 1 or f != factor:
            raise BlocksError(f"factor must be a positive integer, got {factor}")
        if ny % f or nx % f:
            raise BlocksError(f"a ({ny}, {nx}) fine grid does not tile into {f}-cell blocks")
        centre = (f - 1) / 2.0
        return cls(
            rows=np.arange(ny) // f,
            cols=np.arange(nx) // f,
            row_centres=np.arange(ny // f) * f + centre,
            col_centres=np.arange(nx // f) * f + centre,
        )

    # -- sizes ---------------------------------------------------------------------------------
    @property
    def fine_shape(self) -> tuple[int, int]:
        return (self.rows.size, self.cols.size)

    @property
    def shape(self) -> tuple[int, int]:
        """The coarse shape (rows, columns)."""
        return (self.row_centres.size, self.col_centres.size)

    @property
    def row_starts(self) -> np.ndarray:
        return np.flatnonzero(np.diff(self.rows, prepend=-1))

    @property
    def col_starts(self) -> np.ndarray:
        return np.flatnonzero(np.diff(self.cols, prepend=-1))

    @property
    def sizes(self) -> np.ndarray:
        """(ny_c, nx_c) number of fine cells in each coarse cell."""
        return np.outer(np.bincount(self.rows), np.bincount(self.cols))

    @property
    def factor(self) -> int | None:
        """The integer factor when the blocks are the regular ``factor x factor`` ones."""
        f = int(self.rows.size // self.row_centres.size)
        try:
            same = Blocks.regular(f, *self.fine_shape)
        except BlocksError:
            return None
        ok = (
            np.array_equal(same.rows, self.rows)
            and np.array_equal(same.cols, self.cols)
            and np.allclose(same.row_centres, self.row_centres)
            and np.allclose(same.col_centres, self.col_centres)
        )
        return f if ok else None

    def flat_index(self) -> np.ndarray:
        """(ny, nx) flat index of the coarse cell holding each fine cell."""
        return self.rows[:, None] * self.shape[1] + self.cols[None, :]

    def check(self, values: np.ndarray) -> None:
        if tuple(np.shape(values)[-2:]) != self.fine_shape:
            raise BlocksError(
                f"array of shape {np.shape(values)} does not end in the fine shape "
                f"{self.fine_shape} of the index map"
            )

    # -- reductions and expansion --------------------------------------------------------------
    def reduce(self, ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
        """``ufunc.reduceat`` over each block of the last two axes: (..., ny_c, nx_c)."""
        self.check(values)
        out = ufunc.reduceat(np.asarray(values), self.row_starts, axis=-2)
        return ufunc.reduceat(out, self.col_starts, axis=-1)

    def count_and_sum(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per block: the number of finite fine values and their sum (float64)."""
        values = np.asarray(values, dtype=np.float64)
        valid = np.isfinite(values)
        return (
            self.reduce(np.add, valid.astype(np.int64)),
            self.reduce(np.add, np.where(valid, values, 0.0)),
        )

    def mean(self, values: np.ndarray, min_valid_fraction: float = 0.5) -> np.ndarray:
        """NaN-aware block mean; NaN where the valid fraction is below ``min_valid_fraction``."""
        count, total = self.count_and_sum(values)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
        return np.where(count >= min_valid_fraction * self.sizes, mean, np.nan)

    def repeat(self, coarse: np.ndarray, rows: slice | None = None) -> np.ndarray:
        """Coarse values (..., ny_c, nx_c) repeated over their blocks: (..., ny, nx), or only
        the fine rows ``rows`` when the coarse array holds just :meth:`coarse_rows` of them."""
        coarse = np.asarray(coarse)
        if rows is None:
            if tuple(coarse.shape[-2:]) != self.shape:
                raise BlocksError(
                    f"coarse array of shape {coarse.shape} does not end in {self.shape}"
                )
            return coarse[..., self.rows, :][..., self.cols]
        crows = self.coarse_rows(rows)
        if coarse.shape[-2] != crows.stop - crows.start or coarse.shape[-1] != self.shape[1]:
            raise BlocksError(
                f"coarse array of shape {coarse.shape} does not hold coarse rows "
                f"{crows.start}:{crows.stop} of {self.shape}"
            )
        return coarse[..., self.rows[rows] - crows.start, :][..., self.cols]

    def nearest_index(self) -> tuple[np.ndarray, np.ndarray]:
        """Fine row and column nearest each coarse centre (ties: the south / east one)."""
        return (
            np.floor(self.row_centres + 0.5).astype(np.int64),
            np.floor(self.col_centres + 0.5).astype(np.int64),
        )

    def nearest(self, values: np.ndarray) -> np.ndarray:
        """The fine value at each coarse cell's centre (point sampling)."""
        self.check(values)
        r, c = self.nearest_index()
        return np.asarray(values)[..., r, :][..., c]

    # -- positions between coarse centres ------------------------------------------------------
    def positions(self, index: np.ndarray, axis: int) -> np.ndarray:
        """Fine indices along ``axis`` (0 rows, 1 columns) as fractional coarse indices:
        coarse centre ``k`` is at ``k``; clipped to the outer centres."""
        centres = self.row_centres if axis == 0 else self.col_centres
        index = np.asarray(index, dtype=np.float64)
        if centres.size == 1:
            return np.zeros_like(index)
        return np.interp(index, centres, np.arange(centres.size, dtype=np.float64))

    @property
    def cell_size(self) -> float:
        """Mean fine cells along one side of a coarse cell (the factor of regular blocks)."""
        return float(np.mean([self.rows.size / self.shape[0], self.cols.size / self.shape[1]]))

    def widths(self, axis: int) -> np.ndarray:
        """Fine cells per coarse cell along ``axis``."""
        return np.bincount(self.rows if axis == 0 else self.cols).astype(np.float64)

    # -- row ranges ----------------------------------------------------------------------------
    def coarse_rows(self, rows: slice) -> slice:
        """The coarse rows that hold fine rows ``rows``."""
        start, stop, _ = rows.indices(self.rows.size)
        if stop <= start:
            raise BlocksError(f"empty fine row range {rows}")
        return slice(int(self.rows[start]), int(self.rows[stop - 1]) + 1)

    def fine_rows(self, crows: slice) -> slice:
        """The fine rows held by coarse rows ``crows``."""
        start, stop, _ = crows.indices(self.shape[0])
        idx = np.flatnonzero((self.rows >= start) & (self.rows < stop))
        return slice(int(idx[0]), int(idx[-1]) + 1)

    def row_chunks(self, chunk_rows: int) -> list[slice]:
        """Fine-row ranges of whole coarse rows, each at most ``chunk_rows`` fine rows long
        (but at least one coarse row), so no coarse row is split between chunks."""
        starts = [*self.row_starts.tolist(), self.rows.size]
        cuts = [0]
        k = 0
        while cuts[-1] < self.rows.size:
            nxt = k + 1
            while nxt + 1 < len(starts) and starts[nxt + 1] - cuts[-1] <= max(1, chunk_rows):
                nxt += 1
            cuts.append(starts[nxt])
            k = nxt
        return [slice(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]

    def edges(self, axis: int) -> np.ndarray:
        """For neighbour pairs (k, k + 1) along ``axis``: whether they straddle a coarse edge."""
        index = self.rows if axis == 0 else self.cols
        return np.diff(index) != 0


def as_blocks(spec: int | Blocks, shape: tuple[int, ...]) -> Blocks:
    """``spec`` as :class:`Blocks` for a field whose last two axes are ``shape[-2:]``: an
    integer factor gives the regular blocks; an index map is checked against the shape."""
    ny, nx = (int(n) for n in shape[-2:])
    if isinstance(spec, Blocks):
        if spec.fine_shape != (ny, nx):
            raise BlocksError(
                f"the index map is for a {spec.fine_shape} fine grid, the field is ({ny}, {nx})"
            )
        return spec
    return Blocks.regular(spec, ny, nx)


def sub_rows(blocks: Blocks, crows: slice) -> tuple[Blocks, slice]:
    """The index map of coarse rows ``crows`` alone, and the fine rows they hold (for a
    chunk of whole coarse rows: ``sub_rows(blocks, blocks.coarse_rows(chunk))``)."""
    fine = blocks.fine_rows(crows)
    start = crows.indices(blocks.shape[0])[0]
    stop = int(blocks.rows[fine.stop - 1]) + 1
    return (
        Blocks(
            rows=blocks.rows[fine] - start,
            cols=blocks.cols,
            row_centres=blocks.row_centres[start:stop] - fine.start,
            col_centres=blocks.col_centres,
        ),
        fine,
    )
