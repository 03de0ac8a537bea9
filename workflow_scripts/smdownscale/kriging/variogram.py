"""The pooled, normalised variogram of the station parameters.

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

Few stations: a prior range instead of a refusal (``method``)
    ``fitted``: the length scale (and nugget) fitted to the bins holding at least
    ``min_pairs_per_bin`` station pairs, when at least ``min_bins`` such bins exist and the
    fit passes every check below. ``prior``: otherwise, when ``prior_range_km`` is set, the
    length scale is held at that configured prior range and only the nugget fraction is
    fitted, by least squares weighted by station pairs, to every non-empty bin (a handful of
    stations still tell the nugget: how different neighbours are compared with the sill).
    ``note`` records why the free fit was not used. Without a prior range, or with a prior
    fit whose nugget is 95 % of the sill or more, the fit is refused (``method = "none"``).

Refused fits
    :func:`fit_variogram` never raises on data: too few stations (``min_stations``), all
    fields constant, and (for the free fit) too few usable lag bins, a fit that does not
    converge, a length scale that is not finite or sits at its bound, a nugget of 95 % of the
    sill or more, a fit R2 below ``min_r2``, or a model whose correlation at the first usable
    lag bin is below 0.05 (no structure resolved). A refused free fit falls to the prior when
    one is configured; otherwise the :class:`VariogramFit` has ``ok=False`` and the
    ``reason``. Whether a usable
    fit is then *used* is decided by the caller (station-held-out cross-validation against
    the pooled fit, :mod:`smdownscale.bma_pooled`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import gstools as gs
import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist

from .geometry import (
    DEFAULT_CHUNK,
    KrigingError,
    as_fields,
    check_points,
    chordal_to_great_circle,
    great_circle_to_chordal_km,
    xyz_km,
)
from .simplex import WEIGHT_FLOOR

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

#: A fit whose nugget is at least this fraction of the sill resolves too little spatial
#: structure to krige: the map would be the stations' mean with faint local dents.
_MAX_NUGGET = 0.95

#: Relative closeness to a bound at which a fitted length scale counts as "at its bound".
_AT_BOUND = 1e-3

#: A fit whose correlation at the first usable lag bin's lag is below this resolves no
#: spatial structure (a pure nugget in disguise, e.g. a tiny len_scale) and counts as failed.
_MIN_COR_FIRST_BIN = 0.05


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
    prior_range_km: length scale (km) of the prior variogram used when the free fit is
        refused (only its nugget fraction is fitted); None: refuse instead.
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
    prior_range_km: float | None = None
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
        if self.prior_range_km is not None and not self.prior_range_km > 0:
            raise KrigingError(f"prior_range_km must be positive, got {self.prior_range_km}")
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

    ``ok`` says whether a model is available; ``reason`` says why not (None when ok).
    ``method``: ``"fitted"`` (length scale fitted), ``"prior"`` (length scale held at the
    configured prior range, nugget fitted) or ``"none"``; ``note`` says why the free fit was
    not used when the prior was. ``len_scale_km`` and ``nugget_fraction`` describe the
    normalised model (total sill 1; each field's sill is its station variance); ``shape``
    its shape parameters; ``model`` the gstools model (None when not ok). ``lag_km`` (mean
    great-circle distance of each bin's station pairs), ``gamma`` (pooled semivariance of the
    standardised fields, dimensionless) and ``pairs`` (station pairs per bin) are the bins the
    model was fitted to (empty when none was); ``n_pairs`` counts the station pairs within the
    binned distance; ``r2`` is the fit's R^2 score against those bins.
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
    method: str = "none"
    note: str | None = None
    n_pairs: int = 0

    def attrs(self) -> dict[str, Any]:
        """Flat description for logs, tables and NetCDF global attributes."""
        out: dict[str, Any] = {
            "variogram_family": self.family,
            "variogram_ok": int(self.ok),
            "variogram_method": self.method,
            "variogram_n_stations": self.n_stations,
            "variogram_n_pairs": int(self.n_pairs),
            "variogram_n_bins": int(self.lag_km.size),
            "variogram_n_fields_pooled": self.n_fields_pooled,
            "variogram_len_scale_km": float(self.len_scale_km),
            "variogram_sill": 1.0,
            "variogram_nugget_fraction": float(self.nugget_fraction),
            "variogram_r2": float(self.r2),
        }
        for k, v in self.shape.items():
            out[f"variogram_{k}"] = float(v)
        if self.reason:
            out["variogram_failure"] = self.reason
        if self.note:
            out["variogram_note"] = self.note
        return out


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


def _r2(y: np.ndarray, fitted: np.ndarray) -> float:
    """Coefficient of determination of ``fitted`` against ``y`` (NaN for constant ``y``)."""
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - fitted) ** 2).sum()) / ss_tot if ss_tot > 0 else math.nan


def _free_fit(
    x: np.ndarray, y: np.ndarray, max_sep: float, s: KrigingSettings
) -> tuple[dict[str, Any], str | None]:
    """Length scale (and nugget) fitted to usable bins: the fit's fields and why it is
    refused (None when it is accepted)."""
    family = s.family.lower()
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
        return {}, f"variogram fit failed: {type(exc).__name__}: {exc}"
    ls = float(model.len_scale)
    nug = float(model.nugget) / float(model.sill) if model.sill > 0 else math.nan
    shape = {name: float(getattr(model, name)) for name in model.opt_arg}
    out = {"len_scale_km": ls, "nugget_fraction": nug, "shape": shape, "r2": float(r2)}
    if not math.isfinite(ls) or not math.isfinite(nug):
        return out, f"fitted len_scale {ls} or nugget {nug} not finite"
    if ls <= lo * (1 + _AT_BOUND) or ls >= hi * (1 - _AT_BOUND):
        return out, f"fitted len_scale {ls:.4g} km is at its bound [{lo:.4g}, {hi:.4g}] km"
    if nug >= _MAX_NUGGET:
        return out, f"the fit is (nearly) a pure nugget: nugget fraction {nug:.3g}"
    if not float(r2) >= s.min_r2:
        return out, (
            f"the variogram model explains too little of the empirical variogram "
            f"(R2 {float(r2):.3g} < min_r2 {s.min_r2:g})"
        )
    cor_first = float(model.correlation(great_circle_to_chordal_km(float(x[0]))))
    if cor_first < _MIN_COR_FIRST_BIN:
        return out, (
            f"no spatial correlation resolved: the fitted correlation at the shortest lag "
            f"binned ({x[0]:.4g} km) is {cor_first:.3g} < {_MIN_COR_FIRST_BIN} "
            f"(len_scale {ls:.4g} km)"
        )
    return out, None


def _prior_fit(
    x: np.ndarray, y: np.ndarray, n: np.ndarray, s: KrigingSettings
) -> tuple[dict[str, Any], str | None]:
    """Length scale held at ``prior_range_km``; the nugget fraction by pair-weighted least
    squares (``gamma = 1 - (1 - nugget) rho(h)``); why it is refused, or None."""
    assert s.prior_range_km is not None
    family = s.family.lower()
    shape = dict(s.shape)
    rho = normalised_model(family, s.prior_range_km, 0.0, **shape).correlation(
        great_circle_to_chordal_km(x)
    )
    shape = {k: float(v) for k, v in shape.items()}
    if s.nugget:
        denom = float((n * rho * rho).sum())
        c = float((n * rho * (1.0 - y)).sum()) / denom if denom > 0 else 0.0
        nug = 1.0 - min(max(c, 0.0), 1.0)
    else:
        nug = 0.0
    out = {
        "len_scale_km": float(s.prior_range_km),
        "nugget_fraction": nug,
        "shape": shape,
        "r2": _r2(y, 1.0 - (1.0 - nug) * rho),
    }
    if nug >= _MAX_NUGGET:
        return out, (
            f"with the prior range {s.prior_range_km:g} km the fit is (nearly) a pure nugget: "
            f"nugget fraction {nug:.3g} (neighbouring stations differ as much as distant ones)"
        )
    return out, None


def fit_variogram(
    lon: np.ndarray,
    lat: np.ndarray,
    values: np.ndarray,
    settings: KrigingSettings | None = None,
) -> VariogramFit:
    """Fit ONE normalised variogram model to the pooled standardised fields.

    The free fit first (length scale and nugget); when it is refused and
    ``settings.prior_range_km`` is set, the prior fit (length scale held, nugget fitted to
    every non-empty bin). See the module docstring.

    Args:
        lon, lat: station positions (degrees), (n,).
        values: station values, (n, F) (or (n,) for one field); finite.
        settings: family, bins, nugget, limits, prior range (:class:`KrigingSettings`).

    Returns:
        A :class:`VariogramFit`; never raises on data (``ok=False`` and ``reason`` instead).
    """
    s = settings or KrigingSettings()
    family = s.family.lower()
    lon, lat = check_points(lon, lat)
    n = lon.size
    v = as_fields(values, n)
    if not (np.isfinite(v).all() and np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise KrigingError("station positions and values must be finite (drop such stations)")
    fail: dict[str, Any] = {"ok": False, "family": family, "n_stations": n}
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
    gamma = np.asarray(gamma, dtype=np.float64)
    pairs = n_in.astype(np.int64)
    fail["n_pairs"] = int(pairs.sum())
    use = (pairs >= s.min_pairs_per_bin) & np.isfinite(gamma)
    if use.sum() >= s.min_bins:
        free, why = _free_fit(centres[use], gamma[use], max_sep, s)
    else:
        free, why = (
            {},
            (
                f"only {int(use.sum())} lag bins have >= {s.min_pairs_per_bin} station pairs "
                f"(need {s.min_bins})"
            ),
        )
    if why is None:
        model = normalised_model(
            family, free["len_scale_km"], free["nugget_fraction"], **free["shape"]
        )
        return VariogramFit(
            **(fail | free | {"ok": True}),
            reason=None,
            method="fitted",
            model=model,
            lag_km=centres[use],
            gamma=gamma[use],
            pairs=pairs[use],
        )
    if s.prior_range_km is None:
        return VariogramFit(
            **(fail | free), reason=why, lag_km=centres[use], gamma=gamma[use], pairs=pairs[use]
        )
    some = (pairs > 0) & np.isfinite(gamma)
    if not some.any():
        return VariogramFit(**fail, reason=f"{why}; no lag bin holds a station pair")
    prior, refused = _prior_fit(centres[some], gamma[some], pairs[some], s)
    binned = {"lag_km": centres[some], "gamma": gamma[some], "pairs": pairs[some]}
    if refused is not None:
        return VariogramFit(
            **(fail | prior | binned), reason=f"{why}; {refused}", method="none", note=why
        )
    model = normalised_model(
        family, prior["len_scale_km"], prior["nugget_fraction"], **prior["shape"]
    )
    return VariogramFit(
        **(fail | prior | binned | {"ok": True}),
        reason=None,
        method="prior",
        note=why,
        model=model,
    )


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
