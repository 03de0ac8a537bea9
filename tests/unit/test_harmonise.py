import datetime as dt

import numpy as np
import pandas as pd
import pytest

from smdownscale.grid import aggregate, region_grids
from smdownscale.harmonise import (
    GAP_BITS,
    check_days,
    composites_of_days,
    datetime64_days,
    fill_and_flag,
    gap_flag,
    gapfill,
    locate_stations,
    modis_files_by_day,
    observed_only,
    scratch_cubes,
)
from smdownscale.tiling import grid_blocks


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


def test_observed_only_masks_the_predictors_own_filled_bit():
    values = np.array([[300.0, 301.0, 302.0, 303.0]])
    flag = np.array([[0, GAP_BITS["lst"], GAP_BITS["albedo"], GAP_BITS["lst"] | 8]], np.uint8)
    out = observed_only(values, flag, "lst")
    np.testing.assert_array_equal(out, [[300.0, np.nan, 302.0, np.nan]])
    assert np.isfinite(observed_only(values, flag, "ndvi")).all()


def test_aggregation_of_observed_values_ignores_filled_cells():
    # a 2 x 2 block, 3 cells cloudy: the filled cube's mean would pass min_valid_fraction,
    # the observed one must not
    cube = np.array([[[300.0, np.nan], [np.nan, np.nan]]])
    filled_cube, filled = gapfill(np.concatenate([cube, np.full((1, 2, 2), 310.0)]), 3)
    flag = gap_flag({"lst": filled})
    assert np.isfinite(aggregate(filled_cube, 2, "mean", 0.5)).all()
    observed = observed_only(filled_cube, flag, "lst")
    out = aggregate(observed, 2, "mean", 0.5)
    assert np.isnan(out[0, 0, 0]) and out[1, 0, 0] == pytest.approx(310.0)
    assert aggregate(observed, 2, "mean", 0.25)[0, 0, 0] == pytest.approx(300.0)


def _period_cubes(shape=(8, 23, 29), seed=11):
    rng = np.random.default_rng(seed)
    cubes = {name: rng.uniform(0, 1, shape).astype(np.float32) for name in GAP_BITS}
    for cube in cubes.values():
        cube[rng.random(shape) < 0.4] = np.nan
    return cubes


@pytest.mark.parametrize("block_rows, block_cols", [(1, 29), (4, 3), (10, 29), (23, 7), (100, 100)])
def test_fill_and_flag_blocks_equal_whole_cube(block_rows, block_cols):
    cubes = _period_cubes()
    nt, ny, nx = cubes["lst"].shape
    assert (ny, nx) == (23, 29)
    blocks = grid_blocks(ny, nx, block_rows, block_cols, 2)
    fill = ["lst", "albedo"]
    written: dict[str, np.ndarray] = {}
    done: list[int] = []

    def write(name, k, cube):
        written.setdefault(name, np.full(cubes["lst"].shape, -1.0, dtype=cube.dtype))
        written[name][:, blocks[k].rows, blocks[k].cols] = cube
        if name == "gap_flag":
            done.append(k)

    counts = fill_and_flag(
        lambda name, k: cubes[name][:, blocks[k].rows, blocks[k].cols],
        write,
        len(blocks),
        fill,
        3,
    )
    assert done == list(range(len(blocks)))
    masks = {}
    for name in GAP_BITS:
        if name in fill:
            expected, masks[name] = gapfill(cubes[name], 3)
            assert counts[name] == int(masks[name].sum()) > 0
        else:  # not configured: written as read, never flagged
            expected, masks[name] = cubes[name], np.zeros(cubes[name].shape, bool)
            assert counts[name] == 0
        np.testing.assert_array_equal(written[name], expected)
    assert written["gap_flag"].dtype == np.uint8
    np.testing.assert_array_equal(written["gap_flag"], gap_flag(masks))
    assert set(np.unique(written["gap_flag"])) == {0, 1, 4, 5}


def test_fill_and_flag_rejects_unknown_predictor():
    with pytest.raises(ValueError, match="cannot gap-fill"):
        fill_and_flag(lambda n, k: None, lambda n, k, c: None, 4, ["elevation"], 3)


def test_scratch_cubes_write_blocks_of_days_read_blocks_and_are_removed(tmp_path):
    rng = np.random.default_rng(4)
    cube = rng.random((3, 7, 5)).astype(np.float32)
    cube[1, 2:4] = np.nan
    blocks = [(b.rows, b.cols) for b in grid_blocks(7, 5, 3, 2, 1)]
    assert len(blocks) == 9
    folder = tmp_path / ".out.nc.scratch"
    folder.mkdir()
    (folder / "stale.f32").write_bytes(b"left by a killed job")
    with scratch_cubes(folder, ["lst", "ndvi"], 3, blocks) as cubes:
        assert sorted(p.name for p in folder.iterdir()) == ["lst.f32", "ndvi.f32"]
        assert (folder / "lst.f32").stat().st_size == cube.nbytes
        for k in (4, 0, 8, 1, 2, 3, 5, 7, 6):  # any order
            for t in (2, 0, 1):
                cubes["lst"].write(t, k, cube[t][blocks[k]])
        for k, (rows, cols) in enumerate(blocks):
            np.testing.assert_array_equal(cubes["lst"].read(k), cube[:, rows, cols])
        assert (cubes["ndvi"].read(3) == 0).all()  # unwritten: zeros
        with pytest.raises(ValueError, match="shape"):
            cubes["lst"].write(0, 0, cube[0, :2, :2])
        with pytest.raises(IndexError, match="day 3"):
            cubes["lst"].write(3, 0, cube[0][blocks[0]])
        with pytest.raises(IndexError, match="block 9"):
            cubes["lst"].read(9)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError), scratch_cubes(folder, ["lst"], 1, blocks):
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_composites_of_days_16_and_other_period_lengths():
    days = [dt.date(2010, 4, 7) + dt.timedelta(days=i) for i in range(16)]  # DOY 97..112
    starts, index = composites_of_days(days)
    assert starts == [dt.date(2010, 4, 7)] and index == [0] * 16
    # a 30-day period from DOY 91 spans three composites (DOY 81, 97, 113)
    days = [dt.date(2010, 4, 1) + dt.timedelta(days=i) for i in range(30)]
    starts, index = composites_of_days(days)
    assert starts == [dt.date(2010, 3, 22), dt.date(2010, 4, 7), dt.date(2010, 4, 23)]
    assert index == [0] * 6 + [1] * 16 + [2] * 8
    # the year's last composite is short: 31 December and 1 January are in different ones
    starts, index = composites_of_days([dt.date(2010, 12, 31), dt.date(2011, 1, 1)])
    assert starts == [dt.date(2010, 12, 19), dt.date(2011, 1, 1)] and index == [0, 1]


def test_check_days_names_file_and_both_dates():
    d = dt.date(2010, 4, 7)
    check_days("a.nc", [d], [d])
    with pytest.raises(ValueError, match=r"a\.nc: holds 2010-04-08, but was read for 2010-04-07"):
        check_days("a.nc", [d + dt.timedelta(days=1)], [d])
    days = [d + dt.timedelta(days=i) for i in range(16)]
    with pytest.raises(ValueError, match=r"15 days 2010-04-07..2010-04-21, but was read for 16"):
        check_days("p.nc", days[:-1], days)


def test_modis_files_grouped_by_day_with_absent_granules():
    days = [dt.date(2010, 4, 7), dt.date(2010, 4, 8), dt.date(2010, 4, 9)]
    paths = [
        "raw/MOD11A1/2010/MOD11A1.A2010097.h26v04.061.hdf",
        "raw/MOD11A1/2010/MOD11A1.A2010097.h26v05.061.hdf",
        "raw/MOD11A1/2010/MOD11A1.A2010099.h26v05.061.hdf",  # h26v04 absent on the 9th
    ]
    got = modis_files_by_day(paths, days, "MOD11A1")
    assert got == {days[0]: paths[:2], days[1]: [], days[2]: paths[2:]}  # the 8th: outage
    with pytest.raises(ValueError, match=r"MOD11A1\.A2010100.*not a MOD11A1 file of any day"):
        modis_files_by_day(["raw/MOD11A1/2010/MOD11A1.A2010100.h26v04.061.hdf"], days, "MOD11A1")


def test_datetime64_days():
    values = np.array(["2010-04-07T00:00", "2010-04-08T12:00"], "datetime64[ns]")
    assert datetime64_days(values) == [dt.date(2010, 4, 7), dt.date(2010, 4, 8)]
    assert datetime64_days(np.datetime64("2010-04-07", "ns")) == [dt.date(2010, 4, 7)]
