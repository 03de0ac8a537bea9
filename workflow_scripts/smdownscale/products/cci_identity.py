"""What an ESA CCI / C3S soil-moisture image is, from its name and from its own attributes.

A file's name is a claim; its global attributes are the producer's own record, which a
rename does not change. Each check below compares the two (and the configuration) and
raises one :class:`ProductError` naming the file, what it really is and what to do.

Names (ESA CCI and C3S, both parsed by :func:`parse_name`)::

    ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100701000000-fv04.5.nc          (daily, no token)
    C3S-SOILMOISTURE-L3S-SSMS-ACTIVE-DEKADAL-20170701000000-ICDR-v201706.0.0.nc

``SSMV`` is volumetric (m3 m-3: COMBINED and PASSIVE), ``SSMS`` percent of saturation
(ACTIVE). The attributes read (inspected on the real ESA CCI v04.5 COMBINED image and on
C3S v201706/v201801 ACTIVE, PASSIVE and COMBINED daily, dekadal and monthly images):

=========================  ==================================  ==============================
attribute                  ESA CCI v04.5 daily                 C3S daily / dekadal / monthly
=========================  ==================================  ==============================
``title``                  "... COMBINED active+passive        "... merged ACTIVE Product",
                           Product"                            "... merged PASSIVE Product"
``id``                     the file's own name                 the file's own name
``product_version``        "04.5"                              "v201706.0" (name v201706.0.0)
``time_coverage_duration`` "P40Y" (the whole record)           "P1D" / "P10D" / "P1M"
``time_coverage_resolution`` "P1D"                             "P1D" in all three (!)
variable ``nobs``          absent                              dekadal and monthly only
=========================  ==================================  ==============================

So the image's own span is ``time_coverage_duration`` when it is a year or less (C3S);
longer, it is the record's span (ESA CCI) and says nothing about the image.
``product`` and ``sensor_type``, when a file has them (C3S time-series tools write
``product``), are read like ``title``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import netCDF4

from .base import ProductError
from .units import ACCEPTED, MISSING, SATURATION_PERCENT, soil_moisture_units, volumetric_factor

log = logging.getLogger(__name__)

SENSORS = ("COMBINED", "ACTIVE", "PASSIVE")
#: Where to get the right file, for messages.
DAILY_COMBINED = (
    "the daily COMBINED image ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-YYYYMMDD000000-fvXX.X.nc"
)

NAME_RE = re.compile(
    r"(?P<family>ESACCI|C3S)-SOILMOISTURE-L3S-(?P<dtype>[A-Z]+)-(?P<sensor>[A-Z]+)"
    r"(?:-(?P<res>[A-Z][A-Z_]*))?-(?P<ymd>\d{8})\d{6}(?:-[A-Z]+)?-f?v(?P<version>\d+(?:\.\d+)*)"
)
_DURATION_RE = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)
_KINDS = {"DEKADAL": "dekadal (10-day)", "MONTHLY": "monthly", "PENTADAL": "5-day"}


@dataclass(frozen=True)
class NameClaim:
    """What a product file name says."""

    family: str  # "ESA CCI" or "C3S"
    data_type: str  # SSMV (volumetric) or SSMS (percent of saturation)
    sensor: str  # COMBINED, ACTIVE or PASSIVE
    resolution: str  # DAILY unless the name says DEKADAL, MONTHLY, ...
    day: dt.date
    version: str  # without "fv"/"v": "08.1", "201706.0.0"


def parse_name(name: str | Path) -> NameClaim | None:
    """The claim of an ESA CCI or C3S file name (None when it is not such a name)."""
    m = NAME_RE.search(Path(str(name)).name)
    if not m:
        return None
    try:
        day = dt.datetime.strptime(m["ymd"], "%Y%m%d").date()
    except ValueError:
        return None
    family = "ESA CCI" if m["family"] == "ESACCI" else "C3S"
    res = m["res"] or "DAILY"
    return NameClaim(family, m["dtype"], m["sensor"], res, day, m["version"])


def same_version(a: str, b: str) -> bool:
    """Whether two version strings name the same release: ``08.1`` = ``fv08.1``, ``v201706.0``
    = ``201706.0.0`` (the C3S attribute drops the last part), ``7`` = ``07.1``."""
    ka = tuple(int(x) for x in re.findall(r"\d+", a))
    kb = tuple(int(x) for x in re.findall(r"\d+", b))
    n = min(len(ka), len(kb))
    return n > 0 and ka[:n] == kb[:n]


def _attr(ds: netCDF4.Dataset, name: str) -> str:
    return str(ds.getncattr(name)).strip() if name in ds.ncattrs() else ""


def _sensor_in_text(text: str) -> str | None:
    words = {w.upper() for w in re.findall(r"[A-Za-z]+", text)} & set(SENSORS)
    if "COMBINED" in words:  # "COMBINED active+passive"
        return "COMBINED"
    return words.pop() if len(words) == 1 else None


def attribute_sensors(ds: netCDF4.Dataset) -> list[tuple[str, str]]:
    """``(evidence, sensor)`` for each global attribute that names the sensor type."""
    found = []
    for name in ("sensor_type", "product", "title"):
        text = _attr(ds, name)
        sensor = _sensor_in_text(text) if text else None
        if sensor:
            found.append((f"attribute {name} {text!r}", sensor))
    claim = parse_name(_attr(ds, "id"))
    if claim:
        found.append((f"attribute id {_attr(ds, 'id')!r}", claim.sensor))
    return found


def _family(ds: netCDF4.Dataset, claim: NameClaim | None) -> str:
    own = parse_name(_attr(ds, "id"))
    if own:
        return own.family
    title = _attr(ds, "title")
    if title.startswith("C3S"):
        return "C3S"
    if title.startswith("ESA CCI"):
        return "ESA CCI"
    return claim.family if claim else "ESA CCI / C3S"


def check_sensor(
    path: str | Path, ds: netCDF4.Dataset, claim: NameClaim | None, expected: str
) -> str:
    """The file's sensor type; ProductError unless it is ``expected`` by name and attributes."""
    own = attribute_sensors(ds)
    found = own + ([("its name", claim.sensor)] if claim else [])
    if not found:
        raise ProductError(
            path,
            "neither its name nor its attributes (title, id, product, sensor_type) say whether "
            "it is a COMBINED, ACTIVE or PASSIVE product",
            f"use the file as the provider delivers it: {DAILY_COMBINED}",
        )
    evidence = "; ".join(f"{where}: {s}" for where, s in found)
    own_sensors = {s for _, s in own}
    if len(own_sensors) > 1:
        raise ProductError(
            path, f"its attributes contradict each other ({evidence})", "download it again"
        )
    sensor = own_sensors.pop() if own_sensors else claim.sensor  # type: ignore[union-attr]
    renamed = claim is not None and claim.sensor != sensor
    if sensor != expected or renamed:
        family = _family(ds, claim)
        what = (
            f"is {'an' if family.startswith('E') else 'a'} {family} {sensor} product ({evidence})"
        )
        if renamed:
            what += f", renamed to a {claim.sensor} name"  # type: ignore[union-attr]
        raise ProductError(
            path,
            f"{what}; the workflow downscales the {expected} product",
            f"download {DAILY_COMBINED.replace('COMBINED', expected)}",
        )
    return sensor


def _days_of(duration: str) -> float | None:
    m = _DURATION_RE.match(duration.strip().upper())
    if not m or not any(m.groups()):
        return None
    y, mo, w, d, h, mi, s = (int(g or 0) for g in m.groups())
    return y * 365.25 + mo * 30.44 + w * 7 + d + h / 24 + mi / 1440 + s / 86400


def _kind(token: str, days: float | None = None) -> str:
    """Human words for a composite: from a name token (DEKADAL) or a span in days."""
    if token in _KINDS:
        return _KINDS[token]
    if days is not None and 9 <= days <= 11:
        return _KINDS["DEKADAL"]
    if days is not None and 28 <= days <= 31.5:
        return _KINDS["MONTHLY"]
    return "multi-day composite"


def check_daily(path: str | Path, ds: netCDF4.Dataset, claim: NameClaim | None) -> None:
    """ProductError when the name, the attributes or the variables show a composite of
    several days (dekadal, monthly) instead of a daily image."""
    evidence: list[tuple[str, str]] = []
    if claim and claim.resolution != "DAILY":
        evidence.append((_kind(claim.resolution), f"its name says {claim.resolution}"))
    own = parse_name(_attr(ds, "id"))
    if own and own.resolution != "DAILY":
        evidence.append((_kind(own.resolution), f"attribute id {_attr(ds, 'id')!r}"))
    words = set(re.findall(r"[A-Z]+", _attr(ds, "product").upper())) & set(_KINDS)
    evidence += [(_kind(w), f"attribute product {_attr(ds, 'product')!r}") for w in sorted(words)]
    duration = _attr(ds, "time_coverage_duration")
    days = _days_of(duration)
    if days is not None and 1.01 < days <= 366:  # longer: the whole record's span (ESA CCI)
        evidence.append((_kind("", days), f"time_coverage_duration {duration}"))
    resolution = _attr(ds, "time_coverage_resolution")
    res_days = _days_of(resolution)
    if res_days is not None and not 0.99 <= res_days <= 1.01:
        evidence.append((_kind("", res_days), f"time_coverage_resolution {resolution}"))
    if "nobs" in ds.variables:
        evidence.append(("", "variable 'nobs' (observations per composite)"))
    if evidence:
        kind = next((k for k, _ in evidence if k), "multi-day composite")
        raise ProductError(
            path,
            f"is a {kind} image, not a daily one ({'; '.join(e for _, e in evidence)})",
            f"the workflow reads daily images: download {DAILY_COMBINED}",
        )


def check_version(
    path: str | Path,
    ds: netCDF4.Dataset,
    claim: NameClaim | None,
    expected: str | None,
    allow_mixed: bool,
) -> str:
    """The file's own product version, checked against its name and ``expected`` (config
    ``esa_cci.version``). A mismatch is an error, or a logged warning with ``allow_mixed``."""
    own = parse_name(_attr(ds, "id"))
    if _attr(ds, "product_version"):
        version, source = _attr(ds, "product_version"), "attribute product_version"
    elif own:
        version, source = own.version, "attribute id"
    elif claim:
        version, source = claim.version, "its name"
    elif expected is None:
        return ""
    else:
        raise ProductError(
            path,
            "neither its name nor its attributes give the product version",
            f"config esa_cci.version is {expected}: use the file as the provider delivers it",
        )
    wanted = [(expected, "config esa_cci.version")] if expected else []
    if claim and source != "its name":
        wanted.append((claim.version, "its name"))
    for value, what in wanted:
        if not same_version(version, value):
            return _version_error(path, ds, claim, version, source, value, what, allow_mixed)
    return version


def _version_error(
    path: str | Path,
    ds: netCDF4.Dataset,
    claim: NameClaim | None,
    version: str,
    source: str,
    wanted: str,
    what: str,
    allow_mixed: bool,
) -> str:
    problem = (
        f"holds {_family(ds, claim)} SM version {version} ({source}), but {what} says {wanted}"
    )
    if allow_mixed:
        log.warning("%s: %s; accepted since esa_cci.allow_mixed_versions is true", path, problem)
        return version
    raise ProductError(
        path,
        problem,
        f"use the version {wanted} file, or set esa_cci.allow_mixed_versions: true to accept "
        "an archive of mixed versions",
    )


def check_version_set(versions: dict[str, str], allow_mixed: bool) -> None:
    """ProductError when files read together are of different product versions (unless
    ``allow_mixed``, when the mix is logged)."""
    by_version: dict[str, list[str]] = {}
    for path, version in versions.items():
        key = next((k for k in by_version if same_version(k, version)), version)
        by_version.setdefault(key, []).append(path)
    if len(by_version) <= 1:
        return
    shown = "; ".join(
        f"{v}: {len(p)} file(s), e.g. {Path(p[0]).name}" for v, p in sorted(by_version.items())
    )
    if allow_mixed:
        log.warning("ESA CCI files of %d product versions (%s)", len(by_version), shown)
        return
    odd = min(by_version.values(), key=len)[0]
    raise ProductError(
        odd,
        f"the files read together are of {len(by_version)} product versions ({shown})",
        "use files of one version (config esa_cci.version), or set "
        "esa_cci.allow_mixed_versions: true",
    )


def sm_scale(path: str | Path, ds: netCDF4.Dataset, name: str = "sm") -> float:
    """The factor that turns variable ``name`` into m3 m-3 (1, or 0.01 for percent by
    volume, logged); ProductError for percent of saturation, unknown or unproven units."""
    var = ds.variables[name]
    units = var.getncattr("units") if "units" in var.ncattrs() else None
    factor = volumetric_factor(path, f"'{name}'", units)
    if factor is not None:
        return factor
    kind = soil_moisture_units(units)
    own = attribute_sensors(ds)
    evidence = "; ".join(where for where, _ in own)
    if kind == SATURATION_PERCENT:
        active = [where for where, s in own if s == "ACTIVE"]
        what = "; ".join(["ESA CCI / C3S ACTIVE, data type SSMS", *active])
        others = [f"{where}: {s}" for where, s in own if s != "ACTIVE"]
        if others and not active:
            what += f"; yet {'; '.join(others)}: the file is not what it claims to be"
        raise ProductError(
            path,
            f"'{name}' is in {units!r}, percent of saturation: an ACTIVE product ({what}), "
            "which cannot be converted to volumetric m3 m-3 without the soil's porosity",
            f"use {DAILY_COMBINED}",
        )
    sensors = {s for _, s in own}
    if kind == MISSING and len(sensors) == 1 and sensors <= {"COMBINED", "PASSIVE"}:
        log.warning(
            "%s: '%s' has no units attribute; taken as m3 m-3, the unit of every ESA CCI / "
            "C3S %s product (%s)",
            path,
            name,
            sensors.pop(),
            evidence,
        )
        return 1.0
    if kind == MISSING:
        raise ProductError(
            path,
            f"'{name}' has no units attribute, and no attribute (title, id, product) shows a "
            "COMBINED or PASSIVE (volumetric) product",
            f"use the file as the provider delivers it: {DAILY_COMBINED}",
        )
    raise ProductError(
        path,
        f"'{name}' is in {units!r}, not volumetric soil moisture in {ACCEPTED}",
        f"this is not an ESA CCI / C3S soil moisture image: use {DAILY_COMBINED}",
    )


def check_day(
    path: str | Path, ds: netCDF4.Dataset, claim: NameClaim | None, stamps: list[dt.datetime]
) -> dt.date:
    """The image's day: one time step at 00:00 of the day its name (and attribute id) says."""
    if len(stamps) != 1:
        raise ProductError(
            path,
            f"holds {len(stamps)} time steps; a daily image holds one",
            f"use {DAILY_COMBINED}",
        )
    stamp = stamps[0]
    if (stamp.hour, stamp.minute, stamp.second) != (0, 0, 0):
        raise ProductError(
            path,
            f"its time is {stamp:%Y-%m-%d %H:%M}; a daily image is stamped 00:00 of its day",
            "it is not an ESA CCI / C3S daily image: use the file as the provider delivers it",
        )
    own = parse_name(_attr(ds, "id"))
    for other, what in ((claim, "its name"), (own, f"attribute id {_attr(ds, 'id')!r}")):
        if other is not None and other.day != stamp.date():
            raise ProductError(
                path,
                f"holds the image of {stamp.date()} (variable time), but {what} says {other.day}",
                "the file was renamed or mislabelled: download the image of that day again",
            )
    return stamp.date()
