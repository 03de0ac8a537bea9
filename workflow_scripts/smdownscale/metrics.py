"""Evaluation metrics: paired scores, the Mid subset, heterogeneity, within-cell correlation.

METHOD.md section 10 and issue 5 (items 1, 3 and 4). Pure functions on numpy arrays; no
files, no xarray. Units: soil moisture in, the same units out (m3 m-3 for every product of
this workflow) for RMSE, MAE, bias and ubRMSE; R, p-values, CV and Moran's I are
dimensionless. All arithmetic is float64 whatever the input dtype.

Paired scores (:func:`score`)
    A product ``p`` against a reference ``r`` (in-situ series, or the synthetic truth), paired
    element by element. A pair is used when both values are finite; pairs with a NaN (or an
    infinity) on either side are dropped before anything is computed, so every metric of one
    call uses the same ``n`` pairs. With ``d = p - r``:

    * ``bias = mean(d)``: positive when the product is wetter than the reference;
    * ``RMSE = sqrt(mean(d**2))`` (divisor n);
    * ``MAE = mean(|d|)``;
    * ``ubRMSE = sqrt(RMSE**2 - bias**2)``, the RMSE left after removing the mean bias. It is
      evaluated in the algebraically identical form ``sqrt(mean((d - mean(d))**2))`` (divisor
      n), which cannot cancel catastrophically and is never negative, so the tiny negative
      values the difference form can give by rounding are clipped to 0 by construction;
    * Pearson ``R`` (product-moment correlation, sums of centred products, clipped to [-1, 1]);
      its two-sided p-value for H0: rho = 0 from Student's t with n - 2 degrees of freedom
      (as ``scipy.stats.pearsonr``; p = 1 for n = 2, p = 0 for |R| = 1); and its
      ``1 - alpha`` (default 95 %) confidence interval by the Fisher z transform,
      ``tanh(arctanh(R) -+ z_{1-alpha/2} / sqrt(n - 3))``.

    Undefined values are NaN, never an exception: everything is NaN for n = 0; R, its p-value
    and CI are NaN for n < 2 or when either series is constant over the pairs (zero variance,
    tested exactly: all values equal); the CI is NaN for n <= 3 (the Fisher z standard error
    1/sqrt(n - 3) does not exist). These definitions match pytesmo's ``bias``, ``rmsd``,
    ``aad``, ``ubrmsd`` and ``pearson_r`` with ``with_analytical_ci`` (a unit test checks).

Mid subset (:func:`mid_mask`)
    The revised paper's Table 4 "Mid": the pairs whose *reference* (in-situ) value lies within
    its 15th-85th percentiles, bounds inclusive. The percentiles are computed from the
    reference values of the pairs being scored (never from the product), so all products
    scored on the same pairs share the same Mid subset.

Heterogeneity (:func:`coefficient_of_variation`, :func:`morans_i`, :func:`heterogeneity_by_day`)
    The paper's Table S3: the coefficient of variation and the global Moran's I with binary
    rook (4-neighbour) weights of a 2-D field, over all values and over the 0-15 / 15-85 /
    85-100 % value ranges of the field (:func:`percentile_range_masks`).

Within-coarse-cell spatial correlation (:func:`within_cell_correlation`)
    Per coarse cell (a ``factor`` x ``factor`` block of fine cells) and day, the Pearson
    correlation across the block's fine cells between a fine product and the truth; the
    result is the mean over the blocks where that correlation is defined. A product that is
    constant within a block (the coarse product repeated over its block) has *undefined*
    correlation there (zero variance), not 0: it carries no sub-grid pattern at all, which is
    a different statement from a pattern uncorrelated with the truth. Such blocks are counted
    as undefined, and a product constant in every block gets a NaN mean with every block
    counted undefined (the report writes "undefined (constant within each cell)").

Block-edge ratio (:func:`block_edge_stats`, :func:`block_edge_ratio`)
    Does a fine field show the coarse grid's block edges? Over every pair of 4-neighbour
    fine cells (east-west and north-south) with both values finite, split the pairs into
    those straddling a coarse-cell edge (the two cells lie in different ``factor`` x
    ``factor`` blocks) and those inside one block::

        edge ratio = mean |a_i - a_j| over straddling pairs / mean |a_i - a_j| over inside pairs

    pooled over both directions and every day. 1 means the edges are invisible (a smooth
    field, or the truth); a field constant within blocks (the coarse product repeated over
    its block) has no inside difference and an infinite ratio. NaN when either set has no
    pair or both means are 0 (a constant field). Blocks are aligned with the array's first
    row and column (the fine grid starts at a coarse-cell edge).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from scipy import stats

from .blocks import Blocks, BlocksError, as_blocks

#: Default percentile bounds of the Mid subset and the heterogeneity value ranges (percent).
MID_LO = 15.0
MID_HI = 85.0


class DayStack(Protocol):
    """A (time, lat, lon) array-like: numpy, or a lazily loaded xarray / netCDF4 variable.

    Only ``shape`` and integer indexing on the first axis are used, one day at a time, so a
    lazy stack is never loaded whole.
    """

    @property
    def shape(self) -> tuple[int, ...]: ...

    def __getitem__(self, key: Any) -> Any: ...


# ---------------------------------------------------------------------------------------------
# Paired scores
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """Paired scores of a product against a reference (see the module docstring).

    ``n`` pairs used (both values finite); ``r`` Pearson correlation; ``p_value`` its two-sided
    p-value (H0: no correlation); ``r_ci_low`` / ``r_ci_high`` the Fisher z confidence
    interval at level ``ci_level``; ``rmse``, ``mae``, ``bias`` (mean product - reference) and
    ``ubrmse`` in the data's units. Undefined values are NaN.
    """

    n: int
    r: float
    p_value: float
    r_ci_low: float
    r_ci_high: float
    rmse: float
    mae: float
    bias: float
    ubrmse: float
    ci_level: float = 0.95

    def as_dict(self) -> dict[str, float | int]:
        """Plain Python numbers keyed by field name (NaN stays NaN), e.g. for JSON/tables."""
        return {
            "n": int(self.n),
            "r": float(self.r),
            "p_value": float(self.p_value),
            "r_ci_low": float(self.r_ci_low),
            "r_ci_high": float(self.r_ci_high),
            "rmse": float(self.rmse),
            "mae": float(self.mae),
            "bias": float(self.bias),
            "ubrmse": float(self.ubrmse),
            "ci_level": float(self.ci_level),
        }


def paired_finite(p: npt.ArrayLike, r: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of ``p`` and ``r`` where both are finite, as two 1-D float64 arrays.

    ``p`` and ``r`` must have the same shape (any number of dimensions; flattened in C
    order). Raises ``ValueError`` on a shape mismatch.
    """
    pa = np.asarray(p, dtype=np.float64)
    ra = np.asarray(r, dtype=np.float64)
    if pa.shape != ra.shape:
        raise ValueError(f"product and reference shapes differ: {pa.shape} vs {ra.shape}")
    ok = np.isfinite(pa) & np.isfinite(ra)
    return pa[ok].ravel(), ra[ok].ravel()


def pearson(p: np.ndarray, r: np.ndarray) -> tuple[float, float]:
    """Pearson R and its two-sided p-value of two 1-D float arrays without NaNs.

    ``R = sum(dp * dr) / sqrt(sum(dp**2) * sum(dr**2))`` with ``dp = p - mean(p)`` and
    ``dr = r - mean(r)``, clipped to [-1, 1] against rounding. The p-value tests H0: rho = 0
    with ``t = R * sqrt((n - 2) / (1 - R**2))`` on n - 2 degrees of freedom (two-sided), as
    ``scipy.stats.pearsonr``; for n = 2 it is 1 (two points always lie on a line) and for
    |R| = 1 with n > 2 it is 0. Returns ``(nan, nan)`` for n < 2 or when either series is
    constant (all values exactly equal).
    """
    n = p.size
    if n < 2 or np.all(p == p[0]) or np.all(r == r[0]):
        return math.nan, math.nan
    dp = p - p.mean()
    dr = r - r.mean()
    den = math.sqrt(float(np.dot(dp, dp)) * float(np.dot(dr, dr)))
    if den == 0.0:  # underflow of near-identical values; treated as constant
        return math.nan, math.nan
    rr = min(1.0, max(-1.0, float(np.dot(dp, dr)) / den))
    if n == 2:
        return rr, 1.0
    if abs(rr) == 1.0:
        return rr, 0.0
    df = n - 2
    t = abs(rr) * math.sqrt(df / ((1.0 - rr) * (1.0 + rr)))
    return rr, float(2.0 * stats.t.sf(t, df))


def fisher_ci(r: float, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Fisher z confidence interval of a Pearson correlation ``r`` from ``n`` pairs.

    ``tanh(arctanh(r) -+ z / sqrt(n - 3))`` with ``z`` the standard normal ``1 - alpha/2``
    quantile (1.95996... for the default 95 % interval). NaN bounds for n <= 3 or a NaN
    ``r``; for |r| = 1 both bounds equal r.
    """
    if n <= 3 or not math.isfinite(r):
        return math.nan, math.nan
    if abs(r) >= 1.0:
        return float(r), float(r)
    z = math.atanh(r)
    half = float(stats.norm.ppf(1.0 - alpha / 2.0)) / math.sqrt(n - 3)
    return math.tanh(z - half), math.tanh(z + half)


def score(p: npt.ArrayLike, r: npt.ArrayLike, *, alpha: float = 0.05) -> Scores:
    """Paired scores of product ``p`` against reference ``r`` (same shape; see module doc).

    Pairs with a non-finite value on either side are dropped first. ``alpha`` sets the
    confidence level ``1 - alpha`` of the correlation's Fisher z interval. bias is
    ``mean(p - r)`` (positive: product wetter than reference); RMSE, MAE and ubRMSE are in the
    data's units; ubRMSE = sqrt(RMSE**2 - bias**2) = the population SD of ``p - r``.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    pp, rr = paired_finite(p, r)
    n = int(pp.size)
    level = 1.0 - alpha
    if n == 0:
        nan = math.nan
        return Scores(0, nan, nan, nan, nan, nan, nan, nan, nan, ci_level=level)
    d = pp - rr
    bias = float(d.mean())
    rmse = math.sqrt(float(np.dot(d, d)) / n)
    mae = float(np.abs(d).mean())
    dc = d - bias
    ubrmse = math.sqrt(max(float(np.dot(dc, dc)) / n, 0.0))
    rval, pval = pearson(pp, rr)
    lo, hi = fisher_ci(rval, n, alpha)
    return Scores(
        n=n,
        r=rval,
        p_value=pval,
        r_ci_low=lo,
        r_ci_high=hi,
        rmse=rmse,
        mae=mae,
        bias=bias,
        ubrmse=ubrmse,
        ci_level=level,
    )


# ---------------------------------------------------------------------------------------------
# Mid subset
# ---------------------------------------------------------------------------------------------


def mid_mask(
    r: npt.ArrayLike,
    lo: float = MID_LO,
    hi: float = MID_HI,
    *,
    p: npt.ArrayLike | None = None,
) -> np.ndarray:
    """Boolean mask of the "Mid" pairs: reference value within its lo-hi percentiles.

    The revised paper's Table 4 "Mid" subset. ``r`` holds the reference (in-situ) values of
    the pairs; pass the population you score (one station's series for a per-station Mid, a
    network's pooled pairs for a network-level Mid). The population of the percentiles is the
    reference values of the pairs being scored: the finite values of ``r``, and where ``p``
    (the product, same shape) is given only those whose product value is finite too. The
    product's values never enter the percentiles.

    Percentiles use numpy's default linear interpolation (Hyndman-Fan type 7); both bounds are
    inclusive: ``P_lo <= r <= P_hi``. Pairs outside the population are False. Returns a bool
    array of ``r``'s shape (all False when the population is empty). Use it as
    ``score(p[m], r[m])``.
    """
    if not 0.0 <= lo <= hi <= 100.0:
        raise ValueError(f"need 0 <= lo <= hi <= 100, got lo={lo}, hi={hi}")
    ra = np.asarray(r, dtype=np.float64)
    pop = np.isfinite(ra)
    if p is not None:
        pa = np.asarray(p, dtype=np.float64)
        if pa.shape != ra.shape:
            raise ValueError(f"product and reference shapes differ: {pa.shape} vs {ra.shape}")
        pop &= np.isfinite(pa)
    if not pop.any():
        return np.zeros(ra.shape, dtype=bool)
    plo, phi = np.percentile(ra[pop], [lo, hi])
    with np.errstate(invalid="ignore"):
        return pop & (ra >= plo) & (ra <= phi)


# ---------------------------------------------------------------------------------------------
# Heterogeneity
# ---------------------------------------------------------------------------------------------


def range_labels(lo: float = MID_LO, hi: float = MID_HI) -> tuple[str, str, str]:
    """Labels of the three value ranges, e.g. ``("0-15", "15-85", "85-100")``."""
    return (f"0-{lo:g}", f"{lo:g}-{hi:g}", f"{hi:g}-100")


def percentile_range_masks(
    field: npt.ArrayLike, lo: float = MID_LO, hi: float = MID_HI
) -> dict[str, np.ndarray]:
    """Masks of a field's 0-lo / lo-hi / hi-100 % value ranges, from its own percentiles.

    Percentiles of the finite values of ``field`` (any shape; numpy linear interpolation).
    The three masks partition the finite cells: ``x < P_lo``, ``P_lo <= x <= P_hi`` (the
    middle range is inclusive on both sides, like :func:`mid_mask`), ``x > P_hi``. Non-finite
    cells are in none. Keys from :func:`range_labels`; all False for an all-NaN field.
    """
    if not 0.0 <= lo <= hi <= 100.0:
        raise ValueError(f"need 0 <= lo <= hi <= 100, got lo={lo}, hi={hi}")
    x = np.asarray(field, dtype=np.float64)
    ok = np.isfinite(x)
    labels = range_labels(lo, hi)
    if not ok.any():
        return {k: np.zeros(x.shape, dtype=bool) for k in labels}
    plo, phi = np.percentile(x[ok], [lo, hi])
    with np.errstate(invalid="ignore"):
        low = ok & (x < plo)
        high = ok & (x > phi)
    mid = ok & ~low & ~high
    return dict(zip(labels, (low, mid, high), strict=True))


def coefficient_of_variation(
    field: npt.ArrayLike, mask: npt.ArrayLike | None = None, *, ddof: int = 0
) -> float:
    """Coefficient of variation ``sd / mean`` of the finite values (within ``mask``).

    ``sd`` is the standard deviation with divisor ``N - ddof`` (default 0: the population SD
    of the field's cells, as ``scipy.stats.variation``; the cells are the whole population,
    not a sample). Dimensionless (a fraction, not percent). NaN when fewer than ``ddof + 1``
    values remain or the mean is 0; the sign follows the mean.
    """
    x = np.asarray(field, dtype=np.float64)
    ok = np.isfinite(x)
    if mask is not None:
        ok &= np.asarray(mask, dtype=bool)
    v = x[ok]
    if v.size < ddof + 1:
        return math.nan
    m = float(v.mean())
    if m == 0.0:
        return math.nan
    return float(v.std(ddof=ddof)) / m


def morans_i(field: npt.ArrayLike, mask: npt.ArrayLike | None = None) -> float:
    """Global Moran's I of a 2-D field with binary rook (4-neighbour) weights.

    ``I = (N / W) * sum_ij w_ij z_i z_j / sum_i z_i**2`` over the N valid cells, with
    ``z = x - mean(x)`` (mean of the valid cells), ``w_ij = 1`` when cells i and j share an
    edge (up, down, left, right; no wrap-around) and both are valid, else 0, and ``W`` the sum
    of all ``w_ij`` (each link counted in both directions; no row standardisation).

    Valid cells are finite and, when ``mask`` (bool, the field's shape) is given, inside it.
    Invalid cells and all their links are excluded; a valid cell whose neighbours are all
    invalid (an island) still counts in N, the mean and the denominator but has no link (the
    usual convention, e.g. PySAL's). For a value-range subset (:func:`percentile_range_masks`)
    only links between cells of the same range count. NaN when there is no link (W = 0) or
    the valid values are all equal. A checkerboard with equal counts of two values gives
    exactly -1; a smooth ramp gives close to +1; spatial noise gives about -1/(N-1).
    """
    x = np.asarray(field, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"morans_i needs a 2-D field, got shape {x.shape}")
    ok = np.isfinite(x)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.shape != x.shape:
            raise ValueError(f"mask shape {m.shape} differs from field shape {x.shape}")
        ok &= m
    n = int(ok.sum())
    if n < 2:
        return math.nan
    z = np.where(ok, x - x[ok].mean(), 0.0)
    den = float(np.dot(z[ok], z[ok]))
    h = ok[:, :-1] & ok[:, 1:]
    v = ok[:-1, :] & ok[1:, :]
    links = int(h.sum()) + int(v.sum())  # undirected; W = 2 * links
    if links == 0 or den == 0.0:
        return math.nan
    # z is 0 at invalid cells, so products over all edges equal products over valid links
    cross = float(np.sum(z[:, :-1] * z[:, 1:])) + float(np.sum(z[:-1, :] * z[1:, :]))
    return (n / (2.0 * links)) * (2.0 * cross) / den


@dataclass(frozen=True, eq=False)
class DailyHeterogeneity:
    """Per-day CV and Moran's I of a (time, lat, lon) stack, overall and per value range.

    ``cv`` and ``morans_i`` map a subset label (``"all"`` and the :func:`range_labels`) to a
    float64 array of shape (time,); NaN on days where the value is undefined (e.g. an all-NaN
    day). Averaging over days is the caller's choice (e.g. ``np.nanmean``).
    """

    cv: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    morans_i: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.cv)

    def as_dict(self) -> dict[str, dict[str, list[float]]]:
        """``{"cv": {label: [...]}, "morans_i": {label: [...]}}`` with plain floats."""
        return {
            "cv": {k: [float(x) for x in v] for k, v in self.cv.items()},
            "morans_i": {k: [float(x) for x in v] for k, v in self.morans_i.items()},
        }


def heterogeneity_by_day(
    stack: DayStack | np.ndarray,
    *,
    mask: npt.ArrayLike | None = None,
    ranges: bool = True,
    lo: float = MID_LO,
    hi: float = MID_HI,
    ddof: int = 0,
) -> DailyHeterogeneity:
    """CV and Moran's I of every day of a (time, lat, lon) stack, overall and per range.

    Days are processed one at a time (``stack[t]``), so memory is one day's field whatever the
    stack's length; a lazy xarray / netCDF4 variable is loaded day by day. ``mask`` (lat, lon)
    optionally restricts every day to a region. With ``ranges`` the 0-lo / lo-hi / hi-100 %
    subsets use *that day's* percentiles of the (masked) field (:func:`percentile_range_masks`).
    See :func:`coefficient_of_variation` and :func:`morans_i` for the definitions.
    """
    shape = tuple(stack.shape)
    if len(shape) != 3:
        raise ValueError(f"need a (time, lat, lon) stack, got shape {shape}")
    nt = shape[0]
    base = None if mask is None else np.asarray(mask, dtype=bool)
    if base is not None and base.shape != shape[1:]:
        raise ValueError(f"mask shape {base.shape} differs from the stack's {shape[1:]}")
    labels = ("all", *range_labels(lo, hi)) if ranges else ("all",)
    cv = {k: np.full(nt, np.nan) for k in labels}
    mi = {k: np.full(nt, np.nan) for k in labels}
    for t in range(nt):
        day = np.asarray(stack[t], dtype=np.float64)
        if base is not None:
            day = np.where(base, day, np.nan)
        subsets: dict[str, np.ndarray | None] = {"all": None}
        if ranges:
            subsets.update(percentile_range_masks(day, lo, hi))
        for k, m in subsets.items():
            cv[k][t] = coefficient_of_variation(day, m, ddof=ddof)
            mi[k][t] = morans_i(day, m)
    return DailyHeterogeneity(cv=cv, morans_i=mi)


# ---------------------------------------------------------------------------------------------
# Within-coarse-cell spatial correlation
# ---------------------------------------------------------------------------------------------

#: Report text for a product that is constant within every coarse cell.
UNDEFINED_CONSTANT = "undefined (constant within each cell)"


@dataclass(frozen=True)
class WithinCellCorrelation:
    """Mean within-coarse-cell correlation of a fine product with the truth.

    ``mean`` is the mean of the per-(cell, day) Pearson correlations over the ``n_defined``
    blocks where it is defined (NaN when none). Every cell-day block is in exactly one of:
    ``n_defined``; ``n_undefined`` (at least ``min_pairs`` valid pairs but the product or the
    truth constant over them; ``n_product_constant`` and ``n_truth_constant`` count the two
    causes, a block with both counts in both); ``n_insufficient`` (fewer than ``min_pairs``
    pairs with both values finite, e.g. sea or gaps). ``n_blocks`` is their total,
    ``ncells * ndays``. ``per_day`` is the mean over each day's defined blocks (NaN when none).
    """

    mean: float
    n_defined: int
    n_undefined: int
    n_product_constant: int
    n_truth_constant: int
    n_insufficient: int
    n_blocks: int
    factor: int
    min_pairs: int
    per_day: np.ndarray = dataclasses.field(repr=False, compare=False)

    @property
    def constant_product(self) -> bool:
        """True when no block is defined because the product is constant in all of them."""
        return (
            self.n_defined == 0
            and self.n_undefined > 0
            and self.n_product_constant == self.n_undefined
        )

    def describe(self, fmt: str = ".3f") -> str:
        """The value for a report: the formatted mean, or why it is undefined."""
        if self.n_defined > 0:
            return format(self.mean, fmt)
        if self.constant_product:
            return UNDEFINED_CONSTANT
        if self.n_undefined > 0:
            return "undefined (constant truth or product within each cell)"
        return "undefined (no cell with enough valid pairs)"

    def as_dict(self) -> dict[str, float | int | str]:
        """Scalar fields as plain Python values plus ``describe()`` (``per_day`` left out)."""
        return {
            "mean": float(self.mean),
            "n_defined": int(self.n_defined),
            "n_undefined": int(self.n_undefined),
            "n_product_constant": int(self.n_product_constant),
            "n_truth_constant": int(self.n_truth_constant),
            "n_insufficient": int(self.n_insufficient),
            "n_blocks": int(self.n_blocks),
            "factor": int(self.factor),
            "min_pairs": int(self.min_pairs),
            "text": self.describe(),
        }


def block_correlation(
    product: np.ndarray, truth: np.ndarray, factor: int | Blocks, *, min_pairs: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-coarse-cell Pearson correlation of one day's fine fields (vectorised over blocks).

    ``product`` and ``truth`` are (lat, lon) fields tiled by the blocks (``factor x factor``
    ones, or an index map's). Per block, the pairs with both values finite are correlated
    (centred sums, clipped to [-1, 1]). Returns ``(r, enough, p_const, t_const)``, each of the
    coarse shape: ``r`` (NaN where undefined), ``enough`` (at least ``min_pairs`` valid
    pairs), and whether the product / the truth is constant over the valid pairs (exact
    equality of their max and min, so a block-repeated value is caught even where its mean is
    not exact in floating point). ``r`` is defined where ``enough & ~p_const & ~t_const``.
    """
    p = np.asarray(product, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    blocks = as_blocks(factor, p.shape)
    ok = np.isfinite(p) & np.isfinite(t)
    n = blocks.reduce(np.add, ok.astype(np.int64))
    enough = n >= min_pairs
    p_const = enough & (
        blocks.reduce(np.maximum, np.where(ok, p, -np.inf))
        == blocks.reduce(np.minimum, np.where(ok, p, np.inf))
    )
    t_const = enough & (
        blocks.reduce(np.maximum, np.where(ok, t, -np.inf))
        == blocks.reduce(np.minimum, np.where(ok, t, np.inf))
    )
    nn = np.maximum(n, 1)
    mp = blocks.repeat(blocks.reduce(np.add, np.where(ok, p, 0.0)) / nn)
    mt = blocks.repeat(blocks.reduce(np.add, np.where(ok, t, 0.0)) / nn)
    dp = np.where(ok, p - mp, 0.0)
    dt = np.where(ok, t - mt, 0.0)
    cov = blocks.reduce(np.add, dp * dt)
    den = np.sqrt(blocks.reduce(np.add, dp * dp) * blocks.reduce(np.add, dt * dt))
    defined = enough & ~p_const & ~t_const & (den > 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(defined, np.clip(cov / den, -1.0, 1.0), np.nan)
    return r, enough, p_const, t_const


def within_cell_correlation(
    product: DayStack | np.ndarray,
    truth: DayStack | np.ndarray,
    factor: int | Blocks,
    *,
    min_pairs: int = 3,
) -> WithinCellCorrelation:
    """Mean over (coarse cell, day) of the fine-cell correlation between product and truth.

    ``product`` and ``truth`` are (time, lat, lon) stacks of the same shape (a single 2-D day
    is accepted as one day) whose lat and lon sizes are multiples of ``factor`` (fine cells per
    coarse cell along each axis, e.g. 25). Per coarse cell and day: the Pearson correlation,
    across the block's fine cells where both values are finite, of product and truth
    (:func:`block_correlation`). Defined only with at least ``min_pairs`` valid pairs (default
    3: with two pairs the correlation is always +-1) and neither field constant over them.

    A product constant within a block, as the coarse product repeated over its block, has an
    undefined correlation there (NaN), counted in ``n_undefined`` and ``n_product_constant``;
    it is not 0, because such a product has no sub-grid variation to correlate. The result's
    ``mean`` is over the defined blocks only, so for a product constant in every block it is
    NaN with every block with data undefined (``describe()`` gives
    :data:`UNDEFINED_CONSTANT`). The truth against itself gives exactly 1.

    Days are processed one at a time (``stack[t]``), vectorised over the blocks, so memory is
    a few copies of one day's field; lazy xarray / netCDF4 variables are loaded day by day.
    """
    if min_pairs < 2:
        raise ValueError(f"min_pairs must be >= 2, got {min_pairs}")
    pshape, tshape = tuple(product.shape), tuple(truth.shape)
    if pshape != tshape:
        raise ValueError(f"product and truth shapes differ: {pshape} vs {tshape}")
    if len(pshape) == 2:
        product = np.asarray(product)[None]
        truth = np.asarray(truth)[None]
        pshape = (1, *pshape)
    if len(pshape) != 3:
        raise ValueError(f"need (time, lat, lon) stacks, got shape {pshape}")
    nt, ny, nx = pshape
    try:
        blocks = as_blocks(factor, pshape)
    except BlocksError as err:
        raise ValueError(f"lat/lon sizes {ny}, {nx}: {err}") from None
    ncell = blocks.shape[0] * blocks.shape[1]
    per_day = np.full(nt, np.nan)
    total = 0.0
    n_def = n_undef = n_pc = n_tc = n_insuff = 0
    for k in range(nt):
        r, enough, p_const, t_const = block_correlation(
            np.asarray(product[k]), np.asarray(truth[k]), blocks, min_pairs=min_pairs
        )
        good = np.isfinite(r)
        nd = int(good.sum())
        if nd:
            s = float(r[good].sum())
            per_day[k] = s / nd
            total += s
        n_def += nd
        n_undef += int(enough.sum()) - nd
        n_pc += int(p_const.sum())
        n_tc += int(t_const.sum())
        n_insuff += int((~enough).sum())
    return WithinCellCorrelation(
        mean=total / n_def if n_def else math.nan,
        n_defined=n_def,
        n_undefined=n_undef,
        n_product_constant=n_pc,
        n_truth_constant=n_tc,
        n_insufficient=n_insuff,
        n_blocks=nt * ncell,
        factor=blocks.factor or 0,
        min_pairs=int(min_pairs),
        per_day=per_day,
    )


# ---------------------------------------------------------------------------------------------
# Block-edge ratio
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockEdges:
    """Sums and counts of absolute neighbour differences across and inside coarse cells.

    Pools by addition (``a + b``), so days or periods can be scored one at a time.
    """

    edge_sum: float = 0.0
    edge_n: int = 0
    inside_sum: float = 0.0
    inside_n: int = 0

    def __add__(self, other: BlockEdges) -> BlockEdges:
        return BlockEdges(
            self.edge_sum + other.edge_sum,
            self.edge_n + other.edge_n,
            self.inside_sum + other.inside_sum,
            self.inside_n + other.inside_n,
        )

    @property
    def ratio(self) -> float:
        """Mean difference across edges over mean difference inside cells (module doc)."""
        if self.edge_n == 0 or self.inside_n == 0:
            return math.nan
        edge = self.edge_sum / self.edge_n
        inside = self.inside_sum / self.inside_n
        if inside == 0.0:
            return math.inf if edge > 0.0 else math.nan
        return edge / inside


def _edge_day(a: np.ndarray, blocks: Blocks) -> BlockEdges:
    """One 2-D day's :class:`BlockEdges` (pairs with both values finite)."""
    out = BlockEdges()
    for axis in (0, 1):
        d = np.abs(np.diff(a, axis=axis))
        ok = np.isfinite(d)
        # pair (k, k + 1) along the axis straddles an edge when its cells' blocks differ
        across = blocks.edges(axis)
        across = across[:, None] if axis == 0 else across[None, :]
        edge = ok & across
        inside = ok & ~across
        out = out + BlockEdges(
            float(d[edge].sum()), int(edge.sum()), float(d[inside].sum()), int(inside.sum())
        )
    return out


def block_edge_stats(field: DayStack | np.ndarray, factor: int | Blocks) -> BlockEdges:
    """:class:`BlockEdges` of a (time, lat, lon) stack or one (lat, lon) day (module doc).

    Days are read one at a time (``field[t]``), so a lazy stack is never loaded whole.
    """
    shape = tuple(field.shape)
    if len(shape) not in (2, 3):
        raise ValueError(f"need a (lat, lon) field or a (time, lat, lon) stack, got {shape}")
    try:
        blocks = as_blocks(factor, shape)
    except BlocksError as err:
        raise ValueError(f"field of shape {shape}: {err}") from None
    if len(shape) == 2:
        return _edge_day(np.asarray(field, dtype=np.float64), blocks)
    out = BlockEdges()
    for k in range(shape[0]):
        out = out + _edge_day(np.asarray(field[k], dtype=np.float64), blocks)
    return out


def block_edge_ratio(field: DayStack | np.ndarray, factor: int | Blocks) -> float:
    """Block-edge ratio of a fine field: 1 = no coarse-cell edges (module docstring)."""
    return block_edge_stats(field, factor).ratio
