"""Figures of the validation report (smdownscale.figures): structure, data, units, NaN input.

Each figure is checked for its number of axes, its title, axis labels carrying units, the
data actually drawn (image arrays, scatter offsets, line data, table cell texts) and that it
saves to a non-trivial PNG. All-NaN input must draw without error or warning: maps show
blank panels marked "no valid data" with a colour bar over [0, 1]; scatter panels show no
points, n = 0 and "n/a" scores; tables show "–" for NaN.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.figure import Figure

from smdownscale import figures as F
from smdownscale import metrics

MEMBERS = ["rf", "xgb", "mlp", "svr"]


def grid(nlat=20, nlon=30, lat0=46.0, lon0=10.0, d=0.1):
    """Cell centres of a lat-descending grid starting at the north-west corner."""
    lat = lat0 - d / 2 - d * np.arange(nlat)
    lon = lon0 + d / 2 + d * np.arange(nlon)
    return lat, lon


def field(lat, lon, seed=0):
    rng = np.random.default_rng(seed)
    return 0.2 + 0.1 * rng.random((lat.size, lon.size))


def texts(fig: Figure) -> str:
    """All text of a figure: suptitle, axes titles, axis labels, text artists."""
    parts = [fig._suptitle.get_text() if fig._suptitle else ""]
    for ax in fig.axes:
        parts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        parts += [t.get_text() for t in ax.texts]
    for leg in [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]:
        parts += [t.get_text() for t in leg.get_texts()]
    return "\n".join(parts)


def image(ax) -> np.ndarray:
    return np.ma.filled(ax.images[0].get_array().astype(float), np.nan)


def saves(fig: Figure, tmp_path, name="fig.png", min_bytes=5000) -> None:
    path = tmp_path / name
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > min_bytes


def test_agg_backend_and_figure_defaults():
    assert matplotlib.get_backend().lower() == "agg"
    lat, lon = grid()
    fig = F.map_panels({"a": (field(lat, lon), lat, lon)}, "t")
    assert isinstance(fig, Figure)
    assert fig.dpi == F.DPI == 110
    # built outside pyplot: nothing registered, nothing for the caller to close
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []


# ----------------------------------------------------------------------------- striding, extent


def test_stride_step():
    assert F.stride_step((800, 800)) == 1
    assert F.stride_step((801, 10)) == 2
    assert F.stride_step((1000, 2400)) == 3
    assert F.stride_step((10, 10), max_pixels=3) == 4
    with pytest.raises(ValueError):
        F.stride_step((10, 10), max_pixels=0)


def test_strided_keeps_every_step_th_cell():
    lat, lon = grid(1700, 900, d=0.01)
    a = np.arange(lat.size * lon.size, dtype=float).reshape(lat.size, lon.size)
    v, la, lo, s = F.strided(a, lat, lon)
    assert s == 3
    assert max(v.shape) <= 800
    np.testing.assert_array_equal(v, a[::3, ::3])
    np.testing.assert_array_equal(la, lat[::3])
    np.testing.assert_array_equal(lo, lon[::3])
    with pytest.raises(ValueError, match="does not match"):
        F.strided(a[:-1], lat, lon)


def test_map_extent_is_cell_edges():
    lat = np.array([45.75, 45.25, 44.75])  # 0.5 degree cells, lat descending
    lon = np.array([10.25, 10.75])
    assert F.map_extent(lat, lon) == pytest.approx([10.0, 11.0, 44.5, 46.0])
    # a single row takes the other axis's spacing
    assert F.map_extent(np.array([45.0]), lon) == pytest.approx([10.0, 11.0, 44.75, 45.25])


def test_map_field_forms_orientation_and_lazy_dataarray():
    lat, lon = grid(12, 8)
    a = field(lat, lon)
    v, la, lo, s = F.map_field((a, lat, lon))
    np.testing.assert_array_equal(v, a)
    # lat-ascending input is flipped to descending
    v2, la2, _, _ = F.map_field(a[::-1], lat[::-1], lon)
    np.testing.assert_array_equal(v2, a)
    np.testing.assert_array_equal(la2, lat)
    # DataArray with CF-like names, a singleton time dimension, chunked (lazy), strided
    da = xr.DataArray(
        a[None],
        coords={"time": [0], "latitude": lat, "longitude": lon},
        dims=("time", "latitude", "longitude"),
    ).chunk({"latitude": 5})
    v3, la3, lo3, s3 = F.map_field(da, max_pixels=4)
    assert s3 == 3
    np.testing.assert_array_equal(v3, a[::3, ::3])
    np.testing.assert_array_equal(la3, lat[::3])
    np.testing.assert_array_equal(lo3, lon[::3])
    bad = xr.DataArray(np.zeros((2, 12, 8)), dims=("time", "lat", "lon"))
    with pytest.raises(ValueError, match="non-singleton"):
        F.map_field(bad)
    with pytest.raises(ValueError, match="lat and lon"):
        F.map_field(a)


# ----------------------------------------------------------------------------- 1. map panels


def test_map_panels_structure_data_and_png(tmp_path):
    lat, lon = grid(40, 60)
    coarse = xr.DataArray(field(lat, lon, 1), coords={"lat": lat, "lon": lon}, dims=("lat", "lon"))
    fields = {"coarse": coarse}
    arrays = {"coarse": coarse.values}
    for i, m in enumerate(MEMBERS):
        arrays[m] = field(lat, lon, 2 + i)
        fields[m] = (arrays[m], lat, lon)
    arrays["BMA"] = field(lat, lon, 9)
    fields["BMA"] = (arrays["BMA"], lat, lon)
    stations = pd.DataFrame({"lon": [10.5, 11.5], "lat": [45.5, 44.5]})
    fig = F.map_panels(fields, "Soil moisture on 2020-07-15", stations=stations)
    maps = [ax for ax in fig.axes if ax.images]
    assert len(maps) == 6 and len(fig.axes) == 7  # six panels + one shared colour bar
    assert [ax.get_title() for ax in maps] == list(fields)
    assert fig._suptitle.get_text() == "Soil moisture on 2020-07-15"
    for ax, name in zip(maps, fields, strict=True):
        np.testing.assert_array_equal(image(ax), arrays[name])
        assert ax.images[0].get_extent() == pytest.approx(F.map_extent(lat, lon))
        assert ax.get_aspect() == 1.0
        np.testing.assert_array_equal(ax.collections[0].get_offsets(), stations[["lon", "lat"]])
    # one colour scale: vmin 0 and the largest value over all panels
    vmax = max(a.max() for a in arrays.values())
    assert {ax.images[0].get_clim() for ax in maps} == {(0.0, vmax)}
    cbar = fig.axes[-1]
    assert "m3 m-3" in cbar.get_ylabel()
    assert "latitude (°N)" in texts(fig) and "longitude (°E)" in texts(fig)
    assert maps[0].get_ylabel() == F.LAT_LABEL and maps[-1].get_xlabel() == F.LON_LABEL
    saves(fig, tmp_path)


def test_map_panels_strides_large_grids():
    lat, lon = grid(900, 1700, d=0.01)
    a = np.arange(lat.size * lon.size, dtype=np.float32).reshape(lat.size, lon.size)
    fig = F.map_panels({"big": (a, lat, lon)}, "big grid", vmax=float(a.max()))
    ax = fig.axes[0]
    img = image(ax)
    assert max(img.shape) <= F.MAX_PIXELS
    np.testing.assert_array_equal(img, a[::3, ::3])
    assert ax.images[0].get_extent() == pytest.approx(F.map_extent(lat[::3], lon[::3]))
    assert "strided by 3" in ax.get_title()


@pytest.mark.filterwarnings("error")
def test_map_panels_all_nan(tmp_path):
    """All-NaN fields: blank panels marked "no valid data", colour scale [0, 1]."""
    lat, lon = grid(5, 6)
    nan = np.full((5, 6), np.nan)
    fig = F.map_panels({"a": (nan, lat, lon), "b": (np.ma.masked_all((5, 6)), lat, lon)}, "t")
    maps = fig.axes[:2]
    for ax in maps:
        assert np.isnan(image(ax)).all()
        assert ax.images[0].get_clim() == (0.0, 1.0)
        assert F.NO_DATA in [t.get_text() for t in ax.texts]
    saves(fig, tmp_path, min_bytes=2000)


def test_map_panels_rejects_bad_scale():
    lat, lon = grid(3, 3)
    with pytest.raises(ValueError, match="vmax"):
        F.map_panels({"a": (field(lat, lon), lat, lon)}, "t", vmin=0.5, vmax=0.1)
    with pytest.raises(ValueError):
        F.map_panels({}, "t")


# ----------------------------------------------------------------------------- 2. sd and weights


def test_sd_and_weight_maps(tmp_path):
    lat, lon = grid(30, 40)
    sd = 0.05 * field(lat, lon, 3)
    rng = np.random.default_rng(4)
    w = rng.dirichlet(np.ones(4), size=(30, 40))
    weights = {m: w[..., i] for i, m in enumerate(MEMBERS)}
    fig = F.sd_and_weight_maps(sd, weights, lat, lon)
    maps = [ax for ax in fig.axes if ax.images]
    assert len(maps) == 5 and len(fig.axes) == 7  # sd + 4 weights + 2 colour bars
    np.testing.assert_array_equal(image(maps[0]), sd)
    assert maps[0].images[0].get_clim() == (0.0, sd.max())
    for ax, m in zip(maps[1:], MEMBERS, strict=True):
        np.testing.assert_array_equal(image(ax), weights[m])
        assert ax.images[0].get_clim() == (0.0, 1.0)
        assert m in ax.get_title()
    cbar_labels = [ax.get_ylabel() for ax in fig.axes[5:]]
    assert cbar_labels == ["predictive sd (m3 m-3)", "BMA weight (1)"]
    assert fig._suptitle.get_text()
    saves(fig, tmp_path)


@pytest.mark.filterwarnings("error")
def test_sd_and_weight_maps_all_nan(tmp_path):
    lat, lon = grid(4, 4)
    nan = np.full((4, 4), np.nan)
    fig = F.sd_and_weight_maps(nan, {m: nan for m in MEMBERS[:2]}, lat, lon)
    assert len(fig.axes) == 5
    assert all(F.NO_DATA in [t.get_text() for t in ax.texts] for ax in fig.axes[:3])
    saves(fig, tmp_path, min_bytes=2000)


# ----------------------------------------------------------------------------- 3. scatter


def pairs_table(n=300, seed=5):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {"network": rng.choice(["SCAN", "USCRN", "COSMOS"], n), "y": rng.uniform(0.05, 0.45, n)}
    )
    df["coarse"] = df.y + rng.normal(0.02, 0.05, n)
    df["bma_heldout"] = df.y + rng.normal(0.0, 0.03, n)
    df.loc[::17, "coarse"] = np.nan
    df.loc[::23, "y"] = np.nan
    return df


def test_station_scatter(tmp_path):
    df = pairs_table()
    cols = {"coarse": "coarse", "BMA held-out": "bma_heldout"}
    fig = F.station_scatter(df, cols)
    assert len(fig.axes) == 3 * 2
    top = 1.05 * np.nanmax(df[["y", "coarse", "bma_heldout"]].to_numpy())
    for i, net in enumerate(["COSMOS", "SCAN", "USCRN"]):  # sorted networks, one row each
        g = df[df.network == net]
        for j, (label, col) in enumerate(cols.items()):
            ax = fig.axes[i * 2 + j]
            assert ax.get_title() == f"{net}: {label}"
            assert ax.get_xlabel() == "in situ (m3 m-3)"
            assert ax.get_ylabel() == f"{label} (m3 m-3)"
            ok = g.y.notna() & g[col].notna()
            np.testing.assert_allclose(ax.collections[0].get_offsets(), g.loc[ok, ["y", col]])
            assert ax.get_xlim() == pytest.approx((0, top))
            assert ax.get_ylim() == pytest.approx((0, top))
            one_to_one = ax.lines[0]
            np.testing.assert_allclose(one_to_one.get_xdata(), one_to_one.get_ydata())
            sc = metrics.score(g[col], g.y)
            note = ax.texts[0].get_text()
            assert f"n = {sc.n}" in note
            assert f"R = {sc.r:.2f}" in note
            assert f"RMSE = {sc.rmse:.3f}" in note
            assert f"bias = {sc.bias:+.3f}" in note
    assert "m3 m-3" in fig._suptitle.get_text()
    saves(fig, tmp_path)


def test_station_scatter_without_groups_and_missing_column():
    df = pairs_table().drop(columns="network")
    fig = F.station_scatter(df, {"BMA": "bma_heldout"})
    assert len(fig.axes) == 1
    assert fig.axes[0].get_title() == "all stations: BMA"
    with pytest.raises(KeyError, match="nope"):
        F.station_scatter(df, {"x": "nope"})


@pytest.mark.filterwarnings("error")
def test_station_scatter_all_nan(tmp_path):
    """No finite pair: no points, n = 0, scores "n/a", axes 0..1, "no valid data"."""
    df = pd.DataFrame({"network": ["A", "A"], "y": [np.nan, np.nan], "p": [np.nan, 0.2]})
    fig = F.station_scatter(df, {"p": "p"}, max_value=None)
    ax = fig.axes[0]
    assert len(ax.collections[0].get_offsets()) == 0
    assert ax.get_xlim() == (0, pytest.approx(0.21))  # from the one finite value anywhere
    note = ax.texts[0].get_text()
    assert "n = 0" in note and "R = n/a" in note
    assert F.NO_DATA in [t.get_text() for t in ax.texts]
    df["p"] = np.nan
    fig = F.station_scatter(df, {"p": "p"})
    assert fig.axes[0].get_xlim() == (0, 1.0)
    saves(fig, tmp_path, min_bytes=2000)


# ----------------------------------------------------------------------------- 4. time series


def station_series(n=90):
    t = pd.date_range("2019-04-01", periods=n, freq="D")
    y = 0.25 + 0.1 * np.sin(np.arange(n) / 10)
    df = pd.DataFrame({"network": "SCAN", "station": "2001", "time": t, "y": y})
    df["coarse"] = y + 0.03
    df["bma"] = y - 0.01
    df.loc[10:20, "y"] = np.nan
    return df


def test_station_timeseries(tmp_path):
    df = station_series()
    shuffled = df.sample(frac=1.0, random_state=1)  # drawn in date order whatever the input
    rng = np.random.default_rng(6)
    precip = pd.Series(rng.exponential(4, len(df)), index=df.time)
    fig = F.station_timeseries(shuffled, {"coarse": "coarse", "BMA": "bma"}, precip=precip)
    assert len(fig.axes) == 2
    ax, tw = fig.axes
    assert [ln.get_label() for ln in ax.lines] == ["in situ", "coarse", "BMA"]
    for ln, col in zip(ax.lines, ["y", "coarse", "bma"], strict=True):
        np.testing.assert_array_equal(ln.get_ydata(), df[col].to_numpy())
        np.testing.assert_array_equal(pd.DatetimeIndex(ln.get_xdata()), pd.DatetimeIndex(df.time))
    heights = [p.get_height() for p in tw.patches]
    np.testing.assert_allclose(heights, precip.to_numpy())
    assert tw.get_ylim() == pytest.approx((0, 2.5 * precip.max()))
    assert ax.get_ylabel() == "soil moisture (m3 m-3)"
    assert ax.get_xlabel() == "date"
    assert tw.get_ylabel() == "precipitation (mm/d)"
    assert fig._suptitle.get_text().startswith("SCAN/2001")
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["in situ", "coarse", "BMA", "precipitation (mm/d)"]
    saves(fig, tmp_path)


def test_station_timeseries_precip_column_and_datetime_index():
    df = station_series(30)
    df["pr"] = 1.0
    fig = F.station_timeseries(df.set_index("time"), {"BMA": "bma"}, precip="pr", title="x")
    assert len(fig.axes) == 2 and len(fig.axes[1].patches) == 30
    assert fig._suptitle.get_text() == "x"
    fig = F.station_timeseries(df, {"BMA": "bma"})
    assert len(fig.axes) == 1


@pytest.mark.filterwarnings("error")
def test_station_timeseries_all_nan(tmp_path):
    """All-NaN series: nothing drawn, SM axis 0..1 with "no valid data", zero-height bars."""
    df = station_series(20)
    df[["y", "coarse", "bma"]] = np.nan
    pr = pd.Series(np.nan, index=df.time)
    fig = F.station_timeseries(df, {"coarse": "coarse", "BMA": "bma"}, precip=pr)
    ax, tw = fig.axes
    assert ax.get_ylim() == (0, 1)
    assert F.NO_DATA in [t.get_text() for t in ax.texts]
    assert all(p.get_height() == 0 for p in tw.patches)
    saves(fig, tmp_path, min_bytes=2000)


# ----------------------------------------------------------------------------- 5. distributions


def test_histograms_and_monthly_boxes(tmp_path):
    rng = np.random.default_rng(7)
    n = 5000
    values = {"coarse": rng.normal(0.25, 0.05, n), "BMA": rng.normal(0.27, 0.07, n)}
    values["BMA"][:50] = np.nan
    months = {k: rng.integers(1, 13, n) for k in values}
    fig = F.histograms_and_monthly_boxes(values, months, bins=30)
    assert len(fig.axes) == 2
    ax_h, ax_b = fig.axes
    allv = np.concatenate([v[np.isfinite(v)] for v in values.values()])
    edges = np.linspace(min(0.0, allv.min()), allv.max(), 31)
    for patch, (k, v) in zip(ax_h.patches, values.items(), strict=True):
        got, got_edges = patch.get_data()[:2]
        want, _ = np.histogram(v[np.isfinite(v)], bins=edges, density=True)
        np.testing.assert_allclose(got, want)
        np.testing.assert_allclose(got_edges, edges)
        assert patch.get_label() == k
    assert ax_h.get_xlabel() == "soil moisture (m3 m-3)"
    assert "m3 m-3" in ax_h.get_ylabel()
    assert ax_b.get_ylabel() == "soil moisture (m3 m-3)" and ax_b.get_xlabel() == "month"
    # medians: 12 months x 2 products, in label order then month order
    medians = [ln for ln in ax_b.lines if ln.get_label().startswith("_median")]
    assert len(medians) == 24
    for i, (k, v) in enumerate(values.items()):
        for mth in range(1, 13):
            sel = v[(months[k] == mth) & np.isfinite(v)]
            ln = medians[i * 12 + mth - 1]
            assert ln.get_label() == f"_median {k}"
            assert ln.get_ydata()[0] == pytest.approx(np.median(sel))
            assert np.mean(ln.get_xdata()) == pytest.approx(mth - 0.4 + 0.4 * (i + 0.5))
    assert [t.get_text() for t in ax_b.get_xticklabels()][:2] == ["Jan", "Feb"]
    assert fig._suptitle.get_text()
    saves(fig, tmp_path)


@pytest.mark.filterwarnings("error")
def test_histograms_and_monthly_boxes_all_nan(tmp_path):
    """No finite value: no histogram, no box, both panels say "no valid data"."""
    nan = np.full(10, np.nan)
    fig = F.histograms_and_monthly_boxes({"a": nan}, {"a": np.arange(10) % 12 + 1})
    ax_h, ax_b = fig.axes
    assert not ax_h.patches
    for ax in fig.axes:
        assert F.NO_DATA in [t.get_text() for t in ax.texts]
    saves(fig, tmp_path, min_bytes=2000)
    with pytest.raises(ValueError):
        F.histograms_and_monthly_boxes({"a": nan}, {"b": nan})
    with pytest.raises(ValueError, match="months"):
        F.histograms_and_monthly_boxes({"a": nan}, {"a": np.ones(3)})


# ----------------------------------------------------------------------------- 6. tables


def cell_texts(fig: Figure) -> list[list[str]]:
    cells = fig.axes[0].tables[0].get_celld()
    nr = max(r for r, _ in cells) + 1
    nc = max(c for _, c in cells) + 1
    return [[cells[r, c].get_text().get_text() for c in range(nc)] for r in range(nr)]


def test_table_figure(tmp_path):
    df = pd.DataFrame(
        {
            "n": [1000, 998],
            "R": [0.71234, np.nan],
            "RMSE (m3 m-3)": [0.04567, 0.0311],
            "ok": [True, False],
        },
        index=pd.MultiIndex.from_tuples([("SCAN", "coarse"), ("SCAN", "BMA")]),
    )
    df.index.names = ["network", "product"]
    fig = F.table_figure(df, "Table 4: All", float_format={"R": "{:.2f}"})
    assert len(fig.axes) == 1
    assert fig.axes[0].get_title() == "Table 4: All"
    assert cell_texts(fig) == [
        ["network", "product", "n", "R", "RMSE (m3 m-3)", "ok"],
        ["SCAN", "coarse", "1000", "0.71", "0.046", "True"],
        ["SCAN", "BMA", "998", "–", "0.031", "False"],
    ]
    header, rows = F.table_cells(df, {"R": "{:.2f}"})
    assert [header, *rows] == cell_texts(fig)
    # row numbers (unnamed integer index, also after filtering) are not a column
    flat = df.reset_index().iloc[1:]
    assert F.table_cells(flat, {"R": "{:.2f}"})[1] == [
        ["SCAN", "BMA", "998", "–", "0.031", "False"]
    ]
    assert F.table_cells(pd.DataFrame({"a": [1.0]}, index=["x"]))[0] == ["index", "a"]
    # sized to its rows
    h3 = fig.get_size_inches()[1]
    big = pd.DataFrame({"x": np.arange(30) / 7})
    assert F.table_figure(big, "t").get_size_inches()[1] > h3 + 5
    saves(fig, tmp_path)


@pytest.mark.filterwarnings("error")
def test_table_figure_all_nan_and_empty(tmp_path):
    """NaN cells read "–"; a table without rows shows its header and "no rows"."""
    df = pd.DataFrame({"R": [np.nan, np.nan], "bias": [np.nan, None]})
    fig = F.table_figure(df, "nan", float_format=lambda x: f"{x:.1f}")
    assert cell_texts(fig) == [["R", "bias"], ["–", "–"], ["–", "–"]]
    saves(fig, tmp_path, min_bytes=2000)
    fig = F.table_figure(df.iloc[:0], "empty")
    assert cell_texts(fig) == [["R", "bias"], ["no rows", ""]]


# ----------------------------------------------------------------------------- 7. weights


def posterior_table(n=7, seed=8):
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(len(MEMBERS)), size=n)
    df = pd.DataFrame({"network": "SCAN", "station": [f"s{i}" for i in range(n)]})
    for j, m in enumerate(MEMBERS):
        df[f"w_{m}"] = w[:, j]
        df[f"w_{m}_q025"] = w[:, j] * 0.5
        df[f"w_{m}_q975"] = np.minimum(1.0, w[:, j] * 1.5)
    df["converged"] = True
    df.loc[[2, 5][: n // 3], "converged"] = False
    return df


def test_weight_intervals(tmp_path):
    post = posterior_table()
    fig = F.weight_intervals(post, MEMBERS)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_xlabel() == "BMA weight (1)" and ax.get_ylabel() == "station"
    assert ax.get_xlim() == (0, 1)
    for k, m in enumerate(MEMBERS):
        ln = ax.lines[k]
        np.testing.assert_allclose(ln.get_xdata(), post[f"w_{m}"])
        y = np.asarray(ln.get_ydata())
        np.testing.assert_allclose(np.round(y), np.arange(7))  # one row per station
        segs = ax.collections[k].get_segments()
        np.testing.assert_allclose([s[0][0] for s in segs], post[f"w_{m}_q025"])
        np.testing.assert_allclose([s[1][0] for s in segs], post[f"w_{m}_q975"])
        np.testing.assert_allclose([s[0][1] for s in segs], y)
    # unconverged stations: hollow markers (one extra line per member) and red labels
    assert len(ax.lines) == 2 * len(MEMBERS)
    np.testing.assert_allclose(ax.lines[len(MEMBERS)].get_xdata(), post.w_rf[[2, 5]])
    labels = ax.get_yticklabels()
    assert labels[2].get_text() == "SCAN/s2 (not converged)" and labels[2].get_color() == "red"
    assert labels[0].get_text() == "SCAN/s0" and labels[0].get_color() != "red"
    assert "chain not converged" in texts(fig)
    assert fig._suptitle.get_text()
    saves(fig, tmp_path)


def test_weight_intervals_splits_panels_and_checks_columns():
    post = posterior_table(n=95)
    fig = F.weight_intervals(post, MEMBERS, stations_per_panel=40)
    assert len(fig.axes) == 3
    assert [len(ax.get_yticks()) for ax in fig.axes] == [40, 40, 15]
    assert fig.axes[2].get_title() == "stations 81-95 of 95"
    with pytest.raises(KeyError, match="w_xx"):
        F.weight_intervals(post, ["xx"])


@pytest.mark.filterwarnings("error")
def test_weight_intervals_all_nan(tmp_path):
    """All-NaN posteriors: nothing visible, the panel says "no valid data"."""
    post = posterior_table(n=3)
    cols = [c for c in post if c.startswith("w_")]
    post[cols] = np.nan
    post = post.drop(columns="converged")
    fig = F.weight_intervals(post, MEMBERS)
    assert F.NO_DATA in [t.get_text() for t in fig.axes[0].texts]
    saves(fig, tmp_path, min_bytes=2000)


# ----------------------------------------------------------------------------- 8. variogram


def test_variogram_plot(tmp_path):
    lag = np.array([20.0, 60, 100, 150, 210])
    gamma = np.array([0.2, 0.45, 0.7, 0.85, 0.95])
    pairs = np.array([10, 40, 80, 60, 20])
    fl = np.linspace(0, 250, 50)
    fg = 1 - np.exp(-fl / 80)
    fig = F.variogram_plot(lag, gamma, fl, fg, "Pooled variogram", pairs=pairs)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    pts = ax.collections[0]
    np.testing.assert_allclose(pts.get_offsets(), np.c_[lag, gamma])
    sizes = pts.get_sizes()
    assert np.argmax(sizes) == 2 and sizes.max() == pytest.approx(120)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), fl)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), fg)
    assert ax.get_xlabel() == "lag (km)"
    assert ax.get_ylabel() == "normalised semivariance (1)"
    assert fig._suptitle.get_text() == "Pooled variogram"
    assert ax.get_xlim()[0] == 0 and ax.get_ylim()[0] == 0
    assert "sill (1)" in texts(fig)
    saves(fig, tmp_path)


@pytest.mark.filterwarnings("error")
def test_variogram_plot_without_fit_and_all_nan(tmp_path):
    fig = F.variogram_plot([10.0, 20.0], [0.3, 0.5], None, None, "no fit")
    assert "no fitted model" in texts(fig)
    nan = np.full(3, np.nan)
    fig = F.variogram_plot(nan, nan, nan, nan, "all nan", pairs=nan)
    ax = fig.axes[0]
    assert ax.get_xlim() == (0, 1) and ax.get_ylim() == (0, 1.15)
    assert F.NO_DATA in [t.get_text() for t in ax.texts]
    saves(fig, tmp_path, min_bytes=2000)
    with pytest.raises(ValueError):
        F.variogram_plot([1.0], [0.1, 0.2], None, None, "bad")
