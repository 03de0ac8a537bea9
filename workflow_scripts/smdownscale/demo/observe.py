"""Observation operators of the demo world: a coarse satellite product and in-situ stations.

Pure functions: the truth (:func:`smdownscale.demo.world.simulate_world`) and grids in,
``xarray``/``pandas`` objects out; writing them in the real products' formats is done
elsewhere.

Coarse product (ESA CCI SM COMBINED-like, :func:`coarse_product`)
-----------------------------------------------------------------
``sm = B + b(x) (1 + bias_seasonal sin(2 pi d / 365 + psi)) + e``, where

* ``B`` is the block mean of the fine truth over each coarse cell
  (:func:`smdownscale.grid.block_mean`; returned as ``sm_noisefree`` for diagnostics);
* ``b(x)`` is a smooth spatial bias: a gstools Gaussian field of scale ``bias_len_km`` on the
  coarse cells, scaled so that ``max |b| = bias_amplitude``, modulated slowly in time;
* ``e ~ N(0, noise_sd)`` independent per cell-day.

Gaps (cells with no retrieval that day, ``sm`` missing): each day, diagonal swath stripes
(``frac(u / swath_period_deg + phase_d) < swath_share gap_fraction`` with the cross-track
coordinate ``u = (lon - lon0) cos(tilt) + (lat - lat0) sin(tilt)`` and a random daily phase)
plus independent random gaps among the rest, with probability chosen so that the expected
missing fraction is ``gap_fraction``.

Flags (``flag``, int8 bits as in ESA CCI SM v08):

* 1 (snow cover or temperature below zero): coarse block mean of the given LST < 273.15 K;
  ``sm`` missing (ESA CCI retrieves nothing over frozen soil);
* 2 (dense vegetation): coarse block mean of the given NDVI > ``dense_veg_ndvi``; ``sm``
  missing (ESA CCI gives no estimate where vegetation is too dense, so this is also fill);
* 8 (value exceeds physical boundary): noisy value outside [0, ``physical_max``];
  ``sm`` missing;
* 16 (weight of measurement below threshold): a random ``low_weight_fraction`` of the
  retrievals, whose error is doubled; the value is kept (the workflow masks it by default);
* 64 (barren ground, advisory): the cell's period-mean NDVI < ``barren_ndvi``; the value is
  kept (advisory only: the workflow keeps it by default).

A gap cell-day has ``sm`` missing and ``flag = 0``: in ESA CCI the flag describes conditions
of a retrieval, and "no observation" is not one of its bits (flag 0 = "no inconsistency
detected"), so a reader must use the missing ``sm``, not the flag, to find gaps.

Stations (:func:`station_sites`, :func:`station_observations`)
-------------------------------------------------------------
Each station sits at a random interior point of a random fine cell (10-90 % of the cell in
each direction, so never on an edge); ``n_outside`` extra stations lie 0.2-1 deg outside the
region. A station's value at time t is ``theta(cell, day) + beta_s + eta_s(day) [+ wiggle]``
with sensor bias ``beta_s ~ N(0, bias_sd)`` and representativeness error ``eta_s`` AR(1) in
days (``noise_corr``, marginal SD ``noise_sd``). Hourly networks add a diurnal wiggle and
instrument noise that are exactly zero-mean over each day, so that the daily mean of the 24
values is ``theta + beta + eta``. Stations outside the grid see the nearest edge cell.
Values below 0 are flagged ``C01``, above 0.6 ``C02``, above the cell's porosity (when given)
``C03`` (ISMN's plausibility checks, Dorigo et al. 2013); a ``bad_fraction`` of other rows is
replaced by garbage with a bad flag (``C01``: negative, ``C02``: above 0.6, ``C03``: above
the porosity, ``D03``: frozen-soil reading of 0-0.04, ``D06``: spike 0.15-0.35 above the
signal). Good rows carry ``G``. Values are in the network's units (``percent``:
volumetric percent, x100).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence

import gstools as gs
import numpy as np
import pandas as pd
import xarray as xr

from smdownscale.ease2 import Ease2Grid
from smdownscale.grid import LatLonGrid, block_map, block_mean

FLAG_FROZEN = 1
FLAG_DENSE_VEGETATION = 2
FLAG_PHYSICAL_BOUNDARY = 8
FLAG_LOW_WEIGHT = 16
FLAG_BARREN = 64
#: Flags whose cells have no ``sm`` value (fill), as in ESA CCI.
FILL_FLAGS = FLAG_FROZEN | FLAG_DENSE_VEGETATION | FLAG_PHYSICAL_BOUNDARY

_FLAG_ATTRS = {
    "long_name": "flag",
    "flag_masks": np.array([1, 2, 8, 16, 64], dtype=np.int8),
    "flag_meanings": "snow_coverage_or_temperature_below_zero dense_vegetation "
    "soil_moisture_value_exceeds_physical_boundary weight_of_measurement_below_threshold "
    "barren_ground_advisory_flag",
    "comment": "gaps (no retrieval) have sm missing and flag 0",
}

#: ISMN quality flags given to garbage rows (Dorigo et al. 2013): C01 value < 0, C02 > 0.6,
#: C03 above the saturation point (porosity), D03 frozen soil (GLDAS), D06 spike.
BAD_FLAGS = ("C01", "C02", "C03", "D03", "D06")
GOOD_FLAG = "G"


# ----------------------------------------------------------------------------- coarse product


def _check_on_grid(da: xr.DataArray, grid: LatLonGrid, what: str) -> None:
    if da.shape[-2:] != grid.shape or not (
        np.allclose(da["lat"].values, grid.lat) and np.allclose(da["lon"].values, grid.lon)
    ):
        raise ValueError(f"{what} is not on the fine grid {grid.bbox} at {grid.res} deg")


def smooth_bias_field(
    coarse: LatLonGrid | Ease2Grid, amplitude: float, len_km: float, seed: int
) -> np.ndarray:
    """(nlat, nlon) smooth field with ``max |b| = amplitude`` (zero if amplitude is 0)."""
    if amplitude == 0 or coarse.size < 2:
        return np.zeros(coarse.shape)
    lat_c = 0.5 * (coarse.north + coarse.south)
    x = 111.32 * math.cos(math.radians(lat_c)) * coarse.lon
    y = 110.57 * coarse.lat
    srf = gs.SRF(gs.Gaussian(dim=2, var=1.0, len_scale=len_km), seed=seed, mode_no=500)
    f = np.asarray(srf.structured([y, x]), dtype=np.float64)
    f = f - f.mean()
    peak = np.abs(f).max()
    return amplitude * f / peak if peak > 0 else np.zeros(coarse.shape)


def swath_gaps(
    coarse: LatLonGrid | Ease2Grid,
    n_days: int,
    rng: np.random.Generator,
    gap_fraction: float,
    swath_share: float = 0.8,
    swath_period_deg: float = 2.5,
    swath_tilt_deg: float = 15.0,
) -> np.ndarray:
    """(n_days, nlat, nlon) bool, True = no retrieval; expected True fraction = gap_fraction.

    A share ``swath_share`` of the gaps comes as diagonal stripes between satellite swaths
    (random daily phase), the rest as independent random cell gaps.
    """
    if not 0 <= gap_fraction < 1:
        raise ValueError(f"gap_fraction must be in [0, 1), got {gap_fraction}")
    tilt = math.radians(swath_tilt_deg)
    u = (coarse.lon[None, :] - coarse.west) * math.cos(tilt) + (
        coarse.lat[:, None] - coarse.south
    ) * math.sin(tilt)
    stripe_frac = swath_share * gap_fraction
    rand_frac = (gap_fraction - stripe_frac) / (1.0 - stripe_frac) if stripe_frac < 1 else 0.0
    phase = rng.uniform(0.0, 1.0, n_days)
    stripes = np.mod(u[None] / swath_period_deg + phase[:, None, None], 1.0) < stripe_frac
    random_gaps = rng.uniform(size=(n_days, *coarse.shape)) < rand_frac
    return stripes | random_gaps


def coarse_product(
    truth_sm: xr.DataArray,
    fine: LatLonGrid,
    coarse: LatLonGrid | Ease2Grid,
    seed: int,
    noise_sd: float = 0.02,
    bias_amplitude: float = 0.03,
    gap_fraction: float = 0.3,
    *,
    lst: xr.DataArray | None = None,
    ndvi: xr.DataArray | None = None,
    dense_veg_ndvi: float = 0.65,
    barren_ndvi: float = 0.12,
    frozen_lst_k: float = 273.15,
    physical_max: float = 0.6,
    bias_len_km: float = 150.0,
    bias_seasonal: float = 0.25,
    swath_share: float = 0.8,
    swath_period_deg: float = 2.5,
    swath_tilt_deg: float = 15.0,
    low_weight_fraction: float = 0.05,
) -> xr.Dataset:
    """The synthetic coarse satellite product (module docstring) on ``coarse``.

    ``truth_sm`` is (time, lat, lon) on ``fine``; ``lst`` and ``ndvi``, when given, are the
    world's fine fields of the same shape, used only for the flags. Returns a Dataset with
    ``sm`` (float32, NaN = missing), ``flag`` (int8), ``sm_noisefree`` (the exact block mean
    of the truth) and ``bias`` (the static spatial bias pattern).
    """
    _check_on_grid(truth_sm, fine, "truth_sm")
    factor = block_map(fine, coarse)
    rng = np.random.default_rng([seed, 101])
    times = pd.DatetimeIndex(truth_sm["time"].values)
    truth = truth_sm.values
    nt = truth.shape[0]
    noisefree = block_mean(truth, factor)
    bias = smooth_bias_field(coarse, bias_amplitude, bias_len_km, int(rng.integers(1, 2**31)))
    psi = rng.uniform(0, 2 * np.pi)
    season = 1.0 + bias_seasonal * np.sin(2 * np.pi * times.day_of_year.to_numpy() / 365.0 + psi)
    sm = noisefree + bias[None] * season[:, None, None] + rng.normal(0.0, noise_sd, noisefree.shape)
    flag = np.zeros(sm.shape, dtype=np.int8)
    if lst is not None:
        _check_on_grid(lst, fine, "lst")
        flag |= np.where(block_mean(lst.values, factor) < frozen_lst_k, FLAG_FROZEN, 0).astype(
            np.int8
        )
    if ndvi is not None:
        _check_on_grid(ndvi, fine, "ndvi")
        nd = block_mean(ndvi.values, factor)
        flag |= np.where(nd > dense_veg_ndvi, FLAG_DENSE_VEGETATION, 0).astype(np.int8)
        barren = np.nanmean(nd, axis=0) < barren_ndvi
        flag |= np.where(barren[None], FLAG_BARREN, 0).astype(np.int8)
    low_weight = rng.random(sm.shape) < low_weight_fraction
    sm = np.where(low_weight, sm + rng.normal(0.0, noise_sd, sm.shape), sm)
    flag |= np.where(low_weight, FLAG_LOW_WEIGHT, 0).astype(np.int8)
    flag |= np.where((sm < 0) | (sm > physical_max), FLAG_PHYSICAL_BOUNDARY, 0).astype(np.int8)
    gaps = swath_gaps(coarse, nt, rng, gap_fraction, swath_share, swath_period_deg, swath_tilt_deg)
    gaps |= ~np.isfinite(noisefree)
    flag[gaps] = 0
    sm = np.where(gaps | ((flag & FILL_FLAGS) != 0), np.nan, sm)
    coords = coarse.coords()
    coords["time"] = truth_sm["time"]
    dims = ("time", "lat", "lon")
    return xr.Dataset(
        {
            "sm": xr.DataArray(
                sm.astype(np.float32),
                dims=dims,
                attrs={
                    "units": "m3 m-3",
                    "long_name": "volumetric soil moisture (synthetic coarse product)",
                    "valid_range": np.array([0.0, 1.0], np.float32),
                },
            ),
            "flag": xr.DataArray(flag, dims=dims, attrs=_FLAG_ATTRS),
            "sm_noisefree": xr.DataArray(
                noisefree.astype(np.float32),
                dims=dims,
                attrs={
                    "units": "m3 m-3",
                    "long_name": "block mean of the true fine soil moisture (diagnostic)",
                },
            ),
            "bias": xr.DataArray(
                bias.astype(np.float32),
                dims=("lat", "lon"),
                attrs={
                    "units": "m3 m-3",
                    "long_name": "spatial bias pattern of the product "
                    "(before its seasonal modulation)",
                },
            ),
        },
        coords=coords,
        attrs={
            "title": "smdownscale demo: synthetic coarse soil moisture product",
            "seed": seed,
            "noise_sd": noise_sd,
            "bias_amplitude": bias_amplitude,
            "gap_fraction": gap_fraction,
        },
    )


# ----------------------------------------------------------------------------- stations


def _sampling_days(sampling: str) -> int | None:
    """None for hourly, else the interval in days ('daily' = 1, '5day' = 5, ...)."""
    if sampling == "hourly":
        return None
    if sampling == "daily":
        return 1
    m = re.fullmatch(r"(\d+)day", sampling)
    if not m or int(m.group(1)) < 1:
        raise ValueError(f"unknown sampling {sampling!r}: use 'hourly', 'daily' or 'Nday'")
    return int(m.group(1))


def _units_factor(units: str) -> float:
    if units == "m3 m-3":
        return 1.0
    if units == "percent":
        return 100.0
    raise ValueError(f"unknown station units {units!r}: use 'm3 m-3' or 'percent'")


def station_sites(
    fine: LatLonGrid,
    networks: Sequence[dict],
    seed: int,
    n_outside: int = 2,
    elevation: xr.DataArray | None = None,
) -> pd.DataFrame:
    """Station metadata: random interior points of random fine cells, plus outside ones.

    Columns: network, station, lat, lon, elevation (from ``elevation`` when given, NaN
    outside the grid), depth_from, depth_to (m; network keys of the same names, default
    0-0.05), sensor, inside (bool). The ``n_outside`` outside stations are dealt to the
    networks in turn and named ``<network>-X<nn>``.
    """
    rng = np.random.default_rng([seed, 201])
    rows = []
    for net in networks:
        n = int(net["n_stations"])
        r = rng.integers(0, fine.nlat, n)
        c = rng.integers(0, fine.nlon, n)
        fy = rng.uniform(0.1, 0.9, n)
        fx = rng.uniform(0.1, 0.9, n)
        lat = fine.north - (r + fy) * fine.res
        lon = fine.west + (c + fx) * fine.res
        for i in range(n):
            rows.append((net, f"{net['name']}-{i + 1:03d}", lat[i], lon[i], True))
    for k in range(n_outside):
        net = networks[k % len(networks)]
        side = k % 4
        off = rng.uniform(0.2, 1.0)
        along = rng.uniform(0.1, 0.9)
        lat = {0: fine.north + off, 1: fine.south - off}.get(
            side, fine.south + along * (fine.north - fine.south)
        )
        lon = {2: fine.east + off, 3: fine.west - off}.get(
            side, fine.west + along * (fine.east - fine.west)
        )
        rows.append((net, f"{net['name']}-X{k + 1:02d}", lat, lon, False))
    lats = np.array([r[2] for r in rows], dtype=float)
    lons = np.array([r[3] for r in rows], dtype=float)
    elev = np.full(len(rows), np.nan)
    if elevation is not None:
        ri, ci = fine.cell_index(lats, lons)
        ok = ri >= 0
        elev[ok] = np.asarray(elevation.values)[ri[ok], ci[ok]]
    return pd.DataFrame(
        {
            "network": [r[0]["name"] for r in rows],
            "station": [r[1] for r in rows],
            "lat": np.round(lats, 5),
            "lon": np.round(lons, 5),
            "elevation": np.round(elev, 1),
            "depth_from": [float(r[0].get("depth_from", 0.0)) for r in rows],
            "depth_to": [float(r[0].get("depth_to", 0.05)) for r in rows],
            "sensor": [str(r[0].get("sensor", "ThetaProbe-ML2X")) for r in rows],
            "inside": [r[4] for r in rows],
        }
    )


def _nearest_cell(grid: LatLonGrid, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, ...]:
    """Row and column of the cell holding each point, clamped to the grid's edge cells."""
    row = np.floor((grid.north - lat) / grid.res).astype(np.int64)
    col = np.floor((lon - grid.west) / grid.res).astype(np.int64)
    return np.clip(row, 0, grid.nlat - 1), np.clip(col, 0, grid.nlon - 1)


def _ar1(rng: np.random.Generator, n: int, rho: float, sd: float) -> np.ndarray:
    e = rng.standard_normal(n)
    out = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc = rho * acc + math.sqrt(1 - rho**2) * e[i] if i else e[0]
        out[i] = acc
    return sd * out


def station_observations(
    truth_sm: xr.DataArray,
    sites: pd.DataFrame,
    networks: Sequence[dict],
    seed: int,
    start: dt.date | str,
    end: dt.date | str,
    *,
    porosity: xr.DataArray | None = None,
    bad_fraction: float = 0.025,
    diurnal_amplitude: float = 0.004,
    hourly_noise_sd: float = 0.003,
) -> pd.DataFrame:
    """In-situ observations of the truth at ``sites`` from ``start`` to ``end`` (inclusive).

    ``truth_sm`` is the world's (time, lat, lon) ``sm_true``; days outside its time axis are
    not observed. Network dicts use keys name, sampling, units, bias_sd, noise_sd and
    optionally noise_corr (default 0.7). Returns columns network, station, time
    (datetime64[ns]), sm (network units), flag (ISMN quality flag), units, sorted by
    network, station, time. The per-station sensor biases (m3 m-3) are in
    ``result.attrs["station_bias"]``.
    """
    grid = LatLonGrid.from_coords(truth_sm["lat"].values, truth_sm["lon"].values)
    t_all = pd.DatetimeIndex(truth_sm["time"].values)
    keep = (t_all >= pd.Timestamp(start)) & (t_all <= pd.Timestamp(end))
    days = t_all[keep]
    values = truth_sm.values[keep]
    por = np.asarray(porosity.values) if porosity is not None else None
    by_name = {n["name"]: n for n in networks}
    rng = np.random.default_rng([seed, 301])
    frames = []
    biases: dict[str, float] = {}
    for _, site in sites.iterrows():
        net = by_name[site["network"]]
        r, c = _nearest_cell(grid, np.array(site["lat"]), np.array(site["lon"]))
        theta = values[:, int(r), int(c)].astype(np.float64)
        bias = float(rng.normal(0.0, float(net.get("bias_sd", 0.02))))
        biases[site["station"]] = bias
        eta = _ar1(rng, len(days), float(net.get("noise_corr", 0.7)), float(net["noise_sd"]))
        daily = theta + bias + eta
        step = _sampling_days(net["sampling"])
        if step is None:
            times, sm = _hourly(rng, days, daily, diurnal_amplitude, hourly_noise_sd)
        else:
            sel = ((days - pd.Timestamp(start)).days % step) == 0
            times, sm = days[sel], daily[sel]
        sm = np.round(sm, 6)  # the precision written; flags must agree with written values
        pmax = float(por[int(r), int(c)]) if por is not None else 0.6
        flags = np.select([sm < 0, sm > 0.6, sm > pmax], ["C01", "C02", "C03"], GOOD_FLAG).astype(
            object
        )
        bad = rng.uniform(size=sm.size) < bad_fraction
        codes = rng.choice(BAD_FLAGS, size=sm.size)
        garbage = {
            "C01": rng.uniform(-0.2, -0.01, sm.size),
            "C02": rng.uniform(0.62, 0.95, sm.size),
            "C03": rng.uniform(pmax + 0.01, max(pmax + 0.02, 0.6), sm.size),
            "D03": rng.uniform(0.0, 0.04, sm.size),  # frozen: only liquid water is sensed
            "D06": sm + rng.uniform(0.15, 0.35, sm.size),
        }
        garbage = {k: np.round(v, 6) for k, v in garbage.items()}
        for code in BAD_FLAGS:
            m = bad & (codes == code)
            sm = np.where(m, garbage[code], sm)
            flags[m] = code
        factor = _units_factor(net["units"])
        frames.append(
            pd.DataFrame(
                {
                    "network": site["network"],
                    "station": site["station"],
                    "time": pd.DatetimeIndex(times).as_unit("ns"),
                    "sm": np.round(sm * factor, 6 if factor == 1 else 4),
                    "flag": flags,
                    "units": net["units"],
                }
            )
        )
    cols = ["network", "station", "time", "sm", "flag", "units"]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    out = out.sort_values(["network", "station", "time"], kind="stable").reset_index(drop=True)
    out.attrs["station_bias"] = biases
    return out


def _hourly(
    rng: np.random.Generator,
    days: pd.DatetimeIndex,
    daily: np.ndarray,
    amplitude: float,
    noise_sd: float,
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """24 hourly values per day with exactly zero-mean diurnal wiggle and noise."""
    hours = np.arange(24)
    wiggle = amplitude * np.cos(2 * np.pi * (hours - 6) / 24.0)  # wettest at dawn
    noise = rng.normal(0.0, noise_sd, (len(days), 24))
    noise -= noise.mean(axis=1, keepdims=True)
    sm = (daily[:, None] + wiggle[None, :] + noise).ravel()
    times = (days.values[:, None] + hours[None, :].astype("timedelta64[h]")).ravel()
    return pd.DatetimeIndex(times), sm
