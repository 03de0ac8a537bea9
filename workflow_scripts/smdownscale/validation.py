"""The validation's tables: station scores shaped like the revised paper's Table 4, and scores
against a synthetic truth (METHOD.md section 10). Metrics come from :mod:`.metrics`.

Station evaluation (:func:`station_table`, :func:`per_station_table`):

- Only evaluation days (``split == "eval"``): days outside the weight-training window, so no
  station-day that trained the weights is scored. Held-out BMA values come from folds that
  never saw the station; the in-sample BMA is listed beside it to show the difference.
- Every product is scored on the **same** station-days: those where the in-situ value and
  every listed product are finite (the coarse product has swath gaps, so this removes days
  the 1 km products would otherwise be scored on alone). The counts say how many remain.
- ``All``: every such pair of the network; ``Mid``: pairs whose in-situ value lies within
  the 15th-85th percentiles of the network's in-situ values (:func:`metrics.mid_mask`).
  The row ``network = "all networks"`` pools every station.

Synthetic truth (:func:`truth_scores`): every fine cell-day of the evaluation days where
every product has a value, against the true 1 km field: R, RMSE, bias, ubRMSE, and the
within-coarse-cell correlation (for the coarse product repeated over its block it is
undefined: the field is constant there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import metrics

#: Products of the station series and how the tables name them (members are added by name).
STATION_PRODUCTS: dict[str, str] = {
    "coarse": "coarse product (0.25 deg)",
    "mean": "member mean",
    "best": "best member per period",
    "bma_insample": "BMA in-sample",
    "bma_heldout": "BMA held-out",
    "product_heldout": "product held-out",
}
ALL_NETWORKS = "all networks"
SCORE_COLUMNS = ["n", "r", "p_value", "r_ci_low", "r_ci_high", "rmse", "mae", "bias", "ubrmse"]


def station_products(members: Sequence[str]) -> dict[str, str]:
    """Column -> label of every product scored at stations, coarse first, BMA last."""
    out = {"coarse": STATION_PRODUCTS["coarse"]}
    out.update({f"f_{m}": m for m in members})
    out.update({k: v for k, v in STATION_PRODUCTS.items() if k != "coarse"})
    return out


def evaluation_pairs(series: pd.DataFrame, products: Sequence[str]) -> pd.DataFrame:
    """Evaluation-day rows where the in-situ value and every product are finite."""
    ev = series[series["split"] == "eval"]
    ok = np.isfinite(ev[["y", *products]].to_numpy(dtype=float)).all(axis=1)
    return ev[ok]


def station_table(series: pd.DataFrame, products: Mapping[str, str]) -> pd.DataFrame:
    """Table 4: one row per network, subset (All, Mid) and product, with every score."""
    pairs = evaluation_pairs(series, list(products))
    rows = []
    groups = [(ALL_NETWORKS, pairs), *pairs.groupby("network", sort=True)]
    for network, grp in groups:
        y = grp["y"].to_numpy(dtype=float)
        subsets = {"All": np.ones(y.size, bool), "Mid": metrics.mid_mask(y)}
        for subset, mask in subsets.items():
            n_stations = len(grp.loc[mask, ["network", "station"]].drop_duplicates())
            for col, label in products.items():
                p = grp[col].to_numpy(dtype=float)
                rows.append(
                    {
                        "network": network,
                        "subset": subset,
                        "product": label,
                        "column": col,
                        "n_stations": n_stations,
                        **metrics.score(p[mask], y[mask]).as_dict(),
                    }
                )
    return pd.DataFrame(rows, columns=["network", "subset", "product", "column", "n_stations",
                                       *SCORE_COLUMNS])  # fmt: skip


def per_station_table(series: pd.DataFrame, products: Mapping[str, str]) -> pd.DataFrame:
    """Scores of every product at every station (evaluation days, common pairs)."""
    pairs = evaluation_pairs(series, list(products))
    rows = []
    for (network, station), grp in pairs.groupby(["network", "station"], sort=True):
        y = grp["y"].to_numpy(dtype=float)
        for col, label in products.items():
            rows.append(
                {
                    "network": network,
                    "station": station,
                    "lat": grp["lat"].iloc[0],
                    "lon": grp["lon"].iloc[0],
                    "fold": int(grp["fold"].iloc[0]),
                    "takes_part": bool(grp["takes_part"].iloc[0]),
                    "product": label,
                    "column": col,
                    **metrics.score(grp[col].to_numpy(dtype=float), y).as_dict(),
                }
            )
    return pd.DataFrame(rows)


def truth_scores(fields: Mapping[str, np.ndarray], truth: np.ndarray, factor: int) -> pd.DataFrame:
    """Scores of fine fields (label -> (time, lat, lon)) against the truth on the same cells.

    Every field is scored on the same cell-days: those where the truth and every field are
    finite (the coarse product's swath gaps remove whole blocks for all fields alike): R,
    RMSE, bias, ubRMSE, n, and the within-coarse-cell correlation
    (:func:`metrics.within_cell_correlation`).
    """
    common = np.isfinite(truth)
    for field in fields.values():
        common &= np.isfinite(field)
    truth = np.where(common, truth, np.nan)
    rows = []
    for label, field in fields.items():
        field = np.where(common, field, np.nan)
        s = metrics.score(field, truth).as_dict()
        w = metrics.within_cell_correlation(field, truth, factor)
        rows.append(
            {
                "product": label,
                **s,
                "within_cell_r": w.mean,
                "within_cell_blocks": w.n_defined,
                "within_cell_undefined": w.n_undefined,
                "within_cell": w.describe(),
            }
        )
    return pd.DataFrame(rows)
