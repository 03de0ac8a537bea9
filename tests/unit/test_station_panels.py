"""All stations' time series (smdownscale.station_panels; issue 16, item 7)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from smdownscale.station_panels import station_panels, stations_by_evaluation_days


def series(n_stations=5, seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(n_stations):
        days = pd.date_range("2010-06-01", periods=40)
        y = 0.2 + 0.03 * rng.standard_normal(40)
        y[: 3 * s] = np.nan  # station s has 3 s fewer days with a value
        frames.append(pd.DataFrame({
            "network": "N", "station": f"s{s}", "time": days, "y": y,
            "split": np.where(np.arange(40) < 20, "train", "eval"),
            "coarse": y + 0.02, "mean": y + 0.01 * rng.standard_normal(40)}))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def test_stations_with_most_evaluation_days_come_first():
    df = series()
    df.loc[(df.station == "s0") & (df.split == "eval"), "y"] = np.nan  # none left to score
    order = stations_by_evaluation_days(df)
    assert order[0] == ("N", "s1") and order[-1] == ("N", "s0") and len(order) == 5


def test_one_panel_per_station_up_to_the_limit_and_r_written():
    df = series(n_stations=8)
    fig = station_panels(df, {"coarse": "coarse", "member mean": "mean"}, max_stations=6)
    shown = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert len(shown) == 6 and shown[0].get_title() == "N/s0"
    assert "2 more stations not shown" in fig._suptitle.get_text()
    texts = [t.get_text() for t in shown[0].texts]
    assert any("coarse R 1.00" in t for t in texts)  # coarse is y + 0.02: R exactly 1
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.tell() > 10_000
