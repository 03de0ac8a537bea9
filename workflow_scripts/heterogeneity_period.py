"""Rule heterogeneity_period: spatial heterogeneity of each product, day by day (Table S3).

Coefficient of variation and Moran's I (4-neighbour) of the coarse product on its own grid
and of every fine product (each member, the product's sm) on the fine grid, over all cells
and over each field's own 0-15 / 15-85 / 85-100 % value ranges, for every day of the period.
The fine products are compared on the same area as the coarse product: each day, fine cells
whose coarse cell has no observation are left out. One product's period cube is held at a
time (float32; a Three-North period is 0.6 GB): the files are chunked across all days, so
reading day by day would decompress most of the period for every day.
"""

import netCDF4
import numpy as np
import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.config import run_grids
from smdownscale.grid import block_map
from smdownscale.metrics import heterogeneity_by_day
from smdownscale.netcdf import file_days, read_rows
from smdownscale.rule_io import setup_logging


def rows_of(label, grid, days, het):
    out = []
    for name, by_range in (("cv", het.cv), ("morans_i", het.morans_i)):
        for rng, values in by_range.items():
            out += [
                {
                    "product": label,
                    "grid": grid,
                    "day": d,
                    "statistic": name,
                    "range": rng,
                    "value": float(v),
                }  # fmt: skip
                for d, v in zip(days, values, strict=True)
            ]
    return out


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    members = snakemake.config["members"]["use"]
    coarse_grid, fine = run_grids(snakemake.config)
    blocks = block_map(fine, coarse_grid)
    rows = []
    with netCDF4.Dataset(snakemake.input.coarse) as nc:
        days = file_days(nc)
        coarse = read_rows(nc, "sm", slice(None))
    rows += rows_of("coarse product", "coarse", days, heterogeneity_by_day(coarse))
    unobserved = np.isnan(blocks.repeat(coarse))  # per day, on the fine grid

    def same_area(field):
        field[unobserved] = np.nan
        return field

    with netCDF4.Dataset(snakemake.input.members) as nc:
        for m in members:
            field = same_area(read_rows(nc, f"sm_{m}", slice(None)))
            rows += rows_of(m, "fine", days, heterogeneity_by_day(field))
    with netCDF4.Dataset(snakemake.input.product) as nc:
        field = same_area(read_rows(nc, "sm", slice(None)))
        rows += rows_of("product sm", "fine", days, heterogeneity_by_day(field))
    table = pd.DataFrame(rows)
    summary = table.groupby(["product", "statistic", "range"])["value"].mean()
    log.info("period means:\n%s", summary.unstack(["statistic", "range"]).round(3).to_string())
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


if __name__ == "__main__":
    main(snakemake)
