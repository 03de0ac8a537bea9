"""Rule insitu_samples: the station-days the in-situ-trained members learn from.

One row per station-day with an in-situ value (the stations that lie in a region): the
station's daily soil moisture ``y``, each configured predictor at its fine cell (NaN where
missing: LST under cloud) and the coarse product interpolated to its fine cell
(:func:`smdownscale.insitu.coarse_feature`, as the grid will see it), and ``split`` (the
weight-training or evaluation window, as for BMA) (issue 17, item 3).
"""

import netCDF4
import numpy as np
import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.bma_stations import daily_station_values, split_days, station_day_frame
from smdownscale.config import bma_eval_dates, bma_train_dates, run_grids
from smdownscale.features import DAILY, STATIC
from smdownscale.grid import block_map
from smdownscale.harmonise import check_days
from smdownscale.insitu import COARSE_FEATURE, coarse_feature
from smdownscale.netcdf import file_days, read_cells, read_rows, sites_in_regions
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    names = cfg["predictors"]["use"]
    coarse_grid, fine = run_grids(cfg)
    blocks = block_map(fine, coarse_grid)
    obs = daily_station_values(pd.read_parquet(snakemake.input.stations))
    every = obs.drop_duplicates(["network", "station"])[
        ["network", "station", "fine_row", "fine_col"]
    ]
    sites = sites_in_regions(every, snakemake.input.regions)
    if len(sites) < len(every):
        log.warning("%d station(s) lie in no region: left out", len(every) - len(sites))
    rows, cols = sites.fine_row.to_numpy(), sites.fine_col.to_numpy()
    with netCDF4.Dataset(snakemake.input.static) as nc:
        static = {n: read_cells(nc.variables[n], rows, cols) for n in names if n in STATIC}
    pieces = []
    for ppath, cpath in zip(snakemake.input.predictors, snakemake.input.coarse, strict=True):
        with netCDF4.Dataset(ppath) as nc:
            days = file_days(nc)
            values = {n: read_cells(nc.variables[n], rows, cols) for n in names if n in DAILY}
        with netCDF4.Dataset(cpath) as nc:
            check_days(cpath, file_days(nc), days)
            coarse = read_rows(nc, "sm", slice(None))
        values.update({n: np.broadcast_to(v, (len(days), v.size)) for n, v in static.items()})
        values[COARSE_FEATURE] = coarse_feature(coarse, blocks, rows, cols)
        pieces.append(station_day_frame(sites, days, values))
    features = pd.concat(pieces, ignore_index=True)
    samples = obs[["network", "station", "time", "y"]].merge(
        features, on=["network", "station", "time"], how="inner"
    )
    t0, t1 = bma_train_dates(cfg)
    e0, e1 = bma_eval_dates(cfg)
    samples["split"] = split_days(samples["time"], (t0, t1), (e0, e1))
    complete = np.isfinite(samples[[*names, COARSE_FEATURE]].to_numpy(dtype=float)).all(axis=1)
    log.info(
        "%d station-days at %d stations (%d training, %d evaluation); %d with every predictor "
        "and the coarse product",
        len(samples),
        samples.groupby(["network", "station"]).ngroups,
        int((samples.split == "train").sum()),
        int((samples.split == "eval").sum()),
        int(complete.sum()),
    )
    with atomic_path(snakemake.output[0]) as tmp:
        samples.to_parquet(tmp, index=False)


if __name__ == "__main__":
    main(snakemake)
