"""A MODIS granule's own identity (``CoreMetadata.0``) checked against the name it is read under.

Every LP DAAC granule carries ECS inventory metadata, ODL text in the global attribute
``CoreMetadata.0`` (continued in ``.1``, ... when long). Checked against the real v061
``MOD11A1.A2021227.h11v05`` and ``MOD13A2.A2021225.h11v06`` granules, it holds:

* ``LOCALGRANULEID``: the provider's file name, production time stamp included
  (``MOD11A1.A2021227.h11v05.061.2021228105320.hdf``);
* ``SHORTNAME`` (``"MOD11A1"``) and ``VERSIONID`` (``61``, the collection);
* ``RANGEBEGINNINGDATE`` / ``RANGEENDINGDATE``: for MOD11A1 the day itself, for MOD13A2 the
  16 days of the composite (beginning on the name's day); for MCD43C3 the 16-day retrieval
  window, which holds the product day of the name (the window's exact placement is not
  relied on, only that it holds the day: no real MCD43C3 granule was at hand);
* ``HORIZONTALTILENUMBER`` / ``VERTICALTILENUMBER`` (``"11"``, ``"05"``) among the
  ``ADDITIONALATTRIBUTES`` of the sinusoidal tile products.

The workflow's raw files are named as the provider names them minus the production time stamp
(:mod:`smdownscale.rawlayout`), and the name is what a file stands for: harmonisation groups
files by the day in their name, downloads by the day and tile. :func:`check_granule` makes a
reader refuse a file whose own metadata say it is another product, collection, day or tile
than its name, and a file without ``CoreMetadata.0`` (a real granule always has it).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from .base import ProductError

#: The collection the readers are checked against.
COLLECTION = "061"

#: Products whose granules are sinusoidal tiles (name and metadata carry hHHvVV).
TILED = frozenset({"MOD11A1", "MOD13A2"})
#: Products whose RANGEBEGINNINGDATE is the day of the name; the others' range holds it.
BEGINS_ON_NAME_DAY = frozenset({"MOD11A1", "MOD13A2"})

_NAME = re.compile(
    r"(?<![A-Za-z0-9])(?P<product>[A-Z][A-Z0-9]{4,9})\.A(?P<yyyyddd>\d{7})"
    r"(?:\.h(?P<h>\d{2})v(?P<v>\d{2}))?\.(?P<collection>\d{3})(?:\.\d{13})?\.hdf"
)


@dataclass(frozen=True)
class GranuleName:
    """What a MODIS-family file name says: product, day (``AYYYYDDD``), tile, collection."""

    product: str
    day: dt.date
    tile: tuple[int, int] | None
    collection: str

    @property
    def stem(self) -> str:
        """``MOD11A1.A2021227.h11v05.061``: the name without time stamp and extension."""
        tile = f".h{self.tile[0]:02d}v{self.tile[1]:02d}" if self.tile else ""
        return f"{self.product}.A{self.day:%Y%j}{tile}.{self.collection}"

    def describe(self) -> str:
        tile = f", tile h{self.tile[0]:02d}v{self.tile[1]:02d}" if self.tile else ""
        return f"{self.product} collection {self.collection}, {self.day} (A{self.day:%Y%j}){tile}"


def parse_granule_name(name: str) -> GranuleName | None:
    """The fields of a MODIS-family file name (with or without time stamp), None if it is not
    one; a hidden partial name (``.MOD11A1...hdf.part``) is read as the name inside it."""
    m = _NAME.search(name)
    if not m:
        return None
    try:
        day = dt.datetime.strptime(m["yyyyddd"], "%Y%j").date()
    except ValueError:
        return None
    tile = (int(m["h"]), int(m["v"])) if m["h"] is not None else None
    return GranuleName(m["product"], day, tile, m["collection"])


def joined_attribute(attrs: dict[str, object], base: str) -> str | None:
    """``<base>.0``, ``<base>.1``, ... joined, NUL padding dropped; None when there is none.

    HDF-EOS splits its ODL texts (``StructMetadata``, ``CoreMetadata``) over numbered global
    attributes when they are long.
    """
    parts = []
    i = 0
    while f"{base}.{i}" in attrs:
        value = attrs[f"{base}.{i}"]
        parts.append(value if isinstance(value, str) else str(value))
        i += 1
    return "".join(p.split("\x00", 1)[0] for p in parts) if parts else None


@dataclass(frozen=True)
class CoreMetadata:
    """The fields of ``CoreMetadata.0`` the check uses (None where the text lacks them)."""

    local_id: str | None
    short_name: str | None
    version: int | None
    begin: dt.date | None
    end: dt.date | None
    tile: tuple[int, int] | None


def _object_value(text: str, name: str) -> str | None:
    """VALUE of the first ``OBJECT = name`` in ECS ODL text, quotes removed."""
    m = re.search(
        rf"^\s*OBJECT\s*=\s*{name}\s*$(.*?)^\s*END_OBJECT\s*=\s*{name}\s*$", text, re.S | re.M
    )
    if not m:
        return None
    v = re.search(r"^\s*VALUE\s*=\s*(.*?)\s*$", m.group(1), re.M)
    return v.group(1).strip('"') if v else None


def _additional_attributes(text: str) -> dict[str, str]:
    """ADDITIONALATTRIBUTENAME -> PARAMETERVALUE of every ADDITIONALATTRIBUTESCONTAINER."""
    out = {}
    blocks = re.finditer(
        r"OBJECT\s*=\s*ADDITIONALATTRIBUTESCONTAINER\s*$(.*?)"
        r"END_OBJECT\s*=\s*ADDITIONALATTRIBUTESCONTAINER\s*$",
        text,
        re.S | re.M,
    )
    for m in blocks:
        name = _object_value(m.group(1), "ADDITIONALATTRIBUTENAME")
        value = _object_value(m.group(1), "PARAMETERVALUE")
        if name is not None and value is not None:
            out[name] = value
    return out


def _as_int(text: str | None) -> int | None:
    return int(text) if text is not None and text.strip().isdigit() else None


def _as_date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def parse_core_metadata(text: str) -> CoreMetadata:
    """The identity fields of a ``CoreMetadata.0`` ODL text."""
    extra = _additional_attributes(text)
    h = _as_int(extra.get("HORIZONTALTILENUMBER"))
    v = _as_int(extra.get("VERTICALTILENUMBER"))
    return CoreMetadata(
        local_id=_object_value(text, "LOCALGRANULEID"),
        short_name=_object_value(text, "SHORTNAME"),
        version=_as_int(_object_value(text, "VERSIONID")),
        begin=_as_date(_object_value(text, "RANGEBEGINNINGDATE")),
        end=_as_date(_object_value(text, "RANGEENDINGDATE")),
        tile=(h, v) if h is not None and v is not None else None,
    )


def granule_of(attrs: dict[str, object]) -> str | None:
    """``LOCALGRANULEID`` (else ``SHORTNAME``) from a file's global attributes, for messages."""
    text = joined_attribute(attrs, "CoreMetadata")
    if text is None:
        return None
    core = parse_core_metadata(text)
    return core.local_id or core.short_name


def _fail(path: Path, problem: str) -> ProductError:
    return ProductError(
        path, problem, "the file was altered or damaged: delete it and download it again"
    )


def _identity(path: Path, core: CoreMetadata, product: str) -> GranuleName:
    """The granule the metadata describe; ProductError when fields are missing or disagree."""
    tiled = product in TILED
    needed = {
        "LOCALGRANULEID": core.local_id,
        "SHORTNAME": core.short_name,
        "VERSIONID": core.version,
        "RANGEBEGINNINGDATE": core.begin,
        "RANGEENDINGDATE": core.end,
    }
    if tiled:
        needed["HORIZONTALTILENUMBER/VERTICALTILENUMBER"] = core.tile
    missing = [k for k, v in needed.items() if v is None]
    if missing:
        raise _fail(path, f"CoreMetadata.0 has no (readable) {', '.join(missing)}")
    own = parse_granule_name(str(core.local_id))
    if own is None:
        raise _fail(path, f"CoreMetadata.0 LOCALGRANULEID {core.local_id!r} is no MODIS name")
    begin, end, version = core.begin, core.end, core.version
    if begin is None or end is None or version is None:  # listed as missing above
        raise _fail(path, "CoreMetadata.0 is incomplete")
    said = GranuleName(
        str(core.short_name), own.day, core.tile if tiled else None, f"{version:03d}"
    )
    if product in BEGINS_ON_NAME_DAY:
        day_ok = begin == own.day
    else:
        day_ok = begin <= own.day <= end
    if own != said or not day_ok:
        tile = (
            f", tile numbers {core.tile[0]:02d}/{core.tile[1]:02d}" if tiled and core.tile else ""
        )
        raise _fail(
            path,
            f"CoreMetadata.0 contradicts itself: LOCALGRANULEID {core.local_id} against "
            f"SHORTNAME {core.short_name}, VERSIONID {version}, range {begin}..{end}{tile}",
        )
    return said


def check_granule(path: str | Path, attrs: dict[str, object], product: str) -> GranuleName:
    """The granule ``path`` stands for (its name), once its own metadata say the same.

    ``attrs`` are the file's global attributes. Raises :class:`ProductError` naming the file
    when its name is not a ``product`` collection-061 granule name, when it has no
    ``CoreMetadata.0``, when that text lacks or contradicts its identity fields, or when it
    describes another product, collection, day or tile than the name.
    """
    path = Path(path)
    name = parse_granule_name(path.name)
    tiled = product in TILED
    example = f"{product}.A2010097{'.h26v05' if tiled else ''}.{COLLECTION}.hdf"
    if name is None or (name.tile is not None) != tiled:
        raise ProductError(
            path,
            f"file name is not a {product} granule name, so the day"
            f"{' and tile' if tiled else ''} it stands for are unknown",
            f"name it as the provider does, e.g. {example}",
        )
    if name.product != product or name.collection != COLLECTION:
        raise ProductError(
            path,
            f"file name says {name.product} collection {name.collection}, but it was read as "
            f"{product} collection {COLLECTION}",
            f"the workflow reads {product} collection {COLLECTION}: put that granule there",
        )
    text = joined_attribute(attrs, "CoreMetadata")
    if text is None:
        raise ProductError(
            path,
            "has no CoreMetadata.0 global attribute, the record of product, day and tile that "
            "every LP DAAC granule carries, so what it holds cannot be checked",
            f"it was written or altered by another tool: delete it and download {name.stem} "
            "again from LP DAAC",
        )
    said = _identity(path, parse_core_metadata(text), product)
    if said != name:
        kinds = [
            kind
            for kind, a, b in (
                ("product", said.product, name.product),
                ("collection", said.collection, name.collection),
                ("day", said.day, name.day),
                ("tile", said.tile, name.tile),
            )
            if a != b
        ]
        raise ProductError(
            path,
            f"is {said.describe()} by its own CoreMetadata.0, not {name.describe()} as its "
            "name says",
            f"a granule of another {' and '.join(kinds)} saved under this name: delete it and "
            f"download {name.stem} again",
        )
    return name
