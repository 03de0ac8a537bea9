"""Station values checked against what their stations file declares, before any conversion.

A wrong declaration gives plausible-looking wrong numbers, so each is refused with one
message naming every station concerned and what to change:

- range: accepted values must be volumetric fractions in [0, 1] m3 m-3 (ISMN files, whose
  values are m3 m-3 with implausible ones flagged, :func:`check_volumetric`).
- units: a station's accepted values (finite, flag accepted) must look like its declared
  units. Percent (``percent``, ``percent_of_field_capacity``) values that all lie within
  [0, :data:`PERCENT_FLOOR`] are m3 m-3 fractions labelled percent (0.6 % volumetric is
  drier than any soil a probe reports); ``m3 m-3`` values most of which exceed
  :data:`FRACTION_CEILING` are percent labelled as fractions (a few such values among
  fractions are out-of-range values, refused after conversion with a hint to flag them).
- clock: a date-time without an offset (``2010-07-01T12:00``) is the station's local clock,
  so the station must declare ``utc_offset_hours`` (0 for UTC); a plain date (a daily or
  10-day value) and a date-time with ``Z`` or ``+08:00`` need none.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .base import ProductError
from .stations import rejection_reasons

#: Percent values of a station never all lie at or below this.
PERCENT_FLOOR = 0.6
#: A volumetric fraction never exceeds this (m3 m-3).
FRACTION_CEILING = 1.0
PERCENT_UNITS = ("percent", "percent_of_field_capacity")


def check_declared_units(
    stations_path: Path,
    values_path: Path,
    merged: pd.DataFrame,
    keys: list[str],
    accept_flags: Sequence[str],
    advice: str = "",
) -> None:
    """ProductError naming every station whose accepted values contradict its ``units``.

    ``merged``: one row per observation with ``keys``, ``sm`` (source units), ``flag`` and
    ``source_units``. ``advice``: what to change (default: the stations file's units column).
    """
    per = (
        merged.loc[accepted(merged, accept_flags)]
        .assign(above_one=lambda d: d["sm"] > FRACTION_CEILING)
        .groupby(keys + ["source_units"], sort=True)
        .agg(min=("sm", "min"), max=("sm", "max"), size=("sm", "size"), above=("above_one", "sum"))
        .reset_index()
    )
    percent_like = per["source_units"].isin(PERCENT_UNITS) & (per["max"] <= PERCENT_FLOOR)
    fraction_like = (per["source_units"] == "m3 m-3") & (per["above"] > per["size"] / 2)
    problems = [
        f"{_who(r, keys)} declares {r['source_units']!r} but its {r['size']} accepted "
        f"value(s) all lie in [{r['min']:g}, {r['max']:g}]: m3 m-3 fractions, not percent"
        for _, r in per[percent_like].iterrows()
    ] + [
        f"{_who(r, keys)} declares 'm3 m-3' but {r['above']} of its {r['size']} accepted "
        f"value(s) exceed 1 (up to {r['max']:g}): percent, not a fraction"
        for _, r in per[fraction_like].iterrows()
    ]
    if problems:
        raise ProductError(
            stations_path,
            f"the values in {values_path} do not match the declared units of "
            f"{len(problems)} station(s): " + "; ".join(problems),
            advice
            or "set the 'units' column of these stations to what the values are ('m3 m-3' for "
            "fractions, 'percent' for volumetric percent); nothing was converted",
        )


def check_volumetric(
    path: str | Path, who: str, obs: pd.DataFrame, accept_flags: Sequence[str], advice: str
) -> None:
    """ProductError when accepted values of one sensor (``sm`` in m3 m-3, ``flag``, ``time``)
    lie outside [0, 1]: they cannot be volumetric fractions."""
    bad = accepted(obs, accept_flags) & ~obs["sm"].between(0.0, FRACTION_CEILING)
    if bad.any():
        first = obs.loc[bad].iloc[0]
        raise ProductError(
            path,
            f"station {who}: {int(bad.sum())} accepted value(s) outside [0, 1] m3 m-3 (first "
            f"{first['sm']:g} at {first['time']:%Y-%m-%d %H:%M})",
            advice,
        )


def accepted(obs: pd.DataFrame, accept_flags: Sequence[str]) -> pd.Series:
    """Per observation: finite ``sm`` and every code of ``flag`` in ``accept_flags``."""
    reasons = rejection_reasons(
        obs["sm"].to_numpy(dtype="float64"), obs["flag"].to_numpy(dtype=object), accept_flags
    )
    return pd.Series(reasons == "", index=obs.index)


def check_clock_times(
    stations_path: Path, values_path: Path, merged: pd.DataFrame, config_key: str = "stations.csv"
) -> None:
    """ProductError for clock times of stations that declare no ``utc_offset_hours``.

    ``merged``: ``network``, ``station``, ``time``, ``line``, ``local_clock`` (a date-time
    without offset) and ``utc_offset_hours`` (NaN when the station gives none).
    ``config_key``: the network's config item, whose ``utc_offset_hours`` sets every clock.
    """
    unknown = merged["local_clock"] & merged["utc_offset_hours"].isna()
    if not unknown.any():
        return
    rows = merged.loc[unknown]
    first = rows.iloc[0]
    who = rows[["network", "station"]].drop_duplicates().astype(str).agg("/".join, axis=1)
    raise ProductError(
        values_path,
        f"column 'time', line {first['line']} (station {first['network']}/{first['station']}):"
        f" {int(unknown.sum())} clock time(s) without a UTC offset (e.g. "
        f"{first['time']:%Y-%m-%dT%H:%M}) at station(s) {list(who)}, for which "
        f"{stations_path} gives no utc_offset_hours",
        f"set utc_offset_hours for these stations in {stations_path} (their clock: 0 for UTC, "
        "8 for Beijing time; add the column if it is missing), or for the whole network as "
        f"{config_key}.utc_offset_hours in the config, or write the times with their offset "
        "('...T12:00Z', '...T12:00+08:00')",
    )


def _who(row: pd.Series, keys: list[str]) -> str:
    who = f"{row['network']}/{row['station']}"
    return who + (f" (sensor {row['sensor']})" if "sensor" in keys else "")
