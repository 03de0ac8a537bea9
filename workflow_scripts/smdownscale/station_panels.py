"""Every station's time series with every product, small multiples (issue 16, item 7).

One panel per station (the stations with the most evaluation days first, at most
``max_stations``; the rest are counted in the title), the in-situ values as dots, each
product as a line, the weight-training days shaded, and the panel's evaluation-day R of the
product beside its name. Panels share the y axis, so levels compare across stations.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import metrics


def stations_by_evaluation_days(series: pd.DataFrame) -> list[tuple[str, str]]:
    """(network, station) ordered by their evaluation days with an in-situ value, most
    first (ties by name)."""
    ev = series[(series["split"] == "eval") & np.isfinite(series["y"].to_numpy(dtype=float))]
    counts = ev.groupby(["network", "station"]).size()
    every = series[["network", "station"]].drop_duplicates()
    keys = [tuple(k) for k in every.itertuples(index=False)]
    return sorted(keys, key=lambda k: (-int(counts.get(k, 0)), k))


def station_panels(
    series: pd.DataFrame,
    products: Mapping[str, str],
    max_stations: int = 36,
    title: str = "In situ and products at every station",
) -> Figure:
    """Small multiples of :func:`stations_by_evaluation_days`' first ``max_stations``."""
    keys = stations_by_evaluation_days(series)
    shown = keys[:max_stations]
    n = max(1, len(shown))
    ncols = min(6, n)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(2.6 * ncols + 0.5, 1.9 * nrows + 1.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
    values = series[["y", *products.values()]].to_numpy(dtype=float)
    top = float(np.nanmax(values)) * 1.05 if np.isfinite(values).any() else 1.0
    groups = dict(tuple(series.groupby(["network", "station"])))
    for ax, key in zip(axes, shown, strict=False):
        d = groups[key].sort_values("time")
        t = pd.to_datetime(d["time"])
        train = d["split"].to_numpy() == "train"
        if train.any():
            ax.axvspan(t[train].min(), t[train].max(), color="0.92", linewidth=0)
        ax.plot(t, d["y"], ".", color="black", markersize=2.5, label="in situ")
        ev = d[d["split"] == "eval"]
        notes = []
        for label, col in products.items():
            ax.plot(t, d[col], linewidth=0.9, label=label)
            sc = metrics.score(ev[col].to_numpy(dtype=float), ev["y"].to_numpy(dtype=float))
            notes.append(f"{label} R {sc.r:.2f}" if np.isfinite(sc.r) else f"{label} R -")
        ax.set_title(f"{key[0]}/{key[1]}", fontsize=7)
        ax.text(0.02, 0.97, "\n".join(notes), transform=ax.transAxes, va="top", fontsize=5.5)
        ax.set_ylim(0, top)
        ax.tick_params(labelsize=5.5)
        for tick in ax.get_xticklabels():
            tick.set_rotation(30)
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=7)
    more = f"; {len(keys) - len(shown)} more stations not shown" if len(keys) > len(shown) else ""
    fig.suptitle(f"{title} (grey: weight-training days; R on evaluation days{more})", fontsize=9)
    return fig
