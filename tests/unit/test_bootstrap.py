"""Station-block bootstrap intervals (smdownscale.bootstrap; issue 16, item 6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smdownscale import metrics
from smdownscale.bootstrap import (
    BOOT_COLUMNS,
    BootstrapSettings,
    scores_from_sums,
    station_bootstrap,
    station_sums,
)
from smdownscale.validation import station_table


def correlated(n: int, rho: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.standard_normal(n)
    p = rho * y + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    return p, y


def test_scores_from_sums_match_the_direct_scores():
    rng = np.random.default_rng(1)
    p, y = correlated(500, 0.6, rng)
    p = 0.2 + 0.05 * p
    y = 0.21 + 0.05 * y
    p[3] = np.nan  # dropped as in metrics.score
    station = np.repeat(np.arange(50), 10)
    sums = station_sums(p, y, station)
    assert sums.shape == (50, 6) and sums[:, 0].sum() == 499
    got = scores_from_sums(sums.sum(axis=0))
    want = metrics.score(p, y)
    for name in ("r", "rmse", "ubrmse", "bias"):
        assert got[name] == pytest.approx(getattr(want, name), rel=1e-9, abs=1e-12)


def test_with_one_day_per_station_the_interval_of_r_matches_fisher_z():
    # independent pairs: the station bootstrap is the pair bootstrap, and for a bivariate
    # normal sample its percentile interval of R agrees with the analytic Fisher z interval
    rng = np.random.default_rng(7)
    p, y = correlated(400, 0.6, rng)
    out = station_bootstrap(p, y, np.arange(400), BootstrapSettings(draws=4000, seed=3))
    fisher = metrics.score(p, y)
    width = fisher.r_ci_high - fisher.r_ci_low
    assert out["r_boot_low"] == pytest.approx(fisher.r_ci_low, abs=0.12 * width)
    assert out["r_boot_high"] == pytest.approx(fisher.r_ci_high, abs=0.12 * width)
    boot_width = out["r_boot_high"] - out["r_boot_low"]
    assert 0.85 * width < boot_width < 1.15 * width


def test_days_of_one_station_widen_the_interval():
    # 20 stations with 40 days each; each station's product is off by its own constant
    # (representativeness), so its days move together: 800 station-days, about 20 stations'
    # worth of information. The Fisher interval counts 800; the station bootstrap does not.
    rng = np.random.default_rng(11)
    n_st, n_days = 20, 40
    station = np.repeat(np.arange(n_st), n_days)
    level = np.repeat(rng.normal(0.2, 0.05, n_st), n_days)
    offset = np.repeat(rng.normal(0.0, 0.04, n_st), n_days)
    y = level + 0.01 * rng.standard_normal(n_st * n_days)
    p = level + offset + 0.01 * rng.standard_normal(n_st * n_days)
    out = station_bootstrap(p, y, station, BootstrapSettings(draws=2000, seed=0))
    fisher = metrics.score(p, y)
    assert out["r_boot_high"] - out["r_boot_low"] > 3 * (fisher.r_ci_high - fisher.r_ci_low)
    assert out["rmse_boot_low"] < fisher.rmse < out["rmse_boot_high"]
    assert out["bias_boot_low"] < fisher.bias < out["bias_boot_high"]


def test_seeded_reproducible_and_too_few_stations_give_nan():
    rng = np.random.default_rng(2)
    p, y = correlated(90, 0.5, rng)
    station = np.repeat(["a", "b", "c", "d", "e", "f"], 15)
    s = BootstrapSettings(draws=200, seed=5)
    assert station_bootstrap(p, y, station, s) == station_bootstrap(p, y, station, s)
    other = station_bootstrap(p, y, station, BootstrapSettings(draws=200, seed=6))
    assert other != station_bootstrap(p, y, station, s)
    two = station_bootstrap(p[:30], y[:30], station[:30], s)
    assert set(two) == set(BOOT_COLUMNS) and all(np.isnan(v) for v in two.values())
    with pytest.raises(ValueError, match="draws must be >= 10"):
        BootstrapSettings(draws=5)
    with pytest.raises(ValueError, match="level must be in"):
        BootstrapSettings(level=1.0)


def test_table4_carries_the_intervals_beside_fisher_z():
    rng = np.random.default_rng(4)
    rows = []
    for net in ("A", "B"):
        for s in range(8):
            y = 0.2 + 0.05 * rng.standard_normal(30)
            rows.append(
                pd.DataFrame(
                    {
                        "network": net,
                        "station": f"s{s}",
                        "split": "eval",
                        "y": y,
                        "coarse": y + 0.03 * rng.standard_normal(30) + rng.normal(0, 0.03),
                        "mean": y + 0.02 * rng.standard_normal(30),
                    }
                )
            )
    series = pd.concat(rows, ignore_index=True)
    products = {"coarse": "coarse", "mean": "member mean"}
    table = station_table(series, products, BootstrapSettings(draws=300, seed=1))
    assert list(table.columns[-len(BOOT_COLUMNS) :]) == BOOT_COLUMNS
    assert len(table) == 3 * 2 * 2  # (all networks, A, B) x (All, Mid) x 2 products
    full = table[(table.network == "all networks") & (table.subset == "All")]
    assert (full.r_boot_low < full.r).all() and (full.r < full.r_boot_high).all()
    # the coarse product's station offsets make its interval wider than the mean's
    w = full.set_index("product").eval("r_boot_high - r_boot_low")
    assert w["coarse"] > w["member mean"]
    assert "r_boot_low" not in station_table(series, products).columns
