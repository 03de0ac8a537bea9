"""Write in-situ stations as the two plain CSV files that :mod:`..products.csv_stations` reads.

For networks outside ISMN (the Three-North paper's NZW, CERN and QXZ stations): a stations
file (coordinates, depth, units, field capacity) and a values file (one row per
observation). Times are written as ISO 8601: ``YYYY-MM-DD`` when every time is a midnight
(daily or sparse manual networks), else ``YYYY-MM-DDTHH:MM:SSZ``. Each file is written
beside its target and moved into place with :func:`os.replace`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..atomic import write_text_atomic
from ..products.csv_stations import (
    STATION_OPTIONAL,
    STATION_REQUIRED,
    VALUE_OPTIONAL,
    VALUE_REQUIRED,
)


def write_csv_stations(
    stations_path: str | Path,
    values_path: str | Path,
    stations: pd.DataFrame,
    values: pd.DataFrame,
) -> tuple[Path, Path]:
    """Write the stations and values CSV files.

    Parameters
    ----------
    stations
        ``network, station, lat, lon, depth_from, depth_to, units`` and optionally
        ``field_capacity`` (m3 m-3) and ``sensor``.
    values
        ``network, station, time, sm`` (``sm`` in the station's units; ``time`` naive UTC or
        tz-aware) and optionally ``flag`` and ``sensor``.

    Returns
    -------
    The two paths written.
    """
    st = _select(stations, STATION_REQUIRED, STATION_OPTIONAL, "stations")
    va = _select(values, VALUE_REQUIRED, VALUE_OPTIONAL, "values")
    va["time"] = iso_times(va["time"])
    return (
        write_text_atomic(Path(stations_path), st.to_csv(index=False, lineterminator="\n")),
        write_text_atomic(Path(values_path), va.to_csv(index=False, lineterminator="\n")),
    )


def iso_times(times: pd.Series) -> pd.Series:
    """ISO 8601 UTC strings: dates when all times are midnights, else ``...THH:MM:SSZ``."""
    t = pd.to_datetime(times)
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_convert("UTC").dt.tz_localize(None)
    if (t == t.dt.floor("D")).all():
        return t.dt.strftime("%Y-%m-%d")
    return t.dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _select(
    df: pd.DataFrame, required: tuple[str, ...], optional: tuple[str, ...], what: str
) -> pd.DataFrame:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lack column(s) {missing}; need {list(required)}")
    return df[list(required) + [c for c in optional if c in df.columns]].copy()
