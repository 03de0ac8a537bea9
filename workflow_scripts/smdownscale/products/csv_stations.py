"""In-situ soil moisture from plain CSV files, for networks outside ISMN (e.g. China's NZW,
CERN, QXZ), harmonised to the tidy station table of :mod:`.stations`.

Two files:

stations file
    ``network, station, lat, lon, depth_from, depth_to, units`` and optionally
    ``field_capacity``, ``sensor`` and ``utc_offset_hours`` (the station's clock, e.g. 8 for
    Beijing time, 0 for UTC; required for stations whose times are clock times without an
    offset). One row per station (per station and sensor when the
    values file has a ``sensor`` column). ``lat``/``lon`` in degrees, depths in m below the
    surface, ``units`` one of ``m3 m-3``, ``percent`` (volumetric, %) or
    ``percent_of_field_capacity`` (relative soil moisture, % of field capacity, as Chinese
    agro-meteorological stations report it); ``field_capacity`` in m3 m-3, required for the
    last. ``sensor`` defaults to ``unknown``.
values file
    ``network, station, time, sm`` and optionally ``flag`` (and ``sensor``, see above).
    ``time`` is an ISO 8601 date or date-time. A date-time without an explicit offset is
    local standard time at the station's ``utc_offset_hours`` and converted to UTC (an error
    when the station gives none: the reader never guesses UTC); a plain date is the
    observation day as given (a daily or 10-day value has no clock time). Observations that
    repeat a timestamp of their sensor are averaged with a WARNING.
    ``sm`` is in the station's ``units``; an empty cell is a missing observation. ``flag``
    uses ISMN-style codes (an observation is used when all its comma-separated codes are in
    ``accept_flags``); an empty flag cell, or no flag column, means ``G``.

These are the project's names. A provider's files are read as shipped through a
:class:`~.csv_layout.CsvLayout` (the config's ``stations.csv`` item): its own column names
(a missing one is an error naming the file, the name and the columns found), the network's
name for files without a network column, one ``units`` for every station or names for the
file's unit text (``{"vol %": percent}``), the good flag values and their separator (``G|M``
with ``|``; an empty cell counts as the first good value) and the clock of stations without
their own ``utc_offset_hours``.

Before any conversion, each station's accepted values are checked against its declared
``units`` and clock (:mod:`.station_plausibility`: percent values all within [0, 0.6] are
m3 m-3 fractions, m3 m-3 values above 1 are percent). Units are then converted once, here:
``percent`` -> ``sm / 100``; ``percent_of_field_capacity`` -> ``sm / 100 *
field_capacity``; the formula is recorded in ``conversion``. Each accepted value must then
lie in [0, 1] m3 m-3; flag bad values to exclude them instead. Every error names the file,
the column and the line (1 = header) or the station. Sensors deeper than ``max_depth_m``
and networks without an accepted observation are logged as WARNINGs and counted
(:mod:`.station_tally`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .base import ProductError
from .csv_layout import (
    STATION_OPTIONAL,
    STATION_REQUIRED,
    VALUE_OPTIONAL,
    VALUE_REQUIRED,
    CsvLayout,
    file_column,
    fill_constant,
    fill_empty,
    join_flags,
    read_mapped_csv,
)
from .station_plausibility import check_clock_times, check_declared_units
from .station_tally import StationTally
from .stations import (
    GOOD,
    SOURCE_UNITS,
    AggregationCounts,
    daily_aggregate,
    finalize_station_table,
    select_surface_sensors,
    sensor_rows,
)

log = logging.getLogger(__name__)

__all__ = [
    "STATION_OPTIONAL",
    "STATION_REQUIRED",
    "VALUE_OPTIONAL",
    "VALUE_REQUIRED",
    "read_csv_stations",
    "read_stations_file",
    "read_values_file",
]
DEFAULT_SENSOR = "unknown"
#: Cells of ``sm`` that mean "no observation".
MISSING_TOKENS = ("", "na", "nan", "null")
_CONSTANT_COLUMNS = (
    "network",
    "station",
    "lat",
    "lon",
    "depth_from",
    "depth_to",
    "sensor",
    "source_units",
    "conversion",
)


def read_csv_stations(
    stations_path: str | Path,
    values_path: str | Path,
    accept_flags: Sequence[str] = (GOOD,),
    keep_rejected: bool = False,
    max_depth_m: float | None = None,
    tally: StationTally | None = None,
    layout: CsvLayout | None = None,
) -> pd.DataFrame:
    """Daily tidy station table from a stations CSV and a values CSV (see module doc).

    ``max_depth_m``: skip (WARNING, counted) sensors whose layer ends deeper; None keeps
    all. ``tally``: where to count per network what was read and left out (a fresh one when
    None). ``layout``: the files' column names, units, flags and clock
    (:mod:`.csv_layout`; None: the project's format); its good flags replace
    ``accept_flags``.

    Raises :class:`ProductError` naming the file, column and line or station for: a missing
    file or column, unknown units, a missing or implausible field capacity, non-numeric
    coordinates/depths/values, coordinates out of range, unparseable times, values for
    stations the stations file does not list, clock times of a station without
    ``utc_offset_hours``, values that contradict their station's units, and accepted values
    outside [0, 1] m3 m-3 after conversion.
    """
    spath, vpath = Path(stations_path), Path(values_path)
    tally = StationTally() if tally is None else tally
    layout = CsvLayout() if layout is None else layout
    accept_flags = layout.accept_flags(accept_flags)
    stations = read_stations_file(spath, layout)
    values = read_values_file(vpath, layout, accept_flags)
    keys = ["network", "station"] + (["sensor"] if "sensor" in values.columns else [])
    _check_unique(spath, stations, keys)
    _warn_networks_without_values(spath, vpath, stations, values, tally)
    merged = _attach_stations(vpath, values, stations, keys)
    if max_depth_m is not None:
        merged = _drop_deep_sensors(vpath, merged, max_depth_m, tally)
    check_clock_times(spath, vpath, merged, layout.key)
    check_declared_units(spath, vpath, merged, keys, accept_flags, _units_advice(layout))
    merged = _to_utc_m3(merged)
    _log_conversions(spath, merged)
    _check_range(vpath, merged, accept_flags)
    pieces, counts = [], AggregationCounts()
    for _, obs in merged.groupby(keys, sort=True):
        days, c = daily_aggregate(obs[["time", "sm", "flag"]], accept_flags, keep_rejected)
        counts += c
        first = obs.iloc[0]
        tally.add_sensor(vpath, first["network"], first["station"], first["sensor"], c)
        pieces.append(sensor_rows(days, **{c: first[c] for c in _CONSTANT_COLUMNS}))
    log.info("%s: %d station(s) with values: %s", vpath, len(pieces), counts.summary())
    tally.warn_unused_networks(
        vpath,
        f"if those flags are acceptable, add them to {layout.flags_key()} (now "
        f"{list(accept_flags)}); 'missing_value' counts empty sm cells",
    )
    return finalize_station_table(pieces)


def read_stations_file(path: Path, layout: CsvLayout | None = None) -> pd.DataFrame:
    """The stations file, checked, with ``scale`` (multiplier to m3 m-3), ``source_units``
    and ``conversion`` columns added."""
    layout = CsvLayout() if layout is None else layout
    given = {"network": layout.network, "units": layout.units}
    raw = read_mapped_csv(
        path,
        layout.stations_columns,
        [f for f in STATION_REQUIRED if given.get(f) is None],
        STATION_OPTIONAL,
        f"{layout.key}.columns.stations",
    )
    for name, value in given.items():
        if value is not None:
            fill_constant(raw, name, value)
    if layout.units is None:
        raw["units"] = raw["units"].replace(dict(layout.unit_names))
    if layout.utc_offset_hours is not None:
        fill_empty(raw, "utc_offset_hours", layout.utc_offset_hours)
    out = pd.DataFrame(index=raw.index)
    for c in ("network", "station"):
        out[c] = _names(path, raw, c)
    out["sensor"] = raw["sensor"].str.strip() if "sensor" in raw else DEFAULT_SENSOR
    out.loc[out["sensor"] == "", "sensor"] = DEFAULT_SENSOR
    for c in ("lat", "lon", "depth_from", "depth_to"):
        out[c] = _numbers(path, raw, c, allow_empty=False)
    _fail_where(path, raw, "lat", ~out["lat"].between(-90, 90), "latitude outside [-90, 90]")
    _fail_where(path, raw, "lon", ~out["lon"].between(-180, 180), "longitude outside [-180, 180]")
    _fail_where(path, raw, "depth_from", out["depth_from"] < 0, "depth must be >= 0 m")
    _fail_where(
        path, raw, "depth_to", out["depth_to"] < out["depth_from"], "depth_to above depth_from"
    )
    units = raw["units"].str.strip()
    _fail_where(
        path,
        raw,
        "units",
        ~units.isin(SOURCE_UNITS),
        f"unknown units (expected one of {list(SOURCE_UNITS)}; name the file's unit text "
        f"in {layout.key}.unit_names, e.g. {{'vol %': percent}}, or set {layout.key}.units)",
    )
    fc = _field_capacity(path, raw, units)
    out["source_units"] = units
    out["scale"] = units.map({"m3 m-3": 1.0, "percent": 0.01}).astype("float64")
    rel = units == "percent_of_field_capacity"
    out.loc[rel, "scale"] = fc[rel] / 100.0
    out["conversion"] = units.map({"m3 m-3": "none", "percent": "sm = value / 100"})
    out.loc[rel, "conversion"] = [
        f"sm = value / 100 * field_capacity ({v:g} m3 m-3)" for v in fc[rel]
    ]
    if "utc_offset_hours" in raw:
        offset = _numbers(path, raw, "utc_offset_hours", allow_empty=True)
        _fail_where(
            path, raw, "utc_offset_hours", offset.abs() > 14, "UTC offset outside [-14, 14] h"
        )
    else:
        offset = pd.Series(np.nan, index=raw.index)
    out["utc_offset_hours"] = offset  # NaN: the station's clock is not given
    shifted = offset.notna() & (offset != 0)
    out.loc[shifted, "conversion"] = [
        f"{c}; clock times UTC{o:+g} h -> UTC"
        for c, o in zip(out.loc[shifted, "conversion"], offset[shifted], strict=True)
    ]
    out["line"] = raw["line"]
    return out


def read_values_file(
    path: Path, layout: CsvLayout | None = None, accept_flags: Sequence[str] = (GOOD,)
) -> pd.DataFrame:
    """The values file, checked: time (tz-naive UTC), sm (float, source units), flag (str,
    codes joined by ``,``; an empty cell or no flag column is ``accept_flags[0]``)."""
    layout = CsvLayout() if layout is None else layout
    raw = read_mapped_csv(
        path,
        layout.values_columns,
        [f for f in VALUE_REQUIRED if not (f == "network" and layout.network is not None)],
        VALUE_OPTIONAL,
        f"{layout.key}.columns.values",
    )
    if layout.network is not None:
        fill_constant(raw, "network", layout.network)
    out = pd.DataFrame(index=raw.index)
    for c in ("network", "station"):
        out[c] = _names(path, raw, c)
    if "sensor" in raw:
        out["sensor"] = raw["sensor"].str.strip().replace("", DEFAULT_SENSOR)
    out["time"] = _times(path, raw)
    text = raw["time"]
    out["local_clock"] = text.str.contains(r"[T ]\d{1,2}:", regex=True) & ~text.str.contains(
        r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True
    )
    out["sm"] = _numbers(path, raw, "sm", allow_empty=True)
    good = accept_flags[0]
    flag = join_flags(raw, layout.flag_separator) if "flag" in raw else pd.Series("", raw.index)
    out["flag"] = flag.where(flag != "", good).astype(object)
    out["line"] = raw["line"]
    return out


def _names(path: Path, raw: pd.DataFrame, column: str) -> pd.Series:
    _fail_where(path, raw, column, raw[column] == "", "empty name")
    return raw[column]


def _numbers(path: Path, raw: pd.DataFrame, column: str, allow_empty: bool) -> pd.Series:
    """Column as float64; ProductError for non-numeric (or, unless allowed, empty) cells.

    Empty cells and ``NA``/``NaN``/``null`` (any case) are missing values (NaN).
    """
    text = raw[column]
    empty = text.str.lower().isin(MISSING_TOKENS)
    values = pd.to_numeric(text.where(~empty, ""), errors="coerce").astype("float64")
    bad = (values.isna() & ~empty) | (values.notna() & ~np.isfinite(values))
    _fail_where(path, raw, column, bad, "not a number")
    if not allow_empty:
        _fail_where(path, raw, column, empty, "empty cell")
    return values


def _times(path: Path, raw: pd.DataFrame) -> pd.Series:
    parsed = pd.to_datetime(raw["time"], format="ISO8601", utc=True, errors="coerce")
    _fail_where(path, raw, "time", parsed.isna(), "not an ISO 8601 date or date-time")
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")


def _field_capacity(path: Path, raw: pd.DataFrame, units: pd.Series) -> pd.Series:
    rel = units == "percent_of_field_capacity"
    if "field_capacity" not in raw:
        _fail_where(
            path,
            raw,
            "units",
            rel,
            "percent_of_field_capacity needs a field_capacity column (m3 m-3)",
        )
        return pd.Series(np.nan, index=raw.index)
    fc = _numbers(path, raw, "field_capacity", allow_empty=True)
    _fail_where(
        path,
        raw,
        "field_capacity",
        rel & fc.isna(),
        "missing field capacity for units percent_of_field_capacity",
    )
    _fail_where(
        path,
        raw,
        "field_capacity",
        rel & ~((fc > 0) & (fc <= 1)),
        "field capacity must be in (0, 1] m3 m-3",
    )
    return fc


def _check_unique(path: Path, stations: pd.DataFrame, keys: list[str]) -> None:
    dup = stations.duplicated(keys, keep="first")
    if dup.any():
        row = stations[dup].iloc[0]
        who = "/".join(str(row[k]) for k in keys)
        hint = "" if "sensor" in keys else "; add a sensor column to both files to tell them apart"
        raise ProductError(
            path,
            f"line {row['line']}: station {who} is listed twice "
            f"(values are matched on {keys}){hint}",
        )


def _attach_stations(
    path: Path, values: pd.DataFrame, stations: pd.DataFrame, keys: list[str]
) -> pd.DataFrame:
    """Values joined with their station's row (not converted yet); ProductError for
    unknown stations."""
    merged = values.merge(
        stations.drop(columns="line"),
        on=keys,
        how="left",
        suffixes=("", "_station"),
        indicator=True,
    )
    unknown = merged["_merge"] == "left_only"
    if unknown.any():
        ids = merged.loc[unknown, keys].drop_duplicates().astype(str).agg("/".join, axis=1)
        first = int(merged.loc[unknown, "line"].iloc[0])
        raise ProductError(
            path,
            f"{int(unknown.sum())} value row(s) for station(s) not in the stations file: "
            f"{list(ids)} (first at line {first})",
            "add them to the stations file or fix the network/station names",
        )
    return merged.drop(columns="_merge")


def _warn_networks_without_values(
    spath: Path, vpath: Path, stations: pd.DataFrame, values: pd.DataFrame, tally: StationTally
) -> None:
    """WARNING (and a tally row of zeros) for networks of the stations file without values."""
    silent = sorted(set(stations["network"]) - set(values["network"]))
    for network in silent:
        tally.add_network(vpath, network)
    if silent:
        log.warning(
            "%s: no value rows for network(s) %s of %s, which contribute no station: check "
            "the values file and its network names",
            vpath,
            silent,
            spath,
        )


def _log_conversions(spath: Path, merged: pd.DataFrame) -> None:
    """INFO: which stations' values were converted, and how."""
    cols = ["network", "station", "conversion"]
    done = merged.loc[merged["conversion"] != "none", cols].drop_duplicates()
    for conversion, group in done.groupby("conversion", sort=True):
        who = sorted(set(group["network"] + "/" + group["station"]))
        log.info("%s: converted (%s) for %d station(s): %s", spath, conversion, len(who), who)


def _drop_deep_sensors(
    path: Path, merged: pd.DataFrame, max_depth_m: float, tally: StationTally
) -> pd.DataFrame:
    """The rows of sensors no deeper than ``max_depth_m``; the others warned and counted."""
    kept, deep = select_surface_sensors(merged, max_depth_m)
    tally.skip_too_deep(path, deep, max_depth_m)
    return kept


def _to_utc_m3(merged: pd.DataFrame) -> pd.DataFrame:
    """Values in m3 m-3 and local clock times shifted to UTC (after the checks)."""
    out = merged.copy()
    out["sm"] = out["sm"] * out["scale"]
    offset = out["utc_offset_hours"].where(out["local_clock"], 0.0).fillna(0.0)
    out["time"] = out["time"] - pd.to_timedelta(offset, unit="h")
    return out.drop(columns=["scale", "utc_offset_hours", "local_clock"])


def _units_advice(layout: CsvLayout) -> str:
    """What to change when a station's values contradict its units."""
    if layout.units is not None:
        return (
            f"set {layout.key}.units to what the values are ('m3 m-3' for fractions, "
            "'percent' for volumetric percent), or leave it out and give each station's "
            "units in the stations file; nothing was converted"
        )
    return ""


def _check_range(path: Path, merged: pd.DataFrame, accept_flags: Sequence[str]) -> None:
    """Accepted values must be volumetric fractions after conversion."""
    accepted = merged["flag"].map(lambda f: all(c.strip() in accept_flags for c in f.split(",")))
    bad = accepted & merged["sm"].notna() & ~merged["sm"].between(0.0, 1.0)
    if bad.any():
        row = merged[bad].iloc[0]
        raise ProductError(
            path,
            f"column 'sm', line {row['line']} (station {row['network']}/{row['station']}): "
            f"{row['sm']:g} m3 m-3 after conversion from {row['source_units']!r} is outside "
            f"[0, 1] ({int(bad.sum())} such value(s))",
            "check the station's units in the stations file, or flag the value",
        )


def _fail_where(path: Path, raw: pd.DataFrame, column: str, bad: pd.Series, problem: str) -> None:
    """ProductError naming the column, first bad line, its station and value."""
    bad = bad.fillna(False).astype(bool)
    if not bad.any():
        return
    i = bad.to_numpy().nonzero()[0][0]
    row = raw.iloc[i]
    station = f"{row.get('network', '?')}/{row.get('station', '?')}"
    value = row[column] if column in raw.columns else None
    raise ProductError(
        path,
        f"column {file_column(raw, column)!r}, line {row['line']} (station {station}): "
        f"{problem}: {value!r}" + (f" ({int(bad.sum())} such rows)" if bad.sum() > 1 else ""),
    )
