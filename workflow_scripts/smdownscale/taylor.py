"""Taylor diagram of products against a reference (issue 16, item 7).

Taylor (2001, JGR 106(D7)) places every product by three numbers that the law of cosines
ties together: its correlation R with the reference (the angle, arccos R), its standard
deviation over the reference's (the radius), and the centred RMS difference (the distance to
the reference point at radius 1 on the horizontal axis):

    E'^2 / s_ref^2 = 1 + s^2 - 2 s R,        s = s_product / s_ref.

Here the pairs are the evaluation station-days where every product has a value (Table 4's),
pooled over stations; the spread is that of the pooled series. Pure statistics
(:func:`taylor_statistics`) and the figure (:func:`taylor_diagram`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def taylor_statistics(
    pairs: pd.DataFrame, products: Mapping[str, str], ref_col: str = "y"
) -> pd.DataFrame:
    """Per product (label -> column): n, R, normalised SD and normalised centred RMS
    difference against ``ref_col``, on the rows where the reference and the product are
    finite."""
    rows = []
    for label, col in products.items():
        y = pairs[ref_col].to_numpy(dtype=float)
        p = pairs[col].to_numpy(dtype=float)
        ok = np.isfinite(y) & np.isfinite(p)
        y, p = y[ok], p[ok]
        sd_ref = float(np.std(y)) if y.size > 1 else np.nan
        if y.size < 3 or not sd_ref > 0:
            rows.append({"product": label, "n": int(y.size), "r": np.nan, "sd_ratio": np.nan,
                         "crmsd": np.nan})  # fmt: skip
            continue
        sd = float(np.std(p))
        r = float(np.corrcoef(p, y)[0, 1]) if sd > 0 else np.nan
        crmsd = float(np.sqrt(np.mean(((p - p.mean()) - (y - y.mean())) ** 2)))
        rows.append({"product": label, "n": int(y.size), "r": r, "sd_ratio": sd / sd_ref,
                     "crmsd": crmsd / sd_ref})  # fmt: skip
    return pd.DataFrame(rows, columns=["product", "n", "r", "sd_ratio", "crmsd"])


def taylor_diagram(stats: pd.DataFrame, title: str) -> Figure:
    """The quarter-circle Taylor diagram of :func:`taylor_statistics` (products with R <= 0
    or undefined are listed in the legend as not shown)."""
    fig = Figure(figsize=(9.5, 5.6), layout="constrained")
    ax = fig.add_subplot(projection="polar")
    finite = stats[np.isfinite(stats.r) & (stats.r > 0) & np.isfinite(stats.sd_ratio)]
    top = max(1.5, float(finite.sd_ratio.max()) * 1.1) if len(finite) else 1.5
    ax.set_thetamin(0)
    ax.set_thetamax(90)
    ax.set_rlim(0, top)
    ticks = np.array([0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0])
    ax.set_thetagrids(np.degrees(np.arccos(ticks)), [f"{t:g}" for t in ticks], fontsize=7)
    ax.set_xlabel("SD / SD of in situ", fontsize=8, labelpad=14)
    ax.text(0.8, 0.8, "correlation R", rotation=-45, ha="center", va="center", fontsize=8,
            transform=ax.transAxes)  # fmt: skip
    theta = np.linspace(0, np.pi / 2, 200)
    ax.plot(theta, np.ones_like(theta), color="0.4", linestyle=":", linewidth=0.8)
    # centred RMS difference: circles about the reference point (1, 0)
    rr, tt = np.meshgrid(np.linspace(0, top, 200), theta)
    crmsd = np.sqrt(1 + rr**2 - 2 * rr * np.cos(tt))
    cs = ax.contour(tt, rr, crmsd, levels=np.arange(0.25, 2.0, 0.25), colors="0.6",
                    linewidths=0.6)  # fmt: skip
    ax.clabel(cs, fontsize=6, fmt="%.2f")
    ax.plot([0], [1], marker="*", markersize=12, color="black", linestyle="", label="in situ")
    markers = "osD^vP<>Xh"
    for k, row in enumerate(stats.itertuples(index=False)):
        shown = np.isfinite(row.r) and row.r > 0 and np.isfinite(row.sd_ratio)
        label = (
            f"{row.product}: R {row.r:.2f}, SD {row.sd_ratio:.2f}, E' {row.crmsd:.2f}"
            if shown
            else f"{row.product}: not shown (R {row.r:.2f})"
        )
        ax.plot(np.arccos(row.r) if shown else np.nan, row.sd_ratio if shown else np.nan,
                marker=markers[k % len(markers)], linestyle="", label=label)  # fmt: skip
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=True)
    fig.suptitle(title, fontsize=9)
    return fig
