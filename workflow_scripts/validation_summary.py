"""Rule validation_summary: the headline figures for machines (summary.json) and the
heterogeneity table (Table S3: means over the run's days of the daily CV and Moran's I)."""

import json

import numpy as np
import pandas as pd

from smdownscale.atomic import atomic_path, write_text_atomic
from smdownscale.bma_stations import read_station_table
from smdownscale.config import bma_eval_dates, bma_train_dates, digest, run_dates
from smdownscale.rule_io import code_version, setup_logging
from smdownscale.validation import ALL_NETWORKS, STATION_PRODUCTS


def clean(value):
    """JSON-safe: NaN -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    table = pd.read_csv(snakemake.input.table)
    head = table[(table.network == ALL_NETWORKS)]
    keep = ["n", "n_stations", "r", "r_ci_low", "r_ci_high", "rmse", "bias", "ubrmse"]
    keep += [c for c in ("r_boot_low", "r_boot_high") if c in table.columns]
    stations = {
        subset: {row["product"]: {k: row[k] for k in keep} for _, row in grp.iterrows()}
        for subset, grp in head.groupby("subset")
    }
    allp = stations["All"]
    heldout, coarse = allp["BMA held-out"], allp[STATION_PRODUCTS["coarse"]]
    members = {k: v for k, v in allp.items() if k in cfg["members"]["use"]}
    best = min(members, key=lambda m: members[m]["rmse"])
    verdict = {
        "bma_heldout_rmse_below_coarse": heldout["rmse"] < coarse["rmse"],
        "bma_heldout_r_above_coarse": heldout["r"] > coarse["r"],
        "best_member_at_stations": best,
        "bma_heldout_rmse_below_best_member": heldout["rmse"] < members[best]["rmse"],
        "bma_heldout_r_above_best_member": heldout["r"] > members[best]["r"],
    }
    product, mean = allp.get("product held-out"), allp["member mean"]
    if product is not None:  # issue 12: R at least, ubRMSE at most the coarse and the mean's
        for name, other in (("coarse", coarse), ("member_mean", mean)):
            verdict[f"product_heldout_r_at_least_{name}"] = product["r"] >= other["r"]
            verdict[f"product_heldout_ubrmse_at_most_{name}"] = product["ubrmse"] <= other["ubrmse"]
    series = pd.read_parquet(snakemake.input.series)
    ev = series[series.split == "eval"]
    coverage = {
        "evaluation_station_days": int(len(ev)),
        "with_every_member": int(ev.complete.sum()),
        "with_heldout_bma": int(np.isfinite(ev.bma_heldout).sum()),
        "with_coarse_product": int(np.isfinite(ev.coarse).sum()),
        "scored_in_table4": int(allp["BMA held-out"]["n"]),
    }
    folds = read_station_table(snakemake.input.folds)
    post = read_station_table(snakemake.input.posteriors)
    kriging = pd.read_csv(snakemake.input.kriging)
    het = pd.concat([pd.read_csv(p) for p in snakemake.input.heterogeneity])
    means = (
        het.groupby(["product", "grid", "statistic", "range"])["value"]
        .agg(["mean", "count"])
        .reset_index()
        .rename(columns={"count": "days"})
    )
    with atomic_path(snakemake.output.heterogeneity) as tmp:
        means.to_csv(tmp, index=False, float_format="%.6g")
    overall = means[means["range"] == "all"]
    summary = {
        "run": cfg["run"],
        "source": cfg["source"],
        "code_version": code_version(),
        "config_digest": digest(cfg),
        "dates": [str(d) for d in run_dates(cfg)],
        "weight_training_days": [str(d) for d in bma_train_dates(cfg)],
        "evaluation_days": [str(d) for d in bma_eval_dates(cfg)],
        "ensemble": cfg["bma"]["ensemble"],
        "stations": {
            "with_pairs": int(len(folds)),
            "taking_part": int(folds.takes_part.sum()),
            "chains_converged": int(post.converged.sum()) if "converged" in post else 0,
            "kriged": bool(kriging.kriged.all()),
            "kriging_fallback": ", ".join(sorted(set(kriging.fallback_reason.dropna()))),
            "parameter_paths": kriging.groupby("path").size().to_dict(),
            "product_ensemble": str(kriging.product_ensemble.iloc[0]),
        },
        "evaluation_coverage": coverage,
        "station_scores_evaluation_days": stations,
        "verdict": verdict,
        "heterogeneity_mean_over_days": {},
    }
    for _, r in overall.iterrows():
        summary["heterogeneity_mean_over_days"].setdefault(r["product"], {})[r["statistic"]] = r[
            "mean"
        ]
    if snakemake.input.get("truth"):
        truth = pd.read_csv(snakemake.input.truth)
        summary["synthetic_truth"] = {
            row["product"]: {
                "r": row["r"],
                "rmse": row["rmse"],
                "bias": row["bias"],
                "within_cell_r": row["within_cell_r"],
                "within_cell": row["within_cell"],
                "coverage": row["coverage"],
                "rmse_ratio_on_coarse_days": row["rmse_ratio"],
                "filled_rmse": row["filled_rmse"],
                "edge_ratio": row["edge_ratio"],
            }
            for _, row in truth.iterrows()
        }
    text = json.dumps(clean(summary), indent=2, sort_keys=False)
    write_text_atomic(snakemake.output.summary, text + "\n")
    log.info("verdict: %s", json.dumps(clean(verdict)))


if __name__ == "__main__":
    main(snakemake)
