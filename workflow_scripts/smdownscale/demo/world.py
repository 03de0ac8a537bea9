"""The demo world: a seeded synthetic landscape whose true daily 1 km soil moisture is known.

Every later stage of the workflow can be scored against this truth (METHOD.md section 10).
The world is built so that downscaling is meaningful but imperfect: the sub-grid (within a
0.25 deg cell) pattern of soil moisture is driven partly by things the fine predictors see
(rain, terrain, vegetation, the surface energy balance seen by LST and albedo) and partly by
a hidden driver they do not see directly (soil texture).

Nothing here reads or writes files; :func:`simulate_world` returns an ``xarray.Dataset``.

Coordinates and random fields
-----------------------------
Distances use a local plane around the grid centre (lat_c, lon_c)::

    x = 111.32 cos(lat_c) (lon - lon_c)  [km, east],   y = 110.57 (lat - lat_c)  [km, north]

Random fields are gstools spectral (RandMeth) Gaussian random fields, seeded from
``numpy.random.default_rng([seed, stream, ...])``. A field with correlation length L is
generated on a helper grid of spacing max(fine spacing, L / points_per_len) and interpolated
bilinearly to the fine grid (exact when the helper spacing is the fine spacing). Static fields
are standardised to zero mean and unit SD over the grid (written ``N[.]``); daily fields are
not (a region-wide anomaly is part of the weather). Daily random draws are keyed by the
calendar date, so a given date has the same storms and clouds whatever date range is asked
for (the soil state still depends on where the spin-up starts).

Static fields
-------------
* Elevation: ``z = clip(z_mean + z_sd N[f_long + w_s f_short], z_min, z_max)`` with
  ``f_long`` Gaussian-covariance (``elev_long_len_km``) and ``f_short`` exponential
  (``elev_short_len_km``), m.
* Topographic index (wetness-like, dimensionless, standardised, clipped to +-3):
  ``ti = (1 - w_b) N[-(z - G_L z)] + w_b N[-ln(tan(beta) + 0.001)]`` where ``G_L`` is a
  Gaussian smoother of scale ``twi_len_km`` (so ``z - G_L z`` is height above the local
  valley floor) and ``beta`` the slope. High ``ti``: valley bottoms and flats.
* Sand fraction (the hidden driver):
  ``sand = clip(sand_mean + sand_sd N[f_soil] - sand_valley_coef ti, sand_min, sand_max)``
  (valleys hold finer alluvium). Pedotransfer (Cosby et al. 1984 style, m3 m-3):
  porosity ``phi = 0.489 - 0.126 sand``; field capacity ``fc = fc0 - fc1 sand``; wilting
  point ``wp = wp0 - wp1 sand``; residual ``r = residual_frac wp``; infiltration capacity
  ``I_max = i0 + i1 sand`` (mm/day); drainage rate ``k_d = d0 + d1 sand`` (1/day).
* Vegetation potential (the NDVI of a fully green canopy on that cell):
  ``ndvi_pot = clip(ndvi_pot_mean + ndvi_pot_sd N[f_veg] - ndvi_sand_coef (sand - sand_mean)
  + ndvi_elev_coef (z - z_mean)/1000, 0.2, 0.85)``.
* Soil colour (a second, texture-independent soil field ``f_col``): dry-soil albedo
  ``a_soil = albedo_soil0 + albedo_sand_coef sand + albedo_colour_sd N[f_col]`` and bare-soil
  NDVI ``ndvi_bare = ndvi_soil - ndvi_bare_sd N[f_col]`` (darker soils: higher NDVI).
* Run-on weight ``w_ro = max(ti, 0) / mean(max(ti, 0))`` (mean 1 over the grid).

Daily forcing (day of year ``d``)
---------------------------------
* Precipitation P (mm/day): storm cells. The number of storms with centres in the region
  extended by a margin is ``Poisson(rho(d) A_ext)`` with
  ``rho(d) = storm_density (m + (1 - m) ((1 + cos(2 pi (d - d_peak)/365))/2)^2)``
  per km2 per day (``m = season_min_frac``). Each storm has a lognormal radius R and a gamma
  peak depth I and adds ``I exp(-r^2 / (2 R^2))``. The sum is multiplied by the orographic
  factor ``max(0, 1 + orographic_per_km (z - z_mean)/1000)`` and the regional gradient
  ``exp(g x / 100 km)``; depths below ``precip_min_mm`` are set to 0 (dry).
* Cloud (True = cloudy at the daytime overpass): latent ``c = f_cloud(d) + e_d
  + cloud_precip_coef ln(1 + P)`` (``f_cloud`` a daily Gaussian field of scale
  ``cloud_len_km``, ``e_d ~ N(0, cloud_day_sd)`` a region-wide daily offset); cloudy where
  ``c > cloud_threshold`` or ``P >= cloud_rain_mm``.
* Air temperature (daily mean, deg C):
  ``T = t_mean + t_amp cos(2 pi (d - t_peak)/365) - t_lat_gradient (|lat| - t_ref_lat)
  - lapse (z - t_ref_elev)/1000 + A_d`` where the weather anomaly is AR(1) in time,
  ``A_d = a A_{d-1} + sqrt(1 - a^2) weather_sd f_w(d)`` (``f_w`` a coarse daily field).
* Southern hemisphere (grid centre south of the equator): the seasonal peaks of storms and
  temperature move by half a year.
* Radiation: extraterrestrial ``Ra(d, lat)`` (FAO-56 eq. 21, MJ m-2 day-1); clear-sky
  ``Rs0 = (0.75 + 2e-5 z) Ra``; actual ``Rs = Rs0 (cloud_transmission if cloudy else 1)``.
* Potential ET (Priestley-Taylor, mm/day):
  ``PET = pt_alpha Delta(T)/(Delta(T) + gamma) net_rad_fraction (1 - alb_{t-1}) Rs / 2.45``
  with ``Delta`` the slope of the saturation vapour pressure curve (FAO-56 eq. 13) and
  ``gamma = 0.066 kPa/K`` (about 850 hPa).

Water balance of the surface layer (depth ``D = layer_depth_mm``; storage ``W = theta D``)
------------------------------------------------------------------------------------------
One explicit step per day (:func:`water_balance_step`):

1. infiltration excess ``R1 = max(P - I_max, 0)``; ``W1 = W + P - R1``;
   saturation excess ``R2 = max(W1 - phi D, 0)``; ``W1 -= R2``;
2. drainage ``Dr = k_d max(W1 - fc D, 0)``; ``W2 = W1 - Dr``;
3. lateral run-on (terrain term: water leaving the neighbourhood re-infiltrates in
   convergent cells) ``L = lateral_fraction w_ro G_l[R1 + R2 + Dr]``
   (``G_l`` a Gaussian smoother of scale ``lateral_len_km``); ``W3 = min(W2 + L, phi D)``;
4. evapotranspiration ``ET = min(PET [(1 - c_v) k_soil b_e^p + c_v k_veg b_t], W3 - r D)``
   with soil-evaporation stress ``b_e = clip((theta3 - r)/(fc - r), 0, 1)``, transpiration
   stress ``b_t = clip((theta3 - wp)/(fc - wp), 0, 1)``, exponent ``p = evap_exponent``
   and vegetation cover ``c_v = clip((ndvi_{t-1} - ndvi_soil)/(ndvi_full_cover - ndvi_soil),
   0, 1)``; ``W4 = W3 - ET``;
5. ``theta_t = clip(W4 / D, r, phi)`` (the truth ``sm_true``, end-of-day state).

The evaporative fraction ``ef = ET / PET`` (0 when PET = 0) drives LST. The simulation
starts ``spinup_days`` before the first requested date from ``theta = (wp + fc)/2``; spin-up
days are not returned.

Vegetation, albedo and land surface temperature
-----------------------------------------------
* Wetness memory (NDVI lag): ``S_t = S_{t-1} + (clip((theta_t - wp)/(fc - wp), 0, 1)
  - S_{t-1}) / ndvi_tau_days``; phenology from smoothed temperature
  ``Ts_t = Ts_{t-1} + (T_t - Ts_{t-1}) / phen_tau_days``,
  ``ph = clip((Ts - phen_t_base)/(phen_t_full - phen_t_base), 0, 1)``;
  ``ndvi = clip(ndvi_bare + (ndvi_pot - ndvi_bare) ph S^q, ndvi_min, ndvi_max)``,
  ``q = ndvi_wetness_exponent``. Initial ``S`` and ``Ts``: the initial wetness and the
  climatological temperature of the first spin-up day.
* White-sky albedo: ``alb_ws = (1 - c_v) a_soil (1 - albedo_wet_factor s) + c_v albedo_veg``
  where ``s`` is the relative saturation ``(theta - r)/(phi - r)`` seen through a short
  memory (the 16-day BRDF retrieval of MCD43 smooths it):
  ``s_t = s_{t-1} + ((theta_t - r)/(phi - r) - s_{t-1}) / albedo_tau_days``. PET and LST use
  this noise-free albedo; the returned ``albedo_wsa`` adds retrieval noise
  ``N(0, albedo_noise)``. Black-sky (local solar noon):
  ``alb_bs = albedo_wsa (1 + bsa_sza_coef (sza_noon - 45 deg)/45 deg)``, ``sza_noon =
  |lat - declination|``.
* Clear-sky daytime LST (K, what MOD11A1 would see at ~10:30 if clear; defined under clouds
  too, the cloud mask says where it is observable):
  ``LST = 273.15 + T + lst_day_offset + (Rs0/rs_ref) ((1 - alb_ws)/(1 - 0.2))
  (dT_wet + (dT_dry - dT_wet)(1 - ef)) + eps``, ``eps ~ N(0, lst_noise_k)``. Lapse rate
  (through T), evaporative cooling (through ef: wet soil and green vegetation) and albedo
  all lower LST.

Sub-grid wet patches (irrigated fields; off unless ``wet_patch_share > 0``)
---------------------------------------------------------------------------
Wetness that the predictors cannot explain. A static mask ``M`` (:func:`wet_patch_mask`) is
a union of discs on the local plane: centres uniform over the grid, diameters lognormal
``d = wet_patch_size_km exp(0.3 z)``, ``z ~ N(0, 1)``, clipped to [0.5, 2] x the typical
size; a disc covers the cells whose centre lies within ``d / 2`` of its centre (at least the
cell holding its centre). Discs are added until the share of the grid's fine cells inside
``M`` reaches ``wet_patch_share`` (the last disc overshoots it by less than one disc).
Inside ``M`` the returned truth is (:func:`apply_wet_patches`)::

    sm_true = min(max(theta, wp + wet_patch_target (fc - wp)) + wet_patch_boost, phi)

i.e. held at least at the relative wetness ``wet_patch_target`` (1 = field capacity;
``None`` = no floor) plus an additive ``wet_patch_boost`` (m3 m-3), clipped at porosity;
outside ``M`` it is ``theta``. The patches act on the returned ``sm_true`` only: the state
``theta`` that drives evapotranspiration, NDVI, albedo and LST is the unpatched one, so the
predictors are exactly those of the same world without patches, while everything observed
from ``sm_true`` (the coarse product's block means, the stations inside patches) sees them.
The mask is returned as ``wet_patch`` (1 inside).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gstools as gs
import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from smdownscale.ease2 import Ease2Grid, ease2_fine_grid
from smdownscale.grid import LatLonGrid, block_mean, repeat_blocks

KM_PER_DEG_LAT = 110.57
KM_PER_DEG_LON_EQ = 111.32
LATENT_HEAT_MJ_PER_KG = 2.45
PSYCHROMETRIC_KPA_PER_K = 0.066

# Independent random streams (first two words of every numpy seed sequence are [seed, stream]).
_S_ELEV_LONG, _S_ELEV_SHORT, _S_SOIL, _S_VEG, _S_COLOUR = 1, 2, 3, 4, 5
_S_STORMS, _S_CLOUD, _S_WEATHER, _S_LST_NOISE, _S_ALB_NOISE = 11, 12, 13, 14, 15
_S_PATCHES = 21
#: Lognormal sigma of the wet-patch diameters and their clip range (x the typical size).
PATCH_SIZE_SIGMA = 0.3
PATCH_SIZE_RANGE = (0.5, 2.0)


@dataclass(frozen=True)
class WorldParams:
    """Physical parameters of the demo world (defaults: a semi-arid loess plateau, ~40 N).

    Units are in the names or the comments; the equations using them are in the module
    docstring.
    """

    # --- terrain ---
    elev_mean_m: float = 1350.0  # mean elevation of the plateau
    elev_sd_m: float = 230.0  # spatial SD of elevation
    elev_min_m: float = 850.0
    elev_max_m: float = 2300.0
    elev_long_len_km: float = 50.0  # Gaussian-covariance relief (ranges, basins)
    elev_short_len_km: float = 6.0  # exponential-covariance relief (hills, gullies)
    elev_short_weight: float = 0.45  # weight of the short-scale field before standardising
    twi_len_km: float = 5.0  # smoothing scale defining the local valley floor
    twi_slope_weight: float = 0.3  # weight of -ln(tan slope) in the topographic index
    # --- soil texture (hidden driver) and hydraulic properties ---
    soil_len_km: float = 10.0  # correlation length of the sand fraction field
    sand_mean: float = 0.5
    sand_sd: float = 0.15
    sand_min: float = 0.08
    sand_max: float = 0.92
    sand_valley_coef: float = 0.04  # sand decrease per unit topographic index
    porosity0: float = 0.489  # porosity = porosity0 - porosity1 * sand (Cosby 1984)
    porosity1: float = 0.126
    fc0: float = 0.36  # field capacity = fc0 - fc1 * sand
    fc1: float = 0.24
    wp0: float = 0.16  # wilting point = wp0 - wp1 * sand
    wp1: float = 0.12
    residual_frac: float = 0.4  # residual water content as a fraction of the wilting point
    infil0_mm: float = 25.0  # infiltration capacity = infil0 + infil1 * sand (mm/day)
    infil1_mm: float = 150.0
    drain0: float = 0.2  # drainage rate above field capacity = drain0 + drain1 * sand (1/day)
    drain1: float = 0.5
    layer_depth_mm: float = 50.0  # thickness of the simulated surface layer
    lateral_fraction: float = 0.3  # share of neighbourhood outflow re-infiltrating in valleys
    lateral_len_km: float = 3.0
    # --- precipitation (storm cells) ---
    storm_density: float = 1.5e-4  # storms per km2 per day at the seasonal peak
    season_peak_doy: float = 205.0
    season_min_frac: float = 0.15  # storm rate far from the peak, as a fraction of the peak
    storm_radius_median_km: float = 12.0
    storm_radius_sigma: float = 0.5  # lognormal sigma of the storm radius
    storm_radius_max_km: float = 60.0
    storm_depth_mean_mm: float = 15.0  # mean peak daily depth at a storm centre
    storm_depth_shape: float = 0.8  # gamma shape of the peak depth
    orographic_per_km: float = 0.4  # fractional precipitation increase per km of elevation
    precip_gradient_per_100km: float = 0.15  # eastward increase (log-rate per 100 km)
    precip_min_mm: float = 0.3  # lighter daily totals are set to 0
    # --- clouds ---
    cloud_len_km: float = 30.0
    cloud_day_sd: float = 0.7  # SD of the region-wide daily cloudiness offset
    cloud_threshold: float = 1.7  # latent threshold (higher -> fewer clouds)
    cloud_precip_coef: float = 0.6  # latent boost per ln(1 + P)
    cloud_rain_mm: float = 0.5  # cells with at least this much rain are cloudy
    cloud_transmission: float = 0.45  # shortwave transmission of a cloudy day
    # --- temperature and radiation ---
    t_mean_c: float = 7.0  # annual mean air temperature at t_ref_elev_m, t_ref_lat
    t_amp_c: float = 16.0  # seasonal amplitude
    t_peak_doy: float = 200.0
    t_ref_elev_m: float = 1000.0
    t_ref_lat: float = 40.0
    t_lat_gradient: float = 0.8  # K per degree north
    lapse_rate_k_per_km: float = 6.5
    weather_sd_k: float = 3.0  # SD of the day-to-day weather anomaly
    weather_len_km: float = 150.0
    weather_ar1: float = 0.7  # day-to-day autocorrelation of the weather anomaly
    # --- evapotranspiration ---
    pt_alpha: float = 1.26  # Priestley-Taylor coefficient
    net_rad_fraction: float = 0.6  # net radiation / absorbed shortwave
    k_soil: float = 1.0  # bare-soil evaporation coefficient
    k_veg: float = 0.7  # share of transpiration drawn from the surface layer
    evap_exponent: float = 1.5  # curvature of the soil-evaporation stress
    # --- vegetation (NDVI) ---
    veg_len_km: float = 15.0
    ndvi_soil: float = 0.08  # mean bare-soil NDVI
    ndvi_bare_sd: float = 0.015  # spatial SD of bare-soil NDVI (darker soils: higher)
    ndvi_full_cover: float = 0.8  # NDVI of full vegetation cover
    ndvi_pot_mean: float = 0.55
    ndvi_pot_sd: float = 0.07
    ndvi_sand_coef: float = 0.25  # potential NDVI decrease per unit sand fraction
    ndvi_elev_coef: float = 0.08  # potential NDVI increase per km of elevation
    ndvi_tau_days: float = 20.0  # e-folding time of the NDVI response to soil wetness
    ndvi_wetness_exponent: float = 0.5
    phen_tau_days: float = 15.0  # e-folding time of the temperature memory of phenology
    phen_t_base_c: float = 2.0
    phen_t_full_c: float = 16.0
    ndvi_min: float = 0.05
    ndvi_max: float = 0.75
    # --- albedo ---
    albedo_soil0: float = 0.22  # dry-soil albedo = albedo_soil0 + albedo_sand_coef * sand
    albedo_sand_coef: float = 0.12
    albedo_wet_factor: float = 0.3  # relative darkening of saturated soil
    albedo_tau_days: float = 4.0  # memory of surface wetness in the (BRDF-retrieved) albedo
    albedo_colour_sd: float = 0.02  # SD of soil-colour albedo not explained by texture
    albedo_colour_len_km: float = 8.0
    albedo_veg: float = 0.14
    albedo_noise: float = 0.004  # retrieval noise of the output albedo
    bsa_sza_coef: float = 0.12  # black-sky / white-sky change per 45 deg of noon zenith angle
    # --- land surface temperature ---
    lst_day_offset_k: float = 4.0  # overpass air temperature minus daily mean
    lst_dry_excess_k: float = 18.0  # surface-air excess of dry bare soil at rs_ref
    lst_wet_excess_k: float = 2.0  # surface-air excess of a fully evaporating surface
    rs_ref: float = 30.0  # MJ m-2 day-1
    lst_noise_k: float = 0.8
    # --- sub-grid wet patches (irrigated fields the predictors do not see) ---
    wet_patch_share: float = 0.0  # share of the grid's fine cells inside patches (0 = none)
    wet_patch_size_km: float = 3.0  # typical (median) patch diameter
    wet_patch_target: float | None = 1.0  # relative wetness held in patches (1 = fc); None: none
    wet_patch_boost: float = 0.0  # additive wetting in patches (m3 m-3)
    # --- run ---
    spinup_days: int = 60
    points_per_len: float = 4.0  # helper-grid points per correlation length
    static_mode_no: int = 500  # gstools RandMeth modes for static fields
    daily_mode_no: int = 200  # ... and for daily fields


# ----------------------------------------------------------------------------- geometry


def world_grids(
    coarse: LatLonGrid | Ease2Grid, fine: LatLonGrid
) -> tuple[LatLonGrid, LatLonGrid | Ease2Grid]:
    """(fine, coarse) grids of the world: the region's grown by one coarse cell on every
    side, as real products extend beyond any region (edge cells then have neighbours)."""
    if isinstance(coarse, Ease2Grid):
        grown = coarse.grown(1)
        return ease2_fine_grid(grown, fine.res), grown
    return fine.expanded(coarse.res), coarse.expanded(coarse.res)


def local_km(grid: LatLonGrid) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) km of the cell centres on the local plane around the grid centre (1-D each)."""
    lat_c = 0.5 * (grid.north + grid.south)
    lon_c = 0.5 * (grid.west + grid.east)
    x = KM_PER_DEG_LON_EQ * math.cos(math.radians(lat_c)) * (grid.lon - lon_c)
    y = KM_PER_DEG_LAT * (grid.lat - lat_c)
    return x, y


def _interp_weights(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left index and weight of the right neighbour for linear interpolation on regular ``src``.

    ``src`` is ascending and regular; ``dst`` may be in any order (it is clamped to ``src``).
    """
    h = src[1] - src[0]
    pos = np.clip((dst - src[0]) / h, 0.0, len(src) - 1.000001)
    i = np.floor(pos).astype(np.int64)
    return i, pos - i


@dataclass(frozen=True)
class _FieldMaker:
    """Gaussian random fields of one covariance on one fine grid (helper grid + bilinear).

    Interpolation is elementwise numpy (no BLAS), so it stays fast on busy machines.
    """

    x: np.ndarray
    y: np.ndarray
    model: gs.CovModel
    mode_no: int
    helper: tuple[np.ndarray, np.ndarray] | None = None
    ix: tuple[np.ndarray, np.ndarray] | None = None
    iy: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def build(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        kind: str,
        len_scale: float,
        points_per_len: float,
        mode_no: int,
    ) -> _FieldMaker:
        model_cls = {"gaussian": gs.Gaussian, "exponential": gs.Exponential}[kind]
        model = model_cls(dim=2, var=1.0, len_scale=len_scale)
        dx = abs(x[1] - x[0]) if len(x) > 1 else len_scale
        dy = abs(y[1] - y[0]) if len(y) > 1 else len_scale
        h = len_scale / points_per_len
        if h <= 1.5 * min(dx, dy):
            return cls(x, y, model, mode_no)
        xh = np.arange(x.min() - h, x.max() + 2 * h, h)
        yh = np.arange(y.min() - h, y.max() + 2 * h, h)
        return cls(x, y, model, mode_no, (xh, yh), _interp_weights(xh, x), _interp_weights(yh, y))

    def __call__(self, seed: int) -> np.ndarray:
        srf = gs.SRF(self.model, seed=seed, mode_no=self.mode_no)
        if self.helper is None:
            return np.asarray(srf.structured([self.y, self.x]), dtype=np.float64)
        xh, yh = self.helper
        f = np.asarray(srf.structured([yh, xh]), dtype=np.float64)  # (len(yh), len(xh))
        (i, fx), (j, fy) = self.ix, self.iy
        f = f[:, i] * (1.0 - fx) + f[:, i + 1] * fx
        return f[j, :] * (1.0 - fy)[:, None] + f[j + 1, :] * fy[:, None]


def _gs_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(1, 2**31 - 1))


def _standardise(a: np.ndarray) -> np.ndarray:
    sd = a.std()
    return (a - a.mean()) / sd if sd > 0 else np.zeros_like(a)


def _cell_km(grid: LatLonGrid) -> tuple[float, float]:
    """(dx, dy) of one cell in km at the grid centre."""
    lat_c = 0.5 * (grid.north + grid.south)
    return (
        KM_PER_DEG_LON_EQ * math.cos(math.radians(lat_c)) * grid.res,
        KM_PER_DEG_LAT * grid.res,
    )


def gaussian_smoother(grid: LatLonGrid, len_km: float) -> Callable[[np.ndarray], np.ndarray]:
    """A function smoothing a 2-D field on ``grid`` with a Gaussian kernel of SD ``len_km``."""
    dx, dy = _cell_km(grid)
    sigma = (len_km / dy, len_km / dx)

    def smooth(a: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(a, sigma=sigma, mode="nearest")

    return smooth


# ----------------------------------------------------------------------------- static fields


def elevation_field(grid: LatLonGrid, seed: int, p: WorldParams) -> np.ndarray:
    """Plateau relief (m): long-scale Gaussian plus short-scale exponential field."""
    x, y = local_km(grid)
    long_ = _FieldMaker.build(
        x, y, "gaussian", p.elev_long_len_km, p.points_per_len, p.static_mode_no
    )
    short = _FieldMaker.build(
        x, y, "exponential", p.elev_short_len_km, p.points_per_len, p.static_mode_no
    )
    f = long_(_gs_seed(np.random.default_rng([seed, _S_ELEV_LONG])))
    f = f + p.elev_short_weight * short(_gs_seed(np.random.default_rng([seed, _S_ELEV_SHORT])))
    return np.clip(p.elev_mean_m + p.elev_sd_m * _standardise(f), p.elev_min_m, p.elev_max_m)


def topographic_index(elevation: np.ndarray, grid: LatLonGrid, p: WorldParams) -> np.ndarray:
    """Wetness-like index: high in valley bottoms and flats (standardised, clipped to +-3)."""
    relief = elevation - gaussian_smoother(grid, p.twi_len_km)(elevation)
    dx, dy = _cell_km(grid)
    gy, gx = np.gradient(elevation, dy * 1000.0, dx * 1000.0)
    flatness = -np.log(np.hypot(gx, gy) + 0.001)
    ti = (1 - p.twi_slope_weight) * _standardise(-relief)
    ti = ti + p.twi_slope_weight * _standardise(flatness)
    return np.clip(_standardise(ti), -3.0, 3.0)


def soil_properties(sand: np.ndarray, p: WorldParams) -> dict[str, np.ndarray]:
    """Hydraulic properties from the sand fraction (pedotransfer, module docstring)."""
    wp = p.wp0 - p.wp1 * sand
    return {
        "porosity": p.porosity0 - p.porosity1 * sand,
        "field_capacity": p.fc0 - p.fc1 * sand,
        "wilting_point": wp,
        "residual": p.residual_frac * wp,
        "infiltration_capacity": p.infil0_mm + p.infil1_mm * sand,
        "drainage_rate": p.drain0 + p.drain1 * sand,
    }


def static_world(grid: LatLonGrid, seed: int, p: WorldParams) -> dict[str, np.ndarray]:
    """Elevation, topographic index, sand fraction, soil hydraulics and vegetation potential."""
    x, y = local_km(grid)
    z = elevation_field(grid, seed, p)
    ti = topographic_index(z, grid, p)
    soil_f = _FieldMaker.build(x, y, "gaussian", p.soil_len_km, p.points_per_len, p.static_mode_no)
    veg_f = _FieldMaker.build(x, y, "gaussian", p.veg_len_km, p.points_per_len, p.static_mode_no)
    col_f = _FieldMaker.build(
        x, y, "gaussian", p.albedo_colour_len_km, p.points_per_len, p.static_mode_no
    )
    fs = _standardise(soil_f(_gs_seed(np.random.default_rng([seed, _S_SOIL]))))
    fv = _standardise(veg_f(_gs_seed(np.random.default_rng([seed, _S_VEG]))))
    fc = _standardise(col_f(_gs_seed(np.random.default_rng([seed, _S_COLOUR]))))
    sand = np.clip(p.sand_mean + p.sand_sd * fs - p.sand_valley_coef * ti, p.sand_min, p.sand_max)
    ndvi_pot = (
        p.ndvi_pot_mean
        + p.ndvi_pot_sd * fv
        - p.ndvi_sand_coef * (sand - p.sand_mean)
        + p.ndvi_elev_coef * (z - p.elev_mean_m) / 1000.0
    )
    pos = np.maximum(ti, 0.0)
    out = {
        "elevation": z,
        "topographic_index": ti,
        "sand": sand,
        "ndvi_potential": np.clip(ndvi_pot, 0.2, 0.85),
        "ndvi_bare": p.ndvi_soil - p.ndvi_bare_sd * fc,
        "soil_albedo": p.albedo_soil0 + p.albedo_sand_coef * sand + p.albedo_colour_sd * fc,
        "runon_weight": pos / pos.mean() if pos.mean() > 0 else np.ones_like(pos),
    }
    out.update(soil_properties(sand, p))
    return out


# ----------------------------------------------------------------------------- wet patches


def wet_patch_mask(grid: LatLonGrid, seed: int, p: WorldParams) -> np.ndarray:
    """(nlat, nlon) bool mask of the wet patches (module docstring); all False at share 0.

    Deterministic given ``seed``; the share of True cells is at least ``p.wet_patch_share``
    and exceeds it by less than the last disc's cells.
    """
    mask = np.zeros(grid.shape, dtype=bool)
    share = float(p.wet_patch_share)
    if share <= 0:
        return mask
    if not share < 1 or p.wet_patch_size_km <= 0:
        raise ValueError(
            f"wet patches need 0 <= share < 1 and size_km > 0, got {share}, {p.wet_patch_size_km}"
        )
    x, y = local_km(grid)
    dx, dy = _cell_km(grid)
    rng = np.random.default_rng([seed, _S_PATCHES])
    wanted = math.ceil(share * grid.size)
    lo, hi = PATCH_SIZE_RANGE
    covered = 0
    for _ in range(100 * wanted + 100):  # each disc covers >= 1 new cell or is retried
        if covered >= wanted:
            break
        d = p.wet_patch_size_km * float(
            np.clip(np.exp(PATCH_SIZE_SIGMA * rng.standard_normal()), lo, hi)
        )
        cx, cy = rng.uniform(x.min(), x.max()), rng.uniform(y.min(), y.max())
        cols = np.flatnonzero(np.abs(x - cx) <= d / 2 + dx)
        rows = np.flatnonzero(np.abs(y - cy) <= d / 2 + dy)
        inside = np.hypot(x[cols][None, :] - cx, y[rows][:, None] - cy) <= d / 2
        disc = np.zeros(grid.shape, dtype=bool)
        disc[np.ix_(rows, cols)] = inside
        disc[int(np.argmin(np.abs(y - cy))), int(np.argmin(np.abs(x - cx)))] = True
        covered += int((disc & ~mask).sum())
        mask |= disc
    return mask


def apply_wet_patches(
    theta: np.ndarray, mask: np.ndarray, soil: dict[str, np.ndarray], p: WorldParams
) -> np.ndarray:
    """``theta`` with the wet patches applied inside ``mask`` (module docstring).

    ``min(max(theta, wp + target (fc - wp)) + boost, porosity)`` inside, ``theta`` outside;
    ``soil`` holds the arrays of :func:`soil_properties` (same shape as ``theta``).
    """
    if not mask.any():
        return theta
    wet = np.asarray(theta, dtype=np.float64)
    if p.wet_patch_target is not None:
        floor = soil["wilting_point"] + p.wet_patch_target * (
            soil["field_capacity"] - soil["wilting_point"]
        )
        wet = np.maximum(wet, floor)
    wet = np.minimum(wet + p.wet_patch_boost, soil["porosity"])
    return np.where(mask, wet, theta)


# ----------------------------------------------------------------------------- daily forcing


def seasonal_storm_factor(doy: float, p: WorldParams, southern: bool = False) -> float:
    """Storm rate relative to the seasonal peak (between season_min_frac and 1)."""
    peak = p.season_peak_doy + (182.5 if southern else 0.0)
    c = 0.5 * (1.0 + math.cos(2 * math.pi * (doy - peak) / 365.0))
    return p.season_min_frac + (1.0 - p.season_min_frac) * c**2


def storm_precipitation(
    x: np.ndarray,
    y: np.ndarray,
    doy: float,
    rng: np.random.Generator,
    p: WorldParams,
    southern: bool = False,
) -> np.ndarray:
    """Storm-cell rain (mm/day) on the (len(y), len(x)) plane, before terrain factors."""
    margin = 2.0 * p.storm_radius_median_km
    x0, x1 = x.min() - margin, x.max() + margin
    y0, y1 = y.min() - margin, y.max() + margin
    rate = p.storm_density * seasonal_storm_factor(doy, p, southern) * (x1 - x0) * (y1 - y0)
    n = int(rng.poisson(rate))
    cx = rng.uniform(x0, x1, n)
    cy = rng.uniform(y0, y1, n)
    radius = np.minimum(
        p.storm_radius_median_km * np.exp(p.storm_radius_sigma * rng.standard_normal(n)),
        p.storm_radius_max_km,
    )
    depth = rng.gamma(p.storm_depth_shape, p.storm_depth_mean_mm / p.storm_depth_shape, n)
    out = np.zeros((len(y), len(x)))
    for i in range(n):
        reach = 4.0 * radius[i]
        jx = np.flatnonzero(np.abs(x - cx[i]) < reach)
        jy = np.flatnonzero(np.abs(y - cy[i]) < reach)
        if jx.size == 0 or jy.size == 0:
            continue
        gx = np.exp(-0.5 * ((x[jx] - cx[i]) / radius[i]) ** 2)
        gy = np.exp(-0.5 * ((y[jy] - cy[i]) / radius[i]) ** 2)
        out[jy[0] : jy[-1] + 1, jx[0] : jx[-1] + 1] += depth[i] * np.outer(gy, gx)
    return out


def extraterrestrial_radiation(doy: float, lat_deg: np.ndarray) -> np.ndarray:
    """Daily extraterrestrial shortwave (MJ m-2 day-1), FAO-56 eq. 21."""
    phi = np.radians(lat_deg)
    dr = 1 + 0.033 * math.cos(2 * math.pi * doy / 365)
    decl = 0.409 * math.sin(2 * math.pi * doy / 365 - 1.39)
    ws = np.arccos(np.clip(-np.tan(phi) * math.tan(decl), -1.0, 1.0))
    return (
        24
        * 60
        / math.pi
        * 0.0820
        * dr
        * (ws * np.sin(phi) * math.sin(decl) + np.cos(phi) * math.cos(decl) * np.sin(ws))
    )


def noon_zenith_deg(doy: float, lat_deg: np.ndarray) -> np.ndarray:
    """Solar zenith angle at local noon (degrees)."""
    decl = math.degrees(0.409 * math.sin(2 * math.pi * doy / 365 - 1.39))
    return np.abs(lat_deg - decl)


def climatological_air_temperature(
    doy: float, lat: np.ndarray, elevation: np.ndarray, p: WorldParams
) -> np.ndarray:
    """Daily-mean air temperature (deg C) without the weather anomaly.

    Latitudes are taken as distances from the equator and the seasons are shifted by half a
    year south of it, so the same parameters serve both hemispheres.
    """
    lat = np.asarray(lat, dtype=np.float64)
    peak = np.where(lat < 0, p.t_peak_doy + 182.5, p.t_peak_doy)
    return (
        p.t_mean_c
        + p.t_amp_c * np.cos(2 * np.pi * (doy - peak) / 365.0)
        - p.t_lat_gradient * (np.abs(lat) - p.t_ref_lat)
        - p.lapse_rate_k_per_km * (elevation - p.t_ref_elev_m) / 1000.0
    )


def potential_et(
    rs: np.ndarray, albedo: np.ndarray, t_air_c: np.ndarray, p: WorldParams
) -> np.ndarray:
    """Priestley-Taylor potential evapotranspiration (mm/day)."""
    es = 0.6108 * np.exp(17.27 * t_air_c / (t_air_c + 237.3))
    delta = 4098.0 * es / (t_air_c + 237.3) ** 2
    rn = p.net_rad_fraction * (1.0 - albedo) * rs
    pet = p.pt_alpha * delta / (delta + PSYCHROMETRIC_KPA_PER_K) * rn / LATENT_HEAT_MJ_PER_KG
    return np.maximum(pet, 0.0)


def vegetation_cover(ndvi: np.ndarray, p: WorldParams) -> np.ndarray:
    """Fractional vegetation cover from NDVI (linear between bare soil and full cover)."""
    return np.clip((ndvi - p.ndvi_soil) / (p.ndvi_full_cover - p.ndvi_soil), 0.0, 1.0)


# ----------------------------------------------------------------------------- water balance


def water_balance_step(
    theta: np.ndarray,
    precip: np.ndarray,
    pet: np.ndarray,
    veg_cover: np.ndarray,
    soil: dict[str, np.ndarray],
    p: WorldParams,
    runon_weight: np.ndarray | float = 0.0,
    smooth: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One daily step of the surface-layer bucket (steps 1-5 of the module docstring).

    ``theta`` (m3 m-3), ``precip`` and ``pet`` (mm/day) and ``veg_cover`` (0-1) are arrays
    of one shape; ``soil`` holds the arrays of :func:`soil_properties`. With
    ``runon_weight = 0`` (default) there is no lateral term. Returns the new ``theta``,
    the evapotranspiration (mm/day) and the evaporative fraction ET/PET.
    """
    depth = p.layer_depth_mm
    por = soil["porosity"] * depth
    fc = soil["field_capacity"] * depth
    res = soil["residual"] * depth
    r1 = np.maximum(precip - soil["infiltration_capacity"], 0.0)
    w1 = theta * depth + precip - r1
    r2 = np.maximum(w1 - por, 0.0)
    w1 = w1 - r2
    drain = soil["drainage_rate"] * np.maximum(w1 - fc, 0.0)
    w2 = w1 - drain
    if np.any(np.asarray(runon_weight) > 0) and p.lateral_fraction > 0:
        outflow = r1 + r2 + drain
        spread = smooth(outflow) if smooth is not None else outflow
        w2 = np.minimum(w2 + p.lateral_fraction * runon_weight * spread, por)
    th = w2 / depth
    b_e = np.clip((th - soil["residual"]) / (soil["field_capacity"] - soil["residual"]), 0, 1)
    b_t = np.clip(
        (th - soil["wilting_point"]) / (soil["field_capacity"] - soil["wilting_point"]), 0, 1
    )
    demand = pet * ((1 - veg_cover) * p.k_soil * b_e**p.evap_exponent + veg_cover * p.k_veg * b_t)
    et = np.clip(demand, 0.0, np.maximum(w2 - res, 0.0))
    theta_new = np.clip((w2 - et) / depth, soil["residual"], soil["porosity"])
    with np.errstate(invalid="ignore", divide="ignore"):
        ef = np.where(pet > 0, et / pet, 0.0)
    return theta_new, et, np.clip(ef, 0.0, 1.0)


def relative_wetness(theta: np.ndarray, soil: dict[str, np.ndarray]) -> np.ndarray:
    """(theta - wp)/(fc - wp), clipped to [0, 1]: the plant-available fraction."""
    return np.clip(
        (theta - soil["wilting_point"]) / (soil["field_capacity"] - soil["wilting_point"]), 0, 1
    )


def relative_saturation(theta: np.ndarray, soil: dict[str, np.ndarray]) -> np.ndarray:
    """(theta - r)/(phi - r), clipped to [0, 1]."""
    return np.clip((theta - soil["residual"]) / (soil["porosity"] - soil["residual"]), 0, 1)


def albedo_white_sky(
    saturation: np.ndarray, veg_cover: np.ndarray, soil_albedo: np.ndarray, p: WorldParams
) -> np.ndarray:
    """White-sky shortwave albedo: dry-soil albedo darkened by wetness, mixed with vegetation."""
    a_soil = soil_albedo * (1.0 - p.albedo_wet_factor * saturation)
    return (1.0 - veg_cover) * a_soil + veg_cover * p.albedo_veg


def _ndvi(
    st: dict[str, np.ndarray], phenology: np.ndarray, wet_mem: np.ndarray, p: WorldParams
) -> np.ndarray:
    green = phenology * wet_mem**p.ndvi_wetness_exponent
    ndvi = st["ndvi_bare"] + (st["ndvi_potential"] - st["ndvi_bare"]) * green
    return np.clip(ndvi, p.ndvi_min, p.ndvi_max)


def land_surface_temperature(
    t_air_c: np.ndarray,
    rs_clear: np.ndarray,
    albedo: np.ndarray,
    ef: np.ndarray,
    p: WorldParams,
) -> np.ndarray:
    """Clear-sky daytime LST (K) without noise (module docstring)."""
    excess = p.lst_wet_excess_k + (p.lst_dry_excess_k - p.lst_wet_excess_k) * (1.0 - ef)
    return (
        273.15
        + t_air_c
        + p.lst_day_offset_k
        + (rs_clear / p.rs_ref) * ((1.0 - albedo) / 0.8) * excess
    )


# ----------------------------------------------------------------------------- simulation


_ATTRS: dict[str, dict[str, str]] = {
    "elevation": {
        "units": "m",
        "long_name": "surface elevation above sea level",
        "standard_name": "surface_altitude",
    },
    "topographic_index": {
        "units": "1",
        "long_name": "topographic wetness-like index (standardised; high in valleys)",
    },
    "sand_fraction": {
        "units": "1",
        "long_name": "sand mass fraction of the topsoil (hidden driver)",
    },
    "porosity": {"units": "m3 m-3", "long_name": "soil porosity (saturated water content)"},
    "field_capacity": {"units": "m3 m-3", "long_name": "soil water content at field capacity"},
    "wilting_point": {"units": "m3 m-3", "long_name": "soil water content at wilting point"},
    "residual_sm": {"units": "m3 m-3", "long_name": "residual soil water content"},
    "precipitation": {
        "units": "mm day-1",
        "long_name": "daily precipitation",
        "standard_name": "lwe_thickness_of_precipitation_amount",
    },
    "sm_true": {
        "units": "m3 m-3",
        "long_name": "true surface (0-5 cm) volumetric soil moisture, end of day",
        "standard_name": "volume_fraction_of_condensed_water_in_soil",
    },
    "lst": {
        "units": "K",
        "long_name": "clear-sky daytime land surface temperature",
        "standard_name": "surface_temperature",
    },
    "cloud": {"units": "1", "long_name": "cloud at the daytime overpass (True = cloudy)"},
    "wet_patch": {
        "units": "1",
        "long_name": "wet patch (irrigated field) mask, 1 inside: sm_true held wet there "
        "while the predictors do not see it",
    },
    "ndvi": {"units": "1", "long_name": "normalized difference vegetation index"},
    "albedo_wsa": {"units": "1", "long_name": "white-sky shortwave albedo"},
    "albedo_bsa": {"units": "1", "long_name": "black-sky shortwave albedo at local solar noon"},
}


def _check_dates(dates: Sequence[dt.date]) -> list[dt.date]:
    out = [pd.Timestamp(d).date() for d in dates]
    if not out:
        raise ValueError("simulate_world needs at least one date")
    if any(b <= a for a, b in zip(out, out[1:], strict=False)):
        raise ValueError("dates must be strictly increasing (sorted, no duplicates)")
    return out


def _daily_draws(seed: int, stream: int, day: dt.date) -> np.random.Generator:
    return np.random.default_rng([seed, stream, day.toordinal()])


def simulate_world(
    grid: LatLonGrid,
    dates: Sequence[dt.date],
    seed: int,
    params: WorldParams = WorldParams(),  # noqa: B008 (frozen dataclass: immutable default)
) -> xr.Dataset:
    """Simulate the demo world on ``grid`` for ``dates`` (strictly increasing, gaps allowed).

    The water balance runs every day from ``params.spinup_days`` before the first date to the
    last date; only ``dates`` are returned. Static variables are (lat, lon), daily ones
    (time, lat, lon), float32 (``cloud`` is bool). Deterministic given ``seed``.
    """
    p = params
    days = _check_dates(dates)
    wanted = {d: k for k, d in enumerate(days)}
    start = days[0] - dt.timedelta(days=p.spinup_days)
    n_sim = (days[-1] - start).days + 1
    x, y = local_km(grid)
    lat2d = np.broadcast_to(grid.lat[:, None], grid.shape)
    southern = grid.north + grid.south < 0
    st = static_world(grid, seed, p)
    patches = wet_patch_mask(grid, seed, p)
    z = st["elevation"]
    soil = {
        k: st[k]
        for k in (
            "porosity",
            "field_capacity",
            "wilting_point",
            "residual",
            "infiltration_capacity",
            "drainage_rate",
        )
    }
    oro = np.maximum(0.0, 1.0 + p.orographic_per_km * (z - p.elev_mean_m) / 1000.0)
    oro = oro * np.exp(p.precip_gradient_per_100km * x / 100.0)[None, :]
    smooth_lat = gaussian_smoother(grid, p.lateral_len_km)
    cloud_field = _FieldMaker.build(
        x, y, "gaussian", p.cloud_len_km, p.points_per_len, p.daily_mode_no
    )
    weather_field = _FieldMaker.build(
        x, y, "gaussian", p.weather_len_km, p.points_per_len, p.daily_mode_no
    )

    nt = len(days)
    out = {
        name: np.empty((nt, *grid.shape), dtype=np.float32)
        for name in ("precipitation", "sm_true", "lst", "ndvi", "albedo_wsa", "albedo_bsa")
    }
    out["cloud"] = np.empty((nt, *grid.shape), dtype=bool)

    # initial state
    doy0 = start.timetuple().tm_yday
    theta = 0.5 * (soil["wilting_point"] + soil["field_capacity"])
    wet_mem = relative_wetness(theta, soil)
    t_smooth = climatological_air_temperature(doy0, lat2d, z, p)
    ph = np.clip((t_smooth - p.phen_t_base_c) / (p.phen_t_full_c - p.phen_t_base_c), 0, 1)
    ndvi = _ndvi(st, ph, wet_mem, p)
    cover = vegetation_cover(ndvi, p)
    sat_mem = relative_saturation(theta, soil)
    albedo = albedo_white_sky(sat_mem, cover, st["soil_albedo"], p)
    anomaly = np.zeros(grid.shape)

    for k in range(n_sim):
        day = start + dt.timedelta(days=k)
        doy = day.timetuple().tm_yday
        # forcing
        draws = _daily_draws(seed, _S_STORMS, day)
        rain = storm_precipitation(x, y, doy, draws, p, southern) * oro
        rain = np.where(rain >= p.precip_min_mm, rain, 0.0)
        crng = _daily_draws(seed, _S_CLOUD, day)
        latent = cloud_field(_gs_seed(crng)) + p.cloud_day_sd * crng.standard_normal()
        cloudy = (latent + p.cloud_precip_coef * np.log1p(rain) > p.cloud_threshold) | (
            rain >= p.cloud_rain_mm
        )
        wrng = _daily_draws(seed, _S_WEATHER, day)
        anomaly = p.weather_ar1 * anomaly + math.sqrt(1 - p.weather_ar1**2) * p.weather_sd_k * (
            weather_field(_gs_seed(wrng))
        )
        t_air = climatological_air_temperature(doy, lat2d, z, p) + anomaly
        rs_clear = (0.75 + 2e-5 * z) * extraterrestrial_radiation(doy, grid.lat)[:, None]
        rs = np.where(cloudy, p.cloud_transmission * rs_clear, rs_clear)
        pet = potential_et(rs, albedo, t_air, p)
        # water balance
        theta, _, ef = water_balance_step(
            theta, rain, pet, cover, soil, p, st["runon_weight"], smooth_lat
        )
        # vegetation and surface
        wet_mem = wet_mem + (relative_wetness(theta, soil) - wet_mem) / p.ndvi_tau_days
        t_smooth = t_smooth + (t_air - t_smooth) / p.phen_tau_days
        ph = np.clip((t_smooth - p.phen_t_base_c) / (p.phen_t_full_c - p.phen_t_base_c), 0, 1)
        ndvi = _ndvi(st, ph, wet_mem, p)
        cover = vegetation_cover(ndvi, p)
        sat_mem = sat_mem + (relative_saturation(theta, soil) - sat_mem) / p.albedo_tau_days
        albedo = albedo_white_sky(sat_mem, cover, st["soil_albedo"], p)
        i = wanted.get(day)
        if i is None:
            continue
        lst = land_surface_temperature(t_air, rs_clear, albedo, ef, p)
        lst = lst + p.lst_noise_k * _daily_draws(seed, _S_LST_NOISE, day).standard_normal(
            grid.shape
        )
        wsa = albedo + p.albedo_noise * _daily_draws(seed, _S_ALB_NOISE, day).standard_normal(
            grid.shape
        )
        sza = noon_zenith_deg(doy, grid.lat)[:, None]
        bsa = wsa * (1.0 + p.bsa_sza_coef * (sza - 45.0) / 45.0)
        out["precipitation"][i] = rain
        out["sm_true"][i] = apply_wet_patches(theta, patches, soil, p)
        out["lst"][i] = lst
        out["cloud"][i] = cloudy
        out["ndvi"][i] = ndvi
        out["albedo_wsa"][i] = wsa
        out["albedo_bsa"][i] = bsa

    ds = _to_dataset(grid, days, seed, p, st, out)
    ds["wet_patch"] = xr.DataArray(
        patches.astype(np.uint8), dims=("lat", "lon"), attrs=_ATTRS["wet_patch"]
    )
    return ds


def _to_dataset(
    grid: LatLonGrid,
    days: list[dt.date],
    seed: int,
    p: WorldParams,
    st: dict[str, np.ndarray],
    out: dict[str, np.ndarray],
) -> xr.Dataset:
    coords = grid.coords()
    coords["time"] = xr.DataArray(
        pd.DatetimeIndex([pd.Timestamp(d) for d in days]).as_unit("ns").values,
        dims="time",
        attrs={"long_name": "time", "standard_name": "time"},
    )
    static_names = {
        "elevation": "elevation",
        "topographic_index": "topographic_index",
        "sand_fraction": "sand",
        "porosity": "porosity",
        "field_capacity": "field_capacity",
        "wilting_point": "wilting_point",
        "residual_sm": "residual",
    }
    data: dict[str, xr.DataArray] = {}
    for name, key in static_names.items():
        data[name] = xr.DataArray(
            st[key].astype(np.float32), dims=("lat", "lon"), attrs=_ATTRS[name]
        )
    for name, values in out.items():
        data[name] = xr.DataArray(values, dims=("time", "lat", "lon"), attrs=_ATTRS[name])
    return xr.Dataset(
        data,
        coords=coords,
        attrs={
            "title": "smdownscale demo world: synthetic truth",
            "source": "smdownscale.demo.world.simulate_world",
            "seed": seed,
            "spinup_days": p.spinup_days,
            "world_params": json.dumps(dataclasses.asdict(p), sort_keys=True),
            "comment": "sm_true is the end-of-day state of a 5 cm bucket; lst is defined "
            "under clouds too (cloud says where a sensor would see it).",
        },
    )


# ----------------------------------------------------------------------------- diagnostics


def within_cell_anomaly(values: np.ndarray, factor: int) -> np.ndarray:
    """Fine values minus the mean of their ``factor x factor`` block (last two axes)."""
    means = block_mean(values, factor, 0.0)
    full = repeat_blocks(means, factor)
    return np.asarray(values, dtype=np.float64) - full


def world_summary(world: xr.Dataset, factor: int) -> dict[str, float]:
    """Summary statistics of a simulated world (for reports and tests).

    Means and SDs of every variable, the cloud fraction, the mean within-block SD of
    ``sm_true`` and the correlation of within-block anomalies of ``sm_true`` with those of
    each fine predictor (pooled over all cell-days).
    """
    stats: dict[str, float] = {}
    for name, da in world.data_vars.items():
        v = da.values.astype(np.float64)
        stats[f"{name}_mean"] = float(np.mean(v))
        stats[f"{name}_sd"] = float(np.std(v))
    sm = world["sm_true"].values
    sm_anom = within_cell_anomaly(sm, factor)
    stats["sm_within_cell_sd"] = float(np.sqrt(block_mean(sm_anom**2, factor, 0.0)).mean())
    for name in (
        "elevation",
        "lst",
        "ndvi",
        "albedo_wsa",
        "albedo_bsa",
        "precipitation",
        "sand_fraction",
    ):
        pred = np.broadcast_to(world[name].values, sm.shape)
        anom = within_cell_anomaly(pred, factor)
        stats[f"corr_sm_anom_{name}"] = float(np.corrcoef(sm_anom.ravel(), anom.ravel())[0, 1])
    return stats
