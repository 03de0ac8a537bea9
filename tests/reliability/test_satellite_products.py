"""Reliability cases of the satellite and reanalysis soil-moisture inputs (issue 13, items 1-3, 16).

Each case is one input mutation with its one expected outcome (:mod:`reliability_expect`):
ESA CCI and C3S images written in the real format by the demo writer (C3S attributes as in the
real C3S v201706/v201801 files) or copied from ../shared/realdata and edited with netCDF4;
SMAP files copied from the real one or written as a small stand-in; ERA5-Land months written
in the CDS daily-statistics layout. An error pattern starts with ``FILE``, replaced by the
file's name: every message names its file, says what the file is and what to do.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import h5py
import netCDF4
import numpy as np
import pytest
from reliability_expect import Outcome, check, conversion, error, ok

from smdownscale.demo.write_era5_land import write_era5_land_month
from smdownscale.demo.write_esa_cci import esa_cci_file_name, write_esa_cci
from smdownscale.demo.write_gldas import gldas_lattice, write_gldas_file
from smdownscale.ease2 import ease2_cover
from smdownscale.grid import LatLonGrid, global_grid
from smdownscale.products.era5_land import check_era5_land
from smdownscale.products.esa_cci import read_esa_cci, read_esa_cci_days
from smdownscale.products.gldas import check_gldas
from smdownscale.products.smap import read_smap_l3
from smdownscale.products.smap_target import read_smap_target

DAY = dt.date(2010, 7, 1)
DAYNUM = (DAY - dt.date(1970, 1, 1)).days
GRID = LatLonGrid(north=40.0, south=39.0, west=110.0, east=111.0, res=0.25)
ESA = esa_cci_file_name(DAY, "08.1")
REAL_ESA = "esa_cci/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100701000000-fv04.5.nc"
REAL_SMAP = "smap/SMAP_L3_SM_P_20150401_R13080_001.h5"
REAL_ERA5 = "era5/ERA5_cds_example_20100101.nc"
SMAP_SM = "Soil_Moisture_Retrieval_Data/soil_moisture"
#: The request area (N, W, S, E) of BBOX, widened onto the 0.1 deg lattice as the CDS request is.
AREA = [39.4, 109.9, 38.9, 111.4]
BBOX = (110.0, 39.0, 111.25, 39.25)
ERA5_NAME = "ERA5-Land.daily.2010-04.nc"
C3S_TITLE = {
    "COMBINED": "C3S Surface Soil Moisture COMBINED active+passive Product",
    "ACTIVE": "C3S Surface Soil Moisture merged ACTIVE Product",
    "PASSIVE": "C3S Surface Soil Moisture merged PASSIVE Product",
}
C3S_DURATION = {"DAILY": "P1D", "DEKADAL": "P10D", "MONTHLY": "P1M"}
TO_DAILY = r"download the daily COMBINED image ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-"
ACTIVE_REFUSED = (
    r"FILE: 'sm' is in '%s', percent of saturation: an ACTIVE product \(ESA CCI / C3S ACTIVE, "
    r"data type SSMS.*cannot be converted to volumetric m3 m-3 without the soil's porosity \(use "
    r"the daily COMBINED image"
)

Build = Callable[[Path, Path | None], tuple[Callable[[], Any], Path]]


@dataclass(frozen=True)
class Case:
    id: str
    build: Build
    outcome: Outcome
    then: Callable[[Any], None] | None = None
    real: bool = False


# ------------------------------------------------------------------------------ file makers


def edit_nc(path: Path, attrs=None, drop=(), sm=None, sm_drop=(), time=None, nobs=False) -> Path:
    """Set/delete global and ``sm`` attributes, overwrite the time value, add ``nobs``."""
    with netCDF4.Dataset(path, "a") as ds:
        for key, value in (attrs or {}).items():
            ds.setncattr(key, value)
        for key in drop:
            ds.delncattr(key)
        for key, value in (sm or {}).items():
            ds["sm"].setncattr(key, value)
        for key in sm_drop:
            ds["sm"].delncattr(key)
        if time is not None:
            ds["time"][:] = [time]
        if nobs:
            v = ds.createVariable("nobs", "i2", ("time", "lat", "lon"), fill_value=np.int16(-1))
            v.long_name = "Number of valid observation"
    return path


def esa(tmp: Path, name: str = ESA, version: str = "08.1", value: float = 0.3, **edits) -> Path:
    """A demo ESA CCI image (value everywhere on GRID), edited by ``edits`` (see edit_nc)."""
    path = write_esa_cci(
        tmp / name, DAY, np.full(GRID.shape, value), version=version, grid=GRID, complevel=1
    )
    return edit_nc(path, **edits) if edits else path


def c3s(tmp: Path, sensor: str = "COMBINED", res: str = "DAILY", name: str | None = None) -> Path:
    """A C3S image with the real C3S v201706 attributes (demo data)."""
    dtype = "SSMS" if sensor == "ACTIVE" else "SSMV"
    own = f"C3S-SOILMOISTURE-L3S-{dtype}-{sensor}-{res}-{DAY:%Y%m%d}000000-ICDR-v201706.0.0.nc"
    active = sensor == "ACTIVE"
    return esa(
        tmp,
        name or own,
        value=30.0 if active else 0.3,
        attrs={
            "title": C3S_TITLE[sensor],
            "id": own,
            "product_version": "v201706.0",
            "time_coverage_start": f"{DAY - dt.timedelta(days=1):%Y%m%d}T120000Z",
            "time_coverage_duration": C3S_DURATION[res],
            "time_coverage_resolution": "P1D",
        },
        sm={"units": "percent", "long_name": "Percent of Saturation Soil Moisture"}
        if active
        else None,
        nobs=res != "DAILY",
    )


def copy_real(real: Path | None, rel: str, tmp: Path, name: str | None = None) -> Path:
    assert real is not None
    src = real / rel
    if not src.is_file():
        pytest.skip(f"{src} not present")
    return Path(shutil.copyfile(src, tmp / (name or src.name)))


def smap_standin(tmp: Path, name: str, units: str | None = "cm**3/cm**3", value=0.25) -> Path:
    """A later-release (AM/PM groups) SPL3SMP stand-in without metadata."""
    path = tmp / name
    with h5py.File(path, "w") as f:
        g = f.create_group("Soil_Moisture_Retrieval_Data_AM")
        g.create_dataset("soil_moisture", data=np.full((406, 964), value, np.float32))
        if units is not None:
            g["soil_moisture"].attrs["units"] = np.bytes_(units.encode())
        fill = np.full((406, 964), -9999.0, np.float32)
        g.create_dataset("latitude", data=fill)
        g.create_dataset("longitude", data=fill)
    return path


def truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


# ------------------------------------------------------------------------------ calls


def read(path: Path, **kw) -> tuple[Callable[[], Any], Path]:
    kw.setdefault("version", "08.1")
    return (lambda: read_esa_cci(path, GRID, **kw)), path


def read_real(path: Path, **kw) -> tuple[Callable[[], Any], Path]:
    kw.setdefault("version", "04.5")
    return read(path, **kw)


def smap(path: Path) -> tuple[Callable[[], Any], Path]:
    return (lambda: read_smap_l3(path)), path


def smap_target(path: Path, **kw: Any) -> tuple[Callable[[], Any], Path]:
    """The file read as the coarse target over a window of northern China."""
    window = ease2_cover((110.0, 35.0, 114.0, 38.0))
    return (lambda: read_smap_target(path, window, **kw)), path


def era5(path: Path) -> tuple[Callable[[], Any], Path]:
    return (lambda: check_era5_land(path, path, ["swvl1"], BBOX)), path


def era5_month(tmp: Path, **kw) -> Path:
    return write_era5_land_month(tmp / ERA5_NAME, 2010, 4, kw.pop("area", AREA), **kw)


GLDAS_NAME = "GLDAS_NOAH025_3H.A20100401.0300.021.nc4"
DAY_GLDAS = dt.date(2010, 4, 1)


def gldas(path: Path) -> tuple[Callable[[], Any], Path]:
    return (lambda: check_gldas(path, path, BBOX)), path


def gldas_file(tmp: Path, lattice=None, **kw) -> Path:
    lat, lon = lattice if lattice is not None else gldas_lattice(BBOX)
    return write_gldas_file(tmp / GLDAS_NAME, DAY_GLDAS, "0300", lat, lon, **kw)


def mixed_set(tmp: Path, allow: bool) -> tuple[Callable[[], Any], Path]:
    new = esa(tmp)
    old = esa(tmp, esa_cci_file_name(DAY, "07.1"), version="07.1")
    call = lambda: read_esa_cci_days([new, old], GRID, allow_mixed_versions=allow)  # noqa: E731
    return call, new


# ------------------------------------------------------------------------------ checks after


def values(expected: float, version: str | None = None) -> Callable[[Any], None]:
    def then(ds) -> None:
        np.testing.assert_allclose(ds["sm"].values, expected, rtol=1e-6)
        assert ds["time"].values[0] == np.datetime64(DAY)
        assert ds["sm"].attrs["units"] == "m3 m-3"
        if version is not None:
            assert ds.attrs["product_version"] == version

    return then


def real_esa_ok(ds) -> None:
    assert ds.attrs["product_version"] == "04.5" and ds.attrs["sensor"] == "COMBINED"
    assert ds["time"].values[0] == np.datetime64(DAY)
    sm = ds["sm"].values
    assert np.all((sm[np.isfinite(sm)] >= 0) & (sm[np.isfinite(sm)] <= 1))


def smap_real_ok(ds) -> None:
    assert int(np.isfinite(ds["soil_moisture"].values).sum()) == 35_278
    assert ds["time"].values == np.datetime64("2015-04-01")


def smap_percent_by_volume(ds) -> None:
    np.testing.assert_allclose(ds["soil_moisture"].values, 0.25)


def two_versions(images) -> None:
    assert [im.attrs["product_version"] for im in images] == ["08.1", "07.1"]


# ------------------------------------------------------------------------------ the table

CASES = [
    # ESA CCI: genuine, and the unit spellings that mean m3 m-3
    Case("esa-genuine-demo", lambda t, r: read(esa(t)), ok(), values(0.3, "08.1")),
    Case(
        "esa-genuine-real-v04.5",
        lambda t, r: read_real(copy_real(r, REAL_ESA, t)),
        ok(),
        real_esa_ok,
        real=True,
    ),
    Case("esa-units-m3/m3", lambda t, r: read(esa(t, sm={"units": "m3/m3"})), ok()),
    Case("esa-units-m^3 m^-3", lambda t, r: read(esa(t, sm={"units": "m^3 m^-3"})), ok()),
    Case("esa-units-m**3 m**-3", lambda t, r: read(esa(t, sm={"units": "m**3 m**-3"})), ok()),
    # item 1: units
    Case(
        "esa-units-percent",
        lambda t, r: read(esa(t, sm={"units": "percent"})),
        error(ACTIVE_REFUSED % "percent"),
    ),
    Case(
        "esa-units-%",
        lambda t, r: read(esa(t, sm={"units": "%"})),
        error(ACTIVE_REFUSED % "%"),
    ),
    Case(
        "esa-units-vol%-converted",
        lambda t, r: read(esa(t, value=30.0, sm={"units": "vol%"})),
        conversion(r"ESACCI-.*: 'sm' is in 'vol%' \(percent by volume\): divided by 100"),
        values(0.3),
    ),
    Case(
        "esa-units-missing-title-proves-combined",
        lambda t, r: read(esa(t, sm_drop=["units"])),
        conversion(r"'sm' has no units attribute; taken as m3 m-3, .* COMBINED product"),
        values(0.3),
    ),
    Case(
        "esa-units-missing-unproven",
        lambda t, r: read(esa(t, sm_drop=["units"], drop=["title", "id"])),
        error(r"FILE: 'sm' has no units attribute.*\(use the file as the provider delivers it"),
    ),
    Case(
        "esa-units-unknown",
        lambda t, r: read(esa(t, sm={"units": "kg m-2"})),
        error(r"FILE: 'sm' is in 'kg m-2', not volumetric soil moisture in m3 m-3.*use the daily"),
    ),
    # item 2: temporal resolution and the day
    Case(
        "esa-duration-P10D",
        lambda t, r: read(esa(t, attrs={"time_coverage_duration": "P10D"})),
        error(
            r"FILE: is a dekadal \(10-day\) image, not a daily one \(time_coverage_duration "
            r"P10D\) \(the workflow reads daily images: " + TO_DAILY
        ),
    ),
    Case(
        "esa-duration-P1M",
        lambda t, r: read(esa(t, attrs={"time_coverage_duration": "P1M"})),
        error(r"FILE: is a monthly image, not a daily one \(time_coverage_duration P1M\)"),
    ),
    Case(
        "esa-resolution-P1M",
        lambda t, r: read(esa(t, attrs={"time_coverage_resolution": "P1M"})),
        error(r"FILE: is a monthly image.*time_coverage_resolution P1M.*" + TO_DAILY),
    ),
    Case(
        "esa-nobs-variable",
        lambda t, r: read(esa(t, nobs=True)),
        error(r"FILE: is a multi-day composite image.*variable 'nobs'"),
    ),
    Case(
        "esa-time-another-day",
        lambda t, r: read(esa(t, time=DAYNUM + 1)),
        error(
            r"FILE: holds the image of 2010-07-02 \(variable time\), but its name says "
            r"2010-07-01.*download the image of that day again"
        ),
    ),
    Case(
        "esa-time-noon",
        lambda t, r: read(esa(t, time=DAYNUM + 0.5)),
        error(r"FILE: its time is 2010-07-01 12:00; a daily image is stamped 00:00 of its day"),
    ),
    Case(
        "esa-id-another-day",
        lambda t, r: read(esa(t, attrs={"id": esa_cci_file_name(dt.date(2010, 7, 5), "08.1")})),
        error(r"FILE: holds the image of 2010-07-01.*attribute id .* says 2010-07-05"),
    ),
    # item 3: sensor type and version
    Case(
        "esa-title-passive-renamed",
        lambda t, r: read(
            esa(t, attrs={"title": "ESA CCI Surface Soil Moisture merged PASSIVE Product"})
        ),
        error(
            r"FILE: its attributes contradict each other \(attribute title .*: PASSIVE; "
            r"attribute id .*: COMBINED"
        ),
    ),
    Case(
        "esa-passive-renamed-to-combined",
        lambda t, r: read(
            esa(
                t,
                attrs={
                    "title": "ESA CCI Surface Soil Moisture merged PASSIVE Product",
                    "id": ESA.replace("COMBINED", "PASSIVE"),
                },
            )
        ),
        error(
            r"FILE: is an ESA CCI PASSIVE product \(.*\), renamed to a COMBINED name; the "
            r"workflow downscales the COMBINED product \(" + TO_DAILY
        ),
    ),
    Case(
        "esa-passive-by-name-and-title",
        lambda t, r: read(
            esa(
                t,
                ESA.replace("COMBINED", "PASSIVE"),
                attrs={"title": "ESA CCI Surface Soil Moisture merged PASSIVE Product"},
            )
        ),
        error(r"FILE: is an ESA CCI PASSIVE product .* the workflow downscales the COMBINED"),
    ),
    Case(
        "esa-no-sensor-anywhere",
        lambda t, r: read(esa(t, "soil_moisture.nc", drop=["title", "id"])),
        error(r"FILE: neither its name nor its attributes .* say whether it is a COMBINED"),
    ),
    Case(
        "esa-version-attribute-07.1-under-08.1-name",
        lambda t, r: read(esa(t, attrs={"product_version": "07.1"})),
        error(
            r"FILE: holds ESA CCI SM version 07.1 \(attribute product_version\), but config "
            r"esa_cci.version says 08.1 \(use the version 08.1 file, or set "
            r"esa_cci.allow_mixed_versions: true"
        ),
    ),
    Case(
        "esa-version-mismatch-allowed",
        lambda t, r: read(esa(t, attrs={"product_version": "07.1"}), allow_mixed_versions=True),
        conversion(r"holds ESA CCI SM version 07.1 .* accepted since esa_cci.allow_mixed_versions"),
        values(0.3, "07.1"),
    ),
    Case(
        "esa-config-version-04.5",
        lambda t, r: read(esa(t), version="04.5"),
        error(r"FILE: holds ESA CCI SM version 08.1 .*but config esa_cci.version says 04.5"),
    ),
    Case(
        "esa-mixed-version-set",
        lambda t, r: mixed_set(t, allow=False),
        error(
            r"FILE: the files read together are of 2 product versions \(07.1: 1 file\(s\).*"
            r"08.1: 1 file\(s\).*set esa_cci.allow_mixed_versions: true"
        ),
    ),
    Case(
        "esa-mixed-version-set-allowed",
        lambda t, r: mixed_set(t, allow=True),
        conversion(r"ESA CCI files of 2 product versions"),
        two_versions,
    ),
    # clear errors before this change
    Case(
        "esa-truncated",
        lambda t, r: read(truncate(esa(t))),
        error(r"FILE: not a readable NetCDF file.*delete it and download it again"),
    ),
    Case(
        "esa-html-login-page",
        lambda t, r: read(_write(t / ESA, "<html>login required</html>")),
        error(r"FILE: not a readable NetCDF file"),
    ),
    Case(
        "esa-wrong-variable",
        lambda t, r: read(_bare(t / ESA, "soil_moisture", global_grid(0.25))),
        error(r"FILE: no 'sm' variable \(variables: .*soil_moisture\)"),
    ),
    Case(
        "esa-half-degree-grid",
        lambda t, r: read(_bare(t / ESA, "sm", global_grid(0.5))),
        error(r"FILE: lat has 360 values .*global 0.25 deg grid"),
    ),
    # the real v04.5 image, edited
    Case(
        "esa-real-units-percent",
        lambda t, r: read_real(edit_nc(copy_real(r, REAL_ESA, t), sm={"units": "percent"})),
        error(
            r"FILE: 'sm' is in 'percent', percent of saturation: an ACTIVE product .*; yet "
            r"attribute title .*: COMBINED.*the file is not what it claims to be\), which cannot "
            r"be converted to volumetric m3 m-3 without the soil's porosity \(use the daily"
        ),
        real=True,
    ),
    Case(
        "esa-real-duration-P1M",
        lambda t, r: read_real(
            edit_nc(copy_real(r, REAL_ESA, t), attrs={"time_coverage_duration": "P1M"})
        ),
        error(r"FILE: is a monthly image, not a daily one"),
        real=True,
    ),
    Case(
        "esa-real-under-config-08.1",
        lambda t, r: read(copy_real(r, REAL_ESA, t)),
        error(r"FILE: holds ESA CCI SM version 04.5 .* config esa_cci.version says 08.1"),
        real=True,
    ),
    # C3S (attributes as in the real C3S v201706 files)
    Case(
        "c3s-combined-daily-genuine",
        lambda t, r: read(c3s(t), version=None),
        ok(),
        values(0.3, "v201706.0"),
    ),
    Case(
        "c3s-active-daily",
        lambda t, r: read(c3s(t, "ACTIVE"), version=None),
        error(
            r"FILE: 'sm' is in 'percent', percent of saturation: an ACTIVE product .*merged ACTIVE"
        ),
    ),
    Case(
        "c3s-active-renamed-to-esa-cci-combined",
        lambda t, r: read(c3s(t, "ACTIVE", name=ESA)),
        error(
            r"FILE: 'sm' is in 'percent', percent of saturation: an ACTIVE product.*merged ACTIVE"
        ),
    ),
    Case(
        "c3s-combined-dekadal",
        lambda t, r: read(c3s(t, res="DEKADAL"), version=None),
        error(
            r"FILE: is a dekadal \(10-day\) image, not a daily one \(its name says DEKADAL; "
            r"attribute id .*; time_coverage_duration P10D; variable 'nobs'"
        ),
    ),
    Case(
        "c3s-combined-monthly",
        lambda t, r: read(c3s(t, res="MONTHLY"), version=None),
        error(r"FILE: is a monthly image, not a daily one \(its name says MONTHLY"),
    ),
    Case(
        "c3s-passive-daily",
        lambda t, r: read(c3s(t, "PASSIVE"), version=None),
        error(r"FILE: is a C3S PASSIVE product .*the workflow downscales the COMBINED product"),
    ),
    Case(
        "c3s-combined-renamed-to-esa-cci",
        lambda t, r: read(c3s(t, name=ESA)),
        error(
            r"FILE: holds C3S SM version v201706.0 \(attribute product_version\), but config "
            r"esa_cci.version says 08.1"
        ),
    ),
    # SMAP
    Case(
        "smap-genuine-real",
        lambda t, r: smap(copy_real(r, REAL_SMAP, t)),
        ok(),
        smap_real_ok,
        real=True,
    ),
    Case(
        "smap-target-other-release",
        lambda t, r: smap_target(copy_real(r, REAL_SMAP, t), crid="R19240"),
        error(r"FILE: its name is not of release R19240 \(config smap.crid\)"),
        real=True,
    ),
    Case(
        "smap-target-pm-from-early-release",
        lambda t, r: smap_target(copy_real(r, REAL_SMAP, t), pass_="AM_then_PM"),
        error(r"FILE: this early-release file has only the descending \(AM\) pass"),
        real=True,
    ),
    Case(
        "smap-real-units-percent",
        lambda t, r: smap(_smap_units(copy_real(r, REAL_SMAP, t), "percent")),
        error(
            r"FILE: /Soil_Moisture_Retrieval_Data/soil_moisture is in 'percent', percent of "
            r"saturation, not volumetric \(not a SMAP L3_SM_P \(SPL3SMP\) file"
        ),
        real=True,
    ),
    Case(
        "smap-real-units-missing-metadata-proves",
        lambda t, r: smap(_smap_units(copy_real(r, REAL_SMAP, t), None)),
        conversion(r"soil_moisture has no units attribute; taken as m3 m-3 .*SPL3SMP"),
        smap_real_ok,
        real=True,
    ),
    Case(
        "smap-real-renamed-to-another-day",
        lambda t, r: smap(copy_real(r, REAL_SMAP, t, "SMAP_L3_SM_P_20150402_R13080_001.h5")),
        error(
            r"FILE: its name and its metadata give different days \(its name: 2015-04-02; "
            r"Metadata/DatasetIdentification fileName: 2015-04-01.*download the file"
        ),
        real=True,
    ),
    Case(
        "smap-standin-vol%-converted",
        lambda t, r: smap(smap_standin(t, "SMAP_L3_SM_P_20200401_R17000_001.h5", "vol%", 25.0)),
        conversion(r"soil_moisture is in 'vol%' \(percent by volume\): divided by 100"),
        smap_percent_by_volume,
    ),
    Case(
        "smap-standin-units-missing-unproven",
        lambda t, r: smap(smap_standin(t, "SMAP_L3_SM_P_20200401_R17000_001.h5", None)),
        error(r"FILE: .*soil_moisture has no units attribute, and its metadata do not name"),
    ),
    Case(
        "smap-standin-no-day",
        lambda t, r: smap(smap_standin(t, "smap.h5")),
        error(r"FILE: neither its name .* nor its metadata give its day \(use the file as NSIDC"),
    ),
    Case(
        "smap-9km-shape",
        lambda t, r: smap(_smap_9km(t / "SMAP_L3_SM_P_E_20200401_R17000_001.h5")),
        error(r"FILE: soil_moisture has shape \(20, 30\), not \(406, 964\)"),
    ),
    Case(
        "smap-not-hdf5",
        lambda t, r: smap(_write(t / "SMAP_L3_SM_P_20200401_R17000_001.h5", "not hdf5")),
        error(r"FILE: not a readable HDF5 file.*download it again"),
    ),
    # GLDAS Noah (issue 16, item 4)
    Case("gldas-genuine", lambda t, r: gldas(gldas_file(t)), ok()),
    Case(
        "gldas-units-volumetric",
        lambda t, r: gldas(gldas_file(t, units="m3 m-3")),
        error(r"FILE: 'SoilMoi0_10cm_inst' is in 'm3 m-3', not kg m-2"),
    ),
    Case(
        "gldas-units-missing",
        lambda t, r: gldas(gldas_file(t, units=None)),
        error(r"FILE: 'SoilMoi0_10cm_inst' has no units attribute, not kg m-2"),
    ),
    Case(
        "gldas-1-deg-grid",
        lambda t, r: gldas(gldas_file(t, (np.arange(38.5, 40.0), np.arange(109.5, 112.0)))),
        error(r"FILE: lat steps by 1 deg, not GLDAS's 0.25 deg"),
    ),
    Case(
        "gldas-other-region",
        lambda t, r: gldas(gldas_file(t, gldas_lattice((100.0, 44.0, 101.0, 45.0)))),
        error(r"FILE: covers latitude 44.*not the region"),
    ),
    Case(
        "gldas-time-not-its-name",
        lambda t, r: gldas(gldas_file(t, time_offset_hours=3)),
        error(r"FILE: holds 2010-04-01 06:00, its name says 2010-04-01 03:00"),
    ),
    Case(
        "gldas-no-variable",
        lambda t, r: gldas(gldas_file(t, variable="SoilMoi10_40cm_inst")),
        error(r"FILE: has no variable 'SoilMoi0_10cm_inst'"),
    ),
    Case(
        "gldas-truncated",
        lambda t, r: gldas(truncate(gldas_file(t))),
        error(r"FILE: not a readable NetCDF file.*again"),
    ),
    # ERA5-Land (item 16)
    Case("era5land-genuine", lambda t, r: era5(era5_month(t)), ok()),
    Case(
        "era5land-units-percent",
        lambda t, r: era5(era5_month(t, units="%")),
        error(r"FILE: 'swvl1' is in '%', not volumetric soil water .*request ERA5-Land daily"),
    ),
    Case(
        "era5land-units-missing",
        lambda t, r: era5(era5_month(t, units=None)),
        error(r"FILE: 'swvl1' has no units attribute, not volumetric soil water"),
    ),
    Case(
        "era5land-hourly",
        lambda t, r: era5(era5_month(t, step_hours=1, days=2)),
        error(r"FILE: valid_time steps by 1 h; ERA5-Land daily statistics hold one value a day"),
    ),
    Case(
        "era5land-0.25-deg-grid",
        lambda t, r: era5(era5_month(t, res=0.25)),
        error(r"FILE: latitude steps by 0.25 deg, not ERA5-Land's 0.1 deg"),
    ),
    Case(
        "era5land-other-region",
        lambda t, r: era5(era5_month(t, area=[45.0, 100.0, 44.0, 101.0])),
        error(r"FILE: covers latitude 44..45, longitude 100..101, not the region 39..39.25 N"),
    ),
    Case(
        "era5land-month-incomplete",
        lambda t, r: era5(era5_month(t, days=29)),
        error(r"FILE: holds 2010-04-01..2010-04-29 \(29 days\), but its name says 2010-04 \(30"),
    ),
    Case(
        "era5land-no-swvl1",
        lambda t, r: era5(era5_month(t, variable="stl1")),
        error(r"FILE: has no variable 'swvl1' \(variables: .*stl1\)"),
    ),
    Case(
        "era5land-truncated",
        lambda t, r: era5(truncate(era5_month(t))),
        error(r"FILE: not a readable NetCDF file.*download it again"),
    ),
    Case(
        "era5-real-6-hourly-5-deg",
        lambda t, r: era5(copy_real(r, REAL_ERA5, t, ERA5_NAME)),
        error(r"FILE: latitude steps by 5 deg, not ERA5-Land's 0.1 deg \(this is not an ERA5-Land"),
        real=True,
    ),
]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _bare(path: Path, variable: str, grid: LatLonGrid) -> Path:
    """A NetCDF with lat, lon and one (time, lat, lon) variable, nothing else."""
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", 1)
        ds.createDimension("lat", grid.nlat)
        ds.createDimension("lon", grid.nlon)
        ds.createVariable("lat", "f4", ("lat",))[:] = grid.lat
        ds.createVariable("lon", "f4", ("lon",))[:] = grid.lon
        ds.createVariable(variable, "f4", ("time", "lat", "lon"), fill_value=-9999.0)[:] = 0.2
    return path


def _smap_units(path: Path, units: str | None) -> Path:
    with h5py.File(path, "a") as f:
        attrs = f[SMAP_SM].attrs
        if units is None:
            del attrs["units"]
        else:
            attrs["units"] = np.bytes_(units.encode())
    return path


def _smap_9km(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        g = f.create_group("Soil_Moisture_Retrieval_Data_AM")
        for name in ("soil_moisture", "latitude", "longitude"):
            g.create_dataset(name, data=np.zeros((20, 30), np.float32))
    return path


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id, marks=[pytest.mark.realdata] if c.real else []) for c in CASES],
)
def test_satellite_product(case: Case, tmp_path: Path, caplog, request) -> None:
    real = request.getfixturevalue("realdata") if case.real else None
    call, path = case.build(tmp_path, real)
    outcome = replace(
        case.outcome, pattern=case.outcome.pattern.replace("FILE", re.escape(str(path)))
    )
    result = check(outcome, call, caplog)
    if case.then is not None:
        case.then(result)


def test_the_table_covers_every_product_and_outcome() -> None:
    assert len(CASES) >= 18 and len({c.id for c in CASES}) == len(CASES)
    for prefix in ("esa-", "c3s-", "smap-", "era5"):
        assert any(c.id.startswith(prefix) for c in CASES), prefix
    assert {c.outcome.kind for c in CASES} == {"ok", "error", "conversion"}
