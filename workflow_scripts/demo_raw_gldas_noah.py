"""Rule demo_raw_gldas_noah: the demo world's GLDAS Noah 3-hourly files (a reference model).

Written in the GES DISC GLDAS-2.1 format (:mod:`smdownscale.demo.write_gldas`) on the
0.25 deg lattice cells over the region (what a region subset returns), from the world's true
1 km field (:func:`~smdownscale.demo.write_gldas.gldas_from_truth`: the 0.25 deg block mean,
scaled and offset unlike the demo's ERA5-Land, plus independent noise), as the day's eight
instantaneous states in kg m-2 whose mean is that day's value (a zero-mean diurnal cycle),
so the reader's daily mean recovers it and the reference analyses know how GLDAS relates to
the truth.
"""

import datetime as dt

import numpy as np
import xarray as xr

from smdownscale.config import run_grids
from smdownscale.demo.write_gldas import (
    gldas_from_truth,
    gldas_lattice,
    gldas_three_hourly,
    write_gldas_file,
)
from smdownscale.download.sources import PRODUCTS
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    _, fine = run_grids(cfg)
    days = [dt.date.fromisoformat(d) for d in snakemake.params.days]
    files: dict[dt.date, dict[str, str]] = {}
    for path in snakemake.output:
        fields = PRODUCTS["gldas_noah"].fields("/".join(str(path).split("/")[-3:]))
        files.setdefault(fields["date"], {})[fields["hhmm"]] = str(path)
    lat, lon = gldas_lattice(fine.bbox)
    with xr.open_dataset(snakemake.input.truth) as world:
        truth = world["sm_true"].sel(time=np.array(days, dtype="datetime64[ns]"))
        tlat, tlon = truth["lat"].values, truth["lon"].values
        rng = np.random.default_rng([cfg["demo"]["seed"], 12])
        daily = gldas_from_truth(truth.values, tlat, tlon, lat, lon, rng)
    for k, day in enumerate(days):
        steps = gldas_three_hourly(daily[k])
        for j, (hhmm, path) in enumerate(sorted(files[day].items())):
            write_gldas_file(path, day, hhmm, lat, lon, steps[j])
    log.info("GLDAS Noah: %d days x 8 files on %d x %d cells", len(days), lat.size, lon.size)


if __name__ == "__main__":
    main(snakemake)
