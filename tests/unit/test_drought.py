"""Drought regions and regional series (smdownscale.drought; TerraClimate reader/writer)."""

from __future__ import annotations

import numpy as np
import pytest

from smdownscale.drought import MonthlyMeans, correlation, drought_mask


def test_a_cell_is_in_drought_when_pdsi_is_low_most_of_the_time():
    p = np.zeros((10, 1, 4))
    p[:, 0, 0] = -3  # always
    p[:9, 0, 1] = -2.0  # 9 of 10 months, at the threshold: in
    p[:8, 0, 2] = -2.5  # 8 of 10: not more than 80 %
    p[:, 0, 3] = np.nan  # no value
    assert drought_mask(p).tolist() == [[True, True, False, False]]
    p[8:, 0, 2] = np.nan  # 8 of the 8 months with a value
    assert drought_mask(p)[0, 2]


def test_monthly_means_and_correlation():
    mm = MonthlyMeans()
    mm.add("product", "2010-04", np.array([0.1, 0.3, np.nan]))
    mm.add("product", "2010-04", np.array([0.2]))
    mm.add("product", "2010-05", np.array([0.4]))
    got = mm.series("product", ["2010-04", "2010-05", "2010-06"])
    np.testing.assert_allclose(got[:2], [0.2, 0.4])
    assert np.isnan(got[2])
    r, n = correlation(np.array([1.0, 2, 3, np.nan]), np.array([2.0, 4, 7, 1]))
    assert n == 3 and r == pytest.approx(np.corrcoef([1, 2, 3], [2, 4, 7])[0, 1])
    assert np.isnan(correlation(np.array([1.0, 2]), np.array([1.0, 2]))[0])


def test_terraclimate_year_round_trip_and_checks(tmp_path):
    from smdownscale.demo.write_terraclimate import (
        demo_pdsi,
        terraclimate_lattice,
        write_terraclimate_year,
    )
    from smdownscale.products.base import ProductError
    from smdownscale.products.terraclimate import check_terraclimate, read_terraclimate

    bbox = (110.0, 39.0, 111.0, 40.0)
    lat, lon = terraclimate_lattice(bbox)
    assert lat[0] > 40.0 and lat[-1] < 39.0 and np.allclose(np.diff(lon), 1 / 24)
    pdsi = np.random.default_rng(0).uniform(-4, 4, (12, lat.size, lon.size))
    pdsi[0, 0, 0] = np.nan
    path = write_terraclimate_year(tmp_path / "TerraClimate_PDSI_2010.nc", 2010, lat, lon, pdsi)
    da = read_terraclimate([path], bbox)
    assert da.sizes["time"] == 12 and str(da.time.values[3])[:10] == "2010-04-01"
    np.testing.assert_allclose(da.values[1], pdsi[1], atol=0.006)  # packed at 0.01
    assert np.isnan(da.values[0, 0, 0])
    with pytest.raises(ProductError, match="not the 12 months of 2011"):
        check_terraclimate(path, tmp_path / "TerraClimate_PDSI_2011.nc")
    with pytest.raises(ProductError, match="does not cover the region"):
        check_terraclimate(path, path, (100.0, 39.0, 101.0, 40.0))
    # the demo's PDSI: drier cells have lower PDSI, standardised over cells and months
    sm = np.full((2, 100, 100), 0.3)
    sm[:, :, :50] = 0.1
    flat_lat = np.round(39.995 - 0.01 * np.arange(100), 3)
    flat_lon = np.round(110.005 + 0.01 * np.arange(100), 3)
    d = demo_pdsi(sm, flat_lat, flat_lon, lat, lon)
    inside = np.isfinite(d[0])
    assert d[0][inside].min() == pytest.approx(-3.0, abs=0.3)
    assert d[0][inside].max() == pytest.approx(3.0, abs=0.3)
