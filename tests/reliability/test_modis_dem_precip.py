"""Reliability cases (issue 13): MOD11A1, MOD13A2, MCD43C3, SRTM and IMERG inputs.

Each case is one input, genuine or mutated, and its one expected outcome
(:mod:`reliability_expect`): a genuine file reads without a warning; a file that is not what
its name says (another day, tile, product or collection inside, no ``CoreMetadata.0``, a
DEM of another kind, a file cut short) stops with one message naming the file, what it
really is and what to do. Demo cases start from files the demo writers make; real-format
cases from copies of the granules in ``../shared/realdata`` (skipped with the reason when
that folder is absent); nothing is ever written into the real-data folder.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from pyhdf.SD import SD, SDC
from reliability_expect import Outcome, check, conversion, error, ok

from smdownscale import rawlayout
from smdownscale.demo import write_modis
from smdownscale.demo.write_imerg import imerg_file_name, write_imerg
from smdownscale.demo.write_modis import write_mcd43c3, write_mod11a1, write_mod13a2
from smdownscale.demo.write_srtm import write_srtm_tile
from smdownscale.grid import LatLonGrid
from smdownscale.products.imerg import read_imerg
from smdownscale.products.mcd43c3 import read_mcd43c3_albedo
from smdownscale.products.modis_metadata import joined_attribute, parse_core_metadata
from smdownscale.products.modis_sinusoidal import TileGeoref, read_mod11a1_lst, read_mod13a2_ndvi
from smdownscale.products.srtm import read_srtm_tile

DAY = dt.date(2010, 4, 7)  # A2010097, also the start of a MOD13A2 composite
TILE = (26, 5)
OTHER_TILE = (27, 5)
#: The real granules in ../shared/realdata: path, day and tile.
REAL = {
    "MOD11A1": ("modis/MOD11A1.A2021227.h11v05.061.2021228105320.hdf", dt.date(2021, 8, 15),
                (11, 5)),
    "MOD13A2": ("modis/MOD13A2.A2021225.h11v06.061.2021320163717.hdf", dt.date(2021, 8, 13),
                (11, 6)),
}  # fmt: skip
N = 1200

BBOX = (110.0, 39.0, 111.0, 40.0)  # west, south, east, north: inside every demo file

READ: dict[str, Callable[[Path], Any]] = {
    "MOD11A1": lambda p: read_mod11a1_lst(p, qc="any"),
    "MOD13A2": lambda p: read_mod13a2_ndvi(p, qc="any"),
    "MCD43C3": lambda p: read_mcd43c3_albedo(p, bbox=BBOX),
    "SRTM": lambda p: read_srtm_tile(p),
    "IMERG": lambda p: read_imerg(p, bbox=BBOX),
}


def name_of(product: str, day: dt.date = DAY, tile: tuple[int, int] | None = TILE) -> str:
    """The raw-layout name of a granule (what it stands for)."""
    if product == "MCD43C3":
        return Path(rawlayout.mcd43c3(day)).name
    assert tile is not None
    return Path(rawlayout.modis_tile(product, day, *tile)).name


# ------------------------------------------------------------------------- genuine sources


class Sources:
    """Genuine files, each written (demo) or located (real) once per module, copied per case."""

    def __init__(self, folder: Path, request: pytest.FixtureRequest) -> None:
        self.folder = folder
        self.request = request
        self.cache: dict[tuple, Path] = {}

    def real(self, product: str) -> Path:
        return self.request.getfixturevalue("realdata") / REAL[product][0]

    def demo(
        self, product: str, day: dt.date = DAY, tile: tuple[int, int] = TILE, drop: tuple = ()
    ) -> Path:
        """A demo granule of ``product`` holding ``day`` (and ``tile``); ``drop`` names global
        attributes left out, as a tool that re-saves the file without them would."""
        key = (product, day, tile, drop)
        if key not in self.cache:
            path = self.folder / f"{len(self.cache)}" / name_of(product, day, tile)
            path.parent.mkdir()
            real_write = write_modis._write_grid_file

            def write(path, grid, struct, sds, attrs, deflate_level):  # noqa: ANN001, ANN202
                kept = [(k, v) for k, v in attrs if k not in drop]
                return real_write(path, grid, struct, sds, kept, deflate_level)

            with mock.patch.object(write_modis, "_write_grid_file", write):
                self.cache[key] = _write_demo(product, path, day, tile)
        return self.cache[key]


def _write_demo(product: str, path: Path, day: dt.date, tile: tuple[int, int]) -> Path:
    if product == "MCD43C3":
        albedo = np.full((3600, 7200), np.nan, np.float32)
        albedo[980:1040, 5780:5840] = 0.2  # 41..38 N, 109..112 E
        return write_mcd43c3(path, albedo, albedo, day)
    values = np.full((N, N), np.nan)
    values[:200, :200] = 300.0 if product == "MOD11A1" else 0.4
    if product == "MOD11A1":
        return write_mod11a1(path, values, np.zeros((N, N), np.uint8), *tile, day)
    rel = np.where(np.isfinite(values), 0, -1).astype(np.int8)
    return write_mod13a2(path, values, rel, np.zeros((N, N), np.uint16), *tile, day)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Sources:
    return Sources(tmp_path_factory.mktemp("genuine"), request)


# ------------------------------------------------------------------------------ mutations

Make = Callable[[Sources, Path], Path]


def saved_as(source: Callable[[Sources], Path], name: str, *edits: Callable[[Path], None]) -> Make:
    """A copy of a genuine file under ``name`` (what it then stands for), then ``edits``."""

    def make(src: Sources, tmp: Path) -> Path:
        path = tmp / name
        shutil.copyfile(source(src), path)  # copyfile: the real files' read-only mode stays
        for edit in edits:
            edit(path)
        return path

    return make


def demo(product: str, day: dt.date = DAY, tile: tuple[int, int] = TILE, drop: tuple = ()):  # noqa: ANN201
    return lambda src: src.demo(product, day, tile, drop)


def real(product: str):  # noqa: ANN201
    return lambda src: src.real(product)


def real_name(product: str, day: dt.date | None = None, tile: tuple[int, int] | None = None) -> str:
    _, real_day, real_tile = REAL[product]
    return name_of(product, day or real_day, tile or real_tile)


def text_file(name: str, content: str) -> Make:
    def make(src: Sources, tmp: Path) -> Path:
        path = tmp / name
        path.write_text(content)
        return path

    return make


def cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def set_attr(name: str, change: Callable[[str], str]) -> Callable[[Path], None]:
    """Rewrite a global text attribute of an HDF4 file in place."""

    def edit(path: Path) -> None:
        sd = SD(str(path), SDC.WRITE)
        try:
            sd.attr(name).set(SDC.CHAR8, change(sd.attributes()[name]))
        finally:
            sd.end()

    return edit


def odl(name: str, value: str) -> Callable[[str], str]:
    """Set the VALUE of ODL object ``name`` (the first one) in a CoreMetadata text."""

    def change(text: str) -> str:
        pattern = rf"(OBJECT\s*=\s*{name}\s*\n(?:.*\n)*?\s*VALUE\s*=\s*)(.*)"
        new, n = re.subn(pattern, lambda m: m.group(1) + value, text, count=1)
        assert n == 1, name
        return new

    return change


def both(*changes: Callable[[str], str]) -> Callable[[str], str]:
    def change(text: str) -> str:
        for c in changes:
            text = c(text)
        return text

    return change


def corners_of(h: int, v: int) -> Callable[[str], str]:
    """StructMetadata.0 with the grid corners of tile (h, v) (NUL padding kept)."""
    g = TileGeoref.nominal(h, v)

    def change(text: str) -> str:
        text = re.sub(
            r"UpperLeftPointMtrs=\([^)]*\)",
            "UpperLeftPointMtrs=({:.6f},{:.6f})".format(*g.upper_left_m),
            text,
        )
        return re.sub(r"LowerRightMtrs=\([^)]*\)",
                      "LowerRightMtrs=({:.6f},{:.6f})".format(*g.lower_right_m), text)  # fmt: skip

    return change


def resaved_without(drop: str) -> Callable[[Path], None]:
    """Re-save an HDF4 file as a tool that keeps the data and StructMetadata but not ``drop``
    would (HDF4 cannot delete an attribute, so the file is written anew)."""

    def edit(path: Path) -> None:
        tmp = path.with_name(path.name + ".src")
        path.rename(tmp)
        src, dst = SD(str(tmp)), SD(str(path), SDC.WRITE | SDC.CREATE | SDC.TRUNC)
        try:
            for key, (value, _, nt, _) in src.attributes(full=1).items():
                if key != drop:
                    dst.attr(key).set(nt, value)
            for name, (_, shape, nt, _) in src.datasets().items():
                s = src.select(name)
                d = dst.create(name, nt, shape)
                for key, (value, _, ant, _) in s.attributes(full=1).items():
                    d.attr(key).set(ant, value)
                d.setcompress(SDC.COMP_DEFLATE, 1)
                d[:] = s.get()
                d.endaccess()
                s.endaccess()
        finally:
            dst.end()
            src.end()
            tmp.unlink()

    return edit


# ----------------------------------------------------------------------------------- cases


def case(
    cid: str,
    product: str,
    make: Make,
    outcome: Outcome,
    realdata: bool = False,
    then: Callable[[Any], None] | None = None,
) -> Any:
    """One row: id, product (its reader), how the input is made, the expected outcome, and
    for a read that succeeds what must hold of the result (default: it holds values)."""
    marks = [pytest.mark.realdata] if realdata else []
    return pytest.param(product, make, outcome, then, id=cid, marks=marks)


def another(what: str, product: str, stem: str) -> Outcome:
    """The error for a granule of another ``what`` saved under the name of ``stem``."""
    return error(
        rf"^{{file}}: is {product[:3]}.* by its own CoreMetadata\.0, not .* as its name says "
        rf"\(a granule of another {what} saved under this name: delete it and download "
        rf"{re.escape(stem)} again\)$"
    )


def no_core(stem: str) -> Outcome:
    return error(
        r"^{file}: has no CoreMetadata\.0 global attribute.*\(it was written or altered by "
        rf"another tool: delete it and download {re.escape(stem)} again from LP DAAC\)$"
    )


def html_page() -> Outcome:
    return error(
        r"^{file}: is not a readable HDF4 file: it is an HTML page \(a login or error page saved "
        r"in place of the data\) \(check the login \(Earthdata credentials\) or the URL, then "
        r"delete it and download it again\)$"
    )


def other_product(sds: str, product: str, really: str) -> Outcome:
    return error(
        rf"^{{file}}: has no SDS '{sds}' .*by its own CoreMetadata\.0 it is {really}\.A.*, "
        rf"not {product} \(another product saved under this name: delete it and "
        rf"download the {product} granule again\)$"
    )


def stem(name: str) -> str:
    return name.removesuffix(".hdf")


M11, M13, MCD = name_of("MOD11A1"), name_of("MOD13A2"), name_of("MCD43C3")
NEXT = DAY + dt.timedelta(days=1)
R11, R13 = real_name("MOD11A1"), real_name("MOD13A2")

MODIS_CASES = [
    # ---- MOD11A1
    case("MOD11A1-demo-genuine", "MOD11A1", saved_as(demo("MOD11A1"), M11), ok()),
    case("MOD11A1-real-genuine", "MOD11A1", saved_as(real("MOD11A1"), R11), ok(), True),
    case("MOD11A1-demo-next-day-inside", "MOD11A1",
         saved_as(demo("MOD11A1", NEXT), M11), another("day", "MOD11A1", stem(M11))),
    case("MOD11A1-real-other-day-inside", "MOD11A1",
         saved_as(real("MOD11A1"), real_name("MOD11A1", dt.date(2021, 8, 16))),
         another("day", "MOD11A1", "MOD11A1.A2021228.h11v05.061"), True),
    case("MOD11A1-demo-other-tile-inside", "MOD11A1",
         saved_as(demo("MOD11A1", tile=OTHER_TILE), M11), another("tile", "MOD11A1", stem(M11))),
    case("MOD11A1-real-other-tile-inside", "MOD11A1",
         saved_as(real("MOD11A1"), real_name("MOD11A1", tile=(11, 6))),
         another("tile", "MOD11A1", "MOD11A1.A2021227.h11v06.061"), True),
    case("MOD11A1-demo-aqua-MYD11A1-inside", "MOD11A1",
         saved_as(demo("MOD11A1"), M11,
                  set_attr("CoreMetadata.0", lambda t: t.replace("MOD11A1", "MYD11A1"))),
         another("product", "MYD11A1", stem(M11))),
    case("MOD11A1-demo-collection-006-inside", "MOD11A1",
         saved_as(demo("MOD11A1"), M11, set_attr("CoreMetadata.0", both(
             odl("VERSIONID", "6"), lambda t: t.replace(".061.", ".006.")))),
         another("collection", "MOD11A1", stem(M11))),
    case("MOD11A1-demo-without-CoreMetadata", "MOD11A1",
         saved_as(demo("MOD11A1", drop=("CoreMetadata.0",)), M11), no_core(stem(M11))),
    case("MOD11A1-real-resaved-without-CoreMetadata", "MOD11A1",
         saved_as(real("MOD11A1"), R11, resaved_without("CoreMetadata.0")),
         no_core(stem(R11)), True),
    case("MOD11A1-demo-CoreMetadata-contradicts-itself", "MOD11A1",
         saved_as(demo("MOD11A1"), M11,
                  set_attr("CoreMetadata.0", odl("RANGEBEGINNINGDATE", '"2010-04-08"'))),
         error(r"^{file}: CoreMetadata\.0 contradicts itself: LOCALGRANULEID "
               r"MOD11A1\.A2010097\.h26v05\.061\.\d{13}\.hdf against .*range "
               r"2010-04-08\.\.2010-04-07, tile numbers 26/05 \(the file was altered or damaged: "
               r"delete it and download it again\)$")),
    case("MOD11A1-demo-grid-corners-of-other-tile", "MOD11A1",
         saved_as(demo("MOD11A1"), M11, set_attr("StructMetadata.0", corners_of(*OTHER_TILE))),
         error(r"^{file}: its grid corners \(StructMetadata\.0\) are those of tile h27v05, but "
               r"its name and CoreMetadata\.0 say .*tile h26v05 \(the file was altered or "
               r"damaged: delete it and download it again\)$")),
    case("MOD11A1-demo-cut-in-half", "MOD11A1",
         saved_as(demo("MOD11A1"), M11, cut_in_half),
         error(r"^{file}: is not a readable HDF4 file \(.*\): it is cut short or damaged \(the "
               r"file is incomplete or corrupt: delete it and download it again\)$")),
    case("MOD11A1-html-login-page", "MOD11A1",
         text_file(M11, "<html><body>Earthdata Login</body></html>\n"), html_page()),
    case("MOD11A1-demo-unnamed-copy", "MOD11A1", saved_as(demo("MOD11A1"), "lst_tile.hdf"),
         error(r"^{file}: file name is not a MOD11A1 granule name, so the day and tile it "
               r"stands for are unknown \(name it as the provider does, e.g. "
               r"MOD11A1\.A2010097\.h26v05\.061\.hdf\)$")),
    case("MOD11A1-real-MOD13A2-inside", "MOD11A1",
         saved_as(real("MOD13A2"), real_name("MOD11A1", dt.date(2021, 8, 13), (11, 6))),
         other_product("LST_Day_1km", "MOD11A1", "MOD13A2"), True),
    # ---- MOD13A2
    case("MOD13A2-demo-genuine", "MOD13A2", saved_as(demo("MOD13A2"), M13), ok()),
    case("MOD13A2-real-genuine", "MOD13A2", saved_as(real("MOD13A2"), R13), ok(), True),
    case("MOD13A2-demo-next-composite-inside", "MOD13A2",
         saved_as(demo("MOD13A2", dt.date(2010, 4, 23)), M13),
         another("day", "MOD13A2", stem(M13))),
    case("MOD13A2-real-other-tile-inside", "MOD13A2",
         saved_as(real("MOD13A2"), real_name("MOD13A2", tile=(11, 5))),
         another("tile", "MOD13A2", "MOD13A2.A2021225.h11v05.061"), True),
    case("MOD13A2-real-MOD11A1-inside", "MOD13A2",
         saved_as(real("MOD11A1"), real_name("MOD13A2", dt.date(2021, 8, 15), (11, 5))),
         other_product("1 km 16 days NDVI", "MOD13A2", "MOD11A1"), True),
    case("MOD13A2-demo-without-CoreMetadata", "MOD13A2",
         saved_as(demo("MOD13A2", drop=("CoreMetadata.0",)), M13), no_core(stem(M13))),
    case("MOD13A2-real-cut-in-half", "MOD13A2", saved_as(real("MOD13A2"), R13, cut_in_half),
         error(r"^{file}: is not a readable HDF4 file \(.*\): it is cut short or damaged"), True),
    # ---- MCD43C3
    case("MCD43C3-demo-genuine", "MCD43C3", saved_as(demo("MCD43C3"), MCD), ok()),
    case("MCD43C3-demo-next-day-inside", "MCD43C3",
         saved_as(demo("MCD43C3", NEXT), MCD), another("day", "MCD43C3", stem(MCD))),
    case("MCD43C3-demo-collection-006-inside", "MCD43C3",
         saved_as(demo("MCD43C3"), MCD, set_attr("CoreMetadata.0", both(
             odl("VERSIONID", "6"), lambda t: t.replace(".061.", ".006.")))),
         another("collection", "MCD43C3", stem(MCD))),
    case("MCD43C3-demo-without-CoreMetadata", "MCD43C3",
         saved_as(demo("MCD43C3", drop=("CoreMetadata.0",)), MCD), no_core(stem(MCD))),
    case("MCD43C3-demo-window-not-holding-its-day", "MCD43C3",
         saved_as(demo("MCD43C3"), MCD, set_attr("CoreMetadata.0", both(
             odl("RANGEBEGINNINGDATE", '"2010-05-01"'), odl("RANGEENDINGDATE", '"2010-05-16"')))),
         error(r"^{file}: CoreMetadata\.0 contradicts itself: LOCALGRANULEID "
               r"MCD43C3\.A2010097\.061\.\d{13}\.hdf against .*range 2010-05-01\.\.2010-05-16")),
    case("MCD43C3-real-MOD11A1-inside", "MCD43C3", saved_as(real("MOD11A1"), MCD),
         other_product("Albedo_WSA_shortwave", "MCD43C3", "MOD11A1"), True),
    case("MCD43C3-html-error-page", "MCD43C3", text_file(MCD, "<html>503</html>"), html_page()),
    case("MCD43C3-empty-file", "MCD43C3", text_file(MCD, ""),
         error(r"^{file}: is not a readable HDF4 file: it is empty \(the file is incomplete or "
               r"corrupt: delete it and download it again\)$")),
]  # fmt: skip


@pytest.mark.realdata
@pytest.mark.parametrize("product", ["MOD11A1", "MOD13A2"])
def test_demo_core_metadata_carries_what_the_real_granules_do(
    product: str, sources: Sources
) -> None:
    """The demo writes the identity fields as the real granules do, so the same check runs."""

    def core(path: Path) -> str:
        return joined_attribute(SD(str(path)).attributes(), "CoreMetadata") or ""

    real_text, demo_text = core(sources.real(product)), core(sources.demo(product))
    real_core, demo_core = parse_core_metadata(real_text), parse_core_metadata(demo_text)
    assert None not in vars(real_core).values() and None not in vars(demo_core).values()
    stamp = re.compile(rf"{product}\.A\d{{7}}\.h\d\dv\d\d\.061\.\d{{13}}\.hdf")
    assert stamp.fullmatch(real_core.local_id) and stamp.fullmatch(demo_core.local_id)
    assert (demo_core.short_name, demo_core.version) == (real_core.short_name, 61)
    for key in ("HORIZONTALTILENUMBER", "VERTICALTILENUMBER", "RANGEBEGINNINGDATE"):
        for text in (real_text, demo_text):
            assert re.search(rf'VALUE\s+= "{key}"|OBJECT\s+= {key}\n', text), key


# ------------------------------------------------------------------------------------- SRTM

SRTM_NAME = Path(rawlayout.srtm(39, 110)).name  # N39E110.SRTMGL3.hgt.zip


def _terrain(n: int = 1201) -> np.ndarray:
    """Smooth synthetic terrain (metres), the kind of field a DEM holds."""
    y, x = np.mgrid[0:n, 0:n]
    return 1200.0 + 400.0 * np.sin(x / 97.0) * np.cos(y / 53.0) + 0.3 * x


def _geotiff(width: int, height: int) -> bytes:
    """A minimal classic little-endian int16 TIFF (one strip), as a GMTED2010 tile is."""
    import struct

    data = np.rint(_terrain(max(width, height))[:height, :width]).astype("<i2").tobytes()
    tags = [(256, 3, width), (257, 3, height), (258, 3, 16), (259, 3, 1), (262, 3, 1),
            (273, 4, 0), (277, 3, 1), (278, 3, height), (279, 4, len(data)),
            (339, 3, 2)]  # fmt: skip
    ifd_at = 8
    strip_at = ifd_at + 2 + 12 * len(tags) + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_at) + struct.pack("<H", len(tags)))
    for tag, kind, value in tags:
        value = strip_at if tag == 273 else value
        out += struct.pack("<HHI", tag, kind, 1)
        out += struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
    return bytes(out + struct.pack("<I", 0) + data)


def srtm_zip(member: str, data: bytes) -> Make:
    """A zip under the SRTM tile's name holding ``member`` (like the provider's archive)."""

    def make(src: Sources, tmp: Path) -> Path:
        import zipfile

        path = tmp / SRTM_NAME
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(member, data)
        return path

    return make


def raw_file(name: str, data: bytes | Callable[[], bytes]) -> Make:
    def make(src: Sources, tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(data() if callable(data) else data)
        return path

    return make


def demo_srtm(*edits: Callable[[Path], None]) -> Make:
    def make(src: Sources, tmp: Path) -> Path:
        path = write_srtm_tile(tmp / SRTM_NAME, 39, 110, _terrain())
        for edit in edits:
            edit(path)
        return path

    return make


def _hgt(values: np.ndarray, dtype: str = ">i2") -> bytes:
    return np.rint(values).astype(dtype).tobytes()


def same_terrain(tile: Any) -> None:
    assert (tile.attrs["lat_south"], tile.attrs["lon_west"]) == (39, 110)
    np.testing.assert_array_equal(tile.values, np.rint(_terrain()).astype(np.float32))


def get_srtmgl3() -> str:
    return (
        r" \(the workflow reads SRTMGL3 v003 tiles \(3 arc-second \.hgt in a zip\) from LP "
        r"DAAC: put N39E110\.SRTMGL3\.hgt\.zip there\)$"
    )


REDOWNLOAD_RE = r" \(the file is incomplete or corrupt: delete it and download it again\)$"

SRTM_CASES = [
    case("SRTM-demo-genuine", "SRTM", demo_srtm(), ok(), then=same_terrain),
    case("SRTM-bare-hgt-genuine", "SRTM", raw_file("N39E110.hgt", lambda: _hgt(_terrain())),
         ok(), then=same_terrain),
    case("SRTM-GMTED-GeoTIFF-as-hgt-zip", "SRTM", raw_file(SRTM_NAME, lambda: _geotiff(480, 360)),
         error(r"^{file}: not a readable zip archive: it is a 480 x 360 int16 GeoTIFF image, a "
               r"tile of another DEM \(GMTED2010, ASTER, \.\.\.\), not an SRTMGL3 \.hgt\.zip"
               + get_srtmgl3())),
    case("SRTM-GMTED-zip-holding-GeoTIFF", "SRTM",
         srtm_zip("30n090e_20101117_gmted_mea075.tif", _geotiff(480, 360)),
         error(r"^{file}: zip holds no \.hgt file \(members: 30n090e_20101117_gmted_mea075\.tif\) "
               r"but a GeoTIFF: a tile of GMTED2010, not SRTMGL3" + get_srtmgl3())),
    case("SRTM-1-arc-second-3601-hgt", "SRTM",
         srtm_zip("N39E110.hgt", _hgt(_terrain(3601))),
         error(r"^{file}: N39E110\.hgt has 25934402 bytes, not 2884802 \(1201 x 1201 int16\): "
               r"a 3601 x 3601 grid, a 1 arc-second tile \(SRTMGL1 or NASADEM\), not SRTMGL3"
               + get_srtmgl3())),
    case("SRTM-1200x1200-hgt", "SRTM", srtm_zip("N39E110.hgt", _hgt(_terrain(1200))),
         error(r"^{file}: N39E110\.hgt has 2880000 bytes, not 2884802 \(1201 x 1201 int16\): a "
               r"1200 x 1200 grid of int16 values, another DEM's tile" + get_srtmgl3())),
    case("SRTM-float32-1201-hgt", "SRTM", srtm_zip("N39E110.hgt", _hgt(_terrain(), ">f4")),
         error(r"^{file}: N39E110\.hgt has 5769604 bytes, .*: a 1201 x 1201 grid of 4-byte "
               r"\(int32 or float32\) values, another DEM's tile" + get_srtmgl3())),
    case("SRTM-bare-hgt-cut-short", "SRTM",
         raw_file("N39E110.hgt", lambda: _hgt(_terrain())[:1_000_001]),
         error(r"^{file}: N39E110\.hgt has 1000001 bytes, not 2884802 \(1201 x 1201 int16\): it "
               r"is cut short" + REDOWNLOAD_RE)),
    case("SRTM-zip-cut-in-half", "SRTM", demo_srtm(cut_in_half),
         error(r"^{file}: not a readable zip archive \(.*\): it is cut short or damaged"
               + REDOWNLOAD_RE)),
    case("SRTM-little-endian-hgt", "SRTM", srtm_zip("N39E110.hgt", _hgt(_terrain(), "<i2")),
         error(r"^{file}: N39E110\.hgt reads as noise in big-endian order and smoothly "
               r"little-endian: .*re-saved by another tool\)" + get_srtmgl3())),
    case("SRTM-other-tile-inside", "SRTM", srtm_zip("N40E110.hgt", _hgt(_terrain())),
         error(r"^{file}: holds N40E110\.hgt, the tile at 40, 110, not N39E110 as its name says "
               r"\(a tile of another place saved under this name: delete it and download "
               r"N39E110\.SRTMGL3\.hgt\.zip again\)$")),
    case("SRTM-html-login-page", "SRTM", raw_file(SRTM_NAME, b"<!DOCTYPE html><html>Login"),
         error(r"^{file}: not a readable zip archive: it is an HTML page \(a login or error page "
               r"saved in place of the tile\) \(check the Earthdata login or the URL, then delete "
               r"it and download it again\)$")),
    case("SRTM-zip-without-hgt", "SRTM", srtm_zip("README.txt", b"nothing here"),
         error(r"^{file}: zip holds no \.hgt file \(members: README\.txt\)" + REDOWNLOAD_RE)),
    case("SRTM-empty-file", "SRTM", raw_file(SRTM_NAME, b""),
         error(r"^{file}: not a readable zip archive: it is empty" + REDOWNLOAD_RE)),
]  # fmt: skip


# ------------------------------------------------------------------------------------ IMERG

IMERG_NAME = imerg_file_name(DAY)  # 3B-DAY.MS.MRG.3IMERG.20100407-S000000-E235959.V07B.nc4
IMERG_WINDOW = LatLonGrid(north=41.0, south=38.0, west=109.0, east=112.0, res=0.1)


def _rain() -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.where(
        rng.random(IMERG_WINDOW.shape) < 0.4, rng.gamma(0.8, 8.0, IMERG_WINDOW.shape), 0
    )


def demo_imerg(name: str = IMERG_NAME, day: dt.date = DAY, *edits: Callable[[Any], None]) -> Make:
    """A demo IMERG daily file (a GES DISC subset) for ``day`` saved as ``name``; ``edits``
    change it through an open netCDF4 Dataset, or through the path for a byte-level edit."""

    def make(src: Sources, tmp: Path) -> Path:
        import netCDF4

        path = write_imerg(tmp / name, day, _rain(), grid=IMERG_WINDOW)
        for edit in edits:
            if getattr(edit, "on_path", False):
                edit(path)
                continue
            with netCDF4.Dataset(path, "a") as ds:
                edit(ds)
        return path

    return make


def on_path(edit: Callable[[Path], None]) -> Callable[[Path], None]:
    edit.on_path = True  # type: ignore[attr-defined]
    return edit


def nc_attrs(**attrs: str) -> Callable[[Any], None]:
    return lambda ds: ds.setncatts(attrs)


def time_bounds(seconds: int) -> Callable[[Any], None]:
    def edit(ds: Any) -> None:
        t0 = int(ds["time"][0])
        ds["time_bnds"][:] = [[t0, t0 + seconds]]

    return edit


def rain_units(units: str, factor: float = 1.0) -> Callable[[Any], None]:
    def edit(ds: Any) -> None:
        var = ds["precipitation"]
        var.set_auto_maskandscale(False)
        raw = var[:]
        var[:] = np.where(raw == var._FillValue, raw, raw / factor)
        if units:
            var.units = units
        else:
            var.delncattr("units")

    return edit


def rename(old: str, new: str) -> Callable[[Any], None]:
    return lambda ds: ds.renameVariable(old, new)


def same_rain(da: Any) -> None:
    """The read field is the demo's rain (mm/day) on the bbox window, whatever the units."""
    rows = slice(round((41.0 - 40.2) / 0.1), round((41.0 - 38.8) / 0.1))
    cols = slice(round((109.8 - 109.0) / 0.1), round((111.2 - 109.0) / 0.1))
    np.testing.assert_allclose(da.values, _rain()[rows, cols], rtol=1e-5, atol=1e-5)
    assert da["time"].values == np.datetime64(DAY)


def v06_file(src: Sources, tmp: Path) -> Path:
    """A V06 daily file as GES DISC wrote them: precipitationCal in mm (a day's total)."""
    name = IMERG_NAME.replace("V07B", "V06")
    return demo_imerg(
        name,
        DAY,
        rain_units("mm"),
        rename("precipitation", "precipitationCal"),
        nc_attrs(FileHeader="ProductVersion=V06B;\n"),
    )(src, tmp)


def far_imerg(src: Sources, tmp: Path) -> Path:
    """A subset of another region (120..123 E) under the day's name."""
    far = LatLonGrid(north=41.0, south=38.0, west=120.0, east=123.0, res=0.1)
    return write_imerg(tmp / IMERG_NAME, DAY, np.zeros(far.shape), grid=far)


IMERG_CASES = [
    case("IMERG-demo-genuine", "IMERG", demo_imerg(), ok(), then=same_rain),
    case("IMERG-demo-V06-genuine", "IMERG", v06_file, ok(), then=same_rain),
    case("IMERG-demo-next-day-inside", "IMERG", demo_imerg(IMERG_NAME, NEXT),
         error(r"^{file}: holds 2010-04-08 by its own time axis / BeginDate, but its name says "
               r"2010-04-07 \(another day's file saved under this name: delete it and download "
               r"the file of 2010-04-07 again\)$")),
    case("IMERG-monthly-file-as-daily", "IMERG",
         demo_imerg(IMERG_NAME, DAY, nc_attrs(BeginDate="2010-04-01", EndDate="2010-04-30")),
         error(r"^{file}: it covers 2010-04-01\.\.2010-04-30 \(BeginDate\.\.EndDate\), not one "
               r"day: not an IMERG daily \(3B-DAY\) file \(another IMERG product saved under "
               r"this name, such as half-hourly 3B-HHR or monthly 3B-MO: delete it and download "
               r"the daily file\)$")),
    case("IMERG-half-hourly-time-bounds", "IMERG", demo_imerg(IMERG_NAME, DAY, time_bounds(1800)),
         error(r"^{file}: its time_bnds span 0\.5 hours \(2010-04-07 00:00:00\.\.2010-04-07 "
               r"00:30:00\), not one day: not an IMERG daily \(3B-DAY\) file")),
    case("IMERG-daily-rate-in-mm-per-hour", "IMERG",
         demo_imerg(IMERG_NAME, DAY, rain_units("mm/hr", 24.0)),
         conversion(r"'precipitation' is a daily mean rate in mm/hr, multiplied by 24 to "
                    r"mm/day$"), then=same_rain),
    case("IMERG-units-kg-m2-s", "IMERG", demo_imerg(IMERG_NAME, DAY, rain_units("kg m-2 s-1")),
         error(r"^{file}: 'precipitation' has units 'kg m-2 s-1'; expected mm/day, mm or mm/hr "
               r"\(not an IMERG daily file: put the GPM_3IMERGDF file there\)$")),
    case("IMERG-units-missing", "IMERG", demo_imerg(IMERG_NAME, DAY, rain_units("")),
         error(r"^{file}: 'precipitation' has units ''; expected mm/day")),
    case("IMERG-V06-variable-under-V07B-name", "IMERG",
         demo_imerg(IMERG_NAME, DAY, rename("precipitation", "precipitationCal")),
         error(r"^{file}: holds the variable 'precipitationCal' of IMERG V06, but its name says "
               r"V07B \(a file of another IMERG version saved under this name: delete it and "
               r"download the V07B file\)$")),
    case("IMERG-FileHeader-ProductVersion-V06", "IMERG",
         demo_imerg(IMERG_NAME, DAY, nc_attrs(FileHeader="ProductVersion=V06B;\n")),
         error(r"^{file}: holds ProductVersion V06B \(FileHeader\), but its name says V07B")),
    case("IMERG-FileHeader-ProductVersion-V07A-under-V07B-name", "IMERG",
         demo_imerg(IMERG_NAME, DAY, nc_attrs(FileHeader="ProductVersion=V07A;\n")),
         error(r"^{file}: holds ProductVersion V07A \(FileHeader\), but its name says V07B")),
    case("IMERG-time-axis-undecodable", "IMERG",
         demo_imerg(IMERG_NAME, DAY, lambda ds: ds["time"].setncattr("units", "seconds")),
         error(r"^{file}: its 'time' axis cannot be decoded \(units 'seconds'\), so the day it "
               r"holds is unknown \(not an IMERG daily file as GES DISC writes it: delete it and "
               r"download it again\)$")),
    case("IMERG-cut-in-half", "IMERG", demo_imerg(IMERG_NAME, DAY, on_path(cut_in_half)),
         error(r"^{file}: is not a readable NetCDF file \(.*\): it is cut short or damaged"
               + REDOWNLOAD_RE)),
    case("IMERG-html-error-page", "IMERG", text_file(IMERG_NAME, "<html>401</html>"),
         error(r"^{file}: is not a readable NetCDF file: it is an HTML page")),
    case("IMERG-subset-not-covering-region", "IMERG",
         far_imerg,
         error(r"^{file}: covers lon 120\.\.123, lat 38\.\.41, not the bbox .*\(download a subset "
               r"that covers the region\)$")),
    case("MOD11A1-IMERG-netcdf-under-name", "MOD11A1", demo_imerg(M11),
         error(r"^{file}: is not a readable HDF4 file: it is an HDF5 / NetCDF-4 file \(another "
               r"format saved under this name: delete it and download the file again\)$")),
]  # fmt: skip

CASES = MODIS_CASES + SRTM_CASES + IMERG_CASES


def _holds_values(result: Any) -> None:
    values = result["wsa"].values if hasattr(result, "data_vars") else result.values
    assert np.isfinite(values).any()


@pytest.mark.parametrize(("product", "make", "outcome", "then"), CASES)
def test_input(
    product: str,
    make: Make,
    outcome: Outcome,
    then: Callable[[Any], None] | None,
    sources: Sources,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = make(sources, tmp_path)
    outcome = replace(outcome, pattern=outcome.pattern.replace("{file}", re.escape(str(path))))
    result = check(outcome, lambda: READ[product](path), caplog)
    if outcome.kind != "error":
        (then or _holds_values)(result)


def test_at_least_twenty_cases_over_every_product() -> None:
    products = {p.values[0] for p in CASES}
    assert products == set(READ) and len(CASES) >= 20
