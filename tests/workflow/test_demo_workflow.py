"""End-to-end: the whole DAG on a tiny demo world, checked against the world's own truth.

The demo writes raw files in the real formats; the same readers and harmonisation used for
real data must then give back the world's fields (up to the products' own noise, QC and
resampling). This is the one check that demo writers, readers and grids fit together.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from workflow_run import CONFIG, snakemake

from smdownscale.config import prepare_config, run_grids
from smdownscale.grid import block_factor, block_mean

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def cfg():
    return prepare_config(yaml.safe_load(CONFIG.read_text()))


def test_every_output_exists_and_no_partial_files(run_dir):
    for name in [
        "fine/static.nc",
        "fine/predictors_2010-097.nc",
        "fine/predictors_2010-113.nc",
        "coarse/coarse_2010-097.nc",
        "coarse/coarse_2010-113.nc",
        "stations/stations.parquet",
        "stations/stations_outside_region.csv",
        "stations/station_checks.csv",
    ]:
        assert (run_dir / name).is_file(), name
    assert not list(run_dir.rglob(".*.part"))
    assert not list(run_dir.rglob(".*.scratch"))  # harmonise_predictors' scratch cubes


def test_fine_predictors_reproduce_the_world(run_dir, cfg):
    coarse, fine = run_grids(cfg)
    world = xr.open_dataset(run_dir / "truth" / "world_1km.nc")
    world = world.sel(lat=slice(fine.north, fine.south), lon=slice(fine.west, fine.east))
    pred = xr.open_dataset(run_dir / "fine" / "predictors_2010-113.nc")
    assert pred.sizes == {"time": 8, "lat": fine.nlat, "lon": fine.nlon, "nv": 2}
    w = world.sel(time=pred["time"])
    gap = pred["gap_flag"]
    assert gap.dtype == np.uint8 and "_FillValue" not in gap.encoding  # always written
    # only the configured predictors are gap-filled (default: lst and albedo)
    assert cfg["gapfill"]["predictors"] == ["lst", "albedo"]
    assert int((gap & 1).sum()) > 0 and int(((gap & 2) | (gap & 8)).sum()) == 0
    # LST: HDF4 sinusoidal tiles -> exact inverse mapping; unfilled clear cells carry only the
    # retrieval noise (0.5 K, 1.5 K for the degraded class)
    observed = (gap & 1) == 0
    diff = (pred["lst"] - w["lst"]).where(observed)
    assert float(abs(diff).mean()) < 1.0
    assert int(observed.sum()) > 0.4 * observed.size
    # both tiles contribute: cells north and south of 40 N have LST
    assert pred["lst"].sel(lat=slice(40.25, 40.0)).notnull().any()
    assert pred["lst"].sel(lat=slice(39.99, 39.75)).notnull().any()
    # the gap flag marks exactly the cells the world saw as cloudy (where filled)
    cloudy_filled = ((gap & 1) == 1) & (w["cloud"] == 1)
    assert int(cloudy_filled.sum()) > 0.8 * int(((gap & 1) == 1).sum())
    # precipitation: 0.1 deg block means interpolated back; mass roughly conserved
    assert float(pred["precipitation"].mean()) == pytest.approx(
        float(w["precipitation"].mean()), rel=0.1
    )
    assert float(xr.corr(pred["albedo"], 0.5 * (w["albedo_wsa"] + w["albedo_bsa"]))) > 0.8
    assert float(xr.corr(pred["ndvi"], w["ndvi"])) > 0.8


def test_elevation_is_the_srtm_block_mean(run_dir, cfg):
    _, fine = run_grids(cfg)
    world = xr.open_dataset(run_dir / "truth" / "world_1km.nc")
    elev = world["elevation"].sel(
        lat=slice(fine.north, fine.south), lon=slice(fine.west, fine.east)
    )
    static = xr.open_dataset(run_dir / "fine" / "static.nc")
    assert static["elevation"].notnull().all()
    # SRTM samples are bilinear between the world's cell centres (+ 8 m relief noise), so
    # their cell means are the world's field slightly smoothed: unbiased, highly correlated
    assert abs(float((static["elevation"] - elev).mean())) < 2.0
    assert float(xr.corr(static["elevation"], elev)) > 0.97


def test_coarse_cube_holds_the_product_and_aggregated_predictors(run_dir, cfg):
    coarse, fine = run_grids(cfg)
    ds = xr.open_dataset(run_dir / "coarse" / "coarse_2010-097.nc")
    assert ds.sizes["lat"] == coarse.nlat and ds.sizes["lon"] == coarse.nlon
    assert ds["sm"].attrs["units"] == "m3 m-3"
    sm = ds["sm"].values
    assert np.nanmin(sm) >= 0 and np.nanmax(sm) <= 1 and np.isfinite(sm).mean() > 0.4
    # the coarse sm is the written product: compare with the world's coarse product
    sat = xr.open_dataset(run_dir / "world" / "coarse_observed.nc").sel(
        time=ds["time"], lat=ds["lat"], lon=ds["lon"]
    )
    np.testing.assert_allclose(sm, sat["sm"].where(sat["flag"] & 63 == 0).values, atol=1e-6)
    # the default mask removes flagged retrievals that carry a value (low weight, bit 16) and
    # keeps the advisory barren-ground ones (bit 64)
    raw_has_value = sat["sm"].notnull().values
    low_weight = raw_has_value & (sat["flag"].values & 16 > 0)
    barren = raw_has_value & (sat["flag"].values & 64 > 0) & (sat["flag"].values & 63 == 0)
    assert low_weight.any() and np.isnan(sm[low_weight]).all()
    assert barren.any() and np.isfinite(sm[barren]).all()
    # aggregated LST is the block mean (mean method, 0.5 valid fraction) of the *observed*
    # fine LST: gap-filled cell-days are left out
    factor = block_factor(fine, coarse)
    pred = xr.open_dataset(run_dir / "fine" / "predictors_2010-097.nc")
    filled = (pred["gap_flag"].values & 1) != 0
    assert filled.any()
    observed = np.where(filled, np.nan, pred["lst"].values)
    expected = block_mean(observed, factor, 0.5)
    np.testing.assert_allclose(ds["lst"].values, expected, rtol=1e-6)
    # ... which differs from aggregating the filled cube (the check is not vacuous)
    with_filled = block_mean(pred["lst"].values, factor, 0.5)
    assert np.isnan(expected).sum() > np.isnan(with_filled).sum()
    # observed coarse LST tracks the world's clear-sky LST
    world = xr.open_dataset(run_dir / "truth" / "world_1km.nc")
    w = world.sel(
        time=ds["time"], lat=slice(fine.north, fine.south), lon=slice(fine.west, fine.east)
    )
    truth = block_mean(w["lst"].where(w["cloud"] == 0).values, factor, 0.0)
    both = np.isfinite(ds["lst"].values) & np.isfinite(truth)
    assert both.sum() > 0 and np.abs(ds["lst"].values - truth)[both].mean() < 1.0
    # static predictors: elevation and slope, block means of the fine static file
    static = xr.open_dataset(run_dir / "fine" / "static.nc")
    for name in ("elevation", "slope"):
        np.testing.assert_allclose(
            ds[name].values, block_mean(static[name].values, factor, 0.5), rtol=1e-6
        )
    assert float(ds["slope"].min()) >= 0 and float(ds["slope"].max()) < 90


def test_station_table(run_dir, cfg):
    table = pd.read_parquet(run_dir / "stations" / "stations.parquet")
    assert set(table["network"]) == {"TINY-HOURLY", "TINY-5DAY", "TINY-10DAY"}
    dropped = pd.read_csv(run_dir / "stations" / "stations_outside_region.csv")
    assert len(dropped) == cfg["demo"]["stations_outside_region"]
    assert (table["sm"].between(0, 1)).all()
    # percent network converted to m3 m-3
    assert table.loc[table["network"] == "TINY-10DAY", "conversion"].str.contains("100").all()
    _, fine = run_grids(cfg)
    assert (table["fine_index"] == table["fine_row"] * fine.nlon + table["fine_col"]).all()
    # station daily means track the truth at their cell (sensor bias + noise only)
    world = xr.open_dataset(run_dir / "truth" / "world_1km.nc")
    truth = world["sm_true"].sel(
        time=xr.DataArray(table["time"].values, dims="obs"),
        lat=xr.DataArray(table["lat"].values, dims="obs"),
        lon=xr.DataArray(table["lon"].values, dims="obs"),
        method="nearest",
    )
    err = table["sm"].to_numpy() - truth.values
    assert np.sqrt(np.mean(err**2)) < 0.06


def test_rerun_is_a_no_op(run_dir):
    work = run_dir.parents[1]
    res = snakemake(work, CONFIG, "-n")
    assert res.returncode == 0
    assert "Nothing to be done" in res.stdout + res.stderr


def test_bad_config_stops_with_the_key_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: {fine_res_deg: 0.03}\nregion: {bbox: [110, 39, 111]}\n")
    res = snakemake(tmp_path, bad, "-n")
    assert res.returncode != 0
    assert "config key 'region.bbox': [110, 39, 111] is too short" in res.stderr + res.stdout


def test_regions_models_and_member_predictions(run_dir, cfg):

    coarse, fine = run_grids(cfg)
    regions = xr.open_dataset(run_dir / "regions" / "regions_coarse.nc")["region"].values
    assert set(np.unique(regions)) <= {-1, 0, 1} and (regions >= 0).sum() > 0
    fine_regions = xr.open_dataset(run_dir / "regions" / "regions_fine.nc")["region"].values
    assert fine_regions.shape == fine.shape and fine_regions[0, 0] == regions[0, 0]
    assert (run_dir / "regions" / "regions.png").stat().st_size > 10_000

    hyper = json.loads((run_dir / "models" / "hyperparameters.json").read_text())
    assert set(hyper["members"]) == {"rf", "mlr", "svr", "xgb"}
    assert hyper["members"]["svr"]["params"]["gamma"] in (0.2, 0.5)

    sources = pd.read_csv(run_dir / "models" / "model_sources.csv")
    assert len(sources) == 2 * cfg["regions"]["k"]  # two periods x k regions
    assert set(sources["source"]) <= {"own", "previous", "pooled", "none"}
    scores = pd.read_csv(run_dir / "models" / "member_heldout_scores.csv")
    own = sources[sources["source"] == "own"]
    assert len(scores[scores["model"] == "own"]) == 4 * len(own)
    assert scores["rmse"].dropna().between(0, 0.2).all()

    ds = xr.open_dataset(run_dir / "members" / "members_2010-097.nc")
    world = xr.open_dataset(run_dir / "truth" / "world_1km.nc").sel(
        time=ds["time"], lat=ds["lat"], lon=ds["lon"]
    )
    for m in ("rf", "mlr", "svr", "xgb"):
        pred = ds[f"sm_{m}"]
        assert pred.attrs["units"] == "m3 m-3"
        assert float(pred.notnull().mean()) > 0.5  # cloud gaps are filled; NDVI/rain rarely miss
        assert float(pred.min()) > -0.1 and float(pred.max()) < 0.8
        # the members follow the true field. A sanity bound, not a skill claim: this 8-cell
        # world trains each region on ~50 coarse samples (measured R 0.36-0.54 against truth,
        # where the coarse product repeated over its block gets 0.84); skill is scored on the
        # demo by the validation stage
        assert float(xr.corr(pred, world["sm_true"])) > 0.3, m
    # a cell-day missing a required predictor (ndvi) has no prediction; one with every
    # predictor is predicted by the models fitted on all of them
    pred_file = xr.open_dataset(run_dir / "fine" / "predictors_2010-097.nc")
    subset = ds["predictor_set"]
    assert subset.attrs["flag_meanings"].split()[:2] == ["predictors_all", "predictors_without_lst"]
    missing = pred_file["ndvi"].isnull()
    assert bool(ds["sm_rf"].where(missing).isnull().all())
    complete = ~missing & pred_file["lst"].notnull() & pred_file["albedo"].notnull()
    inside = xr.DataArray(fine_regions >= 0, dims=("lat", "lon"))
    assert bool((subset.where(complete & inside) == 0).where(complete & inside, True).all())

    # the residual share: one per member, estimated or defaulted with a reason, in [0, 1]
    shares = json.loads((run_dir / "members" / "residual_share.json").read_text())
    assert set(shares) == {"rf", "mlr", "svr", "xgb"}
    for e in shares.values():
        assert 0 <= e["share"] <= 1 and e["method"] in ("stations", "default")
        assert e["method"] == "stations" or e["reason"]
    ranges = pd.read_csv(run_dir / "members" / "out_of_range.csv")
    assert len(ranges) == 2 * 4 and (ranges["n"] > 0).all()
    assert (ranges["below_zero"] + ranges["above_porosity"] <= ranges["n"]).all()


def test_changing_a_setting_reruns_its_rules_and_nothing_upstream(run_dir):
    import re

    res = snakemake(run_dir.parents[1], CONFIG, "-n", "--config", 'aggregation={"method": "cubic"}')
    assert res.returncode == 0, res.stderr[-2000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", res.stdout, re.M))
    assert jobs.get("aggregate_period") == "2"  # both periods
    for upstream in (
        "demo_world",
        "harmonise_predictors",
        "harmonise_static",
        "harmonise_stations",
    ):
        assert upstream not in jobs, upstream


def test_bma_stations_weights_and_daily_product(run_dir, cfg):
    members = cfg["members"]["use"]
    folds = pd.read_csv(run_dir / "bma" / "station_folds.csv")
    assert set(folds.fold) <= {1, 2} and folds.takes_part.any()
    # the 5-day network takes part with its observed days; the 10-day one has too few pairs
    by_net = folds.groupby("network").takes_part.all()
    assert by_net["TINY-5DAY"] and not folds[folds.network == "TINY-10DAY"].takes_part.any()
    assert folds[~folds.takes_part].reason.str.startswith("too few training pairs").all()
    post = pd.read_csv(run_dir / "bma" / "posteriors_all.csv")
    assert len(post) == folds.takes_part.sum()
    for col in ("acceptance", "tau_max", "ess", "converged", "w_rf_q025", "sigma_q975"):
        assert col in post, col
    w = post[[f"w_{m}" for m in members]].to_numpy()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-9)
    # a held-out fold's posteriors never include its own stations
    for f in (1, 2):
        fold_post = pd.read_csv(run_dir / "bma" / f"posteriors_{f}.csv")
        own = set(folds.station[folds.fold == f])
        assert not own & set(fold_post.get("station", []))

    # too few stations for a variogram: pooled regional fits, path per field and region
    kriging = pd.read_csv(run_dir / "bma" / "kriging.csv")
    assert not kriging.kriged.any() and kriging.fallback_reason.str.contains("variogram").all()
    assert set(kriging.path) <= {"pooled", "pooled_all_regions", "identity"}
    assert len(kriging) == 13 * kriging.region.nunique()
    selection = json.loads((run_dir / "bma" / "selection_all.json").read_text())
    assert selection["path"] == "pooled" and selection["ensemble"] in ("bma", "mean")
    identity = kriging[kriging.field.str.match("^[ab]_")].path == "identity"
    assert identity.all() == (selection["shrinkage"] == 1.0)
    weights = xr.open_dataset(run_dir / "bma" / "weights.nc")
    wsum = sum(weights[f"w_{m}"] for m in members)
    np.testing.assert_allclose(wsum.values, 1.0, atol=1e-5)
    assert float(weights["weights_source"].min()) >= 1  # every cell from a pooled fit
    assert "region_pooled_fit" in weights["weights_source"].attrs["flag_meanings"]
    assert float(weights["w_rf_sd"].min()) >= 0
    part = pd.read_csv(run_dir / "bma" / "participation.csv").set_index("network")
    assert part.loc["TINY-10DAY", "too_few_pairs"] == 3 and part.taking_part.sum() == (
        folds.takes_part.sum()
    )

    series = pd.read_parquet(run_dir / "bma" / "station_series.parquet")
    done = series[series.complete]
    assert done.bma_heldout.notna().all() and done.bma_insample.notna().all()
    assert (done.bma_heldout_sd > 0).all() and {"mean", "best"} <= set(series.columns)
    assert done.product_heldout.notna().all()

    prod = xr.open_dataset(run_dir / "product" / "sm_1km_2010-097.nc")
    members_ds = xr.open_dataset(run_dir / "members" / "members_2010-097.nc")
    # the product is BMA only where BMA beat the member mean held out, and says so
    assert prod.attrs["Conventions"] == "CF-1.8"
    assert prod.attrs["ensemble"] == selection["ensemble"]
    assert "member mean" in prod.attrs["ensemble_choice"]
    # and how its members were made final: residual shares and the smoothing kernel
    assert prod.attrs["members_residual_share"] == members_ds.attrs["residual_share"]
    assert "Gaussian of 2 km" in prod.attrs["members_smoothing"]
    assert prod["sm"].attrs["units"] == "m3 m-3" and prod["lat"].values[0] > prod["lat"].values[-1]
    sm, sd = prod["sm"], prod["sm_sd"]
    assert float(sm.min()) >= 0 and float(sm.max()) <= cfg["bma"]["porosity"]
    assert bool((sd > 0).where(sm.notnull(), True).all())
    flag = prod["quality_flag"].values
    # BMA: pooled parameters everywhere (bit 4); no value exactly where a member has none
    inside = xr.open_dataset(run_dir / "regions" / "regions_fine.nc")["region"].values >= 0
    assert ((flag[:, inside] & 4) == 4).all() == (selection["ensemble"] == "bma")
    nopred = members_ds["sm_rf"].isnull().values
    np.testing.assert_array_equal(np.isnan(sm.values), nopred)
    assert ((flag & 2) == 2)[nopred].all()
    # the product follows the true field at least as well as the members' average does
    world = xr.open_dataset(run_dir / "truth" / "world_1km.nc").sel(
        time=prod["time"], lat=prod["lat"], lon=prod["lon"]
    )
    assert float(xr.corr(sm, world["sm_true"])) > 0.3


def cf_failures(path: Path, level: int) -> list[str]:
    """Failed checks of the IOOS compliance checker's CF-1.8 suite at ``level`` or above."""
    from compliance_checker.runner import CheckSuite

    suite = CheckSuite()
    suite.load_all_available_checkers()
    results, errors = suite.run_all(suite.load_dataset(str(path)), ["cf:1.8"], [])["cf:1.8"]
    assert not errors, errors
    failed = []
    for r in results:
        v = r.value
        bad = (v is False) or (isinstance(v, tuple) and v[0] < v[1])
        if r.weight >= level and bad:
            failed.append(f"{r.name}: {r.msgs}")
    return failed


def test_products_pass_the_cf_checker(run_dir):
    from compliance_checker.base import BaseCheck

    for name in ("product/sm_1km_2010-113.nc", "bma/weights.nc", "members/members_2010-113.nc"):
        assert cf_failures(run_dir / name, BaseCheck.HIGH) == [], name
    ds = xr.open_dataset(run_dir / "product" / "sm_1km_2010-113.nc")
    assert ds["lat"].attrs["units"] == "degrees_north" and ds["time"].dtype.kind == "M"
    assert ds["quality_flag"].attrs["flag_meanings"].split()[0] == "predictors_gap_filled"


def test_validation_tables_and_summary(run_dir, cfg):

    val = run_dir / "validation"
    table = pd.read_csv(val / "table4_stations.csv")
    assert {"All", "Mid"} == set(table.subset) and "BMA held-out" in set(table["product"])
    assert "product held-out" in set(table["product"])
    caption = (val / "table4_caption.rst").read_text()
    assert "pooled regional BMA fits" in caption and "kriged" not in caption
    assert "TINY-10DAY" in caption and "fewer than 3 training pairs" in caption
    assert (table.n[table.subset == "All"] > 0).all()
    series = pd.read_parquet(run_dir / "bma" / "station_series.parquet")
    ev = series[(series.split == "eval") & series.complete & series.coarse.notna()]
    pooled = table[(table.network == "all networks") & (table.subset == "All")]
    assert (pooled.n <= len(ev)).all()  # evaluation days only
    summary = json.loads((val / "summary.json").read_text())
    assert summary["weight_training_days"][1] == cfg["bma"]["train_end"]
    assert set(summary["verdict"]) >= {"bma_heldout_rmse_below_coarse", "best_member_at_stations"}
    truth = pd.read_csv(val / "truth_scores.csv").set_index("product")
    assert truth.loc["coarse product (repeated over its block)", "within_cell"].startswith(
        "undefined"
    )
    assert -1 <= truth.loc["product sm", "within_cell_r"] <= 1
    het = pd.read_csv(val / "heterogeneity.csv")
    assert {"cv", "morans_i"} == set(het.statistic) and "coarse product" in set(het["product"])


def test_held_out_cells_drawn_until_the_ks_test_agrees(run_dir):
    scores = pd.read_csv(run_dir / "models" / "member_heldout_scores.csv")
    assert (scores.split == "ks_stratified").all()
    fits = scores.drop_duplicates(["period", "region", "model"])
    assert (fits.split_draws >= 1).all() and (fits.split_draws <= 100).all()
    # each fit's draws stopped at the first p > 0.05, or kept the best after 100
    assert ((fits.ks_p > 0.05) | (fits.split_draws == 100)).all()


def test_permutation_importance_of_every_member_and_predictor(run_dir, cfg):
    imp = pd.read_csv(run_dir / "models" / "importance.csv")
    assert set(imp.member) == set(cfg["members"]["use"])
    assert set(imp.predictor) == set(cfg["predictors"]["use"])
    # every fitted (period, region) model is scored on its held-out cells, each member on
    # the same samples
    assert (imp.groupby(["period", "region"]).n.nunique() == 1).all() and (imp.n > 0).all()
    assert np.isfinite(imp.rmse_increase).all()
    assert (run_dir / "models" / "importance.png").stat().st_size > 10_000
    shap = pd.read_csv(run_dir / "models" / "treeshap_xgb.csv")
    assert set(shap.predictor) == set(cfg["predictors"]["use"])
    assert (shap.mean_abs_shap[shap.n > 0] >= 0).all()


def test_the_product_against_era5_land_on_its_grid(run_dir):
    import netCDF4

    era5 = run_dir / "raw" / "ERA5-Land" / "2010" / "ERA5-Land.daily.2010-04.nc"
    with netCDF4.Dataset(era5) as nc:  # the CDS format, the whole month, NaN before the world
        assert nc.variables["valid_time"].size == 30
        v = nc.variables["swvl1"][:]
        assert np.isnan(np.ma.filled(v[:6], np.nan)).all()  # 1-6 April: before the world
        assert np.isfinite(np.ma.filled(v[6:], np.nan)).any()
    with xr.open_dataset(run_dir / "validation" / "reference_era5_land.nc") as maps:
        assert maps["r_product"].attrs["units"] == "1"
        assert np.nanmax(maps["n_days"].values) <= 24
        r = maps["r_product"].values
        assert np.isfinite(r).any() and (np.abs(r[np.isfinite(r)]) <= 1).all()
    summary = pd.read_csv(run_dir / "validation" / "reference_era5_land.csv").iloc[0]
    assert summary.days == 24 and summary.cells > 0
    # the demo's ERA5-Land follows the truth: the product and the coarse product correlate
    assert summary.median_r_product > 0.5 and summary.median_r_coarse > 0.5


def test_the_in_situ_trained_ensemble_beside_the_coarse_trained_one(run_dir):
    samples = pd.read_parquet(run_dir / "insitu" / "samples.parquet")
    folds = pd.read_csv(run_dir / "insitu" / "folds.csv")
    stations = samples.groupby(["network", "station"]).ngroups
    assert folds.groupby(["network", "station"]).ngroups == stations  # every one held out
    assert sorted(folds.fold.unique()) == list(range(5))
    held = pd.read_parquet(run_dir / "insitu" / "heldout.parquet")
    assert held.groupby(["network", "station"]).ngroups == stations
    with xr.open_dataset(run_dir / "insitu" / "sm_insitu_2010-097.nc") as ds:
        sm, sd = ds["sm"].values, ds["sm_spread"].values
        assert ds["sm"].attrs["units"] == "m3 m-3" and ds["sm"].attrs["ancillary_variables"]
    ok = np.isfinite(sm)
    assert ok.mean() > 0.5 and (sm[ok] >= 0).all() and (sm[ok] <= 0.6).all()
    assert (sd[ok] >= 0).all() and np.nanmean(sd) > 0  # the members disagree somewhat
    table = pd.read_csv(run_dir / "validation" / "table4_stations.csv")
    rows = table[(table.network == "all networks") & (table.subset == "All")]
    insitu = rows[rows["product"] == "in-situ-trained ensemble held-out"].iloc[0]
    coarse = rows[rows["column"] == "coarse"].iloc[0]
    assert insitu.n == coarse.n > 0 and np.isfinite(insitu.r)  # the same station-days


def test_drought_regions_and_the_products_over_them(run_dir):
    from smdownscale.products.terraclimate import read_terraclimate

    pdsi = read_terraclimate([run_dir / "raw" / "TerraClimate" / "TerraClimate_PDSI_2010.nc"])
    assert pdsi.sizes["time"] == 12
    assert np.isnan(pdsi.values[0]).all() and np.isfinite(pdsi.values[3]).any()  # April only
    summary = pd.read_csv(run_dir / "validation" / "drought_summary.csv").iloc[0]
    assert summary.months == 1 and 0 <= summary.drought_cells <= summary.cells
    series = pd.read_csv(run_dir / "validation" / "drought_series.csv")
    assert list(series.month) == ["2010-04"]
    assert set(series.columns) == {"month", "pdsi", "product", "coarse", "era5_land"}
    if summary.drought_cells:  # the region's mean PDSI is a drought's
        assert series.pdsi.iloc[0] <= -2


def test_three_cornered_hat_layers_and_their_distance_from_the_truth(run_dir, cfg):
    products = cfg["uncertainty"]["tch_products"]
    with xr.open_dataset(run_dir / "uncertainty" / "tch.nc") as tch:
        n = tch["tch_n_days"].values
        assert 0 < n.max() <= 24  # the run's days with every product
        for p in products:
            sd = tch[f"tch_sd_{p}"]
            assert sd.attrs["units"] == "m3 m-3"
            v = sd.values
            assert np.isfinite(v[n >= 5]).all() and np.isnan(v[n < 5]).all()
            assert (v[np.isfinite(v)] >= 0).all()
        assert tch["tch_negative"].attrs["flag_meanings"].split() == [
            f"{p}_negative" for p in products
        ]
    summary = pd.read_csv(run_dir / "uncertainty" / "tch_summary.csv").set_index("product")
    assert list(summary.index) == products
    # the demo knows the truth: every product's true error SD is there beside the hat's
    assert (summary.median_true_error_sd > 0).all()
    assert (run_dir / "uncertainty" / "tch.png").stat().st_size > 10_000


def test_figures_and_the_html_report(run_dir):
    figs = run_dir / "validation" / "figures"
    for name in ("scatter", "timeseries", "distributions", "table4", "heterogeneity", "truth",
                 "weights", "variogram", "sd_weights", "maps_2010-04-15"):  # fmt: skip
        assert (figs / f"{name}.png").stat().st_size > 10_000, name
    report = run_dir / "report.html"
    res = snakemake(run_dir.parents[1], CONFIG, "--report", str(report))
    assert res.returncode == 0, res.stderr[-3000:]
    html = report.read_text(errors="ignore")
    assert len(html) > 1_000_000 and "Table 4" in html and "within-coarse-cell" in html
    assert "What ran." in html and "pooled regional BMA fit" in html
    # the reference models' caption, rendered for the model of its figure
    assert "ERA5-Land daily surface soil moisture" in html


def test_the_run_ends_by_saying_where_its_results_are(run_dir):
    work = run_dir.parents[1]
    first = sorted((work / ".snakemake" / "log").glob("*.snakemake.log"))[0]  # tiny_run's
    tail = first.read_text().split("run 'tiny' done; where its results are:\n", 1)[1]
    lines = tail.splitlines()[:4]
    assert lines[0].startswith("  product (daily 1 km soil moisture, CF NetCDF): ")
    assert "results/tiny/product/ (2 of 2 period file(s): sm_1km_2010-097.nc .. " in lines[0]
    assert lines[1].endswith(": results/tiny/validation/table4_stations.csv")
    assert lines[2].endswith(": results/tiny/validation/summary.json")
    assert lines[3].startswith("  report: not built yet; build it with `snakemake -s ")
    assert lines[3].endswith("--report results/tiny/report.html`")
    # and the long jobs logged their progress
    log = (run_dir / "logs" / "bma_posteriors" / "all.log").read_text()
    assert re.search(r"fold all: MCMC: \d+ of \d+ stations \(\d+ %\), .* left", log)
    assert re.search(r"fold all: MCMC: (\d+) of \1 stations \(100 %\) in ", log)
    for rule in ("harmonise_predictors", "predict_period"):
        assert " (100 %) in " in (run_dir / "logs" / rule / "2010-097.log").read_text(), rule


@pytest.mark.parametrize("scheduler", ["synchronous", "distributed"])
def test_every_dask_scheduler_writes_the_same_predictors_and_members(run_dir, tmp_path, scheduler):
    # the tiny run used the default (threads, two blocks at once); rerun one period's
    # harmonisation and prediction one block at a time, and on a local dask.distributed
    # cluster whose worker processes read the inputs themselves
    import shutil

    from workflow_run import TIME_ATTRS

    def same(x, y):  # the config differs (its digest), and the times of writing
        with xr.open_dataset(x) as dx, xr.open_dataset(y) as dy:
            for d in (dx, dy):
                for k in (*TIME_ATTRS, "config_digest"):
                    d.attrs.pop(k, None)
            return dx.identical(dy)

    if scheduler == "distributed":
        pytest.importorskip("distributed")
    work = tmp_path / "wf"
    shutil.copytree(run_dir.parents[1], work, symlinks=True)
    run = work / run_dir.relative_to(run_dir.parents[1])
    period = sorted(p.name for p in (run / "fine").glob("predictors_*.nc"))[0][11:-3]
    targets = [f"fine/predictors_{period}.nc", f"members/raw/members_{period}.nc"]
    before = {t: (run / t).stat().st_mtime for t in targets}
    res = snakemake(
        work,
        CONFIG,
        "--cores",
        "2",
        "--quiet",
        "rules",
        "--forcerun",
        "harmonise_predictors",
        "predict_period",
        "--config",
        f'resources={{"dask": {{"scheduler": "{scheduler}", "blocks_in_flight": 2}}}}',
        "--",
        *(str(run.relative_to(work) / t) for t in targets),
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    for t in targets:
        assert (run / t).stat().st_mtime > before[t], f"{t} was not rewritten"
        assert same(run_dir / t, run / t), f"{t} differs with scheduler {scheduler}"
    text = (run / "logs" / "predict_period" / f"{period}.log").read_text()  # names it
    assert ("dask.distributed" if scheduler == "distributed" else "synchronous") in text
