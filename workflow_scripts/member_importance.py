"""Rule member_importance: permutation importance of every predictor for every member, per
period and region, on the samples each fit held out (issue 16, item 3).

The samples are rebuilt exactly as rule fit_period drew them (:mod:`smdownscale.training`:
the same neighbour periods, window and held-out cells), so each model is scored on cells it
never saw. Regions served by the previous period's models or by nothing are skipped (their
own models do not exist); the pooled model is scored on the pooled samples' held-out cells
(region ``all``). Writes one row per period, region, member and predictor, and a summary
figure: the mean RMSE increase over the period-regions with at least ``min_heldout``
held-out samples, with the spread across them.
"""

import pickle

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from smdownscale.atomic import atomic_path
from smdownscale.config import region_count
from smdownscale.importance import permutation_importance, xgb_contributions
from smdownscale.rule_io import setup_logging
from smdownscale.training import load_coarse_stack, period_selections
from smdownscale.windows import heldout_mask

MIN_HELDOUT = 10


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    mcfg = cfg["members"]
    names = cfg["predictors"]["use"]
    k = region_count(cfg)
    ev = cfg["evaluation"]
    with xr.open_dataset(snakemake.input.regions) as ds:
        labels = ds["region"].values
    rows, shap = [], []
    for period, neighbours, models in zip(
        snakemake.params.periods, snakemake.params.neighbours, snakemake.input.models,
        strict=True,
    ):  # fmt: skip
        with open(models, "rb") as f:
            bundle = pickle.load(f)
        days, sm, feats = load_coarse_stack(neighbours, names)
        own, pooled = period_selections(days, sm, feats, labels, period, k, mcfg, names)
        fits = [(str(c), own[c], bundle["regions"][c]) for c in sorted(bundle["regions"])]
        if bundle.get("pooled") is not None:
            fits.append(("all", pooled, bundle["pooled"]))
        for region, sel, members in fits:
            held, _ = heldout_mask(sel.coords, sel.y, mcfg)
            if not held.any():
                log.info("period %s region %s: no held-out cells", period.id, region)
                continue
            for name, fm in members.items():
                if name == "xgb":
                    shap.append(treeshap_rows(fm, sel.X[held], names, period.id, region))
                imp = permutation_importance(
                    fm.predict, sel.X[held], sel.y[held], names,
                    repeats=ev["importance_repeats"], seed=mcfg["seed"],
                )  # fmt: skip
                imp.insert(0, "member", name)
                imp.insert(0, "region", region)
                imp.insert(0, "period", period.id)
                rows.append(imp)
        log.info("period %s: %d fits scored", period.id, len(fits))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["period", "region", "member", "predictor", "n", "rmse_base", "rmse_increase",
                 "rmse_increase_sd"])  # fmt: skip
    with atomic_path(snakemake.output.table) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    shap_table = pd.concat(shap, ignore_index=True) if shap else pd.DataFrame(
        columns=["period", "region", "predictor", "n", "mean_abs_shap"])  # fmt: skip
    with atomic_path(snakemake.output.treeshap) as tmp:
        shap_table.to_csv(tmp, index=False, float_format="%.6g")
    plot(table, shap_table, snakemake.output.figure, names, list(mcfg["use"]))


def treeshap_rows(fm, X, names, period_id, region) -> pd.DataFrame:
    """Mean |TreeSHAP| of each predictor of an xgb member on held-out samples ``X``."""
    rows, contrib = xgb_contributions(fm, X)
    out = pd.DataFrame({"predictor": list(names), "n": rows.size,
                        "mean_abs_shap": np.abs(contrib[:, :-1]).mean(axis=0) if rows.size
                        else np.nan})  # fmt: skip
    out.insert(0, "region", region)
    out.insert(0, "period", period_id)
    return out


def plot(table: pd.DataFrame, shap: pd.DataFrame, png, names, members) -> None:
    """Grouped bars: per member, each predictor's mean RMSE increase over the period-regions
    with enough held-out samples, whiskers the SD across them; beside it, xgb's mean
    |TreeSHAP| per predictor over the same period-regions."""
    use = table[table.n >= MIN_HELDOUT]
    fig, (ax, ax2) = plt.subplots(
        1, 2, figsize=(3.6 + 1.4 * len(members), 4.2), constrained_layout=True,
        gridspec_kw={"width_ratios": [len(members), 1.3]},
    )  # fmt: skip
    width = 0.8 / max(1, len(names))
    x = np.arange(len(members))
    for j, p in enumerate(names):
        g = use[use.predictor == p].groupby("member").rmse_increase
        mean = g.mean().reindex(members).to_numpy()
        sd = g.std().reindex(members).to_numpy()
        ax.bar(x + (j - (len(names) - 1) / 2) * width, mean, width, yerr=sd, label=p,
               capsize=2)  # fmt: skip
    ax.set_xticks(x, members)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylabel("RMSE increase when shuffled (m3 m-3)")
    n_fits = use.groupby(["period", "region"]).ngroups
    ax.set_title(f"Permutation importance on held-out coarse cells ({n_fits} period-regions "
                 f"with >= {MIN_HELDOUT} held-out samples)", fontsize=9)  # fmt: skip
    ax.legend(fontsize=7, ncols=min(4, len(names)))
    sh = shap[shap.n >= MIN_HELDOUT].groupby("predictor").mean_abs_shap
    ax2.barh(names, sh.mean().reindex(names).to_numpy(), xerr=sh.std().reindex(names).to_numpy(),
             color=[f"C{j}" for j in range(len(names))], capsize=2)  # fmt: skip
    ax2.invert_yaxis()
    ax2.set_xlabel("mean |TreeSHAP| (m3 m-3)")
    ax2.set_title("xgb: TreeSHAP", fontsize=9)
    fig.savefig(png, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main(snakemake)
