"""Station side of the BMA: daily values, spatial folds, posterior tables, cell reads."""

import netCDF4
import numpy as np
import pandas as pd
import pytest

from smdownscale import bma
from smdownscale.bma_stations import (
    assign_folds,
    daily_station_values,
    min_pairs_required,
    moments_from_parameters,
    network_intervals,
    parameter_columns,
    posterior_table,
    split_days,
    station_seed,
    station_table,
    training_stations,
)
from smdownscale.netcdf import read_cells

MEMBERS = ["rf", "mlr", "svr", "xgb"]


def test_daily_values_average_sensors_and_drop_rejected_days():
    t = pd.to_datetime(["2010-05-01", "2010-05-01", "2010-05-02", "2010-05-03"])
    table = pd.DataFrame(
        {
            "network": "N",
            "station": "S",
            "lat": 40.0,
            "lon": 110.0,
            "fine_row": 3,
            "fine_col": 4,
            "time": t,
            "sm": [0.2, 0.3, np.nan, 0.1],
        }
    )
    out = daily_station_values(table)
    assert out.time.tolist() == [t[0], t[3]]
    assert out.y.tolist() == pytest.approx([0.25, 0.1]) and out.n_sensors.tolist() == [2, 1]
    train, evaluation = ("2010-05-01", "2010-05-01"), ("2010-05-03", "2010-05-31")
    assert split_days(out.time, train, evaluation).tolist() == ["train", "eval"]
    # a day in neither window (e.g. a tuning year) neither trains nor is scored
    assert split_days(out.time, train, ("2010-06-01", "2010-06-30")).tolist() == [
        "train",
        "other",
    ]


def test_folds_are_spatial_balanced_and_never_train_on_their_own_stations():
    rng = np.random.default_rng(0)
    # four distant clusters of 10 stations each
    centres = [(35.0, 80.0), (45.0, 90.0), (38.0, 115.0), (48.0, 125.0)]
    lat = np.concatenate([c[0] + 0.2 * rng.standard_normal(10) for c in centres])
    lon = np.concatenate([c[1] + 0.2 * rng.standard_normal(10) for c in centres])
    folds = assign_folds(lat, lon, k=4, seed=1, groups_per_fold=1)
    assert sorted(np.bincount(folds)[1:]) == [10, 10, 10, 10]
    for c in range(4):  # each cluster lies in one fold
        assert len(set(folds[c * 10 : (c + 1) * 10])) == 1
    # with more groups, folds stay balanced within one group's size
    folds5 = assign_folds(lat, lon, k=5, seed=1)
    counts = np.bincount(folds5)[1:]
    assert counts.sum() == 40 and counts.min() >= 5
    # fold f trains on exactly the other folds' stations that take part
    table = pd.DataFrame({"fold": folds5, "takes_part": np.arange(40) % 7 != 0})
    for f in range(1, 6):
        train = training_stations(table, f)
        assert not (train.fold == f).any() and train.takes_part.all()
        assert len(train) == (table.takes_part & (table.fold != f)).sum()
    assert training_stations(table, "all").index.tolist() == table.index[table.takes_part].tolist()
    np.testing.assert_array_equal(folds5, assign_folds(lat, lon, k=5, seed=1))
    with pytest.raises(bma.BMAError, match="3 stations take part in the BMA but bma.folds = 5"):
        assign_folds(lat[:3], lon[:3], k=5, seed=1)


def test_station_seed_is_stable_and_distinct():
    assert station_seed(7, "N", "A") == station_seed(7, "N", "A")
    assert station_seed(7, "N", "A") != station_seed(7, "N", "B")
    assert station_seed(7, "N", "A") != station_seed(8, "N", "A")


def _pairs(n_days=60, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for s, (region, good) in enumerate([(0, 0), (0, 0), (1, 2), (1, 2)]):
        truth = 0.2 + 0.05 * np.sin(np.arange(n_days) / 5 + s)
        f = {m: 0.05 + 0.6 * truth + 0.03 * rng.standard_normal(n_days) for m in MEMBERS}
        f[MEMBERS[good]] = truth + 0.003 * rng.standard_normal(n_days)
        for d in range(n_days):
            rows.append(
                {
                    "network": "N",
                    "station": f"S{s}",
                    "lat": 40.0 + s,
                    "lon": 110.0,
                    "region": region,
                    "y": truth[d] + 0.002 * rng.standard_normal(),
                    **{f"f_{m}": f[m][d] for m in MEMBERS},
                }
            )
    pairs = pd.DataFrame(rows)
    stations = pairs.groupby(["network", "station"], as_index=False).agg(
        lat=("lat", "first"), lon=("lon", "first"), region=("region", "first")
    )
    return pairs, stations


def test_posterior_table_finds_each_stations_best_member():
    pairs, stations = _pairs()
    s = bma.SamplerSettings(
        walkers=12, steps=600, burn_in=200, thin=2, min_ess=50, min_chain_tau=10
    )
    table = posterior_table(pairs, MEMBERS, stations, s, shrinkage_pairs=30, seed=1)
    assert len(table) == 4 and table.converged.all()
    w = table[[f"w_{m}" for m in MEMBERS]].to_numpy()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-9)
    assert w[:2, 0].min() > 0.7 and w[2:, 2].min() > 0.7
    # shrinkage weight n / (n + n0) and intervals around the estimates
    assert table.shrink_lambda.tolist() == pytest.approx([60 / 90] * 4)
    # a and b intervals: +-1.96 shrunk least-squares standard errors of the station's fit
    for _, st in table.iterrows():
        grp = pairs[pairs.station == st.station]
        _, _, se = bma.fit_bias(grp.y.to_numpy(), grp[[f"f_{m}" for m in MEMBERS]].to_numpy())
        for j, m in enumerate(MEMBERS):
            for name, row in (("a", 0), ("b", 1)):
                half = 1.959964 * st.shrink_lambda * se[row, j]
                assert st[f"{name}_{m}_q975"] - st[f"{name}_{m}"] == pytest.approx(half)
                assert st[f"{name}_{m}"] - st[f"{name}_{m}_q025"] == pytest.approx(half)
    assert set(parameter_columns(MEMBERS)) <= set(table.columns)


def test_moments_from_parameter_arrays():
    params = {f"w_{m}": np.array([0.25]) for m in MEMBERS}
    params |= {f"a_{m}": np.array([0.0]) for m in MEMBERS}
    params |= {f"b_{m}": np.array([1.0]) for m in MEMBERS}
    params["log_sigma"] = np.log(np.array([0.02]))
    mean, sd = moments_from_parameters(params, np.array([[0.1, 0.2, 0.3, 0.4]]), MEMBERS)
    assert mean[0] == pytest.approx(0.25)
    assert sd[0] == pytest.approx(np.sqrt(np.var([0.1, 0.2, 0.3, 0.4]) + 0.02**2))


def test_read_cells_reads_each_chunk_once_and_matches_direct_indexing(tmp_path):
    path = tmp_path / "cube.nc"
    rng = np.random.default_rng(0)
    data = rng.random((3, 50, 70)).astype("f4")
    data[1, 10, 20] = -9999.0
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", 3)
        nc.createDimension("lat", 50)
        nc.createDimension("lon", 70)
        v = nc.createVariable(
            "x", "f4", ("time", "lat", "lon"), chunksizes=(3, 16, 16), fill_value=-9999.0
        )
        v[:] = data
    rows = np.array([10, 0, 49, 11, 33])
    cols = np.array([20, 0, 69, 21, 5])
    with netCDF4.Dataset(path) as nc:
        got = read_cells(nc.variables["x"], rows, cols)
    want = data[:, rows, cols].astype(float)
    want[1, 0] = np.nan
    np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------- who takes part
def network_pairs(n_days=80, train_days=60, seed=0) -> pd.DataFrame:
    """Daily (with gaps), 5-day and 10-day networks, three stations each."""
    rng = np.random.default_rng(seed)
    frames = []
    for net, step in (("DAILY", 1), ("FIVE", 5), ("TEN", 10)):
        for s in range(3):
            days = np.arange(s % step, n_days, step)
            if step == 1:
                days = days[rng.random(days.size) > 0.2]  # QC-rejected days
            time = pd.Timestamp("2010-04-01") + pd.to_timedelta(days, "D")
            frames.append(
                pd.DataFrame(
                    {
                        "network": net,
                        "station": f"{net}{s}",
                        "lat": 40.0 + s,
                        "lon": 110.0,
                        "region": 0,
                        "time": time,
                        "split": np.where(days < train_days, "train", "eval"),
                        "complete": True,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def test_sparse_networks_count_pairs_on_their_observed_days_and_take_part():
    pairs = network_pairs()
    assert network_intervals(pairs) == {"DAILY": 1.0, "FIVE": 5.0, "TEN": 10.0}
    assert [min_pairs_required(i, 20, 5) for i in (1, 5, 10)] == [20, 5, 5]
    assert [min_pairs_required(i, 60, 3) for i in (1, 5, 10)] == [60, 12, 6]
    assert min_pairs_required(7, 20, 3) == 3
    table = station_table(pairs, min_pairs=20, floor=5).set_index("station")
    assert table.loc["FIVE0", "n_train_pairs"] == 12 and table.loc["TEN0", "n_train_pairs"] == 6
    assert table.takes_part.all()  # a flat 20 would have left both sparse networks out
    assert (table.loc[["TEN0", "TEN1", "TEN2"], "min_pairs_required"] == 5).all()
    strict = station_table(pairs, min_pairs=20, floor=7).set_index("station")
    assert not strict.loc["TEN0", "takes_part"] and strict.loc["FIVE0", "takes_part"]
    assert strict.loc["TEN0", "reason"] == "too few training pairs (6 < 7)"
    # incomplete pairs (a member missing) do not count
    pairs.loc[pairs.station == "FIVE0", "complete"] = [True, False] * 8
    assert station_table(pairs, 20, 5).set_index("station").loc["FIVE0", "n_train_pairs"] == 6


def test_no_station_taking_part_says_why_per_network():
    pairs = network_pairs(train_days=15)
    with pytest.raises(bma.BMAError) as err:
        station_table(pairs, min_pairs=20, floor=5)
    msg = str(err.value)
    assert "no station has enough training-day pairs" in msg
    assert "FIVE: 3 stations sampled every 5 days, training pairs 3-3" in msg and "< 5" in msg
    assert "TEN: 3 stations sampled every 10 days, training pairs 2-2" in msg
    assert "DAILY" in msg and "< 20 required" in msg
    assert "bma.min_pairs" in msg and "bma.train_end" in msg
    assert "chain" not in msg


def test_station_day_frame_puts_days_outer_and_sites_inner():
    from smdownscale.bma_stations import station_day_frame

    sites = pd.DataFrame({"network": ["N", "N", "M"], "station": ["a", "b", "c"]})
    days = pd.to_datetime(["2010-04-07", "2010-04-08"]).date
    values = {"v": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])}
    f = station_day_frame(sites, days, values)
    assert list(f.station) == ["a", "b", "c", "a", "b", "c"]
    assert list(f.time.dt.day) == [7, 7, 7, 8, 8, 8]
    assert list(f.v) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
