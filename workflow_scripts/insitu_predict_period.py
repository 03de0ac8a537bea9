"""Rule insitu_predict_period: the in-situ-trained ensemble's daily 1 km product for a period.

Every fine cell-day inside a region (as the coarse-trained members) with the predictors of a
fitted subset (and the coarse product, interpolated as at the stations,
:func:`smdownscale.insitu.coarse_feature`, or without it) is predicted by
each in-situ-trained member; ``sm`` is the members' mean (clipped to [0, porosity]) and
``sm_spread`` their standard deviation, the ensemble's uncertainty as in paper 003 (issue 17,
item 3). Blocks of whole chunk rows, so memory is bounded by the block.
"""

import netCDF4
import numpy as np

from smdownscale.config import run_grids
from smdownscale.features import read_block
from smdownscale.grid import block_map
from smdownscale.harmonise import check_days
from smdownscale.insitu import ensemble_mean_spread, feature_names
from smdownscale.members import load_models
from smdownscale.netcdf import (
    GridFileWriter,
    VarSpec,
    cube_block_rows,
    file_days,
    keep_one_chunk_row,
    read_rows,
)
from smdownscale.residual import fill_from_neighbours, spread
from smdownscale.rule_io import provenance, setup_logging

SM = "volume_fraction_of_condensed_water_in_soil"


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    period = snakemake.params.period
    coarse_grid, fine = run_grids(cfg)
    blocks = block_map(fine, coarse_grid)
    bundle = load_models(snakemake.input.models)
    names = cfg["predictors"]["use"]
    if bundle["features"] != feature_names(names):
        raise ValueError(
            f"{snakemake.input.models} was fitted on {bundle['features']}, the config's "
            f"predictors are {names}: rerun insitu_fit"
        )
    members = bundle["members"]
    specs = [
        VarSpec("sm", ("time", "lat", "lon"), "f4", {
            "standard_name": SM, "units": "m3 m-3",
            "long_name": "surface soil moisture, mean of the in-situ-trained members "
            f"({', '.join(members)})",
            "ancillary_variables": "sm_spread",
        }),
        VarSpec("sm_spread", ("time", "lat", "lon"), "f4", {
            "long_name": "standard deviation of the in-situ-trained members' soil moisture",
            "units": "m3 m-3",
        }),
    ]  # fmt: skip
    attrs = provenance(cfg, f"daily 1 km soil moisture of the in-situ-trained ensemble, "
                       f"period {period.id}", [str(p) for p in snakemake.input])  # fmt: skip
    attrs["members"] = " ".join(members)
    attrs["features"] = " ".join(bundle["features"])
    ndays = period.ndays
    keep_one_chunk_row(fine.nlon, ndays)  # not the whole region in netCDF's cache
    block = cube_block_rows(cfg["resources"]["chunk_rows"], cfg["members"]["chunk_cells"],
                            fine.nlon, ndays)  # fmt: skip
    porosity = snakemake.params.porosity
    n_cells = n_pred = 0
    with netCDF4.Dataset(snakemake.input.coarse) as cnc:
        check_days(snakemake.input.coarse, file_days(cnc), period.days)
        coarse = fill_from_neighbours(read_rows(cnc, "sm", slice(None)))  # as at stations
    with (
        netCDF4.Dataset(snakemake.input.predictors) as pred,
        netCDF4.Dataset(snakemake.input.static) as stat,
        netCDF4.Dataset(snakemake.input.regions) as reg,
        GridFileWriter(
            snakemake.output[0], fine, period.days, specs, attrs, snakemake.threads
        ) as out,
    ):
        check_days(snakemake.input.predictors, file_days(pred), period.days)
        for r0 in range(0, fine.nlat, block):
            rows = slice(r0, min(r0 + block, fine.nlat))
            X = read_block(pred, stat, names, rows, ndays, fine.nlon)
            cf = spread(coarse, blocks, rows, fine.nlon).astype(np.float32)
            X = np.concatenate([X, cf[..., None]], axis=-1)
            shape = X.shape[:-1]
            flat = X.reshape(-1, X.shape[-1])
            preds = np.stack([bundle["models"][m].predict(flat) for m in members])
            mean, sd = ensemble_mean_spread(preds)
            mean = np.clip(mean, 0.0, porosity)
            outside = np.ma.filled(reg.variables["region"][rows, :], -1) < 0
            mean = np.where(outside, np.nan, mean.reshape(shape))  # as the members
            sd = np.where(outside, np.nan, sd.reshape(shape))
            out.write("sm", mean.astype(np.float32), rows=rows)
            out.write("sm_spread", sd.astype(np.float32), rows=rows)
            n_cells += mean.size
            n_pred += int(np.isfinite(mean).sum())
    log.info("period %s: %d of %d cell-days predicted (%.1f %%) by %s", period.id, n_pred,
             n_cells, 100.0 * n_pred / max(n_cells, 1), ", ".join(members))  # fmt: skip


if __name__ == "__main__":
    main(snakemake)
