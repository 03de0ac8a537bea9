"""Write synthetic ESA CCI SM COMBINED daily images in the real product format.

The structure is copied from the real v04.5 image of 2010-07-01 (see
:mod:`smdownscale.products.esa_cci`): NETCDF4_CLASSIC; dimensions ``time`` (1), ``lat`` (720),
``lon`` (1440), none unlimited; variables ``lat``, ``lon``, ``time``, ``t0``, ``sm``,
``sm_uncertainty``, ``dnflag``, ``flag``, ``freqbandID``, ``mode``, ``sensor`` in that order,
with the same dtypes, _FillValues, attributes, chunk shapes and zlib + shuffle compression
(level 9 as in the real files with ``complevel=9``; the default 4 is ten times faster).

Version differences (``version``): for 04.x the ``flag`` attributes are v04.5's enumerated
combinations; from 05 on they list the bit values 0, 1, 2, 4, ..., 64 (bits 32 "all datasets
deemed unreliable" and 64 "barren ground advisory" added), and from 07 on ``sensor`` is
int32, since the sensor bit field grew past 16 bits (GPM, FY-3B/C/D, ASCAT-C). Those two
points follow the producers' attribute tables, not an inspected v08 file; the descriptive
global attributes (title, source, references, ...) are v04.5's wording.

Writing is atomic: the file is written under a temporary name in the target folder and
moved into place with :func:`os.replace`, so a crash never leaves a half-written image.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import netCDF4
import numpy as np

from ..atomic import atomic_path
from ..grid import LatLonGrid, global_grid
from ..products.esa_cci import ESA_CCI_RES, FLAG_BITS, FLAG_FILL

SM_FILL = np.float32(-9999.0)
T0_FILL = -9999.0
#: zlib level of the real files (level 4 writes 10x faster for 6 % more bytes).
REAL_COMPLEVEL = 9
_AXES = "time lat lon"
_EPOCH = dt.date(1970, 1, 1)

#: v04.5's enumerated flag values and meanings (verbatim from the real file).
_FLAG_V04 = (
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 17, 18, 19, 20, 21, 22, 23, 127],
    "no_data_inconsistency_detected snow_coverage_or_temperature_below_zero dense_vegetation "
    "combination_of_flag_values_1_and_2 "
    "others_no_convergence_in_the_model_thus_no_valid_sm_estimates "
    "combination_of_flag_values_1_and_4 combination_of_flag_values_2_and_4 "
    "combination_of_flag_values_1_and_2_and_4 soil_moisture_value_exceeds_physical_boundary "
    "weight_of_measurement_below_threshold combination_of_flag_values_1_and_16 "
    "combination_of_flag_values_2_and_16 combination_of_flag_values_1_and_2_and_16 "
    "combination_of_flag_values_4_and_16 combination_of_flag_values_1_and_4_and_16 "
    "combination_of_flag_values_2_and_4_and_16 combination_of_flag_values_1_and_2_and_4_and_16 "
    "NaN",
)

_FREQBAND = (
    [0, 1, 2, 3, 4, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27, 32, 33, 34, 35, 64, 65, 66]
    + [67, 72, 73, 74, 75, 80, 81, 82, 83, 128, 130],
    "NaN L14 C53 L14+C53 C66 C68 L14+C68 C53+C68 L14+C53+C68 C69 L14+C69 C53+C69 L14+C53+C69 "
    "C68+C69 L14+C68+C69 C53+C68+C69 L14+C53+C68+C69 C73 L14+C73 C53+C73 L14+C53+C73 X107 "
    "L14+X107 C53+X107 L14+C53+X107 C68+X107 L14+C68+X107 C53+C68+X107 L14+C53+C68+X107 "
    "C69+X107 L14+C69+X107 C53+C69+X107 L14+C53+C69+X107 K194 C53+K194",
)

_SENSOR = (
    [0, 1, 2, 4, 8, 16, 24, 32, 40, 48, 56, 128, 130, 132, 136, 256, 264, 272, 280, 288, 296]
    + [304, 312, 512, 544, 768, 776, 784, 792, 800, 808, 816, 824],
    "NaN SMMR SSMI TMI AMSRE WindSat AMSRE+WindSat AMSR2 AMSRE+AMSR2 WindSat+AMSR2 "
    "AMSRE+WindSat+AMSR2 AMIWS SSMI+AMIWS TMI+AMIWS AMSRE+AMIWS ASCATA AMSRE+ASCATA "
    "WindSat+ASCATA AMSRE+WindSat+ASCATA AMSR2+ASCATA AMSRE+AMSR2+ASCATA WindSat+AMSR2+ASCATA "
    "AMSRE+WindSat+AMSR2+ASCATA ASCATB AMSR2+ASCATB ASCATA+ASCATB AMSRE+ASCATA+ASCATB "
    "WindSat+ASCATA+ASCATB AMSRE+WindSat+ASCATA+ASCATB AMSR2+ASCATA+ASCATB "
    "AMSRE+AMSR2+ASCATA+ASCATB WindSat+AMSR2+ASCATA+ASCATB AMSRE+WindSat+AMSR2+ASCATA+ASCATB",
)

_GLOBAL_ATTRS: dict[str, str] = {
    "title": "ESA CCI Surface Soil Moisture COMBINED active+passive Product",
    "institution": (
        "Technische Universität Wien (AUT); Transmissivity B.V. / VanderSat B.V. Noordwijk (NL)"
    ),
    "contact": "cci_sm_contact@eodc.eu",
    "source": "SYNTHETIC demo image written by smdownscale.demo.write_esa_cci",
    "platform": (
        "Nimbus 7, DMSP, TRMM, AQUA, Coriolis, GCOM-W1, MIRAS; ERS-1, ERS-2, METOP-A, METOP-B"
    ),
    "sensor": "SMMR, SSM/I, TMI, AMSR-E, WindSat, AMSR2, SMOS; AMI-WS, ASCAT-A, ASCAT-B",
    "references": "http://www.esa-soilmoisture-cci.org",
    "product_version": "",
    "id": "",
    "tracking_id": "",
    "Conventions": "CF-1.6",
    "standard_name_vocabulary": "NetCDF Climate and Forecast (CF) Metadata Convention",
    "summary": "Synthetic stand-in for the ESA CCI SM COMBINED product (demo world).",
    "keywords": "Soil Moisture/Water Content",
    "naming_authority": "TU Wien",
    "keywords_vocabulary": "NASA Global Change Master Directory (GCMD) Science Keywords",
    "cdm_data_type": "Grid",
    "comment": "Synthetic data: not an ESA CCI product.",
    "history": "",
    "date_created": "",
    "creator_name": "smdownscale demo",
    "creator_url": "http://rs.geo.tuwien.ac.at",
    "creator_email": "cci_sm_developer@eodc.eu",
    "project": "Climate Change Initiative - European Space Agency",
    "license": "Data use is free and open for all registered users.",
    "time_coverage_start": "19781101T000000Z",
    "time_coverage_end": "20221231T235959Z",
    "time_coverage_duration": "P44Y",
    "time_coverage_resolution": "P1D",
    "geospatial_lat_min": "-90.0",
    "geospatial_lat_max": "90.0",
    "geospatial_lon_min": "-180.0",
    "geospatial_lon_max": "180.0",
    "geospatial_vertical_min": "0.0",
    "geospatial_vertical_max": "0.0",
    "geospatial_lat_units": "degrees_north",
    "geospatial_lon_units": "degrees_east",
    "geospatial_lat_resolution": "0.25 degree",
    "geospatial_lon_resolution": "0.25 degree",
    "spatial_resolution": "25km",
}


def esa_cci_file_name(day: dt.date, version: str) -> str:
    return f"ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-{day:%Y%m%d}000000-fv{version}.nc"


def _major(version: str) -> int:
    return int(version.split(".")[0])


def _flag_table(version: str) -> tuple[list[int], str]:
    if _major(version) < 5:
        return _FLAG_V04
    bits = [b for b in FLAG_BITS if _major(version) >= 7 or b != 64]
    return [0, *bits], " ".join(["no_data_inconsistency_detected", *(FLAG_BITS[b] for b in bits)])


def _to_global(
    values: np.ndarray | None, grid: LatLonGrid | None, fill: float | int, dtype: type
) -> np.ndarray:
    """A (720, 1440) array of ``dtype``: ``values`` placed at ``grid`` (None = already global)."""
    full = global_grid(ESA_CCI_RES)
    out = np.full(full.shape, fill, dtype=dtype)
    if values is None:
        return out
    values = np.asarray(values)
    target = full if grid is None else grid
    if values.shape != target.shape:
        raise ValueError(f"array of shape {values.shape} does not match grid shape {target.shape}")
    rows, cols = full.subgrid(target)
    if np.issubdtype(values.dtype, np.floating):
        values = np.where(np.isfinite(values), values, fill)
        if np.issubdtype(dtype, np.integer):
            values = np.rint(values)
    out[rows, cols] = values.astype(dtype)
    return out


def write_esa_cci(
    path: str | Path,
    day: dt.date,
    sm_global: np.ndarray,
    flag_global: np.ndarray | None = None,
    version: str = "08.1",
    *,
    grid: LatLonGrid | None = None,
    sm_uncertainty: np.ndarray | None = None,
    t0: np.ndarray | None = None,
    dnflag: np.ndarray | None = None,
    freqbandID: np.ndarray | None = None,
    mode: np.ndarray | None = None,
    sensor: np.ndarray | None = None,
    complevel: int = 4,
) -> Path:
    """Write one daily image in the real ESA CCI SM format and return its path.

    ``sm_global`` is (720, 1440) m3 m-3 (lat descending) with NaN = missing; or, with ``grid``
    (a 0.25 deg sub-grid of the global grid), an array of ``grid.shape`` placed into the
    global image, fill elsewhere. The same holds for every other array. ``flag_global``
    holds flag bits (0..127; NaN in a float array = 127, fill); None gives 0 where ``sm`` is
    valid and 127 elsewhere.
    ``t0`` (days since 1970-01-01) defaults to noon of ``day`` where ``sm`` is valid;
    ``dnflag``, ``freqbandID``, ``mode``, ``sensor`` default to their fill value 0.

    ``complevel`` is the zlib level (with shuffle). The real files use 9
    (:data:`REAL_COMPLEVEL`, about 1.2 s per global image here); the default 4 takes about
    0.12 s for files about 6 % larger, and readers cannot tell the difference.
    """
    path = Path(path)
    major = _major(version)
    sm = _to_global(sm_global, grid, SM_FILL, np.float32)
    valid = sm != SM_FILL
    if flag_global is None:
        flag = np.where(valid, 0, FLAG_FILL).astype(np.int8)
    else:
        raw = np.asarray(flag_global)
        if raw.min(initial=0) < 0 or raw.max(initial=0) > 127:
            raise ValueError("ESA CCI flag values must lie in 0..127 (int8; 127 = fill)")
        flag = _to_global(raw, grid, FLAG_FILL, np.int8)
    day_num = float((day - _EPOCH).days)
    if t0 is None:
        t0_full = np.where(valid, day_num + 0.5, T0_FILL)
    else:
        t0_full = _to_global(t0, grid, T0_FILL, np.float64)
    sensor_dtype = np.int32 if major >= 7 else np.int16
    arrays = {
        "t0": t0_full,
        "sm": sm,
        "sm_uncertainty": _to_global(sm_uncertainty, grid, SM_FILL, np.float32),
        "dnflag": _to_global(dnflag, grid, 0, np.int8),
        "flag": flag,
        "freqbandID": _to_global(freqbandID, grid, 0, np.int16),
        "mode": _to_global(mode, grid, 0, np.int8),
        "sensor": _to_global(sensor, grid, 0, sensor_dtype),
    }
    with atomic_path(path) as tmp:
        _write(tmp, path.name, day_num, version, arrays, complevel)
    return path


def _write(
    tmp: Path,
    name: str,
    day_num: float,
    version: str,
    arrays: dict[str, np.ndarray],
    complevel: int,
) -> None:
    full = global_grid(ESA_CCI_RES)
    compress = {"zlib": True, "complevel": complevel, "shuffle": True}
    flag_values, flag_meanings = _flag_table(version)
    with netCDF4.Dataset(tmp, "w", format="NETCDF4_CLASSIC") as ds:
        attrs = dict(_GLOBAL_ATTRS)
        now = dt.datetime.now(dt.UTC)
        attrs.update(
            product_version=version,
            id=name,
            tracking_id=str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
            history=f"{now:%Y-%m-%d %H:%M:%S} - synthetic product produced",
            date_created=f"{now:%Y%m%dT%H%M%SZ}",
        )
        ds.setncatts(attrs)
        ds.createDimension("time", 1)
        ds.createDimension("lat", full.nlat)
        ds.createDimension("lon", full.nlon)
        dims = ("time", "lat", "lon")

        lat = ds.createVariable("lat", "f4", ("lat",), chunksizes=(full.nlat,), **compress)
        lat.setncatts(
            {
                "units": "degrees_north",
                "_CoordinateAxisType": "Lat",
                "standard_name": "latitude",
                "valid_range": np.array([-90.0, 90.0], dtype=np.float32),
            }
        )
        lat[:] = full.lat.astype(np.float32)
        lon = ds.createVariable("lon", "f4", ("lon",), chunksizes=(full.nlon,), **compress)
        lon.setncatts(
            {
                "units": "degrees_east",
                "_CoordinateAxisType": "Lon",
                "standard_name": "longitude",
                "valid_range": np.array([-180.0, 180.0], dtype=np.float32),
            }
        )
        lon[:] = full.lon.astype(np.float32)
        time = ds.createVariable("time", "f8", ("time",), chunksizes=(1,), **compress)
        time.setncatts(
            {
                "units": "days since 1970-01-01 00:00:00 UTC",
                "_CoordinateAxisType": "Time",
                "standard_name": "time",
                "calendar": "standard",
            }
        )
        time[:] = [day_num]

        half = (1, full.nlat // 2, full.nlon // 2)
        whole = (1, full.nlat, full.nlon)

        def var(name: str, dtype: str, fill: object, chunks: tuple, attrs: dict) -> None:
            v = ds.createVariable(name, dtype, dims, fill_value=fill, chunksizes=chunks, **compress)
            v.set_auto_maskandscale(False)
            v.setncatts({**attrs, "_CoordinateAxes": _AXES})
            v[:] = arrays[name][None]

        var(
            "t0",
            "f8",
            T0_FILL,
            half,
            {
                "long_name": "Observation Timestamp",
                "units": "days since 1970-01-01 00:00:00 UTC",
                "valid_range": np.array([day_num - 0.5, day_num + 0.5]),
            },
        )
        sm_range = np.array([0.0, 1.0], dtype=np.float32)
        var(
            "sm",
            "f4",
            SM_FILL,
            whole,
            {"long_name": "Volumetric Soil Moisture", "units": "m3 m-3", "valid_range": sm_range},
        )
        var(
            "sm_uncertainty",
            "f4",
            SM_FILL,
            whole,
            {
                "long_name": "Volumetric Soil Moisture Uncertainty",
                "units": "m3 m-3",
                # (the double space is the real file's)
                "description": (
                    "Uncertainty is the estimated standard deviation of the  observation"
                ),
                "valid_range": sm_range,
            },
        )
        enumerated = {
            "dnflag": (
                "i1",
                "Day / Night Flag",
                [0, 1, 2, 3],
                "NaN day night day_night_combination",
            ),
            "flag": ("i1", "Flag", flag_values, flag_meanings),
            "freqbandID": ("i2", "Frequency Band Identification", *_FREQBAND),
            "mode": (
                "i1",
                "Satellite  Mode",
                [0, 1, 2, 3],
                "NaN ascending descending ascending_descending_combination",
            ),
            "sensor": ("i4" if arrays["sensor"].dtype == np.int32 else "i2", "Sensor", *_SENSOR),
        }
        for name, (dtype, long_name, values, meanings) in enumerated.items():
            fill = FLAG_FILL if name == "flag" else 0
            var(
                name,
                dtype,
                np.dtype(dtype).type(fill),
                whole,
                {
                    "long_name": long_name,
                    "flag_values": np.array(values, dtype=dtype),
                    "flag_meanings": meanings,
                },
            )
