"""GLDAS-2.1 Noah 3-hourly reader, format check and demo writer (issue 16, item 4)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from smdownscale.demo import write_gldas
from smdownscale.demo.write_gldas import (
    gldas_from_truth,
    gldas_lattice,
    gldas_three_hourly,
    write_gldas_file,
)
from smdownscale.products.base import ProductError
from smdownscale.products.gldas import (
    GLDAS_HOURS,
    check_gldas,
    gldas_name,
    layer_depth_m,
    read_gldas,
)

DAY = dt.date(2010, 7, 1)
BBOX = (110.0, 40.0, 111.0, 40.5)  # west, south, east, north: 2 x 4 cells


def _day(folder, day, lat, lon, states, **kw):
    """Write the 8 files of ``day``; ``states`` (8, lat, lon) in kg m-2."""
    return [
        write_gldas_file(folder / gldas_name(day, h), day, h, lat, lon, states[k], **kw)
        for k, h in enumerate(GLDAS_HOURS)
    ]


def test_names_hours_and_layer_depths():
    assert GLDAS_HOURS == ("0000", "0300", "0600", "0900", "1200", "1500", "1800", "2100")
    assert gldas_name(DAY, "0300") == "GLDAS_NOAH025_3H.A20100701.0300.021.nc4"
    assert layer_depth_m("SoilMoi0_10cm_inst") == pytest.approx(0.10)
    assert layer_depth_m("SoilMoi10_40cm_inst") == pytest.approx(0.30)
    assert layer_depth_m("SoilMoi100_200cm_inst") == pytest.approx(1.0)
    for bad in ("SoilTMP0_10cm_inst", "swvl1", "SoilMoi10_0cm_inst"):
        with pytest.raises(ValueError, match="layer"):
            layer_depth_m(bad)


def test_a_day_of_files_reads_back_as_the_daily_mean_in_m3_m3(tmp_path):
    lat, lon = gldas_lattice(BBOX)
    assert lat.tolist() == [40.125, 40.375]  # the cells overlapping BBOX, ascending
    assert lon.tolist() == [110.125, 110.375, 110.625, 110.875]
    states = np.stack([np.full((2, 4), 20.0 + k) for k in range(8)])  # mean 23.5 kg m-2
    states[:, 1, 3] = np.arange(8) * 2.0  # mean 7 kg m-2
    states[5, 0, 0] = np.nan  # one fill at 1500: that cell-day only
    paths = _day(tmp_path, DAY, lat, lon, states)
    paths += _day(tmp_path, DAY + dt.timedelta(1), lat, lon, np.full((8, 2, 4), 30.0))
    da = read_gldas(paths[::-1], bbox=BBOX)  # order of the paths does not matter
    assert da.dims == ("time", "lat", "lon") and da.dtype == np.float32
    assert [str(t)[:19] for t in da.time.values] == ["2010-07-01T00:00:00", "2010-07-02T00:00:00"]
    assert da.lat.values.tolist() == [40.375, 40.125]  # ascending in the file, descending out
    assert da.lon.values.tolist() == lon.tolist()
    assert da.attrs["units"] == "m3 m-3" and "1000 kg m-3" in da.attrs["comment"]
    v = da.values
    assert np.isnan(v[0, 1, 0]) and np.isnan(v).sum() == 1  # (40.125, 110.125) on day 1
    assert v[0, 0, 3] == pytest.approx(0.07, abs=1e-7)  # (40.375, 110.875): 7 kg m-2 / 100
    assert v[0, 1, 1] == pytest.approx(0.235, abs=1e-7)
    assert v[1] == pytest.approx(np.full((2, 4), 0.30), abs=1e-7)


def test_a_deeper_layer_divides_by_its_own_depth(tmp_path):
    lat, lon = gldas_lattice(BBOX)
    var = "SoilMoi10_40cm_inst"
    paths = _day(tmp_path, DAY, lat, lon, np.full((8, 2, 4), 90.0), variable=var)
    da = read_gldas(paths, variable=var)
    assert da.values == pytest.approx(np.full((1, 2, 4), 0.30), abs=1e-7)  # 90 / 300


def test_a_missing_hour_names_the_day_and_the_hour(tmp_path):
    lat, lon = gldas_lattice(BBOX)
    paths = _day(tmp_path, DAY, lat, lon, np.full((8, 2, 4), 20.0))
    del paths[GLDAS_HOURS.index("1200")]
    with pytest.raises(ValueError, match=r"2010-07-01 lacks the file\(s\) of 1200 UTC"):
        read_gldas(paths)


@pytest.mark.parametrize("units", ["m3 m-3", "%", None])
def test_other_units_are_refused(tmp_path, units):
    lat, lon = gldas_lattice(BBOX)
    p = write_gldas_file(tmp_path / gldas_name(DAY, "0000"), DAY, "0000", lat, lon, units=units)
    with pytest.raises(ProductError, match="not kg m-2") as err:
        check_gldas(p, p)
    assert str(p) in str(err.value)


@pytest.mark.parametrize("units", ["kg m-2", "kg/m2", "kg m**-2", "kg/m^2"])
def test_usual_spellings_of_kg_m2_are_accepted(tmp_path, units):
    lat, lon = gldas_lattice(BBOX)
    p = write_gldas_file(tmp_path / gldas_name(DAY, "0000"), DAY, "0000", lat, lon, units=units)
    check_gldas(p, p, BBOX)


@pytest.mark.parametrize(
    ("lat", "lon", "message"),
    [
        (np.arange(40.5, 43, 1.0), np.arange(110.5, 113, 1.0), "steps by 1 deg"),
        (
            np.round(np.arange(40.05, 40.5, 0.1), 2),
            np.round(np.arange(110.05, 111, 0.1), 2),
            "steps by 0.1 deg",
        ),  # fmt: skip
        (np.arange(40.0, 41, 0.25), np.arange(110.0, 111, 0.25), "not on the GLDAS lattice"),
    ],
)
def test_other_lattices_are_refused(tmp_path, lat, lon, message):
    p = write_gldas_file(tmp_path / gldas_name(DAY, "0000"), DAY, "0000", lat, lon)
    with pytest.raises(ProductError, match=message):
        check_gldas(p, p)


def test_a_file_whose_time_is_not_its_name_is_refused(tmp_path):
    lat, lon = gldas_lattice(BBOX)
    p = write_gldas_file(tmp_path / gldas_name(DAY, "0300"), DAY, "0300", lat, lon,
                         time_offset_hours=3.0)  # fmt: skip
    with pytest.raises(
        ProductError, match="holds 2010-07-01 06:00, its name says 2010-07-01 03:00"
    ):
        check_gldas(p, p)
    # the stamp is decoded whatever the reference of its units
    q = write_gldas_file(tmp_path / gldas_name(DAY, "0600"), DAY, "0300", lat, lon,
                         time_offset_hours=3.0)  # fmt: skip
    check_gldas(q, q)


def test_a_truncated_or_foreign_file_is_refused(tmp_path):
    lat, lon = np.arange(-59.875, 90, 0.25), np.arange(-179.875, 180, 0.25)
    values = np.random.default_rng(0).uniform(5, 40, (lat.size, lon.size))  # not compressible
    p = write_gldas_file(tmp_path / gldas_name(DAY, "0000"), DAY, "0000", lat, lon, values)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])  # cut short: HDF5 refuses to open it
    with pytest.raises(ProductError, match="not a readable NetCDF.*download it again") as err:
        check_gldas(p, "raw/GLDAS/x.nc4")
    assert str(err.value).startswith("raw/GLDAS/x.nc4:")  # names the target
    middle = len(data) // 2
    p.write_bytes(data[:middle] + bytes(4096) + data[middle + 4096 :])  # a damaged chunk
    with pytest.raises(ProductError, match="cannot read 'SoilMoi0_10cm_inst'.*download it again"):
        check_gldas(p, p)
    p.write_text("<html>login</html>")
    with pytest.raises(ProductError, match="HTML page.*Earthdata login"):
        check_gldas(p, p)


def test_a_region_outside_the_file_is_refused(tmp_path):
    lat, lon = gldas_lattice(BBOX)
    p = write_gldas_file(tmp_path / gldas_name(DAY, "0000"), DAY, "0000", lat, lon)
    check_gldas(p, p, (110.1, 40.1, 110.9, 40.4))
    with pytest.raises(ProductError, match="not the region"):
        check_gldas(p, p, (110.0, 40.0, 111.5, 40.5))
    with pytest.raises(ProductError, match="not the region"):
        read_gldas([p], bbox=(120.0, 40.0, 121.0, 40.5))


def test_global_files_are_cropped_to_the_region(tmp_path):
    lat, lon = np.arange(-59.875, 90, 0.25), np.arange(-179.875, 180, 0.25)
    assert (lat.size, lon.size) == (600, 1440)
    field = np.add.outer(lat, lon / 1000.0) + 100.0  # a value that names its cell
    field[lat < -50] = np.nan  # Antarctic fringe: fill
    paths = _day(tmp_path, DAY, lat, lon, np.broadcast_to(field, (8, *field.shape)))
    bbox = (-0.3, 51.2, 0.2, 51.5)
    da = read_gldas(paths, bbox=bbox)
    assert da.lat.values.tolist() == [51.375, 51.125]
    assert da.lon.values.tolist() == [-0.375, -0.125, 0.125]
    expected = (np.add.outer(da.lat.values, da.lon.values / 1000.0) + 100.0) / 100.0
    assert da.values[0] == pytest.approx(expected, abs=1e-6)
    south = read_gldas(paths, bbox=(0.0, -50.5, 0.5, -49.5)).values[0]  # lat -49.625 .. -50.375
    assert np.isfinite(south[:2]).all() and np.isnan(south[2:]).all()  # fill south of 50 S
    with pytest.raises(ProductError, match="not the region.*no cells south of 60 S"):
        check_gldas(paths[0], paths[0], (10.0, -65.0, 11.0, -55.0))


def test_gldas_from_truth_is_offset_plus_scale_times_the_block_mean(monkeypatch):
    lat, lon = gldas_lattice(BBOX)  # 2 x 4 cells of 0.25 deg
    truth_lat = np.round(40.495 - 0.01 * np.arange(50), 3)  # descending 1 km-like centres
    truth_lon = np.round(110.005 + 0.01 * np.arange(90), 3)  # last cell only partly covered
    base = np.add.outer(np.arange(50) // 25, np.arange(90) // 25)  # constant per 0.25 cell
    truth = np.stack([0.1 + 0.05 * base, 0.2 + 0.0 * base])
    truth[0, 0, 0] = 0.5  # one fine cell lifts the block mean of (40.375, 110.125)
    monkeypatch.setattr(write_gldas, "GLDAS_NOISE_SD", 0.0)
    out = gldas_from_truth(truth, truth_lat, truth_lon, lat, lon, np.random.default_rng(0))
    assert out.shape == (2, 2, 4) and out.dtype == np.float32
    # lat ascending out: row 1 is 40.375 (truth rows 0..24), row 0 is 40.125 (rows 25..49)
    top_left = np.mean(np.where(np.arange(625).reshape(25, 25) == 0, 0.5, 0.1))
    assert out[0, 1, 0] == pytest.approx(-0.02 + 1.1 * top_left, abs=1e-6)
    assert out[0, 0, 2] == pytest.approx(-0.02 + 1.1 * (0.1 + 0.05 * 3), abs=1e-6)
    assert out[1] == pytest.approx(np.full((2, 4), -0.02 + 1.1 * 0.2), abs=1e-6)
    no_fine = gldas_from_truth(truth, truth_lat, truth_lon, lat, np.append(lon, 111.125),
                               np.random.default_rng(0))  # fmt: skip
    assert np.isnan(no_fine[:, :, 4]).all() and np.isfinite(no_fine[:, :, :4]).all()


def test_gldas_from_truth_adds_its_own_noise():
    lat, lon = gldas_lattice((110.0, 40.0, 112.0, 41.0))
    truth = np.full((20, 100, 200), 0.25)
    out = gldas_from_truth(truth, np.round(40.995 - 0.01 * np.arange(100), 3),
                           np.round(110.005 + 0.01 * np.arange(200), 3), lat, lon,
                           np.random.default_rng(1))  # fmt: skip
    assert out.mean() == pytest.approx(-0.02 + 1.1 * 0.25, abs=0.002)
    assert out.std() == pytest.approx(0.02, rel=0.1)


def test_three_hourly_states_average_back_to_the_daily_value(tmp_path):
    daily = np.array([[0.1, 0.25], [np.nan, 0.4]])
    states = gldas_three_hourly(daily)
    assert states.shape == (8, 2, 2)
    assert states.mean(axis=0) == pytest.approx(daily * 100, abs=1e-12, nan_ok=True)
    assert np.isnan(states[:, 1, 0]).all()
    assert states[0, 0, 0] - states[4, 0, 0] == pytest.approx(1.0)  # amplitude 0.5 kg m-2
    lat, lon = np.array([40.125, 40.375]), np.array([110.125, 110.375])
    da = read_gldas(_day(tmp_path, DAY, lat, lon, states))
    assert da.values[0, ::-1] == pytest.approx(daily, abs=1e-6, nan_ok=True)
