"""End-to-end: the tiny world downscaled from SMAP L3 (issue 17, item 1).

``tiny_smap.yaml`` over ``tiny.yaml`` switches the target to ``smap_l3``: the demo writes
SPL3SMP HDF5 files, the coarse grid is the EASE-Grid 2.0 36 km window over the region, and
the fine grid relates to it by an index map. The run must read the SMAP files through the
same index as every raw file, aggregate predictors over the unequal EASE2 blocks, and write a
full 1 km product scored against the world's truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from workflow_run import CONFIG, complete_run

from smdownscale.config import prepare_config, run_grids
from smdownscale.ease2 import Ease2Grid
from smdownscale.grid import block_map
from smdownscale.rawindex import read_index

pytestmark = pytest.mark.workflow

CONFIGS = (CONFIG, CONFIG.with_name("tiny_smap.yaml"))


@pytest.fixture(scope="module")
def smap_run(tmp_path_factory) -> Path:
    """results/tiny_smap of a complete run."""
    work = tmp_path_factory.mktemp("wfs")
    complete_run(work, CONFIGS)
    return work / "results" / "tiny_smap"


@pytest.fixture(scope="module")
def grids() -> tuple[Ease2Grid, object]:
    cfg: dict = {}
    for path in CONFIGS:
        for key, value in yaml.safe_load(path.read_text()).items():
            cfg[key] = {**cfg.get(key, {}), **value} if isinstance(value, dict) else value
    return run_grids(prepare_config(cfg))


def test_the_demo_writes_spl3smp_files_and_the_index_reads_them(smap_run):
    files = sorted((smap_run / "raw" / "SPL3SMP" / "2010").glob("*.h5"))
    assert [f.name for f in files[:1]] == ["SMAP_L3_SM_P_20100407_R19240_001.h5"]
    assert len(files) == 24  # every day of the run
    assert not (smap_run / "raw" / "esa_cci").exists()
    rows = read_index(smap_run / "raw_index" / "2010-097.tsv")
    smap = [r for r in rows if r.product == "smap_l3"]
    assert len(smap) == 16 and {r.version for r in smap} == {"R19240"}
    log = (smap_run / "logs" / "aggregate" / "2010-097.log").read_text()
    assert "SMAP L3 AM pass, recommended retrievals, surface flag mask 480" in log


def test_the_coarse_files_are_on_the_ease2_window(smap_run, grids):
    coarse, fine = grids
    with xr.open_dataset(smap_run / "coarse" / "coarse_2010-097.nc") as ds:
        np.testing.assert_allclose(ds["lat"].values, coarse.lat)
        np.testing.assert_allclose(ds["lon"].values, coarse.lon)
        assert "EASE-Grid 2.0" in ds["lat"].attrs["comment"]
        assert "SMAP L3 AM (R19240)" in ds["sm"].attrs["long_name"]
        assert {"flag", "surface_flag"} <= set(ds.data_vars)
        sm = ds["sm"].values
        assert np.isfinite(sm).mean() > 0.4 and np.nanmax(sm) <= 1.0
        # the predictors are means over the index map's unequal blocks
        blocks = block_map(fine, coarse)
        assert len(set(blocks.sizes.ravel())) > 1
        with xr.open_dataset(smap_run / "fine" / "static.nc") as st:
            elev = blocks.mean(st["elevation"].values)
        np.testing.assert_allclose(ds["elevation"].values, elev, rtol=1e-5)


def test_the_product_covers_the_fine_grid_and_is_scored(smap_run, grids):
    _, fine = grids
    with xr.open_dataset(smap_run / "product" / "sm_1km_2010-113.nc") as ds:
        assert ds["sm"].shape[1:] == fine.shape
        assert float(ds["sm"].notnull().mean()) > 0.95
    truth = pd.read_csv(smap_run / "validation" / "truth_scores.csv").set_index("product")
    assert truth.loc["product sm", "coverage"] > 0.95
    assert np.isfinite(truth.loc["product sm", "rmse_ratio"])
    assert (smap_run / "validation" / "figures" / "maps_2010-04-15.png").is_file()
