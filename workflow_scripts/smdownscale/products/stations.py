"""The tidy in-situ station table shared by every station reader, and its daily aggregation.

One row per station-sensor-day. This is the contract between the station readers
(:mod:`.ismn`, :mod:`.csv_stations`) and the rest of the workflow (BMA weights, validation):

========== ============== =====================================================================
column     dtype          meaning
========== ============== =====================================================================
network    str            network name (ISMN network, or the CSV ``network`` column)
station    str            station name, unique within its network
lat, lon   float64        station coordinates, degrees (WGS84)
depth_from float64        top of the sensed layer, m below the surface
depth_to   float64        bottom of the sensed layer, m below the surface
sensor     str            instrument name (several sensors may share a station and depth)
time       datetime64[ns] the UTC day (midnight, tz-naive)
sm         float64        daily mean of the day's accepted observations, m3 m-3
                          (NaN on a rejected day)
n_obs      int64          number of observations in that mean (0 on a rejected day)
flag       str            ``"G"`` when the day has accepted observations, else why it was
                          rejected (the sorted flags of its observations, e.g. ``"D03,D05"``)
source_units str          units of the values in the source file
conversion str            how ``sm`` was derived from the source values
========== ============== =====================================================================

Aggregation rules (:func:`daily_aggregate`): an observation is *accepted* when its value is
finite and every code of its flag (ISMN writes combined flags as ``"D03,D05"``) is in
``accept_flags``; the day's ``sm`` is the plain mean of its accepted observations, whatever
their number (``n_obs`` lets later stages demand a minimum). A day whose observations were
all rejected is dropped unless ``keep_rejected`` is set; then it stays with ``sm`` NaN,
``n_obs`` 0 and the rejection reasons in ``flag``. Days without any observation have no row.
Observations that repeat a timestamp of the same sensor are all counted in the mean; their
number (``n_duplicate_times``) and the first such time are counted so that the readers can
warn about them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Column name -> dtype of the tidy station table, in column order.
STATION_COLUMNS: dict[str, str] = {
    "network": "str",
    "station": "str",
    "lat": "float64",
    "lon": "float64",
    "depth_from": "float64",
    "depth_to": "float64",
    "sensor": "str",
    "time": "datetime64[ns]",
    "sm": "float64",
    "n_obs": "int64",
    "flag": "str",
    "source_units": "str",
    "conversion": "str",
}

#: The flag of a day that has accepted observations.
GOOD = "G"
#: Rejection reason of an observation without a finite value.
MISSING_VALUE = "missing_value"
#: The rows' identity: at most one row per key.
KEY_COLUMNS = ["network", "station", "sensor", "depth_from", "depth_to", "time"]
#: Source units the workflow knows how to convert to m3 m-3.
SOURCE_UNITS = ("m3 m-3", "percent", "percent_of_field_capacity")

_STR_COLUMNS = [c for c, t in STATION_COLUMNS.items() if t == "str"]
_FLOAT_COLUMNS = [c for c, t in STATION_COLUMNS.items() if t == "float64"]


class StationTableError(ValueError):
    """A station table that breaks the tidy-table contract."""


@dataclass
class AggregationCounts:
    """What :func:`daily_aggregate` did with one or more sensors' observations."""

    n_obs: int = 0
    n_accepted: int = 0
    n_days: int = 0
    n_days_rejected: int = 0
    rejected_by_flag: Counter[str] = field(default_factory=Counter)
    #: Observations whose timestamp repeats an earlier one of the same sensor.
    n_duplicate_times: int = 0
    #: The earliest repeated timestamp (ISO 8601, UTC), "" when none.
    first_duplicate_time: str = ""

    def __iadd__(self, other: AggregationCounts) -> AggregationCounts:
        self.n_obs += other.n_obs
        self.n_accepted += other.n_accepted
        self.n_days += other.n_days
        self.n_days_rejected += other.n_days_rejected
        self.rejected_by_flag.update(other.rejected_by_flag)
        self.n_duplicate_times += other.n_duplicate_times
        firsts = [t for t in (self.first_duplicate_time, other.first_duplicate_time) if t]
        self.first_duplicate_time = min(firsts, default="")
        return self

    def by_flag(self) -> str:
        """The rejections by reason, e.g. ``"D05: 5, U: 736"``; ``""`` when none."""
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.rejected_by_flag.items()))

    def summary(self) -> str:
        """One line for the log."""
        rej = self.by_flag() or "none"
        return (
            f"{self.n_obs} observations, {self.n_accepted} accepted, "
            f"{self.n_obs - self.n_accepted} rejected (by flag: {rej}); "
            f"{self.n_days} days with accepted observations, "
            f"{self.n_days_rejected} days with none"
            + (
                f"; {self.n_duplicate_times} observations repeat a timestamp"
                if self.n_duplicate_times
                else ""
            )
        )


def empty_station_table() -> pd.DataFrame:
    """A table with the station columns and dtypes and no rows."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in STATION_COLUMNS.items()})


def split_flag(flag: object) -> tuple[str, ...]:
    """The codes of one flag field: ``"D03,D05"`` -> ``("D03", "D05")``; missing -> ``()``."""
    if not isinstance(flag, str):
        return ()
    return tuple(code.strip() for code in flag.split(",") if code.strip())


def flag_rejection(flag: object, accept_flags: Iterable[str]) -> str:
    """Why a flag rejects its observation, or ``""`` when every code is accepted.

    The reason is the flag's codes that are not in ``accept_flags`` (comma-joined, in file
    order), or ``"missing_flag"`` for an empty or missing flag.
    """
    codes = split_flag(flag)
    if not codes:
        return "missing_flag"
    accept = set(accept_flags)
    return ",".join(c for c in codes if c not in accept)


def rejection_reasons(
    values: np.ndarray, flags: np.ndarray, accept_flags: Iterable[str]
) -> np.ndarray:
    """Per observation: ``""`` if accepted, else why not (flag codes, or ``"missing_value"``).

    A non-finite value with an accepted flag is rejected as ``"missing_value"``.
    """
    accept = tuple(accept_flags)
    flag_str = pd.Series(flags, dtype=object).where(pd.notna(flags), "").astype(str)
    table = {f: flag_rejection(f, accept) for f in pd.unique(flag_str)}
    reasons = flag_str.map(table).to_numpy(dtype=object)
    missing = (reasons == "") & ~np.isfinite(values)
    reasons[missing] = MISSING_VALUE
    return reasons


def to_utc_naive(times: pd.Series) -> pd.Series:
    """Timestamps as tz-naive UTC ``datetime64[ns]`` (naive input is taken to be UTC)."""
    t = pd.to_datetime(times)
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_convert("UTC").dt.tz_localize(None)
    return t.astype("datetime64[ns]")


def daily_aggregate(
    obs: pd.DataFrame,
    accept_flags: Iterable[str] = (GOOD,),
    keep_rejected: bool = False,
) -> tuple[pd.DataFrame, AggregationCounts]:
    """Daily UTC means of one sensor's observations.

    Parameters
    ----------
    obs
        Columns ``time`` (datetime, naive = UTC), ``sm`` (float, already in m3 m-3) and
        ``flag`` (str; codes comma-separated).
    accept_flags
        Flag codes an observation may carry and still be used.
    keep_rejected
        Keep days without accepted observations (``sm`` NaN, ``n_obs`` 0, ``flag`` = the
        sorted, de-duplicated rejection reasons of the day's observations).

    Returns
    -------
    The per-day frame (columns ``time``, ``sm``, ``n_obs``, ``flag``, sorted by time) and
    the counts of observations and days accepted and rejected.
    """
    accept = tuple(accept_flags)
    times = to_utc_naive(obs["time"])
    values = pd.to_numeric(obs["sm"]).to_numpy(dtype="float64")
    reasons = rejection_reasons(values, obs["flag"].to_numpy(dtype=object), accept)
    accepted = reasons == ""
    repeated = times[times.duplicated()]
    frame = pd.DataFrame(
        {
            "time": times.dt.floor("D").to_numpy(),
            "sm": np.where(accepted, values, np.nan),
            "accepted": accepted,
            "reason": reasons,
        }
    )
    grouped = frame.groupby("time", sort=True)
    days = pd.DataFrame(
        {
            "sm": grouped["sm"].mean(),
            "n_obs": grouped["accepted"].sum().astype("int64"),
            "flag": grouped["reason"].agg(_day_reason),
        }
    ).reset_index()
    good = days["n_obs"] > 0
    days.loc[good, "flag"] = GOOD
    counts = AggregationCounts(
        n_obs=len(frame),
        n_accepted=int(accepted.sum()),
        n_days=int(good.sum()),
        n_days_rejected=int((~good).sum()),
        rejected_by_flag=Counter(reasons[~accepted].tolist()),
        n_duplicate_times=len(repeated),
        first_duplicate_time=f"{repeated.min():%Y-%m-%d %H:%M}" if len(repeated) else "",
    )
    if not keep_rejected:
        days = days[good]
    days["time"] = days["time"].astype("datetime64[ns]")
    return days.reset_index(drop=True), counts


def _day_reason(reasons: pd.Series) -> str:
    """Sorted, de-duplicated rejection codes of one day's observations."""
    codes = {c for r in reasons if r for c in r.split(",")}
    return ",".join(sorted(codes))


def sensor_rows(days: pd.DataFrame, **constants: object) -> pd.DataFrame:
    """Per-day frame of one sensor plus its constant columns (network, station, ...)."""
    out = days.copy()
    for name, value in constants.items():
        out[name] = value
    return out


def finalize_station_table(pieces: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate per-sensor frames into a validated, sorted tidy station table."""
    frames = [p for p in pieces if len(p)]
    if not frames:
        return empty_station_table()
    df = pd.concat(frames, ignore_index=True)
    missing = [c for c in STATION_COLUMNS if c not in df.columns]
    if missing:
        raise StationTableError(f"station table lacks column(s) {missing}")
    df = df[list(STATION_COLUMNS)].astype(STATION_COLUMNS)
    df = df.sort_values(KEY_COLUMNS, kind="stable").reset_index(drop=True)
    return validate_station_table(df)


def validate_station_table(df: pd.DataFrame) -> pd.DataFrame:
    """Check ``df`` against the tidy station-table contract; return it unchanged.

    Raises :class:`StationTableError` naming the column (and the first offending row) for:
    missing or extra columns, wrong dtypes, missing strings, coordinates out of range,
    negative or inverted depths, times that are not tz-naive UTC midnights, duplicate
    station-sensor-days, and "G" days whose ``sm`` is not in [0, 1] or whose ``n_obs`` < 1.
    """
    if not isinstance(df, pd.DataFrame):
        raise StationTableError(f"station table must be a pandas DataFrame, not {type(df)}")
    cols = list(df.columns)
    if cols != list(STATION_COLUMNS):
        missing = [c for c in STATION_COLUMNS if c not in cols]
        extra = [c for c in cols if c not in STATION_COLUMNS]
        raise StationTableError(
            f"station table columns must be {list(STATION_COLUMNS)} in this order; "
            f"missing {missing}, unexpected {extra}"
        )
    _check_dtypes(df)
    _check_values(df)
    return df


def _check_dtypes(df: pd.DataFrame) -> None:
    for c in _STR_COLUMNS:
        if not pd.api.types.is_string_dtype(df[c].dtype):
            raise StationTableError(f"column {c!r} must hold strings, has dtype {df[c].dtype}")
        _first_bad(df, c, df[c].isna(), "is missing")
    for c in _FLOAT_COLUMNS:
        if df[c].dtype != np.float64:
            raise StationTableError(f"column {c!r} must be float64, has dtype {df[c].dtype}")
    if df["time"].dtype != np.dtype("datetime64[ns]"):
        raise StationTableError(
            f"column 'time' must be tz-naive datetime64[ns] (UTC days), has {df['time'].dtype}"
        )
    if not pd.api.types.is_integer_dtype(df["n_obs"].dtype):
        raise StationTableError(f"column 'n_obs' must be integer, has {df['n_obs'].dtype}")


def _check_values(df: pd.DataFrame) -> None:
    _first_bad(df, "lat", ~df["lat"].between(-90.0, 90.0), "is not a latitude in [-90, 90]")
    _first_bad(df, "lon", ~df["lon"].between(-180.0, 180.0), "is not a longitude in [-180, 180]")
    _first_bad(df, "depth_from", ~(df["depth_from"] >= 0), "is not a depth >= 0 m")
    _first_bad(df, "depth_to", ~(df["depth_to"] >= df["depth_from"]), "is above depth_from")
    _first_bad(
        df,
        "time",
        df["time"].isna() | (df["time"] != df["time"].dt.floor("D")),
        "is not a UTC day (midnight)",
    )
    _first_bad(df, "n_obs", df["n_obs"] < 0, "is negative")
    good = df["flag"] == GOOD
    _first_bad(df, "n_obs", good & (df["n_obs"] < 1), "is < 1 on a 'G' day")
    _first_bad(
        df,
        "sm",
        good & ~df["sm"].between(0.0, 1.0),
        "is not a volumetric soil moisture in [0, 1] m3 m-3 on a 'G' day",
    )
    _first_bad(df, "sm", ~good & df["sm"].notna(), "must be NaN on a rejected day")
    dup = df.duplicated(KEY_COLUMNS, keep=False)
    _first_bad(df, "time", dup, f"repeats a station-sensor-day (key {KEY_COLUMNS})")


def _first_bad(df: pd.DataFrame, column: str, bad: pd.Series, problem: str) -> None:
    if bool(bad.any()):
        i = int(np.flatnonzero(bad.to_numpy())[0])
        row = df.iloc[i]
        who = f"{row['network']}/{row['station']}" if "station" in df.columns else "?"
        raise StationTableError(
            f"station table column {column!r}: {int(bad.sum())} row(s) where the value "
            f"{problem}; first at row {i} ({who}): {row[column]!r}"
        )


def select_surface_sensors(
    table: pd.DataFrame, max_depth_m: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep rows of sensors whose bottom (``depth_to``) is at most ``max_depth_m``.

    Returns ``(kept, dropped_sensors)``; ``dropped_sensors`` lists each deeper sensor once
    (network, station, sensor, depth_from, depth_to), so the caller can log them. A satellite
    senses the top few centimetres; deeper sensors measure another quantity.
    """
    deep = table["depth_to"] > max_depth_m
    cols = ["network", "station", "sensor", "depth_from", "depth_to"]
    dropped = table.loc[deep, cols].drop_duplicates().reset_index(drop=True)
    return table.loc[~deep].reset_index(drop=True), dropped
