"""Validation tables: evaluation days only, common station-days, Mid subset, truth scores."""

import numpy as np
import pandas as pd
import pytest

from smdownscale import metrics
from smdownscale.grid import repeat_blocks
from smdownscale.harmonise import GAP_BITS
from smdownscale.validation import (
    ALL_NETWORKS,
    filled_cell_days,
    per_station_table,
    station_products,
    station_table,
    time_table,
    truth_scores,
)

MEMBERS = ["rf", "xgb"]


def series(seed=0, n_days=60):
    rng = np.random.default_rng(seed)
    rows = []
    for s, net in enumerate(["A", "A", "B"]):
        y = 0.2 + 0.05 * np.sin(np.arange(n_days) / 7 + s)
        for d in range(n_days):
            split = "train" if d < 30 else "eval"
            row = {"network": net, "station": f"{net}{s}", "lat": 40.0, "lon": 110.0 + s,
                   "fold": 1 + s % 2, "takes_part": True, "split": split, "y": y[d]}  # fmt: skip
            for col in station_products(MEMBERS):
                row[col] = y[d] + 0.01 * rng.standard_normal()
            if split == "train":  # training days hold absurd values: must never be scored
                row["bma_heldout"] = 5.0
            rows.append(row)
    df = pd.DataFrame(rows)
    df.loc[(df.station == "A0") & (df.index % 10 == 0), "coarse"] = np.nan  # coarse gaps
    return df


def test_table4_scores_evaluation_days_on_common_pairs():
    df = series()
    products = station_products(MEMBERS)
    table = station_table(df, products)
    assert set(table.network) == {ALL_NETWORKS, "A", "B"} and set(table.subset) == {"All", "Mid"}
    allrows = table[(table.network == ALL_NETWORKS) & (table.subset == "All")]
    # every product is scored on the same days: the evaluation days with a coarse value
    ev = df[(df.split == "eval") & df.coarse.notna()]
    assert (allrows.n == len(ev)).all()
    heldout = allrows[allrows.column == "bma_heldout"].iloc[0]
    assert heldout.rmse < 0.05  # the absurd training-day values were not used
    want = metrics.score(ev.bma_heldout.to_numpy(), ev.y.to_numpy())
    assert heldout.rmse == pytest.approx(want.rmse) and heldout.r == pytest.approx(want.r)


def test_mid_subset_uses_the_networks_in_situ_range():
    df = series()
    table = station_table(df, station_products(MEMBERS))
    a = df[(df.network == "A") & (df.split == "eval") & df.coarse.notna()]
    mid = metrics.mid_mask(a.y.to_numpy())
    row = table[(table.network == "A") & (table.subset == "Mid") & (table.column == "f_rf")]
    assert int(row.n.iloc[0]) == int(mid.sum()) < len(a)
    want = metrics.score(a.f_rf.to_numpy()[mid], a.y.to_numpy()[mid])
    assert row.rmse.iloc[0] == pytest.approx(want.rmse)


def test_scores_per_month_and_season_on_the_table4_pairs():
    df = series(n_days=90)
    df["time"] = pd.Timestamp("2010-11-16") + pd.to_timedelta(
        df.groupby("station").cumcount(), "D"
    )  # training days 16 Nov - 15 Dec, evaluation days 16 Dec - 13 Feb
    products = station_products(MEMBERS)
    out = time_table(df, products)
    months = out[out.kind == "month"]
    assert list(months["when"].unique()) == ["2010-12", "2011-01", "2011-02"]
    # December and the next January and February make one winter, DJF 2011
    assert list(out[out.kind == "season"]["when"].unique()) == ["DJF 2011"]
    ev = df[(df.split == "eval") & df.coarse.notna()]
    jan = ev[pd.to_datetime(ev.time).dt.month == 1]
    row = months[(months["when"] == "2011-01") & (months.column == "f_rf")].iloc[0]
    want = metrics.score(jan.f_rf.to_numpy(), jan.y.to_numpy())
    assert row.n == len(jan) and row.rmse == pytest.approx(want.rmse)
    assert row.n_stations == 3
    season = out[(out.kind == "season") & (out.column == "f_rf")].iloc[0]
    table = station_table(df, products)
    full = table[(table.network == ALL_NETWORKS) & (table.subset == "All")]
    assert season.n == full[full.column == "f_rf"].n.iloc[0]  # the same pairs as Table 4
    assert season.rmse == pytest.approx(full[full.column == "f_rf"].rmse.iloc[0])


def test_per_station_table_has_every_station_and_product():
    out = per_station_table(series(), station_products(MEMBERS))
    assert len(out) == 3 * len(station_products(MEMBERS))
    assert out.groupby("station").n.nunique().max() == 1  # common days within a station


def test_truth_scores_baseline_undefined_within_cells_and_common_cells():
    rng = np.random.default_rng(1)
    truth = rng.uniform(0.1, 0.4, (3, 10, 10))
    coarse = truth.reshape(3, 2, 5, 2, 5).mean(axis=(2, 4))
    coarse[0, 0, 0] = np.nan  # a swath gap: removed for every field
    fields = {"coarse": repeat_blocks(coarse, 5), "perfect": truth.copy()}
    out = truth_scores(fields, truth, 5).set_index("product")
    assert out.loc["perfect", "r"] == 1.0 and out.loc["perfect", "within_cell_r"] == 1.0
    assert out.loc["coarse", "within_cell"] == metrics.UNDEFINED_CONSTANT
    assert (out.n == 3 * 100 - 25).all()


def skill_world(seed=2):
    """Truth, a noisy coarse product with a gap, a downscaled product 0.01 too wet with one
    missing cell, and the filled mask (the coarse gap plus two gap-filled LST cells)."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.1, 0.4, (2, 10, 10))
    coarse = truth.reshape(2, 2, 5, 2, 5).mean(axis=(2, 4)) + rng.normal(0, 0.03, (2, 2, 2))
    coarse[0, 0, 0] = np.nan  # a swath gap: the block rows 0-4, columns 0-4 of day 0
    down = truth + 0.01
    down[1, 9, 9] = np.nan
    coarse_fine = repeat_blocks(coarse, 5)
    flag = np.zeros(truth.shape, np.uint8)
    flag[1, 0, 0] = GAP_BITS["lst"]  # gap-filled LST on a day with a coarse value
    flag[0, 2, 2] = GAP_BITS["lst"]  # ... and inside the coarse gap (counted once)
    lst = np.full(truth.shape, 300.0)
    lst[1, 7, 7] = np.nan  # LST missing, not filled
    filled = filled_cell_days(np.isfinite(coarse_fine), flag, {"lst": lst}, GAP_BITS)
    return truth, {"coarse": coarse_fine, "down": down}, filled


def test_filled_cell_days_marks_coarse_gaps_filled_and_missing_predictors():
    _, fields, filled = skill_world()
    assert filled[0, :5, :5].all() and filled[1, 0, 0] and filled[1, 7, 7]
    assert int(filled.sum()) == 25 + 2
    # only the predictors given count: without LST nothing but the coarse gap is filled
    none = filled_cell_days(np.isfinite(fields["coarse"]), np.full((2, 10, 10), 1, np.uint8),
                            {}, GAP_BITS)  # fmt: skip
    assert int(none.sum()) == 25


def test_truth_scores_coverage_coarse_days_filled_cells_and_edges():
    truth, fields, filled = skill_world()
    out = truth_scores(fields, truth, 5, coarse="coarse", filled=filled).set_index("product")
    assert out.loc["coarse", "coverage"] == pytest.approx(175 / 200)
    assert out.loc["down", "coverage"] == pytest.approx(199 / 200)
    assert (out.n == 200 - 25 - 1).all()  # common cell-days, as before
    # on the coarse product's days (less the down product's missing cell)
    on = np.isfinite(fields["coarse"]) & np.isfinite(fields["down"])
    coarse_rmse = np.sqrt(np.mean((fields["coarse"][on] - truth[on]) ** 2))
    assert out.loc["down", "n_vs_coarse_days"] == 174
    assert out.loc["down", "rmse_vs_coarse_days"] == pytest.approx(0.01)
    assert out.loc["down", "bias_vs_coarse_days"] == pytest.approx(0.01)
    assert out.loc["down", "coarse_rmse_same_days"] == pytest.approx(coarse_rmse)
    assert out.loc["down", "rmse_ratio"] == pytest.approx(0.01 / coarse_rmse)
    assert out.loc["coarse", "rmse_ratio"] == pytest.approx(1.0)
    assert out.loc["coarse", "n_vs_coarse_days"] == 175
    # filled cell-days: the coarse gap (25) and the two flagged or missing LST cells
    assert out.loc["down", "n_filled"] == 27
    assert out.loc["down", "filled_rmse"] == pytest.approx(0.01)
    assert out.loc["down", "filled_bias"] == pytest.approx(0.01)
    assert out.loc["coarse", "n_filled"] == 0 and np.isnan(out.loc["coarse", "filled_rmse"])
    # block edges: the coarse product is all edges, the truth-shaped product has none
    assert out.loc["coarse", "edge_ratio"] == np.inf
    assert out.loc["down", "edge_ratio"] == pytest.approx(
        metrics.block_edge_ratio(fields["down"], 5)
    )
    assert 0.5 < out.loc["down", "edge_ratio"] < 1.5


def test_truth_scores_without_baseline_or_mask_leaves_those_columns_empty():
    truth, fields, _ = skill_world()
    out = truth_scores(fields, truth, 5).set_index("product")
    assert out[["rmse_ratio", "filled_rmse"]].isna().all().all()
    assert (out.n_filled == 0).all() and out.coverage.notna().all()
