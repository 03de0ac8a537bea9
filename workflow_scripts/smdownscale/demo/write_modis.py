"""Write synthetic MOD11A1, MOD13A2 (sinusoidal tiles) and MCD43C3 (CMG) files in the real formats.

The layout copies real v061 granules as the HDF4 library sees them (checked against
``MOD11A1.A2021227.h11v05.061`` and ``MOD13A2.A2021225.h11v06.061``):

* an HDF-EOS grid: a Vgroup named after the grid (class ``GRID``) holding the Vgroups
  ``Data Fields`` (the SDS) and ``Grid Attributes`` (class ``GRID Vgroup``); SDS dimensions
  named ``YDim:<grid>`` / ``XDim:<grid>``;
* global attributes ``HDFEOSVersion`` (``HDFEOS_V2.19``), ``StructMetadata.0`` (ODL, NUL-padded
  to 32000 characters as HDF-EOS writes it), ``CoreMetadata.0`` / ``ArchiveMetadata.0`` (ECS
  ODL inventory metadata, a subset of the real objects) and the product DOI attributes, in
  the real files' order. ``CoreMetadata.0`` holds every field the readers check
  (:mod:`smdownscale.products.modis_metadata`) as the real granules write them:
  ``LOCALGRANULEID`` is the provider's name built from the granule's product, day, tile and
  production time (not the path written to, so a granule saved under another name is caught),
  ``SHORTNAME``, ``VERSIONID`` 61, ``RANGEBEGINNINGDATE`` / ``RANGEENDINGDATE`` and the tile
  numbers;
* each SDS with the real name, number type, attribute names, types and order, and DEFLATE
  compression at the real level (1 for MOD11A1, 5 for MOD13A2).

Only the SDS the workflow reads plus their obvious companions are written (MOD11A1: day and
night LST and QC; MOD13A2: NDVI, EVI, VI Quality, pixel reliability; MCD43C3: black- and
white-sky shortwave albedo); ``StructMetadata.0`` lists exactly those. Files are written under
a temporary name in the target directory and moved into place with :func:`os.replace`.

MCD43C3 assumptions (no real granule was available to copy; see
:mod:`smdownscale.products.mcd43c3`): grid ``MCD_CMG_BRDF_0.05Deg``, 7200 x 3600,
``Projection=GCTP_GEO`` with corners written in plain degrees ``(-180.000000,90.000000)`` /
``(180.000000,-90.000000)`` as the MCD43C CMG files do (not the packed-DMS form HDF-EOS
expects, a known quirk of these products); SDS int16, ``scale_factor`` 0.001,
``_FillValue`` 32767, ``valid_range`` [0, 32766], ``units`` "reflectance, no units", and
DEFLATE level 1 (the real level is not known here; 1 keeps a global write near 1 s for
mostly-fill fields and ~3 s for a fully populated one).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..hdfeos_write import Attr, Sds, write_hdfeos
from ..products.modis_sinusoidal import TileGeoref, tile_pixel_latlon
from ..rawlayout import MODIS_SPHERE_RADIUS_M

_STRUCT_METADATA_LEN = 32000
TILE_N = 1200
CMG_SHAPE = (3600, 7200)

# pyhdf number-type codes (SDC.*), spelled out so that this module imports without pyhdf.
_CHAR8, _FLOAT64, _INT8, _UINT8, _INT16, _UINT16, _INT32 = 4, 6, 20, 21, 22, 23, 24
_DFNT = {_INT8: "DFNT_INT8", _UINT8: "DFNT_UINT8", _INT16: "DFNT_INT16", _UINT16: "DFNT_UINT16"}
#: HDF4 DFNT_FLOAT32: the ``calibrated_nt`` MODIS writes beside every scale factor.
_CALIBRATED_NT = 5


# --------------------------------------------------------------------------- ECS ODL text


def _odl_value(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_odl_value(v) for v in value) + ")"
    return repr(value) if isinstance(value, float) else str(value)


def _odl_object(name: str, value: object, indent: int, klass: str | None = None) -> list[str]:
    pad, inner = " " * indent, " " * (indent + 2)
    n = len(value) if isinstance(value, tuple | list) else 1
    lines = [f"{pad}{'OBJECT':<23}= {name}"]
    if klass is not None:
        lines.append(f"{inner}{'CLASS':<21}= {_odl_value(klass)}")
    lines.append(f"{inner}{'NUM_VAL':<21}= {n}")
    lines.append(f"{inner}{'VALUE':<21}= {_odl_value(value)}")
    lines.append(f"{pad}{'END_OBJECT':<23}= {name}")
    return [*lines, ""]


def _odl_group(name: str, body: list[str], indent: int, klass: str | None = None) -> list[str]:
    pad, inner = " " * indent, " " * (indent + 2)
    head = [f"{pad}{'GROUP':<23}= {name}"]
    if klass is not None:
        head.append(f"{inner}{'CLASS':<21}= {_odl_value(klass)}")
    return [*head, "", *body, f"{pad}{'END_GROUP':<23}= {name}", ""]


def _odl_document(master: str, body: list[str]) -> str:
    head = [f"{'GROUP':<23}= {master}", f"  {'GROUPTYPE':<21}= MASTERGROUP", ""]
    return "\n" + "\n".join([*head, *body, f"{'END_GROUP':<23}= {master}", "", "END", ""])


def _additional_attributes(pairs: Sequence[tuple[str, str]]) -> list[str]:
    body: list[str] = []
    for i, (name, value) in enumerate(pairs, start=1):
        k = str(i)
        inner = _odl_group("INFORMATIONCONTENT", _odl_object("PARAMETERVALUE", value, 8, k), 6, k)
        container = [*_odl_object("ADDITIONALATTRIBUTENAME", name, 6, k), *inner]
        body += [
            f"    {'OBJECT':<23}= ADDITIONALATTRIBUTESCONTAINER",
            f"      {'CLASS':<21}= {_odl_value(k)}",
            "",
            *container,
            f"    {'END_OBJECT':<23}= ADDITIONALATTRIBUTESCONTAINER",
            "",
        ]
    return _odl_group("ADDITIONALATTRIBUTES", body, 2)


@dataclass(frozen=True)
class _Granule:
    """What the inventory (Core) and archive metadata say about one granule."""

    short_name: str
    long_name: str
    nominal: dt.date  # the day in the granule's name (AYYYYDDD)
    tile: tuple[int, int] | None
    day_night: str
    parameter: str
    begin: dt.date
    end: dt.date
    bounds: tuple[float, float, float, float]  # west, south, east, north
    gring_lat: tuple[float, ...]
    gring_lon: tuple[float, ...]
    extra: tuple[tuple[str, str], ...]
    algorithm: str
    doi: str

    def local_id(self, produced: dt.datetime) -> str:
        """The provider's file name, as the real granules record it in ``LOCALGRANULEID``:
        built from what the granule holds (product, day, tile) and its production time."""
        tile = f".h{self.tile[0]:02d}v{self.tile[1]:02d}" if self.tile else ""
        return f"{self.short_name}.A{self.nominal:%Y%j}{tile}.061.{produced:%Y%j%H%M%S}.hdf"


def _core_metadata(g: _Granule, produced: dt.datetime) -> str:
    ecs = (
        _odl_object("LOCALGRANULEID", g.local_id(produced), 4)
        + _odl_object("PRODUCTIONDATETIME", f"{produced:%Y-%m-%dT%H:%M:%S.000Z}", 4)
        + _odl_object("DAYNIGHTFLAG", g.day_night, 4)
        + _odl_object("REPROCESSINGACTUAL", "reprocessed", 4)
        + _odl_object("LOCALVERSIONID", "synthetic (smdownscale demo)", 4)
        + _odl_object("REPROCESSINGPLANNED", "further update is anticipated", 4)
    )
    qa = _odl_group(
        "QAFLAGS",
        _odl_object("SCIENCEQUALITYFLAG", "Not Investigated", 8, "1")
        + _odl_object("AUTOMATICQUALITYFLAG", "Passed", 8, "1"),
        6,
        "1",
    )
    measured = [
        f"    {'OBJECT':<23}= MEASUREDPARAMETERCONTAINER",
        f'      {"CLASS":<21}= "1"',
        "",
        *qa,
        *_odl_object("PARAMETERNAME", g.parameter, 6, "1"),
        f"    {'END_OBJECT':<23}= MEASUREDPARAMETERCONTAINER",
        "",
    ]
    collection = _odl_object("VERSIONID", 61, 4) + _odl_object("SHORTNAME", g.short_name, 4)
    gring = _odl_group(
        "GRINGPOINT",
        _odl_object("GRINGPOINTLONGITUDE", g.gring_lon, 12, "1")
        + _odl_object("GRINGPOINTLATITUDE", g.gring_lat, 12, "1")
        + _odl_object("GRINGPOINTSEQUENCENO", tuple(range(1, len(g.gring_lat) + 1)), 12, "1"),
        10,
        "1",
    )
    ring = _odl_group("GRING", _odl_object("EXCLUSIONGRINGFLAG", "N", 12, "1"), 10, "1")
    polygon = [
        f"        {'OBJECT':<23}= GPOLYGONCONTAINER",
        f'          {"CLASS":<21}= "1"',
        "",
        *gring,
        *ring,
        f"        {'END_OBJECT':<23}= GPOLYGONCONTAINER",
        "",
    ]
    spatial = _odl_group("HORIZONTALSPATIALDOMAINCONTAINER", _odl_group("GPOLYGON", polygon, 6), 4)
    dates = (
        _odl_object("RANGEENDINGDATE", f"{g.end:%Y-%m-%d}", 4)
        + _odl_object("RANGEENDINGTIME", "23:59:59", 4)
        + _odl_object("RANGEBEGINNINGDATE", f"{g.begin:%Y-%m-%d}", 4)
        + _odl_object("RANGEBEGINNINGTIME", "00:00:00", 4)
    )
    platform = [
        f"    {'OBJECT':<23}= ASSOCIATEDPLATFORMINSTRUMENTSENSORCONTAINER",
        f'      {"CLASS":<21}= "1"',
        "",
        *_odl_object("ASSOCIATEDSENSORSHORTNAME", "MODIS", 6, "1"),
        *_odl_object("ASSOCIATEDPLATFORMSHORTNAME", "Terra", 6, "1"),
        *_odl_object("ASSOCIATEDINSTRUMENTSHORTNAME", "MODIS", 6, "1"),
        f"    {'END_OBJECT':<23}= ASSOCIATEDPLATFORMINSTRUMENTSENSORCONTAINER",
        "",
    ]
    body = (
        _odl_group("ECSDATAGRANULE", ecs, 2)
        + _odl_group("MEASUREDPARAMETER", measured, 2)
        + _odl_group("COLLECTIONDESCRIPTIONCLASS", collection, 2)
        + _odl_group("SPATIALDOMAINCONTAINER", spatial, 2)
        + _odl_group("RANGEDATETIME", dates, 2)
        + _odl_group("PGEVERSIONCLASS", _odl_object("PGEVERSION", "demo", 4), 2)
        + _odl_group("ASSOCIATEDPLATFORMINSTRUMENTSENSOR", platform, 2)
        + _additional_attributes(
            [
                *g.extra,
                ("identifier_product_doi", g.doi),
                ("identifier_product_doi_authority", "http://dx.doi.org"),
            ]
        )
    )
    return _odl_document("INVENTORYMETADATA", body)


def _archive_metadata(g: _Granule, produced: dt.datetime) -> str:
    west, south, east, north = g.bounds
    bounding = (
        _odl_object("NORTHBOUNDINGCOORDINATE", north, 4)
        + _odl_object("SOUTHBOUNDINGCOORDINATE", south, 4)
        + _odl_object("EASTBOUNDINGCOORDINATE", east, 4)
        + _odl_object("WESTBOUNDINGCOORDINATE", west, 4)
    )
    body = (
        _odl_group(
            "ALGORITHMPACKAGE",
            _odl_object("ALGORITHMPACKAGENAME", g.algorithm, 4)
            + _odl_object("ALGORITHMPACKAGEVERSION", "6", 4),
            2,
        )
        + _odl_object("LONGNAME", g.long_name, 2)
        + _odl_object("PROCESSINGCENTER", "smdownscale demo (synthetic data)", 2)
        + _odl_object("PROCESSINGDATETIME", f"{produced:%Y-%m-%dT%H:%M:%S.000Z}", 2)
        + _odl_group("BOUNDINGRECTANGLE", bounding, 2)
        + _odl_object("DESCRREVISION", "6.1", 2)
    )
    return _odl_document("ARCHIVEDMETADATA", body)


# -------------------------------------------------------------------------- StructMetadata


def _struct_metadata(
    grid_name: str,
    shape: tuple[int, int],
    upper_left: tuple[float, float],
    lower_right: tuple[float, float],
    projection_lines: Sequence[str],
    sds: Sequence[Sds],
) -> str:
    ydim, xdim = shape
    lines = [
        "GROUP=SwathStructure",
        "END_GROUP=SwathStructure",
        "GROUP=GridStructure",
        "\tGROUP=GRID_1",
        f'\t\tGridName="{grid_name}"',
        f"\t\tXDim={xdim}",
        f"\t\tYDim={ydim}",
        f"\t\tUpperLeftPointMtrs=({upper_left[0]:.6f},{upper_left[1]:.6f})",
        f"\t\tLowerRightMtrs=({lower_right[0]:.6f},{lower_right[1]:.6f})",
        *(f"\t\t{line}" for line in projection_lines),
        "\t\tGROUP=Dimension",
        "\t\tEND_GROUP=Dimension",
        "\t\tGROUP=DataField",
    ]
    for i, s in enumerate(sds, start=1):
        lines += [
            f"\t\t\tOBJECT=DataField_{i}",
            f'\t\t\t\tDataFieldName="{s.name}"',
            f"\t\t\t\tDataType={_DFNT[s.nt]}",
            '\t\t\t\tDimList=("YDim","XDim")',
            f"\t\t\tEND_OBJECT=DataField_{i}",
        ]
    lines += [
        "\t\tEND_GROUP=DataField",
        "\t\tGROUP=MergedFields",
        "\t\tEND_GROUP=MergedFields",
        "\tEND_GROUP=GRID_1",
        "END_GROUP=GridStructure",
        "GROUP=PointStructure",
        "END_GROUP=PointStructure",
        "END",
        "",
    ]
    text = "\n".join(lines)
    if len(text) >= _STRUCT_METADATA_LEN:
        raise ValueError("StructMetadata.0 longer than 32000 characters")
    return text + "\x00" * (_STRUCT_METADATA_LEN - len(text))


# ------------------------------------------------------------------------------ HDF writer


#: Written atomically (temporary name, then os.replace); a module attribute so that tests
#: can stand in for the writer.
_write_grid_file = write_hdfeos


def _scaled_attrs(
    long_name: str,
    units: str | None,
    nt: int,
    valid_range: tuple[int, int],
    fill: int | str,
    scale: float | None,
    offset: float | None,
    *,
    number_type: str | None = None,
    formula: tuple[str, str] | None = None,
) -> tuple[Attr, ...]:
    """Attributes in MODIS order: long_name, units, Number Type, valid_range, _FillValue, ..."""
    attrs: list[Attr] = [("long_name", _CHAR8, long_name)]
    if units is not None:
        attrs.append(("units", _CHAR8, units))
    if number_type is not None:
        attrs.append(("Number Type", _CHAR8, number_type))
    attrs.append(("valid_range", nt, list(valid_range)))
    attrs.append(("_FillValue", _CHAR8 if isinstance(fill, str) else nt, fill))
    if formula is not None:
        attrs.append((formula[0], _CHAR8, formula[1]))
    if scale is not None:
        attrs.append(("scale_factor", _FLOAT64, scale))
        attrs.append(("scale_factor_err", _FLOAT64, 0.0))
        if offset is not None:
            attrs.append(("add_offset", _FLOAT64, offset))
        attrs.append(("add_offset_err", _FLOAT64, 0.0))
        attrs.append(("calibrated_nt", _INT32, _CALIBRATED_NT))
    return tuple(attrs)


def _check_shape(name: str, arr: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr


# ----------------------------------------------------------------------- tile metadata


def _tile_granule(
    short_name: str,
    long_name: str,
    h: int,
    v: int,
    begin: dt.date,
    end: dt.date,
    day_night: str,
    parameter: str,
    algorithm: str,
) -> _Granule:
    lat, lon = tile_pixel_latlon(h, v, TILE_N)
    # G-ring through the corner pixel centres (UL, UR, LR, LL), clipped to the globe's edge
    geo = TileGeoref.nominal(h, v, TILE_N)
    pw, ph = geo.pixel_size_m
    glat, glon = [], []
    for r, c in [(0, 0), (0, TILE_N - 1), (TILE_N - 1, TILE_N - 1), (TILE_N - 1, 0)]:
        y = geo.upper_left_m[1] - (r + 0.5) * ph
        x = geo.upper_left_m[0] + (c + 0.5) * pw
        la = np.degrees(y / MODIS_SPHERE_RADIUS_M)
        lo = np.degrees(x / (MODIS_SPHERE_RADIUS_M * np.cos(np.radians(la))))
        glat.append(round(float(la), 10))
        glon.append(round(float(np.clip(lo, -180.0, 180.0)), 10))
    finite = lon[np.isfinite(lon)]
    west, east = (float(finite.min()), float(finite.max())) if finite.size else (-180.0, 180.0)
    bounds = (west, float(lat.min()), east, float(lat.max()))
    return _Granule(
        short_name=short_name,
        long_name=long_name,
        nominal=begin,
        tile=(h, v),
        day_night=day_night,
        parameter=parameter,
        begin=begin,
        end=end,
        bounds=bounds,
        gring_lat=tuple(glat),
        gring_lon=tuple(glon),
        extra=(
            ("HORIZONTALTILENUMBER", f"{h:02d}"),
            ("VERTICALTILENUMBER", f"{v:02d}"),
            ("TileID", f"51{h:03d}{v:03d}"),
        ),
        algorithm=algorithm,
        doi=f"10.5067/MODIS/{short_name}.061",
    )


def _sinusoidal_projection(mod11: bool) -> list[str]:
    params = "0,0,0,0,0,0,0,86400,0,0,0,0" if mod11 else "0,0,0,0,0,0,0,0,0,0,0,0"
    lines = ["Projection=GCTP_SNSOID", f"ProjParams=({MODIS_SPHERE_RADIUS_M:.6f},{params})"]
    lines.append("SphereCode=-1")
    if mod11:
        lines.append("GridOrigin=HDFE_GD_UL")
    return lines


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)


def _produced(path: Path) -> dt.datetime:
    """The production time a file records: the one its provider-style name carries
    (``...061.2010098031500.hdf``), else now (project-layout names have none)."""
    m = re.search(r"\.(\d{13})\.hdf$", path.name)
    return dt.datetime.strptime(m.group(1), "%Y%j%H%M%S") if m else _now()


# ---------------------------------------------------------------------------- MOD11A1


MOD11A1_GRID = "MODIS_Grid_Daily_1km_LST"


def _lst_raw(lst_k: np.ndarray, name: str) -> np.ndarray:
    lst_k = np.asarray(lst_k, dtype=np.float64)
    finite = np.isfinite(lst_k)
    raw = np.zeros(lst_k.shape, dtype=np.uint16)
    q = np.round(lst_k[finite] / 0.02)
    if q.size and (q.min() < 7500 or q.max() > 65535):
        raise ValueError(f"{name} has values outside the MOD11A1 range 150..1310.7 K")
    raw[finite] = q.astype(np.uint16)
    return raw


def _write_tile(
    path: Path,
    grid_name: str,
    h: int,
    v: int,
    sds: Sequence[Sds],
    granule: _Granule,
    mod11a1_layout: bool,
    deflate_level: int,
) -> None:
    """Write a sinusoidal tile with its StructMetadata, ECS metadata and DOI attributes.

    The real products differ in two details (``mod11a1_layout``): MOD11A1 puts CoreMetadata
    and ArchiveMetadata before the DOI pair, MOD13A2 after it; MOD11A1's ProjParams carry
    86400 in element 8 and its StructMetadata a GridOrigin line.
    """
    geo = TileGeoref.nominal(h, v, TILE_N)
    produced = _produced(Path(path))
    struct = _struct_metadata(
        grid_name,
        (TILE_N, TILE_N),
        geo.upper_left_m,
        geo.lower_right_m,
        _sinusoidal_projection(mod11a1_layout),
        sds,
    )
    ecs = [
        ("CoreMetadata.0", _core_metadata(granule, produced)),
        ("ArchiveMetadata.0", _archive_metadata(granule, produced)),
    ]
    doi = [
        ("identifier_product_doi", granule.doi),
        ("identifier_product_doi_authority", "http://dx.doi.org"),
    ]
    attrs = ecs + doi if mod11a1_layout else doi + ecs
    _write_grid_file(path, grid_name, struct, sds, attrs, deflate_level=deflate_level)


def write_mod11a1(
    path: str | Path,
    lst_K: np.ndarray,  # noqa: N803 - the unit is part of the name
    qc: np.ndarray,
    h: int,
    v: int,
    date: dt.date,
    lst_night_K: np.ndarray | None = None,  # noqa: N803
    qc_night: np.ndarray | None = None,
) -> Path:
    """Write a MOD11A1 v061 tile: ``LST_Day_1km``, ``QC_Day``, ``LST_Night_1km``, ``QC_Night``.

    ``lst_K`` (1200, 1200) in kelvin, NaN = fill (raw 0); stored as round(K / 0.02) in uint16
    (finite values must lie in 150..1310.7 K). ``qc`` (uint8 bit field, see
    :func:`smdownscale.products.modis_sinusoidal.read_mod11a1_lst`) is written as given.
    The night pair defaults to all fill with ``QC_Night`` 3 where the day QC says "not
    produced, other reasons" and 2 (cloud) elsewhere.
    """
    path = Path(path)
    shape = (TILE_N, TILE_N)
    day = _lst_raw(_check_shape("lst_K", lst_K, shape), "lst_K")
    qc_day = _check_shape("qc", qc, shape).astype(np.uint8)
    if lst_night_K is None:
        night = np.zeros(shape, dtype=np.uint16)
    else:
        night = _lst_raw(_check_shape("lst_night_K", lst_night_K, shape), "lst_night_K")
    if qc_night is None:
        qc_n = np.where((qc_day & 0b11) == 0b11, 3, 2).astype(np.uint8)
    else:
        qc_n = _check_shape("qc_night", qc_night, shape).astype(np.uint8)

    def lst_sds(name: str, long_name: str, data: np.ndarray) -> Sds:
        attrs = _scaled_attrs(
            long_name, "K", _UINT16, (7500, 65535), 0, 0.02, None,
            number_type="uint16", formula=("LST", "LST data * scale_factor"),
        )  # fmt: skip
        return Sds(name, _UINT16, attrs, data)

    def qc_sds(name: str, long_name: str, data: np.ndarray) -> Sds:
        attrs = _scaled_attrs(
            long_name, None, _UINT8, (0, 255), "NA\x00", None, None, number_type="uint8"
        )
        return Sds(name, _UINT8, attrs, data)

    sds = [
        lst_sds("LST_Day_1km", "Daily daytime 1km grid Land-surface Temperature", day),
        qc_sds("QC_Day", "Quality control for daytime LST and emissivity", qc_day),
        lst_sds("LST_Night_1km", "Daily nighttime 1km grid Land-surface Temperature", night),
        qc_sds("QC_Night", "Quality control for nighttime LST and emissivity", qc_n),
    ]
    granule = _tile_granule(
        "MOD11A1",
        "MODIS/Terra Land Surface Temperature/Emissivity Daily L3 Global 1km SIN Grid",
        h, v, date, date, "Both", "MOD 1KM L3 LST", "MOD_PR11A",
    )  # fmt: skip
    _write_tile(path, MOD11A1_GRID, h, v, sds, granule, mod11a1_layout=True, deflate_level=1)
    return path


# ---------------------------------------------------------------------------- MOD13A2


MOD13A2_GRID = "MODIS_Grid_16DAY_1km_VI"

_VI_QUALITY_LEGEND = (
    "\n\t Bit Fields Description (Right to Left): \n\t[0-1] : MODLAND_QA [2 bit range] \n"
    "\t\t 00: VI produced, good quality \n\t\t 01: VI produced, but check other QA \n"
    "\t\t 10: Pixel produced, but most probably cloudy \n"
    "\t\t 11: Pixel not produced due to other reasons than clouds \n"
    "\t[2-5] : VI usefulness [4 bit range] \n\t\t 0000: Highest quality \n"
    "\t\t 0001: Lower quality  \n\t\t 0010..1010: Decreasing quality \n"
    "\t\t 1100: Lowest quality \n\t\t 1101: Quality so low that it is not useful \n"
    "\t\t 1110: L1B data faulty \n\t\t 1111: Not useful for any other reason/not processed \n"
    "\t[6-7] : Aerosol quantity [2 bit range] \n\t\t 00: Climatology \n\t\t 01: Low \n"
    "\t\t 10: Average \n\t\t 11: High (11) \n"
    "\t[8] : Adjacent cloud detected; [1 bit range] \n\t\t 1: Yes \n\t\t 0: No \n"
    "\t[9] : Atmosphere BRDF correction performed [1 bit range] \n\t\t 1: Yes \n\t\t 0: No \n"
    "\t[10] : Mixed clouds  [1 bit range] \n\t\t 1: Yes \n\t\t 0: No \n"
    "\t[11-13] : Land/Water Flag [3 bit range] \n\t\t 000: Shallow ocean \n"
    "\t\t 001: Land (Nothing else but land) \n\t\t 010: Ocean coastlines and lake shorelines \n"
    "\t\t 011: Shallow inland water \n\t\t 100: Ephemeral water \n\t\t 101: Deep inland water \n"
    "\t\t 110: Moderate or continental ocean \n\t\t 111: Deep ocean \n"
    "\t[14] : Possible snow/ice [1 bit range] \n\t\t 1: Yes \n\t\t 0: No \n"
    "\t[15] : Possible shadow [1 bit range] \n\t\t 1: Yes \n\t\t 0: No \n"
)
_RELIABILITY_LEGEND = (
    "\n\t Rank Keys: \n\t[-1] : Fill/No Data-Not Processed. \n"
    "\t [0] : Good data      - Use with confidence \n"
    "\t [1] : Marginal data  - Useful, but look at other QA information \n"
    "\t [2] : Snow/Ice       - Target covered with snow/ice \n"
    "\t [3] : Cloudy         - Target not visible, covered with cloud \n"
)


def _vi_raw(vi: np.ndarray) -> np.ndarray:
    """NaN -> -3000 (fill); finite -> round(x * 10000) clipped to the valid range."""
    vi = np.asarray(vi, dtype=np.float64)
    finite = np.isfinite(vi)
    raw = np.full(vi.shape, -3000, dtype=np.int16)
    raw[finite] = np.clip(np.round(vi[finite] * 10000.0), -2000, 10000).astype(np.int16)
    return raw


def write_mod13a2(
    path: str | Path,
    ndvi: np.ndarray,
    reliability: np.ndarray,
    vi_quality: np.ndarray,
    h: int,
    v: int,
    date: dt.date,
    evi: np.ndarray | None = None,
) -> Path:
    """Write a MOD13A2 v061 tile (16-day composite starting on ``date``).

    ``ndvi`` (1200, 1200) fraction, NaN = fill (-3000); stored as round(NDVI * 10000) in int16,
    clipped to the valid range [-2000, 10000] (as the product does). ``reliability`` (int8:
    -1 fill, 0 good, 1 marginal, 2 snow/ice, 3 cloudy) and ``vi_quality`` (uint16 bit field)
    are written as given. ``evi`` defaults to all fill.
    """
    path = Path(path)
    shape = (TILE_N, TILE_N)
    ndvi_raw = _vi_raw(_check_shape("ndvi", ndvi, shape))
    evi_raw = (
        np.full(shape, -3000, np.int16) if evi is None else _vi_raw(_check_shape("evi", evi, shape))
    )
    rel = _check_shape("reliability", reliability, shape).astype(np.int8)
    viq = _check_shape("vi_quality", vi_quality, shape).astype(np.uint16)

    def vi_sds(name: str, units: str, data: np.ndarray) -> Sds:
        attrs = _scaled_attrs(name, units, _INT16, (-2000, 10000), -3000, 10000.0, 0.0)
        return Sds(name, _INT16, attrs, data)

    sds = [
        vi_sds("1 km 16 days NDVI", "NDVI", ndvi_raw),
        vi_sds("1 km 16 days EVI", "EVI", evi_raw),
        Sds(
            "1 km 16 days VI Quality",
            _UINT16,
            (
                ("long_name", _CHAR8, "1 km 16 days VI Quality"),
                ("units", _CHAR8, "bit field"),
                ("valid_range", _UINT16, [0, 65534]),
                ("_FillValue", _UINT16, 65535),
                ("Legend", _CHAR8, _VI_QUALITY_LEGEND),
            ),
            viq,
        ),
        Sds(
            "1 km 16 days pixel reliability",
            _INT8,
            (
                ("long_name", _CHAR8, "1 km 16 days pixel reliability"),
                ("units", _CHAR8, "rank"),
                ("valid_range", _INT8, [0, 3]),
                ("_FillValue", _INT8, -1),
                ("Legend", _CHAR8, _RELIABILITY_LEGEND),
            ),
            rel,
        ),
    ]
    end = min(date + dt.timedelta(days=15), dt.date(date.year, 12, 31))
    granule = _tile_granule(
        "MOD13A2",
        "MODIS/Terra Vegetation Indices 16-Day L3 Global 1km SIN Grid",
        h, v, date, end, "Day", "1 km 16 days NDVI", "MOD_PR13A1",
    )  # fmt: skip
    _write_tile(path, MOD13A2_GRID, h, v, sds, granule, mod11a1_layout=False, deflate_level=5)
    return path


# ---------------------------------------------------------------------------- MCD43C3


MCD43C3_GRID = "MCD_CMG_BRDF_0.05Deg"


def _albedo_raw(albedo: np.ndarray, rows_per_chunk: int = 600) -> np.ndarray:
    """NaN -> 32767 (fill); finite -> round(x / 0.001) clipped to [0, 32766]; chunked."""
    raw = np.full(albedo.shape, 32767, dtype=np.int16)
    for r0 in range(0, albedo.shape[0], rows_per_chunk):
        a = np.asarray(albedo[r0 : r0 + rows_per_chunk])
        ok = np.isfinite(a)
        q = np.clip(np.rint(a[ok].astype(np.float64) * 1000.0), 0, 32766)
        raw[r0 : r0 + rows_per_chunk][ok] = q.astype(np.int16)
    return raw


def write_mcd43c3(path: str | Path, wsa: np.ndarray, bsa: np.ndarray, date: dt.date) -> Path:
    """Write an MCD43C3 v061 CMG file with ``Albedo_BSA_shortwave`` and ``Albedo_WSA_shortwave``.

    ``wsa``/``bsa`` (3600, 7200) fractions on the 0.05 deg CMG (row 0 at 90 N, column 0 at
    180 W), NaN = fill (32767); stored as round(x / 0.001) in int16, clipped to [0, 32766].
    ``date`` is the product date, the 9th day of its 16-day retrieval window.
    """
    path = Path(path)
    wsa_raw = _albedo_raw(_check_shape("wsa", wsa, CMG_SHAPE))
    bsa_raw = _albedo_raw(_check_shape("bsa", bsa, CMG_SHAPE))

    def albedo_sds(name: str, data: np.ndarray) -> Sds:
        attrs = _scaled_attrs(name, "reflectance, no units", _INT16, (0, 32766), 32767, 0.001, 0.0)
        return Sds(name, _INT16, attrs, data)

    sds = [albedo_sds("Albedo_BSA_shortwave", bsa_raw), albedo_sds("Albedo_WSA_shortwave", wsa_raw)]
    granule = _Granule(
        short_name="MCD43C3",
        long_name="MODIS/Terra+Aqua BRDF/Albedo Albedo Daily L3 Global 0.05Deg CMG",
        nominal=date,
        tile=None,
        day_night="Day",
        parameter="Albedo_WSA_shortwave",
        begin=date - dt.timedelta(days=8),
        end=date + dt.timedelta(days=7),
        bounds=(-180.0, -90.0, 180.0, 90.0),
        gring_lat=(-90.0, 90.0, 90.0, -90.0),
        gring_lon=(-180.0, -180.0, 180.0, 180.0),
        extra=(),
        algorithm="MOD_PR43C3",
        doi="10.5067/MODIS/MCD43C3.061",
    )
    produced = _produced(Path(path))
    sm = _struct_metadata(
        MCD43C3_GRID, CMG_SHAPE, (-180.0, 90.0), (180.0, -90.0), ["Projection=GCTP_GEO"], sds
    )
    _write_grid_file(
        path,
        MCD43C3_GRID,
        sm,
        sds,
        [
            ("CoreMetadata.0", _core_metadata(granule, produced)),
            ("ArchiveMetadata.0", _archive_metadata(granule, produced)),
            ("identifier_product_doi", granule.doi),
            ("identifier_product_doi_authority", "http://dx.doi.org"),
        ],
        deflate_level=1,
    )
    return path
