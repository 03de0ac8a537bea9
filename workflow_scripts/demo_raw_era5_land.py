"""Rule demo_raw_era5_land: the demo world's ERA5-Land months (an evaluation reference).

Written in the CDS daily-statistics format over the area a real request would cover
(:func:`smdownscale.download.cds.era5_land_request`), from the world's true 1 km field
(:func:`smdownscale.demo.write_era5_land.era5_land_from_truth`: the 0.1 deg block mean,
damped and offset, plus independent noise), so the reference analyses run on the demo and
know how the reference relates to the truth. Days of a month outside the world's days are
NaN (a month file always holds every day of its month).
"""

import numpy as np
import pandas as pd
import xarray as xr

from smdownscale.config import run_grids
from smdownscale.demo.write_era5_land import era5_land_from_truth, write_era5_land_month
from smdownscale.download.cds import era5_land_request
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    _, fine = run_grids(cfg)
    truth = xr.open_dataset(snakemake.input.truth)["sm_true"]
    times = pd.DatetimeIndex(truth["time"].values)
    for path, (year, month) in zip(snakemake.output, snakemake.params.months, strict=True):
        area = era5_land_request(cfg["download"]["era5_land"], year, month, fine.bbox)["area"]
        days = pd.date_range(f"{year}-{month:02d}-01", periods=pd.Period(
            f"{year}-{month:02d}").days_in_month)  # fmt: skip
        have = days.intersection(times)
        if not len(have):
            raise ValueError(f"the demo world has no truth in {year}-{month:02d}")
        part = truth.sel(time=have)
        rng = np.random.default_rng([cfg["demo"]["seed"], 11, year, month])
        known = era5_land_from_truth(part.values, part["lat"].values, part["lon"].values, area, rng)
        values = np.full((len(days), *known.shape[1:]), np.nan, np.float32)
        values[days.get_indexer(have)] = known  # days outside the world: missing (NaN)
        write_era5_land_month(path, year, month, area, values=values)
        log.info("%s: ERA5-Land %d-%02d over %s", path, year, month, area)


if __name__ == "__main__":
    main(snakemake)
