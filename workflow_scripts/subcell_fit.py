"""Rule subcell_fit: the sub-cell detail correction, fitted at the training stations
(``smdownscale.subcell``; README "Sub-cell detail calibrated at stations").

For every station-day the predictors' details at the station's cell (the predictor minus
its coarse cells' means that day interpolated between the cell centres; elevation and
slope from ``fine/static.nc``) are read
beside the pairs of rule bma_station_pairs. The errors ``y - member mean`` of the complete
training pairs are regressed on them: once with every station (``fold all``: the product's
correction) and once per spatial fold without its stations, which gives that fold's
stations a held-out correction for the validation (``subcell_heldout``), each fold with its
own choice to correct or not, as the BMA's held-out series has.
"""

import json

import netCDF4
import numpy as np
import pandas as pd

from smdownscale.atomic import atomic_path, write_text_atomic
from smdownscale.bma_stations import KEY, member_columns, read_station_table
from smdownscale.config import run_grids
from smdownscale.features import DAILY, STATIC
from smdownscale.grid import block_map
from smdownscale.netcdf import file_days, read_cells, read_rows
from smdownscale.rule_io import setup_logging
from smdownscale.subcell import background, coarse_means, detail_at, fit_detail


def station_details(pairs, predictors, static, daily, blocks, band):
    """The pairs with one column ``x_<feature>`` per detail at the station's cell."""
    sites = pairs.drop_duplicates(KEY)[[*KEY, "fine_row", "fine_col"]].reset_index(drop=True)
    frow, fcol = sites.fine_row.to_numpy(), sites.fine_col.to_numpy()
    pieces = []
    with netCDF4.Dataset(static) as nc:
        fixed = {}
        for v in STATIC:
            back = background(coarse_means(lambda rows, v=v: read_rows(nc, v, rows), blocks, band))
            fixed[v] = detail_at(read_cells(nc.variables[v], frow, fcol), back, blocks, frow, fcol)
    for path in predictors:
        with netCDF4.Dataset(path) as nc:
            days = file_days(nc)
            cols = {}
            for v in daily:
                back = background(
                    coarse_means(lambda rows, v=v: read_rows(nc, v, rows), blocks, band)
                )
                cols[v] = detail_at(
                    read_cells(nc.variables[v], frow, fcol), back, blocks, frow, fcol
                )
        frame = pd.DataFrame(
            {
                "network": np.tile(sites.network.to_numpy(), len(days)),
                "station": np.tile(sites.station.to_numpy(), len(days)),
                "time": np.repeat(pd.to_datetime(list(days)).to_numpy(), len(sites)),
                **{f"x_{v}": cols[v].reshape(-1) for v in daily},
                **{f"x_{v}": np.tile(fixed[v], len(days)) for v in STATIC},
            }
        )
        pieces.append(frame)
    return pairs.merge(pd.concat(pieces, ignore_index=True), on=[*KEY, "time"], how="left")


def fit_table(result: dict, features: list[str]) -> pd.DataFrame:
    """One row per fit (all, then each fold held out) for the report."""
    rows = []
    for fold, fit in [("all", result["all"]), *result["folds"].items()]:
        cv = [c for c in fit.get("cv", []) if c["ridge_per_pair"] is not None]
        best = min(cv, key=lambda c: c["heldout_mse"]) if cv else {}
        without = [c["heldout_mse"] for c in fit.get("cv", []) if c["ridge_per_pair"] is None]
        coef = (fit.get("model") or {}).get("coef") or [np.nan] * len(features)
        effect = fit.get("station_effect") or {}
        rows.append(
            {
                "fold": fold,
                "applied": fit["applied"],
                "training_pairs": fit.get("n_pairs"),
                "training_stations": fit.get("n_stations"),
                "ridge_per_pair": best.get("ridge_per_pair"),
                "heldout_mse": best.get("heldout_mse"),
                "heldout_mse_without": without[0] if without else None,
                "station_bias_sd": effect.get("between_sd"),
                "daily_error_sd": effect.get("within_sd"),
                "station_mean_share_removed": effect.get("theta"),
                **{f"coef_{v}": c for v, c in zip(features, coef, strict=True)},
                "reason": fit["reason"],
            }
        )
    return pd.DataFrame(rows)


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    b = cfg["bma"]
    scfg = b["subcell"]
    members = cfg["members"]["use"]
    daily = [p for p in cfg["predictors"]["use"] if p in DAILY]
    features = [*daily, *STATIC]
    coarse_grid, fine = run_grids(cfg)
    blocks = block_map(fine, coarse_grid)
    pairs = pd.read_parquet(snakemake.input.pairs)
    folds = read_station_table(snakemake.input.folds)
    pairs = pairs.merge(folds[[*KEY, "fold", "takes_part"]], on=KEY, how="inner")
    pairs = station_details(
        pairs,
        snakemake.input.predictors,
        snakemake.input.static,
        daily,
        blocks,
        cfg["resources"]["chunk_rows"],
    )
    xcols = [f"x_{v}" for v in features]
    pairs["error"] = pairs.y - pairs[member_columns(members)].mean(axis=1)
    train = pairs[
        (pairs.split == "train")
        & pairs.complete
        & pairs.takes_part.astype(bool)
        & np.isfinite(pairs.error)
    ]
    train = train[np.isfinite(train[xcols].to_numpy()).any(axis=1) & train.fold.notna()]

    def fit(rows):
        return fit_detail(
            rows[xcols].to_numpy(),
            rows.error.to_numpy(),
            (rows.network + "/" + rows.station).to_numpy(),
            rows.fold.to_numpy(),
            features,
            scfg["ridge_per_pair"],
            scfg["min_gain_confidence"],
            scfg["min_pairs_per_feature"],
        )

    x_all = pairs[xcols].to_numpy()
    result = {"features": features, "folds": {}}
    pairs["subcell_insample"] = 0.0
    pairs["subcell_heldout"] = 0.0
    if not scfg["enabled"] or b["ensemble"] not in ("mean", "bma"):
        why = (
            "bma.subcell.enabled is false"
            if not scfg["enabled"]
            else f"bma.ensemble is {b['ensemble']}: the correction is fitted to the member "
            "mean's error"
        )
        result["all"] = {"applied": False, "reason": why}
        log.info("sub-cell detail correction off: %s", why)
    else:
        whole = fit(train)
        result["all"] = whole.to_dict()
        log.info(
            "fold all: %d training pairs at %d stations; %s: %s",
            whole.n_pairs,
            whole.n_stations,
            "applied" if whole.model else "not applied",
            whole.reason,
        )
        if whole.model is not None:
            pairs["subcell_insample"] = np.nan_to_num(whole.model.correction(x_all))
            for v, c in zip(features, whole.model.coef, strict=True):
                log.info("  %s: %+.4g per unit of detail", v, c)
        for fold in sorted(pairs.fold.dropna().unique()):
            rest = train[train.fold != fold]
            fit_f = fit(rest)
            result["folds"][str(int(fold))] = fit_f.to_dict()
            held = (pairs.fold == fold).to_numpy()
            if fit_f.model is not None:
                pairs.loc[held, "subcell_heldout"] = np.nan_to_num(
                    fit_f.model.correction(x_all[held])
                )
            log.info(
                "fold %d held out: %s (%s)",
                fold,
                "applied" if fit_f.model else "not applied",
                fit_f.reason,
            )
    write_text_atomic(snakemake.output.fit, json.dumps(result, indent=2))
    with atomic_path(snakemake.output.table) as tmp:
        fit_table(result, features).to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(snakemake.output.stations) as tmp:
        pairs[[*KEY, "time", *xcols, "subcell_insample", "subcell_heldout"]].to_parquet(
            tmp, index=False
        )


if __name__ == "__main__":
    main(snakemake)
