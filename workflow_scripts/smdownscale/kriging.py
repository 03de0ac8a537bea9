"""Ordinary kriging of the stations' BMA parameters to the fine grid (METHOD.md section 8).

What is kriged
    Every per-station parameter is a *field*: the BMA weights ``w_<member>`` (through their
    centred log-ratio, so that the kriged weights are non-negative and sum to one at every
    cell), the bias terms ``a_<member>``, ``b_<member>`` and ``log_sigma`` (as they are).
    Station positions are degrees longitude/latitude (WGS84 treated as a sphere of radius
    6371 km); distances are in km.

Geometry
    One geometry for fitting and kriging, the same as gstools' ``latlon=True`` models with
    ``geo_scale=gs.KM_SCALE``: the empirical variogram is binned by great-circle distance
    (km), and every covariance is evaluated at the *chordal* distance (km) between the points
    on the 6371 km sphere (Yadrenko's construction; gstools converts the great-circle bin
    lags to chordal distances when it fits). A covariance model valid in 3-D is then
    positive definite on the sphere, and the kriging equals ``gs.krige.Ordinary`` on the same
    model (a unit test checks this to 1e-8).

One correlation model for all fields (the choice that makes kriging cheap)
    All fields share the same stations. Each field is standardised to zero mean and unit
    variance at the stations (sample variance, ddof=1), the standardised fields' empirical
    variograms are pooled (gstools ``vario_estimate`` with the fields as realisations: sums of
    squared differences over all fields per bin), and ONE normalised model with total sill 1
    is fitted to the pool: the length scale (km) and, when ``nugget`` is on, the nugget
    fraction; shape parameters (Matern ``nu``, stable ``alpha``) are held at the configured or
    gstools' default values unless ``fit_shape``. Each field's covariance is that normalised
    model times the field's own sill = its station sample variance. Consequences:

    * the ordinary-kriging weights are the same for every field, so the (n+1) x (n+1) system
      is factorised once and each target point needs one solve for all F fields;
    * each field's kriging variance is its sill times the one normalised kriging variance;
    * constant fields (zero variance) are left out of the pool and kriged with sill 0
      (their constant value, SD 0).

    The price: fields with genuinely different ranges get a compromise range. With 13 fields
    and a few hundred stations the pooled variogram is far better determined than any single
    field's, which is the usual situation here (weights, biases and sigma all inherit the
    members' spatial error structure).

Nugget
    With ``nugget`` on, the nugget is treated as measurement error (gstools ``exact=False``):
    it is added to the station-station covariance diagonal only, so the kriged mean smooths
    through the stations instead of reproducing them, and the kriging variance is taken from
    the total sill (nugget included, as gstools reports it: the variance of a new station's
    value at that cell). Without a nugget the kriged mean reproduces each station's value at
    its own location (to rounding) and the kriging variance there is 0.

Failed fits and the fallback
    :func:`fit_variogram` never raises on data: too few stations (``min_stations``), too few
    usable lag bins, all fields constant, a fit that does not converge, a length scale that is
    not finite or sits at its bound, a pure nugget, a fit R2 below ``min_r2``, or a model whose
    correlation at the first usable lag bin is below 0.05 (no structure resolved) give a
    :class:`VariogramFit` with ``ok=False`` and the ``reason``. :class:`ParameterKriging` then
    uses the fallback for every field: the mean of the stations in the cell's region (cluster),
    or of all stations where the region has none (or no labels are given), with SD = the sample
    SD of those station values (the all-station SD where the region has a single station; NaN
    with one station in total). Weights fall back to the arithmetic region mean of the station
    weights, which is on the simplex too. The per-field record (``fallback``) and the per-cell
    source code (:data:`SOURCE_KRIGED`, :data:`SOURCE_REGION`, :data:`SOURCE_ALL_STATIONS`) let
    the caller log, count and flag it.

Weights: centred log-ratio, softmax and the delta method
    ``clr(w) = log(w) - mean(log(w))`` after flooring the weights at ``weight_floor``
    (default 1e-6) and re-closing them to sum 1, so that a weight at or near 0 gives a large
    negative but finite value (log(1e-6) minus the mean log weight: -9.5 for (0, 1/3, 1/3,
    1/3)); weights above the floor are unchanged. Kriging is
    linear with weights summing to one, so the kriged clr components still sum to zero; softmax
    maps them back. The SD of a back-transformed weight uses the first-order delta method,
    ``dw_k/dz_j = w_k (delta_kj - w_j)``, with the clr components' kriging errors treated as
    independent: ``var(w_k) = w_k^2 [sum_j w_j^2 s_j^2 + (1 - 2 w_k) s_k^2]``, where ``s_j`` is
    the kriging SD of clr component j. This ignores the (negative) correlation between clr
    components, which sum to zero, and the curvature of softmax; it is a scale for the
    uncertainty of the weight maps, not an exact posterior SD.

The fine grid: helper grid, bilinear interpolation, direct kriging near stations
    Kriging every one of the 9.1 M cells of the Three-North 0.01 deg grid from 300 stations
    costs 9.1 M x 300^2 = 8e11 multiply-adds for the variances alone (~115 s on 2 cores).
    :class:`KrigedGrid` kriges a helper grid made of every ``factor``-th fine cell centre
    (rows and columns, plus the last row and column; default 10, i.e. 0.1 deg) and
    interpolates bilinearly (in cell index, i.e. in lon/lat) to the fine cells, one row block
    at a time; the helper rows a block needs are kriged on demand and dropped once passed, so
    memory is bounded by the block size whatever the grid size. The clr means, the linear
    fields' means and the one normalised kriging *variance* are interpolated; SDs and weights
    are formed per fine cell afterwards (so weights still sum to one and SDs stay
    non-negative). Kriged surfaces have a cusp at every station (the mean is pinned to the
    station value, the variance drops to 0 there; for the exponential model both change
    linearly with distance), which bilinear interpolation between nodes 0.1 deg apart cuts
    off: so the fine cells within ``refine_radius x factor`` cells (default 2 x 10 = 20
    cells, 0.2 deg) of a station are kriged directly (~1700 cells per station).
    ``factor=1`` kriges every fine cell directly (same code path).

    Interpolation error, measured by ``tests/benchmarks/bench_kriging.py`` against direct
    kriging of 200,000 random fine cells plus every station's own cell (300 stations over the
    1671 x 5441 Three-North grid, 13 fields simulated as exponential random fields with a
    400 km length scale, pooled exponential fit without nugget, factor 10, refine 2):
    a, b and log sigma: mean max |error| 1.9 %, RMS 0.056 % of the field's station SD; SD
    max 0.85 %, RMS 0.045 %. Weights: mean max 2.5e-3, RMS 8.7e-5; SD max 1.5e-3, RMS 6.1e-5
    (weight units). Cells holding a station agree to float32 rounding (kriged directly).
    Without the direct kriging near stations (``refine_radius=0``) the largest errors, all at
    the stations' cusps, are ~10x larger (up to 4 % of the station SD for means and 18 % for
    SDs on a 400 x 800-cell part of the same grid). Cost of the whole grid, all 13 fields with
    SD, float32 blocks of 64 rows: 10.8 s wall on 2 cores, peak RSS rise 202 MiB (the grid's
    13 x 2 float32 fields alone would be 950 MB).

Everything here is pure: arrays in, arrays (or xarray) out; no file paths.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gstools as gs
import numpy as np
import pandas as pd
import xarray as xr
from scipy import linalg
from scipy.spatial.distance import cdist, pdist

from .grid import LatLonGrid

#: Earth radius (km) of the spherical geometry; gstools' ``KM_SCALE``.
EARTH_RADIUS_KM = float(gs.KM_SCALE)

#: Default floor applied to weights before the log-ratio (dimensionless).
WEIGHT_FLOOR = 1e-6

#: Default number of target points per kriging chunk (bounds memory: ~3 arrays of
#: chunk x n_stations float64).
DEFAULT_CHUNK = 4096

#: Prefix of the weight columns in a station parameter table.
WEIGHT_PREFIX = "w_"

#: Per-cell source codes (for quality flags).
SOURCE_KRIGED = 0
SOURCE_REGION = 1
SOURCE_ALL_STATIONS = 2

#: Variogram model families by config name.
FAMILIES: dict[str, type[gs.CovModel]] = {
    "exponential": gs.Exponential,
    "spherical": gs.Spherical,
    "gaussian": gs.Gaussian,
    "matern": gs.Matern,
    "stable": gs.Stable,
    "cubic": gs.Cubic,
    "circular": gs.Circular,
}

#: Jitter added to the normalised covariance diagonal when the system is singular or nearly
#: so (e.g. co-located stations without a nugget); tried in this order.
_JITTERS = (0.0, 1e-8, 1e-6)

#: Smallest accepted squared Cholesky pivot without jitter (the conditional variance of a
#: station given the previous ones, sill 1); below it the system counts as near-singular.
_MIN_PIVOT2 = 1e-9

#: Relative closeness to a bound at which a fitted length scale counts as "at its bound".
_AT_BOUND = 1e-3

#: A fit whose correlation at the first usable lag bin's lag is below this resolves no
#: spatial structure (a pure nugget in disguise, e.g. a tiny len_scale) and counts as failed.
_MIN_COR_FIRST_BIN = 0.05


class KrigingError(ValueError):
    """Inputs or settings that cannot be used, with a message saying what to change."""


# --------------------------------------------------------------------------- simplex
def clr(w: np.ndarray, floor: float = WEIGHT_FLOOR, axis: int = -1) -> np.ndarray:
    """Centred log-ratio of weights on the simplex.

    Args:
        w: weights, (n, K) by default (components along ``axis``); non-negative.
        floor: weights below ``floor`` are raised to it and every row is re-closed to sum 1
            before taking logs, so zeros give finite values (about ``log(floor)``).
        axis: the component axis.

    Returns:
        ``log(w) - mean(log(w))`` along ``axis`` (float64, same shape); rows sum to 0.
    """
    if not floor > 0:
        raise KrigingError(f"the weight floor must be positive, got {floor}")
    w = np.maximum(np.asarray(w, dtype=np.float64), floor)
    w = w / w.sum(axis=axis, keepdims=True)
    lw = np.log(w)
    return lw - lw.mean(axis=axis, keepdims=True)


def clr_inverse(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``: the inverse of :func:`clr` (up to the floor).

    Returns non-negative weights summing to 1 along ``axis``, in ``z``'s float dtype.
    """
    z = np.asarray(z)
    if not np.issubdtype(z.dtype, np.floating):
        z = z.astype(np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def weights_sd(w: np.ndarray, z_sd: np.ndarray, axis: int = -1) -> np.ndarray:
    """Delta-method SD of softmax weights from the SDs of their clr components.

    ``dw_k/dz_j = w_k (delta_kj - w_j)``; with the components' errors treated as independent,
    ``var(w_k) = sum_j (w_k (delta_kj - w_j))^2 s_j^2 = w_k^2 [S + (1 - 2 w_k) s_k^2]`` with
    ``S = sum_j w_j^2 s_j^2``. First order, correlations between clr components ignored (see
    the module docstring).

    Args:
        w: back-transformed weights (components along ``axis``).
        z_sd: kriging SDs of the clr components, same shape.
    """
    w = np.asarray(w)
    s2 = np.square(np.asarray(z_sd, dtype=w.dtype))
    w2 = w * w
    total = (w2 * s2).sum(axis=axis, keepdims=True)
    var = w2 * (total + (1.0 - 2.0 * w) * s2)
    return np.sqrt(np.maximum(var, 0.0))


# --------------------------------------------------------------------------- geometry
def xyz_km(lon: np.ndarray, lat: np.ndarray, radius: float = EARTH_RADIUS_KM) -> np.ndarray:
    """(n, 3) Cartesian positions (km) of lon/lat points (degrees) on a sphere.

    Euclidean distances between these rows are the chordal distances used by every
    covariance here (the same positions gstools builds for ``latlon=True`` models).
    """
    lat_r = np.deg2rad(np.asarray(lat, dtype=np.float64).ravel())
    lon_r = np.deg2rad(np.asarray(lon, dtype=np.float64).ravel())
    c = np.cos(lat_r)
    return radius * np.column_stack([c * np.cos(lon_r), c * np.sin(lon_r), np.sin(lat_r)])


def chordal_to_great_circle(d: np.ndarray, radius: float = EARTH_RADIUS_KM) -> np.ndarray:
    """Great-circle distance (km) of a chordal distance (km) on the sphere."""
    return 2.0 * radius * np.arcsin(np.clip(np.asarray(d) / (2.0 * radius), 0.0, 1.0))


def great_circle_to_chordal_km(
    d: np.ndarray | float, radius: float = EARTH_RADIUS_KM
) -> np.ndarray:
    """Chordal distance (km) of a great-circle distance (km) on the sphere."""
    return 2.0 * radius * np.sin(np.asarray(d, dtype=np.float64) / (2.0 * radius))


# --------------------------------------------------------------------------- variogram
@dataclass(frozen=True)
class KrigingSettings:
    """Variogram, kriging and grid settings (config ``bma.kriging`` maps onto these).

    family: variogram model name, one of :data:`FAMILIES`.
    nugget: fit a nugget fraction (else the model has none and kriging is exact).
    n_bins: number of equal-width lag bins from 0 to ``max_dist_km``.
    max_dist_km: largest lag binned (great-circle km); default half the largest station
        separation.
    min_stations: fewer stations than this -> fallback (no variogram is fitted).
    min_pairs_per_bin: bins with fewer station pairs are not used in the fit.
    min_bins: fewer usable bins than this -> fallback.
    min_r2: a fit whose R2 against the usable bins of the empirical variogram is below this
        counts as failed (default 0: a model worse than a flat line is not used).
    len_scale_bounds_km: (lower, upper) bounds of the fitted length scale; default
        (0.1 x the first usable bin's lag, 3 x the largest station separation). A fitted
        value within 0.1 % of a bound counts as a failed fit.
    shape: fixed shape parameters (e.g. ``{"nu": 1.5}`` for matern, ``{"alpha": 1.0}`` for
        stable); missing ones take gstools' defaults.
    fit_shape: also fit the shape parameters (within gstools' bounds).
    weight_floor: floor of the weights before the log-ratio.
    helper_factor: the helper grid takes every ``helper_factor``-th fine cell (1: krige every
        fine cell).
    refine_radius: fine cells within ``refine_radius x helper_factor`` cells (rows and
        columns) of a station are kriged directly instead of interpolated (0: none), because
        the kriged surfaces have a cusp at every station that bilinear interpolation cuts off.
    chunk_size: target points per kriging chunk.
    """

    family: str = "exponential"
    nugget: bool = False
    n_bins: int = 12
    max_dist_km: float | None = None
    min_stations: int = 10
    min_pairs_per_bin: int = 10
    min_bins: int = 4
    min_r2: float = 0.0
    len_scale_bounds_km: tuple[float, float] | None = None
    shape: Mapping[str, float] = field(default_factory=dict)
    fit_shape: bool = False
    weight_floor: float = WEIGHT_FLOOR
    helper_factor: int = 10
    refine_radius: float = 2.0
    chunk_size: int = DEFAULT_CHUNK

    def __post_init__(self) -> None:
        if self.family.lower() not in FAMILIES:
            raise KrigingError(
                f"unknown variogram family {self.family!r}; choose one of {sorted(FAMILIES)}"
            )
        for name in ("n_bins", "min_stations", "min_pairs_per_bin", "min_bins"):
            if int(getattr(self, name)) < 1:
                raise KrigingError(f"kriging setting {name} must be >= 1")
        if self.n_bins < 2 or self.min_bins < 2:
            raise KrigingError("kriging needs n_bins >= 2 and min_bins >= 2")
        if self.max_dist_km is not None and not self.max_dist_km > 0:
            raise KrigingError(f"max_dist_km must be positive, got {self.max_dist_km}")
        if self.len_scale_bounds_km is not None:
            lo, hi = self.len_scale_bounds_km
            if not 0 <= lo < hi:
                raise KrigingError(f"len_scale_bounds_km must be 0 <= lower < upper, got {lo, hi}")
        if int(self.helper_factor) != self.helper_factor or self.helper_factor < 1:
            raise KrigingError(f"helper_factor must be a positive integer: {self.helper_factor}")
        if not self.refine_radius >= 0:
            raise KrigingError(f"refine_radius must be >= 0, got {self.refine_radius}")
        if int(self.chunk_size) < 1:
            raise KrigingError(f"chunk_size must be positive, got {self.chunk_size}")
        if not self.weight_floor > 0:
            raise KrigingError(f"weight_floor must be positive, got {self.weight_floor}")
        allowed = set(FAMILIES[self.family.lower()](dim=2).opt_arg)
        unknown = set(self.shape) - allowed
        if unknown:
            raise KrigingError(
                f"shape parameters {sorted(unknown)} do not belong to the {self.family} model "
                f"(it has {sorted(allowed) or 'none'})"
            )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> KrigingSettings:
        """Settings from a config mapping; unknown keys raise :class:`KrigingError`.

        ``bins`` is accepted for ``n_bins`` (the config schema's name).
        """
        mapping = dict(mapping or {})
        if "bins" in mapping:
            if "n_bins" in mapping:
                raise KrigingError("give the number of lag bins once: 'bins' or 'n_bins'")
            mapping["n_bins"] = mapping.pop("bins")
        known = set(cls.__dataclass_fields__)
        unknown = set(mapping) - known
        if unknown:
            raise KrigingError(
                f"unknown kriging settings {sorted(unknown)}; known: {sorted(known)}"
            )
        if mapping.get("len_scale_bounds_km") is not None:
            mapping["len_scale_bounds_km"] = tuple(float(v) for v in mapping["len_scale_bounds_km"])
        if mapping.get("shape") is not None:
            mapping["shape"] = {str(k): float(v) for k, v in mapping["shape"].items()}
        return cls(**mapping)


def normalised_model(
    family: str, len_scale_km: float, nugget_fraction: float = 0.0, **shape: float
) -> gs.CovModel:
    """A gstools lat/lon model (km) with total sill 1: ``var = 1 - f``, ``nugget = f``."""
    cls = FAMILIES[family.lower()]
    return cls(
        latlon=True,
        geo_scale=gs.KM_SCALE,
        var=1.0 - nugget_fraction,
        nugget=nugget_fraction,
        len_scale=len_scale_km,
        **shape,
    )


@dataclass(frozen=True)
class VariogramFit:
    """The pooled, normalised variogram fit (or why there is none).

    ``ok`` says whether a model was fitted; ``reason`` says why not (None when ok).
    ``len_scale_km`` and ``nugget_fraction`` describe the normalised model (total sill 1);
    ``shape`` its shape parameters; ``model`` the gstools model (None when not ok).
    ``lag_km`` (mean great-circle distance of each bin's station pairs), ``gamma`` (pooled
    semivariance of the standardised fields, dimensionless) and ``pairs`` (station pairs per
    bin) are the empirical variogram's usable bins (empty when it was not computed); ``r2``
    is the fit's R^2 score.
    """

    ok: bool
    reason: str | None
    family: str
    n_stations: int
    n_fields_pooled: int = 0
    len_scale_km: float = math.nan
    nugget_fraction: float = math.nan
    shape: Mapping[str, float] = field(default_factory=dict)
    model: gs.CovModel | None = None
    lag_km: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gamma: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    r2: float = math.nan

    def attrs(self) -> dict[str, Any]:
        """Flat description for logs and NetCDF global attributes."""
        out: dict[str, Any] = {
            "variogram_family": self.family,
            "variogram_ok": int(self.ok),
            "variogram_n_stations": self.n_stations,
            "variogram_n_fields_pooled": self.n_fields_pooled,
            "variogram_len_scale_km": float(self.len_scale_km),
            "variogram_nugget_fraction": float(self.nugget_fraction),
            "variogram_r2": float(self.r2),
        }
        for k, v in self.shape.items():
            out[f"variogram_{k}"] = float(v)
        if self.reason:
            out["variogram_failure"] = self.reason
        return out


def _as_fields(values: np.ndarray, n: int) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2 or v.shape[0] != n:
        raise KrigingError(f"station values must be (n_stations={n}, n_fields), got {v.shape}")
    return v


def _check_points(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon = np.asarray(lon, dtype=np.float64).ravel()
    lat = np.asarray(lat, dtype=np.float64).ravel()
    if lon.shape != lat.shape:
        raise KrigingError(f"lon and lat differ in length: {lon.size} vs {lat.size}")
    return lon, lat


def standardise_fields(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standardised non-constant fields and the sills (sample variances, ddof=1) of all.

    Returns ``(z, sills)``: ``z`` is (n_nonconstant, n) with unit sample variance (the
    realisations axis first, as gstools wants it); ``sills`` is (F,), 0 for constant fields
    (spread below 1e-12 of the field's magnitude) and when there is a single station.
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.shape[0]
    sills = v.var(axis=0, ddof=1) if n > 1 else np.zeros(v.shape[1])
    scale = 1e-12 * np.maximum(1.0, np.abs(v).max(axis=0)) if n else np.ones(v.shape[1])
    varying = np.sqrt(sills) > scale
    sills = np.where(varying, sills, 0.0)
    z = (v[:, varying] - v[:, varying].mean(axis=0)) / np.sqrt(sills[varying])
    return z.T, sills


def fit_variogram(
    lon: np.ndarray,
    lat: np.ndarray,
    values: np.ndarray,
    settings: KrigingSettings | None = None,
) -> VariogramFit:
    """Fit ONE normalised variogram model to the pooled standardised fields.

    Args:
        lon, lat: station positions (degrees), (n,).
        values: station values, (n, F) (or (n,) for one field); finite.
        settings: family, bins, nugget, limits (:class:`KrigingSettings`).

    Returns:
        A :class:`VariogramFit`; never raises on data (``ok=False`` and ``reason`` instead).
    """
    s = settings or KrigingSettings()
    family = s.family.lower()
    lon, lat = _check_points(lon, lat)
    n = lon.size
    v = _as_fields(values, n)
    if not (np.isfinite(v).all() and np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise KrigingError("station positions and values must be finite (drop such stations)")
    fail = {"ok": False, "family": family, "n_stations": n}
    if n < max(s.min_stations, 3):
        return VariogramFit(
            reason=f"too few stations for a variogram: {n} < {max(s.min_stations, 3)}", **fail
        )
    z, _ = standardise_fields(v)
    if z.shape[0] == 0:
        return VariogramFit(reason="every field is constant at the stations", **fail)
    fail["n_fields_pooled"] = z.shape[0]
    dist = chordal_to_great_circle(pdist(xyz_km(lon, lat)))
    max_sep = float(dist.max())
    max_dist = s.max_dist_km if s.max_dist_km is not None else 0.5 * max_sep
    if not max_dist > 0:
        return VariogramFit(reason="all stations are at the same position", **fail)
    edges = np.linspace(0.0, max_dist, s.n_bins + 1)
    # lag of each bin: the mean distance of its station pairs (not the bin's midpoint, which
    # biases the length scale low because pairs crowd towards a bin's far edge)
    n_in, _ = np.histogram(dist, edges)
    d_sum, _ = np.histogram(dist, edges, weights=dist)
    centres = np.where(n_in > 0, d_sum / np.maximum(n_in, 1), 0.5 * (edges[1:] + edges[:-1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, gamma = gs.vario_estimate(
            (lat, lon),
            z,
            edges.copy(),  # gstools rescales the edges in place
            latlon=True,
            geo_scale=gs.KM_SCALE,
        )
    pairs = n_in.astype(np.int64)
    use = (pairs >= s.min_pairs_per_bin) & np.isfinite(gamma)
    fail.update(lag_km=centres[use], gamma=np.asarray(gamma)[use], pairs=pairs[use])
    if use.sum() < s.min_bins:
        return VariogramFit(
            reason=(
                f"only {int(use.sum())} lag bins have >= {s.min_pairs_per_bin} station pairs "
                f"(need {s.min_bins})"
            ),
            **fail,
        )
    x, y = centres[use], np.asarray(gamma)[use]
    lo, hi = s.len_scale_bounds_km or (0.1 * float(x[0]), 3.0 * max_sep)
    model = FAMILIES[family](latlon=True, geo_scale=gs.KM_SCALE, **dict(s.shape))
    select: dict[str, bool] = {"nugget": bool(s.nugget)}
    if not s.fit_shape:
        select.update({name: False for name in model.opt_arg})
    try:
        model.set_arg_bounds(len_scale=[lo, hi])
        model.len_scale = math.sqrt(lo * hi) if lo > 0 else 0.5 * hi
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, _, r2 = model.fit_variogram(x, y, sill=1.0, return_r2=True, **select)
    except Exception as exc:  # any failure of the fit is reported, never raised
        return VariogramFit(reason=f"variogram fit failed: {type(exc).__name__}: {exc}", **fail)
    ls = float(model.len_scale)
    nug = float(model.nugget) / float(model.sill) if model.sill > 0 else math.nan
    shape = {name: float(getattr(model, name)) for name in model.opt_arg}
    fail.update(len_scale_km=ls, nugget_fraction=nug, shape=shape, r2=float(r2))
    if not math.isfinite(ls) or not math.isfinite(nug):
        return VariogramFit(reason=f"fitted len_scale {ls} or nugget {nug} not finite", **fail)
    if ls <= lo * (1 + _AT_BOUND) or ls >= hi * (1 - _AT_BOUND):
        return VariogramFit(
            reason=f"fitted len_scale {ls:.4g} km is at its bound [{lo:.4g}, {hi:.4g}] km",
            **fail,
        )
    if nug >= 1.0 - 1e-6:
        return VariogramFit(reason="the fit is a pure nugget (no spatial correlation)", **fail)
    if not float(r2) >= s.min_r2:
        return VariogramFit(
            reason=(
                f"the variogram model explains too little of the empirical variogram "
                f"(R2 {float(r2):.3g} < min_r2 {s.min_r2:g})"
            ),
            **fail,
        )
    cor_first = float(model.correlation(great_circle_to_chordal_km(float(x[0]))))
    if cor_first < _MIN_COR_FIRST_BIN:
        return VariogramFit(
            reason=(
                f"no spatial correlation resolved: the fitted correlation at the shortest lag "
                f"binned ({x[0]:.4g} km) is {cor_first:.3g} < {_MIN_COR_FIRST_BIN} "
                f"(len_scale {ls:.4g} km)"
            ),
            **fail,
        )
    fail.update(ok=True)
    norm = normalised_model(family, ls, nug, **shape)
    return VariogramFit(reason=None, model=norm, **fail)


# --------------------------------------------------------------------------- kriging
class OrdinaryKriging:
    """Ordinary kriging of F fields that share the stations and one normalised model.

    The (n+1) x (n+1) ordinary-kriging system (with the Lagrange multiplier) is solved once
    through the Cholesky factor ``L`` of the normalised station covariance ``C``:
    ``C^-1 1``, ``C^-1 V`` and ``1' C^-1 1`` are precomputed. For a target with normalised
    covariances ``k`` to the stations, with ``t = 1' C^-1 k``:

    * mean (all fields) ``= k' C^-1 V + (1 - t) / (1' C^-1 1) * 1' C^-1 V`` (exactly
      ``k_aug' A^-1 [V; 0]`` of the augmented system, O(n F) per point);
    * normalised variance ``= 1 - |L^-1 k|^2 + (1 - t)^2 / (1' C^-1 1)`` (O(n^2) per point:
      one triangular solve for all fields); field f's variance is ``sill_f`` times it.

    Targets are processed in chunks of ``chunk_size`` points (memory ~3 x chunk x n float64).

    Args:
        lon, lat: station positions (degrees), (n,).
        values: station values (n, F) or (n,); finite.
        model: a gstools model with ``latlon=True``; only its shape matters (it is
            normalised to total sill 1, keeping its nugget fraction). Distances are chordal in
            units of ``model.geo_scale`` (km for ``gs.KM_SCALE``), as in gstools.
        sills: per-field sills (default: station sample variances, ddof=1).

    Raises:
        KrigingError: bad shapes, a model without ``latlon``, or a system that stays singular
            after adding a jitter of up to 1e-6 to the normalised diagonal. A near-singular
            system (a squared Cholesky pivot below 1e-9, e.g. co-located stations without a
            nugget) gets the smallest jitter that works, recorded in ``jitter`` (0 normally):
            co-located stations are then kriged as their mean.
    """

    def __init__(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        values: np.ndarray,
        model: gs.CovModel,
        sills: np.ndarray | None = None,
    ) -> None:
        if not model.latlon:
            raise KrigingError("the kriging model must be a lat/lon model (latlon=True)")
        lon, lat = _check_points(lon, lat)
        self.n = lon.size
        if self.n < 1:
            raise KrigingError("ordinary kriging needs at least one station")
        v = _as_fields(values, self.n)
        if not np.isfinite(v).all():
            raise KrigingError("station values must be finite")
        self.n_fields = v.shape[1]
        self.model = model
        self.radius = float(model.geo_scale)
        total = float(model.sill)
        if not total > 0:
            raise KrigingError("the model's sill must be positive")
        self.nugget_fraction = float(model.nugget) / total
        self._scale = 1.0 / total
        if sills is None:
            sills = standardise_fields(v)[1]
        self.sills = np.asarray(sills, dtype=np.float64).reshape(self.n_fields)
        self._xyz = xyz_km(lon, lat, self.radius)
        cov = self._cov(cdist(self._xyz, self._xyz))
        cov[np.diag_indices(self.n)] += self.nugget_fraction
        self.jitter = math.nan
        for jitter in _JITTERS:
            try:
                self._chol = linalg.cho_factor(
                    cov + jitter * np.eye(self.n), lower=True, check_finite=False
                )
            except linalg.LinAlgError:
                continue
            pivot2 = np.diag(self._chol[0]) ** 2
            if np.all(np.isfinite(pivot2)) and (jitter > 0 or pivot2.min() >= _MIN_PIVOT2):
                self.jitter = jitter
                break
        else:
            raise KrigingError(
                "the kriging system is singular (co-located stations without a nugget?)"
            )
        self._mean = v.mean(axis=0)
        ones = np.ones(self.n)
        self._c1 = linalg.cho_solve(self._chol, ones, check_finite=False)
        self._s11 = float(ones @ self._c1)
        self._P = linalg.cho_solve(self._chol, v - self._mean, check_finite=False)
        self._s1v = self._P.sum(axis=0)

    def _cov(self, d: np.ndarray) -> np.ndarray:
        """Normalised covariance (nugget excluded) at chordal distances ``d``."""
        return self.model.covariance(d) * self._scale

    def predict_normalised(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        chunk_size: int = DEFAULT_CHUNK,
        return_var: bool = True,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Kriged means (m, F) and the normalised kriging variance (m,) at the targets.

        The normalised variance is dimensionless (total sill 1); None when not requested.
        """
        lon, lat = _check_points(lon, lat)
        m = lon.size
        mean = np.empty((m, self.n_fields))
        nvar = np.empty(m) if return_var else None
        for a in range(0, m, max(1, int(chunk_size))):
            b = min(m, a + int(chunk_size))
            k = self._cov(cdist(xyz_km(lon[a:b], lat[a:b], self.radius), self._xyz))
            t = k @ self._c1
            lag = (1.0 - t) / self._s11
            mean[a:b] = k @ self._P + lag[:, None] * self._s1v + self._mean
            if nvar is not None:
                u = linalg.solve_triangular(self._chol[0], k.T, lower=True, check_finite=False)
                q = np.einsum("ij,ij->j", u, u)
                nvar[a:b] = np.maximum(1.0 - q + (1.0 - t) * lag, 0.0)
        return mean, nvar

    def predict(
        self, lon: np.ndarray, lat: np.ndarray, chunk_size: int = DEFAULT_CHUNK
    ) -> tuple[np.ndarray, np.ndarray]:
        """Kriged means (m, F) and kriging SDs (m, F) in the fields' units."""
        mean, nvar = self.predict_normalised(lon, lat, chunk_size)
        assert nvar is not None
        return mean, np.sqrt(nvar[:, None] * self.sills[None, :])


# --------------------------------------------------------------------------- fallback
class RegionMeans:
    """Per-region station means and SDs of F fields (the fallback).

    Args:
        values: station values (n, F).
        regions: station region labels (n,) ints, or None (one region: all stations).

    :meth:`lookup` gives, for target labels, the region's station mean and SD; labels with
    no station (including -1, "no region") get the all-station mean and SD. A region with a
    single station takes the all-station SD; with one station in total the SD is NaN; with no
    stations everything is NaN.
    """

    def __init__(self, values: np.ndarray, regions: np.ndarray | None = None) -> None:
        v = np.asarray(values, dtype=np.float64)
        if v.ndim == 1:
            v = v[:, None]
        n, f = v.shape
        self.n_fields = f
        nan = np.full(f, np.nan)
        self.all_mean = v.mean(axis=0) if n else nan
        self.all_sd = v.std(axis=0, ddof=1) if n > 1 else nan
        if regions is None or n == 0:
            self.labels = np.zeros(0, dtype=np.int64)
            self.means = np.zeros((0, f))
            self.sds = np.zeros((0, f))
        else:
            reg = np.asarray(regions).astype(np.int64).ravel()
            if reg.size != n:
                raise KrigingError(f"{reg.size} station region labels for {n} stations")
            self.labels = np.unique(reg[reg >= 0])
            self.means = np.array([v[reg == lab].mean(axis=0) for lab in self.labels])
            self.sds = np.array(
                [
                    v[reg == lab].std(axis=0, ddof=1) if (reg == lab).sum() > 1 else self.all_sd
                    for lab in self.labels
                ]
            ).reshape(-1, f)
            self.means = self.means.reshape(-1, f)

    def index(self, labels: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
        """Row of each target in the table; ``len(labels)`` (= all stations) where unknown."""
        n_lab = self.labels.size
        if labels is None or n_lab == 0:
            return np.full(shape, n_lab, dtype=np.int64)
        lab = np.asarray(labels).astype(np.int64)
        if lab.shape != shape:
            raise KrigingError(f"target region labels have shape {lab.shape}, expected {shape}")
        pos = np.searchsorted(self.labels, lab)
        clipped = np.minimum(pos, n_lab - 1)
        return np.where(self.labels[clipped] == lab, clipped, n_lab)

    def lookup(
        self, labels: np.ndarray | None, shape: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean (F, *shape), sd (F, *shape), source (*shape) int8) for target labels."""
        idx = self.index(labels, shape)
        means = np.vstack([self.means, self.all_mean[None, :]])
        sds = np.vstack([self.sds, self.all_sd[None, :]])
        mean = np.moveaxis(means[idx], -1, 0)
        sd = np.moveaxis(sds[idx], -1, 0)
        source = np.where(idx < self.labels.size, SOURCE_REGION, SOURCE_ALL_STATIONS)
        return mean, sd, source.astype(np.int8)


# --------------------------------------------------------------------------- parameters
def _table_columns(table: Mapping[str, Any], columns: Sequence[str] | None) -> list[str]:
    names = [str(c) for c in table.keys()]
    if columns is not None:
        missing = [c for c in columns if c not in names]
        if missing:
            raise KrigingError(f"station table has no columns {missing}")
        return list(columns)
    chosen = [c for c in names if c.startswith((WEIGHT_PREFIX, "a_", "b_")) or c in ("log_sigma",)]
    if not chosen:
        raise KrigingError(
            "station table has no parameter columns (w_<member>, a_<member>, b_<member>, "
            f"log_sigma); columns are {names}"
        )
    return chosen


class ParameterKriging:
    """Krige a table of per-station parameters: weights via clr, the rest as they are.

    Args:
        table: a mapping (or pandas DataFrame) of column name -> (n,) values.
        lon, lat: station positions (degrees), (n,).
        settings: :class:`KrigingSettings`.
        station_regions: (n,) region labels of the stations (for the fallback), or None.
        columns: the parameter columns; default every ``w_*``, ``a_*``, ``b_*`` column and
            ``log_sigma``. Columns starting with ``w_`` are the weights (one simplex).

    Stations with a non-finite position or parameter are dropped (``n_dropped``). Weight
    rows must be non-negative and sum to 1 within 1e-3 (they are re-closed exactly).

    Attributes:
        fields: output field names (the columns, in order).
        fit: the :class:`VariogramFit`.
        reason: None when kriged, else why the fallback is used.
        fallback: field -> reason (None when kriged).
        kriging: the :class:`OrdinaryKriging` (None under the fallback).
    """

    def __init__(
        self,
        table: Mapping[str, Any],
        lon: np.ndarray,
        lat: np.ndarray,
        settings: KrigingSettings | None = None,
        station_regions: np.ndarray | None = None,
        columns: Sequence[str] | None = None,
    ) -> None:
        self.settings = settings or KrigingSettings()
        self.fields = tuple(_table_columns(table, columns))
        lon, lat = _check_points(lon, lat)
        raw = np.column_stack([np.asarray(table[c], dtype=np.float64) for c in self.fields])
        if raw.shape[0] != lon.size:
            raise KrigingError(f"station table has {raw.shape[0]} rows but {lon.size} positions")
        keep = np.isfinite(raw).all(axis=1) & np.isfinite(lon) & np.isfinite(lat)
        self.n_dropped = int((~keep).sum())
        self.n_stations = int(keep.sum())
        raw, lon, lat = raw[keep], lon[keep], lat[keep]
        regions = None
        if station_regions is not None:
            regions = np.asarray(station_regions).ravel()
            if regions.size != keep.size:
                raise KrigingError(f"{regions.size} station region labels for {keep.size} rows")
            regions = regions[keep]
        self.weight_index = np.array(
            [i for i, c in enumerate(self.fields) if c.startswith(WEIGHT_PREFIX)], dtype=np.int64
        )
        z = raw.copy()
        if self.weight_index.size:
            w = raw[:, self.weight_index]
            if (w < -1e-9).any() or (np.abs(w.sum(axis=1) - 1.0) > 1e-3).any():
                raise KrigingError(
                    "station weights must be non-negative and sum to 1 (within 1e-3) per station"
                )
            w = np.maximum(w, 0.0)
            w /= w.sum(axis=1, keepdims=True)
            raw[:, self.weight_index] = w
            z[:, self.weight_index] = clr(w, self.settings.weight_floor)
        self.lon, self.lat = lon, lat
        self.station_values = raw
        self.station_z = z
        self.region_means = RegionMeans(raw, regions)
        self.fit = fit_variogram(lon, lat, z, self.settings)
        self.kriging: OrdinaryKriging | None = None
        self.reason = self.fit.reason
        if self.fit.ok:
            assert self.fit.model is not None
            try:
                self.kriging = OrdinaryKriging(lon, lat, z, self.fit.model)
            except KrigingError as exc:
                self.reason = str(exc)
        self.fallback = dict.fromkeys(self.fields, self.reason)

    @property
    def kriged(self) -> bool:
        """True when the fields are kriged, False under the fallback."""
        return self.kriging is not None

    def finish(
        self, zmean: np.ndarray, nvar: np.ndarray, dtype: np.dtype | type = np.float64
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Output fields from kriged transformed means (F, ...) and normalised variance (...).

        Weights: softmax of the clr means, SD by :func:`weights_sd`; other fields: the mean,
        SD = sqrt(sill x normalised variance).
        """
        assert self.kriging is not None
        zmean = np.asarray(zmean, dtype=dtype)
        nvar = np.maximum(np.asarray(nvar, dtype=dtype), 0.0)
        sills = self.kriging.sills.astype(dtype)
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        nsd = np.sqrt(nvar)
        for i, name in enumerate(self.fields):
            if i not in self.weight_index:
                out[name] = (zmean[i], nsd * np.sqrt(sills[i]))
        if self.weight_index.size:
            wi = self.weight_index
            w = clr_inverse(zmean[wi], axis=0)
            zsd = nsd[None] * np.sqrt(sills[wi]).reshape((-1,) + (1,) * nvar.ndim)
            wsd = weights_sd(w, zsd, axis=0)
            for j, i in enumerate(wi):
                out[self.fields[i]] = (w[j], wsd[j])
        return {name: out[name] for name in self.fields}

    def fallback_values(
        self, labels: np.ndarray | None, shape: tuple[int, ...], dtype: np.dtype | type
    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
        """Fallback field -> (mean, sd) of ``shape`` for target region labels, and the source.

        Region means of the station values on their own scale (weights: arithmetic means of
        the station weights, so they sum to 1); see :class:`RegionMeans`.
        """
        mean, sd, source = self.region_means.lookup(labels, shape)
        out = {
            name: (mean[i].astype(dtype), sd[i].astype(dtype)) for i, name in enumerate(self.fields)
        }
        return out, source

    def at_points(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        regions: np.ndarray | None = None,
        dtype: np.dtype | type = np.float64,
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """field -> (mean (m,), sd (m,)) at points, kriged directly (no helper grid).

        ``regions``: the points' region labels, used only under the fallback. For held-out
        stations, build this object from the training stations only.
        """
        return self.at_points_with_source(lon, lat, regions, dtype)[0]

    def at_points_with_source(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        regions: np.ndarray | None = None,
        dtype: np.dtype | type = np.float64,
    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
        """As :meth:`at_points`, plus the per-point source code (int8, ``SOURCE_*``)."""
        lon, lat = _check_points(lon, lat)
        if self.kriging is None:
            return self.fallback_values(regions, lon.shape, dtype)
        zmean, nvar = self.kriging.predict_normalised(lon, lat, self.settings.chunk_size)
        assert nvar is not None
        return self.finish(zmean.T, nvar, dtype), np.full(lon.shape, SOURCE_KRIGED, np.int8)

    def on_grid(
        self,
        grid: LatLonGrid,
        cell_regions: np.ndarray | Callable[[int, int], np.ndarray] | None = None,
        factor: int | None = None,
        dtype: np.dtype | type = np.float64,
        refine_radius: float | None = None,
    ) -> KrigedGrid:
        """A :class:`KrigedGrid` of these parameters on ``grid`` (blocks computed on demand)."""
        return KrigedGrid(self, grid, cell_regions, factor, dtype, refine_radius)


# --------------------------------------------------------------------------- grid
def helper_index(n: int, factor: int) -> np.ndarray:
    """Fine indices of the helper nodes along an axis of ``n`` cells: 0, f, 2f, ..., n-1."""
    idx = np.arange(0, n, factor, dtype=np.int64)
    if idx[-1] != n - 1:
        idx = np.append(idx, n - 1)
    return idx


def _interp_weights(
    nodes: np.ndarray, pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower node, upper node and the upper node's weight of each fine index."""
    if nodes.size == 1:
        zero = np.zeros(pos.size, dtype=np.int64)
        return zero, zero, np.zeros(pos.size)
    i0 = np.clip(np.searchsorted(nodes, pos, side="right") - 1, 0, nodes.size - 2)
    t = (pos - nodes[i0]) / (nodes[i0 + 1] - nodes[i0])
    i1 = np.where(t > 0, i0 + 1, i0)
    return i0, i1, t


class KrigedGrid:
    """Kriged parameter fields on a fine :class:`LatLonGrid`, produced in row blocks.

    Kriged on a helper grid (every ``factor``-th fine cell centre, plus the last row and
    column) and interpolated bilinearly to the fine cells; the helper rows a block needs
    are kriged on demand and forgotten once the blocks have moved past them (iterate blocks
    top to bottom; any order works, at the cost of re-kriging). ``factor=1`` kriges every
    fine cell. Under the fallback, blocks are the region means of the cells' regions.

    Args:
        params: the fitted :class:`ParameterKriging`.
        grid: the fine grid.
        cell_regions: region labels of the fine cells, (nlat, nlon) array or a function
            ``(row0, row1) -> (row1 - row0, nlon)``; used only under the fallback.
        factor: helper-grid factor (default ``settings.helper_factor``).
        dtype: dtype of the returned blocks (interpolation to fine cells runs in it).
        refine_radius: direct kriging near stations (default ``settings.refine_radius``).

    Attributes: ``fields``, ``fallback`` (field -> reason or None), ``fit``, ``grid``,
    ``factor``, ``kriged``.
    """

    def __init__(
        self,
        params: ParameterKriging,
        grid: LatLonGrid,
        cell_regions: np.ndarray | Callable[[int, int], np.ndarray] | None = None,
        factor: int | None = None,
        dtype: np.dtype | type = np.float64,
        refine_radius: float | None = None,
    ) -> None:
        self.params = params
        self.grid = grid
        self.fields = params.fields
        self.fallback = dict(params.fallback)
        self.fit = params.fit
        self.kriged = params.kriged
        self.factor = int(factor if factor is not None else params.settings.helper_factor)
        if self.factor < 1:
            raise KrigingError(f"helper factor must be >= 1, got {self.factor}")
        self.dtype = np.dtype(dtype)
        self._regions = cell_regions
        if isinstance(cell_regions, np.ndarray) and cell_regions.shape != grid.shape:
            raise KrigingError(
                f"cell region labels have shape {cell_regions.shape}, grid is {grid.shape}"
            )
        nlat, nlon = grid.shape
        self._rows = helper_index(nlat, self.factor)
        self._cols = helper_index(nlon, self.factor)
        self._lat = grid.lat
        self._lon = grid.lon
        self._cj0, self._cj1, ct = _interp_weights(self._cols, np.arange(nlon))
        self._ct = ct.astype(self.dtype)
        self._cache: dict[int, np.ndarray] = {}
        radius = params.settings.refine_radius if refine_radius is None else refine_radius
        if not radius >= 0:
            raise KrigingError(f"refine_radius must be >= 0, got {radius}")
        self.refine_radius = float(radius)
        self._patches = self._station_patches(self.refine_radius * self.factor)
        #: Fine cells kriged directly near stations so far (blocks computed).
        self.n_refined = 0

    def _station_patches(self, half_width: float) -> np.ndarray:
        """(p, 4) int64 [row0, row1, col0, col1) of the fine cells kriged directly per station.

        Cells within ``half_width`` fine cells (row and column index distance) of a station's
        position, clipped to the grid; none when kriging every cell or not kriging.
        """
        if self.factor == 1 or not self.kriged or half_width <= 0:
            return np.zeros((0, 4), dtype=np.int64)
        g = self.grid
        pr = (g.north - self.params.lat) / g.res - 0.5  # fine row index coordinate
        pc = (self.params.lon - g.west) / g.res - 0.5
        r0 = np.clip(np.ceil(pr - half_width), 0, g.nlat).astype(np.int64)
        r1 = np.clip(np.floor(pr + half_width) + 1, 0, g.nlat).astype(np.int64)
        c0 = np.clip(np.ceil(pc - half_width), 0, g.nlon).astype(np.int64)
        c1 = np.clip(np.floor(pc + half_width) + 1, 0, g.nlon).astype(np.int64)
        keep = (r1 > r0) & (c1 > c0)
        return np.column_stack([r0, r1, c0, c1])[keep]

    def refine_mask(self, row0: int, row1: int) -> np.ndarray:
        """(row1 - row0, nlon) bool: fine cells kriged directly (near stations)."""
        mask = np.zeros((row1 - row0, self.grid.nlon), dtype=bool)
        p = self._patches
        hit = p[(p[:, 0] < row1) & (p[:, 1] > row0)]
        for r0, r1, c0, c1 in hit:
            mask[max(r0, row0) - row0 : min(r1, row1) - row0, c0:c1] = True
        return mask

    @property
    def helper_shape(self) -> tuple[int, int]:
        """Shape of the helper grid (rows, columns)."""
        return (self._rows.size, self._cols.size)

    def row_blocks(self, rows: int) -> Iterator[tuple[int, int]]:
        """(row0, row1) pairs covering the grid in blocks of ``rows`` rows, north to south."""
        nlat = self.grid.nlat
        for r0 in range(0, nlat, max(1, int(rows))):
            yield r0, min(nlat, r0 + int(rows))

    def _helper_rows(self, needed: np.ndarray) -> np.ndarray:
        """(F + 1, len(needed), n_cols) kriged clr/linear means and normalised variance."""
        kr = self.params.kriging
        assert kr is not None
        lo = int(needed.min())
        for key in [k for k in self._cache if k < lo]:
            del self._cache[key]
        missing = [int(i) for i in needed if int(i) not in self._cache]
        if missing:
            lat = np.repeat(self._lat[self._rows[missing]], self._cols.size)
            lon = np.tile(self._lon[self._cols], len(missing))
            mean, nvar = kr.predict_normalised(lon, lat, self.params.settings.chunk_size)
            assert nvar is not None
            stack = np.concatenate([mean.T, nvar[None, :]], axis=0)
            stack = stack.reshape(kr.n_fields + 1, len(missing), self._cols.size)
            for j, i in enumerate(missing):
                self._cache[i] = stack[:, j, :].copy()
        return np.stack([self._cache[int(i)] for i in needed], axis=1)

    def _labels(self, row0: int, row1: int) -> np.ndarray | None:
        if self._regions is None:
            return None
        if callable(self._regions):
            return np.asarray(self._regions(row0, row1))
        return np.asarray(self._regions[row0:row1])

    def _check_rows(self, row0: int, row1: int) -> None:
        if not 0 <= row0 < row1 <= self.grid.nlat:
            raise KrigingError(f"row block [{row0}, {row1}) outside the grid's {self.grid.nlat}")

    def block(self, row0: int, row1: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """field -> (mean, sd), each (row1 - row0, nlon), for fine rows [row0, row1).

        Weights are non-negative and sum to 1 at every cell; SDs are kriging SDs (delta
        method for weights) or, under the fallback, the region's station SD.
        """
        return self.block_with_source(row0, row1)[0]

    def block_with_source(
        self, row0: int, row1: int
    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
        """As :meth:`block`, plus the per-cell source code (int8 ``SOURCE_*``)."""
        self._check_rows(row0, row1)
        shape = (row1 - row0, self.grid.nlon)
        if not self.kriged:
            return self.params.fallback_values(self._labels(row0, row1), shape, self.dtype)
        i0, i1, t = _interp_weights(self._rows, np.arange(row0, row1))
        needed = np.unique(np.concatenate([i0, i1]))
        h = self._helper_rows(needed)
        pos = {int(k): j for j, k in enumerate(needed)}
        a = h[:, [pos[int(k)] for k in i0], :]
        if (t > 0).any():
            b = h[:, [pos[int(k)] for k in i1], :]
            a = a + t[None, :, None] * (b - a)
        g = a.astype(self.dtype)
        if self.factor == 1:
            fine = g
        else:
            fine = g[:, :, self._cj0]
            fine += self._ct * (g[:, :, self._cj1] - fine)
            rows, cols = np.nonzero(self.refine_mask(row0, row1))
            if rows.size:
                kr = self.params.kriging
                assert kr is not None
                mean, nvar = kr.predict_normalised(
                    self._lon[cols], self._lat[row0 + rows], self.params.settings.chunk_size
                )
                fine[:-1, rows, cols] = mean.T
                fine[-1, rows, cols] = nvar
                self.n_refined += int(rows.size)
        out = self.params.finish(fine[:-1], fine[-1], self.dtype)
        return out, np.full(shape, SOURCE_KRIGED, np.int8)

    def source(self, row0: int, row1: int) -> np.ndarray:
        """(row1 - row0, nlon) int8: kriged (0), region mean (1) or all-station mean (2)."""
        self._check_rows(row0, row1)
        shape = (row1 - row0, self.grid.nlon)
        if self.kriged:
            return np.full(shape, SOURCE_KRIGED, np.int8)
        idx = self.params.region_means.index(self._labels(row0, row1), shape)
        n_lab = self.params.region_means.labels.size
        return np.where(idx < n_lab, SOURCE_REGION, SOURCE_ALL_STATIONS).astype(np.int8)

    def to_dataset(self, rows_per_block: int = 256) -> xr.Dataset:
        """The whole grid as an xarray Dataset (``<field>``, ``<field>_sd``, ``source``).

        Holds every field in memory: for small grids (tests, the demo); a rule writing the
        9.1 M-cell grid should iterate :meth:`row_blocks` / :meth:`block` instead.
        """
        nlat, nlon = self.grid.shape
        data = {
            name: (np.empty((nlat, nlon), self.dtype), np.empty((nlat, nlon), self.dtype))
            for name in self.fields
        }
        source = np.empty((nlat, nlon), np.int8)
        for r0, r1 in self.row_blocks(rows_per_block):
            blk, src = self.block_with_source(r0, r1)
            for name in self.fields:
                data[name][0][r0:r1] = blk[name][0]
                data[name][1][r0:r1] = blk[name][1]
            source[r0:r1] = src
        coords = self.grid.coords()
        variables: dict[str, xr.DataArray] = {}
        for name in self.fields:
            reason = self.fallback[name]
            method = "ordinary kriging" if reason is None else f"region mean ({reason})"
            variables[name] = xr.DataArray(
                data[name][0], dims=("lat", "lon"), coords=coords, attrs={"method": method}
            )
            variables[f"{name}_sd"] = xr.DataArray(
                data[name][1],
                dims=("lat", "lon"),
                coords=coords,
                attrs={"long_name": f"standard deviation of {name}"},
            )
        variables["source"] = xr.DataArray(
            source,
            dims=("lat", "lon"),
            coords=coords,
            attrs={
                "flag_values": np.array([0, 1, 2], np.int8),
                "flag_meanings": "kriged region_mean all_station_mean",
            },
        )
        attrs = {k: v for k, v in self.fit.attrs().items() if v is not None}
        attrs["kriging_helper_factor"] = self.factor
        return xr.Dataset(variables, attrs=attrs)


def krige_parameters(
    table: Mapping[str, Any],
    lon: np.ndarray,
    lat: np.ndarray,
    grid: LatLonGrid,
    settings: KrigingSettings | None = None,
    station_regions: np.ndarray | None = None,
    cell_regions: np.ndarray | Callable[[int, int], np.ndarray] | None = None,
    columns: Sequence[str] | None = None,
    dtype: np.dtype | type = np.float64,
) -> KrigedGrid:
    """Krige a station parameter table to ``grid``: the one-call convenience.

    Weight columns ``w_<member>`` go clr -> krige -> softmax (non-negative, summing to 1 at
    every cell); ``a_<member>``, ``b_<member>``, ``log_sigma`` are kriged as they are. The
    variogram is fitted once (pooled); when it fails or stations are too few, every field is
    its region mean (see :class:`ParameterKriging`). Iterate ``result.row_blocks(rows)`` and
    call ``result.block(row0, row1)`` to get field -> (mean, sd) arrays of (rows, nlon).
    """
    params = ParameterKriging(table, lon, lat, settings, station_regions, columns)
    return params.on_grid(grid, cell_regions, None, dtype)


def variogram_table(fit: VariogramFit, n_model: int = 100) -> pd.DataFrame:
    """The empirical pooled variogram and the fitted model's curve, for plots and reports.

    Rows with ``kind == "empirical"``: each usable bin's mean lag (km), pooled normalised
    semivariance and station pairs. Rows with ``kind == "model"``: the fitted normalised
    model's semivariance at ``n_model`` lags from 0 to the largest binned lag (present also
    for a fit that was rejected after fitting, e.g. for its R2, so the report can show why).
    """
    rows = [
        {"kind": "empirical", "lag_km": float(h), "gamma": float(g), "pairs": int(n)}
        for h, g, n in zip(fit.lag_km, fit.gamma, fit.pairs, strict=True)
    ]
    ok = math.isfinite(fit.len_scale_km) and math.isfinite(fit.nugget_fraction)
    if ok and fit.lag_km.size:
        model = normalised_model(fit.family, fit.len_scale_km, fit.nugget_fraction, **fit.shape)
        lags = np.linspace(0.0, float(np.max(fit.lag_km)), n_model)
        gam = model.variogram(great_circle_to_chordal_km(lags))
        rows += [
            {"kind": "model", "lag_km": float(h), "gamma": float(g), "pairs": 0}
            for h, g in zip(lags, gam, strict=True)
        ]
    return pd.DataFrame(rows, columns=["kind", "lag_km", "gamma", "pairs"])
