"""Sub-cell detail calibrated at stations (issue 12; METHOD.md section 6).

The members learn from the variation between coarse cells and carry it to the 1 km cells.
Below the coarse cell the predictors relate to soil moisture differently (on the skill
worlds albedo follows soil colour more than wetness there, terrain and greenness matter
more), and only the stations see soil moisture at that scale. So the product's error at the
training stations, on the training days, is regressed on the predictors' *detail* at the
station's cell: each predictor minus its coarse cells' means that day (:func:`coarse_means`)
interpolated bilinearly between the cell centres (:func:`detail`). The fitted combination of
details (ridge regression on standardised details, intercept fitted but never applied) is
added to the product. A detail is smooth across coarse cell edges and averages to about zero
over a coarse cell, so the correction moves soil moisture within and between neighbouring
parts of coarse cells and leaves the cells' means nearly where the members and the coarse
product put them: no bullseyes round stations and no block edges. (Subtracting each cell's
own mean instead would leave a step at every coarse cell edge: on the skill worlds that
raised the product's block-edge ratio from about 1.05 to 1.7-2.1.)

A station's errors share its own bias (representativeness, calibration) from day to day, so
its pairs are not independent: a pooled regression lets the few stations' biases, which
happen to line up with their persistent details, set the coefficients. The fit therefore
treats the station bias as a random effect (:func:`quasi_demean`, the random-effects GLS
transform): each station's pairs lose the share of their station mean that its bias
explains, so its day-to-day variation counts in full and its mean only as much as the bias
variance allows. On the skill worlds the pooled fit's fold fits made the held-out stations'
cells worse against the truth (sparse RMSE x 1.058, irrigated x 1.019); this fit makes them
better than the member mean on every world that uses it (README "Skill across worlds").

How strongly to shrink (``ridge``) is chosen by station-held-out cross-validation over the
spatial folds, and the correction is used only where it wins that cross-validation against
no correction with the same paired t-tests the BMA must pass (across folds and across
stations, :func:`smdownscale.bma_pooled.gain_test`). Where it does not, the product goes
without it and says why.

Pure functions: arrays in, arrays out.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from smdownscale.blocks import Blocks
from smdownscale.bma_pooled import gain_test
from smdownscale.residual import fill_from_neighbours, spread, spread_at


def coarse_means(read: Callable[[slice], np.ndarray], blocks: Blocks, band_rows: int) -> np.ndarray:
    """NaN-aware mean of a (..., lat, lon) field over each coarse cell: (..., ny_c, nx_c).

    ``read(rows)`` returns the fine rows ``rows`` (all columns); the field is read in bands
    of ``band_rows`` rows, so memory is one band however tall the region. Coarse cells with
    no finite value are NaN.
    """
    ny, nx = blocks.fine_shape
    total = count = None
    starts = blocks.col_starts
    for r0 in range(0, ny, max(int(band_rows), 1)):
        rows = slice(r0, min(r0 + band_rows, ny))
        v = np.asarray(read(rows), dtype=np.float64)
        if v.shape[-1] != nx:
            raise ValueError(f"band of shape {v.shape} does not have the grid's {nx} columns")
        ok = np.isfinite(v)
        s = np.add.reduceat(np.where(ok, v, 0.0), starts, axis=-1)
        n = np.add.reduceat(ok.astype(np.int64), starts, axis=-1)
        if total is None:
            shape = (*v.shape[:-2], blocks.shape[0], blocks.shape[1])
            total, count = np.zeros(shape), np.zeros(shape, dtype=np.int64)
        crow = blocks.rows[rows]
        for k in np.unique(crow):
            inside = crow == k
            total[..., k, :] += s[..., inside, :].sum(axis=-2)
            count[..., k, :] += n[..., inside, :].sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def background(means: np.ndarray) -> np.ndarray:
    """The coarse means made finite for :func:`detail`: a coarse cell without a value takes
    the mean of its finite neighbours, else the field's mean that day (NaN only on a day
    with no value at all)."""
    m = fill_from_neighbours(means)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a day without any value
        overall = np.nanmean(m, axis=(-2, -1), keepdims=True)
    return np.where(np.isfinite(m), m, overall)


def detail(values: np.ndarray, back: np.ndarray, blocks: Blocks, rows: slice) -> np.ndarray:
    """Fine ``values`` (..., rows, lon) minus the coarse means ``back`` (the whole coarse
    grid, :func:`background`) interpolated bilinearly between coarse cell centres, as the
    coarse residual is spread: a smooth background, so the detail has no steps at coarse
    cell edges, and its mean over a coarse cell is close to zero."""
    return values - spread(back, blocks, rows, values.shape[-1])


def detail_at(
    values: np.ndarray, back: np.ndarray, blocks: Blocks, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """:func:`detail` at single fine cells ``(rows[i], cols[i])``; ``values`` (..., n)."""
    return values - spread_at(back, blocks, rows, cols)


@dataclass(frozen=True)
class DetailModel:
    """A fitted correction: ``sum_i coef[i] * detail_i`` (NaN details count 0)."""

    features: tuple[str, ...]
    coef: np.ndarray  # per unit of each feature's detail
    ridge: float  # the penalty per training pair chosen by cross-validation

    def correction(self, x: np.ndarray) -> np.ndarray:
        """The correction for details ``x`` (..., n_features): NaN where every one is NaN.
        See :meth:`add` for the same on one field per feature without stacking them."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != len(self.features):
            raise ValueError(f"{x.shape[-1]} details given, the model has {len(self.features)}")
        ok = np.isfinite(x)
        out = np.where(ok, x, 0.0) @ self.coef
        return np.where(ok.any(axis=-1), out, np.nan)

    def add(self, details: Sequence[np.ndarray]) -> np.ndarray:
        """``sum coef[i] * details[i]`` (NaN as 0) in float32, one feature at a time, so
        memory is two fields however many features (``details`` may be a generator)."""
        out = None
        for c, d in zip(self.coef, details, strict=True):
            term = np.float32(c) * np.nan_to_num(np.asarray(d, dtype=np.float32))
            out = term if out is None else np.add(out, term, out=out)
        return out

    def to_dict(self) -> dict:
        return {
            "features": list(self.features),
            "coef": [float(c) for c in self.coef],
            "ridge_per_pair": self.ridge,
        }

    @classmethod
    def from_dict(cls, d: dict) -> DetailModel:
        return cls(
            tuple(d["features"]), np.asarray(d["coef"], dtype=np.float64), d["ridge_per_pair"]
        )


def ridge_fit(x: np.ndarray, e: np.ndarray, ridge_per_pair: float) -> tuple[np.ndarray, float]:
    """Ridge regression of ``e`` on ``x`` (NaN as 0) with a free intercept: the coefficients
    per unit of ``x`` and the intercept. The columns are standardised first and the penalty
    is ``ridge_per_pair * n`` on the standardised coefficients (so its meaning does not
    change with the number of pairs)."""
    x = np.where(np.isfinite(x), x, 0.0)
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    z = (x - mu) / sd
    ec = e - e.mean()
    n, k = z.shape
    beta = np.linalg.solve(z.T @ z + ridge_per_pair * n * np.eye(k), z.T @ ec)
    coef = beta / sd
    return coef, float(e.mean() - mu @ coef)


def quasi_demean(
    x: np.ndarray, e: np.ndarray, stations: np.ndarray
) -> tuple[np.ndarray, np.ndarray, StationEffect]:
    """``x`` (NaN as 0) and ``e``, centred, minus ``theta`` times their station means: the
    random-effects transform for errors ``e = b_station + x @ coef + noise``, after which
    ordinary (ridge) least squares is the GLS fit. ``theta = 1 - sqrt(w / (w + n * s_b))``
    per station with ``n`` pairs, from ``w``, the variance of the day-to-day errors (the
    residuals of the within-station regression of ``e`` on ``x``, so that what the details
    explain is not counted as noise), and ``s_b``, the variance of the stations' mean errors
    less its sampling share (at least 0; it still holds what persistent details explain, so
    it errs towards a larger ``theta``). No station effect gives the pooled fit (theta 0), a
    large one keeps mainly each station's day-to-day variation (theta near 1). Where ``w``
    cannot be estimated (too few pairs per station for the features) the fit is the pooled
    one and the effect is reported as unknown (None)."""
    x = np.where(np.isfinite(x), x, 0.0)
    x = x - x.mean(axis=0)
    e = e - e.mean()
    _, idx, counts = np.unique(stations, return_inverse=True, return_counts=True)
    e_mean = np.bincount(idx, weights=e) / counts
    x_mean = np.zeros((counts.size, x.shape[1]))
    for j in range(x.shape[1]):
        x_mean[:, j] = np.bincount(idx, weights=x[:, j], minlength=counts.size) / counts
    e_within = e - e_mean[idx]
    x_within = x - x_mean[idx]
    coef, _, rank, _ = np.linalg.lstsq(x_within, e_within, rcond=None)
    resid = e_within - x_within @ coef
    dof = len(e) - counts.size - int(rank)
    if dof <= 0 or counts.size < 2:
        return x, e, StationEffect(None, None, 0.0)
    within = float(resid @ resid / dof)
    between = float(np.var(e_mean, ddof=1)) - within * float(np.mean(1.0 / counts))
    between = max(between, 0.0)
    if within > 0:
        theta = 1.0 - np.sqrt(within / (within + counts * between))
    else:  # no day-to-day noise left: only the within-station variation is fitted
        theta = np.ones(counts.size)
    effect = StationEffect(float(np.sqrt(between)), float(np.sqrt(within)), float(np.mean(theta)))
    return x - theta[idx, None] * x_mean[idx], e - theta[idx] * e_mean[idx], effect


@dataclass(frozen=True)
class StationEffect:
    """The station random effect of a fit: SD of the station biases, SD of the day-to-day
    errors (None: not estimable), and the mean over stations of the share of a station's
    mean removed (theta)."""

    between_sd: float | None
    within_sd: float | None
    theta: float


def ridge_fit_stations(
    x: np.ndarray, e: np.ndarray, stations: np.ndarray, ridge_per_pair: float
) -> tuple[np.ndarray, StationEffect]:
    """:func:`ridge_fit` on the :func:`quasi_demean` transform: the coefficients per unit
    of ``x`` with the stations' biases as a random effect."""
    xt, et, effect = quasi_demean(x, e, stations)
    coef, _ = ridge_fit(xt, et, ridge_per_pair)
    return coef, effect


def _predict(x: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    return np.where(np.isfinite(x), x, 0.0) @ coef + intercept


@dataclass
class DetailFit:
    """What :func:`fit_detail` decided: the model (None: no correction), and why."""

    model: DetailModel | None
    reason: str
    n_pairs: int
    n_stations: int
    cv: list[dict] = field(default_factory=list)  # per penalty: held-out MSE
    effect: StationEffect | None = None  # in the training pairs (None: too few to fit)

    def to_dict(self) -> dict:
        return {
            "station_effect": None if self.effect is None else asdict(self.effect),
            "applied": self.model is not None,
            "model": self.model.to_dict() if self.model is not None else None,
            "reason": self.reason,
            "n_pairs": self.n_pairs,
            "n_stations": self.n_stations,
            "cv": self.cv,
        }


def fit_detail(
    x: np.ndarray,
    e: np.ndarray,
    stations: np.ndarray,
    folds: np.ndarray,
    features: Sequence[str],
    ridges: Sequence[float],
    confidence: float,
    min_pairs_per_feature: int = 1,
) -> DetailFit:
    """Choose and fit the correction of the errors ``e`` (in situ minus product) from the
    details ``x`` (n, n_features) at the stations' cells, by station-held-out CV.

    ``folds`` gives each pair's spatial fold (a station's pairs share one). For each penalty
    in ``ridges`` every fold is predicted from the others (fitted with the stations' biases
    as a random effect, :func:`ridge_fit_stations`; scored as the product applies it, the
    correction alone without an intercept, on the raw errors); the penalty with the lowest
    held-out MSE is the candidate, and it is used only when its gain over no correction passes
    :func:`~smdownscale.bma_pooled.gain_test` at ``confidence``. With fewer than
    ``min_pairs_per_feature`` pairs per feature nothing is fitted: a station's daily errors
    share its bias, so the pairs hold far fewer independent errors than their count, and
    with few of them the held-out gain is noise.
    """
    x = np.asarray(x, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    stations = np.asarray(stations)
    n_st = int(np.unique(stations).size)
    ufolds = np.unique(folds)
    need = int(min_pairs_per_feature) * len(features)
    if len(e) < need:
        return DetailFit(
            None,
            f"{len(e)} training pairs, fewer than the {need} needed "
            f"({min_pairs_per_feature} per feature, bma.subcell.min_pairs_per_feature)",
            len(e),
            n_st,
        )
    if len(e) == 0 or ufolds.size < 2 or n_st < 3:
        return DetailFit(
            None,
            f"too few stations or folds to cross-validate ({n_st} stations, {ufolds.size} "
            "folds with training pairs)",
            len(e),
            n_st,
        )
    # what the product applies is x @ coef alone (the intercept absorbs the member mean's
    # overall bias while fitting and is never applied); so that is what is scored, against
    # no correction at all
    none = np.zeros_like(e)
    best = None
    cv = []
    for lam in ridges:
        pred = np.empty_like(e)
        for f in ufolds:
            held = folds == f
            coef, _ = ridge_fit_stations(x[~held], e[~held], stations[~held], lam)
            pred[held] = _predict(x[held], coef, 0.0)
        mse = float(np.mean((e - pred) ** 2))
        cv.append({"ridge_per_pair": float(lam), "heldout_mse": mse})
        if best is None or mse < best[0]:
            best = (mse, float(lam), pred)
    base_mse = float(np.mean(e**2))
    cv.append({"ridge_per_pair": None, "heldout_mse": base_mse})
    won, said = gain_test(none, best[2], e, folds, stations, confidence)
    gain = f"held-out MSE {best[0]:.3e} against {base_mse:.3e} without ({said})"
    xt, et, effect = quasi_demean(x, e, stations)
    if not won:
        return DetailFit(
            None, f"no clear gain at held-out stations: {gain}", len(e), n_st, cv, effect
        )
    coef, _ = ridge_fit(xt, et, best[1])
    return DetailFit(
        DetailModel(tuple(features), coef, best[1]),
        f"ridge {best[1]:g} per pair: {gain}",
        len(e),
        n_st,
        cv,
        effect,
    )
