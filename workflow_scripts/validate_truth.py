"""Rule validate_truth: every product against the synthetic truth at every fine cell-day.

Only where the config provides a truth (the demo world, or ``paths.truth``), on the
evaluation days. Products: the coarse product repeated over its block (the baseline every
downscaler must beat), each member, and the product's ``sm``. The fields of the evaluation
days are held in memory at once (a demo-sized check; a truth for a large region would need
a streaming score).
"""

import netCDF4
import numpy as np
import xarray as xr

from smdownscale.atomic import atomic_path
from smdownscale.config import bma_eval_dates, run_grids
from smdownscale.grid import block_factor, repeat_blocks
from smdownscale.netcdf import file_days, read_rows
from smdownscale.rule_io import setup_logging
from smdownscale.validation import truth_scores


def eval_days_of(path, first, last):
    with netCDF4.Dataset(path) as nc:
        days = file_days(nc)
    keep = [i for i, d in enumerate(days) if first <= d <= last]
    return keep, [days[i] for i in keep]


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    members = cfg["members"]["use"]
    coarse_grid, fine = run_grids(cfg)
    factor = block_factor(fine, coarse_grid)
    e0, e1 = bma_eval_dates(cfg)
    fields = {"coarse product (repeated over its block)": [], **{m: [] for m in members}}
    fields["product sm"] = []
    days = []
    for cpath, mpath, ppath in zip(
        snakemake.input.coarse, snakemake.input.members, snakemake.input.products, strict=True
    ):
        idx, d = eval_days_of(ppath, e0, e1)
        if not idx:
            continue
        days += d
        with netCDF4.Dataset(cpath) as nc:
            fields["coarse product (repeated over its block)"].append(
                repeat_blocks(read_rows(nc, "sm", slice(None))[idx], factor)
            )
        with netCDF4.Dataset(mpath) as nc:
            for m in members:
                fields[m].append(read_rows(nc, f"sm_{m}", slice(None))[idx])
        with netCDF4.Dataset(ppath) as nc:
            fields["product sm"].append(read_rows(nc, "sm", slice(None))[idx])
    if not days:
        raise ValueError(f"no evaluation day ({e0}..{e1}, bma.eval_start/eval_end) in the run")
    stacked = {k: np.concatenate(v) for k, v in fields.items()}
    with xr.open_dataset(snakemake.input.truth) as world:
        truth = (
            world["sm_true"]
            .sel(
                time=np.array(days, dtype="datetime64[ns]"),
                lat=fine.lat,
                lon=fine.lon,
                method="nearest",
                tolerance=fine.res / 4,
            )  # fmt: skip
            .values.astype(np.float32)
        )
    table = truth_scores(stacked, truth, factor)
    for row in table.itertuples():
        log.info("%-42s R %.3f RMSE %.4f bias %+.4f within-cell r %s", row.product, row.r,
                 row.rmse, row.bias, row.within_cell)  # fmt: skip
    table.insert(1, "days", f"{days[0]}..{days[-1]} ({len(days)} days)")
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


if __name__ == "__main__":
    main(snakemake)
