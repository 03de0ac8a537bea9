"""Rule bma_station_series: BMA (and alternative ensembles) at every station, held out.

For each fold f, everything fitted without fold f's stations (their posteriors, the pooled
regional fits, and the choices of rule bma_pooled: shrinkage, kriged or pooled, BMA or the
member mean) gives fold f's stations a BMA value from parameters that never saw them: the
``bma_heldout`` series the validation scores. ``product_heldout`` is what the product's
procedure gives there: BMA, or the member mean where fold f's own cross-validation found
BMA no better (``bma.ensemble`` other than bma: that ensemble). ``bma_insample`` uses the
fold ``all`` fit (at the station itself) and is kept only to show how much in-sample scores
flatter. The alternatives are added beside: the equal-weight member mean and the best member
per period and region. ``heldout_paths.csv`` lists each fold's choices for the report.
"""

import json

import numpy as np
import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.bma import best_member_table, clip_physical, equal_weight
from smdownscale.bma_pooled import chosen_parameters
from smdownscale.bma_stations import (
    KEY,
    member_columns,
    moments_from_parameters,
    read_station_table,
)
from smdownscale.config import run_periods
from smdownscale.kriging import SOURCE_KRIGED
from smdownscale.rule_io import setup_logging


def fold_of(path: str) -> str:
    """``1`` from ``.../posteriors_1.csv`` (or ``pooled_1.csv``, ``selection_1.json``)."""
    return path.rsplit("_", 1)[1].split(".")[0]


def bma_at(pk, sites, pairs, members, porosity):
    """BMA mean (clipped), sd and parameter source for the pairs of ``sites``."""
    fields, source = pk.at_points_with_source(
        sites.lon.to_numpy(), sites.lat.to_numpy(), sites.region.to_numpy()
    )
    params = pd.DataFrame({k: v[0] for k, v in fields.items()})
    params[KEY] = sites[KEY].to_numpy()
    params["source"] = source
    rows = pairs[[*KEY, *member_columns(members)]].merge(params, on=KEY, how="left")
    f = rows[member_columns(members)].to_numpy()
    mean, sd = moments_from_parameters({k: rows[k].to_numpy() for k in fields}, f, members)
    mean, _, _ = clip_physical(mean, porosity)
    return mean, sd, rows["source"].to_numpy()


def load_fold(posteriors, pooled, selection, members, kcfg):
    with open(selection) as fh:
        sel = json.load(fh)
    pk = chosen_parameters(read_station_table(posteriors), pd.read_csv(pooled), sel, members, kcfg)
    return pk, sel


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    b = cfg["bma"]
    members = cfg["members"]["use"]
    pairs = pd.read_parquet(snakemake.input.pairs)
    folds = read_station_table(snakemake.input.folds)
    pairs = pairs.merge(folds[[*KEY, "fold", "takes_part"]], on=KEY, how="inner")
    pairs = pairs.sort_values([*KEY, "time"]).reset_index(drop=True)
    sites = folds[[*KEY, "lat", "lon", "region", "fold"]]

    out = pairs.copy()
    f = out[member_columns(members)].to_numpy()
    out["mean"], out["mean_sd"] = equal_weight(f)
    out["bma_heldout"] = np.nan
    out["bma_heldout_sd"] = np.nan
    out["heldout_source"] = -1
    out["heldout_ensemble"] = ""
    posts = {fold_of(p): p for p in snakemake.input.fold_posteriors}
    pools = {fold_of(p): p for p in snakemake.input.fold_pooled}
    sels = {fold_of(p): p for p in snakemake.input.fold_selections}
    records = []
    for key in sorted(posts, key=int):
        fold = int(key)
        pk, sel = load_fold(posts[key], pools[key], sels[key], members, b["kriging"])
        held = sites[sites.fold == fold]
        sel_rows = (out.fold == fold).to_numpy()
        mean, sd, src = bma_at(pk, held, out.loc[sel_rows], members, b["porosity"])
        out.loc[sel_rows, "bma_heldout"] = mean
        out.loc[sel_rows, "bma_heldout_sd"] = sd
        out.loc[sel_rows, "heldout_source"] = src
        out.loc[sel_rows, "heldout_ensemble"] = sel["ensemble"]
        scores = {s["candidate"]: s["rmse"] for s in sel["scores"]}
        records.append(
            {
                "fold": fold,
                "training_stations": sel["n_stations"],
                "training_pairs": sel["n_pairs"],
                "heldout_stations": len(held),
                "path": sel["path"],
                "shrinkage": sel["shrinkage"],
                "ensemble": sel["ensemble"],
                "cv_rmse_bma": scores.get("BMA (chosen)", np.nan),
                "cv_rmse_member_mean": scores.get("member mean", np.nan),
                "reasons": " | ".join(sel["reasons"]),
            }
        )
        log.info(
            "fold %d: %d training stations, %s (s = %g), ensemble %s; %d held-out stations, "
            "%d station-days",
            fold,
            sel["n_stations"],
            "kriged" if pk.kriged else "pooled",
            sel["shrinkage"],
            sel["ensemble"],
            len(held),
            int(sel_rows.sum()),
        )
    pk, sel_all = load_fold(
        snakemake.input.posteriors,
        snakemake.input.pooled,
        snakemake.input.selection,
        members,
        b["kriging"],
    )
    mean, sd, src = bma_at(pk, sites, out, members, b["porosity"])
    out["bma_insample"] = mean
    out["bma_insample_sd"] = sd
    out["insample_source"] = src

    best = best_member_table(pd.read_csv(snakemake.input.scores), members)
    period_of = {d: p.id for p in run_periods(cfg) for d in p.days}
    out["period"] = [period_of[t] for t in out.time.dt.date]
    out = out.merge(
        best.rename(columns={"member": "best_member", "rmse": "best_rmse"}),
        on=["period", "region"],
        how="left",
    )
    col = {m: j for j, m in enumerate(members)}
    idx = out["best_member"].map(col)
    ok = idx.notna().to_numpy()
    out["best"] = np.nan
    f = out[member_columns(members)].to_numpy()
    out.loc[ok, "best"] = f[np.flatnonzero(ok), idx[ok].astype(int).to_numpy()]

    ens = b["ensemble"]
    if ens == "bma":
        use_mean = (out.heldout_ensemble == "mean").to_numpy()
        out["product_heldout"] = np.where(use_mean, out["mean"], out["bma_heldout"])
    elif ens == "mean":
        out["product_heldout"] = out["mean"]
    elif ens == "best":
        out["product_heldout"] = out["best"]
    else:
        out["product_heldout"] = out[f"f_{ens}"]

    # the sub-cell detail correction (rule subcell_fit), held out with each fold's own fit
    # and choice; fitted to the member mean's error, so added only where the product is
    # the member mean (as bma_product does)
    sub = pd.read_parquet(snakemake.input.subcell)[[*KEY, "time", "subcell_heldout"]]
    out = out.merge(sub, on=[*KEY, "time"], how="left")
    on_mean = (
        (out.heldout_ensemble == "mean") if ens == "bma" else pd.Series(ens == "mean", out.index)
    )
    corr = np.where(on_mean, out["subcell_heldout"].fillna(0.0), 0.0)
    out["subcell_heldout"] = corr
    fixed, _, _ = clip_physical(out["mean"].to_numpy() + corr, b["porosity"])
    out["product_heldout"] = np.where(on_mean, fixed, out["product_heldout"])

    done = np.isfinite(out.bma_heldout) & out.complete
    log.info(
        "%d station-days, %d with a held-out BMA value (%d of them kriged, the rest from "
        "pooled regional fits); evaluation days with a held-out value: %d; product held-out "
        "is the member mean on %d station-days",
        len(out),
        int(done.sum()),
        int((done & (out.heldout_source == SOURCE_KRIGED)).sum()),
        int((done & (out.split == "eval")).sum()),
        int((done & (out.heldout_ensemble == "mean")).sum()) if ens == "bma" else 0,
    )
    with atomic_path(snakemake.output.series) as tmp:
        out.to_parquet(tmp, index=False)
    with atomic_path(snakemake.output.paths) as tmp:
        pd.DataFrame(records).to_csv(tmp, index=False)


if __name__ == "__main__":
    main(snakemake)
