"""A table of station parameters kriged as fields: weights via clr, the rest as they are.

Where the fields are not kriged (no usable variogram, or the caller refuses kriging because
it did not beat the pooled fit), the caller's per-region table (:class:`RegionValues`)
supplies them; there is no average of the station values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..grid import LatLonGrid
from .fallback import SOURCE_KRIGED, RegionValues
from .geometry import KrigingError, check_points
from .simplex import WEIGHT_PREFIX, clr, clr_inverse, weights_sd
from .solve import OrdinaryKriging
from .variogram import KrigingSettings, fit_variogram

if TYPE_CHECKING:
    from .helper_grid import KrigedGrid


def _table_columns(table: Mapping[str, Any], columns: Sequence[str] | None) -> list[str]:
    names = [str(c) for c in table.keys()]
    if columns is not None:
        missing = [c for c in columns if c not in names]
        if missing:
            raise KrigingError(f"station table has no columns {missing}")
        return list(columns)
    chosen = [c for c in names if c.startswith((WEIGHT_PREFIX, "a_", "b_")) or c in ("log_sigma",)]
    if not chosen:
        raise KrigingError(
            "station table has no parameter columns (w_<member>, a_<member>, b_<member>, "
            f"log_sigma); columns are {names}"
        )
    return chosen


class ParameterKriging:
    """Krige a table of per-station parameters: weights via clr, the rest as they are.

    Args:
        table: a mapping (or pandas DataFrame) of column name -> (n,) values.
        lon, lat: station positions (degrees), (n,).
        settings: :class:`KrigingSettings`.
        columns: the parameter columns; default every ``w_*``, ``a_*``, ``b_*`` column and
            ``log_sigma``. Columns starting with ``w_`` are the weights (one simplex).
        fallback: per-region values of the same fields, used wherever the fields are not
            kriged (None: asking for values then raises :class:`KrigingError`).
        refuse: when given, the fields are not kriged even if a variogram is available, and
            this is the reason recorded (e.g. the pooled fit won the cross-validation).

    Stations with a non-finite position or parameter are dropped (``n_dropped``). Weight
    rows must be non-negative and sum to 1 within 1e-3 (they are re-closed exactly).

    Attributes:
        fields: output field names (the columns, in order).
        fit: the :class:`VariogramFit`.
        reason: None when kriged, else why not.
        fallback: field -> reason (None when kriged).
        fallback_table: the per-region values (or None).
        kriging: the :class:`OrdinaryKriging` (None when not kriged).
    """

    def __init__(
        self,
        table: Mapping[str, Any],
        lon: np.ndarray,
        lat: np.ndarray,
        settings: KrigingSettings | None = None,
        columns: Sequence[str] | None = None,
        fallback: RegionValues | None = None,
        refuse: str | None = None,
    ) -> None:
        self.settings = settings or KrigingSettings()
        self.fields = tuple(_table_columns(table, columns))
        lon, lat = check_points(lon, lat)
        raw = np.column_stack([np.asarray(table[c], dtype=np.float64) for c in self.fields])
        if raw.shape[0] != lon.size:
            raise KrigingError(f"station table has {raw.shape[0]} rows but {lon.size} positions")
        keep = np.isfinite(raw).all(axis=1) & np.isfinite(lon) & np.isfinite(lat)
        self.n_dropped = int((~keep).sum())
        self.n_stations = int(keep.sum())
        raw, lon, lat = raw[keep], lon[keep], lat[keep]
        if fallback is not None and set(fallback.fields) != set(self.fields):
            raise KrigingError(
                f"fallback fields {sorted(fallback.fields)} differ from {sorted(self.fields)}"
            )
        self.fallback_table = fallback
        self.weight_index = np.array(
            [i for i, c in enumerate(self.fields) if c.startswith(WEIGHT_PREFIX)], dtype=np.int64
        )
        z = raw.copy()
        if self.weight_index.size:
            w = raw[:, self.weight_index]
            if (w < -1e-9).any() or (np.abs(w.sum(axis=1) - 1.0) > 1e-3).any():
                raise KrigingError(
                    "station weights must be non-negative and sum to 1 (within 1e-3) per station"
                )
            w = np.maximum(w, 0.0)
            w /= w.sum(axis=1, keepdims=True)
            raw[:, self.weight_index] = w
            z[:, self.weight_index] = clr(w, self.settings.weight_floor)
        self.lon, self.lat = lon, lat
        self.station_values = raw
        self.station_z = z
        self.fit = fit_variogram(lon, lat, z, self.settings)
        self.kriging: OrdinaryKriging | None = None
        self.reason = self.fit.reason
        if self.fit.ok and refuse is not None:
            self.reason = refuse
        elif self.fit.ok:
            assert self.fit.model is not None
            try:
                self.kriging = OrdinaryKriging(lon, lat, z, self.fit.model)
            except KrigingError as exc:
                self.reason = str(exc)
        self.fallback = dict.fromkeys(self.fields, self.reason)

    @property
    def kriged(self) -> bool:
        """True when the fields are kriged, False when they take the per-region values."""
        return self.kriging is not None

    def finish(
        self, zmean: np.ndarray, nvar: np.ndarray, dtype: np.dtype | type = np.float64
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Output fields from kriged transformed means (F, ...) and normalised variance (...).

        Weights: softmax of the clr means, SD by :func:`weights_sd`; other fields: the mean,
        SD = sqrt(sill x normalised variance).
        """
        assert self.kriging is not None
        zmean = np.asarray(zmean, dtype=dtype)
        nvar = np.maximum(np.asarray(nvar, dtype=dtype), 0.0)
        sills = self.kriging.sills.astype(dtype)
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        nsd = np.sqrt(nvar)
        for i, name in enumerate(self.fields):
            if i not in self.weight_index:
                out[name] = (zmean[i], nsd * np.sqrt(sills[i]))
        if self.weight_index.size:
            wi = self.weight_index
            w = clr_inverse(zmean[wi], axis=0)
            zsd = nsd[None] * np.sqrt(sills[wi]).reshape((-1,) + (1,) * nvar.ndim)
            wsd = weights_sd(w, zsd, axis=0)
            for j, i in enumerate(wi):
                out[self.fields[i]] = (w[j], wsd[j])
        return {name: out[name] for name in self.fields}

    def fallback_values(
        self, labels: np.ndarray | None, shape: tuple[int, ...], dtype: np.dtype | type
    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
        """Field -> (mean, sd) of ``shape`` from the per-region table, and the source codes."""
        table = self.fallback_table
        if table is None:
            raise KrigingError(
                f"the parameters are not kriged ({self.reason}) and no per-region values "
                "were given to use instead"
            )
        mean, sd, source = table.lookup(labels, shape)
        pos = {name: i for i, name in enumerate(table.fields)}
        out = {
            name: (mean[pos[name]].astype(dtype), sd[pos[name]].astype(dtype))
            for name in self.fields
        }
        return out, source

    def at_points(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        regions: np.ndarray | None = None,
        dtype: np.dtype | type = np.float64,
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """field -> (mean (m,), sd (m,)) at points, kriged directly (no helper grid).

        ``regions``: the points' region labels, used only when not kriged. For held-out
        stations, build this object from the training stations only.
        """
        return self.at_points_with_source(lon, lat, regions, dtype)[0]

    def at_points_with_source(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        regions: np.ndarray | None = None,
        dtype: np.dtype | type = np.float64,
    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
        """As :meth:`at_points`, plus the per-point source code (int8, ``SOURCE_*``)."""
        lon, lat = check_points(lon, lat)
        if self.kriging is None:
            return self.fallback_values(regions, lon.shape, dtype)
        zmean, nvar = self.kriging.predict_normalised(lon, lat, self.settings.chunk_size)
        assert nvar is not None
        return self.finish(zmean.T, nvar, dtype), np.full(lon.shape, SOURCE_KRIGED, np.int8)

    def on_grid(
        self,
        grid: LatLonGrid,
        cell_regions: np.ndarray | Callable[[int, int], np.ndarray] | None = None,
        factor: int | None = None,
        dtype: np.dtype | type = np.float64,
        refine_radius: float | None = None,
        blend_cells: float = 0.0,
    ) -> KrigedGrid:
        """A :class:`KrigedGrid` of these parameters on ``grid`` (blocks computed on demand)."""
        from .helper_grid import KrigedGrid

        return KrigedGrid(self, grid, cell_regions, factor, dtype, refine_radius, blend_cells)
