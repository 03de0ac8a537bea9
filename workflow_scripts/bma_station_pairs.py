"""Rule bma_station_pairs: every station-day matched with each member at the station's cell.

One row per station-day with in-situ soil moisture inside the run: the station's daily
value, its region, each member's prediction at its fine cell (NaN where the member has
none: predictor gap or no model) and the coarse product at its coarse cell (the baseline
the validation scores against). ``split`` says whether the day trains the weights.
"""

import netCDF4
import numpy as np
import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.bma_stations import daily_station_values, member_columns, split_days
from smdownscale.config import bma_eval_dates, bma_train_dates
from smdownscale.harmonise import check_days
from smdownscale.netcdf import file_days, read_cells
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    members = cfg["members"]["use"]
    obs = daily_station_values(pd.read_parquet(snakemake.input.stations))
    sites = obs.drop_duplicates(["network", "station"])[
        ["network", "station", "fine_row", "fine_col", "coarse_row", "coarse_col"]
    ]
    with netCDF4.Dataset(snakemake.input.regions) as nc:
        region = read_cells(nc.variables["region"], sites.fine_row, sites.fine_col)
    sites = sites.assign(region=np.where(np.isfinite(region), region, -1).astype(int))
    outside = sites[sites.region < 0]
    for row in outside.itertuples():
        log.warning("station %s/%s lies in no region: dropped", row.network, row.station)
    sites = sites[sites.region >= 0]

    pieces = []
    for path, cpath in zip(snakemake.input.members, snakemake.input.coarse, strict=True):
        with netCDF4.Dataset(path) as nc:
            days = pd.to_datetime(file_days(nc))
            vals = {
                f"f_{m}": read_cells(nc.variables[f"sm_{m}"], sites.fine_row, sites.fine_col)
                for m in members
            }
        with netCDF4.Dataset(cpath) as nc:
            check_days(cpath, file_days(nc), [d.date() for d in days])
            vals["coarse"] = read_cells(nc.variables["sm"], sites.coarse_row, sites.coarse_col)
        frame = pd.DataFrame(
            {
                "network": np.tile(sites.network.to_numpy(), len(days)),
                "station": np.tile(sites.station.to_numpy(), len(days)),
                "time": np.repeat(days.to_numpy(), len(sites)),
                **{name: v.reshape(-1) for name, v in vals.items()},
            }
        )
        pieces.append(frame)
    forecasts = pd.concat(pieces, ignore_index=True)
    pairs = obs.merge(sites[["network", "station", "region"]], on=["network", "station"])
    pairs = pairs.merge(forecasts, on=["network", "station", "time"], how="left")
    t0, t1 = bma_train_dates(cfg)
    e0, e1 = bma_eval_dates(cfg)
    pairs["split"] = split_days(pairs["time"], (t0, t1), (e0, e1))
    cols = member_columns(members)
    complete = np.isfinite(pairs[cols].to_numpy()).all(axis=1)
    pairs["complete"] = complete
    log.info(
        "%d station-days at %d stations; %d with every member (%d training days %s..%s, "
        "%d evaluation days %s..%s); %d without a member value (predictor gap or no model)",
        len(pairs),
        len(sites),
        int(complete.sum()),
        int((complete & (pairs.split == "train")).sum()),
        t0,
        t1,
        int((complete & (pairs.split == "eval")).sum()),
        e0,
        e1,
        int((~complete).sum()),
    )
    with atomic_path(snakemake.output[0]) as tmp:
        pairs.to_parquet(tmp, index=False)


if __name__ == "__main__":
    main(snakemake)
