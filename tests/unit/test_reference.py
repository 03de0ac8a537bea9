"""The product against a gridded reference (smdownscale.reference; issue 16, items 4, 6)."""

from __future__ import annotations

import numpy as np
import pytest

from smdownscale.blocks import Blocks
from smdownscale.reference import (
    PairStats,
    TripleStats,
    reference_index,
    row_blocks,
    to_reference,
)


def test_fine_cells_map_to_the_reference_cell_holding_their_centre():
    # 0.01 deg fine centres 40.995 .. 40.005 (descending); 0.1 deg centres 41.0, 40.9, ...
    fine = np.round(40.995 - 0.01 * np.arange(100), 3)
    ref = np.round(41.0 - 0.1 * np.arange(11), 1)
    idx = reference_index(fine, ref, 0.1, descending=True)
    assert idx[0] == 0 and idx[4] == 0 and idx[5] == 1 and idx[14] == 1 and idx[-1] == 10
    assert (np.bincount(idx)[1:10] == 10).all()  # inner cells get ten fine rows each
    east = reference_index(np.array([110.005, 109.5]), np.array([110.0, 110.1]), 0.1, False)
    assert east.tolist() == [0, -1]


def test_block_means_need_enough_fine_cells_with_a_value():
    f = np.arange(2 * 4 * 4, dtype=float).reshape(2, 4, 4)
    f[1, :2, :2] = np.nan
    f[1, 2, 2] = np.nan
    rows = np.array([0, 0, 1, 1])
    out = to_reference(f, rows, rows, (2, 2), min_share=0.5)
    assert out[0, 0, 0] == pytest.approx(np.mean([0, 1, 4, 5]))
    assert np.isnan(out[1, 0, 0])  # no value in the cell
    assert out[1, 1, 1] == pytest.approx(np.mean([27, 30, 31]))  # 3 of 4 >= half


def test_scores_per_cell_streamed_equal_the_direct_ones():
    rng = np.random.default_rng(0)
    b = rng.standard_normal((60, 2, 3))
    a = 0.5 * b + 0.1 + 0.2 * rng.standard_normal((60, 2, 3))
    a[5, 0, 0] = np.nan
    st = PairStats((2, 3))
    st.add(a[:25], b[:25])
    st.add(a[25:], b[25:])
    s = st.scores(min_days=10)
    ok = np.isfinite(a[:, 0, 0])
    assert s["n"][0, 0] == 59 and s["n"][1, 2] == 60
    assert s["r"][0, 0] == pytest.approx(np.corrcoef(a[ok, 0, 0], b[ok, 0, 0])[0, 1])
    assert s["mae"][1, 1] == pytest.approx(np.mean(np.abs(a[:, 1, 1] - b[:, 1, 1])))
    assert s["bias"][1, 1] == pytest.approx(np.mean(a[:, 1, 1] - b[:, 1, 1]))
    assert np.isnan(st.scores(min_days=61)["r"]).all()


def test_triple_collocation_recovers_known_independent_errors():
    # three products of one signal, each scaled and offset in its own way, with errors of
    # SD 0.01, 0.02, 0.03 in its own units
    rng = np.random.default_rng(1)
    t = rng.standard_normal((20000, 1))
    x = 0.2 + 0.05 * t + 0.01 * rng.standard_normal(t.shape)
    y = 0.1 + 0.03 * t + 0.02 * rng.standard_normal(t.shape)
    z = 0.3 + 0.08 * t + 0.03 * rng.standard_normal(t.shape)
    tc = TripleStats((1,))
    for k in range(0, 20000, 5000):
        tc.add(x[k : k + 5000], y[k : k + 5000], z[k : k + 5000])
    sd, n = tc.error_sd()
    assert n[0] == 20000
    np.testing.assert_allclose(sd[:, 0], [0.01, 0.02, 0.03], rtol=0.06)
    # x and y sharing their error breaks the assumption: both come out too low
    shared = 0.02 * rng.standard_normal(t.shape)
    tc2 = TripleStats((1,))
    tc2.add(x + shared, y + shared, z)
    sd2, _ = tc2.error_sd()
    assert sd2[0, 0] < np.hypot(0.01, 0.02) * 0.7 or np.isnan(sd2[0, 0])


def test_era5_land_months_read_back_as_one_series(tmp_path):
    from smdownscale.demo.write_era5_land import (
        era5_land_from_truth,
        era5_lattice,
        write_era5_land_month,
    )
    from smdownscale.products.era5_land import read_era5_land

    area = [41.0, 110.0, 40.0, 111.0]
    lat, lon = era5_lattice(area)
    paths = []
    for month, days in ((4, 30), (5, 31)):
        values = np.random.default_rng(month).uniform(0.1, 0.3, (days, lat.size, lon.size))
        p = tmp_path / f"ERA5-Land.daily.2010-{month:02d}.nc"
        paths.append(write_era5_land_month(p, 2010, month, area, values=values.astype("f4")))
    da = read_era5_land(paths, bbox=(110.2, 40.2, 110.8, 40.8))
    assert da.dims == ("time", "lat", "lon") and da.sizes["time"] == 61
    assert str(da.time.values[30])[:10] == "2010-05-01" and da.lat.values[0] > da.lat.values[-1]
    assert da.attrs["units"] == "m3 m-3"
    # the demo's reference from a known truth: 0.03 + 0.8 x the 0.1 deg mean, plus noise
    flat = np.full((3, 100, 100), 0.25)
    flat_lat = np.round(40.995 - 0.01 * np.arange(100), 3)
    flat_lon = np.round(110.005 + 0.01 * np.arange(100), 3)
    out = era5_land_from_truth(flat, flat_lat, flat_lon, area, np.random.default_rng(0))
    inner = out[:, 1:-1, 1:-1]
    assert inner.mean() == pytest.approx(0.03 + 0.8 * 0.25, abs=0.003)
    assert inner.std() == pytest.approx(0.015, rel=0.2)


def test_the_genuine_cds_file_of_the_older_era_opens():
    """The real CDS NetCDF of shared/realdata (2018 conversion: ``time``, packed int16)."""
    import os
    from pathlib import Path

    from smdownscale.products.base import ProductError
    from smdownscale.products.era5_land import check_era5_land, open_cds

    root = Path(os.environ.get("SMDOWNSCALE_REALDATA", Path(__file__).parents[3] / "shared" /
                               "realdata"))  # fmt: skip
    path = root / "era5" / "ERA5_cds_example_20100101.nc"
    if not path.is_file():
        pytest.skip(f"real ERA5 file not found at {path} (set SMDOWNSCALE_REALDATA)")
    da = open_cds(path, "swvl1")
    assert da.dims == ("time", "lat", "lon") and da.dtype == np.float32
    assert da.lat.values[0] > da.lat.values[-1] and (da.lon.values <= 180).all()
    v = da.values[np.isfinite(da.values)]
    # unpacked volumetric water (packing rounds sea cells to a few 1e-3 below 0)
    assert v.size and -0.01 < v.min() and 0.3 < v.max() <= 1
    assert str(da.time.values[0])[:10] == "2010-01-01"
    # it is ERA5 (6-hourly, coarse), not ERA5-Land daily statistics: the check refuses it
    with pytest.raises(ProductError):
        check_era5_land(path, path)


def test_row_blocks_never_split_a_reference_or_coarse_cell():
    rows = np.repeat(np.arange(12), 10)[5:-5]  # 110 fine rows, reference cells of 10
    coarse = Blocks(np.arange(rows.size) // 25, [0], np.arange(5) * 25 + 12.0, [0.0])
    blocks = row_blocks(rows, coarse, 40)
    assert blocks[0].start == 0 and blocks[-1].stop == rows.size
    for a, b in zip(blocks[:-1], blocks[1:], strict=True):
        assert a.stop == b.start and b.start % 25 == 0  # coarse rows whole
        assert rows[b.start] != rows[b.start - 1]  # reference rows whole
    assert row_blocks(rows, coarse, 1000) == [slice(0, rows.size)]
