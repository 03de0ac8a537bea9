"""Rule residual_share: the share of the coarse residual each member takes (METHOD.md
section 6), estimated at stations on the weight-training days.

For every station-day of the training window with a coarse value: ``y`` the station's daily
value, ``C`` the coarse product at its cell and ``B = C - r`` the block mean of the member's
prediction there (``r`` from ``members/raw/residual_<period>.nc``). The share is the slope
of ``y - B`` on ``C - B`` (:func:`smdownscale.residual.estimate_share`). A configured number
is used as it is.
"""

import json

import netCDF4
import numpy as np
import pandas as pd

from smdownscale.atomic import write_text_atomic
from smdownscale.bma_stations import daily_station_values, split_days
from smdownscale.config import bma_eval_dates, bma_train_dates
from smdownscale.harmonise import check_days
from smdownscale.netcdf import file_days, read_cells
from smdownscale.residual import ShareEstimate, estimate_share
from smdownscale.rule_io import setup_logging


def station_days(stations, regions, residuals, coarse, members, train):
    """Training station-days with y, the coarse value and each member's residual."""
    obs = daily_station_values(pd.read_parquet(stations))
    sites = obs.drop_duplicates(["network", "station"])
    with netCDF4.Dataset(regions) as nc:
        region = read_cells(nc.variables["region"], sites.fine_row, sites.fine_col)
    sites = sites[np.isfinite(region) & (region >= 0)]
    pieces = []
    for rpath, cpath in zip(residuals, coarse, strict=True):
        with netCDF4.Dataset(rpath) as nc:
            days = file_days(nc)
            vals = {
                f"r_{m}": read_cells(nc.variables[f"r_{m}"], sites.coarse_row, sites.coarse_col)
                for m in members
            }
        with netCDF4.Dataset(cpath) as nc:
            check_days(cpath, file_days(nc), days)
            vals["coarse"] = read_cells(nc.variables["sm"], sites.coarse_row, sites.coarse_col)
        pieces.append(
            pd.DataFrame(
                {
                    "network": np.tile(sites.network.to_numpy(), len(days)),
                    "station": np.tile(sites.station.to_numpy(), len(days)),
                    "time": np.repeat(pd.to_datetime(days).to_numpy(), len(sites)),
                    **{k: v.reshape(-1) for k, v in vals.items()},
                }
            )
        )
    pairs = obs.merge(pd.concat(pieces, ignore_index=True), on=["network", "station", "time"])
    return pairs[split_days(pairs["time"], train, (train[1], train[1])) == "train"]


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    mcfg = cfg["members"]
    members = mcfg["use"]
    setting = mcfg["residual_share"]
    out = {}
    if setting == "auto":
        train = bma_train_dates(cfg)
        pairs = station_days(
            snakemake.input.stations,
            snakemake.input.regions,
            snakemake.input.residuals,
            snakemake.input.coarse,
            members,
            train,
        )
        label = (pairs.network + "/" + pairs.station).to_numpy()
        for m in members:
            block = pairs["coarse"] - pairs[f"r_{m}"]
            out[m] = estimate_share(
                pairs["y"],
                pairs["coarse"],
                block,
                label,
                default=mcfg["residual_share_default"],
                seed=mcfg["seed"],
            )
        log.info(
            "training window %s..%s (evaluation %s..%s): %d station-days",
            *train,
            *bma_eval_dates(cfg),
            len(pairs),
        )
    else:
        for m in members:
            out[m] = ShareEstimate(float(setting), "fixed", 0, 0, reason="members.residual_share")
    for m, e in out.items():
        log.info(
            "member %s: share %.3f (%s; slope %s, 95 %% interval %s..%s; %d station-days at "
            "%d stations) %s",
            m,
            e.share,
            e.method,
            e.slope,
            e.ci_low,
            e.ci_high,
            e.n_pairs,
            e.n_stations,
            e.reason,
        )
    write_text_atomic(
        snakemake.output[0], json.dumps({m: e.as_dict() for m, e in out.items()}, indent=2)
    )


if __name__ == "__main__":
    main(snakemake)
