"""How a CSV network's files are laid out: the provider's column names, units, flags and clock.

A station CSV network (``stations.csv[i]`` of the config) is read as the provider ships it:
:class:`CsvLayout` says which column of each file holds each field of the project's format
(:mod:`.csv_stations`), and optionally the network's name (for files without a network
column), one units for every station, names for the file's unit text, the good flag values
and their separator, and the stations' clock. Its defaults are the project's own format, so a
config that says nothing reads the files as before.

:func:`read_mapped_csv` reads one file through such a description into a frame whose columns
are the project's field names (all cells stripped strings, plus ``line``: the file line, 1 =
header); error messages then name the file's own column (:func:`file_column`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from .base import ProductError

#: Fields of the stations file: required first, then optional.
STATION_REQUIRED = ("network", "station", "lat", "lon", "depth_from", "depth_to", "units")
STATION_OPTIONAL = ("field_capacity", "sensor", "utc_offset_hours")
#: Fields of the values file: required first, then optional.
VALUE_REQUIRED = ("network", "station", "time", "sm")
VALUE_OPTIONAL = ("flag", "sensor")
_ATTR = "file_columns"


def _identity(fields: Sequence[str]) -> Mapping[str, str]:
    return MappingProxyType({f: f for f in fields})


@dataclass(frozen=True)
class CsvLayout:
    """One CSV network's description (the project's own format by default).

    ``stations_columns``/``values_columns``: field -> the file's column (one column may serve
    two fields, e.g. one sensor depth for ``depth_from`` and ``depth_to``). ``network``: the
    network of every row, for files without a network column (that column is then not read).
    ``units``: the units of every station (the stations file's units column is then not
    read); ``unit_names``: the file's unit text -> units. ``good_flags``: the flag values of
    accepted observations (None: the caller's, ``stations.accept_flags``);
    ``flag_separator``: what joins several flags in one cell. ``utc_offset_hours``: the clock
    of stations whose own offset cell is missing or empty. ``key``: the config key, for
    messages.
    """

    stations_columns: Mapping[str, str] = field(
        default_factory=lambda: _identity(STATION_REQUIRED + STATION_OPTIONAL)
    )
    values_columns: Mapping[str, str] = field(
        default_factory=lambda: _identity(VALUE_REQUIRED + VALUE_OPTIONAL)
    )
    network: str | None = None
    units: str | None = None
    unit_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    good_flags: tuple[str, ...] | None = None
    flag_separator: str = ","
    utc_offset_hours: float | None = None
    key: str = "stations.csv"

    @classmethod
    def from_config(cls, item: Mapping[str, Any], key: str) -> CsvLayout:
        """The layout of one resolved ``stations.csv`` item (defaults filled by the schema)."""
        cols = item["columns"]
        good = item["flags"]["good"]
        offset = item["utc_offset_hours"]
        return cls(
            stations_columns=MappingProxyType(dict(cols["stations"])),
            values_columns=MappingProxyType(dict(cols["values"])),
            network=item["network"],
            units=item["units"],
            unit_names=MappingProxyType({k.strip(): v for k, v in item["unit_names"].items()}),
            good_flags=None if good is None else tuple(good),
            flag_separator=item["flags"]["separator"],
            utc_offset_hours=None if offset is None else float(offset),
            key=key,
        )

    def accept_flags(self, default: Sequence[str]) -> tuple[str, ...]:
        """The flag values this network accepts: its own good flags, else ``default``."""
        return tuple(default) if self.good_flags is None else self.good_flags

    def flags_key(self) -> str:
        """The config key that sets the accepted flags of this network."""
        return "stations.accept_flags" if self.good_flags is None else f"{self.key}.flags.good"


def read_mapped_csv(
    path: Path,
    columns: Mapping[str, str],
    required: Sequence[str],
    optional: Sequence[str],
    where: str,
) -> pd.DataFrame:
    """The fields of one CSV file under their project names (see module doc).

    ``required`` fields must be there; an ``optional`` field is read when its column is,
    and is an error when missing although ``columns`` gives it another name than its own
    (the user described it). ``where``: the config key of ``columns``, for the message.
    """
    raw = _read_text_csv(path)
    found = list(raw.columns)
    described = [f for f in optional if columns[f] != f]
    missing = [f for f in (*required, *described) if columns[f] not in found]
    if missing:
        names = [columns[f] for f in missing]
        mapped = ", ".join(f"{f} = {columns[f]!r}" for f in missing if columns[f] != f)
        raise ProductError(
            path,
            f"missing column(s) {names}; has {found}",
            f"required columns: {[columns[f] for f in required]}; "
            + (
                f"{where} gives {mapped}: set it to the file's own column name"
                if mapped
                else f"for a file with other column names, give them in {where}"
            ),
        )
    fields = [f for f in (*required, *optional) if columns[f] in found]
    out = pd.DataFrame({f: raw[columns[f]].str.strip() for f in fields}, index=raw.index)
    out["line"] = np.arange(len(out)) + 2
    out.attrs[_ATTR] = {f: columns[f] for f in fields}
    return out


def file_column(frame: pd.DataFrame, field_name: str) -> str:
    """The file's own name of a field read by :func:`read_mapped_csv` (else the field)."""
    return frame.attrs.get(_ATTR, {}).get(field_name, field_name)


def _read_text_csv(path: Path) -> pd.DataFrame:
    """Every cell as a string, header names stripped; ProductError when missing or unreadable."""
    if not path.is_file():
        raise ProductError(path, "does not exist")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ProductError(path, f"not a readable CSV file: {err}") from err
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw


def fill_constant(frame: pd.DataFrame, field_name: str, value: object) -> None:
    """Set ``field_name`` to ``value`` in every row (a column the layout gives for all)."""
    frame[field_name] = str(value)


def fill_empty(frame: pd.DataFrame, field_name: str, value: object) -> None:
    """``value`` where the field's cell is missing or empty (its own cells win)."""
    if field_name not in frame:
        fill_constant(frame, field_name, value)
    else:
        frame[field_name] = frame[field_name].where(frame[field_name] != "", str(value))


def join_flags(frame: pd.DataFrame, separator: str) -> pd.Series:
    """The ``flag`` cells with their codes joined by ``,`` (the project's separator)."""
    if separator == ",":
        return frame["flag"]
    return frame["flag"].map(
        lambda cell: ",".join(c.strip() for c in cell.split(separator) if c.strip())
    )
