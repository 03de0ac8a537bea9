"""Rule heterogeneity_period: spatial heterogeneity of each product, day by day (Table S3).

Coefficient of variation and Moran's I (4-neighbour) of the coarse product on its own grid
and of every fine product (each member, the product's sm) on the fine grid, over all cells
and over each field's own 0-15 / 15-85 / 85-100 % value ranges, for every day of the period.
Days are read one at a time, so memory is one day's field.
"""

import netCDF4
import numpy as np
import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.metrics import heterogeneity_by_day
from smdownscale.netcdf import file_days
from smdownscale.rule_io import setup_logging


class NanDays:
    """A netCDF (time, lat, lon) variable read one day at a time, fill values as NaN."""

    def __init__(self, var) -> None:
        var.set_auto_mask(True)
        self.var = var
        self.shape = var.shape

    def __getitem__(self, t):
        return np.ma.filled(np.ma.asarray(self.var[t], dtype=np.float64), np.nan)


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
    rows = []
    with netCDF4.Dataset(snakemake.input.coarse) as nc:
        days = file_days(nc)
        rows += rows_of("coarse product", "coarse", days, heterogeneity_by_day(NanDays(nc["sm"])))
    with netCDF4.Dataset(snakemake.input.members) as nc:
        for m in members:
            rows += rows_of(m, "fine", days, heterogeneity_by_day(NanDays(nc[f"sm_{m}"])))
    with netCDF4.Dataset(snakemake.input.product) as nc:
        rows += rows_of("product sm", "fine", days, heterogeneity_by_day(NanDays(nc["sm"])))
    table = pd.DataFrame(rows)
    summary = table.groupby(["product", "statistic", "range"])["value"].mean()
    log.info("period means:\n%s", summary.unstack(["statistic", "range"]).round(3).to_string())
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


if __name__ == "__main__":
    main(snakemake)
