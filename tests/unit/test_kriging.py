"""Kriging of the BMA station parameters (smdownscale.kriging, METHOD.md section 8)."""

from __future__ import annotations

import gstools as gs
import numpy as np
import pytest

from smdownscale.grid import LatLonGrid
from smdownscale.kriging import (
    SOURCE_KRIGED,
    SOURCE_POOLED,
    SOURCE_POOLED_ALL_IDENTITY,
    KrigingError,
    KrigingSettings,
    OrdinaryKriging,
    ParameterKriging,
    RegionValues,
    clr,
    clr_inverse,
    fit_variogram,
    great_circle_to_chordal_km,
    krige_parameters,
    normalised_model,
    weights_sd,
)

MEMBERS = ("rf", "mlr", "svr", "xgb")


def stations(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(100.0, 112.0, n), rng.uniform(36.0, 44.0, n)


def simulated(lon: np.ndarray, lat: np.ndarray, n_fields: int, len_km: float, seed: int):
    model = gs.Exponential(latlon=True, geo_scale=gs.KM_SCALE, var=1.0, len_scale=len_km)
    return np.array([gs.SRF(model, seed=seed + i)((lat, lon)) for i in range(n_fields)]).T


def parameter_table(z: np.ndarray) -> dict[str, np.ndarray]:
    """13 columns from 13 standard fields: 4 weights (softmax), 4 a, 4 b, log_sigma."""
    w = clr_inverse(z[:, :4])
    table = {f"w_{m}": w[:, k] for k, m in enumerate(MEMBERS)}
    table.update({f"a_{m}": 0.02 * z[:, 4 + k] for k, m in enumerate(MEMBERS)})
    table.update({f"b_{m}": 1.0 + 0.1 * z[:, 8 + k] for k, m in enumerate(MEMBERS)})
    table["log_sigma"] = -3.0 + 0.3 * z[:, 12]
    return table


@pytest.fixture(scope="module")
def field_stations():
    lon, lat = stations(120, seed=3)
    z = simulated(lon, lat, 13, 500.0, seed=10)
    return lon, lat, z


# --------------------------------------------------------------------------- simplex
def test_clr_round_trip_and_zero_sum():
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(4), size=50)
    z = clr(w)
    assert np.allclose(z.sum(axis=1), 0.0, atol=1e-12)
    assert np.allclose(clr_inverse(z), w, atol=1e-12)
    # a weight at exactly 0 is floored: finite, about log(floor) below the others' mean log
    z0 = clr(np.array([[0.0, 0.5, 0.5, 0.0]]), floor=1e-6)
    assert np.isfinite(z0).all()
    assert z0[0, 0] == pytest.approx(0.5 * (np.log(1e-6) - np.log(0.5 - 1e-6)), rel=1e-6)
    back = clr_inverse(z0)
    assert back[0, 0] == pytest.approx(1e-6 / (1 + 2e-6), rel=1e-9)
    assert back.sum() == pytest.approx(1.0, abs=1e-15)


def test_weights_sd_is_the_delta_method():
    rng = np.random.default_rng(1)
    w = rng.dirichlet(np.ones(4), size=20)
    s = rng.uniform(0.1, 0.5, size=(20, 4))
    expected = np.empty_like(w)
    for i in range(20):
        jac = w[i][:, None] * (np.eye(4) - w[i][None, :])  # dw_k / dz_j
        expected[i] = np.sqrt((jac**2) @ s[i] ** 2)
    assert np.allclose(weights_sd(w, s), expected, rtol=1e-12)
    # small clr errors: Monte Carlo SD of softmax(z + e) agrees to first order
    z = clr(w[:1])
    e = np.random.default_rng(2).normal(size=(200_000, 4)) * 0.01
    mc = clr_inverse(z + e).std(axis=0)
    assert np.allclose(mc, weights_sd(w[:1], np.full((1, 4), 0.01))[0], rtol=0.02)


# --------------------------------------------------------------------------- kriging
@pytest.mark.parametrize(
    ("family", "nugget", "shape"),
    [("exponential", 0.0, {}), ("matern", 0.0, {"nu": 1.5}), ("spherical", 0.15, {})],
)
def test_matches_gstools_ordinary(family, nugget, shape):
    lon, lat = stations(40, seed=1)
    rng = np.random.default_rng(5)
    values = rng.normal(size=(40, 3)) * [1.0, 7.0, 0.05] + [0.0, 100.0, -3.0]
    model = normalised_model(family, 350.0, nugget, **shape)
    ok = OrdinaryKriging(lon, lat, values, model)
    tlon, tlat = stations(300, seed=2)
    mean, sd = ok.predict(tlon, tlat, chunk_size=64)
    for f in range(3):
        sill = ok.sills[f]
        assert sill == pytest.approx(values[:, f].var(ddof=1))
        ref_model = type(model)(
            latlon=True,
            geo_scale=gs.KM_SCALE,
            var=sill * (1 - nugget),
            nugget=sill * nugget,
            len_scale=350.0,
            **shape,
        )
        krig = gs.krige.Ordinary(ref_model, (lat, lon), values[:, f], pseudo_inv=False)
        ref_mean, ref_var = krig((tlat, tlon), mesh_type="unstructured")
        scale = np.sqrt(sill)
        np.testing.assert_allclose(mean[:, f], ref_mean, rtol=0, atol=1e-8 * scale)
        np.testing.assert_allclose(sd[:, f] ** 2, ref_var, rtol=0, atol=1e-8 * sill)


def test_reproduces_station_values_without_nugget():
    lon, lat = stations(60, seed=4)
    values = np.random.default_rng(6).normal(size=(60, 5)) * 3.0 + 10.0
    ok = OrdinaryKriging(lon, lat, values, normalised_model("exponential", 200.0))
    mean, sd = ok.predict(lon, lat)
    np.testing.assert_allclose(mean, values, rtol=0, atol=1e-10)
    assert sd.max() < 1e-6 * np.sqrt(ok.sills.max())
    # away from the stations (among them) the SD is positive and no more than the sill's SD
    # (ordinary kriging's Lagrange term may add a little)
    tlon, tlat = stations(100, seed=7)
    _, sd_t = ok.predict(tlon, tlat)
    assert (sd_t > 0).all()
    assert (sd_t <= 1.05 * np.sqrt(ok.sills)).all()


def test_with_nugget_the_mean_smooths_through_stations():
    lon, lat = stations(60, seed=4)
    values = np.random.default_rng(6).normal(size=(60, 1))
    ok = OrdinaryKriging(lon, lat, values, normalised_model("exponential", 200.0, 0.3))
    mean, sd = ok.predict(lon, lat)
    assert np.abs(mean - values).max() > 0.05
    assert (sd > 0.3 * np.sqrt(ok.sills[0])).all()  # at least the nugget's SD


def test_chunked_equals_unchunked():
    lon, lat = stations(50, seed=8)
    values = np.random.default_rng(9).normal(size=(50, 4))
    ok = OrdinaryKriging(lon, lat, values, normalised_model("gaussian", 300.0, 0.05))
    tlon, tlat = stations(1000, seed=10)
    m1, v1 = ok.predict_normalised(tlon, tlat, chunk_size=7)
    m2, v2 = ok.predict_normalised(tlon, tlat, chunk_size=10_000)
    np.testing.assert_allclose(m1, m2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(v1, v2, rtol=0, atol=1e-12)


def test_colocated_stations_do_not_crash():
    lon, lat = stations(20, seed=11)
    lon = np.append(lon, lon[0])
    lat = np.append(lat, lat[0])
    values = np.arange(21.0)
    ok = OrdinaryKriging(lon, lat, values, normalised_model("exponential", 200.0))
    assert ok.jitter > 0
    mean, _ = ok.predict(lon[:1], lat[:1])
    assert mean[0, 0] == pytest.approx(10.0, abs=1e-6)  # the two co-located values' mean


# --------------------------------------------------------------------------- variogram
def test_fit_recovers_a_known_len_scale():
    rng = np.random.default_rng(12)
    lon, lat = rng.uniform(90.0, 120.0, 400), rng.uniform(32.0, 48.0, 400)
    z = simulated(lon, lat, 13, 300.0, seed=100)
    fit = fit_variogram(lon, lat, z, KrigingSettings(n_bins=15))
    assert fit.ok, fit.reason
    assert fit.n_fields_pooled == 13
    assert fit.len_scale_km == pytest.approx(300.0, rel=0.3)
    assert fit.nugget_fraction == 0.0
    assert fit.r2 > 0.9
    # with a nugget switched on, the simulated (nugget-free) field gets a small one
    fit_n = fit_variogram(lon, lat, z, KrigingSettings(n_bins=15, nugget=True))
    assert fit_n.ok and fit_n.nugget_fraction < 0.15
    assert fit_n.model is not None and fit_n.model.sill == pytest.approx(1.0)
    # the same fit is refused when it must explain more of the variogram than it does
    strict = fit_variogram(lon, lat, z, KrigingSettings(n_bins=15, min_r2=0.9999))
    assert not strict.ok and "R2" in strict.reason and strict.r2 == pytest.approx(fit.r2)


def test_fit_failures_are_reported_not_raised(field_stations):
    lon, lat, z = field_stations
    few = fit_variogram(lon[:5], lat[:5], z[:5], KrigingSettings(min_stations=10))
    assert not few.ok and "too few stations" in few.reason and few.model is None
    const = fit_variogram(lon, lat, np.ones((lon.size, 2)))
    assert not const.ok and "constant" in const.reason
    bound = fit_variogram(lon, lat, z, KrigingSettings(len_scale_bounds_km=(10.0, 100.0)))
    assert not bound.ok and "at its bound" in bound.reason
    noise = np.random.default_rng(0).normal(size=(lon.size, 13))
    for nugget in (False, True):
        white = fit_variogram(lon, lat, noise, KrigingSettings(nugget=nugget))
        assert not white.ok
        assert any(s in white.reason for s in ("pure nugget", "at its bound", "no spatial"))


def test_settings_from_mapping():
    s = KrigingSettings.from_mapping({"family": "matern", "shape": {"nu": 1.5}, "nugget": True})
    assert s.family == "matern" and s.shape == {"nu": 1.5}
    schema = {"family": "gaussian", "nugget": True, "bins": 10, "min_stations": 10}
    s = KrigingSettings.from_mapping(schema | {"helper_factor": 10})
    assert (s.family, s.nugget, s.n_bins, s.helper_factor) == ("gaussian", True, 10, 10)
    with pytest.raises(KrigingError, match="unknown kriging settings"):
        KrigingSettings.from_mapping({"famly": "exponential"})
    with pytest.raises(KrigingError, match="unknown variogram family"):
        KrigingSettings(family="hole-effect")
    with pytest.raises(KrigingError, match="shape parameters"):
        KrigingSettings(family="exponential", shape={"nu": 1.0})


# --------------------------------------------------------------------------- parameters
def small_grid() -> LatLonGrid:
    return LatLonGrid(north=44.0, south=36.0, west=100.0, east=112.0, res=0.1)


def test_kriged_weights_are_on_the_simplex_at_every_cell(field_stations):
    lon, lat, z = field_stations
    table = parameter_table(2.0 * z)
    table["w_rf"][:3] = 0.0  # weights exactly 0 at some stations
    rest = table["w_mlr"][:3] + table["w_svr"][:3] + table["w_xgb"][:3]
    for m in ("mlr", "svr", "xgb"):
        table[f"w_{m}"][:3] /= rest
    for dtype, tol, nugget in ((np.float64, 1e-12, False), (np.float32, 1e-6, True)):
        settings = KrigingSettings(helper_factor=3, nugget=nugget)
        kg = krige_parameters(table, lon, lat, small_grid(), settings, dtype=dtype)
        assert kg.kriged and all(v is None for v in kg.fallback.values())
        for r0, r1 in kg.row_blocks(17):
            blk = kg.block(r0, r1)
            w = np.stack([blk[f"w_{m}"][0] for m in MEMBERS])
            wsd = np.stack([blk[f"w_{m}"][1] for m in MEMBERS])
            assert w.dtype == dtype and w.shape == (4, r1 - r0, 120)
            assert (w >= 0).all()
            assert np.abs(w.sum(axis=0, dtype=np.float64) - 1.0).max() < tol
            assert np.isfinite(wsd).all() and (wsd >= 0).all()
            for name in ("a_rf", "b_xgb", "log_sigma"):
                assert np.isfinite(blk[name][0]).all() and (blk[name][1] >= 0).all()


def test_point_kriging_reproduces_station_parameters(field_stations):
    lon, lat, z = field_stations
    table = parameter_table(z)
    pk = ParameterKriging(table, lon, lat)
    assert pk.kriged and pk.fit.ok
    out, source = pk.at_points_with_source(lon, lat)
    assert (source == SOURCE_KRIGED).all()
    for name, values in table.items():
        np.testing.assert_allclose(out[name][0], values, rtol=0, atol=1e-9)
        assert out[name][1].max() < 1e-5
    # linear fields' SD = sqrt(sill) x normalised SD, one normalised SD for all
    tlon, tlat = stations(50, seed=99)
    far = pk.at_points(tlon, tlat)
    ratio = far["a_rf"][1] / far["log_sigma"][1]
    expected = np.std(table["a_rf"], ddof=1) / np.std(table["log_sigma"], ddof=1)
    np.testing.assert_allclose(ratio, expected, rtol=1e-9)


def test_without_kriging_cells_take_the_given_per_region_values_never_station_means():
    lon = np.array([101.0, 102.0, 106.0, 107.0, 108.0])
    lat = np.array([37.0, 38.0, 40.0, 41.0, 42.0])
    w = np.array(
        [[0.7, 0.1, 0.1, 0.1], [0.5, 0.3, 0.1, 0.1], [0.1, 0.2, 0.3, 0.4], [0.0, 0.2, 0.4, 0.4],
         [0.2, 0.2, 0.2, 0.4]]
    )  # fmt: skip
    table = {f"w_{m}": w[:, k] for k, m in enumerate(MEMBERS)}
    table["log_sigma"] = np.array([-3.0, -2.0, -4.0, -3.5, -3.0])
    fields = list(table)
    # the pooled fits of region 0 and of all regions (the stations' means are not these)
    pooled_w0 = {f"w_{m}": v for m, v in zip(MEMBERS, (0.4, 0.3, 0.2, 0.1), strict=True)}
    pooled_all = {f"w_{m}": 0.25 for m in MEMBERS}
    rows = {
        0: (pooled_w0 | {"log_sigma": -2.7}, dict.fromkeys(fields, 0.01), SOURCE_POOLED),
        -1: (pooled_all | {"log_sigma": -3.1}, dict.fromkeys(fields, 0.02),
             SOURCE_POOLED_ALL_IDENTITY),
    }  # fmt: skip
    pooled = RegionValues.from_rows(fields, rows)
    grid = small_grid()
    cells = np.zeros(grid.shape, dtype=np.int16)
    cells[:, 60:] = 1  # a region without its own pooled fit
    cells[-5:, :5] = -1  # no region
    kg = krige_parameters(
        table, lon, lat, grid, KrigingSettings(min_stations=10), cells, fallback=pooled
    )
    assert not kg.kriged
    assert all("too few stations for a variogram: 5 < 10" in r for r in kg.fallback.values())
    blk, source = kg.block_with_source(0, grid.nlat)
    ls_mean, ls_sd = blk["log_sigma"]
    assert ls_mean[50, 10] == pytest.approx(-2.7) and ls_sd[50, 10] == pytest.approx(0.01)
    assert ls_mean[50, 100] == pytest.approx(-3.1) and ls_sd[50, 100] == pytest.approx(0.02)
    assert ls_mean[-1, 0] == pytest.approx(-3.1)
    # never the stations' region mean (-2.5 in region 0) or all-station mean (-3.1 is not it)
    assert ls_mean[50, 10] != pytest.approx(np.mean(table["log_sigma"][:2]))
    assert source[50, 10] == SOURCE_POOLED and source[50, 100] == SOURCE_POOLED_ALL_IDENTITY
    assert source[-1, 0] == SOURCE_POOLED_ALL_IDENTITY
    np.testing.assert_array_equal(kg.source(0, grid.nlat), source)
    assert blk["w_rf"][0][50, 10] == pytest.approx(0.4) and blk["w_rf"][0][50, 100] == 0.25
    np.testing.assert_allclose(sum(blk[f"w_{m}"][0] for m in MEMBERS), 1.0, atol=1e-12)
    kg2 = krige_parameters(
        table, lon, lat, grid, KrigingSettings(min_stations=10), lambda a, b: cells[a:b],
        fallback=pooled,
    )  # fmt: skip
    np.testing.assert_array_equal(kg2.block(0, 20)["w_svr"][0], blk["w_svr"][0][:20])
    pts = kg.params.at_points(np.array([101.5]), np.array([37.5]), regions=np.array([0]))
    assert pts["log_sigma"][0][0] == pytest.approx(-2.7)
    # no per-region values given: asking for values says why instead of inventing them
    bare = krige_parameters(table, lon, lat, grid, KrigingSettings(min_stations=10))
    with pytest.raises(KrigingError, match="not kriged .*too few stations"):
        bare.block(0, 3)


def test_refused_kriging_takes_the_pooled_values_even_with_a_variogram(field_stations):
    lon, lat, z = field_stations
    table = parameter_table(z)
    rows = {-1: ({k: 0.0 for k in table} | {f"w_{m}": 0.25 for m in MEMBERS},
                 dict.fromkeys(table, 0.0), SOURCE_POOLED_ALL_IDENTITY)}  # fmt: skip
    pooled = RegionValues.from_rows(list(table), rows)
    pk = ParameterKriging(table, lon, lat, fallback=pooled, refuse="the pooled fit won the CV")
    assert pk.fit.ok and not pk.kriged and pk.reason == "the pooled fit won the CV"
    out, source = pk.at_points_with_source(lon[:3], lat[:3])
    assert (source == SOURCE_POOLED_ALL_IDENTITY).all() and (out["w_rf"][0] == 0.25).all()


def test_few_station_pairs_per_lag_use_the_prior_range_with_a_fitted_nugget():
    # 12 stations: too few pairs per lag bin for a free fit
    lon, lat = stations(12, seed=5)
    z = simulated(lon, lat, 13, 400.0, seed=1)
    s = KrigingSettings(nugget=True, prior_range_km=300.0, min_pairs_per_bin=10)
    fit = fit_variogram(lon, lat, z, s)
    assert fit.ok and fit.method == "prior" and "lag bins" in fit.note
    assert fit.len_scale_km == 300.0 and 0.0 <= fit.nugget_fraction < 1.0
    assert fit.n_pairs == int(fit.pairs.sum()) > 0 and fit.lag_km.size >= 1
    assert fit.attrs()["variogram_method"] == "prior"
    # the same data without a prior range: refused, with the reason
    refused = fit_variogram(lon, lat, z, KrigingSettings(nugget=True, min_pairs_per_bin=10))
    assert not refused.ok and refused.method == "none" and "lag bins" in refused.reason
    # white noise: the prior fit is (nearly) a pure nugget and is refused too
    noise = np.random.default_rng(0).normal(size=(lon.size, 13))
    white = fit_variogram(lon, lat, noise, s)
    assert not white.ok and "pure nugget" in white.reason and white.nugget_fraction > 0.95
    # the nugget fraction is the pair-weighted least-squares solution
    rho = normalised_model("exponential", 300.0).correlation(great_circle_to_chordal_km(fit.lag_km))
    n = fit.pairs
    c = (n * rho * (1 - fit.gamma)).sum() / (n * rho * rho).sum()
    assert fit.nugget_fraction == pytest.approx(1 - np.clip(c, 0, 1))
    # kriging with the prior model runs and smooths through the stations (nugget)
    pk = ParameterKriging(parameter_table(z), lon, lat, s)
    assert pk.kriged and pk.fit.method == "prior"


def test_helper_grid_interpolation_is_close_to_direct_kriging(field_stations):
    lon, lat, z = field_stations
    pk = ParameterKriging(parameter_table(z), lon, lat)
    grid = LatLonGrid(north=42.0, south=38.0, west=102.0, east=108.0, res=0.02)
    direct = pk.on_grid(grid, factor=1).to_dataset(rows_per_block=50)
    # factor 1 is direct kriging at the cell centres
    la, lo = np.meshgrid(grid.lat[:3], grid.lon, indexing="ij")
    pts = pk.at_points(lo.ravel(), la.ravel())
    np.testing.assert_allclose(
        direct["a_rf"].values[:3].ravel(), pts["a_rf"][0], rtol=0, atol=1e-12
    )
    for refine, tol_mean, tol_sd, tol_rms in ((1.0, 0.04, 0.04, 2e-3), (0.0, 0.15, 0.25, 5e-3)):
        helper = pk.on_grid(grid, factor=5, refine_radius=refine).to_dataset(rows_per_block=37)
        assert helper.attrs["kriging_helper_factor"] == 5
        for name in pk.fields:
            scale = 1.0  # weights: absolute error; other fields: relative to the station SD
            if not name.startswith("w_"):
                scale = np.std(pk.station_values[:, pk.fields.index(name)], ddof=1)
            err_m = np.abs(helper[name].values - direct[name].values).max() / scale
            err_s = np.abs(helper[f"{name}_sd"].values - direct[f"{name}_sd"].values).max()
            assert err_m < tol_mean, (name, refine, err_m)
            assert err_s / scale < tol_sd, (name, refine, err_s / scale)
        rms = np.sqrt(np.mean((helper["log_sigma"].values - direct["log_sigma"].values) ** 2))
        assert rms / np.std(pk.station_values[:, -1], ddof=1) < tol_rms


def test_stations_with_missing_parameters_are_dropped(field_stations):
    lon, lat, z = field_stations
    table = parameter_table(z)
    table["a_svr"][:4] = np.nan
    pk = ParameterKriging(table, lon, lat)
    assert pk.n_dropped == 4 and pk.n_stations == lon.size - 4
    with pytest.raises(KrigingError, match="sum to 1"):
        bad = dict(table)
        bad["w_rf"] = table["w_rf"] + 0.5
        ParameterKriging(bad, lon, lat)


def test_variogram_table_holds_the_bins_and_the_fitted_curve(field_stations):
    from smdownscale.kriging import variogram_table

    lon, lat, z = field_stations
    fit = fit_variogram(lon, lat, z)
    table = variogram_table(fit, n_model=50)
    emp = table[table.kind == "empirical"]
    np.testing.assert_allclose(emp.gamma, fit.gamma)
    model = table[table.kind == "model"]
    assert len(model) == 50 and model.gamma.iloc[0] == pytest.approx(fit.nugget_fraction)
    assert model.gamma.is_monotonic_increasing and model.gamma.max() <= 1.0 + 1e-9


def test_pooled_values_are_mixed_across_region_borders_as_the_members_are():
    """Blended per-region values: the members' region weights applied to the regions'
    values, whatever the row block, on the simplex, exact far from borders."""
    from smdownscale.prediction import region_weights

    fields = [f"w_{m}" for m in MEMBERS] + ["a_rf", "log_sigma"]
    ws = {0: (0.7, 0.1, 0.1, 0.1), 1: (0.1, 0.2, 0.3, 0.4), 2: (0.25, 0.25, 0.25, 0.25)}
    rows = {
        c: (
            {f"w_{m}": v for m, v in zip(MEMBERS, ws[c], strict=True)}
            | {"a_rf": 0.01 * c, "log_sigma": -3.0 + 0.5 * c},
            dict.fromkeys(fields, 0.01 * (c + 1)),
            SOURCE_POOLED,
        )
        for c in (0, 1)
    }
    rows[-1] = (
        {f"w_{m}": 0.25 for m in MEMBERS} | {"a_rf": 0.0, "log_sigma": -2.0},
        dict.fromkeys(fields, 0.05),
        SOURCE_POOLED_ALL_IDENTITY,
    )
    pooled = RegionValues.from_rows(fields, rows)
    table = {f: np.full(3, rows[0][0][f]) for f in fields}
    lon, lat = np.array([101.0, 102.0, 103.0]), np.array([37.0, 38.0, 39.0])
    grid = small_grid()
    cells = np.zeros(grid.shape, dtype=np.int16)
    cells[:, 60:] = 1
    cells[40:, 100:] = 2  # a region without its own row: the default values
    cells[-5:, :5] = -1
    pk = ParameterKriging(table, lon, lat, KrigingSettings(min_stations=10), fallback=pooled)
    blend = 4.0
    kg = pk.on_grid(grid, cell_regions=cells, blend_cells=blend)
    blk, source = kg.block_with_source(0, grid.nlat)
    # the members' weights (regions present) applied to each region's values
    weights = region_weights(cells, [0, 1, 2], blend)
    for f in fields:
        own = {c: rows[c if c in (0, 1) else -1][0][f] for c in (0, 1, 2)}
        expect = sum(weights[c] * own[c] for c in (0, 1, 2))
        inside = cells >= 0
        np.testing.assert_allclose(blk[f][0][inside], expect[inside], atol=2e-3)
    # the 1e-3 cut aside, exactly the normalised convolution; far from borders unchanged
    ls = blk["log_sigma"][0]
    assert ls[10, 10] == pytest.approx(-3.0)
    assert ls[10, 80] == pytest.approx(-2.5)
    assert ls[-1, 0] == pytest.approx(-2.0)  # no region: its own row
    mid = ls[10, 55:65]
    assert np.all(np.diff(mid) > 0) and -3.0 < mid[0] and mid[-1] < -2.5
    np.testing.assert_allclose(sum(blk[f"w_{m}"][0] for m in MEMBERS), 1.0, atol=1e-12)
    assert all((blk[f"w_{m}"][0] >= 0).all() for m in MEMBERS)
    # sources stay the cell's own region's
    np.testing.assert_array_equal(source, kg.source(0, grid.nlat))
    # row blocks of any size give the same fields (the blend reads a halo of labels)
    for r0, r1 in kg.row_blocks(7):
        part, _ = kg.block_with_source(r0, r1)
        for f in fields:
            np.testing.assert_allclose(part[f][0], blk[f][0][r0:r1], atol=1e-12)
            np.testing.assert_allclose(part[f][1], blk[f][1][r0:r1], atol=1e-12)
    # blend 0 is the piecewise-constant table
    flat = pk.on_grid(grid, cell_regions=cells).block(0, grid.nlat)
    assert flat["log_sigma"][0][10, 59] == pytest.approx(-3.0)
    assert flat["log_sigma"][0][10, 60] == pytest.approx(-2.5)
    with pytest.raises(KrigingError, match="blend_cells must be >= 0"):
        pk.on_grid(grid, cell_regions=cells, blend_cells=-1.0)
