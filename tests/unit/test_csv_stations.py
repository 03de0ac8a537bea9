"""Plain-CSV station reader (networks outside ISMN), its writer, and the tidy-table contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smdownscale.demo.write_csv_stations import write_csv_stations
from smdownscale.products.base import ProductError
from smdownscale.products.csv_stations import read_csv_stations
from smdownscale.products.stations import (
    STATION_COLUMNS,
    StationTableError,
    daily_aggregate,
    empty_station_table,
    validate_station_table,
)

STATIONS = """network,station,lat,lon,depth_from,depth_to,units,field_capacity,sensor
NZW,S1,40.5,110.25,0.0,0.1,percent,,FDR
NZW,S2,38.0,106.5,0.1,0.1,percent_of_field_capacity,0.30,
CERN,C1,36.1,103.7,0.05,0.05,m3 m-3,,TDR
"""
VALUES = """network,station,time,sm,flag
NZW,S1,2010-07-01,20,
NZW,S1,2010-07-01T12:00:00Z,30,G
NZW,S1,2010-07-02,99,D01
NZW,S2,2010-07-01,50,
NZW,S2,2010-07-06,NA,
CERN,C1,2010-07-02T03:00:00+08:00,0.2,
CERN,C1,2010-07-02T12:00:00Z,0.3,G
"""


def write(tmp_path: Path, stations: str = STATIONS, values: str = VALUES) -> tuple[Path, Path]:
    s, v = tmp_path / "stations.csv", tmp_path / "values.csv"
    s.write_text(stations)
    v.write_text(values)
    return s, v


def read(tmp_path: Path, stations: str = STATIONS, values: str = VALUES, **kw) -> pd.DataFrame:
    return read_csv_stations(*write(tmp_path, stations, values), **kw)


def row(table: pd.DataFrame, station: str, day: str) -> pd.Series:
    hit = table[(table["station"] == station) & (table["time"] == pd.Timestamp(day))]
    assert len(hit) == 1, (station, day)
    return hit.iloc[0]


# --- conversions and aggregation --------------------------------------------------------


def test_conversions_and_daily_means(tmp_path: Path) -> None:
    table = read(tmp_path)
    validate_station_table(table)
    assert list(table.columns) == list(STATION_COLUMNS)

    s1 = row(table, "S1", "2010-07-01")  # percent: (20 + 30) / 2 / 100
    assert s1["sm"] == pytest.approx(0.25, abs=1e-15)
    assert (s1["n_obs"], s1["flag"], s1["source_units"]) == (2, "G", "percent")
    assert s1["conversion"] == "sm = value / 100"
    assert (s1["sensor"], s1["lat"], s1["lon"], s1["depth_to"]) == ("FDR", 40.5, 110.25, 0.1)

    s2 = row(table, "S2", "2010-07-01")  # 50 % of a 0.30 field capacity
    assert s2["sm"] == pytest.approx(0.15, abs=1e-15)
    assert s2["source_units"] == "percent_of_field_capacity"
    assert s2["conversion"] == "sm = value / 100 * field_capacity (0.3 m3 m-3)"
    assert s2["sensor"] == "unknown"

    # 03:00 +08:00 is 19:00 UTC of the previous day
    c1 = table[table["station"] == "C1"].set_index("time")
    assert c1["sm"].to_dict() == {pd.Timestamp("2010-07-01"): 0.2, pd.Timestamp("2010-07-02"): 0.3}
    assert set(c1["conversion"]) == {"none"}

    # the D01 day of S1 and the NA day of S2 are dropped
    assert len(table) == 4


def test_keep_rejected_and_accept_flags(tmp_path: Path) -> None:
    table = read(tmp_path, keep_rejected=True)
    d01 = row(table, "S1", "2010-07-02")
    assert (d01["flag"], d01["n_obs"]) == ("D01", 0) and np.isnan(d01["sm"])
    na = row(table, "S2", "2010-07-06")
    assert (na["flag"], na["n_obs"]) == ("missing_value", 0)

    loose = read(tmp_path, accept_flags=("G", "D01"))
    assert row(loose, "S1", "2010-07-02")["sm"] == pytest.approx(0.99, abs=1e-15)


def test_sensor_column_in_values_selects_the_sensor(tmp_path: Path) -> None:
    stations = """network,station,lat,lon,depth_from,depth_to,units,sensor
QXZ,Q1,41.0,112.0,0.0,0.1,percent,top
QXZ,Q1,41.0,112.0,0.1,0.2,percent,deep
"""
    values = """network,station,sensor,time,sm
QXZ,Q1,top,2011-05-01,10
QXZ,Q1,deep,2011-05-01,30
"""
    table = read(tmp_path, stations, values)
    assert table.set_index("sensor")["sm"].to_dict() == pytest.approx({"deep": 0.3, "top": 0.1})
    assert table.set_index("sensor")["depth_from"].to_dict() == {"deep": 0.1, "top": 0.0}


# --- errors: each names the file, the column and the line or station ---------------------


def replace_line(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


@pytest.mark.parametrize(
    ("stations", "values", "which", "message"),
    [
        (
            STATIONS.replace(",units,", ",unit,"),
            VALUES,
            "stations",
            r"missing column\(s\) \['units'\]",
        ),
        (
            STATIONS,
            VALUES.replace(",sm,", ",value,"),
            "values",
            r"missing column\(s\) \['sm'\]",
        ),
        (
            replace_line(STATIONS, "0.05,0.05,m3 m-3", "0.05,0.05,vol%"),
            VALUES,
            "stations",
            r"column 'units', line 4 \(station CERN/C1\): unknown units .*: 'vol%'",
        ),
        (
            replace_line(
                STATIONS, "percent_of_field_capacity,0.30,", "percent_of_field_capacity,,"
            ),
            VALUES,
            "stations",
            r"column 'field_capacity', line 3 \(station NZW/S2\): missing field capacity",
        ),
        (
            "\n".join(ln.rsplit(",", 2)[0] for ln in STATIONS.strip().splitlines()).replace(
                "units,field_capacity", "units"
            )
            + "\n",
            VALUES,
            "stations",
            r"column 'units', line 3 \(station NZW/S2\): percent_of_field_capacity needs a "
            r"field_capacity column",
        ),
        (
            replace_line(STATIONS, "capacity,0.30,", "capacity,30,"),
            VALUES,
            "stations",
            r"column 'field_capacity', line 3 \(station NZW/S2\): field capacity must be in "
            r"\(0, 1\] m3 m-3: '30'",
        ),
        (
            STATIONS,
            VALUES + "NZW,S9,2010-07-01,20,\nNZW,S9,2010-07-02,20,\n",
            "values",
            r"2 value row\(s\) for station\(s\) not in the stations file: \['NZW/S9'\] "
            r"\(first at line 9\)",
        ),
        (
            STATIONS,
            replace_line(VALUES, "NZW,S2,2010-07-01,50,", "NZW,S2,2010-07-01,fifty,"),
            "values",
            r"column 'sm', line 5 \(station NZW/S2\): not a number: 'fifty'",
        ),
        (
            replace_line(STATIONS, "NZW,S1,40.5,", "NZW,S1,40.5N,"),
            VALUES,
            "stations",
            r"column 'lat', line 2 \(station NZW/S1\): not a number: '40.5N'",
        ),
        (
            replace_line(STATIONS, "CERN,C1,36.1,", "CERN,C1,96.1,"),
            VALUES,
            "stations",
            r"column 'lat', line 4 \(station CERN/C1\): latitude outside \[-90, 90\]: '96.1'",
        ),
        (
            replace_line(STATIONS, "38.0,106.5", "38.0,286.5"),
            VALUES,
            "stations",
            r"column 'lon', line 3 \(station NZW/S2\): longitude outside \[-180, 180\]: '286.5'",
        ),
        (
            STATIONS,
            replace_line(VALUES, "CERN,C1,2010-07-02T12:00:00Z", "CERN,C1,2 July 2010"),
            "values",
            r"column 'time', line 8 \(station CERN/C1\): not an ISO 8601 date",
        ),
        (
            STATIONS,
            replace_line(VALUES, "CERN,C1,2010-07-02T12:00:00Z,0.3", "CERN,C1,2010-07-02,30"),
            "values",
            r"column 'sm', line 8 \(station CERN/C1\): 30 m3 m-3 after conversion from "
            r"'m3 m-3' is outside \[0, 1\]",
        ),
        (
            STATIONS + "NZW,S1,40.5,110.25,0.0,0.1,percent,,FDR\n",
            VALUES,
            "stations",
            r"line 5: station NZW/S1 is listed twice",
        ),
    ],
    ids=[
        "stations-missing-column",
        "values-missing-column",
        "unknown-units",
        "missing-field-capacity",
        "no-field-capacity-column",
        "field-capacity-in-percent",
        "unknown-station",
        "non-numeric-sm",
        "non-numeric-lat",
        "lat-out-of-range",
        "lon-out-of-range",
        "bad-time",
        "out-of-range-after-conversion",
        "duplicate-station",
    ],
)
def test_errors(tmp_path: Path, stations: str, values: str, which: str, message: str) -> None:
    s, v = write(tmp_path, stations, values)
    with pytest.raises(ProductError, match=message) as err:
        read_csv_stations(s, v)
    named = s if which == "stations" else v
    assert str(err.value).startswith(f"{named}: ")


def test_missing_file(tmp_path: Path) -> None:
    s, _ = write(tmp_path)
    with pytest.raises(ProductError, match="nope.csv: does not exist"):
        read_csv_stations(s, tmp_path / "nope.csv")


# --- writer round trip ------------------------------------------------------------------


def test_write_csv_stations_round_trip(tmp_path: Path) -> None:
    stations = pd.DataFrame(
        {
            "network": ["NZW", "NZW"],
            "station": ["A", "B"],
            "lat": [40.0, 41.0],
            "lon": [110.0, 111.0],
            "depth_from": [0.0, 0.0],
            "depth_to": [0.1, 0.2],
            "units": ["percent", "percent_of_field_capacity"],
            "field_capacity": [np.nan, 0.25],
        }
    )
    days = pd.date_range("2009-03-01", periods=4, freq="5D")  # a 5-daily manual network
    values = pd.DataFrame(
        {
            "network": "NZW",
            "station": ["A"] * 4 + ["B"] * 4,
            "time": list(days) * 2,
            "sm": [10.0, 12.0, 14.0, 16.0, 40.0, 60.0, 80.0, 100.0],
            "flag": ["G", "G", "C01", "G", "G", "G", "G", "G"],
        }
    )
    s, v = write_csv_stations(
        tmp_path / "x" / "st.csv", tmp_path / "x" / "val.csv", stations, values
    )
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["st.csv", "val.csv"]
    assert v.read_text().splitlines()[1] == "NZW,A,2009-03-01,10.0,G"
    table = read_csv_stations(s, v)
    a = table[table["station"] == "A"]
    assert a["time"].tolist() == [days[0], days[1], days[3]]
    np.testing.assert_allclose(a["sm"], [0.10, 0.12, 0.16], rtol=0, atol=1e-15)
    b = table[table["station"] == "B"]
    np.testing.assert_allclose(b["sm"], [0.10, 0.15, 0.20, 0.25], rtol=0, atol=1e-15)
    assert (table["n_obs"] == 1).all()


def test_write_hourly_times_keep_the_hour(tmp_path: Path) -> None:
    st = pd.DataFrame(
        [("N", "A", 1.0, 2.0, 0.0, 0.05, "m3 m-3")],
        columns=["network", "station", "lat", "lon", "depth_from", "depth_to", "units"],
    )
    va = pd.DataFrame(
        {
            "network": "N",
            "station": "A",
            "sm": [0.1, 0.3],
            "time": pd.to_datetime(["2020-01-01 23:00", "2020-01-02 01:00"]),
        }
    )
    s, v = write_csv_stations(tmp_path / "s.csv", tmp_path / "v.csv", st, va)
    assert "2020-01-01T23:00:00Z" in v.read_text()
    assert read_csv_stations(s, v)["sm"].tolist() == [0.1, 0.3]


# --- the tidy-table contract (stations.py) ----------------------------------------------


def good_table() -> pd.DataFrame:
    obs = pd.DataFrame(
        {
            "time": pd.to_datetime(["2020-01-01 01:00", "2020-01-01 02:00", "2020-01-02 05:00"]),
            "sm": [0.2, 0.4, 0.1],
            "flag": ["G", "G", "D03,D05"],
        }
    )
    days, counts = daily_aggregate(obs, keep_rejected=True)
    assert (counts.n_obs, counts.n_accepted, counts.n_days, counts.n_days_rejected) == (3, 2, 1, 1)
    assert dict(counts.rejected_by_flag) == {"D03,D05": 1}
    const = {
        "network": "N",
        "station": "S",
        "lat": 1.0,
        "lon": 2.0,
        "depth_from": 0.0,
        "depth_to": 0.05,
        "sensor": "X",
        "source_units": "m3 m-3",
        "conversion": "none",
    }
    df = days.assign(**const)[list(STATION_COLUMNS)].astype(STATION_COLUMNS)
    return validate_station_table(df)


def test_daily_aggregate_rejected_day() -> None:
    df = good_table()
    assert df["flag"].tolist() == ["G", "D03,D05"]
    assert df["sm"].iloc[0] == pytest.approx(0.3) and np.isnan(df["sm"].iloc[1])
    assert df["n_obs"].tolist() == [2, 0]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.drop(columns="conversion"), r"missing \['conversion'\]"),
        (lambda d: d.assign(lat=d["lat"].astype("float32")), "'lat' must be float64"),
        (lambda d: d.assign(time=d["time"] + pd.Timedelta("1h")), "not a UTC day"),
        (lambda d: d.assign(sm=[1.5, np.nan]), "not a volumetric soil moisture"),
        (lambda d: d.assign(lon=[200.0, 200.0]), "not a longitude"),
        (lambda d: d.assign(time=d["time"].iloc[0]), "repeats a station-sensor-day"),
        (lambda d: d.assign(n_obs=[0, 0]), "'n_obs'.*< 1 on a 'G' day"),
        (lambda d: d.assign(depth_to=-1.0), "'depth_to'.*above depth_from"),
    ],
    ids=["column", "dtype", "time", "sm", "lon", "duplicate", "n_obs", "depth"],
)
def test_validate_station_table_errors(mutate, message: str) -> None:
    with pytest.raises(StationTableError, match=message):
        validate_station_table(mutate(good_table()))


def test_empty_table_is_valid() -> None:
    assert validate_station_table(empty_station_table()).empty


def test_local_clock_times_are_converted_to_utc_days(tmp_path):
    st = tmp_path / "s.csv"
    va = tmp_path / "v.csv"
    st.write_text(
        "network,station,lat,lon,depth_from,depth_to,units,utc_offset_hours\n"
        "NZW,a,40.0,110.0,0.0,0.1,m3 m-3,8\n"
        "NZW,b,40.0,110.0,0.0,0.1,m3 m-3,0\n"
    )
    va.write_text(
        "network,station,time,sm\n"
        "NZW,a,2010-05-02T07:00,0.20\n"  # Beijing 07:00 = 1 May 23:00 UTC
        "NZW,a,2010-05-02T09:00,0.30\n"  # Beijing 09:00 = 2 May 01:00 UTC
        "NZW,a,2010-05-03T07:00+08:00,0.25\n"  # explicit offset: same instant, 2 May UTC
        "NZW,a,2010-05-08,0.40\n"  # a plain date is the observation day as given
        "NZW,b,2010-05-02T07:00,0.10\n"  # b's clock is UTC
    )
    t = read_csv_stations(st, va)
    a = t[t["station"] == "a"].set_index("time")["sm"]
    assert a[pd.Timestamp("2010-05-01")] == pytest.approx(0.20)
    assert a[pd.Timestamp("2010-05-02")] == pytest.approx((0.30 + 0.25) / 2)
    assert a[pd.Timestamp("2010-05-08")] == pytest.approx(0.40)
    b = t[t["station"] == "b"]
    assert b["time"].tolist() == [pd.Timestamp("2010-05-02")]
    assert t.loc[t["station"] == "a", "conversion"].str.contains(r"UTC\+8 h -> UTC").all()
    assert not t.loc[t["station"] == "b", "conversion"].str.contains("UTC").any()
