"""Validation tables: evaluation days only, common station-days, Mid subset, truth scores."""

import numpy as np
import pandas as pd
import pytest

from smdownscale import metrics
from smdownscale.grid import repeat_blocks
from smdownscale.validation import (
    ALL_NETWORKS,
    per_station_table,
    station_products,
    station_table,
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
