"""Training samples for one (period, region): the adaptive spatio-temporal window and fallbacks.

METHOD.md section 5, after the Three-North paper (001, section 3.4) and paper 002:

* A *sample* is a coarse cell-day with finite soil moisture and all *required* predictors
  finite (by default every predictor; optional predictors such as LST may be missing, and
  such samples train the members' models without them, :mod:`.members.subsets`).
* Level 0 is the period's days and the region's cells. While the samples number fewer than
  ``min_samples`` (default 8 x the number of predictors), the window widens one step at a
  time: step ``i`` uses the days up to ``min(i, max_days)`` outside the period on each side
  and the coarse cells within Chebyshev distance ``min(i, max_cells)`` of the region's cells
  (cells of any region; cells labelled ``-1`` are outside every region and never used). It
  stops at the first level that meets the criterion, or at ``max(max_days, max_cells)`` when
  both limits are reached. The window never widens further than needed.
* A (period, region) whose window fails uses, in this order: the previous period's own model
  for the region (paper 002: "used the model of the previous period when the number of
  valid samples was less than 100"), else the all-region ("pooled") model of the same
  period when its pool meets the criterion, else no model (see :func:`model_source`).

Time axis. The caller stacks the period's days with up to ``max_days`` days on each side
into one time axis and passes ``day_offset``, the signed day number of each step relative to
the period's first day: ``0 .. period_ndays - 1`` are in the period, negative values before
it, ``>= period_ndays`` after it. :func:`day_offsets` builds it from dates; steps need not be
contiguous (missing days simply give no samples) but must be distinct. Steps further than
``max_days`` from the period are allowed and ignored.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from .calendar import Period

#: Samples needed per predictor (Three-North paper: "at least eight times the included
#: explanatory variables").
SAMPLES_PER_PREDICTOR = 8
DEFAULT_MAX_DAYS = 3
DEFAULT_MAX_CELLS = 5

Source = Literal["own", "previous", "pooled", "none"]


class WindowError(ValueError):
    """Sample-selection inputs that cannot be used, with a message saying what to change."""


@dataclass(frozen=True)
class Window:
    """How far a sample window reached beyond the period and the region."""

    days_added: int
    cells_added: int


@dataclass(frozen=True, eq=False)
class SampleSelection:
    """The samples of one (period, region) window.

    ``coords`` is (n, 3) int64: time index into the caller's stacked time axis, row, col
    of each sample, in (time, row, col) order. ``region`` is ``None`` for the pooled
    (all-region) selection. ``counts`` holds the sample count at each level examined.
    """

    X: np.ndarray
    y: np.ndarray
    coords: np.ndarray
    region: int | None
    level: int
    window: Window
    min_samples: int
    criterion_met: bool
    counts: tuple[int, ...] = field(default_factory=tuple)

    @property
    def n(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class ModelSource:
    """Which model serves a (period, region), and why; one row of the per-run fallback table.

    ``source`` is ``"own"`` (fitted on the window's samples), ``"previous"`` (the previous
    period's own model for the region), ``"pooled"`` (this period's all-region model) or
    ``"none"`` (no model: the region-period is left missing). ``n``/``window``/``level``
    describe the region's own window; ``pooled_n`` the pool's size when it was considered.
    """

    region: int | None
    source: Source
    reason: str
    n: int
    min_samples: int
    level: int
    window: Window
    pooled_n: int | None = None

    @property
    def has_model(self) -> bool:
        return self.source != "none"

    @property
    def is_fallback(self) -> bool:
        return self.source != "own"

    def as_record(self) -> dict[str, object]:
        """Flat, JSON-ready dict for model metadata and the per-run table."""
        return {
            "region": self.region,
            "source": self.source,
            "reason": self.reason,
            "n": self.n,
            "min_samples": self.min_samples,
            "level": self.level,
            "days_added": self.window.days_added,
            "cells_added": self.window.cells_added,
            "pooled_n": self.pooled_n,
        }


def day_offsets(days: Sequence[dt.date], period: Period) -> np.ndarray:
    """Signed day number of each date relative to ``period.start`` (int64, see module doc)."""
    return np.array([(d - period.start).days for d in days], dtype=np.int64)


def day_distance(day_offset: np.ndarray, period_ndays: int) -> np.ndarray:
    """Days outside the period of each time step: 0 inside, ``d`` for ``d`` days before/after."""
    off = np.asarray(day_offset, dtype=np.int64)
    return np.maximum(np.maximum(-off, off - (period_ndays - 1)), 0)


def cell_distance(region_mask: np.ndarray) -> np.ndarray:
    """(ny, nx) Chebyshev (chessboard) distance in cells to the nearest cell of the mask."""
    mask = np.asarray(region_mask, dtype=bool)
    if not mask.any():
        raise WindowError("the region has no cells")
    if mask.all():
        return np.zeros(mask.shape, dtype=np.int64)
    return ndimage.distance_transform_cdt(~mask, metric="chessboard").astype(np.int64)


def default_min_samples(n_predictors: int) -> int:
    """The Three-North criterion: 8 samples per predictor."""
    return SAMPLES_PER_PREDICTOR * n_predictors


def _check_inputs(
    sm: np.ndarray,
    predictors: np.ndarray,
    day_offset: np.ndarray,
    period_ndays: int,
    labels: np.ndarray,
    max_days: int,
    max_cells: int,
) -> None:
    if sm.ndim != 3:
        raise WindowError(f"sm must be (time, lat, lon), got shape {sm.shape}")
    if predictors.ndim != 4 or predictors.shape[:3] != sm.shape or predictors.shape[3] < 1:
        raise WindowError(
            f"predictors must be (time, lat, lon, n_predictors) matching sm {sm.shape} with at "
            f"least one predictor, got shape {predictors.shape}"
        )
    if labels.shape != sm.shape[1:]:
        raise WindowError(f"labels have shape {labels.shape}, expected {sm.shape[1:]}")
    if day_offset.shape != (sm.shape[0],):
        raise WindowError(
            f"day_offset must give one offset per time step ({sm.shape[0]}), got shape "
            f"{day_offset.shape}"
        )
    if np.unique(day_offset).size != day_offset.size:
        raise WindowError("day_offset has repeated days: each day may appear once in the stack")
    if period_ndays < 1:
        raise WindowError(f"period_ndays must be >= 1, got {period_ndays}")
    if max_days < 0 or max_cells < 0:
        raise WindowError(f"max_days and max_cells must be >= 0, got {max_days}, {max_cells}")


def _select(
    sm: np.ndarray,
    predictors: np.ndarray,
    day_offset: np.ndarray,
    period_ndays: int,
    labels: np.ndarray,
    core: np.ndarray,
    region: int | None,
    min_samples: int | None,
    max_days: int,
    max_cells: int,
    required: Sequence[int] | None = None,
) -> SampleSelection:
    """Widen the window around ``core`` (a cell mask) until ``min_samples`` or the limits."""
    n_pred = predictors.shape[3]
    need = default_min_samples(n_pred) if min_samples is None else int(min_samples)
    if need < 1:
        raise WindowError(f"min_samples must be >= 1, got {min_samples}")
    cols = list(range(n_pred)) if required is None else list(required)
    if any(not 0 <= c < n_pred for c in cols):
        raise WindowError(f"required predictor columns {cols} outside 0..{n_pred - 1}")

    valid = np.isfinite(sm) & np.isfinite(predictors[..., cols]).all(axis=-1)
    valid &= (labels >= 0)[None]
    tt, rr, cc = np.nonzero(valid)
    tdist = day_distance(day_offset, period_ndays)[tt]
    sdist = cell_distance(core)[rr, cc]
    reach = (tdist <= max_days) & (sdist <= max_cells)
    tt, rr, cc, tdist, sdist = tt[reach], rr[reach], cc[reach], tdist[reach], sdist[reach]

    # counts[a, b]: samples within a days outside the period and b cells of the core
    hist = np.zeros((max_days + 1, max_cells + 1), dtype=np.int64)
    np.add.at(hist, (tdist, sdist), 1)
    cumulative = hist.cumsum(axis=0).cumsum(axis=1)

    counts: list[int] = []
    last = max(max_days, max_cells)
    for level in range(last + 1):
        days, cells = min(level, max_days), min(level, max_cells)
        counts.append(int(cumulative[days, cells]))
        if counts[-1] >= need:
            break
    keep = (tdist <= days) & (sdist <= cells)
    t, r, c = tt[keep], rr[keep], cc[keep]
    return SampleSelection(
        X=predictors[t, r, c].astype(np.float64),
        y=sm[t, r, c].astype(np.float64),
        coords=np.stack([t, r, c], axis=1).astype(np.int64),
        region=region,
        level=level,
        window=Window(days_added=days, cells_added=cells),
        min_samples=need,
        criterion_met=counts[-1] >= need,
        counts=tuple(counts),
    )


def select_samples(
    sm: np.ndarray,
    predictors: np.ndarray,
    day_offset: np.ndarray,
    period_ndays: int,
    labels: np.ndarray,
    region: int,
    *,
    min_samples: int | None = None,
    max_days: int = DEFAULT_MAX_DAYS,
    max_cells: int = DEFAULT_MAX_CELLS,
    required: Sequence[int] | None = None,
) -> SampleSelection:
    """Samples of (period, ``region``) with the adaptive spatio-temporal window.

    Args:
        sm: (t, ny, nx) coarse soil moisture on the stacked time axis, NaN where missing.
        predictors: (t, ny, nx, p) coarse (aggregated) predictors, NaN where missing.
        day_offset: (t,) signed day of each step relative to the period's first day
            (``0 .. period_ndays - 1`` inside; see the module docstring).
        period_ndays: the period's length in days (shorter at the run's edges).
        labels: (ny, nx) region labels (``-1``: no region).
        region: the region whose cells form level 0.
        min_samples: the criterion; default ``8 * p``.
        max_days: most days added on each side of the period.
        max_cells: largest Chebyshev distance (in coarse cells) from the region's cells.
        required: predictor columns a sample must have (default: all); the others may be
            NaN in the returned ``X``.

    Returns:
        The :class:`SampleSelection` at the first level ``i`` (0, 1, ...) whose window of
        ``min(i, max_days)`` days and ``min(i, max_cells)`` cells holds ``min_samples``
        samples, or at ``i = max(max_days, max_cells)`` with ``criterion_met=False``.
    """
    sm = np.asarray(sm)
    predictors = np.asarray(predictors)
    day_offset = np.asarray(day_offset)
    labels = np.asarray(labels)
    _check_inputs(sm, predictors, day_offset, period_ndays, labels, max_days, max_cells)
    core = labels == region
    if not core.any():
        present = sorted(int(v) for v in np.unique(labels) if v >= 0)
        raise WindowError(f"region {region} has no cells in the label map (regions: {present})")
    return _select(
        sm,
        predictors,
        day_offset,
        period_ndays,
        labels,
        core,
        int(region),
        min_samples,
        max_days,
        max_cells,
        required,
    )


def select_pooled(
    sm: np.ndarray,
    predictors: np.ndarray,
    day_offset: np.ndarray,
    period_ndays: int,
    labels: np.ndarray,
    *,
    min_samples: int | None = None,
    max_days: int = DEFAULT_MAX_DAYS,
    required: Sequence[int] | None = None,
) -> SampleSelection:
    """Samples of the period's all-region ("pooled") model: every labelled cell.

    The same rule as :func:`select_samples` with all regions' cells as level 0; only the
    time window can widen (there are no further cells to add), so ``cells_added`` is 0.
    ``region`` of the result is ``None``.
    """
    sm = np.asarray(sm)
    predictors = np.asarray(predictors)
    day_offset = np.asarray(day_offset)
    labels = np.asarray(labels)
    _check_inputs(sm, predictors, day_offset, period_ndays, labels, max_days, 0)
    core = labels >= 0
    if not core.any():
        raise WindowError("no cell belongs to a region: the label map is all -1")
    return _select(
        sm,
        predictors,
        day_offset,
        period_ndays,
        labels,
        core,
        None,
        min_samples,
        max_days,
        0,
        required,
    )


def _decision(
    own: SampleSelection, pooled: SampleSelection | None, source: Source, reason: str
) -> ModelSource:
    return ModelSource(
        region=own.region,
        source=source,
        reason=reason,
        n=own.n,
        min_samples=own.min_samples,
        level=own.level,
        window=own.window,
        pooled_n=None if pooled is None else pooled.n,
    )


def model_source(
    own: SampleSelection, previous_has_own: bool, pooled: SampleSelection | None
) -> ModelSource:
    """The model serving a (period, region): own > previous > pooled > none.

    * ``"own"``: the region's window met the criterion.
    * ``"previous"``: the window failed and the immediately preceding period of the run has
      an *own* model for this region (``previous_has_own``; a previous model that was itself
      a fallback is not chained). False for a run's first period.
    * ``"pooled"``: otherwise, when this period's all-region pool (:func:`select_pooled`)
      meets the criterion; ``pooled=None`` means no pool is available.
    * ``"none"``: no model. This is a documented skip, not an error: the caller writes no
      model for the region-period, prediction leaves its fine cells missing (NaN) for the
      period's days, and the decision is counted in the per-run fallback table and report
      (paper 002 likewise left out periods with too few samples).
    """
    w = own.window
    if own.criterion_met:
        reason = (
            f"window met the criterion: {own.n} >= {own.min_samples} samples at level "
            f"{own.level} ({w.days_added} day(s), {w.cells_added} cell(s) added)"
        )
        return _decision(own, pooled, "own", reason)
    failed = (
        f"window failed at its limits ({w.days_added} day(s), {w.cells_added} cell(s) added): "
        f"{own.n} < {own.min_samples} samples"
    )
    if previous_has_own:
        reason = f"{failed}; using the previous period's own model for the region"
        return _decision(own, pooled, "previous", reason)
    failed += "; the previous period has no own model for the region"
    if pooled is not None and pooled.criterion_met:
        reason = f"{failed}; using this period's all-region model ({pooled.n} samples)"
        return _decision(own, pooled, "pooled", reason)
    pool = (
        "no all-region pool is available"
        if pooled is None
        else f"the all-region pool has {pooled.n} < {pooled.min_samples} samples"
    )
    reason = f"{failed}; {pool}: no model, the region-period is left missing"
    return _decision(own, pooled, "none", reason)


def fallback_counts(sources: Iterable[ModelSource]) -> dict[str, int]:
    """Number of (period, region) decisions of each source, for the run's report."""
    counted = Counter(s.source for s in sources)
    return {name: counted.get(name, 0) for name in ("own", "previous", "pooled", "none")}


def cell_groups(coords: np.ndarray) -> np.ndarray:
    """(n,) int64 group id per sample: equal for samples of the same coarse cell.

    Ids number the distinct (row, col) pairs in sorted order; use them as ``groups`` for
    grouped cross-validation (:func:`smdownscale.tuning.tune`).
    """
    coords = _check_coords(coords)
    _, inverse = np.unique(coords[:, 1:3], axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


def _check_coords(coords: np.ndarray) -> np.ndarray:
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 3:
        raise WindowError(f"coords must be (n, 3) [time, row, col], got shape {coords.shape}")
    return coords


def heldout_split(coords: np.ndarray, fraction: float = 0.1, seed: int = 0) -> np.ndarray:
    """(n,) boolean mask of held-out samples: a random ``fraction`` of the coarse *cells*.

    Every day of a held-out cell is held out, so no cell is on both sides (neighbouring days
    of one cell are nearly identical and would leak). The cells drawn are
    ``round(fraction * n_cells)``, at least one and at most ``n_cells - 1`` when there are
    two or more cells and ``fraction > 0`` (none with a single cell). The draw depends only
    on the set of cells and ``seed``, not on the order of the samples.
    """
    coords = _check_coords(coords)
    if not 0.0 <= fraction < 1.0:
        raise WindowError(f"held-out fraction must be in [0, 1), got {fraction}")
    groups = cell_groups(coords)
    n_cells = int(groups.max()) + 1 if groups.size else 0
    if n_cells < 2 or fraction == 0.0:
        return np.zeros(coords.shape[0], dtype=bool)
    n_hold = min(max(1, round(fraction * n_cells)), n_cells - 1)
    held = np.random.default_rng(seed).choice(n_cells, size=n_hold, replace=False)
    return np.isin(groups, held)


def ks_heldout_split(
    coords: np.ndarray,
    y: np.ndarray,
    fraction: float = 0.1,
    seed: int = 0,
    alpha: float = 0.05,
    max_draws: int = 100,
    n_strata: int = 4,
) -> tuple[np.ndarray, float, int]:
    """The 16-day SMAP system's split (issue 17): held-out cells drawn by stratified random
    sampling (strata: quantiles of the cells' mean target), re-drawn until a two-sample
    Kolmogorov-Smirnov test of the held-out against the training targets no longer rejects
    equal distributions (p > ``alpha``), at most ``max_draws`` times (then the draw with the
    largest p is kept). Returns (mask, p, draws); whole cells as :func:`heldout_split`.
    """
    from scipy.stats import ks_2samp

    coords = _check_coords(coords)
    y = np.asarray(y, dtype=np.float64)
    if not 0.0 <= fraction < 1.0:
        raise WindowError(f"held-out fraction must be in [0, 1), got {fraction}")
    groups = cell_groups(coords)
    n_cells = int(groups.max()) + 1 if groups.size else 0
    if n_cells < 2 or fraction == 0.0:
        return np.zeros(coords.shape[0], dtype=bool), np.nan, 0
    n_hold = min(max(1, round(fraction * n_cells)), n_cells - 1)
    cell_mean = np.bincount(groups, weights=y, minlength=n_cells) / np.bincount(groups)
    k = max(1, min(n_strata, n_hold))
    edges = np.quantile(cell_mean, np.linspace(0, 1, k + 1)[1:-1])
    stratum = np.searchsorted(edges, cell_mean, side="right")
    members = [np.flatnonzero(stratum == s) for s in range(k)]
    quota = np.floor(n_hold * np.array([m.size for m in members]) / n_cells).astype(int)
    rng = np.random.default_rng(seed)
    best: tuple[float, np.ndarray] = (-1.0, np.zeros(coords.shape[0], dtype=bool))
    for draw in range(1, max_draws + 1):
        chosen = [rng.choice(m, q, replace=False) for m, q in zip(members, quota, strict=True)]
        held_cells = np.concatenate(chosen) if chosen else np.zeros(0, int)
        short = n_hold - held_cells.size  # rounding: the rest from all the other cells
        if short > 0:
            rest = np.setdiff1d(np.arange(n_cells), held_cells)
            held_cells = np.concatenate([held_cells, rng.choice(rest, short, replace=False)])
        mask = np.isin(groups, held_cells)
        p = float(ks_2samp(y[mask], y[~mask]).pvalue)
        if p > best[0]:
            best = (p, mask)
        if p > alpha:
            return mask, p, draw
    return best[1], best[0], max_draws


def heldout_mask(
    coords: np.ndarray, y: np.ndarray, mcfg: Mapping[str, Any]
) -> tuple[np.ndarray, dict[str, Any]]:
    """The held-out samples of a fit as config ``members`` says (``heldout_split``: random
    ``cells``, or ``ks_stratified`` cells), and what the split did."""
    if mcfg["heldout_split"] == "ks_stratified":
        mask, p, draws = ks_heldout_split(coords, y, mcfg["heldout_fraction"], mcfg["seed"])
        return mask, {"split": "ks_stratified", "ks_p": p, "split_draws": draws}
    mask = heldout_split(coords, mcfg["heldout_fraction"], mcfg["seed"])
    return mask, {"split": "cells", "ks_p": None, "split_draws": 1}
