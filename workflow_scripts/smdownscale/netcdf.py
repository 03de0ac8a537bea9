"""CF-1.8 NetCDF4 writing for every gridded file the workflow produces.

Every file gets lat/lon coordinates with bounds, a ``crs`` grid-mapping variable
(EPSG:4326), units, ``_FillValue`` (except variables that are always fully written and ask
for none, such as flag fields), zlib compression and chunks that serve both map reads
(one day, a block of cells) and time-series reads (a cell, every day of the period).

Files are written through :func:`atomic_path`: to a temporary name in the target folder,
renamed into place only when complete, so an interrupted job never leaves a file that looks
finished. Large cubes are written incrementally by :class:`GridFileWriter` (one day, or a
block of rows of every day at a time: with blocks of whole chunks, each compressed chunk is
written once), so memory does not grow with the region or the period.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import h5py
import netCDF4
import numpy as np
import xarray as xr

from .atomic import atomic_path, partial_name
from .chunkwrite import ChunkWriter
from .grid import LatLonGrid

TIME_UNITS = "days since 1970-01-01 00:00:00"
CONVENTIONS = "CF-1.8"

#: Default chunk edge (cells) for spatial chunking; a 128 x 128 x ndays chunk of float32
#: is 1 MiB for a 16-day period.
CHUNK_CELLS = 128


@dataclass(frozen=True)
class VarSpec:
    """A data variable to create: dims are ('time', 'lat', 'lon') or ('lat', 'lon').

    ``fill_value``: None for netCDF's default fill of the dtype, a number, or False for no
    ``_FillValue`` at all (a variable that is always written in full, e.g. a flag field, so
    that readers do not decode it as masked floats).
    """

    name: str
    dims: tuple[str, ...]
    dtype: str = "f4"
    attrs: Mapping[str, object] = field(default_factory=dict)
    fill_value: float | int | Literal[False] | None = None

    def resolved_fill(self) -> float | int | None:
        """The ``_FillValue`` written, or None for a variable without one."""
        if self.fill_value is False:
            return None
        if self.fill_value is not None:
            return self.fill_value
        return netCDF4.default_fillvals[np.dtype(self.dtype).str[1:]]


def crs_attrs() -> dict[str, object]:
    """The CF grid mapping for EPSG:4326 (WGS 84 geographic)."""
    return {
        "grid_mapping_name": "latitude_longitude",
        "longitude_of_prime_meridian": 0.0,
        "semi_major_axis": 6378137.0,
        "inverse_flattening": 298.257223563,
        "epsg_code": "EPSG:4326",
        "crs_wkt": (
            'GEOGCRS["WGS 84",DATUM["World Geodetic System 1984",ELLIPSOID["WGS 84",'
            '6378137,298.257223563]],CS[ellipsoidal,2],AXIS["latitude",north],'
            'AXIS["longitude",east],ANGLEUNIT["degree",0.0174532925199433],ID["EPSG",4326]]'
        ),
    }


def days_since_epoch(days: Sequence[dt.date]) -> np.ndarray:
    epoch = dt.date(1970, 1, 1)
    return np.array([(d - epoch).days for d in days], dtype="f8")


def file_days(nc: netCDF4.Dataset) -> list[dt.date]:
    """The days of an open file's ``time`` axis (CF units, standard calendar); [] without one."""
    if "time" not in nc.variables:
        return []
    var = nc.variables["time"]
    values = np.asarray(var[:], dtype="f8")
    dates = netCDF4.num2date(
        values,
        var.units,
        getattr(var, "calendar", "standard"),
        only_use_cftime_datetimes=False,
        only_use_python_datetimes=True,
    )
    return [d.date() for d in np.atleast_1d(dates)]


def chunk_aligned_rows(block_rows: int) -> int:
    """Rows (or columns) per block for writing time cubes: ``block_rows`` rounded down to
    whole chunks (:data:`CHUNK_CELLS` cells) so that each compressed chunk is written once; a
    block smaller than one chunk is kept (each chunk is then completed over several
    writes)."""
    if block_rows < CHUNK_CELLS:
        return max(1, block_rows)
    return block_rows // CHUNK_CELLS * CHUNK_CELLS


def chunk_nested(cells: int) -> int:
    """Cells per block along an axis such that blocks and output chunks nest: ``cells``
    rounded down to whole chunks (:data:`CHUNK_CELLS`) when at least one chunk, otherwise
    to the largest power of two below it (a divisor of a chunk), so no block straddles a
    chunk's edge."""
    if cells >= CHUNK_CELLS:
        return cells // CHUNK_CELLS * CHUNK_CELLS
    return 1 << (max(1, cells).bit_length() - 1)


def cube_block_rows(chunk_rows: int, chunk_cells: int, nlon: int, ndays: int) -> int:
    """Rows per block for a job that holds every day of a period on its blocks of rows: at
    most ``chunk_rows`` rows (``resources.chunk_rows``, the bound every blocked rule keeps)
    and at most ``chunk_cells`` cell-days (a rule's own cap for wide regions or long
    periods), at least one row, then :func:`chunk_aligned_rows`. Neither bound grows with
    the region's height, so neither does a job's memory."""
    by_cells = chunk_cells // max(1, nlon * ndays)
    return chunk_aligned_rows(max(1, min(chunk_rows, by_cells)))


def keep_one_chunk_row(nlon: int, ndays: int, itemsize: int = 4) -> int:
    """Size each variable's chunk cache (of files opened from now on) to one row of
    float32 time-cube chunks, and return that size in bytes.

    netCDF's default cache (64 MB a variable) holds every chunk a job touches up to that
    size: for a job working through blocks of rows it holds whole variables of a region up
    to 64 MB each, so its memory grows with the region however small its blocks. One chunk
    row is what a block within it needs (the chunks it reads again for the next block).
    Files written by :class:`GridFileWriter` do not use this cache: their rows wait in
    :class:`smdownscale.chunkwrite.ChunkWriter`, at most one row of chunks a variable."""
    chunk = max(1, ndays) * CHUNK_CELLS * min(CHUNK_CELLS, nlon) * itemsize
    size = -(-nlon // CHUNK_CELLS) * chunk
    _, nelems, preemption = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(size + chunk // 2, nelems, preemption)  # slack for the headers
    return size


def set_chunk_cache(size: int) -> None:
    """netCDF's chunk cache for each variable of the files opened from now on: ``size``
    bytes (and a little slack for the headers)."""
    _, nelems, preemption = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(size + size // 8 + (1 << 16), nelems, preemption)


def keep_block_chunks(block_rows: int, block_cols: int, ndays: int, itemsize: int = 4) -> int:
    """Bytes of float32 time-cube chunks a job working through blocks nested in the chunks
    (:func:`chunk_nested`, taken by :func:`smdownscale.tiling.grid_blocks` with the chunk
    rows) reads again for its next block: the chunks of one block, at least one chunk high
    and wide. Unlike :func:`keep_one_chunk_row`, it does not grow with the region."""
    rows = -(-max(block_rows, CHUNK_CELLS) // CHUNK_CELLS)
    cols = -(-max(block_cols, CHUNK_CELLS) // CHUNK_CELLS)
    return rows * cols * max(1, ndays) * CHUNK_CELLS * CHUNK_CELLS * itemsize


def _chunks(dims: tuple[str, ...], grid: LatLonGrid, ntime: int) -> list[int]:
    sizes = {"time": max(ntime, 1), "lat": grid.nlat, "lon": grid.nlon}
    edge = {"time": max(ntime, 1), "lat": CHUNK_CELLS, "lon": CHUNK_CELLS}
    return [min(sizes[d], edge[d]) for d in dims]


class GridFileWriter:
    """Create a CF grid file and write its variables piece by piece.

    Use as a context manager; the file appears at ``path`` only after a clean exit::

        with GridFileWriter(path, grid, days, specs, attrs, threads=2) as w:
            for rows in blocks:
                w.write("lst", cube_rows, rows=rows)

    netCDF4 creates the file (dimensions, coordinates, variables, attributes); the data are
    then written through :class:`smdownscale.chunkwrite.ChunkWriter`, which compresses
    the chunks each write completes on ``threads`` threads (the bytes HDF5's own filters would
    write). Attributes set after the data (:meth:`set_attrs`) are added by netCDF4 at exit.
    """

    def __init__(
        self,
        path: str | Path,
        grid: LatLonGrid,
        days: Sequence[dt.date] | None,
        variables: Sequence[VarSpec],
        global_attrs: Mapping[str, object] | None = None,
        threads: int = 1,
    ) -> None:
        self.path = Path(path)
        self.grid = grid
        self.days = list(days) if days is not None else []
        self.variables = {v.name: v for v in variables}
        self.global_attrs = dict(global_attrs or {})
        self.threads = threads
        self._tmp = partial_name(self.path)
        self._nc: netCDF4.Dataset | None = None
        self._h5: h5py.File | None = None
        self._chunks: ChunkWriter | None = None
        self._late_attrs: dict[str, object] = {}

    def __enter__(self) -> GridFileWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._nc = netCDF4.Dataset(self._tmp, "w", format="NETCDF4")
            self._create()
            self._close_nc()
            self._h5 = h5py.File(self._tmp, "r+")
            self._chunks = ChunkWriter(self._h5, self.threads)
        except BaseException:
            self._close()
            self._tmp.unlink(missing_ok=True)
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._finish()
        finally:
            self._close()
        if exc_type is None:
            os.replace(self._tmp, self.path)
        else:  # never rename a partial file into place
            self._tmp.unlink(missing_ok=True)

    def _finish(self) -> None:
        """Write what is pending, then the late attributes (by netCDF4, as netCDF types)."""
        assert self._chunks is not None and self._h5 is not None
        self._chunks.close()
        self._chunks = None
        self._h5.close()
        self._h5 = None
        if self._late_attrs:
            self._nc = netCDF4.Dataset(self._tmp, "a")
            self._nc.setncatts(self._late_attrs)
            self._close_nc()

    def _close(self) -> None:
        self._close_nc()
        if self._chunks is not None:
            self._chunks.discard()
            self._chunks = None
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def _close_nc(self) -> None:
        if self._nc is not None and self._nc.isopen():
            self._nc.close()
        self._nc = None

    def _create(self) -> None:
        nc = self._nc
        assert nc is not None
        g = self.grid
        nc.setncatts({"Conventions": CONVENTIONS, **self.global_attrs})
        nc.createDimension("lat", g.nlat)
        nc.createDimension("lon", g.nlon)
        nc.createDimension("nv", 2)
        lat = nc.createVariable("lat", "f8", ("lat",))
        lat.setncatts(
            {
                "standard_name": "latitude",
                "long_name": "latitude of cell centre",
                "units": "degrees_north",
                "axis": "Y",
                "bounds": "lat_bnds",
            }
        )
        lat[:] = g.lat
        nc.createVariable("lat_bnds", "f8", ("lat", "nv"))[:] = g.lat_bounds
        lon = nc.createVariable("lon", "f8", ("lon",))
        lon.setncatts(
            {
                "standard_name": "longitude",
                "long_name": "longitude of cell centre",
                "units": "degrees_east",
                "axis": "X",
                "bounds": "lon_bnds",
            }
        )
        lon[:] = g.lon
        nc.createVariable("lon_bnds", "f8", ("lon", "nv"))[:] = g.lon_bounds
        crs = nc.createVariable("crs", "i4", ())
        crs.setncatts(crs_attrs())
        if self.days:
            nc.createDimension("time", len(self.days))
            t = nc.createVariable("time", "f8", ("time",))
            t.setncatts(
                {
                    "standard_name": "time",
                    "long_name": "day (UTC)",
                    "units": TIME_UNITS,
                    "calendar": "standard",
                    "axis": "T",
                }
            )
            t[:] = days_since_epoch(self.days)
        for spec in self.variables.values():
            if "time" in spec.dims and not self.days:
                raise ValueError(f"variable {spec.name} has a time axis but no days were given")
            var = nc.createVariable(
                spec.name,
                spec.dtype,
                spec.dims,
                zlib=True,
                complevel=4,
                shuffle=True,
                chunksizes=_chunks(spec.dims, g, len(self.days)),
                fill_value=False if spec.resolved_fill() is None else spec.resolved_fill(),
            )
            attrs = dict(spec.attrs)
            attrs.setdefault("grid_mapping", "crs")
            var.setncatts(attrs)
            var.set_auto_maskandscale(False)

    def write(
        self,
        name: str,
        values: np.ndarray,
        time_index: int | None = None,
        rows: slice | None = None,
        cols: slice | None = None,
    ) -> None:
        """Write a field, optionally only a block of rows (and of columns).

        With ``time_index``, ``values`` is one day (rows, cols); without it, a time variable
        takes every day at once (time, rows, cols) and a static one (rows, cols). NaN is
        replaced by the variable's fill value (an error for a variable without one).
        """
        assert self._chunks is not None, "write() outside the context manager"
        spec = self.variables[name]
        values = np.asarray(values)
        if np.issubdtype(values.dtype, np.floating) and np.dtype(spec.dtype).kind != "f":
            raise TypeError(f"{name}: float values for integer variable; convert first")
        fill = spec.resolved_fill()
        if np.dtype(spec.dtype).kind == "f":
            finite = np.isfinite(values)
            if fill is not None:
                values = np.where(finite, values, fill)
            elif not finite.all():
                raise ValueError(f"{name}: NaN values for a variable without a fill value")
        values = values.astype(spec.dtype, copy=False)
        rows = rows or slice(0, self.grid.nlat)
        rows = slice(*rows.indices(self.grid.nlat)[:2])
        cols = slice(*(cols or slice(0, self.grid.nlon)).indices(self.grid.nlon)[:2])
        if "time" in spec.dims and time_index is not None:
            self._chunks.write_through(name, (time_index,), values, rows, cols)
        else:
            self._chunks.write(name, values, rows, cols)

    def set_attrs(self, **attrs: object) -> None:
        """Add global attributes known only after the data (counts, summaries)."""
        assert self._chunks is not None, "set_attrs() outside the context manager"
        self._late_attrs.update(attrs)

    def read(self, name: str, rows: slice) -> np.ndarray:
        """Read back rows of a variable being written (all days), fill as NaN for floats."""
        assert self._chunks is not None and self._h5 is not None
        spec = self.variables[name]
        self._chunks.flush(name)
        arr = np.asarray(self._h5[name][..., rows, :])
        fill = spec.resolved_fill()
        if np.dtype(spec.dtype).kind == "f" and fill is not None:
            arr = np.where(arr == fill, np.nan, arr)
        return arr


def write_dataset(ds: xr.Dataset, path: str | Path, grid: LatLonGrid) -> None:
    """Write a small in-memory Dataset on ``grid`` as a CF-1.8 file, atomically.

    Coordinates get bounds and CF attributes; every data variable with lat/lon gets the
    ``crs`` grid mapping, zlib compression and a fill value.
    """
    ds = ds.copy()
    coords = grid.coords()
    ds = ds.assign_coords(lat=coords["lat"], lon=coords["lon"])
    ds["lat"].attrs["bounds"] = "lat_bnds"
    ds["lon"].attrs["bounds"] = "lon_bnds"
    ds["lat_bnds"] = (("lat", "nv"), grid.lat_bounds)
    ds["lon_bnds"] = (("lon", "nv"), grid.lon_bounds)
    ds["crs"] = xr.DataArray(np.int32(0), attrs=crs_attrs())
    encoding: dict[str, dict[str, object]] = {}
    ntime = ds.sizes.get("time", 1)
    for name, var in ds.data_vars.items():
        if name in ("lat_bnds", "lon_bnds", "crs"):
            continue
        if {"lat", "lon"} <= set(var.dims):
            var.attrs.setdefault("grid_mapping", "crs")
            enc: dict[str, object] = {"zlib": True, "complevel": 4, "shuffle": True}
            enc["chunksizes"] = (
                tuple(
                    _chunks(var.dims, grid, ntime)
                    if set(var.dims) <= {"time", "lat", "lon"}
                    else ()
                )
                or None
            )
            if enc["chunksizes"] is None:
                del enc["chunksizes"]
            if var.dtype.kind == "f":
                enc["_FillValue"] = netCDF4.default_fillvals[var.dtype.str[1:]]
            encoding[name] = enc
    if "time" in ds.coords:
        encoding["time"] = {"units": TIME_UNITS, "calendar": "standard", "dtype": "f8"}
        ds["time"].attrs.update({"standard_name": "time", "axis": "T"})
    ds.attrs.setdefault("Conventions", CONVENTIONS)
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, format="NETCDF4", engine="netcdf4", encoding=encoding)


def open_grid_dataset(path: str | Path) -> tuple[xr.Dataset, LatLonGrid]:
    """Open a workflow grid file lazily and rebuild its :class:`LatLonGrid`."""
    ds = xr.open_dataset(path, engine="netcdf4", chunks={})
    return ds, LatLonGrid.from_coords(ds["lat"].values, ds["lon"].values)


def read_cells(var: netCDF4.Variable, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Values of a (time, lat, lon) or (lat, lon) variable at cells ``(rows[i], cols[i])``.

    Returns (time, n) or (n,) float64 with fill values as NaN. Each stored chunk holding a
    requested cell is read once, however many cells it holds (stations cluster), so the
    cost is the number of distinct chunks, not of cells.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    var.set_auto_mask(True)
    chunking = var.chunking()
    shape = var.shape
    if chunking == "contiguous" or chunking is None:
        crow, ccol = shape[-2], shape[-1]
    else:
        crow, ccol = chunking[-2], chunking[-1]
    lead = shape[:-2]
    out = np.full((*lead, rows.size), np.nan)
    keys = (rows // crow) * (shape[-1] // ccol + 1) + cols // ccol
    for key in np.unique(keys):
        idx = np.flatnonzero(keys == key)
        r0 = int(rows[idx[0]] // crow * crow)
        c0 = int(cols[idx[0]] // ccol * ccol)
        block = var[..., r0 : min(r0 + crow, shape[-2]), c0 : min(c0 + ccol, shape[-1])]
        block = np.ma.filled(np.ma.asarray(block, dtype=np.float64), np.nan)
        out[..., idx] = block[..., rows[idx] - r0, cols[idx] - c0]
    return out


def read_rows(nc: netCDF4.Dataset, name: str, rows: slice, cols: slice | None = None) -> np.ndarray:
    """Rows (and columns: every one when None) of a (time, lat, lon) or (lat, lon) variable
    as float32, fill values as NaN."""
    var = nc.variables[name]
    var.set_auto_mask(True)
    return np.ma.filled(var[..., rows, cols or slice(None)].astype("f4"), np.nan)


def sites_in_regions(sites, regions_path: str):
    """The rows of ``sites`` (with fine_row, fine_col) whose fine cell lies in a region of
    the regions file (``region`` >= 0)."""
    with netCDF4.Dataset(regions_path) as nc:
        region = read_cells(nc.variables["region"], sites.fine_row, sites.fine_col)
    return sites[np.isfinite(region) & (region >= 0)]
