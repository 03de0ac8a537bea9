"""The products the workflow downloads: raw paths, provider names, URLs and format checks.

Raw paths are those of :mod:`smdownscale.rawlayout` (plus the evaluation references, whose
layout is defined here). A provider URL comes either from a
template in ``download.urls.<product>`` (so a mirror can be used) or, for the products whose
file names carry a production time stamp (MODIS, MCD43C3, SRTM), from the provider's
catalogue (:mod:`.catalogue`). Templates are Python format strings with the placeholders
``{name}`` (the provider's file name), ``{date}`` (a date: ``{date:%Y.%m.%d}``), ``{year}``,
``{month}`` (two digits), ``{doy}`` (three digits), ``{version}`` and ``{tile}``.

The format check of each product opens the file with the reader the workflow itself uses
(:mod:`smdownscale.products`) and checks that it holds what its name says (day, tile);
ERA5-Land and GLDAS Noah by their readers' checks, TerraClimate by opening as NetCDF and
holding the expected variable.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import rawlayout

#: Placeholders a URL template may use.
PLACEHOLDERS = ("name", "date", "year", "month", "doy", "version", "tile")


@dataclass(frozen=True)
class CmrQuery:
    """How to ask NASA's CMR for a product's granules."""

    short_name: str
    version: str
    by: str  # "tile" (MODIS tiles by name pattern), "bbox" (SRTM) or "time" (global files)


@dataclass(frozen=True)
class Product:
    """One downloadable product.

    ``relpath`` matches a raw path relative to the raw folder (named groups give the
    granule's fields); ``provider_name`` matches the provider's own file name in a
    catalogue and ``to_relpath`` maps its match to the raw path. ``resource`` is the
    Snakemake resource that bounds parallel connections to the provider's host.
    ``nominal_mb`` is a typical file size, used for estimates before a catalogue lists the
    real sizes.
    """

    key: str
    title: str
    relpath: re.Pattern[str]
    auth: str  # "earthdata", "public" or "cds"
    resource: str
    nominal_mb: float
    cmr: CmrQuery | None = None
    provider_name: re.Pattern[str] | None = None
    to_relpath: Callable[[re.Match[str]], str] | None = None

    def fields(self, relpath: str) -> dict[str, Any]:
        """The granule's fields (date, tile, version, ...) from its raw path."""
        m = self.relpath.fullmatch(relpath)
        if not m:
            raise ValueError(f"{relpath!r} is not a raw path of {self.title}")
        return granule_fields(m.groupdict())

    def nominal_bytes(self) -> int:
        return int(self.nominal_mb * 1e6)


def _date_of(yyyyddd: str) -> dt.date:
    return dt.datetime.strptime(yyyyddd, "%Y%j").date()


def granule_fields(groups: Mapping[str, str | None]) -> dict[str, Any]:
    """Typed fields from a path match: date, year, month, doy, version, tile, name."""
    out: dict[str, Any] = {k: v for k, v in groups.items() if v is not None}
    day = None
    if "ymd" in out:
        day = dt.datetime.strptime(out.pop("ymd"), "%Y%m%d").date()
    elif "yyyyddd" in out:
        day = _date_of(out.pop("yyyyddd"))
    elif "ym" in out:
        day = dt.datetime.strptime(out.pop("ym"), "%Y-%m").date()
    if day is not None:
        out["date"] = day
        out["year"] = day.year
        out["month"] = f"{day.month:02d}"
        out["doy"] = f"{day.timetuple().tm_yday:03d}"
    elif "year" in out:
        out["year"] = int(out["year"])
    if "h" in out:
        out["tile"] = f"h{out.pop('h')}v{out.pop('v')}"
    return out


def _modis_relpath(m: re.Match[str]) -> str:
    h, v = int(m["h"]), int(m["v"])
    return rawlayout.modis_tile(m["product"], _date_of(m["yyyyddd"]), h, v, m["collection"])


def _mcd43c3_relpath(m: re.Match[str]) -> str:
    return rawlayout.mcd43c3(_date_of(m["yyyyddd"]), m["collection"])


def _srtm_relpath(m: re.Match[str]) -> str:
    lat = int(m["lat"]) * (1 if m["ns"] == "N" else -1)
    lon = int(m["lon"]) * (1 if m["ew"] == "E" else -1)
    return rawlayout.srtm(lat, lon)


def _modis_product(key: str, name: str, title: str, nominal_mb: float) -> Product:
    return Product(
        key=key,
        title=title,
        relpath=re.compile(
            rf"{name}/(?P<year>\d{{4}})/{name}\.A(?P<yyyyddd>\d{{7}})\.h(?P<h>\d\d)v(?P<v>\d\d)"
            r"\.(?P<collection>\d{3})\.hdf"
        ),
        auth="earthdata",
        resource="lpdaac_connections",
        nominal_mb=nominal_mb,
        cmr=CmrQuery(name, "061", "tile"),
        provider_name=re.compile(
            rf"(?P<product>{name})\.A(?P<yyyyddd>\d{{7}})\.h(?P<h>\d\d)v(?P<v>\d\d)"
            r"\.(?P<collection>\d{3})\.\d{13}\.hdf"
        ),
        to_relpath=_modis_relpath,
    )


#: Every downloadable product by key (the key of ``download.urls``).
PRODUCTS: dict[str, Product] = {
    p.key: p
    for p in [
        Product(
            key="esa_cci",
            title="ESA CCI SM COMBINED daily",
            relpath=re.compile(
                r"esa_cci/(?P<year>\d{4})/(?P<name>ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-"
                r"(?P<ymd>\d{8})000000-fv(?P<version>\d\d\.\d)\.nc)"
            ),
            auth="public",
            resource="ceda_connections",
            nominal_mb=2.2,  # the real v04.5 image of 2010-07-01: 2,230,881 bytes
        ),
        Product(
            key="smap_l3",
            title="SMAP L3 radiometer daily 36 km (SPL3SMP)",
            relpath=re.compile(
                r"SPL3SMP/(?P<year>\d{4})/(?P<name>SMAP_L3_SM_P_(?P<ymd>\d{8})_"
                r"(?P<version>R\d{5})_(?P<counter>\d{3})\.h5)"
            ),
            auth="earthdata",
            resource="nsidc_connections",
            nominal_mb=12.5,  # the real R13080 file of 2015-04-01: 12,451,712 bytes
        ),
        # 3 to 6 MB per land tile (12 SDS); the real h11v05 file of the tests, mostly sea
        # and cloud, is 0.75 MB
        _modis_product("mod11a1", "MOD11A1", "MODIS Terra LST daily 1 km (MOD11A1 v061)", 4.0),
        # 12 SDS, mostly int16; the real h11v06 file (half sea) is 1.6 MB
        _modis_product("mod13a2", "MOD13A2", "MODIS Terra 16-day NDVI 1 km (MOD13A2 v061)", 8.0),
        Product(
            key="mcd43c3",
            title="MODIS albedo daily 0.05 deg CMG (MCD43C3 v061)",
            relpath=re.compile(
                r"MCD43C3/(?P<year>\d{4})/MCD43C3\.A(?P<yyyyddd>\d{7})\.(?P<collection>\d{3})\.hdf"
            ),
            auth="earthdata",
            resource="lpdaac_connections",
            nominal_mb=185.0,  # LP DAAC lists ~185 MB for a global CMG file (3600 x 7200, 24 SDS)
            cmr=CmrQuery("MCD43C3", "061", "time"),
            provider_name=re.compile(
                r"MCD43C3\.A(?P<yyyyddd>\d{7})\.(?P<collection>\d{3})\.\d{13}\.hdf"
            ),
            to_relpath=_mcd43c3_relpath,
        ),
        Product(
            key="imerg",
            title="GPM IMERG Final daily (GPM_3IMERGDF)",
            relpath=re.compile(
                r"IMERG/(?P<year>\d{4})/(?P<name>3B-DAY\.MS\.MRG\.3IMERG\.(?P<ymd>\d{8})"
                r"-S000000-E235959\.(?P<version>V\d\d[A-Z]?)\.nc4)"
            ),
            auth="earthdata",
            resource="gesdisc_connections",
            nominal_mb=30.0,  # global 0.1 deg, 3 float and 6 count fields, compressed (rough)
        ),
        Product(
            key="srtm",
            title="SRTMGL3 elevation tile",
            relpath=re.compile(r"SRTMGL3/(?P<tile>[NS]\d\d[EW]\d{3})\.SRTMGL3\.hgt\.zip"),
            auth="earthdata",
            resource="lpdaac_connections",
            nominal_mb=2.0,  # a zipped 1201 x 1201 int16 grid (2.9 MB unzipped)
            cmr=CmrQuery("SRTMGL3", "003", "bbox"),
            provider_name=re.compile(
                r"(?P<ns>[NS])(?P<lat>\d\d)(?P<ew>[EW])(?P<lon>\d{3})\.SRTMGL3\.hgt\.zip"
            ),
            to_relpath=_srtm_relpath,
        ),
        Product(
            key="era5_land",
            title="ERA5-Land daily statistics (Copernicus CDS)",
            relpath=re.compile(
                r"ERA5-Land/(?P<year>\d{4})/ERA5-Land\.daily\.(?P<ym>\d{4}-\d\d)\.nc"
            ),
            auth="cds",
            resource="cds_requests",
            nominal_mb=8.0,  # a month of daily fields over the region (rough)
        ),
        Product(
            key="gldas_noah",
            title="GLDAS-2.1 Noah 3-hourly 0.25 deg (GLDAS_NOAH025_3H)",
            relpath=re.compile(
                r"GLDAS_NOAH025_3H/(?P<year>\d{4})/(?P<name>GLDAS_NOAH025_3H\.A(?P<ymd>\d{8})"
                r"\.(?P<hhmm>\d{4})\.(?P<version>\d{3})\.nc4)"
            ),
            auth="earthdata",
            resource="gesdisc_connections",
            nominal_mb=25.0,  # a global file of 36 fields, compressed (rough)
        ),
        Product(
            key="terraclimate",
            title="TerraClimate PDSI (monthly, yearly files)",
            relpath=re.compile(r"TerraClimate/(?P<name>TerraClimate_PDSI_(?P<year>\d{4})\.nc)"),
            auth="public",
            resource="nkn_connections",
            nominal_mb=120.0,  # 12 global 1/24 deg int16 months, compressed (rough)
        ),
    ]
}

#: Products whose granules are looked up in a catalogue (URL with a production time stamp,
#: or tiles that may not exist), by catalogue name.
CATALOGUED = {k: p for k, p in PRODUCTS.items() if p.cmr is not None}


def era5_land(year: int, month: int) -> str:
    return f"ERA5-Land/{year}/ERA5-Land.daily.{year}-{month:02d}.nc"


def gldas_noah(day: dt.date, hhmm: str, version: str = "021") -> str:
    """One 3-hourly GLDAS-2.1 Noah file (``hhmm`` 0000, 0300, ..., 2100 UTC)."""
    from ..products.gldas import gldas_name

    return f"GLDAS_NOAH025_3H/{day.year}/{gldas_name(day, hhmm, version)}"


def terraclimate(year: int) -> str:
    return f"TerraClimate/TerraClimate_PDSI_{year}.nc"


def product_of(relpath: str) -> Product:
    """The product a raw path belongs to."""
    for p in PRODUCTS.values():
        if p.relpath.fullmatch(relpath):
            return p
    raise ValueError(f"{relpath!r} is not the raw path of a downloadable product")


def template_problems(urls: Mapping[str, str | None]) -> list[str]:
    """Config problems of the URL templates: unknown placeholders, or none for a product
    that has no catalogue to take URLs from."""
    problems = []
    for key, template in urls.items():
        product = PRODUCTS.get(key)
        if product is None or product.auth == "cds":
            continue
        if template is None:
            if product.cmr is None:
                problems.append(
                    f"download.urls.{key} must be set ({product.title} has no catalogue)"
                )
            continue
        try:
            names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        except ValueError as e:
            problems.append(f"download.urls.{key}: {e}")
            continue
        unknown = sorted({n.split(".")[0].split("[")[0] for n in names} - set(PLACEHOLDERS))
        if unknown or "" in names:
            problems.append(
                f"download.urls.{key} uses placeholder(s) {unknown or ['{}']}; "
                f"allowed: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
            )
    return problems


def granule_url(template: str, name: str, fields: Mapping[str, Any]) -> str:
    """A file's URL from a template, the provider's file name and the granule's fields."""
    values = {p: "" for p in PLACEHOLDERS}
    values.update({k: v for k, v in fields.items() if k in PLACEHOLDERS})
    values["name"] = name
    return template.format(**values)


# ----------------------------------------------------------------------------- format checks


def _days(values: np.ndarray) -> list[dt.date]:
    return [np.datetime64(d, "D").item() for d in np.atleast_1d(values)]


def _expect(what: str, found: object, expected: object) -> None:
    if found != expected:
        raise ValueError(f"holds {what} {found}, but its name says {expected}")


def check_esa_cci(path: Path, target: Path, allow_mixed_versions: bool = False) -> None:
    """The reader's own checks (units, daily, sensor, version and day against the target's
    name), then the day against the target's name (``path`` may be a partial name)."""
    from ..products.esa_cci import esa_cci_date, esa_cci_version, read_esa_cci

    ds = read_esa_cci(
        path, version=esa_cci_version(target), allow_mixed_versions=allow_mixed_versions
    )
    _expect("day(s)", _days(ds["time"].values), [esa_cci_date(target)])


def check_smap_l3(path: Path, target: Path) -> None:
    """The reader's own checks (HDF5, grid, units, day against its metadata), then the day
    against the target's name."""
    from ..products.smap import read_smap_l3, smap_date

    ds = read_smap_l3(path, "AM")
    _expect("day(s)", _days(ds["time"].values), [smap_date(target)])


def _modis_checker(reader_name: str) -> Callable[[Path, Path], None]:
    def check(path: Path, target: Path) -> None:
        from ..products import modis_sinusoidal

        fields = product_of_name(target).fields(relpath_tail(target))
        tile = getattr(modis_sinusoidal, reader_name)(path, qc="any")
        _expect("tile", f"h{tile.h:02d}v{tile.v:02d}", fields["tile"])

    return check


def check_mcd43c3(path: Path, target: Path) -> None:
    from ..products.mcd43c3 import read_mcd43c3_albedo

    ds = read_mcd43c3_albedo(path)
    if not np.isfinite(ds["wsa"].values).any():
        raise ValueError("holds no valid albedo at all")


def check_imerg(path: Path, target: Path) -> None:
    from ..products.imerg import imerg_date, read_imerg

    da = read_imerg(path)
    _expect("day(s)", _days(da["time"].values), [imerg_date(target)])


def check_srtm(path: Path, target: Path) -> None:
    from ..products.srtm import parse_tile_name, read_srtm_tile

    tile = read_srtm_tile(path)
    found = (int(tile.attrs["lat_south"]), int(tile.attrs["lon_west"]))
    _expect("tile", found, parse_tile_name(target.name))


def check_netcdf_variable(path: Path, variables: list[str]) -> None:
    """The file opens as NetCDF and holds each variable; its last slice reads (so a file cut
    short fails here)."""
    import netCDF4

    with netCDF4.Dataset(path) as ds:
        for name in variables:
            if name not in ds.variables:
                raise ValueError(
                    f"has no variable {name!r} (variables: {', '.join(ds.variables) or 'none'})"
                )
            var = ds.variables[name]
            if var.ndim and var.shape[0]:
                var[-1]
            else:
                var[...]


def _fine_bbox(cfg: Mapping[str, Any]) -> tuple[float, ...] | None:
    """The run's fine-grid bbox (west, south, east, north), or None for a partial config."""
    if "region" not in cfg or "grid" not in cfg:
        return None
    from ..config import run_grids

    return tuple(run_grids(cfg)[1].bbox)


def relpath_tail(target: Path) -> str:
    """``<folder>/<year>/<name>`` or ``<folder>/<name>``: the raw path ending ``target``."""
    parts = Path(target).parts
    for n in (3, 2):
        tail = "/".join(parts[-n:])
        if any(p.relpath.fullmatch(tail) for p in PRODUCTS.values()):
            return tail
    raise ValueError(f"{target} does not end in a raw path of a downloadable product")


def product_of_name(target: Path) -> Product:
    return product_of(relpath_tail(target))


CHECKS: dict[str, Callable[[Path, Path], None]] = {
    "esa_cci": check_esa_cci,
    "smap_l3": check_smap_l3,
    "mod11a1": _modis_checker("read_mod11a1_lst"),
    "mod13a2": _modis_checker("read_mod13a2_ndvi"),
    "mcd43c3": check_mcd43c3,
    "imerg": check_imerg,
    "srtm": check_srtm,
}


def format_check(key: str, cfg: Mapping[str, Any] | None = None) -> Callable[[Path, Path], None]:
    """The format check of a product (ERA5-Land: its configured variables, units, grid over
    the run's region and daily time axis; GLDAS Noah: units, lattice over the region and
    the time stamp its name says; TerraClimate: its variable)."""
    cfg = cfg or {}
    if key == "esa_cci":
        mixed = bool(cfg.get("esa_cci", {}).get("allow_mixed_versions", False))
        return lambda path, target: check_esa_cci(path, target, mixed)
    if key == "era5_land":
        from ..products.era5_land import check_era5_land

        names = list(cfg.get("download", {}).get("era5_land", {}).get("file_variables", []))
        bbox = _fine_bbox(cfg)
        return lambda path, target: check_era5_land(path, target, names or ["swvl1"], bbox)
    if key == "gldas_noah":
        from ..products.gldas import check_gldas

        bbox = _fine_bbox(cfg)
        return lambda path, target: check_gldas(path, target, bbox)
    if key == "terraclimate":
        return lambda path, target: check_netcdf_variable(path, ["PDSI"])
    return CHECKS[key]
