"""The multi-world skill table (issue 12; METHOD.md section 10, "Skill across worlds").

One world proves little: ``make skill`` runs the workflow on several demo worlds (different
seeds, sizes, station networks, with and without wet patches) and gathers, per world and
product, the scores against the world's true 1 km field (``validation/truth_scores.csv``)
and at held-out stations (the ``All`` row of ``all networks`` in
``validation/table4_stations.csv``) into one table. Pure functions: tables in, tables and
text out.

A world is the demo config (``config/config.yaml``) with the world's own file merged over
it (:func:`smdownscale.configfile.merge_configs`, as Snakemake merges several
``--configfile`` files), so every world runs the same workflow settings and differs only in
what the world file sets.

Products (rows), keyed so that the two sources line up: ``coarse`` (the coarse product;
on the grid repeated over its block), each member, ``mean`` (equal-weight member mean),
``best`` (best member per period and region; stations only), ``product`` (the product's
``sm`` on the grid, all-station weights; truth only), ``bma_heldout`` and ``bma_insample``
(the BMA series at stations with weights fitted without / with the station; stations
only). A score a source does not have is NaN.

Columns: ``truth_rmse``, ``truth_bias`` on the cell-days where the coarse product has a
value, ``truth_rmse_ratio`` (over the coarse product's RMSE on exactly those cell-days),
``truth_r`` and ``truth_within_cell_r`` on the cell-days every product has,
``truth_coverage``, ``truth_filled_rmse`` (with ``truth_n_filled``), ``truth_edge_ratio``;
``station_r``, ``station_ubrmse``, ``station_rmse``, ``station_bias``, ``station_n``
(station-days) and ``station_n_stations``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .config import bma_train_dates, run_dates
from .validation import ALL_NETWORKS, TRUTH_COARSE, TRUTH_INSITU, TRUTH_MEAN, TRUTH_PRODUCT

#: Display names of the product keys (members are shown by their own name).
LABELS: dict[str, str] = {
    "coarse": "coarse (repeated over its cell)",
    "mean": "member mean",
    "best": "best member",
    "product": "product sm (grid)",
    "bma_heldout": "BMA held-out",
    "bma_insample": "BMA in-sample",
    "insitu": "in-situ-trained ensemble",
}

#: truth_scores.csv column -> skill table column.
TRUTH_COLUMNS: dict[str, str] = {
    "rmse_vs_coarse_days": "truth_rmse",
    "rmse_ratio": "truth_rmse_ratio",
    "bias_vs_coarse_days": "truth_bias",
    "r": "truth_r",
    "within_cell_r": "truth_within_cell_r",
    "coverage": "truth_coverage",
    "filled_rmse": "truth_filled_rmse",
    "n_filled": "truth_n_filled",
    "edge_ratio": "truth_edge_ratio",
    "rmse": "truth_rmse_common",
    "bias": "truth_bias_common",
    "n": "truth_n_common",
    "n_vs_coarse_days": "truth_n_coarse_days",
}

#: table4_stations.csv column -> skill table column.
STATION_COLUMNS: dict[str, str] = {
    "r": "station_r",
    "ubrmse": "station_ubrmse",
    "rmse": "station_rmse",
    "bias": "station_bias",
    "n": "station_n",
    "n_stations": "station_n_stations",
}

COLUMNS = ["world", "product", "label", *TRUTH_COLUMNS.values(), *STATION_COLUMNS.values()]


def world_description(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """What distinguishes a world, from its resolved config: size, days, seed, networks,
    wet patches."""
    w, s, e, n = cfg["region"]["bbox"]
    start, end = run_dates(cfg)
    _, train_end = bma_train_dates(cfg)
    demo = cfg["demo"]
    nets = demo["networks"]
    patches = demo["wet_patches"]
    return {
        "run": cfg["run"],
        "target": cfg["grid"]["coarse_product"],
        "size": f"{e - w:g} x {n - s:g} deg",
        "bbox": [w, s, e, n],
        "days": (end - start).days + 1,
        "train_days": (min(train_end, end) - start).days + 1,
        "dates": f"{start}..{end}",
        "seed": demo["seed"],
        "stations": sum(int(x["n_stations"]) for x in nets),
        "networks": " + ".join(f"{x['n_stations']} {x['sampling']}" for x in nets),
        "wet_patches": (
            f"{patches['share']:g} of cells, {patches['size_km']:g} km"
            if patches["share"] > 0
            else "none"
        ),
    }


def _truth_key(label: str) -> str:
    keys = {TRUTH_COARSE: "coarse", TRUTH_MEAN: "mean", TRUTH_PRODUCT: "product",
            TRUTH_INSITU: "insitu"}  # fmt: skip
    return keys.get(label, label)


def _station_key(column: str) -> str:
    """Table 4's column -> the product key; the product's held-out station series (the
    ensemble each fold chose) shares the row of the gridded product."""
    if column == "product_heldout":
        return "product"
    return column[2:] if column.startswith("f_") else column


def world_rows(world: str, truth: pd.DataFrame, table4: pd.DataFrame) -> pd.DataFrame:
    """One world's rows of the skill table from its truth scores and its Table 4.

    ``truth``: the rows of ``truth_scores.csv`` (column ``product`` holds the labels of
    ``validate_truth``); ``table4``: ``table4_stations.csv`` (its ``All`` row of
    ``all networks`` is used, products keyed by ``column``).
    """
    t = truth.assign(key=truth["product"].map(_truth_key)).set_index("key")
    t = t[[c for c in TRUTH_COLUMNS if c in t.columns]].rename(columns=TRUTH_COLUMNS)
    sel = table4[(table4["network"] == ALL_NETWORKS) & (table4["subset"] == "All")]
    st = sel.assign(key=sel["column"].map(_station_key)).set_index("key")
    st = st[list(STATION_COLUMNS)].rename(columns=STATION_COLUMNS)
    if t.index.duplicated().any() or st.index.duplicated().any():
        raise ValueError(f"world {world}: a product appears twice in its truth or station table")
    keys = _ordered_keys([*t.index, *st.index])
    out = pd.DataFrame(index=pd.Index(keys, name="product")).join(t).join(st).reset_index()
    out.insert(0, "world", world)
    out.insert(2, "label", out["product"].map(lambda k: LABELS.get(k, k)))
    return out.reindex(columns=COLUMNS)


def _ordered_keys(keys: Sequence[str]) -> list[str]:
    """coarse, the members (first-seen order), mean, best, product, BMA held-out, in-sample,
    the in-situ-trained ensemble."""
    fixed_head = ["coarse"]
    fixed_tail = ["mean", "best", "product", "bma_heldout", "bma_insample", "insitu"]
    unique = list(dict.fromkeys(keys))
    members = [k for k in unique if k not in fixed_head + fixed_tail]
    return [k for k in fixed_head if k in unique] + members + [k for k in fixed_tail if k in unique]


def skill_table(worlds: Mapping[str, tuple[pd.DataFrame, pd.DataFrame] | None]) -> pd.DataFrame:
    """Every world's rows (:func:`world_rows`) in the given order; a world whose run failed
    (``None``) gets one row with product ``run failed`` and no scores."""
    parts = []
    for world, tables in worlds.items():
        if tables is None:
            parts.append(pd.DataFrame([{"world": world, "product": "run failed",
                                        "label": "run failed"}], columns=COLUMNS))  # fmt: skip
        else:
            parts.append(world_rows(world, *tables))
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(parts, ignore_index=True)


# ----------------------------------------------------------------------------- markdown


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if spec == "pct":
        return f"{100 * float(value):.1f} %"
    if spec == "int":
        return f"{int(value):d}"
    return format(float(value), spec)


#: Columns of the markdown table: (header, column, format).
MARKDOWN_COLUMNS: list[tuple[str, str, str]] = [
    ("RMSE", "truth_rmse", ".4f"),
    ("x coarse", "truth_rmse_ratio", ".3f"),
    ("bias", "truth_bias", "+.4f"),
    ("R", "truth_r", ".3f"),
    ("within-cell r", "truth_within_cell_r", ".2f"),
    ("coverage", "truth_coverage", "pct"),
    ("filled RMSE", "truth_filled_rmse", ".4f"),
    ("edge", "truth_edge_ratio", ".2f"),
    ("stn R", "station_r", ".3f"),
    ("stn ubRMSE", "station_ubrmse", ".4f"),
    ("stn RMSE", "station_rmse", ".4f"),
    ("stn bias", "station_bias", "+.4f"),
    ("stn n", "station_n", "int"),
]


def markdown_table(table: pd.DataFrame) -> str:
    """The skill table as a GitHub markdown table (world and product first; - = no score)."""
    header = ["world", "product", *(h for h, _, _ in MARKDOWN_COLUMNS)]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---", "---"] + ["---:"] * len(MARKDOWN_COLUMNS)) + "|",
    ]
    for row in table.to_dict("records"):
        cells = [str(row["world"]), str(row["label"])]
        cells += [_fmt(row.get(col), spec) for _, col, spec in MARKDOWN_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def worlds_markdown(descriptions: Mapping[str, Mapping[str, Any]]) -> str:
    """The worlds as a markdown table: coarse target, size, days, seed, stations, wet
    patches, wall time of the world's last run (a few seconds when its run found everything
    up to date)."""
    lines = [
        "| world | target | size | days (weights trained on) | seed | stations (networks) "
        "| wet patches | run | wall time (last run) |",
        "|---|---|---|---|---:|---|---|---|---:|",
    ]
    for world, d in descriptions.items():
        wall = d.get("wall_s")
        lines.append(
            f"| {world} | {d.get('target', 'esa_cci')} | {d['size']} "
            f"| {d['days']} ({d['train_days']}) | {d['seed']} "
            f"| {d['stations']} ({d['networks']}) | {d['wet_patches']} "
            f"| {d.get('status', '?')} | {_fmt(wall / 60 if wall is not None else None, '.1f')}"
            " min |"
        )
    return "\n".join(lines) + "\n"
