"""Crop on arrival (smdownscale.download.crop): global and tile granules are cut to what
the readers use, the readers read the crop exactly as they read the original, a crop that
does not cover the region stops the reader, and the download records the original.

Downloads run against the local HTTP server of tests/unit/download_server.py; the real MODIS
tiles of ../shared/realdata are used where present (skipped with a reason where not).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pytest
from download_server import CMR_PATH, LocalServer

from smdownscale import rawlayout
from smdownscale.config import prepare_config
from smdownscale.demo.write_imerg import write_imerg
from smdownscale.demo.write_modis import write_mcd43c3
from smdownscale.download.crop import CROPS, CropInfo, read_crop_info, write_crop
from smdownscale.download.crop_hdf4 import edit_struct_metadata
from smdownscale.download.jobs import ensure_file, make_catalogue
from smdownscale.download.manifest import read_record
from smdownscale.download.plan import estimate
from smdownscale.ease2 import ease2_cover
from smdownscale.grid import LatLonGrid
from smdownscale.products.base import ProductError
from smdownscale.products.esa_cci import read_esa_cci
from smdownscale.products.imerg import read_imerg
from smdownscale.products.mcd43c3 import CMG_SHAPE, read_mcd43c3_albedo
from smdownscale.products.modis_sinusoidal import (
    open_hdf4,
    parse_struct_metadata,
    read_mod11a1_lst,
    read_mod13a2_ndvi,
    struct_metadata_text,
)
from smdownscale.products.smap import read_smap_l3
from smdownscale.products.smap_target import read_smap_target

REAL_DATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
REAL_MODIS = REAL_DATA / "modis"
REAL_SMAP = REAL_DATA / "smap" / "SMAP_L3_SM_P_20150401_R13080_001.h5"
REAL_ESA = REAL_DATA / "esa_cci" / "ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100701000000-fv04.5.nc"
DAY = dt.date(2010, 4, 7)
BBOX = [110.0, 39.0, 111.25, 39.25]
MCD = rawlayout.mcd43c3(DAY)
MCD_NAME = "MCD43C3.A2010097.061.2021190123456.hdf"
IMERG = rawlayout.imerg(DAY)


@pytest.fixture(scope="module")
def mcd43c3_file(tmp_path_factory) -> Path:
    """A global demo MCD43C3 file: albedo rising west to east and north to south."""
    path = tmp_path_factory.mktemp("mcd") / MCD_NAME
    rows, cols = np.meshgrid(np.arange(CMG_SHAPE[0]), np.arange(CMG_SHAPE[1]), indexing="ij")
    wsa = 0.05 + 0.3 * cols / CMG_SHAPE[1] + 0.1 * rows / CMG_SHAPE[0]
    wsa[::13, ::7] = np.nan
    write_mcd43c3(path, wsa, wsa * 0.9, DAY)
    return path


@pytest.fixture(scope="module")
def imerg_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("imerg") / Path(IMERG).name
    grid = LatLonGrid(north=50.0, south=30.0, west=100.0, east=120.0, res=0.1)
    precip = np.random.default_rng(3).gamma(0.5, 4.0, grid.shape)  # compresses as real rain
    write_imerg(path, DAY, precip, grid=grid)
    return path


def info_for(key: str, src: Path, bbox) -> CropInfo:
    return CropInfo(src.name, src.stat().st_size, "0" * 64, "", CROPS[key].variables, bbox)


# ------------------------------------------------------------------------- the crops


def test_mcd43c3_crop_reads_as_the_original_and_refuses_outside(mcd43c3_file, tmp_path) -> None:
    crop = tmp_path / MCD_NAME
    bbox = (109.5, 38.5, 111.75, 39.75)
    write_crop("mcd43c3", mcd43c3_file, crop, info_for("mcd43c3", mcd43c3_file, bbox))
    assert crop.stat().st_size < mcd43c3_file.stat().st_size / 50
    a = read_mcd43c3_albedo(mcd43c3_file, bbox=BBOX)
    b = read_mcd43c3_albedo(crop, bbox=BBOX)
    for name in ("wsa", "bsa"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    np.testing.assert_array_equal(a["lat"].values, b["lat"].values)
    np.testing.assert_array_equal(a["lon"].values, b["lon"].values)
    whole = read_mcd43c3_albedo(crop)  # all the crop holds: cell centres inside bbox
    assert whole.sizes == {"lat": 25, "lon": 45}
    assert whole["lon"].values[0] == pytest.approx(109.525) and whole["lat"].values[0] == 39.725
    # a larger region than the crop's stops with a message naming the file, never gaps
    with pytest.raises(ProductError, match="cropped on arrival.*\n?.*download it for this"):
        read_mcd43c3_albedo(crop, bbox=(110.0, 39.0, 112.5, 39.25))
    sd = open_hdf4(crop)
    try:
        grid = parse_struct_metadata(struct_metadata_text(sd.attributes()))[0]
        assert (grid.ydim, grid.xdim) == (25, 45)
        assert grid.upper_left == (109.5, 39.75) and grid.lower_right == (111.75, 38.5)
        assert set(grid.fields) == {"Albedo_WSA_shortwave", "Albedo_BSA_shortwave"}
        assert "CoreMetadata.0" in sd.attributes()
    finally:
        sd.end()
    assert read_crop_info(crop) == info_for("mcd43c3", mcd43c3_file, bbox)
    assert read_crop_info(mcd43c3_file) is None


def test_imerg_crop_reads_as_the_original(imerg_file, tmp_path) -> None:
    crop = tmp_path / imerg_file.name
    bbox = (109.5, 38.5, 111.75, 39.75)
    write_crop("imerg", imerg_file, crop, info_for("imerg", imerg_file, bbox))
    assert crop.stat().st_size < imerg_file.stat().st_size / 3
    a = read_imerg(imerg_file, bbox=BBOX)
    b = read_imerg(crop, bbox=BBOX)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a["lat"].values, b["lat"].values)
    with pytest.raises(ProductError, match="not the bbox"):
        read_imerg(crop, bbox=(110.0, 39.0, 113.0, 39.25))
    assert read_crop_info(crop).bbox == bbox


def test_struct_metadata_edit_keeps_only_the_named_fields() -> None:
    text = (
        'GROUP=GridStructure\n\tGROUP=GRID_1\n\t\tGridName="G"\n\t\tXDim=7200\n\t\tYDim=3600\n'
        "\t\tUpperLeftPointMtrs=(-180.000000,90.000000)\n"
        "\t\tLowerRightMtrs=(180.000000,-90.000000)\n\t\tGROUP=DataField\n"
        + "".join(
            f'\t\t\tOBJECT=DataField_{i}\n\t\t\t\tDataFieldName="{n}"\n'
            f"\t\t\tEND_OBJECT=DataField_{i}\n"
            for i, n in enumerate(["a", "b", "c"], start=1)
        )
        + "\t\tEND_GROUP=DataField\n\tEND_GROUP=GRID_1\nEND_GROUP=GridStructure\nEND\n"
    )
    out = edit_struct_metadata(text, "G", ["c"], (2, 3), ((10.0, 5.0), (10.15, 4.9)))
    assert len(out) == 32000 and out.endswith("\x00")
    grid = parse_struct_metadata(out)[0]
    assert grid.fields == ("c",) and (grid.ydim, grid.xdim) == (2, 3)
    assert grid.upper_left == (10.0, 5.0) and grid.lower_right == (10.15, 4.9)
    assert "DataField_1" in out and "DataField_2" not in out


@pytest.mark.skipif(not REAL_ESA.is_file(), reason=f"real ESA CCI image not at {REAL_ESA}")
def test_real_esa_cci_crop_reads_as_the_original_and_refuses_outside(tmp_path) -> None:
    crop = tmp_path / REAL_ESA.name
    write_crop("esa_cci", REAL_ESA, crop, info_for("esa_cci", REAL_ESA, (109.5, 38.5, 113.5, 41.5)))
    assert crop.stat().st_size < REAL_ESA.stat().st_size / 20
    grid = LatLonGrid(north=41.0, south=39.0, west=110.0, east=113.0, res=0.25)
    a, b = read_esa_cci(REAL_ESA, grid), read_esa_cci(crop, grid)
    for name in ("sm", "flag"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    assert a.attrs["product_version"] == b.attrs["product_version"]
    assert read_esa_cci(crop)["sm"].shape == (1, 12, 16)  # all the crop holds
    with pytest.raises(ProductError, match="cropped on arrival"):
        read_esa_cci(crop, LatLonGrid(north=42.0, south=39.0, west=110.0, east=113.0, res=0.25))


@pytest.mark.skipif(not REAL_SMAP.is_file(), reason=f"real SMAP L3 file not at {REAL_SMAP}")
def test_real_smap_l3_crop_reads_as_the_original_and_refuses_outside(tmp_path) -> None:
    crop = tmp_path / REAL_SMAP.name
    bbox = (-100.5, 34.5, -95.5, 40.5)
    write_crop("smap_l3", REAL_SMAP, crop, info_for("smap_l3", REAL_SMAP, bbox))
    assert crop.stat().st_size < REAL_SMAP.stat().st_size / 20
    window = ease2_cover((-100.0, 35.0, -96.0, 40.0))
    a, b = read_smap_target(REAL_SMAP, window), read_smap_target(crop, window)
    assert int(np.isfinite(a["sm"].values).sum()) > 100
    for name in ("sm", "flag"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    held = read_smap_l3(crop).attrs["window"]
    assert held[0] <= window.row0 and window.row1 <= held[1]
    with pytest.raises(ProductError, match="cropped on arrival"):
        read_smap_target(crop, ease2_cover((-110.0, 35.0, -96.0, 40.0)))


@pytest.mark.skipif(not REAL_MODIS.is_dir(), reason=f"real MODIS tiles not at {REAL_MODIS}")
@pytest.mark.parametrize(
    ("key", "name", "reader", "at_most"),
    [
        ("mod11a1", "MOD11A1.A2021227.h11v05.061.2021228105320.hdf", read_mod11a1_lst, 0.35),
        ("mod13a2", "MOD13A2.A2021225.h11v06.061.2021320163717.hdf", read_mod13a2_ndvi, 0.12),
    ],
)
def test_real_modis_tiles_keep_their_values_in_a_fraction_of_the_bytes(
    key, name, reader, at_most, tmp_path
) -> None:
    src = REAL_MODIS / name
    crop = tmp_path / name
    write_crop(key, src, crop, info_for(key, src, None))
    assert crop.stat().st_size < at_most * src.stat().st_size
    a, b = reader(src), reader(crop)
    np.testing.assert_array_equal(a.values, b.values)
    assert (a.h, a.v) == (b.h, b.v)
    sd = open_hdf4(crop)
    try:
        assert sorted(sd.datasets()) == sorted(CROPS[key].variables)
        src_sd = open_hdf4(src)
        try:  # the provider's inventory metadata are kept as they were
            assert sd.attributes()["CoreMetadata.0"] == src_sd.attributes()["CoreMetadata.0"]
        finally:
            src_sd.end()
    finally:
        sd.end()


# ------------------------------------------------------------------- on arrival, recorded


def crop_config(server: LocalServer, raw: Path, **crop) -> dict:
    return prepare_config(
        {
            "run": "crop",
            "source": "real",
            "paths": {"raw": str(raw)},
            "region": {"bbox": BBOX},
            "dates": {"start": str(DAY), "end": str(DAY)},
            "stations": {"csv": [{"stations": "s.csv", "values": "v.csv"}]},
            "download": {
                "urls": {"imerg": server.base + "/gpm/{year}/{month}/{name}"},
                "cmr_url": server.base + CMR_PATH,
                "earthdata_hosts": ["127.0.0.1"],
                "retries": 1,
                "timeout_s": 5.0,
                "crop": crop,
            },
        }
    )


@pytest.mark.parametrize("keep_originals", [False, True])
def test_download_crops_on_arrival_and_records_the_original(
    mcd43c3_file, tmp_path, keep_originals
) -> None:
    data = mcd43c3_file.read_bytes()
    raw = tmp_path / "raw"
    with LocalServer() as server:
        server.add_granule("MCD43C3", MCD_NAME, f"/lp/{MCD_NAME}", data)
        cfg = crop_config(server, raw, keep_originals=keep_originals)
        cat = raw / "catalogue/mcd43c3/2010.json"
        make_catalogue("mcd43c3", "2010", cfg, cat)
        rows, _ = estimate(cfg, raw)
        row = next(r for r in rows if r.product == "mcd43c3")
        assert row.bytes_to_fetch == len(data) and 0 < row.bytes_kept < len(data) / 20
        rec = ensure_file(MCD, cfg, raw, catalogue=cat)
        n = server.count()
        target = raw / MCD
        assert rec.size == target.stat().st_size < len(data) / 20
        assert rec.original_size == len(data)
        assert rec.original_sha256 == hashlib.sha256(data).hexdigest()
        assert rec.sha256 == hashlib.sha256(target.read_bytes()).hexdigest()
        assert rec.provider_checksum == "md5:" + hashlib.md5(data).hexdigest()
        assert "Albedo_WSA_shortwave" in rec.crop and "bbox" in rec.crop
        original = raw / "originals" / MCD
        assert original.is_file() == keep_originals
        if keep_originals:
            assert original.read_bytes() == data
        assert not list(target.parent.glob(".*"))  # no partial file left behind
        info = read_crop_info(target)
        assert info.original_sha256 == rec.original_sha256
        a = read_mcd43c3_albedo(mcd43c3_file, bbox=BBOX)
        np.testing.assert_array_equal(read_mcd43c3_albedo(target, bbox=BBOX)["wsa"], a["wsa"])
        # a crop found without its record verifies against the catalogue, without network
        assert read_record(raw, MCD) is not None
        (raw / "manifest" / f"{MCD}.json").unlink()
        rec2 = ensure_file(MCD, cfg, raw, catalogue=cat)
        assert rec2.source == "present" and rec2.original_size == len(data)
        assert server.count() == n
        rows, _ = estimate(cfg, raw)  # once in place: nothing to fetch, its own size kept
        row = next(r for r in rows if r.product == "mcd43c3")
        assert row.bytes_to_fetch == 0 and row.bytes_kept == target.stat().st_size


def test_a_crop_of_another_original_is_deleted_and_fetched_anew(mcd43c3_file, tmp_path) -> None:
    data = mcd43c3_file.read_bytes()
    raw = tmp_path / "raw"
    with LocalServer() as server:
        server.add_granule("MCD43C3", MCD_NAME, f"/lp/{MCD_NAME}", data)
        cfg = crop_config(server, raw)
        cat = raw / "catalogue/mcd43c3/2010.json"
        make_catalogue("mcd43c3", "2010", cfg, cat)
        target = raw / MCD
        target.parent.mkdir(parents=True)
        wrong = CropInfo(MCD_NAME, len(data) + 1, "0" * 64, "md5:0", CROPS["mcd43c3"].variables,
                         (109.5, 38.5, 111.75, 39.75))  # fmt: skip
        write_crop("mcd43c3", mcd43c3_file, target, wrong)
        rec = ensure_file(MCD, cfg, raw, catalogue=cat)
        assert rec.source == "download" and rec.original_size == len(data)
        assert server.count(f"/lp/{MCD_NAME}") == 1


def test_crop_can_be_switched_off(tmp_path, imerg_file) -> None:
    data = imerg_file.read_bytes()
    raw = tmp_path / "raw"
    with LocalServer() as server:
        server.add(f"/gpm/2010/04/{imerg_file.name}", data)
        rec = ensure_file(IMERG, crop_config(server, raw, enabled=False), raw)
    assert (raw / IMERG).read_bytes() == data and rec.original_size == 0 and rec.crop == ""
