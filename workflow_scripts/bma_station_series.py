"""Rule bma_station_series: BMA (and alternative ensembles) at every station, held out.

For each fold f, the parameters of fold f's training stations (their own posteriors, whose
pooled bias fit never saw fold f) are kriged to the stations of fold f, which then get a
BMA value from weights and kriging that never saw them: the ``bma_heldout`` series the
validation scores. ``bma_insample`` uses the all-station fit (kriged at the station itself)
and is kept only to show how much in-sample scores flatter. The alternatives are added
beside: the equal-weight member mean and the best member per period and region.
"""

import numpy as np
import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.bma import best_member_table, clip_physical, equal_weight
from smdownscale.bma_stations import (
    KEY,
    member_columns,
    moments_from_parameters,
    parameter_kriging,
    read_station_table,
    usable_stations,
)
from smdownscale.config import run_periods
from smdownscale.kriging import SOURCE_KRIGED
from smdownscale.rule_io import setup_logging


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
    out["bma_heldout"] = np.nan
    out["bma_heldout_sd"] = np.nan
    out["heldout_source"] = -1
    for path in snakemake.input.fold_posteriors:
        fold = int(path.rsplit("_", 1)[1].split(".")[0])
        train = usable_stations(path)
        held = sites[sites.fold == fold]
        sel = (out.fold == fold).to_numpy()
        if train.empty:
            raise ValueError(
                f"fold {fold}: no training station whose chain passed the diagnostics ({path}), "
                f"so its {len(held)} stations would have no held-out BMA value and would drop "
                "out of the validation; lower bma.folds or bma.min_pairs, or lengthen the "
                "chains (bma.steps)"
            )
        pk = parameter_kriging(train, members, b["kriging"])
        mean, sd, src = bma_at(pk, held, out.loc[sel], members, b["porosity"])
        out.loc[sel, "bma_heldout"] = mean
        out.loc[sel, "bma_heldout_sd"] = sd
        out.loc[sel, "heldout_source"] = src
        log.info(
            "fold %d: %d training stations (%s), %d held-out stations, %d station-days",
            fold,
            pk.n_stations,
            "kriged" if pk.kriged else f"fallback: {pk.reason}",
            len(held),
            int(sel.sum()),
        )
    full = usable_stations(snakemake.input.posteriors)
    pk = parameter_kriging(full, members, b["kriging"])
    mean, sd, src = bma_at(pk, sites, out, members, b["porosity"])
    out["bma_insample"] = mean
    out["bma_insample_sd"] = sd
    out["insample_source"] = src

    f = out[member_columns(members)].to_numpy()
    out["mean"], out["mean_sd"] = equal_weight(f)
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
    out.loc[ok, "best"] = f[np.flatnonzero(ok), idx[ok].astype(int).to_numpy()]

    done = np.isfinite(out.bma_heldout) & out.complete
    log.info(
        "%d station-days, %d with a held-out BMA value (%d of them kriged, the rest from "
        "region means); evaluation days with a held-out value: %d",
        len(out),
        int(done.sum()),
        int((done & (out.heldout_source == SOURCE_KRIGED)).sum()),
        int((done & (out.split == "eval")).sum()),
    )
    with atomic_path(snakemake.output[0]) as tmp:
        out.to_parquet(tmp, index=False)


if __name__ == "__main__":
    main(snakemake)
