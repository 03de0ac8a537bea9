"""Where raw product files live under ``results/<run>/raw/`` and what they are called.

One layout for the demo world and for real downloads, so that everything downstream of
the raw files is identical. File names are the providers' own, except that MODIS-family
names drop the production timestamp (``MOD11A1.A2021227.h11v05.061.hdf`` instead of
``...061.2021228105320.hdf``) so that a file's name is known before it is downloaded;
readers never rely on names for content.
"""

from __future__ import annotations

import datetime as dt
import math

from .calendar import modis_date_code

#: MODIS sinusoidal tile size (metres) and the sphere radius of the MODIS sinusoidal grid.
MODIS_TILE_SIZE_M = 1111950.5196666666
MODIS_SPHERE_RADIUS_M = 6371007.181
MODIS_XMIN_M = -20015109.354
MODIS_YMAX_M = 10007554.677


def esa_cci(day: dt.date, version: str) -> str:
    return (
        f"esa_cci/{day.year}/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-"
        f"{day:%Y%m%d}000000-fv{version}.nc"
    )


def smap_l3(day: dt.date, crid: str, counter: str = "001") -> str:
    """SMAP L3 radiometer daily file (SPL3SMP) of release ``crid`` (e.g. R19240)."""
    return f"SPL3SMP/{day.year}/SMAP_L3_SM_P_{day:%Y%m%d}_{crid}_{counter}.h5"


def modis_tile(product: str, day: dt.date, h: int, v: int, collection: str = "061") -> str:
    """MOD11A1 / MOD13A2 tile file."""
    return (
        f"{product}/{day.year}/{product}.{modis_date_code(day)}.h{h:02d}v{v:02d}.{collection}.hdf"
    )


def mcd43c3(day: dt.date, collection: str = "061") -> str:
    return f"MCD43C3/{day.year}/MCD43C3.{modis_date_code(day)}.{collection}.hdf"


def srtm_tile_name(lat_south: int, lon_west: int) -> str:
    """SRTM tile named by its south-west corner, e.g. ``N39E110``."""
    ns = "N" if lat_south >= 0 else "S"
    ew = "E" if lon_west >= 0 else "W"
    return f"{ns}{abs(lat_south):02d}{ew}{abs(lon_west):03d}"


def srtm(lat_south: int, lon_west: int) -> str:
    return f"SRTMGL3/{srtm_tile_name(lat_south, lon_west)}.SRTMGL3.hgt.zip"


def imerg(day: dt.date, version: str = "V07B") -> str:
    return f"IMERG/{day.year}/3B-DAY.MS.MRG.3IMERG.{day:%Y%m%d}-S000000-E235959.{version}.nc4"


def srtm_tiles_for_bbox(bbox: tuple[float, float, float, float]) -> list[tuple[int, int]]:
    """(lat_south, lon_west) of every 1 x 1 deg SRTM tile touching (west, south, east, north)."""
    west, south, east, north = bbox
    lats = range(math.floor(south), math.ceil(north))
    lons = range(math.floor(west), math.ceil(east))
    return [(la, lo) for la in lats for lo in lons]


def _sinusoidal_tile(lat: float, lon: float) -> tuple[int, int]:
    x = MODIS_SPHERE_RADIUS_M * math.radians(lon) * math.cos(math.radians(lat))
    y = MODIS_SPHERE_RADIUS_M * math.radians(lat)
    h = math.floor((x - MODIS_XMIN_M) / MODIS_TILE_SIZE_M)
    v = math.floor((MODIS_YMAX_M - y) / MODIS_TILE_SIZE_M)
    return min(h, 35), min(v, 17)  # x = +180 deg / y = -90 deg lie on the last tile's edge


def modis_tiles_for_bbox(
    bbox: tuple[float, float, float, float], edge_step_deg: float = 0.005
) -> list[tuple[int, int]]:
    """(h, v) of every MODIS sinusoidal tile that a lat/lon box touches.

    Tile boundaries are curves in lat/lon, so a tile can enter a box through a thin sliver of
    its edge: the box's perimeter is walked every ``edge_step_deg`` (half a 1 km pixel).
    A tile that touches the box but not its perimeter lies wholly inside it, and a tile is
    ~10 deg wide, so a 0.5 deg interior lattice finds those.
    """
    west, south, east, north = bbox

    def steps(a: float, b: float, step: float) -> list[float]:
        n = max(1, math.ceil((b - a) / step))
        return [a + (b - a) * i / n for i in range(n + 1)]

    tiles: set[tuple[int, int]] = set()
    for lon in steps(west, east, edge_step_deg):
        tiles.add(_sinusoidal_tile(south, lon))
        tiles.add(_sinusoidal_tile(north, lon))
    for lat in steps(south, north, edge_step_deg):
        tiles.add(_sinusoidal_tile(lat, west))
        tiles.add(_sinusoidal_tile(lat, east))
    for lat in steps(south, north, 0.5):
        for lon in steps(west, east, 0.5):
            tiles.add(_sinusoidal_tile(lat, lon))
    return sorted(tiles)
