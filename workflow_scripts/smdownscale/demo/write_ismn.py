"""Write a synthetic ISMN archive, byte-for-byte in the layout of a real ISMN download.

The layout copies the real "Header+values" download ``Data_seperate_files_header_20170810_
20180809`` (COSMOS, from the ``ismn`` package's test data):

- ``<NET>/<STATION>/<NET>_<NET>_<STATION>_sm_<from:.6f>_<to:.6f>_<sensor>_<start>_<end>.stm``,
  one file per sensor, ``<start>``/``<end>`` the first and last observation day (YYYYMMDD);
- header line, fixed columns as in CEOP station records::

    COSMOS     COSMOS          ARM-1             36.60540   -97.48780  322.00    0.00    0.19 ...

  (``...`` = ``Cosmic-ray-Probe``), i.e. ``f"{cse:<10} {network:<15} {station:<15}
  {lat:10.5f} {lon:11.5f} {elev:7.2f} {from:7.2f} {to:7.2f} {sensor}"`` (the CSE column
  repeats the network);
- value lines ``YYYY/MM/DD HH:MM`` + ``f" {sm:8.4f} {flag} {orig_flag}"``, e.g.
  ``2017/08/10 00:00   0.1410 G M`` (``orig_flag`` defaults to ``M``, as in the real files);
- one ``<NET>_<NET>_<STATION>_static_variables.csv`` per station (``;``-separated, trailing
  ``;``, CRLF, UTF-8): land cover (ESA CCI 2000/2005/2010), Koeppen-Geiger climate and, when
  given, HWSD soil properties for 0-0.3 m. ``ismn`` needs it (a station folder without it is
  reported as "potentially malformed" and gets placeholder metadata) and cannot index a
  station whose CSV lacks the land-cover rows.

Not copied: ``Metadata.xml``, ``Readme.txt`` and ``ISMN_qualityflags_description.txt`` of a
download (``ismn`` reads none of them), and the line endings -- the real samples differ
(CR only in the 2007 SMOSMANIA file, ``\\n`` after the header then ``\\r\\n`` in the COSMOS
files, ``\\n`` in current downloads); this writer uses ``\\n``, which ``ismn`` reads like the
others. ``fmt="ceop_sep"`` writes the other per-sensor format that ``ismn`` reads, the CEOP
one, where every line repeats the header fields between the time stamps and the value::

    2017/08/10 00:00 2017/08/10 00:00 COSMOS     COSMOS          ARM-1             36.60540 ...

The zip is written beside its target and moved into place with :func:`os.replace`.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from ismn.const import KOEPPENGEIGER, LANDCOVER

from ..atomic import atomic_path

STATION_COLUMNS = (
    "network",
    "station",
    "lat",
    "lon",
    "elevation",
    "depth_from",
    "depth_to",
    "sensor",
)
OBSERVATION_COLUMNS = ("network", "station", "time", "sm", "flag")
#: Optional station columns written to the static-variables CSV (HWSD 0-0.3 m layer).
SOIL_COLUMNS = {
    "saturation": ("saturation", "m^3*m^-3"),
    "clay_fraction": ("clay fraction", "% weight"),
    "organic_carbon": ("organic carbon", "% weight"),
    "sand_fraction": ("sand fraction", "% weight"),
    "silt_fraction": ("silt fraction", "% weight"),
}
DEFAULT_LANDCOVER = 130  # ESA CCI "Grassland"
DEFAULT_CLIMATE = "BSk"  # Koeppen-Geiger "Arid Steppe Cold", typical of North China

_CSV_HEADER = (
    "quantity_name;unit;depth_from[m];depth_to[m];value;description;quantity_source_name;"
    "quantity_source_description;quantity_source_provider;quantity_source_version;"
    "quantity_source_resolution;quantity_source_timerange;quantity_source_url;"
)
_HWSD = (
    'HWSD;Harmonized World Soil Database v1.1  by IIASA;IIASA;v1.1;30";;'
    "http://webarchive.iiasa.ac.at/Research/LUC/External-World-soil-database/HTML/;"
)
_CCI_LC = "ESA CCI Land Cover;ESA;{year}-v1.6.1;300m;{span};http://www.esa-landcover-cci.org/;"
_KG = (
    "koeppen_geiger_2007;Koeppen-Geiger Climate Classification;;Peel2007;0.1°;;"
    "http://www.hydrol-earth-syst-sci.net/11/1633/2007/;"
)
_NAME_OK = re.compile(r"^[A-Za-z0-9.\-]+$")
_SENSOR_OK = re.compile(r"^[A-Za-z0-9.\-_()]+$")


def write_ismn_archive(
    path_zip: str | Path,
    stations: pd.DataFrame,
    observations: pd.DataFrame,
    fmt: Literal["header_values", "ceop_sep"] = "header_values",
) -> Path:
    """Write an ISMN download (zip) of soil moisture sensors.

    Parameters
    ----------
    path_zip
        Target ``.zip``; its folder is created.
    stations
        One row per sensor: ``network, station, lat, lon, elevation, depth_from, depth_to,
        sensor``; optional ``landcover`` (ESA CCI class, default 130), ``climate``
        (Koeppen-Geiger code, default ``BSk``) and the soil columns of :data:`SOIL_COLUMNS`.
    observations
        ``network, station, time, sm, flag`` (``time`` naive UTC, whole minutes; ``sm`` in
        m3 m-3, written with 4 decimals like the real files; ``flag`` an ISMN flag such as
        ``G``, ``D01``, ``C03`` or ``D03,D05``); optional ``orig_flag`` (default ``M``).
        When a station has several sensors, add the station columns (``sensor``,
        ``depth_from``, ``depth_to``) that tell them apart.
    fmt
        ``header_values`` (default) or ``ceop_sep``.

    Returns
    -------
    The path written.
    """
    path = Path(path_zip)
    stations = _check_stations(stations)
    keys = ["network", "station"] + [
        c for c in ("sensor", "depth_from", "depth_to") if c in observations.columns
    ]
    obs = _check_observations(observations, stations, keys)
    members = dict(_members(stations, obs, keys, fmt))
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def stm_file_name(row: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> str:
    """``<NET>/<STATION>/<NET>_<NET>_<STATION>_sm_<from>_<to>_<sensor>_<start>_<end>.stm``."""
    net, sta = row["network"], row["station"]
    return (
        f"{net}/{sta}/{net}_{net}_{sta}_sm_{row['depth_from']:.6f}_{row['depth_to']:.6f}_"
        f"{row['sensor']}_{start:%Y%m%d}_{end:%Y%m%d}.stm"
    )


def header_fields(row: pd.Series) -> str:
    """The fixed-column station fields shared by the header and CEOP lines."""
    return (
        f"{row['network']:<10} {row['network']:<15} {row['station']:<15} {row['lat']:10.5f} "
        f"{row['lon']:11.5f} {row['elevation']:7.2f} {row['depth_from']:7.2f} "
        f"{row['depth_to']:7.2f}"
    )


def stm_text(row: pd.Series, obs: pd.DataFrame, fmt: str) -> str:
    """The text of one sensor's data file (observations sorted by time)."""
    stamps = obs["time"].dt.strftime("%Y/%m/%d %H:%M")
    tail = [
        f"{v:8.4f} {f} {o}"
        for v, f, o in zip(obs["sm"], obs["flag"], obs["orig_flag"], strict=True)
    ]
    if fmt == "header_values":
        lines = [f"{header_fields(row)} {row['sensor']}"]
        lines += [f"{t} {rest}" for t, rest in zip(stamps, tail, strict=True)]
    elif fmt == "ceop_sep":
        fields = header_fields(row)
        lines = [f"{t} {t} {fields} {rest}" for t, rest in zip(stamps, tail, strict=True)]
    else:
        raise ValueError(f"unknown ISMN format {fmt!r}; use 'header_values' or 'ceop_sep'")
    return "\n".join(lines) + "\n"


def static_variables_csv(row: pd.Series) -> str:
    """The station's ``*_static_variables.csv`` text (CRLF line ends)."""
    lines = [_CSV_HEADER]
    for column, (quantity, unit) in SOIL_COLUMNS.items():
        if column in row.index and pd.notna(row[column]):
            lines.append(f"{quantity};{unit};0.00;0.30;{row[column]:.2f};;{_HWSD}")
    lc = int(row["landcover"]) if "landcover" in row.index else DEFAULT_LANDCOVER
    lc_name = {v: k for k, v in LANDCOVER.items()}.get(lc, "")
    for year, span in (("2000", "1998-2002"), ("2005", "2003-2007"), ("2010", "2008-2012")):
        lines.append(
            f"land cover classification;;;;{lc};{lc_name};CCI_landcover_{year};"
            + _CCI_LC.format(year=year, span=span)
        )
    kg = str(row["climate"]) if "climate" in row.index else DEFAULT_CLIMATE
    lines.append(f"climate classification;;;;{kg};{KOEPPENGEIGER.get(kg, '')};{_KG}")
    return "\r\n".join(lines) + "\r\n"


def _members(
    stations: pd.DataFrame, obs: pd.DataFrame, keys: list[str], fmt: str
) -> Iterator[tuple[str, bytes]]:
    """(name in zip, bytes) of every data and static-variables file."""
    grouped = dict(iter(obs.groupby(keys, sort=False)))
    for _, row in stations.iterrows():
        key = tuple(row[k] for k in keys)
        sensor_obs = grouped.get(key)
        if sensor_obs is None or sensor_obs.empty:
            continue
        start, end = sensor_obs["time"].iloc[0], sensor_obs["time"].iloc[-1]
        yield stm_file_name(row, start, end), stm_text(row, sensor_obs, fmt).encode("ascii")
    for (net, sta), rows in stations.groupby(["network", "station"], sort=False):
        name = f"{net}/{sta}/{net}_{net}_{sta}_static_variables.csv"
        yield name, static_variables_csv(rows.iloc[0]).encode("utf-8")


def _check_stations(stations: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in STATION_COLUMNS if c not in stations.columns]
    if missing:
        raise ValueError(f"stations lack column(s) {missing}; need {list(STATION_COLUMNS)}")
    st = stations.reset_index(drop=True).copy()
    for c in ("network", "station"):
        _require(st[c].astype(str).str.match(_NAME_OK), st, c, "letters, digits, '.', '-' only")
    _require(st["sensor"].astype(str).str.match(_SENSOR_OK), st, "sensor", "no spaces or '/'")
    for c in ("lat", "lon", "elevation", "depth_from", "depth_to"):
        st[c] = pd.to_numeric(st[c]).astype("float64")
        _require(np.isfinite(st[c]), st, c, "finite numbers")
    _require(st["lat"].between(-90, 90) & st["lon"].between(-180, 180), st, "lat", "in range")
    for c in ("depth_from", "depth_to"):
        # the header holds depths to the cm; ismn takes header_values depths from it
        _require(np.isclose(st[c], st[c].round(2), rtol=0, atol=1e-9), st, c, "whole cm")
    _require(st["depth_to"] >= st["depth_from"], st, "depth_to", ">= depth_from")
    return st


def _check_observations(
    observations: pd.DataFrame, stations: pd.DataFrame, keys: list[str]
) -> pd.DataFrame:
    missing = [c for c in OBSERVATION_COLUMNS if c not in observations.columns]
    if missing:
        raise ValueError(f"observations lack column(s) {missing}; need {OBSERVATION_COLUMNS}")
    if stations.duplicated(keys).any():
        raise ValueError(
            f"stations are not unique on {keys}: add sensor/depth columns to the "
            "observations to say which sensor each belongs to"
        )
    obs = observations.copy()
    obs["time"] = pd.to_datetime(obs["time"]).astype("datetime64[ns]")
    if "orig_flag" not in obs:
        obs["orig_flag"] = "M"
    obs["flag"] = obs["flag"].astype(str)
    _require(obs["flag"].str.fullmatch(r"[A-Z0-9,]+"), obs, "flag", "ISMN flag codes")
    _require(obs["time"] == obs["time"].dt.floor("min"), obs, "time", "whole minutes")
    obs["sm"] = pd.to_numeric(obs["sm"]).astype("float64")
    _require(obs["sm"].abs() < 1000, obs, "sm", "finite values that fit the %8.4f column")
    known = obs[keys].merge(stations[keys].drop_duplicates(), how="left", indicator=True)
    _require(known["_merge"] == "both", obs, "station", "stations listed in `stations`")
    _require(~obs.duplicated(keys + ["time"]), obs, "time", "one value per sensor and time")
    return obs.sort_values(keys + ["time"], kind="stable").reset_index(drop=True)


def _require(ok: pd.Series, df: pd.DataFrame, column: str, what: str) -> None:
    ok = pd.Series(np.asarray(ok, dtype=bool), index=df.index)
    if not ok.all():
        i = int(np.flatnonzero(~ok.to_numpy())[0])
        raise ValueError(
            f"column {column!r} must be {what}; row {i}: {df.iloc[i].to_dict()} "
            f"({int((~ok).sum())} bad rows)"
        )
