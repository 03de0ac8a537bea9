"""Provider archives found by name under their roots, newest version first, and the index."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest

from smdownscale import rawscan
from smdownscale.config import prepare_config
from smdownscale.fingerprints import recorded_sha256, sha256_file
from smdownscale.providerlayout import Granule
from smdownscale.rawindex import (
    Archives,
    files_by_day,
    files_of,
    index_rows,
    read_index,
    run_granules,
    write_index,
)

DAY = dt.date(2010, 4, 7)
LST = Granule("mod11a1", DAY, "h26v05")
CCI = Granule("esa_cci", DAY, None)


def touch(root: Path, relpath: str, text: str = "x") -> Path:
    p = root / relpath
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def config(**archives) -> dict:
    return prepare_config({"archives": archives})


def test_scan_lists_every_file_and_relists_only_changed_folders(tmp_path):
    root = tmp_path / "archive"
    touch(root, "a/b/one.hdf")
    touch(root, "a/two.nc")
    touch(root, "a/.three.hdf.part")  # a download in progress
    (tmp_path / "elsewhere").mkdir()
    touch(tmp_path, "elsewhere/four.nc")
    os.symlink(tmp_path / "elsewhere", root / "linked")  # folder links are followed
    os.symlink(root, root / "a" / "loop")  # ... each real folder once
    cache = tmp_path / "cache.json"
    files, listed = rawscan.list_files(root, cache)
    assert files == ["a/b/one.hdf", "a/two.nc", "linked/four.nc"]
    assert listed == 4  # root, a, a/b, linked
    assert rawscan.list_files(root, cache) == (files, 0)  # nothing changed: nothing listed
    touch(root, "a/b/five.hdf")
    files, listed = rawscan.list_files(root, cache)
    assert "a/b/five.hdf" in files and listed == 1
    assert rawscan.list_files(tmp_path / "absent", cache) == ([], 0)


def test_newest_production_wins_and_is_noted(tmp_path):
    root = tmp_path / "lp"
    old = "MOD11A1.061/2010.04.07/MOD11A1.A2010097.h26v05.061.2010098000000.hdf"
    new = "MOD11A1.061/2010.04.07/MOD11A1.A2010097.h26v05.061.2021190123456.hdf"
    for rel in (old, new, "MOD11A1.006/2010.04.07/MOD11A1.A2010097.h26v05.006.2015000000000.hdf"):
        touch(root, rel)
    archives = Archives(config(layout="provider", root=str(root)), str(tmp_path / "raw"))
    assert archives.path(LST) == str(root / new)
    (note,) = archives.notes([LST])
    assert "MOD11A1 2010-04-07 h26v05: 2 versions" in note and Path(old).name in note
    assert archives.other_versions([LST]) == {"mod11a1": {"006"}}  # collection 6 is not read
    summary = archives.summary([LST, CCI], tmp_path / "notes.txt")
    assert summary[0] == (
        f"provider tree {root} (3 files, 5 folders listed anew) has these of the run's "
        "granules: ESA CCI SM 0 of 1, MOD11A1 1 of 1"
    )
    assert summary[1] == note
    assert (tmp_path / "notes.txt").read_text() == note + "\n"


def test_granules_not_in_a_tree_fall_back_to_the_demo_or_the_downloads(tmp_path):
    raw = str(tmp_path / "raw")
    cfg = config(layout="provider", root=str(tmp_path / "tree"))
    real = Archives(cfg, raw)
    assert real.found(LST) is None
    assert real.path(LST) == f"{raw}/MOD11A1/2010/MOD11A1.A2010097.h26v05.061.hdf"  # download
    demo = Archives(cfg, raw, demo=True)
    assert demo.path(LST) == str(
        tmp_path / "tree/MOD11A1.061/2010.04.07/MOD11A1.A2010097.h26v05.061.2010098031500.hdf"
    )
    # the project layout (the default) is never listed: its paths are fixed
    project = Archives(config(), raw, demo=True)
    assert project.listed == {} and project.path(CCI) == (
        f"{raw}/esa_cci/2010/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100407000000-fv08.1.nc"
    )


def test_each_product_reads_its_own_root_and_layout(tmp_path):
    lp, ceda = tmp_path / "lp", tmp_path / "ceda"
    touch(lp, "MOD11A1.061/2010.04.07/MOD11A1.A2010097.h26v05.061.2021190123456.hdf")
    touch(lp, "daily_files/COMBINED/v08.1/2010/"
              "ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100407000000-fv08.1.nc")  # fmt: skip
    touch(ceda, "v08.1/2010/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100407000000-fv08.1.nc")
    cfg = config(
        root=str(lp),
        mod11a1={"layout": "provider"},
        esa_cci={"layout": "provider", "root": str(ceda)},
    )
    archives = Archives(cfg, str(tmp_path / "raw"))
    assert archives.found(CCI).path.startswith(str(ceda))  # not the copy under lp
    assert archives.found(LST).path.startswith(str(lp))
    assert archives.found(Granule("imerg", DAY, None)) is None  # project layout: not listed
    assert archives.found_elsewhere([LST, CCI]) == {
        "MOD11A1/2010/MOD11A1.A2010097.h26v05.061.hdf",
        "esa_cci/2010/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100407000000-fv08.1.nc",
    }


def test_only_the_configured_esa_cci_version_is_read(tmp_path):
    touch(tmp_path, "t/v07.1/2010/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100407000000-fv07.1.nc")
    archives = Archives(config(layout="provider", root=str(tmp_path / "t")), str(tmp_path))
    assert archives.found(CCI) is None
    assert archives.other_versions([CCI]) == {"esa_cci": {"07.1"}}


def test_the_index_table_round_trips_and_groups_by_day(tmp_path):
    a = touch(tmp_path, "MOD11A1.061/2010.04.07/MOD11A1.A2010097.h26v05.061.2021190123456.hdf")
    b = touch(tmp_path, "MOD11A1.061/2010.04.08/MOD11A1.A2010098.h26v05.061.2021190123456.hdf")
    s = touch(tmp_path, "SRTMGL3.003/2000.02.11/N39E110.SRTMGL3.hgt.zip")
    rows = index_rows({"mod11a1": [str(b), str(a)], "srtm": [str(s)]}, sha256_file)
    assert [(r.product, r.day, r.tile, r.version) for r in rows] == [
        ("mod11a1", "2010-04-07", "h26v05", "061"),
        ("mod11a1", "2010-04-08", "h26v05", "061"),
        ("srtm", "", "N39E110", "003"),
    ]
    assert rows[0].produced == "2021190123456" and rows[0].size == 1
    write_index(tmp_path / "index.tsv", rows)
    back = read_index(tmp_path / "index.tsv")
    assert back == rows
    days = [DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)]
    assert files_by_day(back, "mod11a1", days) == {
        days[0]: [str(a)],
        days[1]: [str(b)],
        days[2]: [],
    }
    assert files_of(back, "srtm") == [str(s)]
    with pytest.raises(ValueError, match="none of the days asked for"):
        files_by_day(back, "mod11a1", days[2:])
    with pytest.raises(ValueError, match="not a IMERG file name"):
        index_rows({"imerg": [str(a)]}, sha256_file)


def test_index_hashes_come_from_the_fingerprint_record_when_unchanged(tmp_path):
    from smdownscale import fingerprints

    f = touch(tmp_path, "MOD11A1.061/2010.04.07/MOD11A1.A2010097.h26v05.061.2021190123456.hdf")
    record = tmp_path / "fp.json"
    fingerprints.check([f], record)
    data = record.read_text().replace(sha256_file(f), "recorded")
    record.write_text(data)
    assert recorded_sha256(record)(f) == "recorded"  # taken from the record, not re-hashed
    f.write_text("changed")
    assert recorded_sha256(record)(f) == sha256_file(f)


def test_run_granules_are_the_download_plans_files():
    from smdownscale.download.plan import required_files
    from smdownscale.providerlayout import project_relpath

    cfg = prepare_config({"dates": {"start": "2010-04-07", "end": "2010-05-10"}})
    wanted = {r for k, rels in required_files(cfg).items() if k not in ("era5_land",
              "terraclimate") for r in rels}  # fmt: skip
    assert {project_relpath(g, "08.1") for g in run_granules(cfg)} == wanted


# ---------------------------------------------------------------- real products, in place


REAL = {
    # realdata file -> its path in a provider tree (mirror host folders included)
    "esa_cci/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100701000000-fv04.5.nc":
        "dap.ceda.ac.uk/neodc/esacci/soil_moisture/data/daily_files/COMBINED/v04.5/2010/"
        "ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100701000000-fv04.5.nc",
    "modis/MOD11A1.A2021227.h11v05.061.2021228105320.hdf":
        "e4ftl01.cr.usgs.gov/MOLT/MOD11A1.061/2021.08.15/"
        "MOD11A1.A2021227.h11v05.061.2021228105320.hdf",
    "modis/MOD13A2.A2021225.h11v06.061.2021320163717.hdf":
        "e4ftl01.cr.usgs.gov/MOLT/MOD13A2.061/2021.08.13/"
        "MOD13A2.A2021225.h11v06.061.2021320163717.hdf",
}  # fmt: skip


@pytest.mark.realdata
def test_a_provider_tree_of_real_files_is_indexed_and_read_in_place(realdata, tmp_path):
    from smdownscale.products.esa_cci import read_esa_cci
    from smdownscale.products.modis_sinusoidal import read_mod11a1_lst, read_mod13a2_ndvi

    root = tmp_path / "archive"
    for src, rel in REAL.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(realdata / src, root / rel)
    # an older production of the LST granule beside it, and the files LP DAAC ships along
    lst_dir = root / Path(REAL["modis/MOD11A1.A2021227.h11v05.061.2021228105320.hdf"]).parent
    os.symlink(realdata / "modis/MOD11A1.A2021227.h11v05.061.2021228105320.hdf",
               lst_dir / "MOD11A1.A2021227.h11v05.061.2021228000000.hdf")  # fmt: skip
    (lst_dir / "MOD11A1.A2021227.h11v05.061.2021228105320.hdf.xml").write_text(
        "<GranuleMetaDataFile/>"
    )
    (lst_dir / "BROWSE.MOD11A1.A2021227.h11v05.061.2021228105320.1.jpg").write_bytes(b"\xff\xd8")

    cfg = prepare_config({"archives": {"layout": "provider", "root": str(root)},
                          "esa_cci": {"version": "04.5"}})  # fmt: skip
    archives = Archives(cfg, str(tmp_path / "raw"), cache_path=tmp_path / "scan.json")
    wanted = {
        "esa_cci": [Granule("esa_cci", dt.date(2010, 7, 1), None)],
        "mod11a1": [Granule("mod11a1", dt.date(2021, 8, 15), "h11v05")],
        "mod13a2": [Granule("mod13a2", dt.date(2021, 8, 13), "h11v06")],
    }
    paths = {k: [archives.path(g) for g in gs] for k, gs in wanted.items()}
    assert paths == {k: [str(root / REAL[src])] for k, src in zip(wanted, REAL, strict=True)}
    (note,) = archives.notes([g for gs in wanted.values() for g in gs])
    assert "2 versions" in note and "2021228000000" in note  # the older one, passed over

    write_index(tmp_path / "index.tsv", index_rows(paths, sha256_file))
    rows = read_index(tmp_path / "index.tsv")
    sums = dict(line.split()[::-1] for line in (realdata / "SHA256SUMS").read_text().splitlines())
    for row, src in zip(rows, REAL, strict=True):
        assert row.sha256 == sums[f"./{src}"] and row.size == (realdata / src).stat().st_size

    (cci,) = files_of(rows, "esa_cci")
    assert int(read_esa_cci(cci, mask_flags=0)["sm"].notnull().sum()) == 164_073
    (lst,) = files_by_day(rows, "mod11a1", [dt.date(2021, 8, 15)])[dt.date(2021, 8, 15)]
    tile = read_mod11a1_lst(lst, qc="any")
    assert (tile.h, tile.v, int(np.isfinite(tile.values).sum())) == (11, 5, 63_129)
    (ndvi,) = files_of(rows, "mod13a2")
    assert int(np.isfinite(read_mod13a2_ndvi(ndvi, qc="any").values).sum()) == 12_026
