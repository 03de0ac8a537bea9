"""Reader for ESA CCI SM COMBINED daily images (``ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-*.nc``).

Format (inspected on the real v04.5 file of 2010-07-01; NETCDF4_CLASSIC, zlib level 9 with
shuffle; dimensions ``time`` = 1, ``lat`` = 720, ``lon`` = 1440, none unlimited):

=================  ========  =========================  ==========================================
variable           dtype     _FillValue                 meaning
=================  ========  =========================  ==========================================
``lat``            float32   --                         cell centres 89.875 ... -89.875 (descending)
``lon``            float32   --                         cell centres -179.875 ... 179.875
``time``           float64   --                         days since 1970-01-01 00:00:00 UTC (00 h)
``sm``             float32   -9999.0                    volumetric soil moisture, m3 m-3,
                                                        valid_range [0, 1]
``sm_uncertainty`` float32   -9999.0                    its estimated standard deviation, m3 m-3
``flag``           int8      127                        quality flag bits (table below)
``dnflag``         int8      0                          1 day, 2 night, 3 both
``freqbandID``     int16     0                          frequency bands used (bit field)
``mode``           int8      0                          1 ascending, 2 descending, 3 both
``sensor``         int16     0                          sensors used (bit field)
``t0``             float64   -9999.0                    observation time, days since 1970-01-01
=================  ========  =========================  ==========================================

Quality flag bits (``flag``; a cell's value is the OR of the bits that apply, 0 = no
inconsistency detected, 127 = _FillValue, i.e. no observation at all):

=====  ==================================================================  ================
bit    meaning (``flag_meanings`` token)                                   in versions
=====  ==================================================================  ================
1      snow_coverage_or_temperature_below_zero                             all
2      dense_vegetation                                                    all
4      others_no_convergence_in_the_model_thus_no_valid_sm_estimates       all
8      soil_moisture_value_exceeds_physical_boundary                       all
16     weight_of_measurement_below_threshold                               all
32     all_datasets_deemed_unreliable                                      v05 onwards
64     barren_ground_advisory_flag (advisory: retrieval may be less        v07/v08 onwards
       reliable over barren ground; sm is still provided)
=====  ==================================================================  ================

v04.5 (inspected): ``flag_values`` enumerates 0-8 and 16-23 plus 127 with meanings such as
``combination_of_flag_values_1_and_2``: only bits 1-16 exist. In the real 2010-07-01 image
every cell with a valid ``sm`` has flag 0, so masking changes nothing there.
v08.1 (not inspected here; from the producers' attribute tables in TU Wien's CCI/C3S
production code, where the C3S v202212 release built on CCI v07 already lists "Bit6
barren_ground_advisory_flag"): the same five bits plus 32 and 64, still an ``int8`` with
_FillValue 127. The barren-ground bit is set over deserts where ``sm`` is valid; masking it
would drop whole deserts, hence METHOD.md's default.

Default mask (:data:`DEFAULT_MASK_FLAGS` = 63): the OR of every bit in :data:`FLAG_BITS` except
the barren-ground bit. It is right for both versions: on v04.5 the bits 32 and 64 are never
set, so 63 masks every bit the file can carry; on v08 it masks all bits but 64. A cell whose
flag is the _FillValue (127: no flag information) is masked whenever any bit is requested.

Conventions of :func:`read_esa_cci`: ``sm`` is float32 m3 m-3 with NaN where the file has its
fill value, where ``flag & mask_flags != 0``, or where the value is outside [0, 1]; ``flag`` is
the raw stored flag (int8, 127 = fill); the time coordinate is the image's day at 00:00
(datetime64). The grid is checked against the global 0.25 deg grid of
:func:`smdownscale.grid.global_grid`.

What the file claims to be is checked against its own attributes and the configuration
(:mod:`.cci_identity`, one :class:`ProductError` naming the file and what to do for each):

* ``sm:units`` must be m3 m-3 (any usual spelling); percent by volume is divided by 100
  (logged); percent of saturation (the ESA CCI / C3S ACTIVE products) is refused, since only
  the soil's porosity, which no file gives, would turn it into m3 m-3. Missing units are
  taken as m3 m-3 (logged) only when the attributes (title, id, product) show a COMBINED or
  PASSIVE product, both volumetric in every version; otherwise refused. A name alone is no
  proof: a renamed file is what these checks are for.
* a daily image: no DEKADAL/MONTHLY in the name or attribute ``id``, a
  ``time_coverage_duration`` of one day when it gives the image's span (a year or less; ESA
  CCI writes the whole record's span there), ``time_coverage_resolution`` one day, no
  ``nobs`` variable (composites count their observations there);
* one time step, at 00:00 of the day the name (and attribute ``id``) says;
* the sensor type (``sensor``, default COMBINED: the product the workflow downscales) by
  name, ``title``, ``id``, ``product`` and ``sensor_type``;
* the product version (``product_version``, else ``id``) against the name and ``version``
  (config ``esa_cci.version``); a mismatch, and files of several versions read together
  (:func:`read_esa_cci_days`), are errors unless ``allow_mixed_versions`` (config
  ``esa_cci.allow_mixed_versions``), when they are logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import cftime
import netCDF4
import numpy as np
import xarray as xr

from ..grid import GridError, LatLonGrid, global_grid
from . import cci_identity as ident
from .base import REDOWNLOAD, ProductError

log = logging.getLogger(__name__)

#: Resolution of the ESA CCI SM grid, degrees.
ESA_CCI_RES = 0.25

#: Flag bit value -> ``flag_meanings`` token (see the module docstring for versions).
FLAG_BITS: dict[int, str] = {
    1: "snow_coverage_or_temperature_below_zero",
    2: "dense_vegetation",
    4: "others_no_convergence_in_the_model_thus_no_valid_sm_estimates",
    8: "soil_moisture_value_exceeds_physical_boundary",
    16: "weight_of_measurement_below_threshold",
    32: "all_datasets_deemed_unreliable",
    64: "barren_ground_advisory_flag",
}

#: Short names for config files -> bit value.
FLAG_NAMES: dict[str, int] = {
    "snow_or_frozen": 1,
    "dense_vegetation": 2,
    "no_convergence": 4,
    "exceeds_physical_boundary": 8,
    "low_measurement_weight": 16,
    "all_datasets_unreliable": 32,
    "barren_ground": 64,
}

#: The advisory barren-ground bit (v07/v08 onwards).
BARREN_GROUND_BIT = 64

#: The stored flag's fill value (no observation; int8 127 = all seven bits set).
FLAG_FILL = 127

#: Every flag bit.
ALL_FLAGS = sum(FLAG_BITS)

#: METHOD.md's default: every bit except the advisory barren-ground bit (= 63).
DEFAULT_MASK_FLAGS = ALL_FLAGS & ~BARREN_GROUND_BIT


def resolve_mask_flags(spec: str | int | Iterable[int | str]) -> int:
    """Turn a config value into a bit mask.

    ``spec`` is ``"all_but_barren"`` (the default mask), ``"all"``, ``"none"``, an integer mask,
    or a list of bit values and/or names from :data:`FLAG_NAMES` / :data:`FLAG_BITS`.
    """
    presets = {"all_but_barren": DEFAULT_MASK_FLAGS, "all": ALL_FLAGS, "none": 0}
    if isinstance(spec, str):
        if spec in presets:
            return presets[spec]
        spec = [spec]
    if isinstance(spec, int | np.integer):
        return int(spec)
    mask = 0
    by_token = {token: bit for bit, token in FLAG_BITS.items()}
    for item in spec:
        if isinstance(item, str):
            bit = FLAG_NAMES.get(item, by_token.get(item))
            if bit is None:
                raise ValueError(
                    f"unknown ESA CCI flag name {item!r}; use one of {sorted(FLAG_NAMES)}, "
                    f"or a bit value from {sorted(FLAG_BITS)}"
                )
        else:
            bit = int(item)
            if bit not in FLAG_BITS:
                raise ValueError(
                    f"{bit} is not an ESA CCI flag bit; use bit values from {sorted(FLAG_BITS)} "
                    f"or names from {sorted(FLAG_NAMES)}"
                )
        mask |= bit
    return mask


def esa_cci_date(path: str | Path) -> dt.date:
    """The day of an ESA CCI SM (or C3S) image, from its file name (``...-YYYYMMDD000000-...``)."""
    return _name_claim(path).day


def esa_cci_version(path: str | Path) -> str:
    """The product version in an ESA CCI SM file name (``fv04.5`` -> ``"04.5"``)."""
    return _name_claim(path).version


def _name_claim(path: str | Path) -> ident.NameClaim:
    claim = ident.parse_name(path)
    if claim is None:
        raise ProductError(
            path,
            "file name is not an ESA CCI SM daily image name",
            "expected ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-YYYYMMDD000000-fvXX.X.nc",
        )
    return claim


def _open(path: str | Path) -> netCDF4.Dataset:
    if not Path(path).is_file():
        raise ProductError(path, "file not found", "download it or check raw/ paths")
    try:
        ds = netCDF4.Dataset(path, "r")
    except OSError as exc:
        raise ProductError(path, f"not a readable NetCDF file ({exc})", REDOWNLOAD) from None
    ds.set_auto_maskandscale(False)
    return ds


def _read(path: str | Path, var: netCDF4.Variable, index: tuple) -> np.ndarray:
    """Read a hyperslab, turning HDF5/NetCDF read errors (truncated data) into ProductError."""
    try:
        return np.asarray(var[index])
    except (OSError, RuntimeError, IndexError) as exc:
        raise ProductError(path, f"cannot read variable {var.name!r} ({exc})", REDOWNLOAD) from None


def _unpack(raw: np.ndarray, var: netCDF4.Variable) -> np.ndarray:
    """Raw values -> float32 with NaN for _FillValue (and CF scale_factor/add_offset if any)."""
    out = raw.astype(np.float32)
    fill = getattr(var, "_FillValue", None)
    if fill is not None:
        out[raw == fill] = np.nan
    scale = float(getattr(var, "scale_factor", 1.0))
    offset = float(getattr(var, "add_offset", 0.0))
    if scale != 1.0 or offset != 0.0:
        out = (out * scale + offset).astype(np.float32)
    return out


def _file_grid(path: str | Path, ds: netCDF4.Dataset) -> LatLonGrid:
    """The file's grid: the global 0.25 deg grid, or a window of it (a crop on arrival,
    :mod:`smdownscale.download.crop`, or a provider's subset); ProductError for any other
    lattice."""
    ref = global_grid(ESA_CCI_RES)
    start = {}
    for name, expected in (("lat", ref.lat), ("lon", ref.lon)):
        if name not in ds.variables:
            raise ProductError(path, f"no {name!r} coordinate variable", "not an ESA CCI SM image")
        got = _read(path, ds.variables[name], (slice(None),)).astype(np.float64)
        i0 = int(np.argmin(np.abs(expected - got[0]))) if got.size else 0
        window = expected[i0 : i0 + got.size]
        if not got.size or got.shape != window.shape or not np.allclose(got, window, atol=1e-4):
            first = f"{got[0]:.4f}..{got[-1]:.4f}" if got.size else "empty"
            raise ProductError(
                path,
                f"{name} has {got.size} values ({first}); an ESA CCI SM image is on the global "
                f"0.25 deg grid ({expected.size} values {expected[0]}..{expected[-1]}) or a "
                "window of it",
                "check that this is a COMBINED daily L3S image and not a regridded copy",
            )
        start[name], start[f"n{name}"] = i0, got.size
    res = ESA_CCI_RES
    return LatLonGrid(
        north=ref.north - start["lat"] * res,
        south=ref.north - (start["lat"] + start["nlat"]) * res,
        west=ref.west + start["lon"] * res,
        east=ref.west + (start["lon"] + start["nlon"]) * res,
        res=res,
    )


def _rows_cols(path: str | Path, file_grid: LatLonGrid, grid: LatLonGrid) -> tuple[slice, slice]:
    """Where ``grid`` lies in the file; ProductError when the file (a crop) does not hold it."""
    try:
        return file_grid.subgrid(grid)
    except GridError:
        raise ProductError(
            path,
            f"holds only {file_grid.bbox} (cropped on arrival), not the grid asked for {grid.bbox}",
            "delete it (and its record under raw/manifest/) and run again to download it for "
            "this region, or widen download.crop.margin_deg",
        ) from None


def _stamps(path: str | Path, ds: netCDF4.Dataset) -> list[dt.datetime] | None:
    """The ``time`` values as datetimes; None (logged) when there is no decodable ``time``."""
    if "time" not in ds.variables:
        log.warning("%s: no 'time' variable; the image's day is taken from its name", path)
        return None
    var = ds.variables["time"]
    raw = _read(path, var, (slice(None),))
    try:
        dates = cftime.num2date(
            raw,
            var.units.replace(" UTC", ""),
            getattr(var, "calendar", "standard"),
            only_use_cftime_datetimes=False,
            only_use_python_datetimes=True,
        )
    except (AttributeError, TypeError, ValueError) as exc:
        log.warning("%s: cannot decode 'time' (%s); the image's day is taken from its name",
                    path, exc)  # fmt: skip
        return None
    return list(np.atleast_1d(dates))


def _day(path: str | Path, ds: netCDF4.Dataset, claim: ident.NameClaim | None) -> dt.date:
    stamps = _stamps(path, ds)
    if stamps is not None:
        return ident.check_day(path, ds, claim, stamps)
    own = ident.parse_name(str(getattr(ds, "id", "")))
    if claim is None and own is None:
        raise ProductError(
            path,
            "neither a decodable 'time' variable nor its name or attribute id give its day",
            "use the file as the provider delivers it, under its own name",
        )
    return (claim or own).day  # type: ignore[union-attr]


def _check_flag_table(path: str | Path, var: netCDF4.Variable) -> None:
    """Warn when the file places the barren-ground meaning on another bit than 64."""
    meanings = str(getattr(var, "flag_meanings", "")).split()
    values = np.atleast_1d(getattr(var, "flag_values", getattr(var, "flag_masks", [])))
    for value, meaning in zip(values, meanings, strict=False):
        if "barren" in meaning and int(value) != BARREN_GROUND_BIT:
            warnings.warn(
                f"{path}: flag meaning {meaning!r} has value {int(value)}, not "
                f"{BARREN_GROUND_BIT}; check config esa_cci.mask_flags",
                stacklevel=3,
            )


def _identify(
    path: str | Path, ds: netCDF4.Dataset, sensor: str, version: str | None, allow_mixed: bool
) -> tuple[dt.date, str, float]:
    """Check what the file claims to be (module docstring); its day, version and the factor
    that turns ``sm`` into m3 m-3."""
    claim = ident.parse_name(path)
    scale = ident.sm_scale(path, ds)
    ident.check_daily(path, ds, claim)
    ident.check_sensor(path, ds, claim, sensor)
    found = ident.check_version(path, ds, claim, version, allow_mixed)
    sm_var = ds.variables["sm"]
    if sm_var.ndim == 3 and sm_var.shape[0] != 1:
        raise ProductError(
            path, f"'sm' holds {sm_var.shape[0]} time steps; a daily image holds one"
        )
    return _day(path, ds, claim), found, scale


def read_esa_cci(
    path: str | Path,
    grid: LatLonGrid | None = None,
    mask_flags: int = DEFAULT_MASK_FLAGS,
    *,
    version: str | None = None,
    allow_mixed_versions: bool = False,
    sensor: str = "COMBINED",
) -> xr.Dataset:
    """Read one ESA CCI SM daily image on ``grid`` (a 0.25 deg sub-grid; None = global).

    Returns a Dataset with ``sm`` (time, lat, lon) float32 m3 m-3, NaN where missing, flagged
    (``flag & mask_flags != 0``) or outside [0, 1]; ``flag`` (time, lat, lon) the raw int8
    flag; and ``sm_uncertainty`` (float32 m3 m-3, NaN fill) when the file has it. Coordinates
    are ``grid``'s (lat descending) and the image's day (datetime64, 00:00). Attributes
    ``product_version`` (the file's own) and ``sensor``.

    Raises :class:`ProductError` naming the file when it is not a readable NetCDF file, has
    no ``sm`` variable, is not on the global 0.25 deg grid or a window of it (a crop on
    arrival; ``grid=None`` then reads the window, and a window that does not hold ``grid``
    is refused), or is not what it claims to be:
    units, daily image, day, ``sensor`` type and ``version`` (None: its name's) are checked
    as the module docstring says. A ``grid`` that is not a 0.25 deg sub-grid of the global
    grid raises :class:`smdownscale.grid.GridError`.
    """
    if grid is not None:
        global_grid(ESA_CCI_RES).subgrid(grid)  # GridError for a grid off the 0.25 deg lattice
    ds = _open(path)
    try:
        if "sm" not in ds.variables:
            raise ProductError(
                path,
                f"no 'sm' variable (variables: {', '.join(ds.variables) or 'none'})",
                "not an ESA CCI SM COMBINED/PASSIVE image; re-download it",
            )
        sm_var = ds.variables["sm"]
        if tuple(sm_var.dimensions[-2:]) != ("lat", "lon"):
            raise ProductError(
                path, f"'sm' has dimensions {sm_var.dimensions}, not (time, lat, lon)"
            )
        file_grid = _file_grid(path, ds)
        grid = file_grid if grid is None else grid
        rows, cols = _rows_cols(path, file_grid, grid)
        day, found_version, scale = _identify(path, ds, sensor, version, allow_mixed_versions)
        times = np.array([np.datetime64(day, "ns")])
        index = (slice(None), rows, cols) if sm_var.ndim == 3 else (rows, cols)
        sm = _unpack(_read(path, sm_var, index), sm_var).reshape(1, *grid.shape) * scale
        if "flag" in ds.variables:
            flag_var = ds.variables["flag"]
            _check_flag_table(path, flag_var)
            flag = _read(path, flag_var, index).reshape(sm.shape)
            flag_attrs = {
                k: flag_var.getncattr(k)
                for k in ("long_name", "flag_values", "flag_meanings")
                if k in flag_var.ncattrs()
            }
            flag_attrs["fill_value"] = int(getattr(flag_var, "_FillValue", FLAG_FILL))
        else:
            flag = np.zeros(sm.shape, dtype=np.int8)
            flag_attrs = {"comment": "file has no flag variable; all zero"}
        with np.errstate(invalid="ignore"):
            bad = (flag.astype(np.int64) & int(mask_flags)) != 0
            bad |= ~((sm >= 0.0) & (sm <= 1.0))
        sm[bad] = np.nan
        coords = {"time": ("time", times), **grid.coords()}
        dims = ("time", "lat", "lon")
        out = xr.Dataset(
            {
                "sm": (
                    dims,
                    sm,
                    {
                        "long_name": "volumetric soil moisture",
                        "units": "m3 m-3",
                        "mask_flags": int(mask_flags),
                        "comment": "NaN where fill, flag & mask_flags != 0, or outside [0, 1]",
                    },
                ),
                "flag": (dims, flag, flag_attrs),
            },
            coords=coords,
            attrs={"source_file": str(path), "product_version": found_version, "sensor": sensor},
        )
        if "sm_uncertainty" in ds.variables:
            unc_var = ds.variables["sm_uncertainty"]
            unc_scale = ident.sm_scale(path, ds, "sm_uncertainty")
            unc = _unpack(_read(path, unc_var, index), unc_var).reshape(sm.shape) * unc_scale
            out["sm_uncertainty"] = (
                dims,
                unc,
                {"long_name": "soil moisture uncertainty (standard deviation)", "units": "m3 m-3"},
            )
        return out
    finally:
        ds.close()


def read_esa_cci_days(
    paths: Sequence[str | Path],
    grid: LatLonGrid | None = None,
    mask_flags: int = DEFAULT_MASK_FLAGS,
    *,
    version: str | None = None,
    allow_mixed_versions: bool = False,
) -> list[xr.Dataset]:
    """Read several daily images (:func:`read_esa_cci`); ProductError when they are of
    different product versions, unless ``allow_mixed_versions`` (then logged)."""
    images = [
        read_esa_cci(
            p, grid, mask_flags, version=version, allow_mixed_versions=allow_mixed_versions
        )
        for p in paths
    ]
    found = {str(p): im.attrs["product_version"] for p, im in zip(paths, images, strict=True)}
    ident.check_version_set(found, allow_mixed_versions)
    return images
