import numpy as np
import pandas as pd
import pytest

from smdownscale.grid import region_grids
from smdownscale.harmonise import GAP_BITS, gap_flag, gapfill, locate_stations


def test_gapfill_interpolates_within_window_and_falls_back_to_mean():
    nan = np.nan
    series = np.array([1.0, nan, 3.0, nan, nan, nan, nan, nan, 10.0])
    out, filled = gapfill(series[:, None], max_days=2)
    out = out[:, 0]
    assert out[1] == pytest.approx(2.0)  # linear between neighbours 1 day away
    mean = np.nanmean(series)
    # days 3..7 have a neighbour farther than 2 days on one side: the period mean
    assert np.allclose(out[3:8], mean)
    assert filled[:, 0].tolist() == [False, True, False, True, True, True, True, True, False]


def test_gapfill_leaves_cells_without_any_value_missing():
    cube = np.full((5, 2, 2), np.nan)
    cube[:, 0, 0] = 1.0
    out, filled = gapfill(cube, 3)
    assert np.isnan(out[:, 1, 1]).all() and not filled[:, 1, 1].any()
    assert (out[:, 0, 0] == 1).all() and not filled[:, 0, 0].any()


def test_gapfill_edges_use_period_mean():
    out, filled = gapfill(np.array([[np.nan], [2.0], [4.0]]), 3)
    assert out[0, 0] == pytest.approx(3.0) and filled[0, 0]


def test_gap_flag_bits():
    a = np.array([True, False, True])
    b = np.array([False, False, True])
    flag = gap_flag({"lst": a, "albedo": b})
    assert flag.tolist() == [GAP_BITS["lst"], 0, GAP_BITS["lst"] | GAP_BITS["albedo"]]


def test_locate_stations_indices_and_outside():
    coarse, fine = region_grids((110, 39, 113, 41), 0.25, 0.01)
    table = pd.DataFrame(
        {
            "network": ["N", "N", "N"],
            "station": ["a", "b", "far"],
            "lat": [40.995, 39.123, 45.0],
            "lon": [110.005, 112.456, 111.0],
            "time": pd.to_datetime(["2010-04-07"] * 3),
            "sm": [0.2, 0.3, 0.4],
        }
    )
    inside, outside = locate_stations(table, fine, coarse)
    assert inside["station"].tolist() == ["a", "b"]
    assert outside["station"].tolist() == ["far"]
    b = inside.iloc[1]
    assert (b.fine_row, b.fine_col) == (187, 245)  # floor((41-39.123)/0.01), floor(2.456/0.01)
    assert b.fine_index == 187 * 300 + 245
    assert (b.coarse_row, b.coarse_col) == (7, 9)
    assert fine.lat[b.fine_row] == pytest.approx(39.125)


def _gapfill_reference(series, max_days):
    """Per-cell loop: the definition of gap filling, written the slow, obvious way."""
    valid = [i for i, v in enumerate(series) if np.isfinite(v)]
    mean = np.mean([series[i] for i in valid]) if valid else np.nan
    out = []
    for t, v in enumerate(series):
        if np.isfinite(v):
            out.append(v)
            continue
        before = [i for i in valid if i < t]
        after = [i for i in valid if i > t]
        if before and after and t - before[-1] <= max_days and after[0] - t <= max_days:
            a, b = before[-1], after[0]
            out.append(series[a] + (series[b] - series[a]) * (t - a) / (b - a))
        else:
            out.append(mean)
    return np.array(out)


@pytest.mark.parametrize("max_days", [1, 3, 7])
def test_gapfill_matches_per_cell_reference(max_days):
    rng = np.random.default_rng(max_days)
    cube = rng.uniform(280, 320, (16, 9, 7))
    cube[rng.random(cube.shape) < 0.5] = np.nan
    cube[:, 0, 0] = np.nan  # a cell with no value at all
    out, filled = gapfill(cube, max_days)
    for i in range(9):
        for j in range(7):
            ref = _gapfill_reference(cube[:, i, j], max_days)
            np.testing.assert_allclose(out[:, i, j], ref, rtol=1e-6, equal_nan=True)
            np.testing.assert_array_equal(
                filled[:, i, j], ~np.isfinite(cube[:, i, j]) & np.isfinite(ref)
            )
