"""Rule tune_hyperparameters: grouped k-fold CV of each member's grid on the tuning days."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import xarray as xr

from smdownscale.atomic import atomic_path, write_text_atomic
from smdownscale.config import run_dates
from smdownscale.features import coarse_cube
from smdownscale.rule_io import setup_logging
from smdownscale.tuning import tune


def tuning_samples(paths, names, start, end):
    """Valid coarse cell-days of the tuning dates: X, y and each sample's cell (CV groups)."""
    xs, ys, groups = [], [], []
    for path in paths:
        with xr.open_dataset(path) as ds:
            days = ds.indexes["time"].date
            keep = (days >= start) & (days <= end)
            sm, feats = coarse_cube(ds.isel(time=np.flatnonzero(keep)), names)
        ok = np.isfinite(sm) & np.isfinite(feats).all(axis=-1)
        t, r, c = np.nonzero(ok)
        xs.append(feats[ok])
        ys.append(sm[ok])
        groups.append(r * sm.shape[2] + c)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(groups)


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    mcfg, tcfg = cfg["members"], cfg["members"]["tuning"]
    names = cfg["predictors"]["use"]
    run_start, run_end = run_dates(cfg)
    start = dt.date.fromisoformat(tcfg["start"]) if tcfg["start"] else run_start
    end = dt.date.fromisoformat(tcfg["end"]) if tcfg["end"] else run_end
    X, y, groups = tuning_samples(snakemake.input.coarse, names, start, end)
    log.info(
        "tuning on %d coarse cell-days from %d cells (%s..%s), predictors %s",
        len(y),
        len(np.unique(groups)),
        start,
        end,
        names,
    )
    if len(np.unique(groups)) < tcfg["folds"]:
        raise ValueError(
            f"tuning needs at least {tcfg['folds']} coarse cells with data for "
            f"{tcfg['folds']}-fold cross-validation grouped by cell, found "
            f"{len(np.unique(groups))}: lower members.tuning.folds or widen the tuning dates"
        )
    best, tables = {}, []
    for name in mcfg["use"]:
        res = tune(
            name,
            X,
            y,
            tcfg["grids"][name],
            folds=tcfg["folds"],
            seed=mcfg["seed"],
            max_samples=tcfg["max_samples"],
            groups=groups,
            svr_max_samples=mcfg["svr_max_samples"],  # the same cap as production fits
        )
        log.info(
            "%s: best %s, CV RMSE %.4f +- %.4f (%d samples, %.1f s)",
            name,
            res.best_params,
            res.best_rmse,
            res.best_rmse_sd,
            res.n_samples,
            res.seconds,
        )
        best[name] = {
            "params": res.best_params,
            "cv_rmse": res.best_rmse,
            "cv_rmse_sd": res.best_rmse_sd,
            "n_samples": res.n_samples,
        }
        tables.append(
            res.table.assign(
                member=name,
                params=res.table.apply(
                    lambda r, cols=list(tcfg["grids"][name]): json.dumps(
                        {c: _plain(r[c]) for c in cols}
                    ),
                    axis=1,
                ),
            )[["member", "params", "mean_rmse", "sd_rmse", "rank"]]
        )
    write_text_atomic(
        snakemake.output.best,
        json.dumps(
            {
                "tuning_dates": [str(start), str(end)],
                "folds": tcfg["folds"],
                "grouped_by": "coarse cell",
                "members": best,
            },
            indent=2,
            default=_plain,
        ),
    )
    with atomic_path(snakemake.output.table) as tmp:
        pd.concat(tables, ignore_index=True).to_csv(tmp, index=False, float_format="%.5f")


def _plain(value):
    """JSON-able plain Python values (numpy scalars, tuples)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


if __name__ == "__main__":
    main(snakemake)
