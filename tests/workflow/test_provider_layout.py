"""End-to-end: the tiny world written in the providers' own layouts and read in place.

``tiny_provider.yaml`` over ``tiny.yaml`` makes the demo write its raw files as CEDA, LP DAAC
(names with production time stamps) and GES DISC file them, under two roots outside the
project's raw folder; the run must find them by name, record them in ``raw_index/`` and give
the same product as the project-layout run of the same world. A real-data configuration
pointed at the same trees then reads them in place and lists, before any job, only the days
the trees lack, with the command that downloads them.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from workflow_run import CONFIG, complete_run, snakemake

from smdownscale.fingerprints import sha256_file
from smdownscale.rawindex import read_index

pytestmark = pytest.mark.workflow
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from catalogues import planned_downloads  # noqa: E402

CONFIGS = (CONFIG, CONFIG.with_name("tiny_provider.yaml"))
LST_0408 = "MOD11A1.061/2010.04.08/MOD11A1.A2010098.h26v05.061.{stamp}.hdf"


@pytest.fixture(scope="module")
def provider_run(tmp_path_factory) -> Path:
    """The folder of a complete tiny run in the providers' layouts."""
    work = tmp_path_factory.mktemp("wfp")
    complete_run(work, CONFIGS)
    return work


def test_the_demo_writes_the_providers_trees_and_names(provider_run):
    run = provider_run / "results" / "tiny_provider"
    tree = run / "providers"
    for rel in [
        "daily_files/COMBINED/v08.1/2010/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100407000000-"
        "fv08.1.nc",
        LST_0408.format(stamp="2010099031500"),
        "MOD13A2.061/2010.04.23/MOD13A2.A2010113.h26v04.061.2010133031500.hdf",
        "MCD43C3.061/2010.04.30/MCD43C3.A2010120.061.2010129031500.hdf",
        "SRTMGL3.003/2000.02.11/N40E110.SRTMGL3.hgt.zip",
    ]:
        assert (tree / rel).is_file(), rel
    imerg = "GPM_3IMERGDF.07/2010/04/3B-DAY.MS.MRG.3IMERG.20100430-S000000-E235959.V07B.nc4"
    assert (run / "gesdisc" / imerg).is_file()
    # nothing of the archived products in the project's layout; the evaluation references
    # (ERA5-Land, GLDAS Noah, TerraClimate) are downloads, which always go there
    references = {"ERA5-Land", "GLDAS_NOAH025_3H", "TerraClimate"}
    assert not any(
        p.suffix in (".hdf", ".nc", ".nc4") and not references & set(p.parts)
        for p in (run / "raw").rglob("*")
    )
    # a granule's own metadata carry the production time of its name
    from pyhdf.SD import SD

    attrs = SD(str(tree / LST_0408.format(stamp="2010099031500"))).attributes()
    assert "MOD11A1.A2010098.h26v05.061.2010099031500.hdf" in attrs["CoreMetadata.0"]


def test_the_index_records_every_file_the_run_read(provider_run):
    run = provider_run / "results" / "tiny_provider"
    rows = read_index(run / "raw_index" / "2010-097.tsv")
    counts = {p: sum(r.product == p for r in rows) for p in {r.product for r in rows}}
    assert counts == {"esa_cci": 16, "mod11a1": 32, "mod13a2": 2, "mcd43c3": 16, "imerg": 16}
    for r in rows:
        path = provider_run / r.path
        assert r.path.startswith(
            ("results/tiny_provider/providers/", "results/tiny_provider/gesdisc/")
        )
        assert (r.size, r.sha256) == (path.stat().st_size, sha256_file(path))
    assert {r.produced for r in rows if r.product == "mod11a1"} >= {"2010099031500"}
    static = read_index(run / "raw_index" / "static.tsv")
    assert [(r.product, r.tile, r.version) for r in static] == [
        ("srtm", "N39E110", "003"),
        ("srtm", "N40E110", "003"),
    ]
    log = (run / "logs" / "harmonise_predictors" / "2010-097.log").read_text()
    assert "16 days, 1 MOD13A2 composite(s), 2 MODIS tiles" in log


def test_the_product_is_the_project_layout_runs(provider_run, run_dir):
    """Same world, same values: only the files' places and names differ."""
    mine = provider_run / "results" / "tiny_provider"
    for rel in [
        "fine/static.nc",
        "fine/predictors_2010-097.nc",
        "coarse/coarse_2010-113.nc",
        "product/sm_1km_2010-097.nc",
        "product/sm_1km_2010-113.nc",
    ]:
        with xr.open_dataset(mine / rel) as a, xr.open_dataset(run_dir / rel) as b:
            assert set(a.data_vars) == set(b.data_vars), rel
            for name in a.data_vars:
                x, y = a[name].values, b[name].values
                if x.dtype.kind == "f":
                    np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7, err_msg=f"{rel} {name}")
                else:
                    np.testing.assert_array_equal(x, y, err_msg=f"{rel} {name}")


def test_a_rerun_finds_the_files_by_name_and_takes_the_newest_version(provider_run):
    work = provider_run
    tree = work / "results" / "tiny_provider" / "providers"
    res = snakemake(work, CONFIGS, "-n")
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "Nothing to be done" in out, out[-3000:]
    assert "MOD11A1 48 of 48" in out and "IMERG 24 of 24" in out  # found, not written
    # an older production of a granule, and the side files LP DAAC ships: nothing to redo
    current = tree / LST_0408.format(stamp="2010099031500")
    older = tree / LST_0408.format(stamp="2010099000000")
    shutil.copy(current, older)
    current.with_name(current.name + ".xml").write_text("<GranuleMetaDataFile/>")
    res = snakemake(work, CONFIGS, "-n")
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "Nothing to be done" in out, out[-3000:]
    assert "MOD11A1 2010-04-08 h26v05: 2 versions in the archive; using the newest" in out
    # a newer production replaces it: the period that reads it is redone, nothing else
    newer = tree / LST_0408.format(stamp="2021190123456")
    shutil.copy(current, newer)
    res = snakemake(work, CONFIGS, "-n")
    out = res.stdout + res.stderr
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", res.stdout, re.M))
    assert jobs.get("index_raw") == "1" and jobs.get("harmonise_predictors") == "1", out[-3000:]
    assert "harmonise_static" not in jobs and "demo_raw_2010_097" not in jobs
    assert str(newer.relative_to(work)) in res.stdout
    newer.unlink()
    older.unlink()


def test_a_real_run_reads_the_trees_in_place_and_lists_what_they_lack(provider_run, tmp_path):
    """source: real over the demo's trees, with a week more than they hold."""
    run = provider_run / "results" / "tiny_provider"
    tiny = yaml.safe_load(CONFIG.read_text())
    (tmp_path / "st.csv").write_text("network,station\n")
    (tmp_path / "va.csv").write_text("network,station,time,sm\n")
    cfg = {
        "run": "inplace",
        "source": "real",
        "region": {"bbox": tiny["region"]["bbox"]},
        "dates": {"start": "2010-04-07", "end": "2010-05-07"},
        "archives": {
            "layout": "provider",
            "root": str(run / "providers"),
            "imerg": {"root": str(run / "gesdisc")},
        },
        "stations": {"csv": [{"stations": "st.csv", "values": "va.csv"}]},
        "bma": {"train_end": "2010-04-30"},
        "download": {"references": []},
    }
    configfile = tmp_path / "inplace.yaml"
    configfile.write_text(yaml.safe_dump(cfg))
    res = snakemake(tmp_path, configfile, "-n")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    assert "raw file(s) the run needs are not in place" in out
    assert "MOD11A1: 14 missing: 2010-05-01 h26v04, 2010-05-01 h26v05" in out
    assert "IMERG: 7 missing: 2010-05-01" in out
    assert f"--configfile {configfile} download_manifest" in out
    listing = (tmp_path / "results/inplace/logs/raw_missing.txt").read_text().splitlines()
    # a week of LST tiles, ESA CCI, MCD43C3 and IMERG days; both NDVI composites are there
    assert len(listing) == 7 * 2 + 7 + 7 + 7
    assert not [line for line in listing if line.startswith(("SRTMGL3", "MOD13A2"))]
    # what the trees hold is read in place (no download job for it), the rest is fetched
    # (a download job per product and period: the missing week is in the period 2010-113)
    groups = planned_downloads(res.stdout)
    assert groups == ["esa_cci/2010-113.tsv", "imerg/2010-113.tsv", "mcd43c3/2010-113.tsv",
                      "mod11a1/2010-113.tsv"]  # fmt: skip
    assert "download_catalogue_srtm" not in res.stdout
    # offline, the same list stops the run before anything runs
    res = snakemake(tmp_path, configfile, "-n", "--config", "offline=true")
    assert res.returncode != 0 and "offline mode" in res.stdout + res.stderr
