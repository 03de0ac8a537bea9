"""Figures of the validation report (issue 5, item 5): pure plotting functions.

Every function takes data already in memory or lazily opened (numpy arrays, pandas objects,
xarray DataArrays; never file paths) and returns a :class:`matplotlib.figure.Figure`. The
figures are built with the object-oriented API on ``matplotlib.figure.Figure`` directly, so
they are never registered with pyplot: nothing has to be closed, a figure is freed when the
caller drops it, and saving is ``fig.savefig(path)`` (dpi :data:`DPI` is set on the figure).
The non-interactive Agg backend is selected on import. No basemaps, no downloads.

Conventions
    * Soil moisture is in :data:`SM_UNITS` (``m3 m-3``), precipitation in ``mm/d``, lags in
      km; BMA weights and normalised semivariances are dimensionless (``1``).
    * Every axis has a label with its units and every figure a title (``fig.suptitle``; each
      panel also has its own title). Maps have a colour bar.
    * Maps: ``imshow`` with ``extent`` from the cell-centred ``lat`` / ``lon`` coordinates
      (the extent reaches half a cell beyond the outer centres), ``origin="upper"`` for the
      lat-descending grids of this workflow (lat-ascending input is flipped to descending;
      lon-descending input to ascending), equal aspect (degrees). Large grids are strided
      by the same step along both axes so that no map has more than ``max_pixels``
      (default :data:`MAX_PIXELS`) per side (:func:`stride_step`, :func:`strided`); the
      image then shows every ``step``-th cell, not a block mean, and the panel title says
      "every Nth cell".
    * Sizes are chosen for about 10 x 6 inches at 110 dpi; figures with many rows (networks,
      stations, table rows) grow in height instead of shrinking their text.

Missing values (NaN, masked) are never an error: maps leave such cells blank (the axes
background), and a panel or figure without a single finite value says "no valid data" in
its middle; the colour scale then falls back to ``[vmin, vmin + 1]`` (or ``[0, 1]``) so the
colour bar still draws. Statistics in annotations (R, RMSE, bias) come from
:func:`smdownscale.metrics.score`, so they match the metric tables (NaN shown as "n/a").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
from matplotlib import cbook
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from smdownscale import metrics

#: Units of soil moisture (volumetric) on every axis and colour bar.
SM_UNITS = "m3 m-3"
#: Axis / colour bar label of soil moisture.
SM_LABEL = f"soil moisture ({SM_UNITS})"
#: Units of precipitation on the time-series twin axis.
PRECIP_UNITS = "mm/d"
LON_LABEL = "longitude (°E)"
LAT_LABEL = "latitude (°N)"
#: Resolution the figures are sized for (set on every returned figure).
DPI = 110
#: Default figure size (inches) that the layouts are designed around.
FIGSIZE = (10.0, 6.0)
#: At most this many pixels per side of a map (larger grids are strided).
MAX_PIXELS = 800
#: Text drawn in panels that have no finite value at all.
NO_DATA = "no valid data"

_LAT_NAMES = ("lat", "latitude", "y")
_LON_NAMES = ("lon", "longitude", "x")


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _figure(width: float, height: float) -> Figure:
    """A new constrained-layout figure, not registered with pyplot."""
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _float(a: Any) -> np.ndarray:
    """``a`` as a float64 ndarray with masked values as NaN."""
    return np.asarray(np.ma.filled(np.ma.asarray(a, dtype=np.float64), np.nan), dtype=np.float64)


def _fmt(x: float, spec: str = "{:.3f}") -> str:
    return "n/a" if x is None or not np.isfinite(x) else spec.format(x)


def _no_data(ax: Axes, text: str = NO_DATA) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=9,
        color="0.35",
        bbox={"facecolor": "white", "edgecolor": "0.6", "alpha": 0.8},
    )


def _grid_shape(n: int, aspect: float = FIGSIZE[0] / FIGSIZE[1]) -> tuple[int, int]:
    """Rows and columns for ``n`` panels on a page of width/height ``aspect``."""
    if n <= 0:
        return 1, 1
    nrows = max(1, round(math.sqrt(n / aspect)))
    ncols = math.ceil(n / nrows)
    nrows = math.ceil(n / ncols)
    return nrows, ncols


def stride_step(shape: Sequence[int], max_pixels: int = MAX_PIXELS) -> int:
    """The stride (same along both axes) that leaves at most ``max_pixels`` per side.

    ``ceil(max(shape) / max_pixels)``, at least 1: a 2400 x 1000 grid with the default 800
    gives 3 (800 x 334 pixels).
    """
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be >= 1, got {max_pixels}")
    longest = max((int(s) for s in shape), default=1)
    return max(1, math.ceil(longest / max_pixels))


def strided(
    field: Any, lat: Any, lon: Any, max_pixels: int = MAX_PIXELS
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``field[::s, ::s]``, ``lat[::s]``, ``lon[::s]`` and ``s`` = :func:`stride_step`.

    ``field`` is a 2-D (lat, lon) array (numpy, masked or anything indexable such as a lazy
    DataArray / netCDF variable, so only the kept cells are read); returned as float64 with
    masked values as NaN. Raises ``ValueError`` if the shapes disagree.
    """
    lat = _float(lat).ravel()
    lon = _float(lon).ravel()
    shape = tuple(getattr(field, "shape", np.shape(field)))
    if len(shape) != 2 or shape != (lat.size, lon.size):
        raise ValueError(
            f"field shape {shape} does not match (lat, lon) = ({lat.size}, {lon.size})"
        )
    s = stride_step(shape, max_pixels)
    return _float(field[::s, ::s]), lat[::s], lon[::s], s


def _spacing(c: np.ndarray, fallback: float) -> float:
    if c.size >= 2:
        d = np.abs(np.diff(c))
        d = d[np.isfinite(d) & (d > 0)]
        if d.size:
            return float(np.median(d))
    return fallback


def map_extent(lat: Any, lon: Any, step: int = 1) -> list[float]:
    """``[left, right, bottom, top]`` of cell-centred coordinates for ``imshow``.

    ``lat`` / ``lon`` are the centres of the displayed pixels (already strided, ascending
    lon and descending lat); the extent is the outer centres plus half a pixel, the pixel
    size being the median spacing of the centres. A single centre along an axis takes the
    other axis's spacing, or ``step`` degrees if both are single.
    """
    lat = _float(lat).ravel()
    lon = _float(lon).ravel()
    dlat = _spacing(lat, math.nan)
    dlon = _spacing(lon, math.nan)
    dlat = dlat if np.isfinite(dlat) else (dlon if np.isfinite(dlon) else float(step))
    dlon = dlon if np.isfinite(dlon) else dlat
    return [
        float(lon.min() - dlon / 2),
        float(lon.max() + dlon / 2),
        float(lat.min() - dlat / 2),
        float(lat.max() + dlat / 2),
    ]


def _dims(da: Any) -> tuple[str, str]:
    lat = next((d for d in da.dims if str(d).lower() in _LAT_NAMES), None)
    lon = next((d for d in da.dims if str(d).lower() in _LON_NAMES), None)
    if lat is None or lon is None:
        raise ValueError(f"cannot find lat/lon dimensions among {tuple(da.dims)}")
    return lat, lon


def map_field(
    field: Any, lat: Any = None, lon: Any = None, max_pixels: int = MAX_PIXELS
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """A map's strided data: ``(values, lat, lon, step)`` from any accepted field form.

    ``field`` is an xarray DataArray with lat/lon dimensions (named lat/latitude/y and
    lon/longitude/x; other dimensions must have length 1 and are dropped; a lazy array is
    strided before it is loaded), a tuple ``(values, lat, lon)``, or a 2-D array with
    ``lat`` and ``lon`` given. The result is float64 (NaN for missing), lat descending and
    lon ascending, at most ``max_pixels`` per side.
    """
    if hasattr(field, "dims") and hasattr(field, "isel"):
        dlat, dlon = _dims(field)
        extra = {d: 0 for d in field.dims if d not in (dlat, dlon)}
        for d in extra:
            if field.sizes[d] != 1:
                raise ValueError(f"map field has a non-singleton dimension {d!r}")
        da = field.isel(extra).transpose(dlat, dlon)
        s = stride_step(da.shape, max_pixels)
        da = da.isel({dlat: slice(None, None, s), dlon: slice(None, None, s)})
        values = _float(da.values)
        lat_s = _float(da[dlat].values)
        lon_s = _float(da[dlon].values)
    else:
        if isinstance(field, tuple):
            if len(field) != 3:
                raise ValueError("a map field tuple must be (values, lat, lon)")
            field, lat, lon = field
        if lat is None or lon is None:
            raise ValueError("a plain array map field needs its lat and lon")
        values, lat_s, lon_s, s = strided(field, lat, lon, max_pixels)
    if lat_s.size > 1 and lat_s[0] < lat_s[-1]:
        values, lat_s = values[::-1, :], lat_s[::-1]
    if lon_s.size > 1 and lon_s[0] > lon_s[-1]:
        values, lon_s = values[:, ::-1], lon_s[::-1]
    return values, lat_s, lon_s, s


def _color_limits(
    arrays: Sequence[np.ndarray], vmin: float | None, vmax: float | None
) -> tuple[float, float]:
    """Shared colour limits: the given ones, else the finite min / max of all arrays.

    Without any finite value the missing limits are 0 and ``lo + 1``; a degenerate range
    (constant data) is widened by 5 % of ``|lo|`` (at least 0.001) so the colour bar draws.
    """
    if vmin is not None and vmax is not None and not vmax > vmin:
        raise ValueError(f"vmax ({vmax}) must exceed vmin ({vmin})")
    finite = [a[np.isfinite(a)] for a in arrays]
    finite = [a for a in finite if a.size]
    if vmin is not None:
        lo = float(vmin)
    else:
        lo = min(float(a.min()) for a in finite) if finite else 0.0
    if vmax is not None:
        hi = float(vmax)
    elif finite:
        hi = max(float(a.max()) for a in finite)
        if not hi > lo:
            hi = lo + max(1e-3, 0.05 * abs(lo))
    else:
        hi = lo + 1.0
    return lo, hi


def _map_figure(n: int, lat: np.ndarray, lon: np.ndarray, colorbars: int = 1) -> Figure:
    """A figure for ``n`` map panels sized to the grid's shape (height / width in degrees)."""
    nrows, ncols = _grid_shape(n)
    width = max(FIGSIZE[0], 3.0 * ncols)
    ext = map_extent(lat, lon)
    aspect = (ext[3] - ext[2]) / (ext[1] - ext[0])
    panel_w = (width - 1.2 * colorbars) / ncols - 0.45
    height = nrows * (panel_w * aspect + 0.75) + 0.5
    return _figure(width, min(max(height, 3.5), max(FIGSIZE[1], 4.5 * nrows)))


def _map_axes(fig: Figure, n: int, aspect: float | None = None) -> list[Axes]:
    nrows, ncols = _grid_shape(n) if aspect is None else _grid_shape(n, aspect)
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(n)]
    for i, ax in enumerate(axes):
        if i % ncols == 0:
            ax.set_ylabel(LAT_LABEL, fontsize=8)
        if i + ncols >= n:  # nothing below it in its column
            ax.set_xlabel(LON_LABEL, fontsize=8)
        ax.tick_params(labelsize=7)
    return axes


def _draw_map(
    ax: Axes,
    values: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    step: int,
    title: str,
    cmap: str,
    vmin: float,
    vmax: float,
    stations: Any = None,
):
    im = ax.imshow(
        values,
        extent=map_extent(lat, lon, step),
        origin="upper",
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        interpolation="nearest",
        aspect="equal",
    )
    ax.set_title(title if step == 1 else f"{title} (cells strided by {step})", fontsize=9)
    if stations is not None:
        slon = _float(stations["lon"]).ravel()
        slat = _float(stations["lat"]).ravel()
        ax.scatter(slon, slat, s=10, c="white", edgecolors="black", linewidths=0.6, zorder=3)
        ext = map_extent(lat, lon, step)
        ax.set_xlim(ext[0], ext[1])
        ax.set_ylim(ext[2], ext[3])
    if not np.isfinite(values).any():
        _no_data(ax)
    return im


# ---------------------------------------------------------------------------------------------
# 1. map panels
# ---------------------------------------------------------------------------------------------


def map_panels(
    fields: Mapping[str, Any],
    title: str,
    cmap: str = "YlGnBu",
    vmin: float | None = 0.0,
    vmax: float | None = None,
    stations: Any = None,
    *,
    lat: Any = None,
    lon: Any = None,
    units_label: str = SM_LABEL,
    max_pixels: int = MAX_PIXELS,
) -> Figure:
    """One map panel per field, all on one colour scale with one colour bar.

    ``fields`` maps a panel title to a field: a DataArray with lat/lon dimensions, a tuple
    ``(values, lat, lon)``, or a 2-D array when ``lat`` and ``lon`` are given here (see
    :func:`map_field`). Panels are laid out in a grid in the mapping's order (e.g. the coarse
    product, each member, BMA for one day). ``vmin`` / ``vmax`` fix the shared colour scale;
    ``None`` takes the minimum / maximum of the finite values over all panels.
    ``stations``, optional, is anything with ``["lon"]`` and ``["lat"]`` (a DataFrame):
    drawn as white dots on every panel. ``units_label`` labels the colour bar.

    Returns a figure with ``len(fields)`` map axes (in order, each with one image) followed
    by one colour-bar axes. All-NaN fields draw as blank panels marked "no valid data".
    """
    if not fields:
        raise ValueError("map_panels needs at least one field")
    data = {k: map_field(v, lat, lon, max_pixels) for k, v in fields.items()}
    lo, hi = _color_limits([d[0] for d in data.values()], vmin, vmax)
    n = len(data)
    first = next(iter(data.values()))
    fig = _map_figure(n, first[1], first[2])
    axes = _map_axes(fig, n)
    im = None
    for ax, (name, (values, f_lat, f_lon, s)) in zip(axes, data.items(), strict=True):
        im = _draw_map(ax, values, f_lat, f_lon, s, str(name), cmap, lo, hi, stations)
    cb = fig.colorbar(im, ax=axes, shrink=0.85)
    cb.set_label(units_label)
    fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------------------
# 2. BMA predictive sd and weights
# ---------------------------------------------------------------------------------------------


def sd_and_weight_maps(
    sm_sd: Any,
    weights: Mapping[str, Any],
    lat: Any,
    lon: Any,
    title: str = "BMA predictive standard deviation and member weights",
    stations: Any = None,
    *,
    sd_vmax: float | None = None,
    max_pixels: int = MAX_PIXELS,
) -> Figure:
    """The BMA predictive sd map (own colour bar, m3 m-3) and one weight map per member.

    ``sm_sd`` and each ``weights[member]`` are 2-D (lat, lon) arrays (or DataArrays) on the
    grid of ``lat`` / ``lon``. The weight maps share one colour bar fixed to [0, 1]
    (dimensionless); the sd scale runs from 0 to ``sd_vmax`` (default: its finite maximum).

    Returns a figure whose first axes is the sd map, then one axes per member in the order
    of ``weights``, then the sd colour bar and the weight colour bar (``2 + len(weights)``
    axes in all).
    """
    sd = map_field(sm_sd, lat, lon, max_pixels)
    w = {m: map_field(v, lat, lon, max_pixels) for m, v in weights.items()}
    n = 1 + len(w)
    fig = _map_figure(n, sd[1], sd[2], colorbars=2 if w else 1)
    axes = _map_axes(fig, n)
    lo, hi = _color_limits([sd[0]], 0.0, sd_vmax)
    im_sd = _draw_map(axes[0], *sd, "BMA predictive sd", "magma", lo, hi, stations)
    cb = fig.colorbar(im_sd, ax=axes[0], shrink=0.85)
    cb.set_label(f"predictive sd ({SM_UNITS})")
    im_w = None
    for ax, (m, d) in zip(axes[1:], w.items(), strict=True):
        im_w = _draw_map(ax, *d, f"weight {m}", "viridis", 0.0, 1.0, stations)
    if im_w is not None:
        cb = fig.colorbar(im_w, ax=axes[1:], shrink=0.85)
        cb.set_label("BMA weight (1)")
    fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------------------
# 3. scatter against stations
# ---------------------------------------------------------------------------------------------


def _groups(df: pd.DataFrame, by: str | None) -> list[tuple[str, pd.DataFrame]]:
    if by is None or by not in df.columns:
        return [("all stations", df)]
    out = [(str(k), g) for k, g in df.groupby(by, sort=True, dropna=False)]
    return out or [("all stations", df)]


def station_scatter(
    df: pd.DataFrame,
    product_cols: Mapping[str, str],
    ref_col: str = "y",
    by: str | None = "network",
    title: str = "Products against in-situ soil moisture",
    *,
    max_value: float | None = None,
) -> Figure:
    """Scatter of each product against the in-situ reference, one row per ``by`` group.

    ``df`` has one row per station-day with the reference column ``ref_col`` and one
    column per product (``product_cols`` maps the panel label to the column). Rows are the
    sorted groups of ``by`` (e.g. network; one row "all stations" if ``by`` is None or not a
    column), columns the products. Each panel shows the pairs where both values are finite
    (x = in situ, y = product; exactly those are the scatter's offsets), the 1:1 line, and
    n, R, RMSE and bias (:func:`smdownscale.metrics.score`; RMSE and bias in m3 m-3). Both
    axes run from 0 to ``max_value`` (default: 1.05 x the largest finite value of the
    reference and all products over the whole table, so every panel is comparable; 1 if
    there is none). Panels without a finite pair say "no valid data".

    Returns a figure with ``n_groups * len(product_cols)`` axes, row-major.
    """
    if not product_cols:
        raise ValueError("station_scatter needs at least one product column")
    cols = [ref_col, *product_cols.values()]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in the table: {missing}")
    if max_value is None:
        allv = _float(df[cols].to_numpy()).ravel()
        allv = allv[np.isfinite(allv)]
        top = float(allv.max()) * 1.05 if allv.size and allv.max() > 0 else 1.0
    else:
        top = float(max_value)
    groups = _groups(df, by)
    nrows, ncols = len(groups), len(product_cols)
    fig = _figure(max(6.0, 3.3 * ncols + 0.6), max(3.8, 3.1 * nrows + 0.6))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, (gname, g) in enumerate(groups):
        ref = _float(g[ref_col].to_numpy())
        for j, (label, col) in enumerate(product_cols.items()):
            ax = axes[i, j]
            prod = _float(g[col].to_numpy())
            ok = np.isfinite(ref) & np.isfinite(prod)
            ax.scatter(ref[ok], prod[ok], s=6, alpha=0.35, linewidths=0, rasterized=True)
            ax.plot([0, top], [0, top], color="black", linewidth=0.8, linestyle="--")
            ax.set_xlim(0, top)
            ax.set_ylim(0, top)
            ax.set_aspect("equal", adjustable="box")
            sc = metrics.score(prod, ref)
            ax.text(
                0.03,
                0.97,
                f"n = {sc.n}\nR = {_fmt(sc.r, '{:.2f}')}\nRMSE = {_fmt(sc.rmse)}\n"
                f"bias = {_fmt(sc.bias, '{:+.3f}')}",
                transform=ax.transAxes,
                va="top",
                ha="left",
                fontsize=7,
                bbox={"facecolor": "white", "edgecolor": "0.7", "alpha": 0.85},
            )
            if sc.n == 0:
                _no_data(ax)
            ax.set_title(f"{gname}: {label}", fontsize=9)
            ax.set_xlabel(f"in situ ({SM_UNITS})", fontsize=8)
            ax.set_ylabel(f"{label} ({SM_UNITS})", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle(f"{title} (RMSE and bias in {SM_UNITS}; dashed: 1:1)")
    return fig


# ---------------------------------------------------------------------------------------------
# 4. one station's time series
# ---------------------------------------------------------------------------------------------


def _times(df: pd.DataFrame, time_col: str) -> pd.DatetimeIndex:
    if time_col in df.columns:
        return pd.DatetimeIndex(pd.to_datetime(df[time_col]))
    if isinstance(df.index, pd.DatetimeIndex):
        return df.index
    raise KeyError(f"no {time_col!r} column and no DatetimeIndex")


def station_timeseries(
    df_station: pd.DataFrame,
    product_cols: Mapping[str, str],
    precip: pd.Series | str | None = None,
    *,
    ref_col: str = "y",
    time_col: str = "time",
    title: str | None = None,
) -> Figure:
    """One station's in-situ series with the products as lines and precipitation bars.

    ``df_station`` has the dates (column ``time_col`` or a DatetimeIndex), the in-situ
    values ``ref_col`` and the product columns of ``product_cols`` (label -> column). The
    in-situ series is drawn first (black dots and line), then one line per product, all in
    that order on the main axes with their own values (NaN gaps break the lines).
    ``precip`` (mm/d) is a column name of ``df_station`` or a Series indexed by date; it is
    drawn as bars on a twin axis whose range is 2.5 x its maximum, so the bars fill the
    lower part and do not hide the lines. The title defaults to ``network/station`` when
    those columns are present.

    Returns a figure with one axes, or two (main, then precipitation) when ``precip`` is
    given. An all-NaN series draws nothing and the main axes says "no valid data".
    """
    t = _times(df_station, time_col)
    order = np.argsort(t.to_numpy(), kind="stable")
    t = t[order]
    d = df_station.iloc[order]
    fig = _figure(*FIGSIZE)
    ax = fig.add_subplot(1, 1, 1)
    y = _float(d[ref_col].to_numpy())
    ax.plot(t, y, color="black", marker=".", markersize=3, linewidth=0.8, label="in situ")
    finite = np.isfinite(y).any()
    for label, col in product_cols.items():
        v = _float(d[col].to_numpy())
        finite |= np.isfinite(v).any()
        ax.plot(t, v, linewidth=1.1, label=label)
    if finite:
        ax.set_ylim(bottom=0)
    else:
        ax.set_ylim(0, 1)
        _no_data(ax)
    ax.set_xlabel("date")
    ax.set_ylabel(SM_LABEL)
    handles, labels = ax.get_legend_handles_labels()
    if precip is not None:
        p = d[precip] if isinstance(precip, str) else precip
        if isinstance(precip, str):
            pt, pv = t, _float(p.to_numpy())
        else:
            pt, pv = pd.DatetimeIndex(pd.to_datetime(p.index)), _float(p.to_numpy())
        tw = ax.twinx()
        bars = tw.bar(pt, np.nan_to_num(pv, nan=0.0), width=1.0, color="tab:blue", alpha=0.3)
        pmax = float(np.nanmax(pv)) if np.isfinite(pv).any() else 0.0
        tw.set_ylim(0, 2.5 * pmax if pmax > 0 else 1.0)
        tw.set_ylabel(f"precipitation ({PRECIP_UNITS})")
        ax.set_zorder(tw.get_zorder() + 1)  # lines above the bars
        ax.patch.set_visible(False)
        handles.append(bars)
        labels.append(f"precipitation ({PRECIP_UNITS})")
    fig.legend(handles, labels, fontsize=8, loc="outside lower center", ncols=min(5, len(labels)))
    if title is None:
        if {"network", "station"} <= set(d.columns) and len(d):
            title = f"{d['network'].iloc[0]}/{d['station'].iloc[0]}: in situ and products"
        else:
            title = "Station time series: in situ and products"
    fig.suptitle(title)
    fig.autofmt_xdate()
    return fig


# ---------------------------------------------------------------------------------------------
# 5. histograms and monthly box plots
# ---------------------------------------------------------------------------------------------

_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def histograms_and_monthly_boxes(
    values: Mapping[str, Any],
    months: Mapping[str, Any],
    title: str = "Soil moisture distribution: coarse product and BMA",
    *,
    bins: int = 50,
    value_range: tuple[float, float] | None = None,
) -> Figure:
    """Density histograms (left) and monthly box plots (right) of several products.

    ``values[label]`` is a 1-D array of soil moisture (e.g. every fine cell-day of the
    coarse product repeated over its block, and of BMA) and ``months[label]`` the month
    (1-12) of each value. Non-finite values are dropped. Histograms share ``bins`` equal
    bins over ``value_range`` (default: from min(0, smallest) to the largest finite value;
    [0, 1] if none) and are densities (area 1 over the values inside the range;
    ``numpy.histogram`` with ``density=True``), drawn as outlined steps (``ax.stairs``) in
    the mapping's order. Box plots: per month, one box per label side by side (median line,
    box = quartiles, whiskers to the most extreme value within 1.5 IQR of the box; outliers
    not drawn: there are millions of values). Labels or months without a value are left
    out; month numbers outside 1-12 are ignored.

    Returns a figure with two axes (histograms: one ``StepPatch`` per label with a value;
    boxes: the median lines are labelled ``"_median <label>"``).
    """
    if set(values) != set(months):
        raise ValueError("values and months need the same labels")
    clean: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for k, v in values.items():
        v = _float(v).ravel()
        m = np.asarray(months[k]).ravel()
        if m.shape != v.shape:
            raise ValueError(f"{k}: {v.size} values but {m.size} months")
        ok = np.isfinite(v)
        clean[k] = (v[ok], m[ok].astype(np.int64))
    allv = np.concatenate([v for v, _ in clean.values()]) if clean else np.zeros(0)
    if value_range is None:
        top = float(allv.max()) if allv.size and allv.max() > 0 else 1.0
        value_range = (min(0.0, float(allv.min())) if allv.size else 0.0, top)
    edges = np.linspace(value_range[0], value_range[1], bins + 1)
    fig = _figure(*FIGSIZE)
    ax_h, ax_b = fig.subplots(1, 2, width_ratios=[1, 1.5])
    colors = [f"C{i}" for i in range(len(clean))]
    for (k, (v, _)), c in zip(clean.items(), colors, strict=True):
        inside = v[(v >= edges[0]) & (v <= edges[-1])]
        if inside.size:
            dens, _ = np.histogram(inside, bins=edges, density=True)
            ax_h.stairs(dens, edges, linewidth=1.4, color=c, label=k)
    if not allv.size:
        _no_data(ax_h)
    else:
        ax_h.legend(fontsize=8)
    ax_h.set_xlabel(SM_LABEL)
    ax_h.set_ylabel(f"probability density (per {SM_UNITS})")
    ax_h.set_title("Histograms", fontsize=10)
    nlab = max(1, len(clean))
    width = 0.8 / nlab
    drawn = False
    for i, ((k, (v, m)), c) in enumerate(zip(clean.items(), colors, strict=True)):
        stats, pos = [], []
        for month in range(1, 13):
            sel = v[m == month]
            if sel.size:
                st = cbook.boxplot_stats(sel, whis=1.5)[0]
                st["label"] = ""
                stats.append(st)
                pos.append(month - 0.4 + width * (i + 0.5))
        if stats:
            drawn = True
            ax_b.bxp(
                stats,
                positions=pos,
                widths=width * 0.85,
                showfliers=False,
                patch_artist=True,
                boxprops={"facecolor": c, "alpha": 0.55},
                medianprops={"color": "black", "label": f"_median {k}"},
                manage_ticks=False,
            )
    if not drawn:
        _no_data(ax_b)
    ax_b.set_xticks(range(1, 13), _MONTHS)
    ax_b.set_xlim(0.4, 12.6)
    ax_b.set_xlabel("month")
    ax_b.set_ylabel(SM_LABEL)
    ax_b.set_title("Monthly box plots (whiskers 1.5 IQR, no outliers)", fontsize=10)
    ax_b.legend(
        [Patch(facecolor=c, alpha=0.55) for c in colors], list(clean), fontsize=8, loc="best"
    )
    fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------------------
# 6. tables
# ---------------------------------------------------------------------------------------------


def _cell_text(x: Any, fmt: str | Callable[[float], str]) -> str:
    if x is None or (isinstance(x, float | np.floating) and not np.isfinite(x)):
        return "–"
    if isinstance(x, bool | np.bool_):
        return str(bool(x))
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, float | np.floating):
        return fmt(float(x)) if callable(fmt) else fmt.format(float(x))
    try:
        if pd.isna(x):
            return "–"
    except (TypeError, ValueError):
        pass
    return str(x)


def table_cells(
    df: pd.DataFrame,
    float_format: str | Callable[[float], str] | Mapping[str, Any] = "{:.3f}",
) -> tuple[list[str], list[list[str]]]:
    """Header and cell texts of ``df`` as :func:`table_figure` draws them.

    The index becomes the first column(s) when it is named (any level) or not integer; an
    unnamed integer index (the default row numbers, also after filtering) is left out.
    Floats are formatted by ``float_format`` (a format string, a callable, or a mapping
    column -> either, other columns "{:.3f}"); integers and booleans as they are; NaN /
    None / NA as "–"; anything else by ``str``. MultiIndex column names are joined with a
    space.
    """
    d = df
    named = any(name is not None for name in d.index.names)
    if named or not pd.api.types.is_integer_dtype(d.index.dtype):
        d = d.reset_index()
    header = [
        " ".join(str(p) for p in c if str(p)) if isinstance(c, tuple) else str(c) for c in d.columns
    ]
    fmts = []
    for c in d.columns:
        if isinstance(float_format, Mapping):
            fmts.append(float_format.get(c, "{:.3f}"))
        else:
            fmts.append(float_format)
    rows = [
        [_cell_text(x, f) for x, f in zip(row, fmts, strict=True)]
        for row in d.itertuples(index=False, name=None)
    ]
    return header, rows


def table_figure(
    df: pd.DataFrame,
    title: str,
    float_format: str | Callable[[float], str] | Mapping[str, Any] = "{:.3f}",
    *,
    max_width: float = 16.0,
) -> Figure:
    """A DataFrame drawn as a matplotlib table, the figure sized to its rows and columns.

    Cell texts are those of :func:`table_cells` (units belong in the column names). The
    header row is bold on grey. Height is 0.26 inch per row plus room for the title; width
    grows with the longest text of each column (at least 6, at most ``max_width`` inches).
    A table without rows shows its header and one row whose first cell reads "no rows".

    Returns a figure with one (axis-less) axes holding the table; the table is
    ``fig.axes[0].tables[0]`` with the header in row 0.
    """
    header, rows = table_cells(df, float_format)
    ncols = max(1, len(header))
    widths = [
        max([len(header[j]), *(len(r[j]) for r in rows)]) if header else 4 for j in range(ncols)
    ]
    chars = float(sum(widths))
    width = min(max_width, max(6.0, 0.085 * chars + 0.25 * ncols + 0.6))
    height = 0.55 + 0.26 * (max(len(rows), 1) + 1)
    fig = _figure(width, height)
    ax = fig.add_subplot(1, 1, 1)
    ax.axis("off")
    body = rows if rows else [["no rows"] + [""] * (ncols - 1)]
    tab = ax.table(
        cellText=body,
        colLabels=header if header else None,
        colWidths=[w / chars for w in widths],
        bbox=[0.0, 0.0, 1.0, 1.0],
        cellLoc="center",
    )
    tab.auto_set_font_size(False)
    tab.set_fontsize(8)
    for (r, _c), cell in tab.get_celld().items():
        if r == 0 and header:
            cell.set_text_props(fontweight="bold")
            cell.set_facecolor("0.88")
    ax.set_title(title, fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------
# 7. posterior weight intervals per station
# ---------------------------------------------------------------------------------------------


def weight_intervals(
    posteriors: pd.DataFrame,
    members: Sequence[str],
    title: str = "BMA posterior weights per station (mean and 95 % interval)",
    *,
    stations_per_panel: int = 40,
    max_panel_columns: int = 3,
) -> Figure:
    """Each station's posterior mean weight per member with its 2.5-97.5 % interval.

    ``posteriors`` has one row per station with ``w_<m>``, ``w_<m>_q025`` and
    ``w_<m>_q975`` for every member (the BMA posterior table), a ``station`` and
    optionally ``network`` column (label ``network/station``; else the index), and
    optionally ``converged``. Stations are on the y axis in table order (top to bottom),
    the weight (dimensionless, 0..1) on x. Each member is a colour, drawn as a dot at the
    mean on a horizontal line over the interval, offset slightly within the station's row;
    stations whose chains did not converge (``converged`` False) get hollow dots, a red tick
    label ending in " (not converged)", and a legend entry. Stations are split into panels
    of at most ``stations_per_panel``, at most ``max_panel_columns`` panels per row.

    Returns a figure with one axes per panel. In each axes, member ``k`` owns line
    ``ax.lines[k]`` (the means, y = row position + offset) and collection
    ``ax.collections[k]`` (the interval segments); the hollow markers of unconverged
    stations are further lines after those of the members.
    """
    if not members:
        raise ValueError("weight_intervals needs at least one member")
    need = [f"w_{m}{s}" for m in members for s in ("", "_q025", "_q975")]
    missing = [c for c in need if c not in posteriors.columns]
    if missing:
        raise KeyError(f"posterior columns missing: {missing}")
    p = posteriors.reset_index(drop="station" in posteriors.columns)
    if "station" in p.columns:
        names = p["station"].astype(str)
        if "network" in p.columns:
            names = p["network"].astype(str) + "/" + names
    else:
        names = p.iloc[:, 0].astype(str)
    names = names.tolist()
    if "converged" in p.columns:
        conv = p["converged"].fillna(False).astype(bool).to_numpy()
    else:
        conv = np.ones(len(p), dtype=bool)
    n = len(p)
    per = max(1, int(stations_per_panel))
    npanels = max(1, math.ceil(n / per))
    ncols = min(max_panel_columns, npanels)
    nrows = math.ceil(npanels / ncols)
    rows_in_panel = min(per, max(n, 1))
    fig = _figure(
        max(FIGSIZE[0], 4.2 * ncols), max(FIGSIZE[1], nrows * (0.22 * rows_in_panel + 1.3))
    )
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(npanels)]
    k = len(members)
    offsets = (np.arange(k) - (k - 1) / 2) * (0.7 / max(k, 1))
    colors = [f"C{i}" for i in range(k)]
    for pi, ax in enumerate(axes):
        idx = np.arange(pi * per, min(n, (pi + 1) * per))
        ypos = np.arange(idx.size, dtype=float)
        bad = ~conv[idx]
        hollow = []
        for j, m in enumerate(members):
            mean = _float(p[f"w_{m}"].to_numpy()[idx])
            lo = _float(p[f"w_{m}_q025"].to_numpy()[idx])
            hi = _float(p[f"w_{m}_q975"].to_numpy()[idx])
            y = ypos + offsets[j]
            ax.plot(mean, y, linestyle="none", marker="o", markersize=4, color=colors[j])
            ax.hlines(y, lo, hi, color=colors[j], linewidth=1.2)
            if bad.any():
                hollow.append((mean[bad], y[bad], colors[j]))
        for mean, y, c in hollow:  # hollow markers over the filled ones, after all members
            ax.plot(
                mean,
                y,
                linestyle="none",
                marker="o",
                markersize=5,
                markerfacecolor="white",
                markeredgecolor=c,
            )
        ticks = [names[i] + ("" if conv[i] else " (not converged)") for i in idx]
        ax.set_yticks(ypos, ticks, fontsize=7)
        for lab, i in zip(ax.get_yticklabels(), idx, strict=True):
            if not conv[i]:
                lab.set_color("red")
        ax.set_ylim(max(idx.size, 1) - 0.5, -0.5)
        ax.set_xlim(0, 1)
        ax.set_xlabel("BMA weight (1)")
        ax.set_ylabel("station")
        ax.grid(axis="x", alpha=0.3)
        if npanels > 1:
            ax.set_title(f"stations {idx[0] + 1}-{idx[-1] + 1} of {n}", fontsize=9)
        else:
            ax.set_title(f"{n} stations", fontsize=9)
        if idx.size == 0:
            _no_data(ax, "no stations")
        elif not np.isfinite(_float(p[[f"w_{m}" for m in members]].to_numpy()[idx])).any():
            _no_data(ax)
    handles = [
        Line2D([], [], color=c, marker="o", markersize=4, label=m)
        for c, m in zip(colors, members, strict=True)
    ]
    if (~conv).any():
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markerfacecolor="white",
                markeredgecolor="black",
                label="chain not converged",
            )
        )
    fig.legend(handles=handles, fontsize=8, loc="outside right upper")
    fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------------------
# 8. variogram
# ---------------------------------------------------------------------------------------------


def variogram_plot(
    lag_km: Any,
    gamma: Any,
    fitted_lag_km: Any = None,
    fitted_gamma: Any = None,
    title: str = "Pooled normalised variogram",
    *,
    pairs: Any = None,
    model_label: str = "fitted model",
) -> Figure:
    """Empirical normalised variogram (points) with the fitted model (line).

    ``lag_km`` / ``gamma`` are the usable bins (mean great-circle lag of each bin's pairs,
    pooled semivariance of standardised fields, dimensionless); ``pairs``, optional, the
    station pairs per bin, which then set the point areas (largest bin 120 pt^2) and are
    noted in the legend. ``fitted_lag_km`` / ``fitted_gamma`` are the model on a fine lag
    grid, or None when no model was fitted (the legend then says "no fitted model"). The
    sill of a normalised variogram, 1, is a dotted line. x runs from 0, y from 0.

    Returns a figure with one axes: the empirical points are ``ax.collections[0]``, the
    model is ``ax.lines[0]`` when given.
    """
    lag = _float(lag_km).ravel()
    g = _float(gamma).ravel()
    if lag.shape != g.shape:
        raise ValueError(f"lag_km and gamma differ in length: {lag.size} vs {g.size}")
    fig = _figure(*FIGSIZE)
    ax = fig.add_subplot(1, 1, 1)
    if pairs is not None:
        pr = _float(pairs).ravel()
        if pr.shape != lag.shape:
            raise ValueError("pairs must have one count per lag bin")
        top = np.nanmax(pr) if np.isfinite(pr).any() and np.nanmax(pr) > 0 else 1.0
        sizes = 12 + 108 * np.nan_to_num(pr, nan=0.0) / top
        label = f"empirical (area ~ pairs, max {int(top)})"
    else:
        sizes = 30
        label = "empirical"
    ax.scatter(lag, g, s=sizes, color="C0", edgecolors="black", linewidths=0.5, label=label)
    fit_given = fitted_lag_km is not None and fitted_gamma is not None
    if fit_given:
        fl = _float(fitted_lag_km).ravel()
        fg = _float(fitted_gamma).ravel()
        if fl.shape != fg.shape:
            raise ValueError("fitted_lag_km and fitted_gamma differ in length")
        ax.plot(fl, fg, color="C3", linewidth=1.6, label=model_label)
    else:
        ax.plot([], [], linestyle="none", label="no fitted model")
    ax.axhline(1.0, color="0.4", linestyle=":", linewidth=1, label="sill (1)")
    ok = np.isfinite(lag) & np.isfinite(g)
    xs = [lag[ok]] + ([fl[np.isfinite(fl)]] if fit_given else [])
    xs = np.concatenate(xs) if xs else np.zeros(0)
    ax.set_xlim(0, 1.05 * float(xs.max()) if xs.size and xs.max() > 0 else 1.0)
    ys = np.concatenate([g[ok], fg[np.isfinite(fg)]] if fit_given else [g[ok]])
    ax.set_ylim(0, max(1.15, 1.1 * float(ys.max())) if ys.size else 1.15)
    if not ok.any():
        _no_data(ax)
    ax.set_xlabel("lag (km)")
    ax.set_ylabel("normalised semivariance (1)")
    ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    return fig
