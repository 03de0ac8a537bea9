"""The download rules in Snakemake, against a real HTTP server on 127.0.0.1.

One day over a 1.25 x 0.25 deg region (MODIS tile h26v05, SRTM tiles N39E110 and N39E111):
the catalogues (a fake NASA CMR on the same server) list every granule except the SRTM
tile N39E111 (as over open sea), the MODIS family needs a bearer token, and the provider
drops the first connection of the ESA CCI image half-way. The run must fetch every file
byte-identical, never ask for the absent tile and still build the elevation map, treat a
day without an MCD43C3 granule as missing albedo (not a failed period), write a
manifest without the token; a second run must make no request at all; offline mode must
stop before running anything, naming what is missing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from download_server import CMR_PATH, LocalServer

from smdownscale import rawlayout
from smdownscale.demo.write_esa_cci import write_esa_cci
from smdownscale.demo.write_gldas import gldas_lattice, write_gldas_file
from smdownscale.demo.write_imerg import write_imerg
from smdownscale.demo.write_modis import write_mod11a1, write_mod13a2
from smdownscale.demo.write_srtm import write_srtm_tile
from smdownscale.download.crop import CROPS, read_crop_info
from smdownscale.download.manifest import read_record
from smdownscale.download.sources import gldas_noah, product_of
from smdownscale.grid import LatLonGrid
from smdownscale.products.gldas import GLDAS_HOURS

pytestmark = pytest.mark.workflow
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "benchmarks"))

from catalogues import planned_downloads  # noqa: E402

DAY = dt.date(2010, 4, 7)  # also the first day of the MOD13A2 composite 2010-097
AFTER = DAY + dt.timedelta(days=1)
TOKEN = "wf-token-5d1e"
STAMP = "2021190123456"


def _sources(d: Path) -> dict[str, Path]:
    """Demo files in the real formats, by raw path."""
    grid = LatLonGrid(north=39.5, south=39.0, west=110.0, east=111.5, res=0.25)
    imerg_grid = LatLonGrid(north=39.5, south=38.8, west=109.8, east=111.5, res=0.1)
    n = 1200
    out = {
        rawlayout.esa_cci(DAY, "08.1"): write_esa_cci(
            d / "esa.nc", DAY, np.full(grid.shape, 0.2), grid=grid, version="08.1"
        ),
        rawlayout.modis_tile("MOD11A1", DAY, 26, 5): write_mod11a1(
            d / "lst.hdf", np.full((n, n), 295.0), np.zeros((n, n), np.uint8), 26, 5, DAY
        ),
        rawlayout.modis_tile("MOD13A2", DAY, 26, 5): write_mod13a2(
            d / "ndvi.hdf",
            np.full((n, n), 0.4),
            np.zeros((n, n), np.int8),
            np.zeros((n, n), np.uint16),
            26,
            5,
            DAY,
        ),  # fmt: skip
        rawlayout.imerg(DAY): write_imerg(
            d / "imerg.nc4", DAY, np.full(imerg_grid.shape, 2.0), grid=imerg_grid
        ),
        rawlayout.srtm(39, 110): write_srtm_tile(
            d / "srtm.zip", 39, 110, np.full((1201, 1201), 1000.0)
        ),
    }
    # no MCD43C3 granule for the day (an outage): the catalogue does not list it
    tc = d / "pdsi.nc"
    import netCDF4

    with netCDF4.Dataset(tc, "w") as ds:
        ds.createDimension("time", 12)
        ds.createVariable("PDSI", "f4", ("time",))[:] = 0.0
    out["TerraClimate/TerraClimate_PDSI_2010.nc"] = tc
    # GLDAS Noah: the day's eight 3-hourly files, the region's window of the lattice
    lat, lon = gldas_lattice((110.0, 39.0, 111.25, 39.25))
    for hhmm in GLDAS_HOURS:
        out[gldas_noah(DAY, hhmm)] = write_gldas_file(
            d / f"gldas{hhmm}.nc4", DAY, hhmm, lat, lon, value=22.0
        )
    return out


def _provider_name(rel: str) -> str:
    name = Path(rel).name
    if name.endswith(".hdf"):
        return name.replace(".061.hdf", f".061.{STAMP}.hdf")
    return name


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    src = _sources(tmp_path_factory.mktemp("src"))
    work = tmp_path_factory.mktemp("wf")
    (work / "st.csv").write_text("network,station\n")
    (work / "va.csv").write_text("network,station,time,sm\n")
    with LocalServer(page_size=1000) as srv:
        for rel, path in src.items():
            data = path.read_bytes()
            if rel.startswith(("MOD", "MCD", "SRTM")):
                short = rel.split("/")[0]
                name = _provider_name(rel)
                srv.add_granule(short, name, f"/lp/{short}/{name}", data, token=TOKEN)
            elif rel.startswith("esa_cci"):
                srv.add(f"/esa/{rel}", data, drop_after=[len(data) // 2])
            elif rel.startswith("GLDAS"):  # GES DISC: <collection>/<year>/<doy>/<name>
                name = Path(rel).name
                srv.add(f"/gesdisc/GLDAS_NOAH025_3H.2.1/2010/097/{name}", data, token=TOKEN)
            else:
                srv.add(f"/other/{rel}", data, token=TOKEN if "IMERG" in rel else None)
        cfg = {
            "run": "dlwf",
            "source": "real",
            "region": {"bbox": [110.0, 39.0, 111.25, 39.25]},
            "dates": {"start": str(DAY), "end": str(DAY)},
            # one day trains the weights; the config demands evaluation days apart from
            # them, which this test's targets (downloads, static, predictors) never read
            "bma": {"eval_start": str(AFTER), "eval_end": str(AFTER)},
            "stations": {"csv": [{"stations": "st.csv", "values": "va.csv"}]},
            "download": {
                "urls": {
                    "esa_cci": srv.base + "/esa/esa_cci/{year}/{name}",
                    "imerg": srv.base + "/other/IMERG/{year}/{name}",
                    "terraclimate": srv.base + "/other/TerraClimate/TerraClimate_PDSI_{year}.nc",
                    "gldas_noah": srv.base + "/gesdisc/GLDAS_NOAH025_3H.2.1/{year}/{doy}/{name}",
                },
                "cmr_url": srv.base + CMR_PATH,
                "earthdata_hosts": ["127.0.0.1"],
                "references": ["terraclimate", "gldas_noah"],
                "backoff_s": 0.1,
                "timeout_s": 10,
            },
        }
        configfile = work / "dl.yaml"
        configfile.write_text(yaml.safe_dump(cfg))
        yield srv, work, configfile, src


def snakemake(work: Path, configfile: Path, *args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("snakemake")
    env = {**os.environ, "EARTHDATA_TOKEN": TOKEN, "NETRC": str(work / "no-netrc")}
    cmd = [str(exe), "-s", str(REPO / "Snakefile"), "--directory", str(work), "--configfile",
           str(configfile), "--cores", "2", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def test_download_rules_fetch_verify_and_skip_absent_tiles(world) -> None:
    srv, work, configfile, src = world
    raw = work / "results" / "dlwf" / "raw"
    targets = [
        "download_manifest",
        "results/dlwf/fine/static.nc",
        "results/dlwf/fine/predictors_2010-097.nc",
    ]
    res = snakemake(work, configfile, *targets)
    if res.returncode != 0:
        logs = "\n".join(p.read_text()[-2000:] for p in (work / "results").rglob("*.log"))
        pytest.fail(f"snakemake failed:\n{res.stderr[-6000:]}\n{logs}")
    cropped = 0
    for rel, path in src.items():  # MODIS tiles and IMERG cropped on arrival, the rest as served
        info = read_crop_info(raw / rel)
        if info is None:
            assert (raw / rel).read_bytes() == path.read_bytes(), rel
            continue
        cropped += 1
        assert info.original_sha256 == hashlib.sha256(path.read_bytes()).hexdigest(), rel
        assert read_record(raw, rel).original_size == path.stat().st_size, rel
    assert cropped == sum(product_of(r).key in CROPS for r in src) >= 2
    assert not (raw / "originals").exists()
    assert not (raw / rawlayout.srtm(39, 111)).exists()
    assert not any("N39E111" in r.path for r in srv.requests)  # never asked for
    assert (work / "results/dlwf/fine/static.nc").is_file()  # elevation without the sea tile
    # the day without an MCD43C3 granule is missing albedo, not a failed period
    import xarray as xr

    with xr.open_dataset(work / "results/dlwf/fine/predictors_2010-097.nc") as pred:
        assert bool(pred["albedo"].isnull().all()) and float(pred["lst"].notnull().mean()) > 0.5
    assert not any("MCD43C3" in r.path and "/lp/" in r.path for r in srv.requests)
    esa = [r.range for r in srv.requests if r.path.startswith("/esa/")]
    assert esa[0] is None and esa[1].startswith("bytes=") and len(esa) == 2  # resumed
    manifest = (raw / "manifest.tsv").read_text().splitlines()
    assert len(manifest) == 1 + len(src)
    assert all("\tdownload\t" in line for line in manifest[1:])
    logs = "".join(p.read_text() for p in (work / "results").rglob("*.log"))
    assert "do not exist at the provider and are skipped: SRTMGL3/N39E111" in logs
    assert "MCD43C3 2010-04-07: 1 of 1 granule(s) absent at the provider: missing data" in logs
    for text in (res.stdout, res.stderr, logs, "\n".join(manifest)):
        assert TOKEN not in text

    # a second run makes no request at all
    before = srv.count()
    res = snakemake(work, configfile, *targets)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Nothing to be done" in res.stdout + res.stderr
    assert srv.count() == before

    # offline: a missing file stops the run before anything runs, naming it
    imerg = raw / rawlayout.imerg(DAY)
    imerg.unlink()
    res = snakemake(work, configfile, *targets, "--config", "offline=true")
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "offline mode" in out and "IMERG: 1 missing" in out
    assert str(imerg.relative_to(work)) in out
    assert srv.count() == before

    # online again: nothing needs the file, so nothing is fetched (as for any intermediate
    # file); a job that reads it again makes its group fetch it, and only it
    predictors = work / "results/dlwf/fine/predictors_2010-097.nc"
    made = predictors.stat().st_mtime_ns
    res = snakemake(work, configfile, *targets, "--forcerun", "index_raw")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "no longer matches its download group" in res.stderr
    assert [r.path for r in srv.requests[before:]] == [f"/other/{rawlayout.imerg(DAY)}"]
    served = src[rawlayout.imerg(DAY)].read_bytes()
    assert read_crop_info(imerg).original_sha256 == hashlib.sha256(served).hexdigest()
    assert predictors.stat().st_mtime_ns > made

    # a downloaded file replaced by one with other content, its time kept (cp -a): the
    # marker that lists it is touched, so the predictors are remade from the new file
    res = snakemake(work, configfile, *targets)  # records the fetched file's fingerprint
    assert "Nothing to be done" in res.stdout + res.stderr
    made = predictors.stat().st_mtime_ns
    st = imerg.stat()
    imerg_grid = LatLonGrid(north=39.5, south=38.8, west=109.8, east=111.5, res=0.1)
    write_imerg(imerg, DAY, np.full(imerg_grid.shape, 5.0), grid=imerg_grid)
    os.utime(imerg, ns=(st.st_atime_ns, st.st_mtime_ns))
    before = srv.count()
    res = snakemake(work, configfile, *targets)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "a file it lists changed" in res.stderr
    assert srv.count() == before  # nothing fetched: the file in place is the user's
    assert predictors.stat().st_mtime_ns > made
    with xr.open_dataset(predictors) as pred:
        assert float(pred["precipitation"].max()) == pytest.approx(5.0, rel=0.05)


def test_offline_dry_run_never_asks_for_unused_references(tmp_path) -> None:
    """A real run with an empty raw folder, offline: the missing list names the products and
    station files, never ERA5-Land or TerraClimate, unless an evaluation reads them."""
    (tmp_path / "raw").mkdir()
    cfg = {
        "run": "refs",
        "source": "real",
        "offline": True,
        "paths": {"raw": "raw"},
        "region": {"bbox": [110.0, 39.0, 111.0, 40.0]},
        "dates": {"start": "2010-04-07", "end": "2010-04-30"},
        "bma": {"train_end": "2010-04-20"},
        "stations": {"csv": [{"stations": "st.csv", "values": "va.csv"}]},
    }
    configfile = tmp_path / "refs.yaml"
    configfile.write_text(yaml.safe_dump(cfg))
    res = snakemake(tmp_path, configfile, "-n")
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "offline mode" in out and "IMERG: 24 missing" in out
    assert "ERA5" not in out and "TerraClimate" not in out
    listing = (tmp_path / "results/refs/logs/offline_missing.txt").read_text()
    assert "ERA5" not in listing and "TerraClimate" not in listing

    cfg["evaluation"] = {"drought": True}
    configfile.write_text(yaml.safe_dump(cfg))
    res = snakemake(tmp_path, configfile, "-n")
    out = res.stdout + res.stderr
    assert "TerraClimate: 1 missing" in out and "ERA5" not in out and "GLDAS" not in out

    cfg["evaluation"] = {"reference_models": ["gldas_noah"]}  # 8 files a day
    configfile.write_text(yaml.safe_dump(cfg))
    res = snakemake(tmp_path, configfile, "-n")
    out = res.stdout + res.stderr
    assert "GLDAS_NOAH025_3H: 192 missing" in out and "ERA5" not in out


def test_files_placed_by_hand_are_read_in_place_with_no_missing_provenance(world, tmp_path):
    """Files a user put in place have no Snakemake record: they are read as they are, with
    no download job, so a dry run reports no "missing provenance/metadata"; only the
    download groups with files not in place get download jobs (issue 14)."""
    _, _, configfile, src = world
    work = tmp_path / "hand"
    raw = work / "results" / "dlwf" / "raw"
    for rel, path in src.items():
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        (raw / rel).write_bytes(path.read_bytes())
    (work / "st.csv").write_text("network,station\n")
    (work / "va.csv").write_text("network,station,time,sm\n")
    cfg = yaml.safe_load(configfile.read_text())
    # a second day, not in place (and the evaluation day a run needs)
    cfg["dates"]["end"] = str(DAY + dt.timedelta(days=1))
    cfg["bma"] = {"train_end": str(DAY)}
    cfg["download"].update(catalogues="files", references=[])
    (work / "hand.yaml").write_text(yaml.safe_dump(cfg))
    targets = ["download_manifest", "results/dlwf/fine/predictors_2010-097.nc"]

    def planned() -> list[str]:
        """The download groups a dry run would run, as product/part."""
        res = snakemake(work, work / "hand.yaml", "-n", *targets)
        out = res.stdout + res.stderr
        assert res.returncode == 0, out[-3000:]
        assert "harmonise_predictors" in out and "download_manifest" in out
        assert "missing provenance" not in out and "metadata" not in out
        return planned_downloads(res.stdout)

    # before the catalogues: a job for every group with a file not in place (the second
    # day's files, the MCD43C3 days and the SRTM tile no one could place)
    assert planned() == [
        "esa_cci/2010-097.tsv", "imerg/2010-097.tsv", "mcd43c3/2010-097.tsv",
        "mod11a1/2010-097.tsv", "srtm/static.tsv",
    ]  # fmt: skip
    res = snakemake(work, work / "hand.yaml", "download_catalogues")
    assert res.returncode == 0, res.stderr[-3000:]
    # the catalogues (taken from the files) list only what is in place: ESA CCI and IMERG,
    # which have no catalogue, still need their second day; MOD13A2 never needed a job
    assert planned() == ["esa_cci/2010-097.tsv", "imerg/2010-097.tsv"]
