"""Rule member_ranges: every member's predictions outside [0, porosity], per period."""

import json

import netCDF4
import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    rows = []
    for period, path in zip(snakemake.params.periods, snakemake.input.members, strict=True):
        with netCDF4.Dataset(path) as nc:
            counts = json.loads(nc.getncattr("out_of_range"))
        for member, c in counts.items():
            rows.append({"period": period, "member": member, **c})
    table = pd.DataFrame(rows)
    table["share_out_of_range"] = (table.below_zero + table.above_porosity) / table.n.clip(lower=1)
    total = table.groupby("member")[["n", "below_zero", "above_porosity"]].sum()
    for member, t in total.iterrows():
        log.info(
            "%s: %d of %d cell-days below 0, %d above porosity",
            member,
            t.below_zero,
            t.n,
            t.above_porosity,
        )
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


if __name__ == "__main__":
    main(snakemake)
