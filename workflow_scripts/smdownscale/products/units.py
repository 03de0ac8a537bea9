"""What a soil-moisture ``units`` attribute means, shared by the satellite and reanalysis readers.

Soil moisture is used as a volumetric fraction (m3 m-3) throughout. A file's units fall in one
of these classes (:func:`soil_moisture_units`):

* :data:`VOLUMETRIC`: m3 m-3 in any of its usual spellings (``m3 m-3``, ``m3/m3``,
  ``m^3 m^-3``, ``m**3 m**-3``, ``m³/m³``) and cm3 cm-3, the same ratio (SMAP writes
  ``cm**3/cm**3``): used as they are.
* :data:`VOLUMETRIC_PERCENT`: percent *by volume* (``vol%``, ``% vol``, ``volume percent``,
  ``percent by volume``): the exact conversion is a division by 100.
* :data:`SATURATION_PERCENT`: ``percent``, ``%``, ``percentage (%)``, ``% saturation``: the
  percent of saturation of the ACTIVE (scatterometer) products, which becomes a volume fraction
  only with the soil's porosity, which no file gives: refused. A bare "percent" on a soil
  moisture variable is read this way, since the ESA CCI and C3S ACTIVE products write it so.
* :data:`MISSING`: no ``units`` attribute (or an empty one): each reader decides whether the
  file's own metadata prove the unit.
* :data:`UNKNOWN`: anything else (``kg m-2``, ``1``, ...): refused.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

log = logging.getLogger(__name__)

VOLUMETRIC = "volumetric"
VOLUMETRIC_PERCENT = "volumetric percent"
SATURATION_PERCENT = "percent of saturation"
MISSING = "missing"
UNKNOWN = "unknown"

#: The spellings accepted as m3 m-3, for messages.
ACCEPTED = "m3 m-3 (also m3/m3, m^3 m^-3, m**3 m**-3, cm3/cm3)"

_VOLUMETRIC = {"m3m-3", "m3/m3", "cm3cm-3", "cm3/cm3"}
_VOLUME_PERCENT = re.compile(r"^(vol(ume|umetric)?%|%vol(ume|umetric)?|(percent|%)byvolume)$")
_PERCENT = re.compile(
    r"^(%|percent|percentage|percentage\(%\)|%sat(uration)?|percentofsaturation)$"
)


def _compact(text: str) -> str:
    """Lower case without blanks, dots, ``**`` or ``^``: ``m**3 m**-3`` -> ``m3m-3``."""
    out = text.strip().lower().replace("³", "3").replace("⁻", "-")
    return re.sub(r"[\s.*^_]+", "", out)


def soil_moisture_units(units: object) -> str:
    """The class of a soil-moisture ``units`` attribute (see the module docstring)."""
    if units is None:
        return MISSING
    if isinstance(units, bytes):
        units = units.decode("utf-8", "replace")
    text = _compact(str(units))
    if not text:
        return MISSING
    if text in _VOLUMETRIC:
        return VOLUMETRIC
    if _VOLUME_PERCENT.match(text):
        return VOLUMETRIC_PERCENT
    if _PERCENT.match(text):
        return SATURATION_PERCENT
    return UNKNOWN


def volumetric_factor(path: str | Path, name: str, units: object) -> float | None:
    """The factor that turns variable ``name`` of ``path`` into m3 m-3: 1 for volumetric
    units, 0.01 for percent by volume (logged as a conversion); None for every other class,
    which each reader refuses or proves in its own way."""
    kind = soil_moisture_units(units)
    if kind == VOLUMETRIC:
        return 1.0
    if kind == VOLUMETRIC_PERCENT:
        log.warning("%s: %s is in %r (percent by volume): divided by 100 to m3 m-3", path,
                    name, units)  # fmt: skip
        return 0.01
    return None
