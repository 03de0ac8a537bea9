"""Rule predict_period: each member's daily soil moisture on the fine grid for a period.

Works through blocks of whole chunk rows (every day of the period at once), so memory is
bounded by the block and each compressed output chunk is written once.
"""

import json

import netCDF4
import numpy as np

from smdownscale.config import run_grids
from smdownscale.features import DAILY, STATIC, stack
from smdownscale.grid import block_factor
from smdownscale.harmonise import check_days
from smdownscale.members import load_models, member_class
from smdownscale.netcdf import GridFileWriter, VarSpec, chunk_aligned_rows, file_days, read_rows
from smdownscale.prediction import SOURCE_CODES, predict_block, residual_correct, resolve_models
from smdownscale.rule_io import provenance, setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    mcfg = cfg["members"]
    period = snakemake.params.period
    coarse_grid, fine = run_grids(cfg)
    bundle = load_models(snakemake.input.models)
    with open(snakemake.input.meta) as f:
        meta = json.load(f)
    previous = None
    if snakemake.input.previous and any(r["source"] == "previous" for r in meta["regions"]):
        previous = load_models(snakemake.input.previous[0])
    names, members = bundle["predictors"], bundle["members"]
    if names != cfg["predictors"]["use"] or members != mcfg["use"]:
        raise ValueError("models were fitted with other predictors or members than the config")
    models = resolve_models(meta["regions"], bundle, previous)
    for c, (src, _) in models.items():
        log.info("region %d: %s model", c, src)

    specs = [
        VarSpec(
            f"sm_{m}",
            ("time", "lat", "lon"),
            "f4",
            {
                "standard_name": "volume_fraction_of_condensed_water_in_soil",
                "long_name": "surface soil moisture predicted by the "
                f"{member_class(m).long_name} member",
                "units": "m3 m-3",
            },
        )
        for m in members
    ]
    specs.append(
        VarSpec(
            "model_source",
            ("lat", "lon"),
            "i1",
            {
                "long_name": "which model predicts the cell in this period",
                "flag_values": np.array(list(SOURCE_CODES.values()), dtype="i1"),
                "flag_meanings": "own_model previous_period_model all_region_model no_model",
                "comment": "cells outside every region: fill",
            },
            fill_value=-1,
        )
    )
    attrs = provenance(
        cfg,
        f"daily 1 km soil moisture of each member, period {period.id}",
        [str(p) for p in snakemake.input],
    )
    attrs.update(
        {
            "members": " ".join(members),
            "predictors": " ".join(names),
            "model_sources": json.dumps({str(c): s for c, (s, _) in models.items()}),
        }
    )
    ndays = period.ndays
    block = chunk_aligned_rows(max(1, mcfg["chunk_cells"] // (fine.nlon * ndays)))
    n_region = n_missing = 0
    correct = mcfg["residual_correction"]
    if correct:
        factor = block_factor(fine, coarse_grid)
        block = max(factor, block // factor * factor)  # whole coarse blocks per row block
        with netCDF4.Dataset(snakemake.input.coarse) as cnc:
            check_days(snakemake.input.coarse, file_days(cnc), period.days)
            coarse_sm = read_rows(cnc, "sm", slice(None))
        n_blocks = {m: 0 for m in members}
        attrs["residual_correction"] = "coarse residual added back to every member"
    with (
        netCDF4.Dataset(snakemake.input.predictors) as pred,
        netCDF4.Dataset(snakemake.input.static) as stat,
        netCDF4.Dataset(snakemake.input.regions) as reg,
        GridFileWriter(snakemake.output[0], fine, period.days, specs, attrs) as out,
    ):
        check_days(snakemake.input.predictors, file_days(pred), period.days)
        for r0 in range(0, fine.nlat, block):
            rows = slice(r0, min(r0 + block, fine.nlat))
            daily = {n: read_rows(pred, n, rows) for n in names if n in DAILY}
            static = {n: read_rows(stat, n, rows) for n in names if n in STATIC}
            if not daily:
                daily = {"_": np.zeros((ndays, rows.stop - rows.start, fine.nlon), "f4")}
            X = stack(daily, static, names)
            labels = np.ma.filled(reg.variables["region"][rows, :], -1)
            result, source = predict_block(X, labels, models, members)
            if correct:
                crows = slice(rows.start // factor, -(-rows.stop // factor))
                for m in members:
                    result[m], resid = residual_correct(result[m], coarse_sm[:, crows], factor)
                    n_blocks[m] += int(np.isfinite(resid).sum())
            n_region += int((labels >= 0).sum()) * ndays
            n_missing += int(np.isnan(result[members[0]][:, labels >= 0]).sum())
            for m in members:
                out.write(f"sm_{m}", result[m], rows=rows)
            out.write("model_source", source, rows=rows)
    if correct:
        log.info("residual correction: coarse cell-days corrected per member %s", n_blocks)
    log.info(
        "period %s: %d of %d regional fine cell-days without a prediction (%.1f %%: "
        "missing predictors or no model)",
        period.id,
        n_missing,
        n_region,
        100 * n_missing / max(n_region, 1),
    )


if __name__ == "__main__":
    main(snakemake)
