"""Station CSV files as providers ship them: the config's description of a CSV network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from smdownscale.config import ConfigError, prepare_config
from smdownscale.products.base import ProductError
from smdownscale.products.csv_layout import CsvLayout
from smdownscale.products.csv_stations import read_csv_stations
from smdownscale.products.stations import validate_station_table

# The project's own format, flags G and M accepted ...
PROJECT_STATIONS = """network,station,lat,lon,depth_from,depth_to,units,utc_offset_hours
NZW,S1,40.5,110.25,0.05,0.05,percent,0
NZW,S2,38.0,106.5,0.05,0.05,percent,0
"""
PROJECT_VALUES = """network,station,time,sm,flag
NZW,S1,2019-04-01 06:00,20.5,G
NZW,S1,2019-04-01 18:00,21.5,"G,M"
NZW,S1,2019-04-02 06:00,22.0,D01
NZW,S2,2019-04-01 06:00,30,
NZW,S2,2019-04-02 06:00,,G
"""
# ... and the same stations as a provider ships them: no network column, other names, one
# sensor depth, unit text "vol %", flags joined by "|", UTC times without an offset.
PROVIDER_STATIONS = """station,latitude,longitude,depth_m,unit
S1,40.5,110.25,0.05,vol %
S2,38.0,106.5,0.05,vol %
"""
PROVIDER_VALUES = """station,datetime_utc,soil_moisture_vol_percent,qc_flag
S1,2019-04-01 06:00,20.5,G
S1,2019-04-01 18:00,21.5,G|M
S1,2019-04-02 06:00,22.0,D01
S2,2019-04-01 06:00,30,
S2,2019-04-02 06:00,,G
"""
PROVIDER_ITEM: dict[str, Any] = {
    "network": "NZW",
    "columns": {
        "stations": {
            "lat": "latitude",
            "lon": "longitude",
            "depth_from": "depth_m",
            "depth_to": "depth_m",
            "units": "unit",
        },
        "values": {
            "time": "datetime_utc",
            "sm": "soil_moisture_vol_percent",
            "flag": "qc_flag",
        },
    },
    "unit_names": {"vol %": "percent"},
    "flags": {"good": ["G", "M"], "separator": "|"},
    "utc_offset_hours": 0,
}


def layout(**changes: Any) -> CsvLayout:
    """The provider's layout, through the schema (defaults filled), with ``changes`` (those
    under ``columns`` replace one file's names)."""
    columns = {**PROVIDER_ITEM["columns"], **changes.pop("columns", {})}
    item = {"stations": "s.csv", "values": "v.csv", **PROVIDER_ITEM, "columns": columns, **changes}
    cfg = prepare_config({"stations": {"csv": [item]}})
    return CsvLayout.from_config(cfg["stations"]["csv"][0], "stations.csv[0]")


def files(tmp_path: Path, stations: str, values: str) -> tuple[Path, Path]:
    s, v = tmp_path / "stations.csv", tmp_path / "values.csv"
    s.write_text(stations)
    v.write_text(values)
    return s, v


def read_provider(tmp_path: Path, stations: str = PROVIDER_STATIONS, values=PROVIDER_VALUES, **kw):
    lay = kw.pop("layout", None) or layout()
    return read_csv_stations(*files(tmp_path, stations, values), layout=lay, **kw)


def project_table(tmp_path: Path, **kw: Any) -> pd.DataFrame:
    (tmp_path / "project").mkdir(exist_ok=True)
    paths = files(tmp_path / "project", PROJECT_STATIONS, PROJECT_VALUES)
    return read_csv_stations(*paths, accept_flags=("G", "M"), **kw)


@pytest.mark.parametrize("keep_rejected", [False, True])
def test_provider_files_read_through_the_mapping_equal_the_project_format(
    tmp_path: Path, keep_rejected: bool
) -> None:
    mapped = read_provider(tmp_path, keep_rejected=keep_rejected)
    validate_station_table(mapped)
    pd.testing.assert_frame_equal(mapped, project_table(tmp_path, keep_rejected=keep_rejected))
    s1 = mapped[mapped["station"] == "S1"].set_index("time")
    assert s1.loc[pd.Timestamp("2019-04-01"), "sm"] == pytest.approx(0.21)  # G and G|M
    assert s1.loc[pd.Timestamp("2019-04-01"), "n_obs"] == 2
    assert set(mapped["network"]) == {"NZW"} and set(mapped["source_units"]) == {"percent"}


def test_network_wide_units_need_no_units_column(tmp_path: Path) -> None:
    stations = "\n".join(ln.rsplit(",", 1)[0] for ln in PROVIDER_STATIONS.splitlines()) + "\n"
    assert "unit" not in stations
    mapped = read_provider(tmp_path, stations, layout=layout(units="percent", unit_names={}))
    pd.testing.assert_frame_equal(mapped, project_table(tmp_path))


def test_the_default_layout_is_the_project_format(tmp_path: Path) -> None:
    cfg = prepare_config({"stations": {"csv": [{"stations": "s.csv", "values": "v.csv"}]}})
    default = CsvLayout.from_config(cfg["stations"]["csv"][0], "stations.csv[0]")
    assert default == CsvLayout(key="stations.csv[0]")
    paths = files(tmp_path, PROJECT_STATIONS, PROJECT_VALUES)
    got = read_csv_stations(*paths, accept_flags=("G", "M"), layout=default)
    pd.testing.assert_frame_equal(got, project_table(tmp_path))


def test_missing_mapped_column_names_file_name_and_columns_found(tmp_path: Path) -> None:
    lay = layout(columns={"values": {"time": "datetime_utc", "sm": "soil_moisture"}})
    with pytest.raises(ProductError) as err:
        read_provider(tmp_path, layout=lay)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'values.csv'}: missing column(s) ['soil_moisture']; ")
    assert "has ['station', 'datetime_utc', 'soil_moisture_vol_percent', 'qc_flag']" in message
    assert "stations.csv[0].columns.values gives sm = 'soil_moisture': set it to" in message


def test_described_optional_column_must_exist(tmp_path: Path) -> None:
    values = {"time": "datetime_utc", "sm": "soil_moisture_vol_percent", "flag": "quality"}
    with pytest.raises(ProductError, match=r"values\.csv: missing column\(s\) \['quality'\]"):
        read_provider(tmp_path, layout=layout(columns={"values": values}))
    # an optional field under its own name may be absent (no flag column: all good)
    plain = PROVIDER_VALUES.replace(",qc_flag", "").replace(",G|M", "").replace(",D01", "")
    plain = "\n".join(ln.removesuffix(",G").rstrip(",") for ln in plain.splitlines()) + "\n"
    no_flags = {"time": "datetime_utc", "sm": "soil_moisture_vol_percent"}
    table = read_provider(tmp_path, values=plain, layout=layout(columns={"values": no_flags}))
    assert table["n_obs"].sum() == 4


def test_missing_stations_column_names_the_stations_file(tmp_path: Path) -> None:
    stations = PROVIDER_STATIONS.replace("latitude", "lat_deg")
    with pytest.raises(ProductError) as err:
        read_provider(tmp_path, stations)
    assert str(err.value).startswith(f"{tmp_path / 'stations.csv'}: missing column(s) ")
    assert "['latitude']; has ['station', 'lat_deg', 'longitude', 'depth_m', 'unit']" in str(
        err.value
    )


def test_pipe_separated_flags(tmp_path: Path) -> None:
    # with "|" both codes of G|M are checked: M is not good when only G is
    strict = read_provider(tmp_path, layout=layout(flags={"good": ["G"], "separator": "|"}))
    s1 = strict[strict["station"] == "S1"]
    assert s1["n_obs"].tolist() == [1]  # 1 April: only the G observation
    # without the separator, "G|M" is one unknown flag value
    lay = layout(flags={"good": ["G", "M"]})
    loose = read_provider(tmp_path, layout=lay, keep_rejected=True)
    assert loose.loc[loose["station"] == "S1", "n_obs"].tolist() == [1, 0]
    # an empty cell is the first good value: accepted whatever the good values are
    ok = read_provider(tmp_path, layout=layout(flags={"good": ["ok", "G"], "separator": "|"}))
    assert ok.loc[ok["station"] == "S2", "n_obs"].tolist() == [1]


def test_vol_percent_unit_text(tmp_path: Path) -> None:
    with pytest.raises(ProductError) as err:
        read_provider(tmp_path, layout=layout(unit_names={}))
    assert "column 'unit', line 2 (station NZW/S1): unknown units" in str(err.value)
    assert "stations.csv[0].unit_names" in str(err.value) and "'vol %'" in str(err.value)
    table = read_provider(tmp_path, layout=layout(unit_names={" vol %": "percent"}))
    assert table["conversion"].eq("sm = value / 100").all()


def test_plausibility_checks_hold_on_mapped_files(tmp_path: Path) -> None:
    fractions = PROVIDER_VALUES.replace(",20.5,", ",0.205,").replace(",21.5,", ",0.215,")
    fractions = fractions.replace(",22.0,", ",0.22,").replace(",30,", ",0.3,")
    with pytest.raises(ProductError, match=r"NZW/S1 declares 'percent' but its 2 accepted"):
        read_provider(tmp_path, values=fractions)
    with pytest.raises(ProductError, match=r"set stations\.csv\[0\]\.units to what the values"):
        read_provider(tmp_path, values=fractions, layout=layout(units="percent"))
    table = read_provider(tmp_path, values=fractions, layout=layout(units="m3 m-3"))
    assert table["sm"].max() == pytest.approx(0.3)


def test_clock_from_the_config(tmp_path: Path) -> None:
    with pytest.raises(ProductError, match=r"or for the whole network as stations\.csv\[0\]"):
        read_provider(tmp_path, layout=layout(utc_offset_hours=None))
    beijing = read_provider(tmp_path, layout=layout(utc_offset_hours=8))
    s1 = beijing[beijing["station"] == "S1"].set_index("time")["n_obs"].to_dict()
    # 06:00 at UTC+8 is 22:00 UTC of the day before
    assert s1 == {pd.Timestamp("2019-03-31"): 1, pd.Timestamp("2019-04-01"): 1}
    assert beijing["conversion"].str.endswith("clock times UTC+8 h -> UTC").all()
    # a station's own offset wins over the network's
    own = PROVIDER_STATIONS.replace("depth_m,unit", "depth_m,unit,tz").replace("vol %", "vol %,0")
    cols = {**PROVIDER_ITEM["columns"]["stations"], "utc_offset_hours": "tz"}
    lay = layout(utc_offset_hours=8, columns={"stations": cols})
    assert read_provider(tmp_path, own, layout=lay)["conversion"].eq("sm = value / 100").all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"units": "vol %"}, r"'stations.csv\[0\].units': 'vol %' is not one of"),
        ({"unit_names": {"vol %": "volume"}}, r"'stations.csv\[0\].unit_names.vol %'"),
        ({"columns": {"values": {"value": "x"}}}, r"unknown config key\(s\) 'value'"),
        ({"columns": {"values": {"sm": ""}}}, r"'stations.csv\[0\].columns.values.sm'"),
        ({"flags": {"separator": ""}}, r"'stations.csv\[0\].flags.separator'"),
        ({"flags": {"good": []}}, r"'stations.csv\[0\].flags.good'"),
        ({"utc_offset_hours": 15}, r"'stations.csv\[0\].utc_offset_hours': 15 is greater"),
    ],
)
def test_schema_refuses_bad_descriptions(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        prepare_config({"stations": {"csv": [{"stations": "s", "values": "v", **change}]}})
