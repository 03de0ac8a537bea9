"""ISMN reader and writer: real archives (read-only, outside the repository) and round trips.

Expected numbers for the real files are computed here from the ``.stm`` text with a parser
that shares no code with the reader (split lines, split fields), plus a few fixed values
counted by hand with ``awk`` when the tests were written.
"""

from __future__ import annotations

import logging
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smdownscale.demo.write_ismn import STATION_COLUMNS as SENSOR_COLUMNS
from smdownscale.demo.write_ismn import (
    header_fields,
    static_variables_csv,
    stm_file_name,
    stm_text,
    write_ismn_archive,
)
from smdownscale.products.base import ProductError
from smdownscale.products.ismn import parse_stm_name, read_ismn
from smdownscale.products.stations import STATION_COLUMNS, validate_station_table

SMOSMANIA_ZIP = "ismn/Data_SMOSMANIA.zip"
SMOSMANIA_STM = (
    "format_header_values/SMOSMANIA/"
    "SMOSMANIA_SMOSMANIA_Narbonne_sm_0.050000_0.050000_ThetaProbe-ML2X_20070101_20070131.stm"
)
COSMOS_DIR = "ismn/Data_seperate_files_header_20170810_20180809"
ARM1_STM = (
    "COSMOS/ARM-1/COSMOS_COSMOS_ARM-1_sm_0.000000_0.190000_Cosmic-ray-Probe_20170810_20180809.stm"  # noqa: E501
)
BARROW_STM = (
    "COSMOS/Barrow-ARM/"
    "COSMOS_COSMOS_Barrow-ARM_sm_0.000000_0.210000_Cosmic-ray-Probe_20170810_20180809.stm"
)


# --- an independent parser of .stm text -------------------------------------------------


def parse_stm_text(raw: bytes) -> tuple[list[str], list[tuple[str, float, str]]]:
    """Header fields and (YYYY/MM/DD day, value, flag) of every value line.

    Handles every line-ending style of the real files (CR, LF, CRLF, LF CR).
    """
    lines = [ln for ln in raw.decode("ascii").splitlines() if ln.strip()]
    header = lines[0].split()
    rows = []
    for ln in lines[1:]:
        f = ln.split()
        rows.append((f[0], float(f[2]), f[3]))
    return header, rows


def expected_days(rows: list[tuple[str, float, str]], accept: set[str]) -> dict[str, list[float]]:
    """Day -> accepted values, for days with at least one accepted value."""
    days: dict[str, list[float]] = defaultdict(list)
    for day, value, flag in rows:
        if set(flag.split(",")) <= accept:
            days[day].append(value)
    return dict(days)


def assert_matches_text(table: pd.DataFrame, rows: list, accept: set[str]) -> None:
    """Days, counts and means of ``table`` equal those computed from the text."""
    exp = expected_days(rows, accept)
    got_days = table["time"].dt.strftime("%Y/%m/%d").tolist()
    assert got_days == sorted(exp)
    assert table["n_obs"].tolist() == [len(exp[d]) for d in got_days]
    np.testing.assert_allclose(
        table["sm"].to_numpy(), [sum(exp[d]) / len(exp[d]) for d in got_days], rtol=0, atol=1e-12
    )
    assert (table["flag"] == "G").all()


def zip_member(path: Path, member: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(member)


# --- real archives ----------------------------------------------------------------------


@pytest.mark.realdata
def test_smosmania_zip_flags_are_U_so_default_reads_nothing(realdata: Path, caplog) -> None:
    """All 741 values of the 2007 SMOSMANIA file carry flag U (736) or D05 (5), none G."""
    with caplog.at_level(logging.INFO, logger="smdownscale.products.ismn"):
        table = read_ismn(realdata / SMOSMANIA_ZIP)
    assert table.empty
    assert list(table.columns) == list(STATION_COLUMNS)
    validate_station_table(table)
    assert "741 observations, 0 accepted, 741 rejected (by flag: D05: 5, U: 736)" in caplog.text
    # ismn's "2 potentially malformed files": the two folders without static-variables CSV
    assert "2 folder(s) without a static-variables CSV" in caplog.text
    assert "SMOSMANIA/python_metadata/*missing*" in caplog.text


@pytest.mark.realdata
def test_smosmania_zip_values(realdata: Path) -> None:
    zip_path = realdata / SMOSMANIA_ZIP
    table = read_ismn(zip_path, accept_flags=("U",))
    header, rows = parse_stm_text(zip_member(zip_path, SMOSMANIA_STM))
    assert header[:3] == ["SMOSMANIA", "SMOSMANIA", "Narbonne"]
    assert len(rows) == 741

    one = table.drop_duplicates(["network", "station", "sensor", "depth_from", "depth_to"])
    assert len(one) == 1
    s = one.iloc[0]
    # network from the file name, not ismn's "format_header_values" top folder
    assert (s.network, s.station, s.sensor) == ("SMOSMANIA", "Narbonne", "ThetaProbe-ML2X")
    assert (s.lat, s.lon) == (43.15, 2.9567)
    assert (s.depth_from, s.depth_to) == (0.05, 0.05)
    assert (s.source_units, s.conversion) == ("m3 m-3", "none")

    assert len(table) == 31
    assert table["n_obs"].sum() == 736
    assert_matches_text(table, rows, {"U"})
    by_day = table.set_index(table["time"].dt.strftime("%Y-%m-%d"))
    # the file starts at 01:00, so 1 January has 23 hourly values; their sum by hand:
    # 8 x 0.2140 + 4 x 0.2135 + 2 x 0.2145 + 3 x 0.2149 + 2 x 0.2130 + 0.2126 + 2 x 0.2121
    # + 0.2116 = 4.9141
    assert by_day.loc["2007-01-01", "n_obs"] == 23
    assert by_day.loc["2007-01-01", "sm"] == pytest.approx(4.9141 / 23, abs=1e-12)
    # three D05 values on 19 January (10:00, 12:00, 14:00), two on the 16th
    assert by_day.loc["2007-01-19", "n_obs"] == 21
    assert by_day.loc["2007-01-16", "n_obs"] == 22


@pytest.mark.realdata
def test_cosmos_folder_values(realdata: Path, tmp_path: Path) -> None:
    folder = realdata / COSMOS_DIR
    table = read_ismn(folder, max_depth_m=0.25, meta_dir=tmp_path / "meta")
    validate_station_table(table)
    stations = table.groupby("station").agg(
        lat=("lat", "first"),
        lon=("lon", "first"),
        depth_from=("depth_from", "first"),
        depth_to=("depth_to", "first"),
        sensor=("sensor", "first"),
        days=("time", "size"),
        n_obs=("n_obs", "sum"),
    )
    assert list(stations.index) == ["ARM-1", "Barrow-ARM"]
    assert stations.loc["ARM-1", ["lat", "lon"]].tolist() == [36.6054, -97.4878]
    assert stations.loc["Barrow-ARM", ["lat", "lon"]].tolist() == [71.3298, -156.6287]
    assert stations["depth_from"].tolist() == [0.0, 0.0]
    assert stations["depth_to"].tolist() == [0.19, 0.21]
    assert set(stations["sensor"]) == {"Cosmic-ray-Probe"}
    # counted with awk: days with >= 1 'G' value and the number of 'G' values
    assert stations["days"].tolist() == [333, 258]
    assert stations["n_obs"].tolist() == [6514, 4963]

    for name, member in (("ARM-1", ARM1_STM), ("Barrow-ARM", BARROW_STM)):
        _, rows = parse_stm_text((folder / member).read_bytes())
        assert_matches_text(table[table["station"] == name], rows, {"G"})

    barrow = table[table["station"] == "Barrow-ARM"].set_index("time")
    # 17 Aug 2017: 19 'G' hours (07, 09, 12, 13, 16 h are D05); their values by hand:
    # .2280 .2290 .2410 .2250 .2220 .2220 .2240 .2240 .2200 .2240 .2310 .2260 .2250 .2250
    # .2220 .2250 .2210 .2200 .2180 -> sum 4.2720
    day = barrow.loc[pd.Timestamp("2017-08-17")]
    assert day["n_obs"] == 19
    assert day["sm"] == pytest.approx(4.2720 / 19, abs=1e-12)
    # the metadata cache went to meta_dir, nothing beside the read-only archive
    assert list((tmp_path / "meta").glob("*/Data_seperate_files_header_20170810_20180809.csv"))
    assert not (folder.parent / "python_metadata").exists()
    assert not (folder / "python_metadata").exists()


@pytest.mark.realdata
def test_cosmos_default_depth_and_rejected_days(realdata: Path) -> None:
    folder = realdata / COSMOS_DIR
    assert read_ismn(folder).empty  # 0-0.19 / 0-0.21 m probes are deeper than 0.1 m

    table = read_ismn(folder, max_depth_m=0.21, keep_rejected=True)
    validate_station_table(table)
    _, rows = parse_stm_text((folder / BARROW_STM).read_bytes())
    all_days = defaultdict(set)
    for day, _, flag in rows:
        all_days[day].update(flag.split(","))
    barrow = table[table["station"] == "Barrow-ARM"]
    assert len(barrow) == len(all_days) == 342
    rejected = barrow[barrow["flag"] != "G"]
    assert len(rejected) == 342 - 258
    assert rejected["sm"].isna().all() and (rejected["n_obs"] == 0).all()
    for t, flag in zip(rejected["time"], rejected["flag"], strict=True):
        assert flag == ",".join(sorted(all_days[t.strftime("%Y/%m/%d")] - {"G"}))


def test_meta_dir_cache_reused(tmp_path: Path) -> None:
    archive = write_ismn_archive(tmp_path / "a.zip", *_synthetic())
    first = read_ismn(archive, meta_dir=tmp_path / "meta")
    caches = list((tmp_path / "meta").iterdir())
    assert len(caches) == 1 and (caches[0] / "a.csv").is_file()
    pd.testing.assert_frame_equal(read_ismn(archive, meta_dir=tmp_path / "meta"), first)
    assert list((tmp_path / "meta").iterdir()) == caches
    assert not (tmp_path / "python_metadata").exists()


# --- not an ISMN archive ----------------------------------------------------------------


def test_empty_zip_is_product_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.zip"
    zipfile.ZipFile(path, "w").close()
    with pytest.raises(ProductError, match="no <NETWORK>/<STATION>/\\*.stm") as err:
        read_ismn(path)
    assert str(path) in str(err.value)


def test_unrelated_folder_is_product_error(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "notes.txt").write_text("hello")
    (tmp_path / "readme.stm").write_text("a misplaced stm")
    with pytest.raises(ProductError, match="not an ISMN archive") as err:
        read_ismn(tmp_path)
    assert str(tmp_path) in str(err.value) and "readme.stm" in str(err.value)


def test_missing_and_non_zip_paths(tmp_path: Path) -> None:
    with pytest.raises(ProductError, match="does not exist"):
        read_ismn(tmp_path / "nope.zip")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip")
    with pytest.raises(ProductError, match="junk.zip: is neither a zip archive nor a folder"):
        read_ismn(junk)


def test_unreadable_stm_is_named(tmp_path: Path) -> None:
    archive = write_ismn_archive(tmp_path / "a.zip", *_synthetic())
    bad = "NET/HOURLY/NET_NET_HOURLY_sm_0.000000_0.050000_X_20200101_20200102.stm"
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(bad, "garbage\n")
    with pytest.raises(ProductError, match="cannot read") as err:
        read_ismn(archive)
    assert bad in str(err.value)


def test_parse_stm_name_with_sensor_ids() -> None:
    name = parse_stm_name(
        "RSMN/Adamclisi/RSMN_RSMN_Adamclisi_sm_0.000000_0.050000_Meter-5TM_1_1_19500101_20260512.stm"
    )
    assert (name.network, name.station, name.sensor) == ("RSMN", "Adamclisi", "Meter-5TM_1_1")
    assert (name.depth_from, name.depth_to, name.variable_code) == (0.0, 0.05, "sm")
    with pytest.raises(ValueError, match="not an ISMN data file name"):
        parse_stm_name("NET/STA/readme.stm")


# --- writer -> reader round trip --------------------------------------------------------


def _synthetic() -> tuple[pd.DataFrame, pd.DataFrame]:
    """An hourly station (3 days, bad flags, plus a deep sensor) and a 5-daily station."""
    stations = pd.DataFrame(
        [
            ("NET", "HOURLY", 40.12345, 110.54321, 1200.0, 0.0, 0.05, "ThetaProbe-ML2X"),
            ("NET", "HOURLY", 40.12345, 110.54321, 1200.0, 0.2, 0.3, "ThetaProbe-ML2X"),
            ("NET", "SPARSE", 38.5, 105.25, 1500.5, 0.1, 0.1, "Gravimetric"),
        ],
        columns=list(SENSOR_COLUMNS),
    )
    rng = np.random.default_rng(42)
    hourly = pd.DataFrame(
        {
            "network": "NET",
            "station": "HOURLY",
            "depth_from": 0.0,
            "depth_to": 0.05,
            "sensor": "ThetaProbe-ML2X",
            "time": pd.date_range("2020-01-01 00:00", periods=72, freq="h"),
            "sm": np.round(rng.uniform(0.1, 0.4, 72), 4),
            "flag": "G",
        }
    )
    hourly.loc[[5, 6, 30, 71], "flag"] = ["D01", "C03", "D03,D05", "D06"]
    hourly = hourly.drop(index=[40, 41])  # a gap
    deep = hourly.assign(depth_from=0.2, depth_to=0.3, sm=0.35, flag="G")
    sparse = pd.DataFrame(
        {
            "network": "NET",
            "station": "SPARSE",
            "depth_from": 0.1,
            "depth_to": 0.1,
            "sensor": "Gravimetric",
            "time": pd.date_range("2020-01-03 08:30", periods=7, freq="5D"),
            "sm": [0.2101, 0.1999, 0.25, 0.3333, 0.05, 0.1234, 0.4],
            "flag": ["G", "G", "D02", "G", "G", "G", "G"],
        }
    )
    return stations, pd.concat([hourly, deep, sparse], ignore_index=True)


def _expected(obs: pd.DataFrame, max_depth: float) -> pd.DataFrame:
    """Daily means computed plainly from the synthetic observations."""
    keep = (obs["flag"] == "G") & (obs["depth_to"] <= max_depth)
    rows = []
    for (sta, day), g in obs[keep].groupby(["station", obs["time"].dt.date]):
        rows.append((sta, pd.Timestamp(day), float(np.mean(g["sm"])), len(g)))
    return pd.DataFrame(rows, columns=["station", "time", "sm", "n_obs"])


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # ismn 1.5.4 under pandas 3.1
@pytest.mark.parametrize("fmt", ["header_values", "ceop_sep"])
def test_round_trip(tmp_path: Path, fmt: str) -> None:
    stations, obs = _synthetic()
    archive = write_ismn_archive(tmp_path / "demo" / "ismn.zip", stations, obs, fmt=fmt)
    table = read_ismn(archive, max_depth_m=0.1)
    validate_station_table(table)
    exp = _expected(obs, 0.1)
    assert table["station"].tolist() == exp["station"].tolist()
    assert table["time"].tolist() == exp["time"].tolist()
    assert table["n_obs"].tolist() == exp["n_obs"].tolist()
    np.testing.assert_allclose(table["sm"], exp["sm"], rtol=0, atol=1e-12)
    # 3 hourly days (24-2, 24-1-2 gap, 24-1) and 6 of 7 sparse days (one D02)
    assert table.groupby("station")["n_obs"].apply(list).to_dict() == {
        "HOURLY": [22, 21, 23],
        "SPARSE": [1, 1, 1, 1, 1, 1],
    }
    hourly = table[table["station"] == "HOURLY"].iloc[0]
    assert (hourly.lat, hourly.lon, hourly.depth_from, hourly.depth_to) == (
        40.12345,
        110.54321,
        0.0,
        0.05,
    )
    assert set(table["sensor"]) == {"ThetaProbe-ML2X", "Gravimetric"}
    # the deep sensor appears once the depth limit admits it
    deep = read_ismn(archive, max_depth_m=0.3)
    assert set(zip(deep["depth_from"], deep["depth_to"], strict=True)) == {
        (0.0, 0.05),
        (0.2, 0.3),
        (0.1, 0.1),
    }
    assert _file_types(archive, tmp_path / "meta") == {fmt}


def _file_types(archive: Path, meta: Path) -> set[str]:
    """The format ismn itself detected for each data file."""
    from ismn.interface import ISMN_Interface

    iface = ISMN_Interface(archive, meta_path=meta, temp_root=meta)
    try:
        return set(iface.metadata[("file_type", "val")])
    finally:
        iface.close_files()


def test_round_trip_keep_rejected(tmp_path: Path) -> None:
    stations, obs = _synthetic()
    archive = write_ismn_archive(tmp_path / "a.zip", stations, obs)
    table = read_ismn(archive, keep_rejected=True)
    sparse = table[table["station"] == "SPARSE"].set_index("time")
    assert len(sparse) == 7
    bad = sparse.loc[pd.Timestamp("2020-01-13")]
    assert (bad["flag"], bad["n_obs"]) == ("D02", 0) and np.isnan(bad["sm"])


def test_written_archive_layout(tmp_path: Path) -> None:
    stations, obs = _synthetic()
    archive = write_ismn_archive(tmp_path / "a.zip", stations, obs)
    with zipfile.ZipFile(archive) as zf:
        names = sorted(zf.namelist())
    assert names == [
        "NET/HOURLY/NET_NET_HOURLY_sm_0.000000_0.050000_ThetaProbe-ML2X_20200101_20200103.stm",
        "NET/HOURLY/NET_NET_HOURLY_sm_0.200000_0.300000_ThetaProbe-ML2X_20200101_20200103.stm",
        "NET/HOURLY/NET_NET_HOURLY_static_variables.csv",
        "NET/SPARSE/NET_NET_SPARSE_sm_0.100000_0.100000_Gravimetric_20200103_20200202.stm",
        "NET/SPARSE/NET_NET_SPARSE_static_variables.csv",
    ]
    text = zip_member(archive, names[3]).decode("ascii").splitlines()
    assert text[0] == (
        "NET        NET             SPARSE            38.50000   105.25000 1500.50    0.10    0.10"
        " Gravimetric"
    )
    assert text[1:4] == [
        "2020/01/03 08:30   0.2101 G M",
        "2020/01/08 08:30   0.1999 G M",
        "2020/01/13 08:30   0.2500 D02 M",
    ]
    assert not (tmp_path / ".a.zip.tmp").exists() and len(list(tmp_path.iterdir())) == 1


def test_writer_rejects_bad_input(tmp_path: Path) -> None:
    stations, obs = _synthetic()
    with pytest.raises(ValueError, match="'station' must be letters"):
        write_ismn_archive(tmp_path / "a.zip", stations.assign(station="A_B"), obs)
    with pytest.raises(ValueError, match="'depth_to' must be whole cm"):
        write_ismn_archive(tmp_path / "a.zip", stations.assign(depth_to=0.055), obs)
    with pytest.raises(ValueError, match="stations listed"):
        write_ismn_archive(tmp_path / "a.zip", stations, obs.assign(station="OTHER"))
    with pytest.raises(ValueError, match="one value per sensor and time"):
        write_ismn_archive(tmp_path / "a.zip", stations, pd.concat([obs, obs.iloc[:1]]))
    assert not list(tmp_path.iterdir())


@pytest.mark.realdata
def test_writer_mimics_real_layout(realdata: Path) -> None:
    """Header line, value lines, file name and static-variables lines as in the real files."""
    folder = realdata / COSMOS_DIR
    for member, row in (
        (ARM1_STM, ("ARM-1", 36.6054, -97.4878, 322.0, 0.19, 130, 0.46, 23.0)),
        (BARROW_STM, ("Barrow-ARM", 71.3298, -156.6287, 4.0, 0.21, 210, 0.55, 18.0)),
    ):
        station, lat, lon, elev, depth_to, lc, sat, clay = row
        sensor = pd.Series(
            {
                "network": "COSMOS",
                "station": station,
                "lat": lat,
                "lon": lon,
                "elevation": elev,
                "depth_from": 0.0,
                "depth_to": depth_to,
                "sensor": "Cosmic-ray-Probe",
                "landcover": lc,
                "saturation": sat,
                "clay_fraction": clay,
            }
        )
        raw = (folder / member).read_bytes().decode("ascii")
        real_header = raw.splitlines()[0].rstrip()
        assert f"{header_fields(sensor)} {sensor['sensor']}" == real_header

        real_lines = [ln for ln in raw.splitlines()[1:] if ln.strip()][:3]
        _, rows = parse_stm_text(raw.encode("ascii"))
        obs = pd.DataFrame(
            {
                "network": "COSMOS",
                "station": station,
                "time": pd.date_range("2017-08-10", periods=3, freq="h"),
                "sm": [r[1] for r in rows[:3]],
                "flag": [r[2] for r in rows[:3]],
            }
        )
        obs["orig_flag"] = "M"
        assert stm_text(sensor, obs, "header_values").splitlines()[1:] == real_lines
        name = stm_file_name(sensor, pd.Timestamp("2017-08-10"), pd.Timestamp("2018-08-09"))
        assert name == member

        real_csv = (folder / member).with_name(f"COSMOS_COSMOS_{station}_static_variables.csv")
        real = real_csv.read_bytes().decode("utf-8").split("\r\n")
        ours = static_variables_csv(sensor).split("\r\n")
        assert ours[0] == real[0]  # header
        for quantity in ("saturation;", "clay fraction;", "land cover classification;"):
            mine = [ln for ln in ours if ln.startswith(quantity)]
            assert mine and all(ln in real for ln in mine), quantity
