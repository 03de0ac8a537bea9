"""Kriged parameter fields on the fine grid, in row blocks.

The fine grid: helper grid, bilinear interpolation, direct kriging near stations
Kriging every one of the 9.1 M cells of the Three-North 0.01 deg grid from 300 stations
costs 9.1 M x 300^2 = 8e11 multiply-adds for the variances alone (~115 s on 2 cores).
:class:`KrigedGrid` kriges a helper grid made of every ``factor``-th fine cell centre
(rows and columns, plus the last row and column; default 10, i.e. 0.1 deg) and
interpolates bilinearly (in cell index, i.e. in lon/lat) to the fine cells, one row block
at a time; the helper rows a block needs are kriged on demand and dropped once passed, so
memory is bounded by the block size whatever the grid size. The clr means, the linear
fields' means and the one normalised kriging *variance* are interpolated; SDs and weights
are formed per fine cell afterwards (so weights still sum to one and SDs stay
non-negative). Kriged surfaces have a cusp at every station (the mean is pinned to the
station value, the variance drops to 0 there; for the exponential model both change
linearly with distance), which bilinear interpolation between nodes 0.1 deg apart cuts
off: so the fine cells within ``refine_radius x factor`` cells (default 2 x 10 = 20
cells, 0.2 deg) of a station are kriged directly (~1700 cells per station).
``factor=1`` kriges every fine cell directly (same code path).

Interpolation error, measured by ``tests/benchmarks/bench_kriging.py`` against direct
kriging of 200,000 random fine cells plus every station's own cell (300 stations over the
1671 x 5441 Three-North grid, 13 fields simulated as exponential random fields with a
400 km length scale, pooled exponential fit without nugget, factor 10, refine 2):
a, b and log sigma: mean max |error| 1.9 %, RMS 0.056 % of the field's station SD; SD
max 0.85 %, RMS 0.045 %. Weights: mean max 2.5e-3, RMS 8.7e-5; SD max 1.5e-3, RMS 6.1e-5
(weight units). Cells holding a station agree to float32 rounding (kriged directly).
Without the direct kriging near stations (``refine_radius=0``) the largest errors, all at
the stations' cusps, are ~10x larger (up to 4 % of the station SD for means and 18 % for
SDs on a 400 x 800-cell part of the same grid). Cost of the whole grid, all 13 fields with
SD, float32 blocks of 64 rows: 10.8 s wall on 2 cores, peak RSS rise 202 MiB (the grid's
13 x 2 float32 fields alone would be 950 MB).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..grid import LatLonGrid
from .fallback import SOURCE_KRIGED, SOURCE_MEANINGS, RegionValues, blend_across_regions
from .fields import ParameterKriging
from .geometry import KrigingError
from .variogram import KrigingSettings


def helper_index(n: int, factor: int) -> np.ndarray:
    """Fine indices of the helper nodes along an axis of ``n`` cells: 0, f, 2f, ..., n-1."""
    idx = np.arange(0, n, factor, dtype=np.int64)
    if idx[-1] != n - 1:
        idx = np.append(idx, n - 1)
    return idx


def _interp_weights(
    nodes: np.ndarray, pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower node, upper node and the upper node's weight of each fine index."""
    if nodes.size == 1:
        zero = np.zeros(pos.size, dtype=np.int64)
        return zero, zero, np.zeros(pos.size)
    i0 = np.clip(np.searchsorted(nodes, pos, side="right") - 1, 0, nodes.size - 2)
    t = (pos - nodes[i0]) / (nodes[i0 + 1] - nodes[i0])
    i1 = np.where(t > 0, i0 + 1, i0)
    return i0, i1, t


class KrigedGrid:
    """Kriged parameter fields on a fine :class:`LatLonGrid`, produced in row blocks.

    Kriged on a helper grid (every ``factor``-th fine cell centre, plus the last row and
    column) and interpolated bilinearly to the fine cells; the helper rows a block needs
    are kriged on demand and forgotten once the blocks have moved past them (iterate blocks
    top to bottom; any order works, at the cost of re-kriging). ``factor=1`` kriges every
    fine cell. When not kriged, blocks take the per-region values of the cells' regions.

    Args:
        params: the fitted :class:`ParameterKriging`.
        grid: the fine grid.
        cell_regions: region labels of the fine cells, (nlat, nlon) array or a function
            ``(row0, row1) -> (row1 - row0, nlon)``; used only when not kriged.
        factor: helper-grid factor (default ``settings.helper_factor``).
        dtype: dtype of the returned blocks (interpolation to fine cells runs in it).
        refine_radius: direct kriging near stations (default ``settings.refine_radius``).
        blend_cells: when not kriged, the per-region values are mixed across region borders
            by Gaussian weights of this SD in fine cells (:func:`.blend_across_regions`);
            0 keeps them piecewise constant. The source codes stay the cell's own region's.

    Attributes: ``fields``, ``fallback`` (field -> reason or None), ``fit``, ``grid``,
    ``factor``, ``kriged``.
    """

    def __init__(
        self,
        params: ParameterKriging,
        grid: LatLonGrid,
        cell_regions: np.ndarray | Callable[[int, int], np.ndarray] | None = None,
        factor: int | None = None,
        dtype: np.dtype | type = np.float64,
        refine_radius: float | None = None,
        blend_cells: float = 0.0,
    ) -> None:
        if not blend_cells >= 0:
            raise KrigingError(f"blend_cells must be >= 0, got {blend_cells}")
        self.blend_cells = float(blend_cells)
        self.params = params
        self.grid = grid
        self.fields = params.fields
        self.fallback = dict(params.fallback)
        self.fit = params.fit
        self.kriged = params.kriged
        self.factor = int(factor if factor is not None else params.settings.helper_factor)
        if self.factor < 1:
            raise KrigingError(f"helper factor must be >= 1, got {self.factor}")
        self.dtype = np.dtype(dtype)
        self._regions = cell_regions
        if isinstance(cell_regions, np.ndarray) and cell_regions.shape != grid.shape:
            raise KrigingError(
                f"cell region labels have shape {cell_regions.shape}, grid is {grid.shape}"
            )
        nlat, nlon = grid.shape
        self._rows = helper_index(nlat, self.factor)
        self._cols = helper_index(nlon, self.factor)
        self._lat = grid.lat
        self._lon = grid.lon
        self._cj0, self._cj1, ct = _interp_weights(self._cols, np.arange(nlon))
        self._ct = ct.astype(self.dtype)
        self._cache: dict[int, np.ndarray] = {}
        radius = params.settings.refine_radius if refine_radius is None else refine_radius
        if not radius >= 0:
            raise KrigingError(f"refine_radius must be >= 0, got {radius}")
        self.refine_radius = float(radius)
        self._patches = self._station_patches(self.refine_radius * self.factor)
        #: Fine cells kriged directly near stations so far (blocks computed).
        self.n_refined = 0

    def _station_patches(self, half_width: float) -> np.ndarray:
        """(p, 4) int64 [row0, row1, col0, col1) of the fine cells kriged directly per station.

        Cells within ``half_width`` fine cells (row and column index distance) of a station's
        position, clipped to the grid; none when kriging every cell or not kriging.
        """
        if self.factor == 1 or not self.kriged or half_width <= 0:
            return np.zeros((0, 4), dtype=np.int64)
        g = self.grid
        pr = (g.north - self.params.lat) / g.res - 0.5  # fine row index coordinate
        pc = (self.params.lon - g.west) / g.res - 0.5
        r0 = np.clip(np.ceil(pr - half_width), 0, g.nlat).astype(np.int64)
        r1 = np.clip(np.floor(pr + half_width) + 1, 0, g.nlat).astype(np.int64)
        c0 = np.clip(np.ceil(pc - half_width), 0, g.nlon).astype(np.int64)
        c1 = np.clip(np.floor(pc + half_width) + 1, 0, g.nlon).astype(np.int64)
        keep = (r1 > r0) & (c1 > c0)
        return np.column_stack([r0, r1, c0, c1])[keep]

    def refine_mask(self, row0: int, row1: int) -> np.ndarray:
        """(row1 - row0, nlon) bool: fine cells kriged directly (near stations)."""
        mask = np.zeros((row1 - row0, self.grid.nlon), dtype=bool)
        p = self._patches
        hit = p[(p[:, 0] < row1) & (p[:, 1] > row0)]
        for r0, r1, c0, c1 in hit:
            mask[max(r0, row0) - row0 : min(r1, row1) - row0, c0:c1] = True
        return mask

    @property
    def helper_shape(self) -> tuple[int, int]:
        """Shape of the helper grid (rows, columns)."""
        return (self._rows.size, self._cols.size)

    def row_blocks(self, rows: int) -> Iterator[tuple[int, int]]:
        """(row0, row1) pairs covering the grid in blocks of ``rows`` rows, north to south."""
        nlat = self.grid.nlat
        for r0 in range(0, nlat, max(1, int(rows))):
            yield r0, min(nlat, r0 + int(rows))

    def _helper_rows(self, needed: np.ndarray) -> np.ndarray:
        """(F + 1, len(needed), n_cols) kriged clr/linear means and normalised variance."""
        kr = self.params.kriging
        assert kr is not None
        lo = int(needed.min())
        for key in [k for k in self._cache if k < lo]:
            del self._cache[key]
        missing = [int(i) for i in needed if int(i) not in self._cache]
        if missing:
            lat = np.repeat(self._lat[self._rows[missing]], self._cols.size)
            lon = np.tile(self._lon[self._cols], len(missing))
            mean, nvar = kr.predict_normalised(lon, lat, self.params.settings.chunk_size)
            assert nvar is not None
            stack = np.concatenate([mean.T, nvar[None, :]], axis=0)
            stack = stack.reshape(kr.n_fields + 1, len(missing), self._cols.size)
            for j, i in enumerate(missing):
                self._cache[i] = stack[:, j, :].copy()
        return np.stack([self._cache[int(i)] for i in needed], axis=1)

    def _labels(self, row0: int, row1: int) -> np.ndarray | None:
        if self._regions is None:
            return None
        if callable(self._regions):
            return np.asarray(self._regions(row0, row1))
        return np.asarray(self._regions[row0:row1])

    def _check_rows(self, row0: int, row1: int) -> None:
        if not 0 <= row0 < row1 <= self.grid.nlat:
            raise KrigingError(f"row block [{row0}, {row1}) outside the grid's {self.grid.nlat}")

    def block(self, row0: int, row1: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """field -> (mean, sd), each (row1 - row0, nlon), for fine rows [row0, row1).

        Weights are non-negative and sum to 1 at every cell; SDs are kriging SDs (delta
        method for weights) or, when not kriged, the SDs of the per-region values.
        """
        return self.block_with_source(row0, row1)[0]

    def block_with_source(
        self, row0: int, row1: int
    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
        """As :meth:`block`, plus the per-cell source code (int8 ``SOURCE_*``)."""
        self._check_rows(row0, row1)
        shape = (row1 - row0, self.grid.nlon)
        if not self.kriged:
            return self._fallback_block(row0, row1)
        i0, i1, t = _interp_weights(self._rows, np.arange(row0, row1))
        needed = np.unique(np.concatenate([i0, i1]))
        h = self._helper_rows(needed)
        pos = {int(k): j for j, k in enumerate(needed)}
        a = h[:, [pos[int(k)] for k in i0], :]
        if (t > 0).any():
            b = h[:, [pos[int(k)] for k in i1], :]
            a = a + t[None, :, None] * (b - a)
        g = a.astype(self.dtype)
        if self.factor == 1:
            fine = g
        else:
            fine = g[:, :, self._cj0]
            fine += self._ct * (g[:, :, self._cj1] - fine)
            rows, cols = np.nonzero(self.refine_mask(row0, row1))
            if rows.size:
                kr = self.params.kriging
                assert kr is not None
                mean, nvar = kr.predict_normalised(
                    self._lon[cols], self._lat[row0 + rows], self.params.settings.chunk_size
                )
                fine[:-1, rows, cols] = mean.T
                fine[-1, rows, cols] = nvar
                self.n_refined += int(rows.size)
        out = self.params.finish(fine[:-1], fine[-1], self.dtype)
        return out, np.full(shape, SOURCE_KRIGED, np.int8)

    def _fallback_block(
        self, row0: int, row1: int
    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
        """Per-region values of fine rows [row0, row1), blended across region borders.

        The blend reads the labels of a halo of the Gaussian's reach around the block, so
        the result does not depend on the block size."""
        shape = (row1 - row0, self.grid.nlon)
        labels = self._labels(row0, row1)
        if self.blend_cells <= 0 or labels is None:
            return self.params.fallback_values(labels, shape, self.dtype)
        pad = int(np.ceil(2 * self.blend_cells)) + 1
        h0, h1 = max(0, row0 - pad), min(self.grid.nlat, row1 + pad)
        halo = self._labels(h0, h1)
        assert halo is not None
        values, source = self.params.fallback_values(halo, halo.shape, np.float64)
        names = list(values)
        stack = np.stack([values[n][k] for n in names for k in (0, 1)])
        mixed = blend_across_regions(stack, halo, self.blend_cells)[:, row0 - h0 : row1 - h0]
        out = {
            n: (mixed[2 * i].astype(self.dtype), mixed[2 * i + 1].astype(self.dtype))
            for i, n in enumerate(names)
        }
        return out, source[row0 - h0 : row1 - h0]

    def source(self, row0: int, row1: int) -> np.ndarray:
        """(row1 - row0, nlon) int8 source codes (:data:`SOURCE_MEANINGS`)."""
        self._check_rows(row0, row1)
        shape = (row1 - row0, self.grid.nlon)
        if self.kriged:
            return np.full(shape, SOURCE_KRIGED, np.int8)
        return self.params.fallback_values(self._labels(row0, row1), shape, self.dtype)[1]

    def to_dataset(self, rows_per_block: int = 256) -> xr.Dataset:
        """The whole grid as an xarray Dataset (``<field>``, ``<field>_sd``, ``source``).

        Holds every field in memory: for small grids (tests, the demo); a rule writing the
        9.1 M-cell grid should iterate :meth:`row_blocks` / :meth:`block` instead.
        """
        nlat, nlon = self.grid.shape
        data = {
            name: (np.empty((nlat, nlon), self.dtype), np.empty((nlat, nlon), self.dtype))
            for name in self.fields
        }
        source = np.empty((nlat, nlon), np.int8)
        for r0, r1 in self.row_blocks(rows_per_block):
            blk, src = self.block_with_source(r0, r1)
            for name in self.fields:
                data[name][0][r0:r1] = blk[name][0]
                data[name][1][r0:r1] = blk[name][1]
            source[r0:r1] = src
        coords = self.grid.coords()
        variables: dict[str, xr.DataArray] = {}
        for name in self.fields:
            reason = self.fallback[name]
            method = "ordinary kriging" if reason is None else f"per-region values ({reason})"
            variables[name] = xr.DataArray(
                data[name][0], dims=("lat", "lon"), coords=coords, attrs={"method": method}
            )
            variables[f"{name}_sd"] = xr.DataArray(
                data[name][1],
                dims=("lat", "lon"),
                coords=coords,
                attrs={"long_name": f"standard deviation of {name}"},
            )
        variables["source"] = xr.DataArray(
            source,
            dims=("lat", "lon"),
            coords=coords,
            attrs={
                "flag_values": np.array(list(SOURCE_MEANINGS), np.int8),
                "flag_meanings": " ".join(SOURCE_MEANINGS.values()),
            },
        )
        attrs = {k: v for k, v in self.fit.attrs().items() if v is not None}
        attrs["kriging_helper_factor"] = self.factor
        return xr.Dataset(variables, attrs=attrs)


def krige_parameters(
    table: Mapping[str, Any],
    lon: np.ndarray,
    lat: np.ndarray,
    grid: LatLonGrid,
    settings: KrigingSettings | None = None,
    cell_regions: np.ndarray | Callable[[int, int], np.ndarray] | None = None,
    columns: Sequence[str] | None = None,
    dtype: np.dtype | type = np.float64,
    fallback: RegionValues | None = None,
) -> KrigedGrid:
    """Krige a station parameter table to ``grid``: the one-call convenience.

    Weight columns ``w_<member>`` go clr -> krige -> softmax (non-negative, summing to 1 at
    every cell); ``a_<member>``, ``b_<member>``, ``log_sigma`` are kriged as they are. The
    variogram is fitted once (pooled); when no fit is usable, every cell takes its region's
    row of ``fallback`` (see :class:`ParameterKriging`). Iterate ``result.row_blocks(rows)``
    and call ``result.block(row0, row1)`` to get field -> (mean, sd) arrays of (rows, nlon).
    """
    params = ParameterKriging(table, lon, lat, settings, columns, fallback)
    return params.on_grid(grid, cell_regions, None, dtype)
