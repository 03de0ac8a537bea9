"""Cut a flat NetCDF granule on a regular lat/lon grid to a window, keeping everything else.

:func:`subset_netcdf` copies every dimension, variable and attribute of the source
(NetCDF4/HDF5 model, DEFLATE with shuffle), slicing the ``lat`` and ``lon`` dimensions to
the cells whose centres lie in the bounding box; any variable keeps its dimension order
(IMERG's are lon-major). Coordinates are copied with the data, so the readers locate the
window from the file itself, exactly as they read a provider's own subset (GES DISC
OPeNDAP). One global attribute is added that says what was done.
"""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np

from ..products.base import ProductError

Bbox = tuple[float, float, float, float]


def coordinate_window(values: np.ndarray, lo: float, hi: float) -> slice:
    """Indices of the (monotonic) ``values`` within [lo, hi] as one slice."""
    idx = np.nonzero((values >= lo) & (values <= hi))[0]
    if idx.size == 0:
        raise ValueError(f"no coordinate in {lo:g}..{hi:g}")
    return slice(int(idx[0]), int(idx[-1]) + 1)


def subset_netcdf(src: Path, tmp: Path, bbox: Bbox, crop_attribute: tuple[str, str]) -> None:
    """Write ``tmp``: ``src`` cut to the cells of ``bbox`` (west, south, east, north)."""
    west, south, east, north = bbox
    try:
        ds = netCDF4.Dataset(src)
    except OSError as err:
        raise ProductError(src, f"cannot open it as NetCDF ({err})", "re-download it") from None
    try:
        if ds.groups:
            raise ProductError(src, f"holds groups ({', '.join(ds.groups)})",
                               "cannot crop it faithfully")  # fmt: skip
        windows = {}
        for dim, lo, hi in (("lat", south, north), ("lon", west, east)):
            if dim not in ds.dimensions or dim not in ds.variables:
                raise ProductError(src, f"no {dim!r} dimension and coordinate",
                                   "cannot crop it to the region")  # fmt: skip
            try:
                windows[dim] = coordinate_window(np.asarray(ds.variables[dim][:]), lo, hi)
            except ValueError:
                raise ProductError(src, f"no {dim} in {lo:g}..{hi:g}",
                                   "the file does not cover the region") from None  # fmt: skip
        out = netCDF4.Dataset(tmp, "w", format="NETCDF4")
        try:
            for name, dim in ds.dimensions.items():
                w = windows.get(name)
                size = None if dim.isunlimited() else (w.stop - w.start if w else len(dim))
                out.createDimension(name, size)
            for name, var in ds.variables.items():
                attrs = {k: var.getncattr(k) for k in var.ncattrs()}
                fill = attrs.pop("_FillValue", None)
                var.set_auto_maskandscale(False)
                new = out.createVariable(
                    name, var.dtype, var.dimensions, zlib=True, complevel=4, shuffle=True,
                    fill_value=fill,
                )  # fmt: skip
                new.set_auto_maskandscale(False)
                new.setncatts(attrs)
                index = tuple(windows.get(d, slice(None)) for d in var.dimensions)
                new[...] = var[index] if var.dimensions else var.getValue()
            out.setncatts({k: ds.getncattr(k) for k in ds.ncattrs()})
            out.setncattr(*crop_attribute)
        finally:
            out.close()
    finally:
        ds.close()


def read_text_attribute(path: Path, name: str) -> str | None:
    """A global attribute of a NetCDF file, or None when it has none (or it is unreadable)."""
    try:
        with netCDF4.Dataset(path) as ds:
            return str(ds.getncattr(name)) if name in ds.ncattrs() else None
    except OSError:
        return None
