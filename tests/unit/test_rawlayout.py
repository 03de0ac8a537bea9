import datetime as dt

import numpy as np
import pyproj
import pytest

from smdownscale import rawlayout

SINU = pyproj.Transformer.from_crs(
    "EPSG:4326", "+proj=sinu +R=6371007.181 +nadgrids=@null +wktext", always_xy=True
)


def tiles_by_brute_force(bbox, step=0.002):
    west, south, east, north = bbox
    lon, lat = np.meshgrid(np.arange(west, east + 1e-9, step), np.arange(south, north + 1e-9, step))
    x, y = SINU.transform(lon.ravel(), lat.ravel())
    h = np.floor((x + 20015109.354) / rawlayout.MODIS_TILE_SIZE_M).astype(int)
    v = np.floor((10007554.677 - y) / rawlayout.MODIS_TILE_SIZE_M).astype(int)
    return sorted(set(zip(h.tolist(), v.tolist(), strict=True)))


@pytest.mark.parametrize(
    "bbox",
    [
        (110.0, 39.0, 113.0, 41.0),  # the demo: h26v04 and h26v05
        (110.0, 39.75, 111.0, 40.25),  # the CI world
        (73.0, 33.5, 75.5, 36.0),  # high-latitude curvature near a tile corner
        (-0.3, -0.2, 0.4, 0.3),  # across the prime meridian and the equator
    ],
)
def test_modis_tiles_match_a_dense_brute_force_search(bbox):
    assert rawlayout.modis_tiles_for_bbox(bbox) == tiles_by_brute_force(bbox)


def test_three_north_tile_count():
    assert len(rawlayout.modis_tiles_for_bbox((73.25, 33.5, 128.0, 50.25))) == 17


def test_raw_file_names_are_the_providers():
    day = dt.date(2010, 7, 1)
    assert rawlayout.esa_cci(day, "04.5") == (
        "esa_cci/2010/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-20100701000000-fv04.5.nc"
    )
    assert rawlayout.modis_tile("MOD11A1", day, 26, 5) == (
        "MOD11A1/2010/MOD11A1.A2010182.h26v05.061.hdf"
    )
    assert rawlayout.imerg(day).endswith("3B-DAY.MS.MRG.3IMERG.20100701-S000000-E235959.V07B.nc4")
    assert rawlayout.srtm(-1, -75) == "SRTMGL3/S01W075.SRTMGL3.hgt.zip"
    assert rawlayout.srtm_tiles_for_bbox((110.0, 39.75, 111.0, 40.25)) == [(39, 110), (40, 110)]
