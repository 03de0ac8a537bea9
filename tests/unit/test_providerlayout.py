"""Raw file names and folders of the providers' layouts (and the project's) read and written."""

from __future__ import annotations

import datetime as dt

import pytest

from smdownscale import providerlayout as pl
from smdownscale.providerlayout import Granule

DAY = dt.date(2010, 4, 7)  # A2010097

#: One provider path per product, as the providers' archives file them (mirror prefixes kept).
PROVIDER = {
    "neodc/esacci/soil_moisture/data/daily_files/COMBINED/v08.1/2010/"
    "ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100407000000-fv08.1.nc": (
        Granule("esa_cci", DAY, None), "08.1", ""
    ),
    "e4ftl01.cr.usgs.gov/MOLT/MOD11A1.061/2010.04.07/"
    "MOD11A1.A2010097.h26v05.061.2021190123456.hdf": (
        Granule("mod11a1", DAY, "h26v05"), "061", "2021190123456"
    ),
    "MOLT/MOD13A2.061/2010.04.07/MOD13A2.A2010097.h26v04.061.2021191000000.hdf": (
        Granule("mod13a2", DAY, "h26v04"), "061", "2021191000000"
    ),
    "MOTA/MCD43C3.061/2010.04.07/MCD43C3.A2010097.061.2021200101010.hdf": (
        Granule("mcd43c3", DAY, None), "061", "2021200101010"
    ),
    "MEASURES/SRTMGL3.003/2000.02.11/N39E110.SRTMGL3.hgt.zip": (
        Granule("srtm", None, "N39E110"), "003", ""
    ),
    "GPM_L3/GPM_3IMERGDF.07/2010/04/3B-DAY.MS.MRG.3IMERG.20100407-S000000-E235959.V07B.nc4": (
        Granule("imerg", DAY, None), "V07B", ""
    ),
}  # fmt: skip


@pytest.mark.parametrize("relpath", PROVIDER)
def test_provider_paths_say_what_a_file_is(relpath):
    f = pl.parse(relpath, "/archive")
    granule, version, stamp = PROVIDER[relpath]
    assert (f.granule, f.version, f.stamp, f.problem) == (granule, version, stamp, None)
    assert f.path == f"/archive/{relpath}"


@pytest.mark.parametrize("relpath", PROVIDER)
def test_demo_provider_paths_parse_back(relpath):
    granule, version, stamp = PROVIDER[relpath]
    written = pl.provider_relpath(granule, version, stamp)
    assert relpath.endswith(written)  # the providers' own folders, below mirror prefixes
    assert pl.parse(written).granule == granule


@pytest.mark.parametrize("relpath", PROVIDER)
def test_project_layout_names_parse_to_the_same_granules(relpath):
    granule, _, _ = PROVIDER[relpath]
    project = pl.project_relpath(granule, "08.1")
    f = pl.parse(project)
    assert f.granule == granule and f.stamp == "" and f.problem is None


@pytest.mark.parametrize(
    "name",
    [
        "MOD11A1.A2010097.h26v05.061.2021190123456.hdf.xml",  # LP DAAC metadata side file
        "BROWSE.MOD11A1.A2010097.h26v05.061.2021190123456.1.jpg",
        "MCD43C3.A2010097.h26v05.061.2021200101010.hdf",  # a CMG product has no tile
        "MOD11A1.A2010097.061.2021190123456.hdf",  # a tile product without tile
        "MOD11A1.A2010400.h26v05.061.hdf",  # day 400
        "ESACCI-SOILMOISTURE-L3S-SSMV-PASSIVE-20100407000000-fv08.1.nc",
        "3B-DAY.MS.MRG.3IMERG.20100407-S000000-E235959.V07B.nc4.md5",
        "Data_demo_world.zip",
    ],
)
def test_other_files_are_not_granules(name):
    assert pl.parse(f"x/{name}") is None


@pytest.mark.parametrize(
    "relpath, said",
    [
        ("MOD11A1.061/2010.04.08/MOD11A1.A2010097.h26v05.061.2021190123456.hdf", "date folder"),
        ("MOD11A1.006/2010.04.07/MOD11A1.A2010097.h26v05.061.2021190123456.hdf", "collection"),
        ("MOD13A2.061/2010.04.07/MOD11A1.A2010097.h26v05.061.2021190123456.hdf", "for MOD13A2"),
        ("COMBINED/v07.1/2010/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100407000000-fv08.1.nc",
         "version 07.1"),
        ("v08.1/2011/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100407000000-fv08.1.nc",
         "year folder 2011"),
        ("2010/05/3B-DAY.MS.MRG.3IMERG.20100407-S000000-E235959.V07B.nc4", "2010/05"),
        ("GPM_3IMERGDF.06/2010/04/3B-DAY.MS.MRG.3IMERG.20100407-S000000-E235959.V07B.nc4",
         "version 06"),
    ],
)  # fmt: skip
def test_a_folder_that_contradicts_the_name_is_reported(relpath, said):
    f = pl.parse(relpath)
    assert f is not None and said in f.problem and "its name says" in f.problem


def test_eligible_versions():
    def found(product, version):
        day = None if product == "srtm" else DAY
        return pl.Found(Granule(product, day, None), version, "", "p")

    assert pl.eligible(found("esa_cci", "08.1"), "08.1")
    assert not pl.eligible(found("esa_cci", "07.1"), "08.1")
    assert pl.eligible(found("mcd43c3", "061"), "08.1")
    assert not pl.eligible(found("mcd43c3", "006"), "08.1")
    assert pl.eligible(found("imerg", "V07A"), "08.1")
    assert not pl.eligible(found("imerg", "V06B"), "08.1")
    assert pl.eligible(found("srtm", ""), "08.1")


def test_demo_stamps_are_fixed_and_parse_as_times():
    g = Granule("mod11a1", DAY, "h26v05")
    assert pl.demo_stamp(g) == "2010098031500"
    assert pl.stamp_time(pl.demo_stamp(g)) == dt.datetime(2010, 4, 8, 3, 15)


def test_smap_l3_names_folders_and_releases():
    relpath = "SMAP/SPL3SMP.009/2010.04.07/SMAP_L3_SM_P_20100407_R19240_002.h5"
    f = pl.parse(relpath, "/nsidc")
    assert (f.granule, f.version, f.stamp, f.problem) == (
        Granule("smap_l3", DAY, None),
        "R19240",
        "002",
        None,
    )
    assert relpath.endswith(pl.provider_relpath(f.granule, "R19240", "002"))
    # the project layout names the release the run reads; the name parses back
    project = pl.project_relpath(f.granule, "08.1", "R18290")
    assert project == "SPL3SMP/2010/SMAP_L3_SM_P_20100407_R18290_001.h5"
    assert pl.parse(project).granule == f.granule
    # the configured release only; a later reprocessing (_002) outranks _001
    assert pl.eligible(f, "08.1", "R19240") and not pl.eligible(f, "08.1", "R18290")
    older = pl.parse("SPL3SMP.009/2010.04.07/SMAP_L3_SM_P_20100407_R19240_001.h5")
    assert older.rank() < f.rank()
    moved = pl.parse("SPL3SMP.009/2010.04.08/SMAP_L3_SM_P_20100407_R19240_001.h5")
    assert "date folder 2010.04.08" in moved.problem


def test_the_target_product_leads_a_periods_granules():
    smap = pl.period_granules([DAY], [], [(26, 5)], "smap_l3")
    assert list(smap)[0] == "smap_l3" and "esa_cci" not in smap
    assert smap["smap_l3"] == [Granule("smap_l3", DAY, None)]
    with pytest.raises(ValueError, match="unknown coarse product 'amsr2'"):
        pl.period_granules([DAY], [], [], "amsr2")
