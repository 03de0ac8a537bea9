"""The demo world's sub-grid wet patches: wetness the predictors cannot explain."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
import xarray as xr
from scipy import ndimage

from smdownscale.demo.world import (
    WorldParams,
    apply_wet_patches,
    simulate_world,
    soil_properties,
    wet_patch_mask,
)
from smdownscale.grid import LatLonGrid

GRID = LatLonGrid(north=40.5, south=40.0, west=111.0, east=111.5, res=0.01)
DATES = [dt.date(2010, 6, 1) + dt.timedelta(days=i) for i in range(6)]
BASE = WorldParams(spinup_days=10)
PATCHY = dataclasses.replace(BASE, wet_patch_share=0.1, wet_patch_size_km=3.0)
PREDICTORS = ("lst", "ndvi", "albedo_wsa", "albedo_bsa", "precipitation", "cloud")


@pytest.fixture(scope="module")
def pair() -> tuple[xr.Dataset, xr.Dataset]:
    return simulate_world(GRID, DATES, 3, BASE), simulate_world(GRID, DATES, 3, PATCHY)


@pytest.mark.parametrize("share", [0.02, 0.1, 0.3])
def test_share_is_honoured(share):
    p = dataclasses.replace(BASE, wet_patch_share=share, wet_patch_size_km=3.0)
    mask = wet_patch_mask(GRID, 3, p)
    # reaches the share and overshoots by less than one disc (at most 2 x 3 km across)
    disc_cells = np.pi * 3.0**2 / (0.85 * 1.11) + 8
    assert share <= mask.mean() < share + disc_cells / GRID.size


def test_mask_is_seeded_and_off_at_zero_share():
    a = wet_patch_mask(GRID, 3, PATCHY)
    np.testing.assert_array_equal(a, wet_patch_mask(GRID, 3, PATCHY))
    assert not np.array_equal(a, wet_patch_mask(GRID, 4, PATCHY))
    assert not wet_patch_mask(GRID, 3, BASE).any()


def test_patch_size_follows_size_km():
    def mean_patch_cells(size_km):
        p = dataclasses.replace(BASE, wet_patch_share=0.03, wet_patch_size_km=size_km)
        labels, n = ndimage.label(wet_patch_mask(GRID, 3, p))
        return np.bincount(labels.ravel())[1:].mean(), n

    small, n_small = mean_patch_cells(2.0)
    large, n_large = mean_patch_cells(6.0)
    # a 2 km disc covers about 3 cells of 0.94 km2, a 6 km disc about 30
    assert 1 <= small < 8 and 15 < large < 60
    assert n_small > 3 * n_large


def test_predictors_unchanged_truth_raised_inside_patches(pair):
    base, patchy = pair
    for name in PREDICTORS:
        np.testing.assert_array_equal(base[name].values, patchy[name].values, err_msg=name)
    mask = patchy["wet_patch"].values.astype(bool)
    assert 0.1 <= mask.mean() < 0.15
    sm0, sm1 = base["sm_true"].values, patchy["sm_true"].values
    np.testing.assert_array_equal(sm0[:, ~mask], sm1[:, ~mask])
    assert (sm1[:, mask] >= sm0[:, mask]).all()
    # held at least at field capacity (target 1), and most cells actually raised
    fc = patchy["field_capacity"].values[mask]
    assert (sm1[:, mask] >= fc[None] - 1e-6).all()
    assert (sm1[:, mask] > sm0[:, mask]).mean() > 0.5
    assert sm1[:, mask].mean() > sm0[:, mask].mean() + 0.03


def test_boost_is_clipped_at_porosity(pair):
    base = pair[0].isel(time=slice(0, 2))
    # field capacity + 0.3 exceeds porosity everywhere (porosity - fc < 0.25): all clipped
    p = dataclasses.replace(PATCHY, wet_patch_boost=0.3)
    held = simulate_world(GRID, DATES[:2], 3, p)
    mask = held["wet_patch"].values.astype(bool)
    por = held["porosity"].values[mask]
    np.testing.assert_allclose(held["sm_true"].values[:, mask], np.broadcast_to(por, (2, por.size)))
    # boost only (no floor): +0.3 where that stays below porosity, porosity elsewhere
    p = dataclasses.replace(PATCHY, wet_patch_target=None, wet_patch_boost=0.3)
    boosted = simulate_world(GRID, DATES[:2], 3, p)["sm_true"].values[:, mask]
    want = np.minimum(base["sm_true"].values[:, mask].astype(np.float64) + 0.3, por[None])
    np.testing.assert_allclose(boosted, want, atol=1e-6)
    assert (boosted < por[None] - 1e-3).any() and np.isclose(boosted, por[None]).any()


def test_apply_wet_patches_by_hand():
    soil = soil_properties(np.array([0.2, 0.5, 0.8, 0.5]), BASE)
    theta = np.array([0.05, 0.30, 0.10, 0.05])
    mask = np.array([True, True, True, False])
    p = dataclasses.replace(BASE, wet_patch_target=0.5, wet_patch_boost=0.02)
    out = apply_wet_patches(theta, mask, soil, p)
    floor = soil["wilting_point"] + 0.5 * (soil["field_capacity"] - soil["wilting_point"])
    want = np.minimum(np.maximum(theta, floor) + 0.02, soil["porosity"])
    np.testing.assert_allclose(out[:3], want[:3])
    assert out[3] == theta[3]  # outside the patch: untouched
    assert out[1] == pytest.approx(0.32)  # wetter than the floor already: only the boost
