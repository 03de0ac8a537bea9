"""The multi-world skill table: config merging, world files, gathering, markdown."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from smdownscale.config import prepare_config
from smdownscale.configfile import merge_configs
from smdownscale.skill import (
    COLUMNS,
    markdown_table,
    skill_table,
    world_description,
    world_rows,
    worlds_markdown,
)
from smdownscale.validation import ALL_NETWORKS, TRUTH_COARSE, TRUTH_MEAN, TRUTH_PRODUCT

ROOT = Path(__file__).resolve().parents[2]

TRUTH_HEADER = (
    "product,days,n,r,rmse,bias,within_cell_r,coverage,n_vs_coarse_days,rmse_vs_coarse_days,"
    "bias_vs_coarse_days,coarse_rmse_same_days,rmse_ratio,n_filled,filled_rmse,filled_bias,"
    "edge_ratio"
)
TRUTH_CSV = f"""{TRUTH_HEADER}
{TRUTH_COARSE},x,100,0.8,0.05,0.01,,0.7,70,0.05,0.01,0.05,1,0,,,inf
rf,x,100,0.7,0.06,0.02,0.4,0.99,70,0.055,0.02,0.05,1.1,29,0.07,0.03,1.8
xgb,x,100,0.75,0.055,-0.01,0.45,0.99,70,0.045,-0.01,0.05,0.9,29,0.06,0.0,1.2
{TRUTH_MEAN},x,100,0.78,0.052,0.005,0.5,0.99,70,0.044,0.005,0.05,0.88,29,0.058,0.01,1.1
{TRUTH_PRODUCT},x,100,0.76,0.054,0.012,0.48,0.99,70,0.046,0.012,0.05,0.92,29,0.061,0.02,1.05
"""


def table4_csv() -> str:
    rows = ["network,subset,product,column,n_stations,n,r,p_value,r_ci_low,r_ci_high,rmse,mae,"
            "bias,ubrmse"]  # fmt: skip
    cols = {"coarse": 0.6, "f_rf": 0.5, "f_xgb": 0.55, "mean": 0.62, "best": 0.58,
            "bma_insample": 0.7, "bma_heldout": 0.4}  # fmt: skip
    for net, subset, shift in [(ALL_NETWORKS, "All", 0.0), (ALL_NETWORKS, "Mid", 0.1),
                               ("NET-A", "All", 0.2)]:  # fmt: skip
        for col, r in cols.items():
            rows.append(f"{net},{subset},label {col},{col},12,300,{r + shift},0.01,0,1,"
                        f"{0.1 - r / 10:.4f},0.04,0.01,{0.09 - r / 10:.4f}")  # fmt: skip
    return "\n".join(rows) + "\n"


@pytest.fixture
def world_tables(tmp_path):
    (tmp_path / "truth.csv").write_text(TRUTH_CSV)
    (tmp_path / "table4.csv").write_text(table4_csv())
    return pd.read_csv(tmp_path / "truth.csv"), pd.read_csv(tmp_path / "table4.csv")


def test_world_rows_line_up_truth_and_station_products(world_tables):
    out = world_rows("w1", *world_tables)
    assert list(out.columns) == COLUMNS
    assert list(out["product"]) == ["coarse", "rf", "xgb", "mean", "best", "product",
                                    "bma_heldout", "bma_insample"]  # fmt: skip
    row = out.set_index("product")
    # truth columns come from the truth scores: RMSE and bias on the coarse product's days
    assert row.loc["xgb", "truth_rmse"] == 0.045 and row.loc["xgb", "truth_rmse_ratio"] == 0.9
    assert row.loc["mean", "truth_filled_rmse"] == 0.058 and row.loc["mean", "truth_r"] == 0.78
    assert math.isinf(row.loc["coarse", "truth_edge_ratio"])
    assert row.loc["coarse", "truth_coverage"] == 0.7
    # station columns from the All row of all networks only (not Mid, not NET-A)
    assert row.loc["coarse", "station_r"] == pytest.approx(0.6)
    assert row.loc["bma_heldout", "station_r"] == pytest.approx(0.4)
    assert row.loc["rf", "station_ubrmse"] == pytest.approx(0.09 - 0.05)
    assert row.loc["mean", "station_n"] == 300 and row.loc["mean", "station_n_stations"] == 12
    # each source's missing products are empty, not invented
    assert row.loc[["best", "bma_heldout", "bma_insample"], "truth_rmse"].isna().all()
    assert np.isnan(row.loc["product", "station_r"])
    assert (out["world"] == "w1").all() and row.loc["product", "label"] == "product sm (grid)"


def test_skill_table_keeps_world_order_and_records_failed_worlds(world_tables):
    out = skill_table({"b": world_tables, "broken": None, "a": world_tables})
    assert list(dict.fromkeys(out["world"])) == ["b", "broken", "a"]
    failed = out[out["world"] == "broken"]
    assert len(failed) == 1 and failed["product"].iloc[0] == "run failed"
    assert failed[["truth_rmse", "station_r"]].isna().all().all()
    assert len(out) == 2 * 8 + 1


def test_duplicate_products_are_refused(world_tables):
    truth, table4 = world_tables
    with pytest.raises(ValueError, match="twice"):
        world_rows("w", pd.concat([truth, truth.iloc[[1]]]), table4)


def test_markdown_table(world_tables):
    text = markdown_table(skill_table({"w1": world_tables}))
    lines = text.strip().splitlines()
    assert len(lines) == 2 + 8
    assert lines[0].startswith("| world | product | RMSE | x coarse |")
    assert len({line.count("|") for line in lines}) == 1  # every row has every cell
    coarse = next(line for line in lines if "coarse (repeated over its cell)" in line)
    assert "| inf |" in coarse and "70.0 %" in coarse
    best = next(line for line in lines if "best member" in line)
    assert best.split("|")[3].strip() == "-"  # no truth RMSE for the best member


def test_merge_configs_is_recursive_and_replaces_lists():
    base = {"run": "demo", "demo": {"seed": 1, "networks": [{"name": "A"}, {"name": "B"}]},
            "bma": {"train_end": "x", "steps": 10}}  # fmt: skip
    over = {"run": "skill/w", "demo": {"networks": [{"name": "C"}]}, "bma": {"train_end": "y"}}
    out = merge_configs(base, over)
    assert out == {"run": "skill/w", "demo": {"seed": 1, "networks": [{"name": "C"}]},
                   "bma": {"train_end": "y", "steps": 10}}  # fmt: skip
    assert base["bma"]["train_end"] == "x"  # inputs untouched


def test_skill_worlds_are_valid_distinct_and_cover_the_issue():
    base = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    worlds = {}
    for path in sorted((ROOT / "config/skill").glob("*.yaml")):
        cfg = prepare_config(merge_configs(base, yaml.safe_load(path.read_text())))
        assert cfg["run"] == f"skill/{path.stem}", path
        worlds[path.stem] = (cfg, world_description(cfg))
    assert "demo" in worlds and len(worlds) >= 5
    assert {d["target"] for _, d in worlds.values()} == {"esa_cci", "smap_l3"}  # issue 17
    descs = [d for _, d in worlds.values()]
    assert len({d["seed"] for d in descs}) == len(descs)
    assert len({d["size"] for d in descs}) >= 2
    assert sum(d["wet_patches"] != "none" for d in descs) >= 2
    assert any(d["wet_patches"] == "none" for d in descs)
    counts = [d["stations"] for d in descs]
    assert min(counts) <= 15 and max(counts) >= 50  # sparse and dense networks
    samplings = {n["sampling"] for cfg, _ in worlds.values() for n in cfg["demo"]["networks"]}
    assert samplings & {"5day", "10day"}
    for cfg, d in worlds.values():  # weights trained on about two thirds of the days
        assert 0.6 <= d["train_days"] / d["days"] <= 0.7, cfg["run"]
        assert d["days"] <= 130


def test_worlds_markdown():
    d = {"size": "2 x 2 deg", "days": 96, "train_days": 64, "seed": 3, "stations": 15,
         "networks": "7 hourly + 8 5day", "wet_patches": "none", "status": "ok",
         "wall_s": 150}  # fmt: skip
    text = worlds_markdown({"sparse": d})
    assert (
        "| sparse | esa_cci | 2 x 2 deg | 96 (64) | 3 | 15 (7 hourly + 8 5day) | none | ok "
        "| 2.5 min |" in text
    )
