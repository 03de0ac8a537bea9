"""The demo world (truth simulation) and its observation operators."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from smdownscale.demo.observe import (
    FLAG_BARREN,
    FLAG_DENSE_VEGETATION,
    FLAG_FROZEN,
    FLAG_PHYSICAL_BOUNDARY,
    coarse_product,
    station_observations,
    station_sites,
)
from smdownscale.demo.world import (
    WorldParams,
    simulate_world,
    soil_properties,
    water_balance_step,
    within_cell_anomaly,
)
from smdownscale.grid import LatLonGrid, block_mean, region_grids

SEED = 20100407
DATES = [dt.date(2010, 4, 7) + dt.timedelta(days=i) for i in range(128)]
NETWORKS = [
    {
        "name": "DEMO-HOURLY",
        "n_stations": 12,
        "sampling": "hourly",
        "units": "m3 m-3",
        "bias_sd": 0.02,
        "noise_sd": 0.02,
    },
    {
        "name": "DEMO-5DAY",
        "n_stations": 10,
        "sampling": "5day",
        "units": "m3 m-3",
        "bias_sd": 0.02,
        "noise_sd": 0.025,
    },
    {
        "name": "DEMO-10DAY",
        "n_stations": 8,
        "sampling": "10day",
        "units": "percent",
        "bias_sd": 0.02,
        "noise_sd": 0.025,
    },
]
SMALL = LatLonGrid(north=40.5, south=40.0, west=111.0, east=111.5, res=0.01)
SMALL_DATES = [dt.date(2010, 6, 1) + dt.timedelta(days=i) for i in range(12)]
SMALL_PARAMS = WorldParams(spinup_days=10)
PREDICTORS = ["elevation", "lst", "ndvi", "albedo_wsa", "precipitation"]


@pytest.fixture(scope="module")
def grids() -> tuple[LatLonGrid, LatLonGrid]:
    return region_grids((110.0, 39.0, 113.0, 41.0), 0.25, 0.01)


@pytest.fixture(scope="module")
def world(grids) -> xr.Dataset:
    return simulate_world(grids[1], DATES, SEED)


@pytest.fixture(scope="module")
def small_world() -> xr.Dataset:
    return simulate_world(SMALL, SMALL_DATES, 3, SMALL_PARAMS)


# ----------------------------------------------------------------------------- world


def test_same_seed_identical_other_seed_different(small_world):
    again = simulate_world(SMALL, SMALL_DATES, 3, SMALL_PARAMS)
    xr.testing.assert_identical(small_world, again)
    other = simulate_world(SMALL, SMALL_DATES, 4, SMALL_PARAMS)
    for name in ("elevation", "sand_fraction", "sm_true", "lst", "ndvi", "cloud"):
        assert not np.array_equal(small_world[name].values, other[name].values), name


def test_output_layout(small_world):
    times = pd.DatetimeIndex(small_world["time"].values)
    assert list(times.date) == SMALL_DATES
    assert small_world["time"].dtype == np.dtype("datetime64[ns]")
    assert small_world["sm_true"].dims == ("time", "lat", "lon")
    assert small_world["elevation"].dims == ("lat", "lon")
    np.testing.assert_allclose(small_world["lat"].values, SMALL.lat)
    for name, da in small_world.data_vars.items():
        assert "units" in da.attrs and "long_name" in da.attrs, name
        want = {"cloud": bool, "wet_patch": np.uint8}.get(name, np.float32)
        assert da.dtype == want, name
    assert not small_world["wet_patch"].values.any()  # patches are off by default


def test_sparse_dates_equal_contiguous_run_and_forcing_keyed_by_date():
    full = simulate_world(SMALL, SMALL_DATES, 3, SMALL_PARAMS)
    picked = [SMALL_DATES[0], SMALL_DATES[4], SMALL_DATES[11]]
    sparse = simulate_world(SMALL, picked, 3, SMALL_PARAMS)
    xr.testing.assert_identical(sparse, full.sel(time=pd.DatetimeIndex(picked)))
    later = simulate_world(SMALL, SMALL_DATES[6:], 3, SMALL_PARAMS)
    # storms and clouds belong to the date, not to the requested range
    np.testing.assert_array_equal(later["precipitation"].values, full["precipitation"].values[6:])
    with pytest.raises(ValueError, match="strictly increasing"):
        simulate_world(SMALL, [SMALL_DATES[1], SMALL_DATES[0]], 3, SMALL_PARAMS)


@pytest.mark.parametrize(
    "grid",
    [
        LatLonGrid(north=41.0, south=40.5, west=100.0, east=100.4, res=0.05),
        LatLonGrid(north=-30.0, south=-30.4, west=20.0, east=20.3, res=0.02),
    ],
)
def test_any_grid(grid):
    days = [dt.date(2010, 1, 1) + dt.timedelta(days=i) for i in range(0, 20, 4)]
    w = simulate_world(grid, days, 1, WorldParams(spinup_days=15))
    assert w["sm_true"].shape == (len(days), *grid.shape)
    assert np.all(w["sm_true"].values >= w["residual_sm"].values)
    assert np.all(w["sm_true"].values <= w["porosity"].values)
    # January: winter in the north, summer in the south
    lst = float(w["lst"].mean())
    assert lst < 285 if grid.north > 0 else lst > 295


def test_physical_bounds(world):
    sm = world["sm_true"].values
    assert np.all(sm >= world["residual_sm"].values)
    assert np.all(sm <= world["porosity"].values)
    assert 0.05 < float(np.mean(sm)) < 0.3
    ndvi = world["ndvi"].values
    assert ndvi.min() >= 0.05 and ndvi.max() <= 0.75
    assert 0.12 < float(np.median(ndvi)) < 0.45
    for name in ("albedo_wsa", "albedo_bsa"):
        a = world[name].values
        assert np.percentile(a, 0.1) > 0.12 and np.percentile(a, 99.9) < 0.37, name
    # black-sky differs from white-sky (lower at the high summer sun)
    assert float(np.mean(world["albedo_bsa"].values - world["albedo_wsa"].values)) < -0.005
    lst = world["lst"].values
    assert lst.min() > 250 and lst.max() < 330
    cloud = float(world["cloud"].values.mean())
    assert 0.28 < cloud < 0.45
    precip = world["precipitation"].values
    assert precip.min() >= 0
    assert 0.5 < float((precip == 0).mean()) < 0.8
    z = world["elevation"].values
    assert 850 <= z.min() and z.max() <= 2300 and z.max() - z.min() > 700
    por, fc, wp = (world[n].values for n in ("porosity", "field_capacity", "wilting_point"))
    assert np.all((world["residual_sm"].values < wp) & (wp < fc) & (fc < por))
    # rain falls under clouds
    assert np.all(world["cloud"].values[precip >= 0.5])


def test_precipitation_grows_into_summer(world):
    precip = world["precipitation"].values.mean(axis=(1, 2))
    assert precip[-60:].mean() > 1.5 * precip[:30].mean()


def test_storm_wets_the_soil(world):
    sm = world["sm_true"].values
    precip = world["precipitation"].values
    storm = (precip[1:] > 20) & (sm[:-1] < world["field_capacity"].values)
    assert storm.sum() > 1000
    assert np.all(np.diff(sm, axis=0)[storm] > 0)


def test_dry_spell_dries_monotonically():
    params = dataclasses.replace(SMALL_PARAMS, storm_density=0.0)
    dry = simulate_world(SMALL, SMALL_DATES, 3, params)
    assert float(dry["precipitation"].values.max()) == 0.0
    step = np.diff(dry["sm_true"].values.astype(np.float64), axis=0)
    assert np.all(step <= 1e-7)
    assert np.all(step.mean(axis=(1, 2)) < 0)


def test_water_balance_step_pure():
    p = WorldParams()
    soil = soil_properties(np.array([0.2, 0.5, 0.8]), p)
    theta = soil["field_capacity"] - 0.02
    zeros = np.zeros(3)
    # a dry spell: strictly decreasing while above residual, never below it
    th = theta.copy()
    for _ in range(60):
        new, et, ef = water_balance_step(th, zeros, np.full(3, 5.0), np.full(3, 0.3), soil, p)
        assert np.all(new <= th) and np.all(new >= soil["residual"])
        assert np.all((et >= 0) & (ef >= 0) & (ef <= 1))
        th = new
    assert np.all(th < soil["wilting_point"])
    # rain wets, a deluge saturates but never exceeds porosity
    wet, _, _ = water_balance_step(theta, np.full(3, 10.0), np.full(3, 3.0), zeros, soil, p)
    assert np.all(wet > theta)
    flood, _, _ = water_balance_step(theta, np.full(3, 500.0), zeros, zeros, soil, p)
    assert np.all(flood <= soil["porosity"]) and np.all(flood > soil["field_capacity"])
    # run-on adds water only to convergent cells, and only when water leaves the neighbourhood
    base, _, _ = water_balance_step(theta, np.full(3, 40.0), zeros, zeros, soil, p)
    ro, _, _ = water_balance_step(
        theta, np.full(3, 40.0), zeros, zeros, soil, p, runon_weight=np.array([0.0, 2.0, 2.0])
    )
    assert ro[0] == base[0] and np.all(ro[1:] > base[1:])
    dry_base, _, _ = water_balance_step(theta - 0.05, zeros, zeros, zeros, soil, p)
    dry_ro, _, _ = water_balance_step(
        theta - 0.05, zeros, zeros, zeros, soil, p, runon_weight=np.full(3, 2.0)
    )
    np.testing.assert_array_equal(dry_base, dry_ro)


def _day_anomaly(a: np.ndarray) -> np.ndarray:
    return (a - a.mean(axis=(-2, -1), keepdims=True)).ravel()


def test_lst_lapse_rate_and_evaporative_cooling(world):
    shape = world["sm_true"].shape
    cols = [
        _day_anomaly(np.broadcast_to(world["elevation"].values, shape)) / 1000.0,
        _day_anomaly(world["sm_true"].values),
        _day_anomaly(world["ndvi"].values),
        _day_anomaly(world["albedo_wsa"].values),
    ]
    idx = np.random.default_rng(1).choice(cols[0].size, 300_000, replace=False)
    a = np.column_stack([c[idx] for c in cols])
    coef, *_ = np.linalg.lstsq(a, _day_anomaly(world["lst"].values)[idx], rcond=None)
    assert -9.0 < coef[0] < -4.0  # K per km, near -6.5
    assert coef[1] < 0  # wetter is cooler


def test_ndvi_follows_lagged_soil_moisture(world):
    sm = world["sm_true"].values.astype(np.float64)
    ndvi = world["ndvi"].values[30:].astype(np.float64)
    lagged = np.stack([sm[t - 30 : t].mean(axis=0) for t in range(30, sm.shape[0])])
    a = ndvi - ndvi.mean(axis=0)
    b = lagged - lagged.mean(axis=0)
    corr = (a * b).sum(axis=0) / np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    assert np.nanmedian(corr) > 0.5
    spatial = [np.corrcoef(ndvi[t].ravel(), lagged[t].ravel())[0, 1] for t in range(0, 98, 10)]
    assert min(spatial) > 0.15 and np.median(spatial) > 0.45


def _r2(y: np.ndarray, cols: list[np.ndarray], idx: np.ndarray) -> float:
    a = np.column_stack([c[idx] for c in cols] + [np.ones(idx.size)])
    coef, *_ = np.linalg.lstsq(a, y[idx], rcond=None)
    return 1.0 - float(np.var(y[idx] - a @ coef) / np.var(y[idx]))


def test_subgrid_variability_is_substantial_and_partly_predictable(world):
    sm = world["sm_true"].values
    anom = within_cell_anomaly(sm, 25)
    within_sd = np.sqrt(block_mean(anom**2, 25, 0.0))
    assert float(within_sd.mean()) > 0.01
    y = anom.ravel()
    idx = np.random.default_rng(0).choice(y.size, 200_000, replace=False)
    cols = [
        within_cell_anomaly(np.broadcast_to(world[n].values, sm.shape), 25).ravel()
        for n in PREDICTORS
    ]
    r2_seen = _r2(y, cols, idx)
    sand = within_cell_anomaly(np.broadcast_to(world["sand_fraction"].values, sm.shape), 25)
    r2_all = _r2(y, [*cols, sand.ravel()], idx)
    assert 0.25 < r2_seen < 0.85  # downscaling is possible but not trivial ...
    assert r2_all > r2_seen + 0.05  # ... because soil texture is hidden
    signs = {"lst": -1, "ndvi": 1, "albedo_wsa": -1, "precipitation": 1}
    for name, sign in signs.items():
        r = np.corrcoef(y[idx], cols[PREDICTORS.index(name)][idx])[0, 1]
        assert sign * r > 0.15, (name, r)


# ----------------------------------------------------------------------------- coarse product


def test_coarse_product_noisefree_gaps_and_noise(world, grids):
    coarse, fine = grids
    cp = coarse_product(world["sm_true"], fine, coarse, seed=5)
    expected = block_mean(world["sm_true"].values, 25).astype(np.float32)
    np.testing.assert_array_equal(cp["sm_noisefree"].values, expected)
    assert cp["sm"].shape == (128, *coarse.shape) and cp["flag"].dtype == np.int8
    missing = np.isnan(cp["sm"].values)
    assert abs(float(missing.mean()) - 0.3) < 0.05
    # without LST/NDVI the flags are 8 (noise pushed the value below 0) and 16 (low
    # measurement weight, value kept): a NaN with flag 0 is a gap, flag 8 comes with a NaN
    flag = cp["flag"].values
    assert set(np.unique(flag)) <= {0, FLAG_PHYSICAL_BOUNDARY, 16, 16 | FLAG_PHYSICAL_BOUNDARY}
    assert np.all(missing[(flag & FLAG_PHYSICAL_BOUNDARY) > 0])
    low = (flag & 16) > 0
    assert (
        abs(float(low[~missing].mean()) - 0.05) < 0.01
        and np.isfinite(cp["sm"].values[low & ((flag & FLAG_PHYSICAL_BOUNDARY) == 0)]).all()
    )
    # swath stripes (nearly north-south) make north-south neighbours agree far more often
    # than independent gaps of the same frequency would
    f = float(missing.mean())
    agree = float((missing[:, 1:, :] == missing[:, :-1, :]).mean())
    assert agree > 1 - 2 * f * (1 - f) + 0.15
    again = coarse_product(world["sm_true"], fine, coarse, seed=5)
    xr.testing.assert_identical(cp, again)
    half = coarse_product(world["sm_true"], fine, coarse, seed=6, gap_fraction=0.5)
    assert abs(float(np.isnan(half["sm"].values).mean()) - 0.5) < 0.05

    clean = coarse_product(world["sm_true"], fine, coarse, 5, 0.0, 0.0, 0.0)
    np.testing.assert_allclose(clean["sm"].values, expected, atol=1e-7)
    noisy = coarse_product(world["sm_true"], fine, coarse, 5, 0.02, 0.0, 0.0)
    err = (noisy["sm"].values - expected).ravel()
    assert abs(float(np.nanstd(err)) - 0.02) < 0.002
    biased = coarse_product(world["sm_true"], fine, coarse, 5, 0.0, 0.03, 0.0)
    assert float(np.abs(biased["bias"].values).max()) == pytest.approx(0.03, rel=1e-5)
    diff = biased["sm"].values - expected
    assert 0.01 < float(np.abs(diff).max()) < 0.03 * 1.25 + 1e-6
    # the bias is smooth: neighbouring cells differ far less than the bias spread
    b = biased["bias"].values
    assert np.abs(np.diff(b, axis=1)).mean() < 0.5 * (b.max() - b.min())


def test_coarse_product_flags(world, grids):
    coarse, fine = grids
    sm = world["sm_true"]
    lst = xr.full_like(world["lst"], 300.0)
    lst[:5] = 265.0  # a frozen first five days
    ndvi = xr.full_like(world["ndvi"], 0.3)
    ndvi[:, :25, :25] = 0.8  # dense vegetation in the north-west coarse cell
    ndvi[:, -25:, -25:] = 0.05  # barren ground in the south-east coarse cell
    cp = coarse_product(sm, fine, coarse, 5, lst=lst, ndvi=ndvi)
    flag = cp["flag"].values
    value = cp["sm"].values
    gap = np.isnan(value) & (flag == 0)
    observed = ~gap
    assert np.all((flag[:5][observed[:5]] & FLAG_FROZEN) != 0)
    assert not np.any(flag[5:] & FLAG_FROZEN)
    assert np.all(np.isnan(value[:5]))  # frozen: no retrieval
    dense = flag[:, 0, 0]
    assert np.all((dense[observed[:, 0, 0]] & FLAG_DENSE_VEGETATION) != 0)
    assert np.all(np.isnan(value[:, 0, 0]))
    barren = flag[5:, -1, -1]
    ok = observed[5:, -1, -1]
    assert ok.sum() > 50
    assert np.all((barren[ok] & FLAG_BARREN) != 0)
    assert np.all(np.isfinite(value[5:, -1, -1][ok]))  # advisory flag: the value is kept
    assert not np.any(flag[:, 3, 5] & (FLAG_BARREN | FLAG_DENSE_VEGETATION))


# ----------------------------------------------------------------------------- stations


@pytest.fixture(scope="module")
def stations(world, grids):
    fine = grids[1]
    sites = station_sites(fine, NETWORKS, seed=7, n_outside=3, elevation=world["elevation"])
    obs = station_observations(
        world["sm_true"], sites, NETWORKS, 7, DATES[0], DATES[-1], porosity=world["porosity"]
    )
    return sites, obs


def test_station_sites_deterministic(grids):
    fine = grids[1]
    one = station_sites(fine, NETWORKS, seed=7, n_outside=3)
    pd.testing.assert_frame_equal(one, station_sites(fine, NETWORKS, seed=7, n_outside=3))
    assert not np.array_equal(one["lat"], station_sites(fine, NETWORKS, 8, 3)["lat"])


def test_station_sites(stations, grids):
    fine = grids[1]
    sites, _ = stations
    assert len(sites) == sum(n["n_stations"] for n in NETWORKS) + 3
    assert sites["station"].is_unique
    inside = fine.contains(sites["lat"].values, sites["lon"].values)
    assert (~inside).sum() == 3
    np.testing.assert_array_equal(inside, sites["inside"].values)
    assert np.all(np.isnan(sites["elevation"].values[~inside]))
    assert np.all(sites["elevation"].values[inside] > 800)
    fy = np.mod((fine.north - sites["lat"].values[inside]) / fine.res, 1.0)
    fx = np.mod((sites["lon"].values[inside] - fine.west) / fine.res, 1.0)
    assert np.all((fy > 0.05) & (fy < 0.95) & (fx > 0.05) & (fx < 0.95))
    for net in NETWORKS:
        n_in = (sites["network"][inside] == net["name"]).sum()
        assert n_in == net["n_stations"]
    none = station_sites(fine, NETWORKS, seed=7, n_outside=0)
    assert fine.contains(none["lat"].values, none["lon"].values).all()


def test_station_sampling_flags_and_units(stations):
    sites, obs = stations
    assert list(obs.columns) == ["network", "station", "time", "sm", "flag", "units"]
    assert obs["time"].dtype == np.dtype("datetime64[ns]")
    assert set(obs["station"]) == set(sites["station"])
    hourly = obs[obs["network"] == "DEMO-HOURLY"]
    per_station = hourly.groupby("station").size()
    assert np.all(per_station == 24 * len(DATES))
    for name, step in (("DEMO-5DAY", 5), ("DEMO-10DAY", 10)):
        t = obs.loc[obs["station"] == f"{name}-001", "time"]
        assert np.all(np.diff(t.values) == np.timedelta64(step, "D"))
        assert t.iloc[0] == pd.Timestamp(DATES[0])
    bad = obs["flag"] != "G"
    assert 0.01 < bad.mean() < 0.06
    scale = np.where(obs["units"] == "percent", 100.0, 1.0)
    value = obs["sm"] / scale
    assert set(obs.loc[bad, "flag"]) == {"C01", "C02", "C03", "D03", "D06"}
    assert np.all(value[obs["flag"] == "C01"] < 0)
    assert np.all(value[obs["flag"] == "C02"] > 0.6)
    assert np.all(value[obs["flag"] == "C03"] > 0.36)  # above the porosity (>= 0.37 here)
    assert np.all(value[obs["flag"] == "D03"] <= 0.04)
    good = value[~bad]
    assert good.min() >= 0 and good.max() <= 0.6
    assert set(obs["units"]) == {"m3 m-3", "percent"}
    pct = obs.loc[(obs["units"] == "percent") & ~bad, "sm"]
    assert 3 < pct.median() < 40  # volumetric percent


def test_percent_is_hundredfold(world, stations):
    sites, obs = stations
    as_m3 = [dict(n, units="m3 m-3") for n in NETWORKS]
    plain = station_observations(
        world["sm_true"], sites, as_m3, 7, DATES[0], DATES[-1], porosity=world["porosity"]
    )
    pct = obs["units"] == "percent"
    assert pct.sum() > 50
    np.testing.assert_allclose(obs.loc[pct, "sm"], 100.0 * plain.loc[pct, "sm"], atol=1e-3)
    np.testing.assert_array_equal(obs.loc[~pct, "sm"], plain.loc[~pct, "sm"])


def test_station_daily_means_track_truth(world, stations, grids):
    fine = grids[1]
    sites, obs = stations
    bias = obs.attrs["station_bias"]
    good = obs[(obs["flag"] == "G") & (obs["network"] == "DEMO-HOURLY")].copy()
    good["day"] = good["time"].dt.normalize()
    daily = good.groupby(["station", "day"])["sm"].mean().reset_index()
    site = sites.set_index("station").loc[daily["station"]]
    row, col = fine.cell_index(site["lat"].values, site["lon"].values)
    inside = row >= 0
    t_index = pd.DatetimeIndex(world["time"].values).get_indexer(daily["day"])
    truth = world["sm_true"].values[t_index[inside], row[inside], col[inside]]
    resid = daily["sm"].values[inside] - truth
    resid -= np.array([bias[s] for s in daily["station"].values[inside]])
    assert abs(float(resid.mean())) < 0.006
    assert 0.012 < float(resid.std()) < 0.03  # the network's noise_sd is 0.02
    total = daily["sm"].values[inside] - truth
    assert float(np.sqrt(np.mean(total**2))) < 3 * np.hypot(0.02, 0.02)
    assert np.corrcoef(daily["sm"].values[inside], truth)[0, 1] > 0.8
