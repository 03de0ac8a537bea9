import numpy as np
import pytest

from smdownscale.demo import render
from smdownscale.grid import region_grids
from smdownscale.products.modis_sinusoidal import lst_qc_keep


@pytest.fixture(scope="module")
def grids():
    coarse, fine = region_grids((110.0, 39.75, 111.0, 40.25), 0.25, 0.01)
    return coarse, fine


def test_lst_tile_qc_classes_match_the_reader(grids):
    _, fine = grids
    rng = np.random.default_rng(0)
    lst = np.full(fine.shape, 300.0)
    cloud = np.zeros(fine.shape, bool)
    cloud[:, :50] = True
    value, qc = render.lst_tile(lst, cloud, fine, 26, 5, rng, degraded_fraction=0.2)
    inside = np.isfinite(render.sample_grid_on_tile(lst, fine, 26, 5))
    clear = inside & np.isfinite(value)
    assert clear.any() and (qc[~inside] == render.QC_NOT_PRODUCED).all()
    assert (qc[inside & ~clear] == render.QC_CLOUD).all()
    # strict keeps only QA 00; 'good' adds the <= 2 K class; the <= 3 K class only in 'any'
    strict, good = lst_qc_keep(qc, "strict"), lst_qc_keep(qc, "good")
    assert (strict == (clear & (qc == render.QC_GOOD))).all()
    frac_degraded = 1 - strict[clear].mean()
    assert frac_degraded == pytest.approx(0.2, abs=0.03)
    assert good[clear].mean() == pytest.approx(0.9, abs=0.03)
    assert abs(np.nanmean(value) - 300.0) < 0.1 and np.nanstd(value[strict]) < 0.7


def test_ndvi_composite_is_maximum_of_clear_days():
    ndvi = np.array([[[0.2]], [[0.5]], [[0.4]], [[0.3]]])
    cloud = np.array([[[False]], [[True]], [[False]], [[False]]])
    value, rel = render.ndvi_composite(ndvi, cloud)
    assert value[0, 0] == pytest.approx(0.4) and rel[0, 0] == 0
    value, rel = render.ndvi_composite(ndvi[:2], cloud[:2])
    assert value[0, 0] == pytest.approx(0.2) and rel[0, 0] == 1
    value, rel = render.ndvi_composite(ndvi[1:2], cloud[1:2])
    assert value[0, 0] == pytest.approx(0.25) and rel[0, 0] == 3  # cloud-contaminated


def test_aligned_block_mean_uses_the_inner_aligned_box(grids):
    _, fine = grids
    world = fine.expanded(0.25)  # edges at 109.75 / 40.5: not on the 0.1 lattice
    field = np.add.outer(np.arange(world.nlat), np.zeros(world.nlon)).astype(float)
    values, g = render.aligned_block_mean(field, world, 0.1)
    assert g.bbox == (109.8, 39.5, 111.2, 40.5)
    assert values.shape == (10, 14)
    # first 0.1 deg row covers fine rows 0..9 of the world (north edge 40.5)
    assert values[0, 0] == pytest.approx(4.5)


def test_srtm_samples_follow_the_fine_elevation(grids):
    _, fine = grids
    world = fine.expanded(0.25)
    elev = np.add.outer(
        1000 + 100 * np.arange(world.nlat)[::-1] * world.res, np.zeros(world.nlon)
    )  # rises 100 m per degree northward
    tile = render.srtm_tile(
        elev, world, 39, 110, np.random.default_rng(1), relief_sd_m=0.0, void_fraction=0.0
    )
    assert tile.shape == (1201, 1201)
    # row 0 is 40 N, row 480 is 39.6 N: 40 m lower
    assert tile[0, 600] - tile[480, 600] == pytest.approx(40.0, abs=0.5)
    # the world ends at 39.5 N: samples more than a fine cell south of it are voids
    south = 40 - np.arange(1201) / 1200 < 39.5 - world.res
    assert np.isnan(tile[south]).all() and np.isfinite(tile[~south]).all()
