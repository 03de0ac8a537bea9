"""Rule demo_raw_terraclimate: the demo world's TerraClimate PDSI years (drought reference).

Written in TerraClimate's format on its 1/24 deg cells over the region, from the world's
true soil moisture (:func:`smdownscale.demo.write_terraclimate.demo_pdsi`: the monthly mean
standardised over the region's cells and months, x 3), so the drought analysis runs on the
demo with a known answer: its drought regions are the persistently driest cells. Months
without a day of the world are missing.
"""

import numpy as np
import pandas as pd
import xarray as xr

from smdownscale.config import run_grids
from smdownscale.demo.write_terraclimate import (
    demo_pdsi,
    terraclimate_lattice,
    write_terraclimate_year,
)
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    _, fine = run_grids(snakemake.config)
    lat, lon = terraclimate_lattice(fine.bbox)
    truth = xr.open_dataset(snakemake.input.truth)["sm_true"]
    truth = truth.sel(lat=slice(fine.north, fine.south), lon=slice(fine.west, fine.east))
    monthly = truth.resample(time="MS").mean()
    months = pd.DatetimeIndex(monthly["time"].values)
    years = snakemake.params.years
    sm = np.full((12 * len(years), truth.sizes["lat"], truth.sizes["lon"]), np.nan)
    for k, t in enumerate(months):
        if t.year in years:
            sm[12 * years.index(t.year) + t.month - 1] = monthly.values[k]
    pdsi = demo_pdsi(sm, truth["lat"].values, truth["lon"].values, lat, lon)
    for i, (path, year) in enumerate(zip(snakemake.output, years, strict=True)):
        write_terraclimate_year(path, year, lat, lon, pdsi[12 * i : 12 * (i + 1)])
        log.info("%s: PDSI %d on %d x %d cells", path, year, lat.size, lon.size)


if __name__ == "__main__":
    main(snakemake)
