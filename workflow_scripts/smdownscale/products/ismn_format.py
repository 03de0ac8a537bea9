"""Which ISMN download format an archive's ``.stm`` data files are in, and refusing the ones
the ``ismn`` package cannot read, by name, before it is asked to index them.

ISMN has delivered three text formats (``ismn.filehandlers.DataFile.read_metadata`` tells the
two it reads apart by the number of fields of the first two lines):

================= ==================================================== =====================
format            data file name, first line                           read
================= ==================================================== =====================
Header+values     ``<CSE>_<NET>_<STATION>_<var>_<from>_<to>_<sensor>_   yes
                  <start>_<end>.stm``; a header of station fields
                  (CSE, network, station, lat, lon, elevation, depths,
                  sensor), then ``date time value flag orig_flag``
CEOP separate     the same name; every line ``date time date time``     yes
files             + 8 station fields + ``value flag orig_flag``
                  (15 fields)
CEOP (old, one    ``<CSE>_<NET>_<STATION>_<start>_<end>.stm``; every      no: ``ismn`` >= 1.0
file per station) line ``date time date time`` + station fields + depth   raises
                  + soil temperature, flag + soil moisture, flag (16      "Ceop (old) format is
                  fields), all depths of the station in one file          no longer supported"
================= ==================================================== =====================

An archive of old CEOP files makes ``ismn`` fail with "No objects to concatenate", which says
nothing of the cause; :func:`check_data_file_names` names the format and what to download
instead.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from .base import ProductError

#: Parts of a per-sensor data file name split at "_" (sensor names may add more).
SENSOR_FILE_PARTS = 9
#: Parts of an old single-file CEOP name: CSE, network, station, start, end.
CEOP_STATION_FILE_PARTS = 5
CEOP_FIELDS = 16
READ_FORMATS = "'Header+values' (or 'CEOP separate files')"
_STAMP = re.compile(r"^\d{4}/\d{2}/\d{2}$")


def name_parts(file_path: str) -> list[str]:
    """The ``_``-separated parts of a data file's name, without ``.stm``."""
    return PurePosixPath(file_path).name.removesuffix(".stm").split("_")


def is_old_ceop(file_path: str, first_line: str) -> bool:
    """True for a data file of ISMN's old one-file-per-station CEOP format."""
    fields = first_line.split()
    return (
        len(name_parts(file_path)) == CEOP_STATION_FILE_PARTS
        and len(fields) == CEOP_FIELDS
        and bool(_STAMP.match(fields[0]))
        and bool(_STAMP.match(fields[2]))
    )


def first_line(archive: Path, member: str) -> str:
    """The first line of a data file in a zip or folder archive ("" when unreadable)."""
    try:
        if archive.is_dir():
            with (archive / member).open("rb") as f:
                head = f.read(4096)
        else:
            with zipfile.ZipFile(archive) as zf, zf.open(member) as f:
                head = f.read(4096)
    except (OSError, zipfile.BadZipFile, KeyError):
        return ""
    lines = head.decode("ascii", errors="replace").splitlines()
    return lines[0] if lines else ""


def check_data_file_names(archive: Path, files: list[str], advice: str) -> None:
    """ProductError for data files whose names are not per-sensor ISMN names: old CEOP files
    (named as such, with what to download instead) or anything else (``advice``)."""
    odd = [f for f in files if len(name_parts(f)) < SENSOR_FILE_PARTS]
    if not odd:
        return
    ceop = [f for f in odd if is_old_ceop(f, first_line(archive, f))]
    if ceop:
        raise ProductError(
            archive,
            f"{len(ceop)} data file(s) in ISMN's old CEOP format, one file per station with "
            f"every depth and variable (e.g. {ceop[0]}), which the ismn package no longer "
            "reads",
            f"download these networks again from ISMN in the {READ_FORMATS} format: one file "
            "per sensor, named <CSE>_<NETWORK>_<STATION>_<variable>_<depth_from>_<depth_to>_"
            "<sensor>_<start>_<end>.stm",
        )
    raise ProductError(
        archive,
        f"{len(odd)} .stm file(s) whose names are not ISMN data file names "
        f"(<CSE>_<NETWORK>_<STATION>_<variable>_<depth_from>_<depth_to>_<sensor>_<start>_"
        f"<end>.stm), e.g. {odd[0]}",
        advice,
    )
