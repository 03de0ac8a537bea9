"""Issue 13, station inputs: each case is one input mutation and its one expected outcome.

Inputs: ISMN archives written by the demo writer (Header+values and CEOP separate files, zipped
and unzipped), copies of the real ISMN samples in ``../shared/realdata`` (zipped and unzipped;
skipped with the reason when absent), and station CSV files written by the demo writer, in the
project's format and as a provider ships them (read through the config's description, issue
14 item 2). Items 5 (units), 8 (repeated timestamps, clock times), 12 (old CEOP archives) and
15 (networks with nothing accepted, sensors too deep, counted) of the issue, plus the cases
that already gave a clear error or a counted skip.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from reliability_expect import Outcome, check, conversion, error, ok, skip

from smdownscale.config import prepare_config
from smdownscale.demo.write_csv_stations import write_csv_stations
from smdownscale.demo.write_ismn import STATION_COLUMNS, write_ismn_archive
from smdownscale.products.csv_layout import CsvLayout
from smdownscale.products.csv_stations import read_csv_stations
from smdownscale.products.ismn import read_ismn
from smdownscale.products.station_tally import StationTally
from smdownscale.station_inputs import csv_layouts, harmonise_station_files

SMOSMANIA_ZIP = "ismn/Data_SMOSMANIA.zip"
COSMOS_DIR = "ismn/Data_seperate_files_header_20170810_20180809"
TOO_DEEP = r"sensor\(s\) skipped, their sensed layer ends below stations.max_depth_m"
NOTHING_ACCEPTED = r"none of its \d+ observation\(s\) of \d+ sensor\(s\) is accepted"
OLD_CEOP = r"in ISMN's old CEOP format, one file per station with every depth and variable"
REDOWNLOAD_AS = (
    r"which the ismn package no longer reads \(download these networks again from ISMN in the "
    r"'Header\+values' \(or 'CEOP separate files'\) format: one file per sensor"
)
ABOVE_ONE = "   1.5000 G M"


@dataclass(frozen=True)
class Case:
    """``build(tmp_path, realdata)`` returns the call; ``then(result)`` checks its result."""

    build: Callable[[Path, Path | None], Callable[[], Any]]
    outcome: Outcome
    then: Callable[[Any], object] | None = None
    real: bool = False


# --- demo-written ISMN archives ---------------------------------------------------------


def ismn_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Network DEMO: station A (0-0.05 m, hourly, 2 days) and B (0.05 m, 3 daily values)."""
    stations = pd.DataFrame(
        [
            ("DEMO", "A", 40.25, 110.5, 1200.0, 0.0, 0.05, "ThetaProbe-ML2X"),
            ("DEMO", "B", 39.75, 111.0, 1100.0, 0.05, 0.05, "Hydraprobe"),
        ],
        columns=list(STATION_COLUMNS),
    )
    hourly = pd.DataFrame(
        {
            "network": "DEMO",
            "station": "A",
            "time": pd.date_range("2020-06-01", periods=48, freq="h"),
            "sm": np.round(np.linspace(0.20, 0.30, 48), 4),
            "flag": "G",
        }
    )
    daily = pd.DataFrame(
        {
            "network": "DEMO",
            "station": "B",
            "time": pd.date_range("2020-06-01 06:00", periods=3, freq="D"),
            "sm": [0.15, 0.16, 0.17],
            "flag": ["G", "G", "D03"],
        }
    )
    return stations, pd.concat([hourly, daily], ignore_index=True)


def demo_ismn(tmp: Path, fmt: str = "header_values", stations=None, obs=None) -> Path:
    s, o = ismn_inputs()
    return write_ismn_archive(
        tmp / "Data_demo.zip", s if stations is None else stations, o if obs is None else obs, fmt
    )


def read_with_tally(path: Path, **kw: Any) -> Callable[[], tuple[pd.DataFrame, pd.DataFrame]]:
    def call() -> tuple[pd.DataFrame, pd.DataFrame]:
        tally = StationTally()
        return read_ismn(path, tally=tally, **kw), tally.frame()

    return call


def rewrite_zip(path: Path, edit: Callable[[str, bytes], dict[str, bytes]]) -> Path:
    """Rewrite every member through ``edit(name, data) -> {new name: data}``."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            for new_name, new_data in edit(name, data).items():
                zf.writestr(new_name, new_data)
    return path


def edit_station_a(path: Path, edit: Callable[[list[str]], list[str]]) -> Path:
    """Apply ``edit`` to the lines of station A's data file."""

    def member(name: str, data: bytes) -> dict[str, bytes]:
        if name.startswith("DEMO/A/") and name.endswith(".stm"):
            data = ("\n".join(edit(data.decode().splitlines())) + "\n").encode()
        return {name: data}

    return rewrite_zip(path, member)


def old_ceop_line(stamp: str, net: str, sta: str, lat: float, lon: float, depth: float, sm: str):
    """One line of ISMN's old one-file-per-station CEOP format (16 fields)."""
    return (
        f"{stamp} {stamp} {net:<10} {net:<15} {sta:<15} {lat:10.5f} {lon:11.5f} {112.0:7.2f} - "
        f"{depth:6.2f} -999.99 M {sm}"
    )


def as_old_ceop(path: Path) -> Path:
    """Each station's data files replaced by one old CEOP file with every depth."""

    def member(name: str, data: bytes) -> dict[str, bytes]:
        if not name.endswith(".stm"):
            return {name: data}
        lines = data.decode().splitlines()
        head, values = lines[0].split(), lines[1:]
        net, sta, lat, lon, depth = head[1], head[2], float(head[3]), float(head[4]), float(head[6])
        body = [
            old_ceop_line(" ".join(v.split()[:2]), net, sta, lat, lon, depth, f"{v.split()[2]} G")
            for v in values
        ]
        start, end = (values[i].split()[0].replace("/", "") for i in (0, -1))
        new = f"{net}/{sta}/{net}_{net}_{sta}_{start}_{end}.stm"
        return {new: ("\r".join(body) + "\r").encode()}

    return rewrite_zip(path, member)


def unzipped(archive: Path) -> Path:
    """The archive extracted into a folder of its name (as a user unpacks it); zip removed."""
    folder = archive.with_suffix("")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder)
    archive.unlink()
    return folder


def zipped(folder: Path) -> Path:
    """The folder as a zip of its name holding it (as ISMN ships it); folder removed."""
    archive = Path(shutil.make_archive(str(folder), "zip", folder.parent, folder.name))
    shutil.rmtree(folder)
    return archive


def ismn_days(table: pd.DataFrame, station: str) -> dict[str, tuple[float, int]]:
    t = table[table["station"] == station]
    return {f"{d:%m-%d}": (s, n) for d, s, n in zip(t["time"], t["sm"], t["n_obs"], strict=True)}


def demo_values_ok(result: pd.DataFrame) -> None:
    a = ismn_days(result, "A")
    sm = np.round(np.linspace(0.20, 0.30, 48), 4)
    assert a["06-01"] == (pytest.approx(sm[:24].mean(), abs=1e-12), 24)
    assert a["06-02"] == (pytest.approx(sm[24:].mean(), abs=1e-12), 24)
    assert ismn_days(result, "B") == {"06-01": (0.15, 1), "06-02": (0.16, 1)}  # D03 dropped


def demo_duplicates_averaged(result: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    table, tally = result
    sm = np.round(np.linspace(0.20, 0.30, 48), 4)
    assert ismn_days(table, "A")["06-01"] == (
        pytest.approx((sm[:24].sum() + 2 * 0.2543) / 26, abs=1e-12),
        26,
    )
    assert tally.set_index("network").loc["DEMO", "duplicate_timestamps"] == 2


def deep_sensor_counted(result: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    table, tally = result
    assert sorted(table["station"].unique()) == ["A", "B"]  # the shallow sensors stay
    row = tally.set_index("network").loc["DEMO"]
    assert (row["sensors"], row["sensors_too_deep"]) == (2, 1)


def nothing_accepted_counted(result: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    table, tally = result
    assert table.empty
    row = tally.set_index("network").loc["DEMO"]
    assert (row["observations"], row["accepted"], row["rejected_by_flag"]) == (
        51,
        0,
        "D03: 51",
    )


def with_deep_sensor(tmp: Path) -> Path:
    """Station A gains a 0.1-0.2 m sensor with the same observations."""
    stations, obs = ismn_inputs()
    obs = obs.merge(stations[["station", "depth_from", "depth_to"]], on="station")
    deep = stations.iloc[[0]].assign(depth_from=0.1, depth_to=0.2)
    deep_obs = obs[obs["station"] == "A"].assign(depth_from=0.1, depth_to=0.2)
    both = pd.concat([stations, deep], ignore_index=True)
    return demo_ismn(tmp, stations=both, obs=pd.concat([obs, deep_obs], ignore_index=True))


def replace_line(i: int, text: str) -> Callable[[list[str]], list[str]]:
    """An edit replacing line ``i`` (0 = header) of a data file: its time stamp + ``text``."""
    return lambda lines: lines[:i] + [lines[i][:16] + text] + lines[i + 1 :]


def duplicate_two_lines(lines: list[str]) -> list[str]:
    """Repeat the 06:00 and 07:00 lines of 1 June with the value 0.2543."""
    extra = [ln[:16] + "   0.2543 G M" for ln in lines[7:9]]
    return lines[:9] + extra + lines[9:]


def copy_real(real: Path, name: str, tmp: Path) -> Path:
    src = real / name
    dst = tmp / src.name
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy2(src, dst)
    return dst


def real_smosmania_as_old_ceop(tmp: Path, real: Path) -> Path:
    """The real SMOSMANIA file rewritten as an old CEOP station file (values kept)."""
    path = copy_real(real, SMOSMANIA_ZIP, tmp)

    def member(name: str, data: bytes) -> dict[str, bytes]:
        if not name.endswith(".stm"):
            return {name: data}
        lines = [ln for ln in data.decode("ascii").splitlines() if ln.strip()]
        head = lines[0].split()
        body = [
            old_ceop_line(" ".join(f[:2]), head[1], head[2], 43.15, 2.9567, 0.05, f"{f[2]} {f[3]}")
            for f in (ln.split() for ln in lines[1:])
        ]
        folder = name.rsplit("/", 1)[0]
        return {f"{folder}/SMOSMANIA_SMOSMANIA_Narbonne_20070101_20070131.stm": "\r".join(body)}

    return rewrite_zip(path, member)


def real_smosmania_ok(result: pd.DataFrame) -> None:
    assert len(result) == 31 and result["n_obs"].sum() == 736
    assert set(result["station"]) == {"Narbonne"}


def real_cosmos_ok(result: pd.DataFrame) -> None:
    days = result.groupby("station")["n_obs"].agg(["size", "sum"])
    assert days.loc["ARM-1"].tolist() == [333, 6514]
    assert days.loc["Barrow-ARM"].tolist() == [258, 4963]


def real_cosmos_too_deep(result: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    table, tally = result
    assert table.empty
    assert tally.set_index("network").loc["COSMOS", "sensors_too_deep"] == 2


def real_smosmania_nothing_accepted(result: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    table, tally = result
    assert table.empty
    row = tally.set_index("network").loc["SMOSMANIA"]
    assert (row["observations"], row["accepted"], row["rejected_by_flag"]) == (
        741,
        0,
        "D05: 5, U: 736",
    )


ISMN_CASES = {
    "ismn-demo-header-values-genuine": Case(
        lambda tmp, _: lambda: read_ismn(demo_ismn(tmp)), ok(), demo_values_ok
    ),
    "ismn-demo-ceop-separate-files-genuine": Case(
        lambda tmp, _: lambda: read_ismn(demo_ismn(tmp, "ceop_sep")), ok(), demo_values_ok
    ),
    "ismn-demo-header-values-unzipped-genuine": Case(
        lambda tmp, _: lambda: read_ismn(unzipped(demo_ismn(tmp))), ok(), demo_values_ok
    ),
    "ismn-demo-ceop-separate-files-unzipped-genuine": Case(
        lambda tmp, _: lambda: read_ismn(unzipped(demo_ismn(tmp, "ceop_sep"))),
        ok(),
        demo_values_ok,
    ),
    "ismn-real-smosmania-unzipped-genuine": Case(
        lambda tmp, real: (
            lambda: read_ismn(
                unzipped(copy_real(real, SMOSMANIA_ZIP, tmp)), accept_flags=("G", "U")
            )
        ),
        ok(),
        real_smosmania_ok,
        real=True,
    ),
    "ismn-real-cosmos-zipped-genuine": Case(
        lambda tmp, real: (
            lambda: read_ismn(zipped(copy_real(real, COSMOS_DIR, tmp)), max_depth_m=0.25)
        ),
        ok(),
        real_cosmos_ok,
        real=True,
    ),
    "ismn-real-smosmania-zip-genuine": Case(
        lambda tmp, real: (
            lambda: read_ismn(copy_real(real, SMOSMANIA_ZIP, tmp), accept_flags=("G", "U"))
        ),
        ok(),
        real_smosmania_ok,
        real=True,
    ),
    "ismn-real-cosmos-folder-genuine": Case(
        lambda tmp, real: lambda: read_ismn(copy_real(real, COSMOS_DIR, tmp), max_depth_m=0.25),
        ok(),
        real_cosmos_ok,
        real=True,
    ),
    "ismn-demo-old-ceop-station-files": Case(
        lambda tmp, _: lambda: read_ismn(as_old_ceop(demo_ismn(tmp))),
        error(
            r"Data_demo\.zip: 2 data file\(s\) " + OLD_CEOP + r" \(e\.g\. "
            r"DEMO/A/DEMO_DEMO_A_20200601_20200602\.stm\), " + REDOWNLOAD_AS
        ),
    ),
    "ismn-real-smosmania-as-old-ceop": Case(
        lambda tmp, real: lambda: read_ismn(real_smosmania_as_old_ceop(tmp, real)),
        error(r"Data_SMOSMANIA\.zip: 1 data file\(s\) " + OLD_CEOP + r".*" + REDOWNLOAD_AS),
        real=True,
    ),
    "ismn-demo-repeated-timestamps": Case(
        lambda tmp, _: read_with_tally(edit_station_a(demo_ismn(tmp), duplicate_two_lines)),
        conversion(
            r"Data_demo\.zip: station DEMO/A \(sensor ThetaProbe-ML2X\): 2 observation\(s\) "
            r"repeat a timestamp \(first at 2020-06-01 06:00 UTC\).*remove the repeated rows"
        ),
        demo_duplicates_averaged,
    ),
    "ismn-demo-sensor-too-deep": Case(
        lambda tmp, _: read_with_tally(with_deep_sensor(tmp)),
        skip(r"Data_demo\.zip: 1 " + TOO_DEEP + r" = 0.1 m: \['DEMO/A/ThetaProbe-ML2X 0.1-0.2 m'"),
        deep_sensor_counted,
    ),
    "ismn-real-cosmos-too-deep": Case(
        lambda tmp, real: read_with_tally(copy_real(real, COSMOS_DIR, tmp)),
        skip(r"2 " + TOO_DEEP + r".*COSMOS/ARM-1/Cosmic-ray-Probe 0-0.19 m.*raise max_depth_m"),
        real_cosmos_too_deep,
        real=True,
    ),
    "ismn-demo-no-accepted-flag": Case(
        lambda tmp, _: read_with_tally(demo_ismn(tmp, obs=ismn_inputs()[1].assign(flag="D03"))),
        skip(r"Data_demo\.zip: network DEMO: " + NOTHING_ACCEPTED + r" \(rejected: D03: 51\)"),
        nothing_accepted_counted,
    ),
    "ismn-real-smosmania-flags-U": Case(
        lambda tmp, real: read_with_tally(copy_real(real, SMOSMANIA_ZIP, tmp)),
        skip(
            r"network SMOSMANIA: none of its 741 observation\(s\) of 1 sensor\(s\) is accepted "
            r"\(rejected: D05: 5, U: 736\).*add them to stations.accept_flags \(now \['G'\]\)"
        ),
        real_smosmania_nothing_accepted,
        real=True,
    ),
    "ismn-demo-value-above-1": Case(
        lambda tmp, _: (
            lambda: read_ismn(edit_station_a(demo_ismn(tmp), replace_line(3, ABOVE_ONE)))
        ),
        error(
            r"DEMO_DEMO_A_sm_0.000000_0.050000_ThetaProbe-ML2X_20200601_20200602\.stm: station "
            r"DEMO/A \(sensor ThetaProbe-ML2X\): 1 accepted value\(s\) outside \[0, 1\] m3 m-3 "
            r"\(first 1.5 at 2020-06-01 02:00\).*download the archive again"
        ),
    ),
    "ismn-demo-value-above-1-flagged": Case(
        lambda tmp, _: (
            lambda: read_ismn(
                edit_station_a(demo_ismn(tmp), replace_line(3, ABOVE_ONE.replace(" G ", " C03 ")))
            )
        ),
        ok(),
        lambda t: (
            ismn_days(t, "A")["06-01"]
            == (pytest.approx(np.delete(np.round(np.linspace(0.2, 0.3, 48), 4)[:24], 2).mean()), 23)
        ),
    ),
    "ismn-demo-non-numeric-value": Case(
        lambda tmp, _: (
            lambda: read_ismn(edit_station_a(demo_ismn(tmp), replace_line(5, "   wet G M")))
        ),
        error(r"DEMO_DEMO_A_sm_.*\.stm: unreadable ISMN data file: .*download it again"),
    ),
    "ismn-demo-unparseable-date": Case(
        lambda tmp, _: (
            lambda: read_ismn(
                edit_station_a(
                    demo_ismn(tmp), lambda ls: ls[:5] + ["2020/13/45 25:00" + ls[5][16:]] + ls[6:]
                )
            )
        ),
        error(
            r"Data_demo\.zip/DEMO/A/DEMO_DEMO_A_sm_.*\.stm: unreadable ISMN data file: "
            r"ValueError\('time data \"2020/13/45 25:00\".*delete it and download it again"
        ),
    ),
    "ismn-demo-garbage-data-file": Case(
        lambda tmp, _: lambda: read_ismn(edit_station_a(demo_ismn(tmp), lambda ls: ["garbage"])),
        error(r"Data_demo\.zip: 1 ISMN data file\(s\) the ismn package cannot read: "),
    ),
    "ismn-odd-data-file-name": Case(
        lambda tmp, _: (
            lambda: read_ismn(
                rewrite_zip(
                    demo_ismn(tmp),
                    lambda n, d: {n.replace("_sm_0.000000_0.050000_", "_"): d},
                )
            )
        ),
        error(r"1 \.stm file\(s\) whose names are not ISMN data file names.*DEMO/A/"),
    ),
    "ismn-data-files-outside-station-folders": Case(
        lambda tmp, _: (
            lambda: read_ismn(rewrite_zip(demo_ismn(tmp), lambda n, d: {n.rsplit("/", 1)[-1]: d}))
        ),
        error(r"not an ISMN archive: no <NETWORK>/<STATION>/\*\.stm data files \(but 2 elsewhere"),
    ),
    "ismn-empty-zip": Case(
        lambda tmp, _: lambda: read_ismn(rewrite_zip(demo_ismn(tmp), lambda n, d: {})),
        error(r"Data_demo\.zip: not an ISMN archive.*'Header\+values' \(or 'CEOP separate"),
    ),
    "ismn-truncated-zip": Case(
        lambda tmp, _: lambda: read_ismn(truncate(demo_ismn(tmp))),
        error(r"Data_demo\.zip: is neither a zip archive nor a folder \(expected an ISMN"),
    ),
    "ismn-missing-archive": Case(
        lambda tmp, _: lambda: read_ismn(tmp / "Data_none.zip"),
        error(r"Data_none\.zip: does not exist"),
    ),
}


def truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


# --- demo-written station CSV files ----------------------------------------------------


def csv_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Network NZW: P1 in percent (hourly, UTC 'Z' times), F1 in m3 m-3 (daily dates)."""
    stations = pd.DataFrame(
        {
            "network": ["NZW", "NZW"],
            "station": ["P1", "F1"],
            "lat": [40.25, 39.75],
            "lon": [110.5, 111.0],
            "depth_from": [0.0, 0.0],
            "depth_to": [0.1, 0.05],
            "units": ["percent", "m3 m-3"],
        }
    )
    values = pd.DataFrame(
        {
            "network": "NZW",
            "station": ["P1"] * 4 + ["F1"] * 3,
            "time": list(pd.date_range("2020-06-01 10:00", periods=4, freq="12h"))
            + list(pd.date_range("2020-06-01", periods=3, freq="D")),
            "sm": [20.0, 22.0, 24.0, 26.0, 0.15, 0.16, 0.17],
            "flag": ["G"] * 7,
        }
    )
    return stations, values


def demo_csv(tmp: Path, stations=None, values=None) -> tuple[Path, Path]:
    s, v = csv_inputs()
    return write_csv_stations(
        tmp / "nzw_stations.csv",
        tmp / "nzw_values.csv",
        s if stations is None else stations,
        v if values is None else values,
    )


def read_csv(tmp: Path, stations=None, values=None, **kw: Any) -> Callable[[], Any]:
    paths = demo_csv(tmp, stations, values)

    def call() -> tuple[pd.DataFrame, pd.DataFrame]:
        tally = StationTally()
        return read_csv_stations(*paths, tally=tally, **kw), tally.frame()

    return call


def edit_file(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text, (old, text)
    path.write_text(text.replace(old, new))
    return path


def read_edited(tmp: Path, which: int, old: str, new: str, **kw: Any) -> Callable[[], Any]:
    """Read the demo CSV pair after replacing ``old`` by ``new`` in file ``which`` (0, 1)."""
    paths = list(demo_csv(tmp))
    edit_file(paths[which], old, new)
    return lambda: read_csv_stations(*paths, **kw)


def stations_with(**changes: list[Any]) -> pd.DataFrame:
    return csv_inputs()[0].assign(**changes)


def values_with(**changes: list[Any]) -> pd.DataFrame:
    return csv_inputs()[1].assign(**changes)


def csv_days(result: Any, station: str) -> dict[str, tuple[float, int]]:
    table = result[0] if isinstance(result, tuple) else result
    return ismn_days(table, station)


def csv_genuine(result: Any) -> None:
    table, tally = result
    assert csv_days(result, "P1") == {
        "06-01": (pytest.approx(0.21, abs=1e-15), 2),  # 10:00 and 22:00 UTC: (20 + 22) / 100 / 2
        "06-02": (pytest.approx(0.25, abs=1e-15), 2),
    }
    assert csv_days(result, "F1") == {"06-01": (0.15, 1), "06-02": (0.16, 1), "06-03": (0.17, 1)}
    assert set(table.loc[table["station"] == "P1", "conversion"]) == {"sm = value / 100"}
    assert tally[["sensors", "observations", "accepted", "station_days"]].values.tolist() == [
        [2, 7, 7, 5]
    ]


def beijing_clock(result: pd.DataFrame) -> None:
    # 2020-06-01T07:00 at UTC+8 is 31 May 23:00 UTC; 19:00 is 11:00 UTC on 1 June
    assert csv_days(result, "P1") == {
        "05-31": (pytest.approx(0.20), 1),
        "06-01": (pytest.approx(0.23), 2),
        "06-02": (pytest.approx(0.26), 1),
    }
    assert set(result.loc[result["station"] == "P1", "conversion"]) == {
        "sm = value / 100; clock times UTC+8 h -> UTC"
    }


def clock_times(text: str) -> str:
    """The P1 rows' times as Beijing clock times without offset."""
    for old, new in (
        ("2020-06-01T10:00:00Z", "2020-06-01T07:00"),
        ("2020-06-01T22:00:00Z", "2020-06-01T19:00"),
        ("2020-06-02T10:00:00Z", "2020-06-02T07:00"),
        ("2020-06-02T22:00:00Z", "2020-06-02T19:00"),
    ):
        text = text.replace(old, new)
    return text


def read_clock_times(tmp: Path, offset: str | None) -> Callable[[], Any]:
    s, v = demo_csv(tmp)
    v.write_text(clock_times(v.read_text()))
    if offset is not None:
        lines = s.read_text().splitlines()
        s.write_text(
            "\n".join(
                [lines[0] + ",utc_offset_hours"]
                + [ln + ("," + offset if ln.startswith("NZW,P1") else ",0") for ln in lines[1:]]
            )
            + "\n"
        )
    return lambda: read_csv_stations(s, v)


def duplicates_averaged(result: Any) -> None:
    table, tally = result
    assert csv_days(result, "F1")["06-01"] == (pytest.approx((0.15 + 0.19) / 2), 2)
    assert tally["duplicate_timestamps"].tolist() == [1]


def mislabelled_everywhere(tmp: Path) -> Callable[[], Any]:
    """Two networks, every station in m3 m-3 but labelled percent, read by the rule's code."""
    s1, v1 = demo_csv(
        tmp, stations_with(units=["percent", "percent"]), values_with(sm=[0.2] * 4 + [0.3] * 3)
    )
    other = tmp / "cern"
    other.mkdir()
    st, va = csv_inputs()
    s2, v2 = demo_csv(
        other,
        st.assign(network="CERN", units="percent"),
        va.assign(network="CERN", sm=[0.25] * 7),
    )
    return lambda: harmonise_station_files(run_config(), [], [(s1, v1), (s2, v2)])


def harmonised(tmp: Path, stations=None, values=None) -> Callable[[], Any]:
    """The rule's code on the demo CSV pair."""
    paths = demo_csv(tmp, stations, values)
    return lambda: harmonise_station_files(run_config(), [], [paths])


def run_config() -> dict[str, Any]:
    return {
        "stations": {"max_depth_m": 0.1, "accept_flags": ["G"]},
        "region": {"bbox": [110.0, 39.5, 111.5, 40.5]},
        "grid": {"coarse_res_deg": 0.25, "fine_res_deg": 0.01},
        "dates": {"start": "2020-06-01", "end": "2020-06-30"},
    }


def outside_region_counted(result: Any) -> None:
    assert set(result.table["station"]) == {"P1"}
    assert result.outside[["network", "station"]].values.tolist() == [["NZW", "F1"]]
    row = result.checks.set_index("network").loc["NZW"]
    assert (row["stations_kept"], row["station_days_kept"], row["stations_outside_region"]) == (
        1,
        2,
        1,
    )


CSV_CASES = {
    "csv-demo-genuine": Case(lambda tmp, _: read_csv(tmp), ok(), csv_genuine),
    "csv-m3-labelled-percent": Case(
        lambda tmp, _: read_csv(
            tmp, values=values_with(sm=[0.20, 0.22, 0.24, 0.26, 0.15, 0.16, 0.17])
        ),
        error(
            r"nzw_stations\.csv: the values in .*nzw_values\.csv do not match the declared units "
            r"of 1 station\(s\): NZW/P1 declares 'percent' but its 4 accepted value\(s\) all lie "
            r"in \[0.2, 0.26\]: m3 m-3 fractions, not percent \(set the 'units' column.*"
            r"nothing was converted"
        ),
    ),
    "csv-percent-labelled-m3": Case(
        lambda tmp, _: read_csv(tmp, values=values_with(sm=[20.0, 22, 24, 26, 15, 16, 17])),
        error(
            r"NZW/F1 declares 'm3 m-3' but 3 of its 3 accepted value\(s\) exceed 1 \(up to 17\): "
            r"percent, not a fraction \(set the 'units' column"
        ),
    ),
    "csv-percent-of-field-capacity-as-fraction": Case(
        lambda tmp, _: read_csv(
            tmp,
            stations_with(
                units=["percent_of_field_capacity", "m3 m-3"], field_capacity=[0.3, None]
            ),
            values_with(sm=[0.6, 0.55, 0.5, 0.45, 0.15, 0.16, 0.17]),
        ),
        error(r"NZW/P1 declares 'percent_of_field_capacity' but its 4 accepted value\(s\) all lie"),
    ),
    "csv-every-network-mislabelled": Case(
        lambda tmp, _: mislabelled_everywhere(tmp),
        error(r"nzw_stations\.csv: .*of 2 station\(s\): NZW/F1 declares 'percent' .*; NZW/P1 "),
    ),
    "csv-one-value-above-1": Case(
        lambda tmp, _: read_csv(tmp, values=values_with(sm=[20.0, 22, 24, 26, 0.15, 1.6, 0.17])),
        error(
            r"nzw_values\.csv: column 'sm', line 7 \(station NZW/F1\): 1.6 m3 m-3 after "
            r"conversion from 'm3 m-3' is outside \[0, 1\].*or flag the value"
        ),
    ),
    "csv-one-value-above-1-flagged": Case(
        lambda tmp, _: read_csv(
            tmp,
            values=values_with(
                sm=[20.0, 22, 24, 26, 0.15, 1.6, 0.17], flag=["G"] * 5 + ["C03", "G"]
            ),
        ),
        ok(),
        lambda r: csv_days(r, "F1") == {"06-01": (0.15, 1), "06-03": (0.17, 1)},
    ),
    "csv-repeated-timestamp": Case(
        lambda tmp, _: read_csv(
            tmp,
            values=pd.concat(
                [csv_inputs()[1], values_with(sm=[0.19] * 7).iloc[[4]]], ignore_index=True
            ),
        ),
        conversion(
            r"nzw_values\.csv: station NZW/F1 \(sensor unknown\): 1 observation\(s\) repeat a "
            r"timestamp \(first at 2020-06-01 00:00 UTC\)"
        ),
        duplicates_averaged,
    ),
    "csv-clock-times-without-offset": Case(
        lambda tmp, _: read_clock_times(tmp, None),
        error(
            r"nzw_values\.csv: column 'time', line 2 \(station NZW/P1\): 4 clock time\(s\) "
            r"without a UTC offset \(e.g. 2020-06-01T07:00\) at station\(s\) \['NZW/P1'\], for "
            r"which .*nzw_stations\.csv gives no utc_offset_hours \(set utc_offset_hours"
        ),
    ),
    "csv-clock-times-offset-column-empty": Case(
        lambda tmp, _: read_clock_times(tmp, ""),
        error(r"4 clock time\(s\) without a UTC offset .* \['NZW/P1'\]"),
    ),
    "csv-clock-times-beijing": Case(
        lambda tmp, _: read_clock_times(tmp, "8"),
        conversion(
            r"nzw_stations\.csv: converted \(sm = value / 100; clock times UTC\+8 h -> UTC\) "
            r"for 1 station\(s\): \['NZW/P1'\]"
        ),
        beijing_clock,
    ),
    "csv-explicit-offset-times": Case(
        lambda tmp, _: read_edited(tmp, 1, "2020-06-01T10:00:00Z", "2020-06-01T07:00:00+08:00"),
        conversion(r"converted \(sm = value / 100\) for 1 station\(s\): \['NZW/P1'\]"),
        lambda t: csv_days(t, "P1")["05-31"] == (pytest.approx(0.20), 1),
    ),
    "csv-sensor-too-deep": Case(
        lambda tmp, _: read_csv(tmp, stations_with(depth_to=[0.1, 0.2]), max_depth_m=0.1),
        skip(r"nzw_values\.csv: 1 " + TOO_DEEP + r" = 0.1 m: \['NZW/F1/unknown 0-0.2 m'\]"),
        lambda r: (set(r[0]["station"]), r[1]["sensors_too_deep"].tolist()) == ({"P1"}, [1]),
    ),
    "csv-no-accepted-flag": Case(
        lambda tmp, _: read_csv(tmp, values=values_with(flag=["D01"] * 7)),
        skip(r"nzw_values\.csv: network NZW: " + NOTHING_ACCEPTED + r" \(rejected: D01: 7\)"),
        lambda r: r[0].empty and r[1]["accepted"].tolist() == [0],
    ),
    "csv-network-without-values": Case(
        lambda tmp, _: read_csv(
            tmp,
            pd.concat([csv_inputs()[0], stations_with(network=["QXZ", "QXZ"])], ignore_index=True),
        ),
        skip(r"no value rows for network\(s\) \['QXZ'\] of .*nzw_stations\.csv"),
        lambda r: r[1].set_index("network").loc["QXZ", "sensors"] == 0,
    ),
    "csv-station-outside-region": Case(
        lambda tmp, _: harmonised(tmp, stations_with(lat=[40.25, 45.0])),
        skip(r"station NZW/F1 at \(45.0000 N, 111.0000 E\) is outside the region"),
        outside_region_counted,
    ),
    "csv-values-missing-column": Case(
        lambda tmp, _: read_edited(tmp, 1, "network,station,time,sm", "network,station,time,value"),
        error(r"nzw_values\.csv: missing column\(s\) \['sm'\]; has .*required columns"),
    ),
    "csv-stations-missing-column": Case(
        lambda tmp, _: read_edited(tmp, 0, ",units", ",unit"),
        error(r"nzw_stations\.csv: missing column\(s\) \['units'\]"),
    ),
    "csv-bad-date": Case(
        lambda tmp, _: read_edited(tmp, 1, "NZW,F1,2020-06-02", "NZW,F1,2 June 2020"),
        error(r"nzw_values\.csv: column 'time', line 7 \(station NZW/F1\): not an ISO 8601 date"),
    ),
    "csv-unknown-units": Case(
        lambda tmp, _: read_edited(tmp, 0, ",percent", ",vol%"),
        error(r"column 'units', line 2 \(station NZW/P1\): unknown units .*'vol%'"),
    ),
    "csv-unknown-station": Case(
        lambda tmp, _: read_edited(tmp, 1, "NZW,F1,2020-06-03", "NZW,F9,2020-06-03"),
        error(
            r"1 value row\(s\) for station\(s\) not in the stations file: \['NZW/F9'\].*add them"
        ),
    ),
    "csv-latitude-out-of-range": Case(
        lambda tmp, _: read_edited(tmp, 0, "NZW,P1,40.25", "NZW,P1,140.25"),
        error(r"column 'lat', line 2 \(station NZW/P1\): latitude outside \[-90, 90\]: '140.25'"),
    ),
    "csv-empty-values-file": Case(
        lambda tmp, _: read_rewritten(tmp, ""),
        error(r"nzw_values\.csv: not a readable CSV file: No columns to parse"),
    ),
    "csv-values-header-only": Case(
        lambda tmp, _: read_rewritten(tmp, "network,station,time,sm,flag\n"),
        skip(r"nzw_values\.csv: no value rows for network\(s\) \['NZW'\] of .*contribute no"),
        lambda t: t.empty,
    ),
}


# --- station CSV files as a provider ships them, read through the config's description -----

#: The project's field -> the provider's column.
PROVIDER_COLUMNS = {
    "stations": {
        "station": "station_id",
        "lat": "latitude",
        "lon": "longitude",
        "depth_from": "depth_top_m",
        "depth_to": "depth_bottom_m",
        "units": "unit",
    },
    "values": {
        "station": "station",
        "time": "datetime_utc",
        "sm": "soil_moisture",
        "flag": "qc_flag",
    },
}
#: The config item describing them (the paths are set when written).
PROVIDER_ITEM: dict[str, Any] = {
    "network": "NZW",
    "columns": PROVIDER_COLUMNS,
    "unit_names": {"vol %": "percent", "m3/m3": "m3 m-3"},
    "flags": {"good": ["G", "M"], "separator": "|"},
    "utc_offset_hours": 0,
}


def provider_csv(tmp: Path, stations=None, values=None) -> tuple[Path, Path]:
    """The demo CSV network as a provider ships it: no network column, its own names, unit
    text "vol %" and "m3/m3", flags "G|M", UTC times without an offset."""
    s, v = csv_inputs()
    s = s if stations is None else stations
    v = v if values is None else values
    st = s.drop(columns="network").rename(columns=PROVIDER_COLUMNS["stations"])
    st["unit"] = st["unit"].replace({"percent": "vol %", "m3 m-3": "m3/m3"})
    va = v.drop(columns="network").assign(
        time=pd.to_datetime(v["time"]).dt.strftime("%Y-%m-%d %H:%M"),
        flag=v["flag"].replace({"G": "G|M"}),
    )
    va = va.rename(columns=PROVIDER_COLUMNS["values"])
    paths = tmp / "nzw_sites.csv", tmp / "nzw_sm.csv"
    st.to_csv(paths[0], index=False)
    va.to_csv(paths[1], index=False)
    return paths


def provider_item(**changes: Any) -> dict[str, Any]:
    """PROVIDER_ITEM with ``changes`` (``columns`` ones replace one file's names), through
    the schema (defaults filled)."""
    columns = {**PROVIDER_COLUMNS, **changes.pop("columns", {})}
    item = {"stations": "s", "values": "v", **PROVIDER_ITEM, "columns": columns, **changes}
    return prepare_config({"stations": {"csv": [item]}})["stations"]["csv"][0]


def read_provider(tmp: Path, stations=None, values=None, **changes: Any) -> Callable[[], Any]:
    paths = provider_csv(tmp, stations, values)
    layout = CsvLayout.from_config(provider_item(**changes), "stations.csv[0]")

    def call() -> tuple[pd.DataFrame, pd.DataFrame]:
        tally = StationTally()
        return read_csv_stations(*paths, tally=tally, layout=layout), tally.frame()

    return call


def provider_through_the_rule(tmp: Path) -> Callable[[], Any]:
    """The rule's code on a real run's config naming the provider's files."""
    s, v = provider_csv(tmp)
    cfg = run_config()
    cfg["source"] = "real"
    cfg["stations"]["csv"] = [{**provider_item(), "stations": str(s), "values": str(v)}]
    return lambda: harmonise_station_files(cfg, [], [(s, v)], csv_layouts(cfg))


def provider_beijing_clock(result: Any) -> None:
    """Every time shifted by 8 h: P1's 10:00/22:00 UTC-read clock times fall 8 h earlier."""
    assert csv_days(result, "P1") == {
        "06-01": (pytest.approx(0.21), 2),
        "06-02": (pytest.approx(0.25), 2),
    }
    assert csv_days(result, "F1") == {"05-31": (0.15, 1), "06-01": (0.16, 1), "06-02": (0.17, 1)}


PROVIDER_CASES = {
    "csv-provider-mapped-genuine": Case(lambda tmp, _: read_provider(tmp), ok(), csv_genuine),
    "csv-provider-through-the-rule": Case(
        lambda tmp, _: provider_through_the_rule(tmp),
        ok(),
        lambda r: (
            r.checks[["network", "stations_kept", "station_days_kept"]].values.tolist()
            == [["NZW", 2, 5]]
        ),
    ),
    "csv-provider-mapped-column-missing": Case(
        lambda tmp, _: read_provider(
            tmp, columns={"values": {**PROVIDER_COLUMNS["values"], "sm": "sm_vol_percent"}}
        ),
        error(
            r"nzw_sm\.csv: missing column\(s\) \['sm_vol_percent'\]; has \['station', "
            r"'datetime_utc', 'soil_moisture', 'qc_flag'\].*stations\.csv\[0\]\.columns\.values "
            r"gives sm = 'sm_vol_percent': set it to the file's own column name"
        ),
    ),
    "csv-provider-described-flag-column-missing": Case(
        lambda tmp, _: read_provider(
            tmp, columns={"values": {**PROVIDER_COLUMNS["values"], "flag": "quality"}}
        ),
        error(r"nzw_sm\.csv: missing column\(s\) \['quality'\]; has .*flag = 'quality'"),
    ),
    "csv-provider-network-not-given": Case(
        lambda tmp, _: read_provider(tmp, network=None),
        error(r"nzw_sites\.csv: missing column\(s\) \['network'\]; has \['station_id', "),
    ),
    "csv-provider-unit-text-not-named": Case(
        lambda tmp, _: read_provider(tmp, unit_names={"m3/m3": "m3 m-3"}),
        error(
            r"nzw_sites\.csv: column 'unit', line 2 \(station NZW/P1\): unknown units .*"
            r"stations\.csv\[0\]\.unit_names.*: 'vol %'"
        ),
    ),
    "csv-provider-network-units-contradicted": Case(
        lambda tmp, _: read_provider(tmp, units="percent"),
        error(
            r"NZW/F1 declares 'percent' but its 3 accepted value\(s\) all lie in "
            r"\[0.15, 0.17\].*\(set stations\.csv\[0\]\.units to what the values are"
        ),
    ),
    "csv-provider-flag-separator-not-set": Case(
        lambda tmp, _: read_provider(tmp, flags={"good": ["G", "M"]}),
        skip(
            r"nzw_sm\.csv: network NZW: " + NOTHING_ACCEPTED + r" \(rejected: G\|M: 7\).*"
            r"add them to stations\.csv\[0\]\.flags\.good \(now \['G', 'M'\]\)"
        ),
        lambda r: r[0].empty,
    ),
    "csv-provider-flag-not-good": Case(
        lambda tmp, _: read_provider(tmp, flags={"good": ["G"], "separator": "|"}),
        skip(r"network NZW: " + NOTHING_ACCEPTED + r" \(rejected: M: 7\)"),
        lambda r: r[1]["rejected_by_flag"].tolist() == ["M: 7"],
    ),
    "csv-provider-clock-not-given": Case(
        lambda tmp, _: read_provider(tmp, utc_offset_hours=None),
        error(
            r"nzw_sm\.csv: column 'time', line 2 \(station NZW/P1\): 7 clock time\(s\) without "
            r"a UTC offset.*or for the whole network as stations\.csv\[0\]\.utc_offset_hours"
        ),
    ),
    "csv-provider-clock-from-config": Case(
        lambda tmp, _: read_provider(tmp, utc_offset_hours=8),
        conversion(
            r"nzw_sites\.csv: converted \(sm = value / 100; clock times UTC\+8 h -> UTC\) for "
            r"1 station\(s\): \['NZW/P1'\]"
        ),
        provider_beijing_clock,
    ),
}


def read_rewritten(tmp: Path, values_text: str) -> Callable[[], Any]:
    """Read the demo CSV pair with the values file's text replaced by ``values_text``."""
    s, v = demo_csv(tmp)
    v.write_text(values_text)
    return lambda: read_csv_stations(s, v)


CASES = {**ISMN_CASES, **CSV_CASES, **PROVIDER_CASES}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=name, marks=[pytest.mark.realdata] if c.real else [])
        for name, c in CASES.items()
    ],
)
def test_station_input(
    case: Case, tmp_path: Path, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    real = request.getfixturevalue("realdata") if case.real else None
    result = check(case.outcome, case.build(tmp_path, real), caplog)
    if case.then is not None:
        verdict = case.then(result)
        assert verdict is None or bool(verdict), f"{case.then.__name__} is False"
