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

Synthetic truth (:func:`truth_scores`), per product against the true 1 km field on the
evaluation days:

- on the **common** cell-days (truth and every product finite): R, RMSE, bias, ubRMSE and
  the within-coarse-cell correlation (for the coarse product repeated over its block it is
  undefined: the field is constant there);
- ``coverage``: the share of the truth's cell-days (truth finite) where the product has a
  value;
- on the cell-days where the **coarse product** has a value (and the product and the
  truth): ``rmse_vs_coarse_days``, ``bias_vs_coarse_days`` and ``rmse_ratio``, the
  product's RMSE over the coarse product's RMSE on exactly those cell-days (below 1: the
  product beats what it downscales);
- on the cell-days the product **fills** (it has a value where the coarse product has none
  or a predictor was gap-filled or missing): ``filled_rmse``, ``filled_bias``,
  ``n_filled``. The coarse product fills nothing (its row is NaN with ``n_filled`` 0);
- ``edge_ratio``: :func:`metrics.block_edge_ratio` of the product's own values (every
  evaluation cell-day where it has one); 1 = no coarse-cell block edges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import metrics
from .blocks import Blocks
from .bootstrap import BOOT_COLUMNS, BootstrapSettings, station_bootstrap

#: Products of the station series and how the tables name them (members are added by name).
STATION_PRODUCTS: dict[str, str] = {
    "coarse": "coarse product",
    "mean": "member mean",
    "best": "best member per period",
    "bma_insample": "BMA in-sample",
    "bma_heldout": "BMA held-out",
    "product_heldout": "product held-out",
}
#: The in-situ-trained ensemble's held-out series (insitu.enabled), scored beside them.
INSITU_PRODUCT = {"insitu": "in-situ-trained ensemble held-out"}
ALL_NETWORKS = "all networks"
#: Labels of the gridded products in the truth scores (members are listed by name).
TRUTH_COARSE = "coarse product (repeated over its block)"
TRUTH_MEAN = "member mean"
TRUTH_PRODUCT = "product sm"
TRUTH_INSITU = "in-situ-trained ensemble sm"
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


def station_table(
    series: pd.DataFrame,
    products: Mapping[str, str],
    bootstrap: BootstrapSettings | None = None,
) -> pd.DataFrame:
    """Table 4: one row per network, subset (All, Mid) and product, with every score; with
    ``bootstrap``, station-block bootstrap intervals of R, RMSE, ubRMSE and bias beside the
    Fisher z interval (:mod:`.bootstrap`; every product of a row group is resampled with the
    same stations)."""
    pairs = evaluation_pairs(series, list(products))
    rows = []
    groups = [(ALL_NETWORKS, pairs), *pairs.groupby("network", sort=True)]
    for network, grp in groups:
        mid = metrics.mid_mask(grp["y"].to_numpy(dtype=float))
        for subset, mask in {"All": np.ones(mid.size, bool), "Mid": mid}.items():
            keys = {"network": network, "subset": subset}
            rows += _score_rows(grp[mask], products, keys, bootstrap)
    extra = BOOT_COLUMNS if bootstrap is not None else []
    return pd.DataFrame(rows, columns=["network", "subset", "product", "column", "n_stations",
                                       *SCORE_COLUMNS, *extra])  # fmt: skip


def _score_rows(
    pairs: pd.DataFrame,
    products: Mapping[str, str],
    keys: Mapping[str, object],
    bootstrap: BootstrapSettings | None,
) -> list[dict[str, object]]:
    """One row per product scored on ``pairs``: ``keys``, product, column, n_stations, the
    scores and (with ``bootstrap``) the station-block intervals."""
    y = pairs["y"].to_numpy(dtype=float)
    station = (pairs["network"].astype(str) + "/" + pairs["station"].astype(str)).to_numpy()
    rows = []
    n_stations = int(pd.unique(station).size)
    for col, label in products.items():
        p = pairs[col].to_numpy(dtype=float)
        row = {**keys, "product": label, "column": col, "n_stations": n_stations,
               **metrics.score(p, y).as_dict()}  # fmt: skip
        if bootstrap is not None:
            row.update(station_bootstrap(p, y, station, bootstrap))
        rows.append(row)
    return rows


#: Meteorological seasons by month (northern hemisphere names).
SEASONS = {12: "DJF", 1: "DJF", 2: "DJF", 3: "MAM", 4: "MAM", 5: "MAM",
           6: "JJA", 7: "JJA", 8: "JJA", 9: "SON", 10: "SON", 11: "SON"}  # fmt: skip


def time_table(
    series: pd.DataFrame,
    products: Mapping[str, str],
    bootstrap: BootstrapSettings | None = None,
) -> pd.DataFrame:
    """Table 4's All row (all networks) per calendar month and per season (DJF, MAM, JJA,
    SON) of the evaluation days: ``kind`` (month or season), ``when`` (``YYYY-MM`` or the
    season with its year, December counted with the next year's DJF), then the columns of
    :func:`station_table`. Products are scored on the same station-days as in Table 4."""
    pairs = evaluation_pairs(series, list(products))
    t = pd.to_datetime(pairs["time"])
    month = t.dt.strftime("%Y-%m")
    season = t.dt.month.map(SEASONS) + " " + (t.dt.year + (t.dt.month == 12)).astype(str)
    rows = []
    for kind, key in (("month", month), ("season", season)):
        for when, grp in pairs.groupby(key.to_numpy(), sort=True):
            rows += _score_rows(grp, products, {"kind": kind, "when": when}, bootstrap)
    extra = BOOT_COLUMNS if bootstrap is not None else []
    return pd.DataFrame(rows, columns=["kind", "when", "product", "column", "n_stations",
                                       *SCORE_COLUMNS, *extra])  # fmt: skip


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


def filled_cell_days(
    coarse_has_value: np.ndarray,
    gap_flag: np.ndarray,
    predictors: Mapping[str, np.ndarray],
    gap_bits: Mapping[str, int],
) -> np.ndarray:
    """Fine cell-days a downscaled product fills: (time, lat, lon) bool.

    True where the coarse product (repeated over its block) has no value, or any of
    ``predictors`` (name -> (time, lat, lon) values, NaN = missing) is missing, or its bit
    ``gap_bits[name]`` is set in ``gap_flag`` (gap-filled). Only the predictors given count,
    so pass the daily predictors the members use.
    """
    out = ~np.asarray(coarse_has_value, dtype=bool)
    flag = np.asarray(gap_flag).astype(np.uint8)
    for name, values in predictors.items():
        out = out | ~np.isfinite(values) | ((flag & np.uint8(gap_bits[name])) != 0)
    return out


def truth_scores(
    fields: Mapping[str, np.ndarray],
    truth: np.ndarray,
    factor: int | Blocks,
    *,
    coarse: str | None = None,
    filled: np.ndarray | None = None,
) -> pd.DataFrame:
    """Scores of fine fields (label -> (time, lat, lon)) against the truth (module docstring).

    ``coarse`` names the field that is the coarse product repeated over its block (the
    baseline of ``rmse_ratio``; without it those columns are NaN). ``filled`` (bool, the
    truth's shape) marks the cell-days a downscaled product fills: no coarse value, or a
    predictor gap-filled or missing (without it the filled columns are NaN). ``fields`` is
    read twice per label (once for the common cell-days, once to score), so it may be a
    lazy mapping that loads one field at a time.
    """
    truth_ok = np.isfinite(truth)
    common = truth_ok.copy()
    for label in fields:
        common &= np.isfinite(fields[label])
    coarse_ok = np.isfinite(fields[coarse]) & truth_ok if coarse is not None else None
    coarse_field = np.where(coarse_ok, fields[coarse], np.nan) if coarse is not None else None
    n_truth = int(truth_ok.sum())
    truth_common = np.where(common, truth, np.nan)
    rows = []
    for label in fields:
        field = np.asarray(fields[label])
        has = np.isfinite(field) & truth_ok
        field_common = np.where(common, field, np.nan)
        s = metrics.score(field_common, truth_common)
        w = metrics.within_cell_correlation(field_common, truth_common, factor)
        del field_common
        row: dict[str, object] = {
            "product": label,
            **s.as_dict(),
            "within_cell_r": w.mean,
            "within_cell_blocks": w.n_defined,
            "within_cell_undefined": w.n_undefined,
            "within_cell": w.describe(),
            "coverage": float(has.sum() / n_truth) if n_truth else np.nan,
            "n_truth": n_truth,
        }
        row.update(_vs_coarse_days(field, truth, has, coarse_ok, coarse_field))
        fill = filled if label != coarse else None
        row.update(_filled_scores(field, truth, has, fill))
        row["edge_ratio"] = metrics.block_edge_ratio(field, factor)
        rows.append(row)
    return pd.DataFrame(rows)


def _vs_coarse_days(
    field: np.ndarray,
    truth: np.ndarray,
    has: np.ndarray,
    coarse_ok: np.ndarray | None,
    coarse_field: np.ndarray | None,
) -> dict[str, float | int]:
    """RMSE and bias on the cell-days where the coarse product has a value, and the ratio."""
    if coarse_ok is None or coarse_field is None:
        nan = float("nan")
        return {"n_vs_coarse_days": 0, "rmse_vs_coarse_days": nan, "bias_vs_coarse_days": nan,
                "coarse_rmse_same_days": nan, "rmse_ratio": nan}  # fmt: skip
    on = has & coarse_ok
    mine = metrics.score(np.where(on, field, np.nan), np.where(on, truth, np.nan))
    base = metrics.score(np.where(on, coarse_field, np.nan), np.where(on, truth, np.nan))
    ratio = mine.rmse / base.rmse if base.rmse > 0 else float("nan")
    return {"n_vs_coarse_days": mine.n, "rmse_vs_coarse_days": mine.rmse,
            "bias_vs_coarse_days": mine.bias, "coarse_rmse_same_days": base.rmse,
            "rmse_ratio": ratio}  # fmt: skip


def _filled_scores(
    field: np.ndarray,
    truth: np.ndarray,
    has: np.ndarray,
    filled: np.ndarray | None,
) -> dict[str, float | int]:
    """RMSE and bias on the cell-days the product fills (NaN when unknown or none)."""
    if filled is None:
        return {"n_filled": 0, "filled_rmse": float("nan"), "filled_bias": float("nan")}
    on = has & filled
    s = metrics.score(np.where(on, field, np.nan), np.where(on, truth, np.nan))
    return {"n_filled": s.n, "filled_rmse": s.rmse, "filled_bias": s.bias}
