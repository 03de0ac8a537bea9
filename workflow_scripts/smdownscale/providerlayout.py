"""What a raw file is, from its name and folders, in the providers' layouts or the project's.

The providers file their products in trees of their own (``<stamp>``: the 13-digit production
time stamp YYYYDDDHHMMSS of LP DAAC names):

- ESA CCI, CEDA: ``daily_files/COMBINED/v08.1/2010/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-
  20100407000000-fv08.1.nc``
- MOD11A1, LP DAAC: ``MOD11A1.061/2010.04.07/MOD11A1.A2010097.h26v05.061.<stamp>.hdf``
- MOD13A2, LP DAAC: ``MOD13A2.061/2010.04.07/MOD13A2.A2010097.h26v05.061.<stamp>.hdf`` (the
  folder is the composite's first day)
- MCD43C3, LP DAAC: ``MCD43C3.061/2010.04.07/MCD43C3.A2010097.061.<stamp>.hdf``
- SRTMGL3, LP DAAC: ``SRTMGL3.003/2000.02.11/N39E110.SRTMGL3.hgt.zip``
- SMAP L3 (SPL3SMP), NSIDC: ``SPL3SMP.009/2015.04.01/SMAP_L3_SM_P_20150401_R19240_001.h5``
  (the version is the composite release ID, R19240; ``_001`` counts reprocessings)
- IMERG, GES DISC: ``GPM_3IMERGDF.07/2010/04/3B-DAY.MS.MRG.3IMERG.20100407-S000000-E235959.
  V07B.nc4``

:func:`parse` reads what a file is from its name (product, day, tile, version, the 13-digit
production time stamp of the LP DAAC names) wherever it lies under a root, so a tree need not
match any one path pattern: mirrors add host and collection folders above these, users keep
several versions side by side. The folders that do say something (a ``v08.1`` or
``MOD11A1.061`` folder, an LP DAAC date folder, a GES DISC year/month pair) must agree with
the name; a contradiction is reported (the name wins: it is what the readers check the
file's content against). Names in the project's own layout (:mod:`smdownscale.rawlayout`:
the same names without production time stamp) parse too.

:func:`provider_relpath` is the inverse for the demo, which can write its world in the
providers' layouts; :func:`project_relpath` names a granule in the project's layout, the
canonical name the download plan uses.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from . import rawlayout

#: Product keys (those of ``download.urls`` and ``archives``), in the order of the tables.
PRODUCTS = ("esa_cci", "smap_l3", "mod11a1", "mod13a2", "mcd43c3", "imerg", "srtm")
#: How the products call themselves in names and messages.
TITLES = {
    "esa_cci": "ESA CCI SM",
    "smap_l3": "SMAP L3",
    "mod11a1": "MOD11A1",
    "mod13a2": "MOD13A2",
    "mcd43c3": "MCD43C3",
    "imerg": "IMERG",
    "srtm": "SRTMGL3",
}
#: The collection of the MODIS family the readers read, and the IMERG version downloaded.
MODIS_COLLECTION = "061"
IMERG_VERSION = "V07B"
SRTM_VERSION = "003"
#: The SMAP L3 release read unless the config says otherwise (SPL3SMP version 9).
SMAP_CRID = "R19240"
#: The products that can be a run's coarse target (config ``grid.coarse_product``).
TARGET_PRODUCTS = ("esa_cci", "smap_l3")

_ESA = re.compile(
    r"ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-(?P<ymd>\d{8})000000-fv(?P<version>\d{2}\.\d)\.nc"
)
_MODIS = re.compile(
    r"(?P<product>MOD11A1|MOD13A2|MCD43C3)\.A(?P<yyyyddd>\d{7})(?:\.h(?P<h>\d\d)v(?P<v>\d\d))?"
    r"\.(?P<version>\d{3})(?:\.(?P<stamp>\d{13}))?\.hdf"
)
_SMAP = re.compile(r"SMAP_L3_SM_P_(?P<ymd>\d{8})_(?P<version>R\d{5})_(?P<stamp>\d{3})\.h5")
_SRTM = re.compile(r"(?P<tile>[NS]\d\d[EW]\d{3})\.SRTMGL3\.hgt\.zip")
_IMERG = re.compile(
    r"3B-DAY\.MS\.MRG\.3IMERG\.(?P<ymd>\d{8})-S000000-E235959\.(?P<version>V\d\d[A-Z]?)\.nc4"
)
_LPDAAC_FOLDER = re.compile(r"(?P<short>MOD11A1|MOD13A2|MCD43C3|SRTMGL3)\.(?P<version>\d{3})")
_DATE_FOLDER = re.compile(r"\d{4}\.\d\d\.\d\d")


@dataclass(frozen=True, order=True)
class Granule:
    """One unit of a product the run reads: a day (or composite), a tile, or both."""

    product: str
    day: dt.date | None  # None for SRTM (static)
    tile: str | None  # "h26v05" (MODIS), "N39E110" (SRTM), None for global files

    def describe(self) -> str:
        parts = [TITLES[self.product]]
        if self.day is not None:
            parts.append(str(self.day))
        if self.tile is not None:
            parts.append(self.tile)
        return " ".join(parts)


@dataclass(frozen=True)
class Found:
    """A file under a root and what its name says it is."""

    granule: Granule
    version: str  # "08.1" (ESA CCI), "061" (MODIS), "V07B" (IMERG), "003" or "" (SRTM)
    stamp: str  # LP DAAC production time stamp YYYYDDDHHMMSS, "" when the name has none
    path: str
    problem: str | None = None  # a folder that contradicts the name

    def rank(self) -> tuple[str, str, str]:
        """Newer versions, then later production, sort last."""
        return (self.version, self.stamp, self.path)


def _day(ymd: str | None = None, yyyyddd: str | None = None) -> dt.date | None:
    try:
        if ymd is not None:
            return dt.datetime.strptime(ymd, "%Y%m%d").date()
        return dt.datetime.strptime(str(yyyyddd), "%Y%j").date()
    except ValueError:
        return None


def parse_name(name: str) -> tuple[Granule, str, str] | None:
    """(granule, version, stamp) of a product file name; None for any other file (browse
    images, ``.xml`` side files, checksums, station archives)."""
    if m := _ESA.fullmatch(name):
        day = _day(ymd=m["ymd"])
        return (Granule("esa_cci", day, None), m["version"], "") if day else None
    if m := _SMAP.fullmatch(name):
        day = _day(ymd=m["ymd"])
        return (Granule("smap_l3", day, None), m["version"], m["stamp"]) if day else None
    if m := _MODIS.fullmatch(name):
        day = _day(yyyyddd=m["yyyyddd"])
        tiled = m["product"] != "MCD43C3"
        if day is None or tiled != (m["h"] is not None):
            return None
        tile = f"h{m['h']}v{m['v']}" if tiled else None
        return Granule(m["product"].lower(), day, tile), m["version"], m["stamp"] or ""
    if m := _SRTM.fullmatch(name):
        return Granule("srtm", None, m["tile"]), "", ""
    if m := _IMERG.fullmatch(name):
        day = _day(ymd=m["ymd"])
        return (Granule("imerg", day, None), m["version"], "") if day else None
    return None


def _folder_problem(g: Granule, version: str, folders: tuple[str, ...]) -> tuple[str, str | None]:
    """(version, problem): the SRTM version from its ``SRTMGL3.NNN`` folder, and what a folder
    says against the name, if anything."""
    said: list[str] = []
    for part in folders:
        lp = _LPDAAC_FOLDER.fullmatch(part)
        if lp and g.product in ("mod11a1", "mod13a2", "mcd43c3", "srtm"):
            if lp["short"] != TITLES[g.product]:
                said.append(f"folder {part} is for {lp['short']}")
            elif g.product == "srtm":
                version = lp["version"]
            elif lp["version"] != version:
                said.append(f"folder {part} is collection {lp['version']}")
        if g.product == "esa_cci" and re.fullmatch(r"v\d{2}\.\d", part) and part[1:] != version:
            said.append(f"folder {part} is version {part[1:]}")
        if g.product == "imerg" and (im := re.fullmatch(r"GPM_3IMERGDF\.(\d\d)", part)):
            if im.group(1) != version[1:3]:
                said.append(f"folder {part} is version {im.group(1)}")
    parent = folders[-1] if folders else ""
    grand = folders[-2] if len(folders) > 1 else ""
    if g.day is not None:
        dated = ("mod11a1", "mod13a2", "mcd43c3", "smap_l3")
        if g.product in dated and _DATE_FOLDER.fullmatch(parent):
            if parent != f"{g.day:%Y.%m.%d}":
                said.append(f"date folder {parent}")
        if g.product == "esa_cci" and re.fullmatch(r"\d{4}", parent) and parent != str(g.day.year):
            said.append(f"year folder {parent}")
        if g.product == "imerg" and re.fullmatch(r"\d\d", parent) and re.fullmatch(r"\d{4}", grand):
            if (grand, parent) != (f"{g.day:%Y}", f"{g.day:%m}"):
                said.append(f"year/month folders {grand}/{parent}")
    if not said:
        return version, None
    return version, f"its name says {g.describe()} (version {version}) but " + ", ".join(said)


def parse(relpath: str, root: str = "") -> Found | None:
    """What the file at ``root/relpath`` is, by its name and the folders between root and it."""
    p = PurePosixPath(relpath)
    parsed = parse_name(p.name)
    if parsed is None:
        return None
    granule, version, stamp = parsed
    version, problem = _folder_problem(granule, version, p.parts[:-1])
    path = str(PurePosixPath(root) / p) if root else str(p)
    return Found(granule, version, stamp, path, problem)


def eligible(found: Found, esa_cci_version: str, smap_crid: str = SMAP_CRID) -> bool:
    """Whether the workflow may read the file: the configured ESA CCI version and SMAP
    release, MODIS collection 061, IMERG of the downloaded major version (V07); any
    SRTMGL3 tile."""
    product = found.granule.product
    if product == "esa_cci":
        return found.version == esa_cci_version
    if product == "smap_l3":
        return found.version == smap_crid
    if product in ("mod11a1", "mod13a2", "mcd43c3"):
        return found.version == MODIS_COLLECTION
    if product == "imerg":
        return found.version[:3] == IMERG_VERSION[:3]
    return True


def demo_stamp(g: Granule) -> str:
    """The production time stamp the demo gives a granule: fixed by what it holds, so the
    demo's provider names are known before its files are written (a few days after the
    data, as at LP DAAC)."""
    assert g.day is not None
    lag = {"mod11a1": 1, "mod13a2": 20, "mcd43c3": 9}[g.product]
    return f"{g.day + dt.timedelta(days=lag):%Y%j}031500"


def stamp_time(stamp: str) -> dt.datetime:
    """A 13-digit LP DAAC production time stamp as a time (UTC, naive)."""
    return dt.datetime.strptime(stamp, "%Y%j%H%M%S")


def _modis_name(g: Granule, version: str, stamp: str) -> str:
    assert g.day is not None
    short = TITLES[g.product]
    tile = f".{g.tile}" if g.tile else ""
    tail = f".{stamp}" if stamp else ""
    return f"{short}.A{g.day:%Y%j}{tile}.{version}{tail}.hdf"


def smap_collection(crid: str) -> str:
    """The NSIDC collection folder number of a SMAP L3 release, for the demo's provider
    tree: R19xxx is SPL3SMP.009, R18xxx .008 (composite release IDs count the major version
    in their second and third digits from version 7 on). Real trees are read by file name,
    whatever their folders are called."""
    return f"{int(crid[1:3]) - 10:03d}"


def provider_relpath(g: Granule, version: str, stamp: str = "") -> str:
    """Where the provider files the granule (relative to a root holding its collections)."""
    if g.product == "esa_cci":
        assert g.day is not None
        name = PurePosixPath(rawlayout.esa_cci(g.day, version)).name
        return f"daily_files/COMBINED/v{version}/{g.day.year}/{name}"
    if g.product == "smap_l3":
        assert g.day is not None
        name = PurePosixPath(rawlayout.smap_l3(g.day, version, stamp or "001")).name
        return f"SPL3SMP.{smap_collection(version)}/{g.day:%Y.%m.%d}/{name}"
    if g.product in ("mod11a1", "mod13a2", "mcd43c3"):
        assert g.day is not None
        folder = f"{TITLES[g.product]}.{version}/{g.day:%Y.%m.%d}"
        return f"{folder}/{_modis_name(g, version, stamp)}"
    if g.product == "srtm":
        return f"SRTMGL3.{version or SRTM_VERSION}/2000.02.11/{g.tile}.SRTMGL3.hgt.zip"
    if g.product == "imerg":
        assert g.day is not None
        name = PurePosixPath(rawlayout.imerg(g.day, version)).name
        return f"GPM_3IMERGDF.{version[1:3]}/{g.day:%Y}/{g.day:%m}/{name}"
    raise ValueError(f"unknown product {g.product!r}")


def project_relpath(g: Granule, esa_cci_version: str, smap_crid: str = SMAP_CRID) -> str:
    """The granule's path in the project's layout (:mod:`smdownscale.rawlayout`), in the
    version the run reads: where the demo and the downloads put it."""
    if g.product == "esa_cci":
        assert g.day is not None
        return rawlayout.esa_cci(g.day, esa_cci_version)
    if g.product == "smap_l3":
        assert g.day is not None
        return rawlayout.smap_l3(g.day, smap_crid)
    if g.product in ("mod11a1", "mod13a2"):
        assert g.day is not None and g.tile is not None
        h, v = int(g.tile[1:3]), int(g.tile[4:6])
        return rawlayout.modis_tile(TITLES[g.product], g.day, h, v, MODIS_COLLECTION)
    if g.product == "mcd43c3":
        assert g.day is not None
        return rawlayout.mcd43c3(g.day, MODIS_COLLECTION)
    if g.product == "imerg":
        assert g.day is not None
        return rawlayout.imerg(g.day, IMERG_VERSION)
    if g.product == "srtm":
        assert g.tile is not None
        lat = int(g.tile[1:3]) * (1 if g.tile[0] == "N" else -1)
        lon = int(g.tile[4:7]) * (1 if g.tile[3] == "E" else -1)
        return rawlayout.srtm(lat, lon)
    raise ValueError(f"unknown product {g.product!r}")


def period_granules(
    days: list[dt.date],
    composites: list[dt.date],
    modis_tiles: list[tuple[int, int]],
    target: str = "esa_cci",
) -> dict[str, list[Granule]]:
    """The granules a period reads, by product, in the order of days (composites) and tiles:
    the coarse ``target``'s (a product of :data:`TARGET_PRODUCTS`) first."""
    if target not in TARGET_PRODUCTS:
        raise ValueError(f"unknown coarse product {target!r}; one of {TARGET_PRODUCTS}")
    tiles = [f"h{h:02d}v{v:02d}" for h, v in modis_tiles]
    return {
        target: [Granule(target, d, None) for d in days],
        "mod11a1": [Granule("mod11a1", d, t) for d in days for t in tiles],
        "mod13a2": [Granule("mod13a2", s, t) for s in composites for t in tiles],
        "mcd43c3": [Granule("mcd43c3", d, None) for d in days],
        "imerg": [Granule("imerg", d, None) for d in days],
    }


def static_granules(srtm_tiles: list[tuple[int, int]]) -> dict[str, list[Granule]]:
    """The SRTM tiles of the region."""
    return {"srtm": [Granule("srtm", None, rawlayout.srtm_tile_name(*t)) for t in srtm_tiles]}
