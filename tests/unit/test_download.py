"""Downloads against a real HTTP server on 127.0.0.1 (tests/unit/download_server.py).

The server serves demo-world files in the real formats and raw layout; it can throttle,
drop a connection half-way, stall, answer 429/503, require a bearer token, serve a corrupt
file or a login page, and it counts every request. Retries never sleep for real here (the
pauses asked for are recorded instead).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import sys
import time
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from download_server import CMR_PATH, LocalServer

from smdownscale import rawlayout
from smdownscale.config import prepare_config
from smdownscale.demo.write_era5_land import write_era5_land_month
from smdownscale.demo.write_esa_cci import write_esa_cci
from smdownscale.demo.write_imerg import write_imerg
from smdownscale.demo.write_modis import write_mod11a1
from smdownscale.demo.write_srtm import write_srtm_tile
from smdownscale.download import plan
from smdownscale.download.catalogue import load_catalogue
from smdownscale.download.credentials import (
    TOKEN_VARIABLE,
    earthdata_credentials,
    redact_url,
)
from smdownscale.download.errors import (
    AuthError,
    DownloadError,
    NotFoundError,
    OfflineError,
    VerificationError,
)
from smdownscale.download.jobs import ensure_era5_land, ensure_file, make_catalogue
from smdownscale.download.manifest import read_record
from smdownscale.download.sources import PRODUCTS, template_problems
from smdownscale.download.transfer import retry_after_seconds
from smdownscale.grid import LatLonGrid

DAY = dt.date(2010, 4, 7)
BBOX = [110.0, 39.0, 111.25, 39.25]  # MODIS h26v05; SRTM N39E110 and N39E111
ESA = rawlayout.esa_cci(DAY, "08.1")
MOD11 = rawlayout.modis_tile("MOD11A1", DAY, 26, 5)
MOD11_NAME = "MOD11A1.A2010097.h26v05.061.2021190123456.hdf"
IMERG = rawlayout.imerg(DAY)
SRTM = rawlayout.srtm(39, 110)
TERRACLIMATE = "TerraClimate/TerraClimate_PDSI_2010.nc"
TOKEN = "right-token-7f3a"
SECRET = "wrong-secret-b91c"


# ---------------------------------------------------------------------------------- files


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, bytes]:
    """Small demo files in the real formats, by raw path."""
    d = tmp_path_factory.mktemp("src")
    grid = LatLonGrid(north=39.5, south=39.0, west=110.0, east=111.5, res=0.25)
    sm = np.linspace(0.05, 0.4, grid.size).reshape(grid.shape)
    write_esa_cci(d / "esa.nc", DAY, sm, grid=grid, version="08.1")
    lst = np.full((1200, 1200), 290.0)
    lst[::7] = np.nan
    write_mod11a1(d / MOD11_NAME, lst, np.zeros((1200, 1200), np.uint8), 26, 5, DAY)
    window = LatLonGrid(north=39.5, south=39.0, west=110.0, east=111.5, res=0.1)
    write_imerg(d / "imerg.nc4", DAY, np.full(window.shape, 1.5), grid=window)
    write_srtm_tile(d / "srtm.zip", 39, 110, np.full((1201, 1201), 1200.0))
    pdsi = d / "pdsi.nc"
    with netCDF4.Dataset(pdsi, "w") as ds:
        ds.createDimension("time", 12)
        ds.createVariable("PDSI", "f4", ("time",))[:] = np.arange(12)
    return {
        ESA: (d / "esa.nc").read_bytes(),
        MOD11: (d / MOD11_NAME).read_bytes(),
        IMERG: (d / "imerg.nc4").read_bytes(),
        SRTM: (d / "srtm.zip").read_bytes(),
        "pdsi": pdsi.read_bytes(),
    }


@pytest.fixture()
def server():
    with LocalServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def no_user_credentials(monkeypatch, tmp_path):
    """Tests never see the developer's own token or ~/.netrc."""
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


def config(server: LocalServer, raw: Path, **download) -> dict:
    base = server.base
    cfg = {
        "run": "dl",
        "source": "real",
        "paths": {"raw": str(raw)},
        "region": {"bbox": BBOX},
        "dates": {"start": str(DAY), "end": str(DAY)},
        "stations": {"csv": [{"stations": "s.csv", "values": "v.csv"}]},
        "download": {
            "urls": {
                "esa_cci": base + "/esa/v{version}/{year}/{name}",
                "imerg": base + "/gpm/{year}/{month}/{name}",
                "terraclimate": base + "/tc/TerraClimate_PDSI_{year}.nc",
            },
            "cmr_url": base + CMR_PATH,
            "earthdata_hosts": ["127.0.0.1"],
            "references": ["terraclimate"],
            "retries": 3,
            "backoff_s": 1.0,
            "timeout_s": 2.0,
            "crop": {"enabled": False},  # transfers here are byte for byte; crops: own tests
            **download,
        },
    }
    return prepare_config(cfg)


class Sleeps(list):
    def __call__(self, s: float) -> None:
        self.append(s)


def esa_path(server: LocalServer) -> str:
    return f"/esa/v08.1/2010/{Path(ESA).name}"


# ------------------------------------------------------------------------ plain transfers


def test_full_download_is_verified_and_recorded(server, files, tmp_path) -> None:
    server.add(esa_path(server), files[ESA])
    raw = tmp_path / "raw"
    rec = ensure_file(ESA, config(server, raw), raw)
    assert (raw / ESA).read_bytes() == files[ESA]
    assert server.count() == 1
    assert rec.source == "download" and rec.size == len(files[ESA])
    assert rec.sha256 == hashlib.sha256(files[ESA]).hexdigest()
    assert read_record(raw, ESA) == rec and rec.url == server.url(esa_path(server))
    assert not list(raw.rglob("*.part"))


def test_resume_after_dropped_connections_is_byte_identical(server, files, tmp_path) -> None:
    n = len(files[ESA])
    cuts = [n // 3, 2 * n // 3]
    server.add(esa_path(server), files[ESA], drop_after=list(cuts), block=4096, throttle_s=0.001)
    raw = tmp_path / "raw"
    sleeps = Sleeps()
    rec = ensure_file(ESA, config(server, raw), raw, sleep=sleeps)
    assert (raw / ESA).read_bytes() == files[ESA]
    ranges = [r.range for r in server.log(esa_path(server))]
    assert ranges == [None, f"bytes={cuts[0]}-", f"bytes={cuts[1]}-"]
    assert rec.requests == 3 and len(sleeps) == 2


def test_a_stalled_transfer_times_out_and_resumes(server, files, tmp_path) -> None:
    n = len(files[ESA])
    # the server stalls far longer than the timeout: only the client's read timeout can
    # end the first attempt this soon (the server would hang up only after 60 s)
    server.add(esa_path(server), files[ESA], stall_after=n // 2, stall_s=60.0, block=4096)
    raw = tmp_path / "raw"
    t0 = time.monotonic()
    ensure_file(ESA, config(server, raw, timeout_s=0.3), raw, sleep=Sleeps())
    assert time.monotonic() - t0 < 10.0
    assert (raw / ESA).read_bytes() == files[ESA]
    ranges = [r.range for r in server.log(esa_path(server))]
    assert ranges[0] is None and ranges[1].startswith("bytes=") and len(ranges) == 2


def test_a_server_that_ignores_range_restarts_cleanly(server, files, tmp_path) -> None:
    n = len(files[ESA])
    server.add(esa_path(server), files[ESA], drop_after=[n // 2], ignore_range=True)
    raw = tmp_path / "raw"
    ensure_file(ESA, config(server, raw), raw, sleep=Sleeps())
    assert (raw / ESA).read_bytes() == files[ESA]


def test_retries_after_429_and_503_with_retry_after(server, files, tmp_path) -> None:
    server.add(esa_path(server), files[ESA], fail=[429, 503, 503], retry_after="7")
    raw = tmp_path / "raw"
    sleeps = Sleeps()
    rec = ensure_file(ESA, config(server, raw), raw, sleep=sleeps)
    assert (raw / ESA).read_bytes() == files[ESA]
    assert server.count() == 4 and rec.requests == 4
    assert sleeps == [7.0, 7.0, 7.0]  # the server's Retry-After, not the backoff


def test_exponential_backoff_then_giving_up(server, files, tmp_path) -> None:
    server.add(esa_path(server), files[ESA], fail=[503] * 10, retry_after=None)
    raw = tmp_path / "raw"
    sleeps = Sleeps()
    with pytest.raises(DownloadError, match="gave up after 4 attempts"):
        ensure_file(ESA, config(server, raw), raw, sleep=sleeps)
    assert sleeps == [1.0, 2.0, 4.0]
    assert server.count() == 4 and not (raw / ESA).exists()


def test_missing_file_is_not_retried(server, tmp_path) -> None:
    raw = tmp_path / "raw"
    with pytest.raises(NotFoundError, match="HTTP 404"):
        ensure_file(ESA, config(server, raw), raw, sleep=Sleeps())
    assert server.count() == 1


def test_retry_after_as_http_date() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("12") == 12.0 and retry_after_seconds("soon") is None


# ------------------------------------------------------------------------- verification


def test_corrupt_file_is_rejected_and_not_left_in_place(server, files, tmp_path) -> None:
    server.add(esa_path(server), files[ESA], corrupt=True)
    raw = tmp_path / "raw"
    with pytest.raises(VerificationError, match="not a valid file of its product"):
        ensure_file(ESA, config(server, raw), raw, sleep=Sleeps())
    assert not (raw / ESA).exists()
    assert not list(raw.rglob("*.part")) and read_record(raw, ESA) is None


def test_a_corrupt_resumed_file_is_fetched_once_anew(server, files, tmp_path) -> None:
    """A partial file left by another version of the file: the spliced result fails its
    check, and one clean download follows."""
    raw = tmp_path / "raw"
    part = raw / Path(ESA).parent / f".{Path(ESA).name}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * 1000)
    server.add(esa_path(server), files[ESA])
    ensure_file(ESA, config(server, raw), raw, sleep=Sleeps())
    assert (raw / ESA).read_bytes() == files[ESA]
    assert [r.range for r in server.log(esa_path(server))] == ["bytes=1000-", None]


def test_wrong_day_is_rejected(server, files, tmp_path) -> None:
    other = rawlayout.esa_cci(DAY + dt.timedelta(days=1), "08.1")
    server.add(f"/esa/v08.1/2010/{Path(other).name}", files[ESA])
    raw = tmp_path / "raw"
    with pytest.raises(VerificationError, match="name says"):
        ensure_file(other, config(server, raw), raw, sleep=Sleeps())
    assert not (raw / other).exists()


# -------------------------------------------------------------- catalogue and credentials


def modis_setup(server: LocalServer, files, raw: Path, **behaviour) -> tuple[dict, Path]:
    server.add_granule("MOD11A1", MOD11_NAME, f"/lp/MOD11A1.061/{MOD11_NAME}", files[MOD11],
                       **behaviour)  # fmt: skip
    cfg = config(server, raw)
    cat = raw / "catalogue/mod11a1/2010.json"
    make_catalogue("mod11a1", "2010", cfg, cat)
    return cfg, cat


def test_catalogue_pages_keeps_latest_and_lists_only_what_exists(server, files, tmp_path) -> None:
    older = MOD11_NAME.replace("2021190123456", "2015001000000")
    server.add_granule("MOD11A1", older, f"/lp/{older}", b"old")
    elsewhere = "MOD11A1.A2010097.h25v05.061.2021190123456.hdf"  # not a tile of the region
    server.add_granule("MOD11A1", elsewhere, f"/lp/{elsewhere}", b"x")
    next_year = "MOD11A1.A2011001.h26v05.061.2021190123456.hdf"  # found by the +-15 day window
    server.add_granule("MOD11A1", next_year, f"/lp/{next_year}", b"x")
    raw = tmp_path / "raw"
    cfg, cat = modis_setup(server, files, raw)
    entries = load_catalogue(cat)
    assert list(entries) == [MOD11]  # latest production only; other tiles and years dropped
    e = entries[MOD11]
    assert e.name == MOD11_NAME and e.size == len(files[MOD11])
    assert e.checksum == "md5:" + hashlib.md5(files[MOD11]).hexdigest()
    cmr = server.log(CMR_PATH)
    assert len(cmr) == 2  # two pages of two items (CMR-Search-After)
    day2 = rawlayout.modis_tile("MOD11A1", DAY + dt.timedelta(days=1), 26, 5)
    with pytest.raises(NotFoundError, match="does not list this granule"):
        ensure_file(day2, cfg, raw, catalogue=cat)


def test_token_download_and_checksum(server, files, tmp_path, monkeypatch, caplog) -> None:
    raw = tmp_path / "raw"
    cfg, cat = modis_setup(server, files, raw, token=TOKEN)
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    caplog.set_level(logging.INFO)
    rec = ensure_file(MOD11, cfg, raw, catalogue=cat)
    assert (raw / MOD11).read_bytes() == files[MOD11]
    assert rec.provider_checksum.startswith("md5:")
    got = server.log(f"/lp/MOD11A1.061/{MOD11_NAME}")
    assert [r.authorization for r in got] == [f"Bearer {TOKEN}"]
    assert all(r.authorization is None for r in server.log(CMR_PATH))  # CMR is public
    assert TOKEN not in caplog.text and "bearer token in $EARTHDATA_TOKEN" in caplog.text
    assert TOKEN not in (raw / "manifest" / f"{MOD11}.json").read_text()


@pytest.mark.parametrize("token", [SECRET, None])
def test_wrong_or_missing_token_says_how_to_set_credentials(
    server, files, tmp_path, monkeypatch, caplog, capsys, token
) -> None:
    raw = tmp_path / "raw"
    cfg, cat = modis_setup(server, files, raw, token=TOKEN)
    if token:
        monkeypatch.setenv(TOKEN_VARIABLE, token)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as err:
        ensure_file(MOD11, cfg, raw, catalogue=cat, sleep=Sleeps())
    msg = str(err.value)
    assert "HTTP 401" in msg and TOKEN_VARIABLE in msg and "~/.netrc" in msg
    assert "urs.earthdata.nasa.gov" in msg
    out = capsys.readouterr()
    for text in (msg, caplog.text, out.out, out.err, repr(earthdata_credentials())):
        assert SECRET not in text and TOKEN not in text
    assert server.count(f"/lp/MOD11A1.061/{MOD11_NAME}") == 1  # refused: not retried
    assert not (raw / MOD11).exists() and not list(raw.rglob("*.part"))


def test_token_goes_only_to_earthdata_hosts(server, files, tmp_path, monkeypatch) -> None:
    raw = tmp_path / "raw"
    server.add_granule("MOD11A1", MOD11_NAME, f"/lp/{MOD11_NAME}", files[MOD11], token=TOKEN)
    cfg = config(server, raw, earthdata_hosts=["*.earthdata.nasa.gov"])
    cat = raw / "catalogue/mod11a1/2010.json"
    make_catalogue("mod11a1", "2010", cfg, cat)
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    with pytest.raises(AuthError):
        ensure_file(MOD11, cfg, raw, catalogue=cat)
    assert all(r.authorization is None for r in server.requests)
    # and public products never carry it either
    server.add(esa_path(server), files[ESA])
    ensure_file(ESA, config(server, raw), raw)
    assert server.log(esa_path(server))[0].authorization is None


def test_html_login_page_is_an_auth_error(server, files, tmp_path) -> None:
    raw = tmp_path / "raw"
    server.add(f"/gpm/2010/04/{Path(IMERG).name}", files[IMERG], html=True)
    with pytest.raises(AuthError, match="EARTHDATA_TOKEN"):
        ensure_file(IMERG, config(server, raw), raw, sleep=Sleeps())
    assert not (raw / IMERG).exists()


def test_netrc_login_is_used(server, files, tmp_path, monkeypatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine urs.earthdata.nasa.gov login someone password pw\n")
    monkeypatch.setenv("NETRC", str(netrc))
    creds = earthdata_credentials()
    assert creds.kind == "netrc" and "pw" not in repr(creds) and "pw" not in creds.describe()


def test_checksum_mismatch_is_rejected(server, files, tmp_path) -> None:
    raw = tmp_path / "raw"
    cfg, cat = modis_setup(server, files, raw, checksum="0" * 32)
    with pytest.raises(VerificationError, match="md5 checksum"):
        ensure_file(MOD11, cfg, raw, catalogue=cat, sleep=Sleeps())
    assert not (raw / MOD11).exists() and not list(raw.rglob("*.part"))


# ------------------------------------------------------------------ second run, offline


def test_second_run_makes_zero_requests(server, files, tmp_path) -> None:
    server.add(f"/gpm/2010/04/{Path(IMERG).name}", files[IMERG])
    raw = tmp_path / "raw"
    cfg = config(server, raw)
    ensure_file(IMERG, cfg, raw)
    before = server.count()
    rec = ensure_file(IMERG, cfg, raw)
    assert server.count() == before == 1 and rec.source == "download"


def test_file_placed_by_hand_is_verified_without_network(server, files, tmp_path) -> None:
    raw = tmp_path / "raw"
    (raw / SRTM).parent.mkdir(parents=True)
    (raw / SRTM).write_bytes(files[SRTM])
    server.add_granule("SRTMGL3", Path(SRTM).name, f"/lp/{Path(SRTM).name}", files[SRTM])
    cfg = config(server, raw)
    cat = raw / "catalogue/srtm/tiles.json"
    make_catalogue("srtm", "tiles", cfg, cat)
    assert list(load_catalogue(cat)) == [SRTM]  # N39E111 (open sea here) does not exist
    n = server.count()
    rec = ensure_file(SRTM, cfg, raw, catalogue=cat)
    assert rec.source == "present" and server.count() == n
    # a corrupt file in place is deleted and fetched again
    (raw / SRTM).write_bytes(b"PK\x03\x04 not a zip")
    rec = ensure_file(SRTM, cfg, raw, catalogue=cat)
    assert rec.source == "download" and (raw / SRTM).read_bytes() == files[SRTM]


def test_offline_mode_fails_fast_listing_what_is_missing(server, files, tmp_path) -> None:
    raw = tmp_path / "raw"
    cfg = config(server, raw)
    cfg["offline"] = True
    with pytest.raises(OfflineError, match="offline mode: .*IMERG"):
        ensure_file(IMERG, cfg, raw)
    assert server.count() == 0
    missing = plan.offline_problems(cfg, raw)
    names = "\n".join(missing)
    assert str(raw / "catalogue/mod11a1/2010.json") in names and str(raw / IMERG) in names
    # catalogues, files (TerraClimate is only listed in download.references), stations
    assert "s.csv" in names and len(missing) == 4 + 7 + 2
    assert "TerraClimate" not in names
    text = plan.summarise_missing(missing)
    assert "IMERG: 1 missing" in text and "catalogue: 4 missing" in text


def test_references_are_needed_only_by_switched_on_evaluations(server, tmp_path) -> None:
    raw = tmp_path / "raw"
    cfg = config(server, raw, references=[])
    assert plan.needed_references(cfg) == [] and plan.reference_files(cfg, raw) == {}
    cfg["offline"] = True
    assert not any("ERA5" in m or "TerraClimate" in m for m in plan.offline_problems(cfg, raw))

    cfg["evaluation"] = {"reference_models": True, "drought": False}
    assert plan.needed_references(cfg) == ["era5_land"]
    era5 = "ERA5-Land/2010/ERA5-Land.daily.2010-04.nc"
    assert plan.reference_files(cfg, raw) == {"era5_land": [era5]}
    assert str(raw / era5) in plan.offline_problems(cfg, raw)
    cfg["evaluation"] = {"reference_models": False, "drought": True}
    assert plan.required_files(cfg, raw)["terraclimate"] == [TERRACLIMATE]
    assert "era5_land" not in plan.required_files(cfg, raw)
    # GLDAS Noah: the eight 3-hourly files of each run day, only when listed
    cfg["evaluation"] = {"reference_models": ["gldas_noah"], "drought": False}
    assert plan.needed_references(cfg) == ["gldas_noah"]
    gldas = plan.reference_files(cfg, raw)["gldas_noah"]
    days = plan.run_days(cfg)
    assert len(gldas) == 8 * len(days) and "era5_land" not in plan.required_files(cfg, raw)
    first = f"GLDAS_NOAH025_3H/{days[0].year}/GLDAS_NOAH025_3H.A{days[0]:%Y%m%d}"
    assert gldas[:2] == [f"{first}.0000.021.nc4", f"{first}.0300.021.nc4"]
    assert gldas[7] == f"{first}.2100.021.nc4"

    # listed but unused: fetched online; offline, the files in place are used, none asked for
    cfg["evaluation"] = {"reference_models": False, "drought": False}
    cfg["download"]["references"] = ["era5_land", "terraclimate"]
    assert plan.reference_files(cfg, raw) == {}
    assert not any("ERA5" in m or "TerraClimate" in m for m in plan.offline_problems(cfg, raw))
    (raw / TERRACLIMATE).parent.mkdir(parents=True)
    (raw / TERRACLIMATE).write_bytes(b"in place")
    assert plan.reference_files(cfg, raw) == {"terraclimate": [TERRACLIMATE]}
    cfg["offline"] = False
    assert plan.reference_files(cfg, raw) == {"era5_land": [era5], "terraclimate": [TERRACLIMATE]}


def test_catalogues_from_files_in_place_need_no_network(server, files, tmp_path) -> None:
    raw = tmp_path / "raw"
    cfg = config(server, raw, catalogues="files")
    cfg["offline"] = True
    cfg["evaluation"]["drought"] = True  # TerraClimate is then required
    for rel in (SRTM, MOD11):
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        (raw / rel).write_bytes(files[rel])
    make_catalogue("srtm", "tiles", cfg, raw / "catalogue/srtm/tiles.json")
    make_catalogue("mod11a1", "2010", cfg, raw / "catalogue/mod11a1/2010.json")
    assert list(load_catalogue(raw / "catalogue/srtm/tiles.json")) == [SRTM]
    assert list(load_catalogue(raw / "catalogue/mod11a1/2010.json")) == [MOD11]
    rec = ensure_file(MOD11, cfg, raw, catalogue=raw / "catalogue/mod11a1/2010.json")
    assert rec.source == "present" and server.count() == 0
    missing = [Path(m).relative_to(raw).parts[0] for m in plan.offline_problems(cfg, raw)
               if Path(m).is_relative_to(raw)]  # fmt: skip
    # catalogued products: what is in place is all there is; others must all be there
    assert sorted(missing) == ["IMERG", "TerraClimate", "esa_cci"]


def test_documented_absences_are_not_required(server, files, tmp_path) -> None:
    raw = tmp_path / "raw"
    cfg = config(server, raw)
    server.add_granule("SRTMGL3", Path(SRTM).name, f"/lp/{Path(SRTM).name}", files[SRTM])
    make_catalogue("srtm", "tiles", cfg, raw / "catalogue/srtm/tiles.json")
    av = plan.available_files(cfg, raw)
    assert av.files["srtm"] == [SRTM] and av.absent["srtm"] == [rawlayout.srtm(39, 111)]
    assert "catalogue/srtm/tiles.json" not in av.missing_catalogues


# ----------------------------------------------------------------- references, config


def test_terraclimate_reference(server, files, tmp_path) -> None:
    raw = tmp_path / "raw"
    server.add("/tc/TerraClimate_PDSI_2010.nc", files["pdsi"])
    rel = "TerraClimate/TerraClimate_PDSI_2010.nc"
    ensure_file(rel, config(server, raw), raw)
    assert (raw / rel).read_bytes() == files["pdsi"]
    server.add("/tc/TerraClimate_PDSI_2011.nc", files[ESA])  # a NetCDF without PDSI
    with pytest.raises(VerificationError, match="no variable 'PDSI'"):
        ensure_file("TerraClimate/TerraClimate_PDSI_2011.nc", config(server, raw), raw)


def test_era5_land_without_cdsapi_explains(server, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "cdsapi", None)  # import fails
    raw = tmp_path / "raw"
    with pytest.raises(DownloadError, match=r"pip install cdsapi.*~/\.cdsapirc"):
        ensure_era5_land("ERA5-Land/2010/ERA5-Land.daily.2010-04.nc", config(server, raw), raw)


def test_era5_land_request_and_atomic_retrieval(server, tmp_path) -> None:
    raw = tmp_path / "raw"
    cfg = config(server, raw)

    class Client:
        calls: list = []

        def retrieve(self, dataset, request, target):
            self.calls.append((dataset, request))
            month = int(request["month"])
            write_era5_land_month(target, int(request["year"]), month, request["area"])

    rel = "ERA5-Land/2010/ERA5-Land.daily.2010-04.nc"
    rec = ensure_era5_land(rel, cfg, raw, client=Client())
    dataset, request = Client.calls[0]
    assert dataset == "derived-era5-land-daily-statistics"
    assert request["month"] == "04" and len(request["day"]) == 30
    assert request["area"] == [39.4, 109.9, 38.9, 111.4]  # N, W, S, E widened by 0.1 deg
    assert rec.url == "cds:derived-era5-land-daily-statistics" and (raw / rel).is_file()

    # a retrieval that fails half-way leaves neither the file nor its partial copy
    class Failing:
        def retrieve(self, dataset, request, target):
            Path(target).write_bytes(b"half a file")
            raise RuntimeError("the CDS request was cancelled")

    rel = "ERA5-Land/2010/ERA5-Land.daily.2010-05.nc"
    with pytest.raises(DownloadError, match="cancelled"):
        ensure_era5_land(rel, cfg, raw, client=Failing())
    assert not (raw / rel).exists() and not list(raw.rglob("*.part"))


def test_url_templates_are_checked_and_redacted() -> None:
    assert template_problems({"esa_cci": "https://x/{year}/{name}"}) == []
    assert "placeholder" in template_problems({"esa_cci": "https://x/{yaer}/{name}"})[0]
    assert "must be set" in template_problems({"imerg": None})[0]
    assert template_problems({"mod11a1": None}) == []  # the CMR URL is used
    url = "https://user:pw@host:8443/p/f.nc?token=abc&X-Amz-Signature=def&v=1"
    assert redact_url(url) == "https://host:8443/p/f.nc?token=***&X-Amz-Signature=***&v=1"


def test_three_north_plan_counts() -> None:
    import yaml

    three_north = Path(__file__).resolve().parents[2] / "config" / "three_north.yaml"
    cfg = prepare_config(yaml.safe_load(three_north.read_text()))
    req = plan.required_files(cfg)
    counts = {k: len(v) for k, v in req.items()}
    assert counts == {
        "esa_cci": 4018,
        "mod11a1": 4018 * 17,
        "mod13a2": 253 * 17,
        "mcd43c3": 4018,
        "imerg": 4018,
        "srtm": 990,
        "era5_land": 132,
        "terraclimate": 11,
    }
    assert len(plan.catalogue_parts(req)) == 3 * 11 + 1
    for key, rels in req.items():
        assert all(PRODUCTS[key].relpath.fullmatch(r) for r in rels), key


def test_missing_station_files_are_explained(server, tmp_path) -> None:
    cfg = config(server, tmp_path / "raw")
    cfg["stations"]["ismn"] = ["data/ismn_china.zip"]
    ismn = plan.station_file_help("data/ismn_china.zip", cfg)
    assert "https://ismn.earth" in ismn and "Header+values" in ismn and "2010-04-07" in ismn
    csv = plan.station_file_help("s.csv", cfg)
    assert "csv_stations.py" in csv and "not public" in csv
    assert plan.station_files(cfg) == ["data/ismn_china.zip", "s.csv", "v.csv"]
