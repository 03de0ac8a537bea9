"""SMAP L3 as the coarse target: the demo's SPL3SMP files, passes, quality and surface flags,
the release check, the config switch, and the demo world on the EASE2 grid."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from smdownscale.config import ConfigError, prepare_config, run_grids
from smdownscale.demo.observe import (
    FLAG_DENSE_VEGETATION,
    FLAG_FROZEN,
    FLAG_LOW_WEIGHT,
    coarse_product,
)
from smdownscale.demo.world import world_grids
from smdownscale.demo.write_smap import write_smap_l3
from smdownscale.ease2 import Ease2Grid, ease2_region_grids
from smdownscale.grid import block_map
from smdownscale.products.base import ProductError
from smdownscale.products.smap_target import (
    SURFACE_BITS,
    read_smap_target,
    resolve_surface_flags,
)

DAY = dt.date(2010, 4, 7)
BBOX = (110.0, 39.75, 111.0, 40.25)
FROZEN = resolve_surface_flags(["radar_frozen_ground", "model_frozen_ground"])


@pytest.fixture
def window() -> Ease2Grid:
    return ease2_region_grids(BBOX, 0.01)[0]


@pytest.fixture
def smap_file(tmp_path: Path, window: Ease2Grid) -> tuple[Path, np.ndarray, np.ndarray]:
    """A demo SPL3SMP file: AM values 0.10, 0.11, ... with a gap, a frozen, a densely
    vegetated and a low-weight cell; PM values 0.5 wherever AM has none, else NaN."""
    am = (0.10 + 0.01 * np.arange(window.size)).reshape(window.shape).astype("f4")
    flag = np.zeros(window.shape, dtype=np.int8)
    am[0, 0] = np.nan  # no retrieval
    flag[0, 1] = FLAG_FROZEN
    flag[0, 2] = FLAG_DENSE_VEGETATION
    flag[1, 0] = FLAG_LOW_WEIGHT
    pm = np.where(np.isnan(am), 0.5, np.nan).astype("f4")
    path = tmp_path / f"SMAP_L3_SM_P_{DAY:%Y%m%d}_R19240_001.h5"
    write_smap_l3(path, DAY, window, (am, flag), (pm, np.zeros_like(flag)))
    return path, am, flag


def test_the_demo_file_reads_back_with_its_flags_applied(smap_file, window):
    path, am, _ = smap_file
    ds = read_smap_target(path, window, "AM", "recommended", FROZEN, crid="R19240")
    assert ds["sm"].shape == (1, *window.shape)
    assert pd.Timestamp(ds["time"].values[0]).date() == DAY
    np.testing.assert_allclose(ds["lat"].values, window.lat)
    sm = ds["sm"].values[0]
    # not recommended (frozen, dense vegetation, low weight) and the gap are dropped
    dropped = {(0, 0), (0, 1), (0, 2), (1, 0)}
    for r in range(window.nlat):
        for c in range(window.nlon):
            if (r, c) in dropped:
                assert np.isnan(sm[r, c]), (r, c)
            else:
                assert sm[r, c] == pytest.approx(am[r, c])
    assert ds["flag"].values[0, 0, 0] == 7 and ds["flag"].values[0, 1, 0] == 1
    assert ds["surface_flag"].values[0, 0, 1] & SURFACE_BITS["model_frozen_ground"]
    # "successful" keeps the low-weight and dense-vegetation retrievals; the surface mask
    # still drops the frozen one
    kept = read_smap_target(path, window, "AM", "successful", FROZEN)["sm"].values[0]
    assert kept[1, 0] == pytest.approx(am[1, 0]) and kept[0, 2] == pytest.approx(am[0, 2])
    assert np.isnan(kept[0, 1])
    assert read_smap_target(path, window, "AM", "successful", 0)["sm"].values[0, 0, 1] == (
        pytest.approx(am[0, 1])
    )


def test_passes(smap_file, window):
    path, am, _ = smap_file
    pm = read_smap_target(path, window, "PM", "recommended", 0)["sm"].values[0]
    assert pm[0, 0] == pytest.approx(0.5) and np.isnan(pm[1, 1])
    both = read_smap_target(path, window, "AM_then_PM", "recommended", 0)["sm"].values[0]
    assert both[0, 0] == pytest.approx(0.5)  # PM where AM has no retrieval
    assert both[1, 1] == pytest.approx(am[1, 1])  # AM wherever it has one
    assert np.isnan(both[1, 0])  # AM not recommended, PM none: nothing
    with pytest.raises(ValueError, match="SMAP pass must be one of"):
        read_smap_target(path, window, "noon")


def test_a_file_of_another_release_is_refused(smap_file, window):
    path, _, _ = smap_file
    with pytest.raises(ProductError, match="not of release R18290.*smap.crid"):
        read_smap_target(path, window, crid="R18290")


def test_surface_flags_by_name_or_value():
    assert resolve_surface_flags([]) == 0
    assert resolve_surface_flags(["snow_or_ice", 256]) == 32 | 256
    with pytest.raises(ValueError, match=r"unknown SMAP surface flag\(s\) \['frost', 3\]"):
        resolve_surface_flags(["frost", 3])


@pytest.mark.realdata
def test_quality_choices_on_the_real_file(realdata: Path):
    """The real file's flag counts (products/smap.py): 20,878 retrievals with flag 0
    (recommended), 10,373 with 1 (not recommended, successful), 4,027 with 5 (not
    successful)."""
    path = realdata / "smap" / "SMAP_L3_SM_P_20150401_R13080_001.h5"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    world = Ease2Grid(0, 406, 0, 964)
    rec = read_smap_target(path, world, "AM", "recommended", 0, crid="R13080")
    ok = read_smap_target(path, world, "AM", "successful", 0)
    assert int(np.isfinite(rec["sm"].values).sum()) == 20878
    assert int(np.isfinite(ok["sm"].values).sum()) == 20878 + 10373
    frozen = read_smap_target(path, world, "AM", "successful", resolve_surface_flags([256]))
    assert int(np.isfinite(frozen["sm"].values).sum()) < 20878 + 10373


def test_config_switch_gives_the_ease2_window():
    cfg = prepare_config({"grid": {"coarse_product": "smap_l3"}})
    coarse, fine = run_grids(cfg)
    assert isinstance(coarse, Ease2Grid)
    blocks = block_map(fine, coarse)
    assert blocks.shape == coarse.shape and blocks.fine_shape == fine.shape
    with pytest.raises(ConfigError, match="smap.mask_surface_flags.*unknown SMAP surface"):
        prepare_config({"grid": {"coarse_product": "smap_l3"},
                        "smap": {"mask_surface_flags": ["frost"]}})  # fmt: skip
    with pytest.raises(ConfigError, match="smap.*crid"):
        prepare_config({"smap": {"crid": "19240"}})


def test_demo_coarse_product_on_ease2_is_the_index_map_block_mean(window):
    fine_region = ease2_region_grids(BBOX, 0.05)[1]
    world_fine, world_coarse = world_grids(window, fine_region)
    assert world_coarse == window.grown(1)
    rows, cols = world_fine.subgrid(fine_region)  # the region lies inside the world
    assert rows.stop - rows.start == fine_region.nlat
    rng = np.random.default_rng(3)
    truth = rng.uniform(0.05, 0.4, (2, *world_fine.shape))
    times = pd.date_range("2010-04-07", periods=2)
    da = xr.DataArray(truth, dims=("time", "lat", "lon"),
                      coords={"time": times, **world_fine.coords()})  # fmt: skip
    cp = coarse_product(da, world_fine, world_coarse, seed=1, gap_fraction=0.0)
    blocks = block_map(world_fine, world_coarse)
    np.testing.assert_allclose(cp["sm_noisefree"].values, blocks.mean(truth), rtol=1e-6)
    assert cp["sm"].shape == (2, *world_coarse.shape)


def test_the_download_check_reads_the_file_and_its_day(smap_file, tmp_path):
    from smdownscale.download.sources import format_check, product_of

    path, _, _ = smap_file
    rel = "SPL3SMP/2010/SMAP_L3_SM_P_20100407_R19240_001.h5"
    assert product_of(rel).key == "smap_l3"
    check = format_check("smap_l3")
    check(path, tmp_path / rel)  # what it claims: passes
    with pytest.raises(ValueError, match=r"holds day\(s\) \[datetime.date\(2010, 4, 7\)\]"):
        check(path, tmp_path / rel.replace("20100407", "20100408"))
