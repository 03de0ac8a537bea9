"""Rule residual_share: the share of the coarse residual each member takes (METHOD.md
section 6), estimated at stations on the weight-training days.

For every station-day of the training window with a coarse value at the station's cell:
``y`` the station's daily value, ``f`` the member's uncorrected prediction at its fine cell
(``members/raw/members_<period>.nc``) and ``s`` the coarse residual ``C - B`` spread to that
cell as the correction spreads it (``members/raw/residual_<period>.nc``). The share is the
slope of ``y - f`` on ``s`` (:func:`smdownscale.residual.estimate_share`). A configured
number is used as it is.
"""

import json

import netCDF4
import numpy as np
import pandas as pd

from smdownscale.atomic import write_text_atomic
from smdownscale.bma_stations import daily_station_values, split_days, station_day_frame
from smdownscale.config import bma_eval_dates, bma_train_dates, run_grids
from smdownscale.grid import block_map
from smdownscale.harmonise import check_days
from smdownscale.netcdf import file_days, read_cells, read_rows, sites_in_regions
from smdownscale.residual import ShareEstimate, bridge_gaps, estimate_share, spread_at
from smdownscale.rule_io import rule_config, setup_logging


def station_days(stations, regions, raw_members, residuals, coarse, members, blocks, train):
    """Training station-days with y, the coarse value and, per member, its uncorrected
    prediction ``f_<m>`` at the station's fine cell and the spread residual ``s_<m>``."""
    obs = daily_station_values(pd.read_parquet(stations))
    sites = sites_in_regions(obs.drop_duplicates(["network", "station"]), regions)
    frow, fcol = sites.fine_row.to_numpy(), sites.fine_col.to_numpy()
    pieces = []
    for mpath, rpath, cpath in zip(raw_members, residuals, coarse, strict=True):
        with netCDF4.Dataset(rpath) as nc:
            days = file_days(nc)
            vals = {
                f"s_{m}": spread_at(
                    bridge_gaps(read_rows(nc, f"r_{m}", slice(None))), blocks, frow, fcol
                )
                for m in members
            }
        with netCDF4.Dataset(mpath) as nc:
            check_days(mpath, file_days(nc), days)
            vals.update(
                {f"f_{m}": read_cells(nc.variables[f"sm_{m}"], frow, fcol) for m in members}
            )
        with netCDF4.Dataset(cpath) as nc:
            check_days(cpath, file_days(nc), days)
            vals["coarse"] = read_cells(nc.variables["sm"], sites.coarse_row, sites.coarse_col)
        pieces.append(station_day_frame(sites, days, vals))
    pairs = obs.merge(pd.concat(pieces, ignore_index=True), on=["network", "station", "time"])
    pairs = pairs[np.isfinite(pairs["coarse"])]
    return pairs[split_days(pairs["time"], train, (train[1], train[1])) == "train"]


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg, _ = rule_config(snakemake)
    mcfg = cfg["members"]
    members = mcfg["use"]
    setting = mcfg["residual_share"]
    out = {}
    if setting == "auto":
        train = bma_train_dates(cfg)
        coarse_grid, fine = run_grids(cfg)
        pairs = station_days(
            snakemake.input.stations,
            snakemake.input.regions,
            snakemake.input.members,
            snakemake.input.residuals,
            snakemake.input.coarse,
            members,
            block_map(fine, coarse_grid),
            train,
        )
        label = (pairs.network + "/" + pairs.station).to_numpy()
        for m in members:
            out[m] = estimate_share(
                pairs["y"],
                pairs[f"f_{m}"],
                pairs[f"s_{m}"],
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
