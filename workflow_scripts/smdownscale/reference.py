"""The product against a gridded reference on the reference's grid (issue 16, items 4, 6).

As the paper compares its product with ERA5-Land: the fine product (and the coarse product,
repeated over its block) is averaged onto the reference's cells (the fine cells whose
centres fall in a cell; a cell needs ``min_share`` of them with a value on a day), and per
reference cell the daily series are compared: Pearson R, MAE and bias over the days where
both have a value. Triple collocation (covariance notation, Stoffelen 1998; McColl et al.
2014) estimates the random-error SD of each of three products from their covariances over
the days all three have a value, assuming errors independent of each other and of the
signal; the product downscales the coarse product, so those two share errors and their
estimates are too low (said where the numbers are shown).

Everything streams: :class:`PairStats` and :class:`TripleStats` accumulate sums per cell one
block of days and rows at a time, so memory does not grow with the run or the region.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .blocks import Blocks


def reference_index(
    fine_coords: np.ndarray, ref_coords: np.ndarray, res: float, descending: bool
) -> np.ndarray:
    """Index of the reference cell (centre spacing ``res``) holding each fine cell centre
    along one axis; -1 where none does."""
    fine = np.asarray(fine_coords, dtype=np.float64)
    ref = np.asarray(ref_coords, dtype=np.float64)
    pos = (ref[0] - fine) / res if descending else (fine - ref[0]) / res
    idx = np.floor(pos + 0.5).astype(np.int64)
    return np.where((idx >= 0) & (idx < ref.size), idx, -1)


def row_blocks(rows: np.ndarray, blocks: Blocks, chunk_rows: int) -> list[slice]:
    """Fine-row blocks of about ``chunk_rows`` rows that start and end where both the
    reference row index (``rows``) and the coarse row (``blocks``) change, so no reference
    or coarse cell is split between blocks (memory bounded by the block, not the region)."""
    n = rows.size
    coarse_start = np.diff(blocks.rows, prepend=-1) != 0
    cuts = [0]
    for i in range(1, n):
        if i - cuts[-1] >= max(1, chunk_rows) and rows[i] != rows[i - 1] and coarse_start[i]:
            cuts.append(i)
    cuts.append(n)
    return [slice(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def to_reference(
    field_: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    shape: tuple[int, int],
    min_share: float = 0.5,
) -> np.ndarray:
    """Mean of a fine field (days, ny, nx) over each reference cell (days, *shape), from the
    fine cells whose row and column indices (:func:`reference_index`) map into it; NaN
    where fewer than ``min_share`` of the cell's mapped fine cells have a value that day."""
    f = np.asarray(field_, dtype=np.float64)
    r_ok, c_ok = rows >= 0, cols >= 0
    f = f[:, r_ok][:, :, c_ok]
    cell = (rows[r_ok][:, None] * shape[1] + cols[c_ok][None, :]).ravel()
    size = shape[0] * shape[1]
    mapped = np.bincount(cell, minlength=size).astype(np.float64)
    out = np.full((f.shape[0], size), np.nan)
    for k in range(f.shape[0]):
        v = f[k].ravel()
        ok = np.isfinite(v)
        n = np.bincount(cell[ok], minlength=size)
        s = np.bincount(cell[ok], weights=v[ok], minlength=size)
        enough = (n > 0) & (n >= min_share * mapped)
        out[k, enough] = s[enough] / n[enough]
    return out.reshape(f.shape[0], *shape)


@dataclass
class PairStats:
    """Per-cell sums of a product ``a`` against a reference ``b`` over common days."""

    shape: tuple[int, ...]
    sums: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.sums = np.zeros((7, *self.shape))  # n, a, b, aa, bb, ab, |a - b|

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        """Add days: ``a``, ``b`` (days, *shape); a day counts where both are finite."""
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        ok = np.isfinite(a) & np.isfinite(b)
        a, b = np.where(ok, a, 0.0), np.where(ok, b, 0.0)
        for i, v in enumerate((ok, a, b, a * a, b * b, a * b, np.abs(a - b))):
            self.sums[i] += v.sum(axis=0)

    def scores(self, min_days: int = 10) -> dict[str, np.ndarray]:
        """``n``, ``r``, ``mae``, ``bias`` (a - b) per cell; NaN below ``min_days``."""
        n, sa, sb, saa, sbb, sab, sad = self.sums
        with np.errstate(invalid="ignore", divide="ignore"):
            ma, mb = sa / n, sb / n
            va, vb = saa / n - ma * ma, sbb / n - mb * mb
            r = np.clip((sab / n - ma * mb) / np.sqrt(va * vb), -1, 1)
            r = np.where((va > 0) & (vb > 0), r, np.nan)
            enough = n >= min_days
            return {
                "n": n.astype(np.int64),
                "r": np.where(enough, r, np.nan),
                "mae": np.where(enough, sad / n, np.nan),
                "bias": np.where(enough, ma - mb, np.nan),
            }


@dataclass
class TripleStats:
    """Per-cell sums of three co-located series over the days all three have a value."""

    shape: tuple[int, ...]
    sums: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.sums = np.zeros((10, *self.shape))  # n, x, y, z, xx, yy, zz, xy, xz, yz

    def add(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> None:
        """Add days: three (days, *shape) arrays."""
        x, y, z = (np.asarray(v, dtype=np.float64) for v in (x, y, z))
        ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
        x, y, z = (np.where(ok, v, 0.0) for v in (x, y, z))
        terms = (ok, x, y, z, x * x, y * y, z * z, x * y, x * z, y * z)
        for i, v in enumerate(terms):
            self.sums[i] += v.sum(axis=0)

    def error_sd(self, min_days: int = 30) -> tuple[np.ndarray, np.ndarray]:
        """(3, *shape) random-error SD of x, y, z, each in its own units, and n; NaN below
        ``min_days`` or where a variance estimate is not positive (assumptions broken)."""
        n, sx, sy, sz, sxx, syy, szz, sxy, sxz, syz = self.sums
        with np.errstate(invalid="ignore", divide="ignore"):
            mx, my, mz = sx / n, sy / n, sz / n
            cxx, cyy, czz = sxx / n - mx * mx, syy / n - my * my, szz / n - mz * mz
            cxy, cxz, cyz = sxy / n - mx * my, sxz / n - mx * mz, syz / n - my * mz
            var = np.stack([cxx - cxy * cxz / cyz, cyy - cxy * cyz / cxz, czz - cxz * cyz / cxy])
        ok = (n >= min_days) & np.isfinite(var) & (var > 0)
        return np.where(ok, np.sqrt(np.where(ok, var, 0.0)), np.nan), n.astype(np.int64)
