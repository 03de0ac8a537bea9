"""MOD11A1 / MOD13A2 sinusoidal tiles: real-file conformance, writer round trips, mapping."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from pyhdf.SD import SD, SDC
from pyproj import Transformer

from smdownscale.demo.write_modis import write_mod11a1, write_mod13a2
from smdownscale.grid import LatLonGrid
from smdownscale.products.base import ProductError
from smdownscale.products.modis_sinusoidal import (
    TileGeoref,
    apply_index,
    build_index,
    read_mod11a1_lst,
    read_mod13a2_ndvi,
    read_tile_georef,
    regrid_tiles,
    sample_grid_on_tile,
    sinusoidal_latlon,
    sinusoidal_xy,
    tile_pixel_latlon,
)

MOD11A1_REAL = "modis/MOD11A1.A2021227.h11v05.061.2021228105320.hdf"
MOD13A2_REAL = "modis/MOD13A2.A2021225.h11v06.061.2021320163717.hdf"
MODIS_SINU = "+proj=sinu +R=6371007.181 +nadgrids=@null +wktext"
N = 1200


def _corners_from_file(path: Path) -> tuple[tuple[float, float], tuple[float, float]]:
    """UpperLeftPointMtrs / LowerRightMtrs read straight from the file (independent parser)."""
    text = SD(str(path)).attributes()["StructMetadata.0"]
    ul = re.search(r"UpperLeftPointMtrs=\(([^,]+),([^)]+)\)", text)
    lr = re.search(r"LowerRightMtrs=\(([^,]+),([^)]+)\)", text)
    assert ul and lr
    return (float(ul[1]), float(ul[2])), (float(lr[1]), float(lr[2]))


def _archive_value(path: Path, name: str) -> float:
    text = SD(str(path)).attributes()["ArchiveMetadata.0"]
    m = re.search(rf"OBJECT\s*=\s*{name}\s.*?VALUE\s*=\s*([-0-9.]+)", text, re.S)
    assert m, name
    return float(m[1])


# ------------------------------------------------------------------------------ real files


@pytest.mark.realdata
def test_real_mod11a1_values_and_tile(realdata: Path) -> None:
    tile = read_mod11a1_lst(realdata / MOD11A1_REAL, qc="any")
    assert (tile.h, tile.v) == (11, 5)
    assert (tile.product, tile.variable) == ("MOD11A1", "LST_Day_1km")
    assert tile.values.dtype == np.float32 and tile.values.shape == (N, N)
    valid = np.isfinite(tile.values)
    assert valid.sum() == 63129
    assert round(float(np.nanmin(tile.values)), 1) == 283.2
    assert round(float(np.nanmax(tile.values)), 1) == 310.6


@pytest.mark.realdata
def test_real_mod11a1_qc_levels(realdata: Path) -> None:
    path = realdata / MOD11A1_REAL
    strict = np.isfinite(read_mod11a1_lst(path, qc="strict").values)
    good = np.isfinite(read_mod11a1_lst(path, qc="good").values)
    anyq = np.isfinite(read_mod11a1_lst(path, qc="any").values)
    assert strict.sum() == 40077  # mandatory QA bits 00
    # "good" adds mandatory-QA-01 pixels whose LST error flag is <= 1 K..2 K: a strict superset
    assert good.sum() == 62900
    assert np.all(good[strict]) and np.all(anyq[good])
    with pytest.raises(ValueError, match="qc must be"):
        read_mod11a1_lst(path, qc="best")  # type: ignore[arg-type]


@pytest.mark.realdata
def test_real_mod11a1_georeferencing(realdata: Path) -> None:
    path = realdata / MOD11A1_REAL
    tile = read_mod11a1_lst(path, qc="any")
    ul, lr = _corners_from_file(path)
    assert tile.upper_left_m == ul and tile.lower_right_m == lr
    assert read_tile_georef(path) == tile.georef
    pw, ph = tile.georef.pixel_size_m
    assert pw == pytest.approx(926.625433, abs=1e-5) and ph == pytest.approx(926.625433, abs=1e-5)
    # first and last pixel centres, from the file's own corners, through pyproj's sinusoidal
    to_ll = Transformer.from_crs(MODIS_SINU, "EPSG:4326", always_xy=True)
    lon0, lat0 = to_ll.transform(ul[0] + pw / 2, ul[1] - ph / 2)
    lon1, lat1 = to_ll.transform(lr[0] - pw / 2, lr[1] + ph / 2)
    lat, lon = tile_pixel_latlon(11, 5)
    assert (lat[0, 0], lon[0, 0]) == pytest.approx((lat0, lon0), abs=1e-7)
    assert (lat[-1, -1], lon[-1, -1]) == pytest.approx((lat1, lon1), abs=1e-7)
    # ...and the pixel-centre latitudes are the file's archived bounding coordinates
    assert lat[0, 0] == pytest.approx(_archive_value(path, "NORTHBOUNDINGCOORDINATE"), abs=1e-7)
    assert lat[-1, -1] == pytest.approx(_archive_value(path, "SOUTHBOUNDINGCOORDINATE"), abs=1e-7)
    # the nominal tile grid agrees with the file to well under a millimetre
    nominal = TileGeoref.nominal(11, 5)
    assert np.allclose(nominal.upper_left_m + nominal.lower_right_m, ul + lr, atol=1e-3)


@pytest.mark.realdata
def test_real_mod13a2_ndvi(realdata: Path) -> None:
    path = realdata / MOD13A2_REAL
    tile = read_mod13a2_ndvi(path, qc="any")
    assert (tile.h, tile.v) == (11, 6)
    vals = tile.values[np.isfinite(tile.values)]
    assert vals.size == 12026
    assert vals.min() >= -0.2 and vals.max() <= 1.0
    assert vals.min() == pytest.approx(-0.1989, abs=1e-6)  # raw -1989: divided by 10000
    strict = np.isfinite(read_mod13a2_ndvi(path, qc="strict").values).sum()
    good = np.isfinite(read_mod13a2_ndvi(path, qc="good").values).sum()
    assert (strict, good) == (2847, 8455)  # reliability 0; 0 or 1


@pytest.mark.realdata
def test_real_regrid_matches_pyproj(realdata: Path) -> None:
    """Every fine cell takes the tile pixel that an independent pyproj computation finds."""
    path = realdata / MOD11A1_REAL
    tile = read_mod11a1_lst(path, qc="any")
    # straddles the tile's west edge (about 90.07 W at 39 N): the western cells have no tile
    grid = LatLonGrid(north=39.5, south=38.5, west=-90.5, east=-88.5, res=0.01)
    field = regrid_tiles([tile], grid)
    assert field.dtype == np.float32 and field.shape == grid.shape

    (ulx, uly), (lrx, lry) = _corners_from_file(path)
    lon2, lat2 = np.meshgrid(grid.lon, grid.lat)
    x, y = Transformer.from_crs("EPSG:4326", MODIS_SINU, always_xy=True).transform(lon2, lat2)
    row = np.floor((uly - y) / ((uly - lry) / N)).astype(int)
    col = np.floor((x - ulx) / ((lrx - ulx) / N)).astype(int)
    inside = (row >= 0) & (row < N) & (col >= 0) & (col < N)
    expected = np.full(grid.shape, np.nan, dtype=np.float32)
    expected[inside] = tile.values[row[inside], col[inside]]

    assert 0.2 < (~inside).mean() < 0.4  # the test really crosses the edge
    assert np.isfinite(expected).mean() > 0.4  # ...and really compares values
    np.testing.assert_array_equal(field, expected)


# ---------------------------------------------------------------------- writer round trips


def _lst_and_qc() -> tuple[np.ndarray, np.ndarray]:
    """A synthetic day: four QC blocks in the west half, cloud (fill) in the east half."""
    rng = np.random.default_rng(42)
    lst = rng.uniform(240.0, 330.0, (N, N))
    qc = np.zeros((N, N), dtype=np.uint8)
    qc[300:600, :600] = 0b0100_0001  # mandatory 01, LST error <= 2 K -> "good"
    qc[600:900, :600] = 0b1000_0001  # mandatory 01, LST error <= 3 K -> only "any"
    qc[900:, :600] = 0b1100_0101  # mandatory 01, data quality 01, error > 3 K -> only "any"
    lst[:, 600:] = np.nan
    qc[:, 600:] = 0b10  # not produced, cloud
    return lst, qc


def test_mod11a1_round_trip_and_qc(tmp_path: Path) -> None:
    lst, qc = _lst_and_qc()
    path = write_mod11a1(tmp_path / "MOD11A1.A2010001.h25v05.061.hdf", lst, qc, 25, 5,
                         dt.date(2010, 1, 1))  # fmt: skip
    tile = read_mod11a1_lst(path, qc="any")
    assert (tile.h, tile.v) == (25, 5)
    nominal = TileGeoref.nominal(25, 5)
    assert np.allclose(
        tile.upper_left_m + tile.lower_right_m, nominal.upper_left_m + nominal.lower_right_m,
        atol=1e-5,
    )  # fmt: skip
    np.testing.assert_array_equal(np.isnan(tile.values), np.isnan(lst))
    assert np.nanmax(np.abs(tile.values - lst)) <= 0.01 + 1e-4  # half of the 0.02 K step

    strict = np.isfinite(read_mod11a1_lst(path, qc="strict").values)
    good = np.isfinite(read_mod11a1_lst(path, qc="good").values)
    assert strict.sum() == 300 * 600 and strict[:300, :600].all()
    assert good.sum() == 600 * 600 and good[:600, :600].all()
    assert not good[600:, :].any()


def test_mod13a2_round_trip_and_reliability(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    ndvi = rng.uniform(-0.1, 0.95, (N, N))
    ndvi[0, :3] = [-0.5, 1.2, 0.33336]  # clipped to the valid range; nearest 1e-4
    ndvi[::3, 5:] = np.nan
    rel = np.where(np.isfinite(ndvi), 0, -1).astype(np.int8)
    rel[400:800][np.isfinite(ndvi[400:800])] = 1
    rel[800:][np.isfinite(ndvi[800:])] = 3
    viq = np.where(np.isfinite(ndvi), 0b0000_1000_0000_0000, 65535).astype(np.uint16)
    path = write_mod13a2(tmp_path / "MOD13A2.A2010001.h25v05.061.hdf", ndvi, rel, viq, 25, 5,
                         dt.date(2010, 1, 1))  # fmt: skip
    tile = read_mod13a2_ndvi(path, qc="any")
    assert (tile.h, tile.v, tile.variable) == (25, 5, "1 km 16 days NDVI")
    np.testing.assert_array_equal(np.isnan(tile.values), np.isnan(ndvi))
    assert tile.values[0, :3] == pytest.approx([-0.2, 1.0, 0.3334], abs=1e-6)
    assert np.nanmax(np.abs(tile.values[1:] - ndvi[1:])) <= 5e-5 + 1e-6
    finite = np.isfinite(ndvi)
    strict = np.isfinite(read_mod13a2_ndvi(path, qc="strict").values)
    good = np.isfinite(read_mod13a2_ndvi(path, qc="good").values)
    assert strict.sum() == finite[:400].sum() and not strict[400:].any()
    assert good.sum() == finite[:800].sum() and not good[800:].any()


# ------------------------------------------------------- the written files mimic the real ones


def _sds_layout(path: Path, name: str) -> dict[str, object]:
    sd = SD(str(path))
    sds = sd.select(name)
    attrs = sorted(sds.attributes(full=1).items(), key=lambda kv: kv[1][1])
    return {
        "number_type": sds.info()[3],
        "dims": list(sds.dimensions()),
        "compression": sds.getcompress(),
        "attrs": [(k, v[2], v[0]) for k, v in attrs],
    }


def _global_attr_names(path: Path) -> list[str]:
    attrs = SD(str(path)).attributes(full=1)
    return sorted(attrs, key=lambda k: attrs[k][1])


def _struct_skeleton(path: Path) -> tuple[str, list[tuple[str, str]]]:
    """StructMetadata.0 without corner values and data-field objects, and the (field, type) list."""
    text = SD(str(path)).attributes()["StructMetadata.0"]
    assert len(text) == 32000 and text.rstrip("\x00") == text.split("\x00")[0]
    text = text.rstrip("\x00")
    fields = re.findall(r'DataFieldName="([^"]+)"\s*\n\s*DataType=(\w+)', text)
    text = re.sub(r"(UpperLeftPointMtrs|LowerRightMtrs)=\([^)]*\)", r"\1=()", text)
    text = re.sub(r"\t+OBJECT=DataField_\d+\n.*?END_OBJECT=DataField_\d+\n", "", text, flags=re.S)
    return text, fields


def _grid_vgroups(path: Path) -> dict[str, tuple[str, list[str], list[str]]]:
    """{grid name: (class, member vgroup names, SDS names in 'Data Fields')}."""
    import pyhdf.V  # noqa: F401
    from pyhdf.HDF import HC, HDF

    hdf = HDF(str(path))
    v = hdf.vgstart()
    sd = SD(str(path))
    out: dict[str, tuple[str, list[str], list[str]]] = {}
    ref = -1
    while True:
        try:
            ref = v.getid(ref)
        except Exception:
            break
        grid = v.attach(ref)
        if grid._class == "GRID":
            members, sds_names = [], []
            for tag, r in grid.tagrefs():
                if tag != HC.DFTAG_VG:
                    continue
                child = v.attach(r)
                members.append(child._name)
                if child._name == "Data Fields":
                    for t2, r2 in child.tagrefs():
                        if t2 == HC.DFTAG_NDG:
                            sds_names.append(sd.select(sd.reftoindex(r2)).info()[0])
                child.detach()
            out[grid._name] = (grid._class, members, sds_names)
        grid.detach()
    v.end()
    hdf.close()
    return out


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("real", "product", "fields"),
    [
        (MOD11A1_REAL, "MOD11A1", ["LST_Day_1km", "QC_Day", "LST_Night_1km", "QC_Night"]),
        (
            MOD13A2_REAL,
            "MOD13A2",
            [
                "1 km 16 days NDVI",
                "1 km 16 days EVI",
                "1 km 16 days VI Quality",
                "1 km 16 days pixel reliability",
            ],
        ),
    ],
)
def test_written_tiles_mimic_real_layout(
    realdata: Path, tmp_path: Path, real: str, product: str, fields: list[str]
) -> None:
    real_path = realdata / real
    h, v = (11, 5) if product == "MOD11A1" else (11, 6)  # the real granules' tiles
    path = tmp_path / f"{product}.A2010001.h{h:02d}v{v:02d}.061.hdf"
    nan = np.full((N, N), np.nan)
    if product == "MOD11A1":
        write_mod11a1(path, nan, np.full((N, N), 2, np.uint8), h, v, dt.date(2010, 1, 1))
    else:
        write_mod13a2(path, nan, np.full((N, N), -1, np.int8), np.full((N, N), 65535, np.uint16),
                      h, v, dt.date(2010, 1, 1))  # fmt: skip
    # every SDS: same number type, dimension names, compression and attributes (names, order,
    # types and values) as in the real granule
    assert list(SD(str(path)).datasets()) == fields
    for name in fields:
        assert _sds_layout(path, name) == _sds_layout(real_path, name), name
    # the same global attributes in the same order
    assert _global_attr_names(path) == _global_attr_names(real_path)
    for name in ("HDFEOSVersion", "identifier_product_doi", "identifier_product_doi_authority"):
        assert SD(str(path)).attributes()[name] == SD(str(real_path)).attributes()[name]
    # StructMetadata.0: the same ODL apart from corner values and the subset of data fields
    skeleton, written_fields = _struct_skeleton(path)
    real_skeleton, real_fields = _struct_skeleton(real_path)
    assert skeleton == real_skeleton
    assert written_fields == [f for f in real_fields if f[0] in fields]
    # same tile: corners agree to the sub-millimetre jitter of the real products' own values
    written_ul, written_lr = _corners_from_file(path)
    real_ul, real_lr = _corners_from_file(real_path)
    np.testing.assert_allclose(written_ul + written_lr, real_ul + real_lr, atol=1e-3)
    # the HDF-EOS grid Vgroups that GDAL and the HDF-EOS library look the fields up in
    real_vg = _grid_vgroups(real_path)
    (grid_name,) = real_vg
    assert _grid_vgroups(path) == {grid_name: ("GRID", ["Data Fields", "Grid Attributes"], fields)}
    core = SD(str(path)).attributes()["CoreMetadata.0"]
    assert f'VALUE                = "{product}"' in core
    assert 'VALUE                = "2010-01-01"' in core
    opened = re.findall(r"^\s*(GROUP|OBJECT)\s+= (\w+)", core, re.M)
    closed = re.findall(r"^\s*END_(GROUP|OBJECT)\s+= (\w+)", core, re.M)
    assert len(opened) > 50 and sorted(opened) == sorted(closed)


def test_mostly_fill_tile_is_small_and_written_atomically(tmp_path: Path) -> None:
    lst = np.full((N, N), np.nan)
    lst[:50, :50] = 300.0
    qc = np.where(np.isfinite(lst), 0, 2).astype(np.uint8)
    path = tmp_path / "MOD11A1.A2010001.h25v05.061.hdf"
    path.write_text("an older, broken download")
    write_mod11a1(path, lst, qc, 25, 5, dt.date(2010, 1, 1))
    assert path.stat().st_size < 150_000  # 4 uncompressed SDS would be 8.6 MB
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind
    assert np.isfinite(read_mod11a1_lst(path).values).sum() == 2500
    with pytest.raises(ValueError, match="shape"):
        write_mod11a1(tmp_path / "bad.hdf", lst[:10], qc, 25, 5, dt.date(2010, 1, 1))
    with pytest.raises(ValueError, match="range"):
        write_mod11a1(tmp_path / "bad.hdf", lst * 0 + 100.0, qc, 25, 5, dt.date(2010, 1, 1))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


# ------------------------------------------------------------------------------ bad input


def test_not_hdf4_raises_product_error(tmp_path: Path) -> None:
    text = tmp_path / "MOD11A1.A2010001.h25v05.061.hdf"
    text.write_text("<html>404 Not Found</html>\n")
    with pytest.raises(ProductError, match="not a readable HDF4 file") as err:
        read_mod11a1_lst(text)
    assert str(text) in str(err.value)
    with pytest.raises(ProductError, match="file not found"):
        read_mod13a2_ndvi(tmp_path / "missing.hdf")


def test_truncated_tile_raises_product_error(tmp_path: Path) -> None:
    lst, qc = _lst_and_qc()
    full = write_mod11a1(tmp_path / "full.hdf", lst, qc, 25, 5, dt.date(2010, 1, 1))
    cut = tmp_path / "MOD11A1.A2010001.h25v05.061.hdf"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(ProductError) as err:
        read_mod11a1_lst(cut)
    assert str(err.value).startswith(f"{cut}: ")
    assert "download it again" in str(err.value)


def test_missing_sds_raises_product_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "other.hdf"
    sd = SD(str(path), SDC.WRITE | SDC.CREATE)
    sds = sd.create("Something_Else", SDC.UINT16, (4, 4))
    sds[:] = np.zeros((4, 4), np.uint16)
    sds.endaccess()
    sd.end()
    with pytest.raises(ProductError) as err:
        read_mod11a1_lst(path)
    assert str(path) in str(err.value) and "'LST_Day_1km'" in str(err.value)
    assert "Something_Else" in str(err.value)
    with pytest.raises(ProductError, match="'1 km 16 days NDVI'"):
        read_mod13a2_ndvi(path)


def test_struct_metadata_without_corners_raises(tmp_path: Path) -> None:
    lst, qc = _lst_and_qc()
    path = write_mod11a1(tmp_path / "MOD11A1.A2010001.h25v05.061.hdf", lst, qc, 25, 5,
                         dt.date(2010, 1, 1))  # fmt: skip
    sd = SD(str(path), SDC.WRITE)
    text = sd.attributes()["StructMetadata.0"]
    stripped = re.sub(r"\t*(UpperLeftPointMtrs|LowerRightMtrs)=\([^)]*\)\n", "", text)
    sd.attr("StructMetadata.0").set(SDC.CHAR8, stripped.ljust(32000, "\x00"))
    sd.end()
    with pytest.raises(ProductError, match="UpperLeftPointMtrs/LowerRightMtrs") as err:
        read_mod11a1_lst(path)
    assert str(path) in str(err.value) and "'LST_Day_1km'" in str(err.value)


@pytest.mark.realdata
def test_copy_of_real_tile_without_qc_sds_is_rejected(realdata: Path, tmp_path: Path) -> None:
    """A MOD13A2 file handed to the MOD11A1 reader names the missing SDS."""
    wrong = tmp_path / "MOD11A1.A2021225.h11v06.061.hdf"
    shutil.copyfile(realdata / MOD13A2_REAL, wrong)
    with pytest.raises(ProductError, match="no SDS 'LST_Day_1km'") as err:
        read_mod11a1_lst(wrong)
    assert str(wrong) in str(err.value) and "MOD11A1" in str(err.value)


# -------------------------------------------------------------------- projection / mapping


def test_sinusoidal_formulas_match_pyproj() -> None:
    rng = np.random.default_rng(3)
    lat = rng.uniform(-89, 89, 500)
    lon = rng.uniform(-180, 180, 500)
    x, y = sinusoidal_xy(lat, lon)
    px, py = Transformer.from_crs("EPSG:4326", MODIS_SINU, always_xy=True).transform(lon, lat)
    np.testing.assert_allclose(x, px, atol=1e-6)
    np.testing.assert_allclose(y, py, atol=1e-6)
    lat2, lon2 = sinusoidal_latlon(x, y)
    np.testing.assert_allclose(lat2, lat, atol=1e-10)
    np.testing.assert_allclose(lon2, lon, atol=1e-9)


def test_tile_pixel_latlon_off_globe_is_nan() -> None:
    lat, lon = tile_pixel_latlon(0, 8)  # westernmost tile, 0..10 N: its west part is off-globe
    assert lat.shape == lon.shape == (N, N)
    assert np.isnan(lon[0, 0]) and np.isfinite(lon[0, -1]) and np.isfinite(lon[-1, 0])
    assert np.nanmin(lon) >= -180.0
    assert np.all(np.diff(lat[:, 0]) < 0)  # rows run north to south


SPAN = LatLonGrid(north=42.0, south=38.0, west=95.0, east=99.0, res=0.01)  # h25v04 + h25v05


def _blocks(grid: LatLonGrid, size: int = 5) -> np.ndarray:
    """Piecewise-constant field: one value per 0.05 deg block (5 x 5 cells of 0.01 deg)."""
    r = np.arange(grid.nlat) // size
    c = np.arange(grid.nlon) // size
    return (r[:, None] * 1000 + c[None, :]).astype(np.float32)


def _regrid_values(tiles: list[tuple[int, int]], values: list[np.ndarray]) -> np.ndarray:
    """regrid_tiles of nominal tiles holding ``values`` onto SPAN."""
    from smdownscale.products.modis_sinusoidal import ModisTile

    objs = []
    for (h, v), vals in zip(tiles, values, strict=True):
        g = TileGeoref.nominal(h, v)
        objs.append(ModisTile(vals, h, v, g.upper_left_m, g.lower_right_m, "MOD11A1", "LST"))
    return regrid_tiles(objs, SPAN)


def test_forward_then_inverse_reproduces_field() -> None:
    field = _blocks(SPAN)
    tiles = [(25, 4), (25, 5)]
    georefs = [TileGeoref.nominal(h, v) for h, v in tiles]
    values = [sample_grid_on_tile(field, SPAN, h, v) for h, v in tiles]
    for (h, v), tile_values in zip(tiles, values, strict=True):
        lat, lon = tile_pixel_latlon(h, v)
        got = np.isfinite(tile_values)
        assert got.any()
        assert np.all((lat[got] > SPAN.south) & (lat[got] < SPAN.north))
        assert np.all((lon[got] > SPAN.west) & (lon[got] < SPAN.east))
    back = apply_index(build_index(georefs, SPAN), values)
    # the two tiles cover the whole span; a cell on the span's outer ring may take a pixel
    # whose centre lies outside the span, which the forward sampling left empty
    assert np.isfinite(back[1:-1, 1:-1]).all()
    rows = (np.arange(SPAN.nlat) % 5)[:, None]
    cols = (np.arange(SPAN.nlon) % 5)[None, :]
    interior = (rows >= 1) & (rows <= 3) & (cols >= 1) & (cols <= 3)
    np.testing.assert_array_equal(back[interior], field[interior])  # exact away from edges
    assert (back == field).mean() > 0.75

    # only the southern tile: cells whose centre is north of 40 N (its top edge) are empty
    south_index = build_index(georefs[1:], SPAN)
    north = np.broadcast_to((SPAN.lat > 40.0)[:, None], SPAN.shape)
    np.testing.assert_array_equal(south_index.covered, ~north)
    south_only = apply_index(south_index, values[1:])
    assert np.isnan(south_only[north]).all()
    assert np.isfinite(south_only[1:-1, 1:-1][~north[1:-1, 1:-1]]).all()


def test_smooth_field_round_trip_error_is_within_pixel_geometry() -> None:
    lat2, lon2 = np.meshgrid(SPAN.lat, SPAN.lon, indexing="ij")
    field = (0.3 * lat2 + 0.1 * lon2).astype(np.float64)
    tiles = [(25, 4), (25, 5)]
    values = [sample_grid_on_tile(field, SPAN, h, v) for h, v in tiles]
    back = _regrid_values(tiles, values)
    err = np.abs(back - field)[1:-1, 1:-1]  # the outer ring may be empty (see above)
    assert np.isfinite(err).all()
    # two nearest-neighbour hops: at most half a pixel (4.2e-3 deg lat, 5.6e-3 deg lon at
    # 42 N) plus half a cell (5e-3 deg) each way
    assert err.max() <= 0.3 * (0.0042 + 0.005) + 0.1 * (0.0056 + 0.005) + 1e-5
    assert err.max() > 0  # nearest-neighbour resampling is not the identity


def test_index_is_reusable_and_independent_of_chunking() -> None:
    georefs = [TileGeoref.nominal(25, 4), TileGeoref.nominal(25, 5)]
    index = build_index(georefs, SPAN)
    small_chunks = build_index(georefs, SPAN, chunk_cells=1201)  # 3-row chunks, ragged end
    np.testing.assert_array_equal(index.source, small_chunks.source)
    rng = np.random.default_rng(0)
    for _day in range(2):
        values = [rng.random((N, N)).astype(np.float32) for _ in georefs]
        once = apply_index(index, values)
        np.testing.assert_array_equal(once, apply_index(small_chunks, values, chunk_cells=1201))
        np.testing.assert_array_equal(once, _regrid_values([(25, 4), (25, 5)], values))
    with pytest.raises(ValueError, match="2 tiles"):
        apply_index(index, values[:1])


def test_failed_write_leaves_previous_file_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyhdf.SD import SDS

    path = tmp_path / "MOD11A1.A2010001.h25v05.061.hdf"
    path.write_bytes(b"previous version")

    def disk_full(self: SDS, key: object, value: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(SDS, "__setitem__", disk_full)
    lst, qc = _lst_and_qc()
    with pytest.raises(OSError, match="No space"):
        write_mod11a1(path, lst, qc, 25, 5, dt.date(2010, 1, 1))
    assert path.read_bytes() == b"previous version"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_global_attributes_are_read_once_per_file_and_again_when_it_is_replaced(
    tmp_path: Path,
) -> None:
    from smdownscale.products.modis_sinusoidal import global_attributes, open_hdf4

    lst, qc = _lst_and_qc()
    path = tmp_path / "MOD11A1.A2010001.h25v05.061.hdf"
    write_mod11a1(path, lst, qc, 25, 5, dt.date(2010, 1, 1))
    sd = open_hdf4(path)
    first = global_attributes(sd, path)
    sd.end()
    text = first["StructMetadata.0"]
    first["StructMetadata.0"] = "changed by the caller"

    class Unreadable:  # a second read of the same file must come from the cache
        def attributes(self):
            raise AssertionError("global attributes read again")

    assert global_attributes(Unreadable(), path)["StructMetadata.0"] == text
    assert read_mod11a1_lst(path).h == 25
    other = tmp_path / "other.hdf"
    write_mod11a1(other, lst, qc, 26, 5, dt.date(2010, 1, 1))
    other.replace(path)  # another tile in its place: read anew, and refused by its name
    sd = open_hdf4(path)
    assert global_attributes(sd, path)["StructMetadata.0"] != text
    sd.end()
    with pytest.raises(ProductError, match="h26v05"):
        read_mod11a1_lst(path)
