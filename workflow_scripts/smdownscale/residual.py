"""Partial residual correction: a share of the coarse residual, spread smoothly (METHOD.md
section 6).

A member's fine prediction ``f`` has a coarse-scale part (its block mean ``B`` over each
coarse cell) and a sub-grid pattern. The coarse product ``C`` is a second, independent-ish
estimate of the coarse-scale part. The corrected field is::

    f' = f + lambda S[C - B]

where ``S`` spreads the coarse residual ``R = C - B`` to the fine grid smoothly (bilinear
between coarse cell centres, after bridging one-cell gaps; never a constant per coarse cell,
which would paint block edges) and ``lambda`` is the share of the residual taken.
``lambda = 1`` forces the block mean onto ``C`` and inherits all of ``C``'s own error;
``lambda = 0`` trusts the member's coarse-scale estimate.

The share that minimises the error variance of the corrected fine value ``f + lambda s``,
with ``s = S[C - B]`` the spread residual at that cell and ``T`` the cell's truth, is::

    lambda* = cov(T - f, s) / var(s)

It holds whether or not the errors of ``C`` and ``B`` are correlated (members are trained on
``C``, so they are). The regressor is the spread residual at the fine cell, not the raw
residual ``C - B`` of its coarse cell: ``S`` interpolates between neighbouring cells, whose
coarse-product noise partly cancels while the members' coarse-scale error (smooth in space)
stays, so the best share for the correction actually applied is higher than the best share
for a coarse cell's own residual (on the skill worlds, against truth: 0.79-0.91 per member at
fine cells, 0.55-0.70 at coarse cells). Stations measure ``T`` with an error (sensor bias,
representativeness) unrelated to ``s``, so ``y - f`` can stand in for ``T - f``:
:func:`estimate_share` is the least-squares slope of ``y - f`` on ``s`` over the station-days
of the weight-training window, with a bootstrap over stations for its interval, clipped to
[0, 1].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from .blocks import Blocks
from .grid import block_mean


@dataclass(frozen=True)
class ShareEstimate:
    """The residual share of one member and how it was obtained."""

    share: float
    method: str  # "stations" (estimated), "fixed" (configured), "default" (too few data)
    n_pairs: int
    n_stations: int
    slope: float | None = None  # the unclipped slope
    ci_low: float | None = None
    ci_high: float | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def coarse_residual(
    fine: np.ndarray, coarse: np.ndarray, factor: int | Blocks, min_fraction: float = 0.5
) -> np.ndarray:
    """``C - B``: the coarse value minus the block mean of the fine prediction, (..., cy, cx)
    float64, NaN where either is missing (a block needs ``min_fraction`` of its fine cells
    predicted)."""
    b = block_mean(np.asarray(fine, dtype=np.float64), factor, min_fraction)
    return np.asarray(coarse, dtype=np.float64) - b


@dataclass
class BlockMeans:
    """The block means of a fine (time, y, x) field gathered piece by piece: per coarse
    cell-day, the count and the sum of the finite fine values (:meth:`add` a piece of
    rows and columns; the pieces need not hold whole coarse cells). :meth:`mean` is then
    :meth:`smdownscale.blocks.Blocks.mean` of the whole field (sums in another order: equal
    to rounding)."""

    blocks: Blocks
    count: np.ndarray
    total: np.ndarray

    @classmethod
    def empty(cls, blocks: Blocks, ndays: int) -> BlockMeans:
        shape = (ndays, *blocks.shape)
        return cls(blocks, np.zeros(shape, np.int64), np.zeros(shape, np.float64))

    def add(self, values: np.ndarray, rows: slice, cols: slice) -> None:
        """Add the fine values (time, rows, cols) of fine rows ``rows`` and columns ``cols``."""
        ri, ci = self.blocks.rows[rows], self.blocks.cols[cols]
        values = np.asarray(values, dtype=np.float64)
        if values.shape[-2:] != (ri.size, ci.size):
            raise ValueError(f"values of shape {values.shape} for rows {rows}, columns {cols}")
        rs = np.flatnonzero(np.diff(ri, prepend=-1))
        cs = np.flatnonzero(np.diff(ci, prepend=-1))
        valid = np.isfinite(values)

        def per_cell(a: np.ndarray) -> np.ndarray:
            return np.add.reduceat(np.add.reduceat(a, rs, axis=-2), cs, axis=-1)

        crows, ccols = slice(int(ri[0]), int(ri[-1]) + 1), slice(int(ci[0]), int(ci[-1]) + 1)
        self.count[..., crows, ccols] += per_cell(valid.astype(np.int64))
        self.total[..., crows, ccols] += per_cell(np.where(valid, values, 0.0))

    def mean(self, min_valid_fraction: float = 0.5) -> np.ndarray:
        """NaN-aware block means (time, cy, cx); NaN where the valid fraction is below
        ``min_valid_fraction``."""
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.total / self.count
        return np.where(self.count >= min_valid_fraction * self.blocks.sizes, mean, np.nan)


def fill_from_neighbours(r: np.ndarray) -> np.ndarray:
    """Each 2-D field (last two axes) with its missing cells set to the mean of their finite
    3 x 3 neighbours (float64); cells with none stay missing."""
    r = np.asarray(r, dtype=np.float64)
    ok = np.isfinite(r)
    size = (1,) * (r.ndim - 2) + (3, 3)
    total = ndimage.uniform_filter(np.where(ok, r, 0.0), size=size, mode="constant")
    count = ndimage.uniform_filter(ok.astype(np.float64), size=size, mode="constant")
    has = count > 1e-9
    with np.errstate(invalid="ignore", divide="ignore"):
        near = np.where(has, total / np.where(has, count, 1.0), np.nan)
    return np.where(ok, r, near)


def bridge_gaps(r: np.ndarray) -> np.ndarray:
    """Fill missing coarse cells of each 2-D field (last two axes) with the mean of their
    finite 3 x 3 neighbours; cells with none stay missing, then become 0 (no correction)."""
    return np.nan_to_num(fill_from_neighbours(r), nan=0.0)


def _coarse_blocks(r: np.ndarray, factor: int | Blocks) -> Blocks:
    """The index map of coarse values ``r`` (..., cy, cx): given, or ``factor`` blocks."""
    if isinstance(factor, Blocks):
        return factor
    cy, cx = r.shape[-2:]
    return Blocks.regular(factor, cy * factor, cx * factor)


def _axis_weights(
    index: np.ndarray, blocks: Blocks, axis: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear weights along one axis: fine indices -> the two coarse centres around them
    and the weight of the second; beyond the outer centres the edge value holds."""
    n = blocks.shape[axis]
    pos = blocks.positions(index, axis)
    i0 = np.minimum(np.floor(pos).astype(np.int64), max(n - 2, 0))
    i1 = np.minimum(i0 + 1, n - 1)
    return i0, i1, pos - i0


def spread(r: np.ndarray, factor: int | Blocks, rows: slice, ncols: int) -> np.ndarray:
    """Bilinear interpolation of coarse cell-centre values ``r`` (..., cy, cx), finite, to
    the fine rows ``rows`` (global fine row indices) and all ``ncols`` fine columns; beyond
    the outer centres the edge value holds. (..., len(rows), ncols) float64."""
    blocks = _coarse_blocks(r, factor)
    y0, y1, wy = _axis_weights(np.arange(rows.start, rows.stop), blocks, 0)
    x0, x1, wx = _axis_weights(np.arange(ncols), blocks, 1)
    top = r[..., y0, :][..., x0] * (1 - wx) + r[..., y0, :][..., x1] * wx
    bottom = r[..., y1, :][..., x0] * (1 - wx) + r[..., y1, :][..., x1] * wx
    return top * (1 - wy)[:, None] + bottom * wy[:, None]


def spread_at(
    r: np.ndarray, factor: int | Blocks, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """:func:`spread` at single fine cells ``(rows[i], cols[i])``: (..., n) float64."""
    blocks = _coarse_blocks(r, factor)
    y0, y1, wy = _axis_weights(rows, blocks, 0)
    x0, x1, wx = _axis_weights(cols, blocks, 1)
    return (
        r[..., y0, x0] * (1 - wy) * (1 - wx)
        + r[..., y0, x1] * (1 - wy) * wx
        + r[..., y1, x0] * wy * (1 - wx)
        + r[..., y1, x1] * wy * wx
    )


def correct(
    fine: np.ndarray, residual: np.ndarray, share: float, factor: int | Blocks, rows: slice
) -> np.ndarray:
    """``fine + share S[residual]`` on fine rows ``rows`` (``fine``: (t, len(rows), nx);
    ``residual``: the whole region's (t, cy, cx) ``C - B``, NaN allowed). float32; cells
    without a prediction stay missing."""
    if share == 0:
        return np.asarray(fine, dtype=np.float32)
    s = spread(bridge_gaps(residual), factor, rows, fine.shape[-1])
    return (fine + share * s).astype(np.float32)


def estimate_share(
    y: np.ndarray,
    fine: np.ndarray,
    spread_residual: np.ndarray,
    station: np.ndarray,
    *,
    min_pairs: int = 50,
    min_stations: int = 5,
    default: float = 0.5,
    n_boot: int = 500,
    seed: int = 0,
) -> ShareEstimate:
    """The residual share from station-days: ``y`` in-situ, ``fine`` the member's
    uncorrected prediction at the station's fine cell, ``spread_residual`` the spread coarse
    residual ``S[C - B]`` there (:func:`spread_at`), ``station`` a label per pair. Too few
    pairs or stations: ``default``, with the reason."""
    y, f, s = (np.asarray(a, dtype=np.float64) for a in (y, fine, spread_residual))
    station = np.asarray(station)
    ok = np.isfinite(y) & np.isfinite(f) & np.isfinite(s)
    y, f, s, station = y[ok], f[ok], s[ok], station[ok]
    names, groups = np.unique(station, return_inverse=True)
    n, ns = int(y.size), int(names.size)
    if n < min_pairs or ns < min_stations:
        return ShareEstimate(
            default,
            "default",
            n,
            ns,
            reason=f"{n} station-days at {ns} stations with a coarse value and a prediction "
            f"(need {min_pairs} at {min_stations})",
        )
    u, v = s, y - f

    def slope(idx: np.ndarray) -> float:
        du, dv = u[idx] - u[idx].mean(), v[idx] - v[idx].mean()
        den = float(du @ du)
        return float(du @ dv) / den if den > 0 else np.nan

    est = slope(np.arange(n))
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(groups == g) for g in range(ns)]
    boot = []
    for _ in range(n_boot):  # resample whole stations: their days are not independent
        pick = rng.integers(0, ns, ns)
        boot.append(slope(np.concatenate([members[g] for g in pick])))
    lo, hi = np.nanquantile(boot, [0.025, 0.975])
    if not np.isfinite(est):
        return ShareEstimate(default, "default", n, ns, reason="the coarse residual is constant")
    return ShareEstimate(
        float(np.clip(est, 0.0, 1.0)),
        "stations",
        n,
        ns,
        slope=est,
        ci_low=float(lo),
        ci_high=float(hi),
    )
