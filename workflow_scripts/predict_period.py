"""Rule predict_period: each member's daily soil moisture on the fine grid for a period.

Works through blocks of rows and columns (every day of the period at once) of at most
``resources.chunk_rows`` fine rows and ``members.chunk_cells`` cell-days, nested with the
output chunks and taken so that each chunk is complete before the blocks move on to other
columns (:func:`smdownscale.tiling.grid_blocks`), each a dask task
(:class:`smdownscale.prediction.PredictBlock` through
:class:`smdownscale.blockrun.BlockRunner`, ``resources.dask``): at most
``blocks_in_flight`` blocks are held at once, netCDF's cache keeps a block's chunks and the
writer at most a row of chunks one block wide, so memory is bounded by the block, not by
the region's height or width, and the blocks come back in order to be written here. Each
member's coarse residual gathers its block sums block by block
(:class:`smdownscale.residual.BlockMeans`: a block need not hold whole coarse cells).
``predictor_set`` records which predictor subset predicted each cell-day; values outside
[0, porosity] are counted per member (``out_of_range`` attribute, gathered by rule member_ranges).
"""

import json

import netCDF4
import numpy as np

from smdownscale.blockrun import BlockRunner, close_cached
from smdownscale.config import run_grids
from smdownscale.grid import block_map
from smdownscale.harmonise import check_days
from smdownscale.members import load_models, member_class
from smdownscale.members.ranges import RangeCount
from smdownscale.members.subsets import NO_SUBSET
from smdownscale.netcdf import (
    CHUNK_CELLS,
    GridFileWriter,
    VarSpec,
    file_days,
    keep_block_chunks,
    read_rows,
    set_chunk_cache,
)
from smdownscale.prediction import (
    SOURCE_CODES,
    PredictBlock,
    resolve_models,
    use_threads,
)
from smdownscale.progress import Progress
from smdownscale.residual import BlockMeans
from smdownscale.rule_io import provenance, rule_config, setup_logging
from smdownscale.tiling import cube_blocks, grid_blocks


def write_residuals(path, coarse_grid, period, residual, cfg) -> None:
    """Each member's coarse residual (coarse value minus the block mean of its prediction)."""
    specs = [
        VarSpec(
            f"r_{m}",
            ("time", "lat", "lon"),
            "f4",
            {
                "long_name": f"coarse soil moisture minus the block mean of member {m}",
                "units": "m3 m-3",
            },
        )
        for m in residual
    ]
    attrs = provenance(cfg, f"coarse residuals of the members, period {period.id}")
    with GridFileWriter(path, coarse_grid, period.days, specs, attrs) as out:
        for m, r in residual.items():
            out.write(f"r_{m}", r.astype(np.float32))


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg, _ = rule_config(snakemake)
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
    runner = BlockRunner.from_config(cfg)
    per_task = runner.task_threads(snakemake.threads)
    n_set = use_threads(models, per_task)
    log.info(
        "%d fitted models predict on %d thread(s) a block; blocks through %s",
        n_set,
        per_task,
        runner.describe(),
    )
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
    subsets = bundle["subsets"]
    specs.append(
        VarSpec(
            "predictor_set",
            ("time", "lat", "lon"),
            "i1",
            {
                "long_name": "predictor subset of the model that predicted the cell-day",
                "flag_values": np.arange(len(subsets), dtype="i1"),
                "flag_meanings": " ".join(f"predictors_{s}" for s in subsets),
                "comment": "a cell-day missing an optional predictor (LST under cloud) is "
                "predicted by the members fitted without it; fill: no prediction",
            },
            fill_value=NO_SUBSET,
        )
    )
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
    block_rows, block_cols = cube_blocks(
        cfg["resources"]["chunk_rows"], mcfg["chunk_cells"], fine.nlat, ndays
    )
    tiles = grid_blocks(fine.nlat, fine.nlon, block_rows, block_cols, 0, chunk_rows=CHUNK_CELLS)
    cache = keep_block_chunks(min(block_rows, fine.nlat), min(block_cols, fine.nlon), ndays)
    set_chunk_cache(cache)  # a block's chunks, not the region, in netCDF's cache
    log.info(
        "predicting in %d block(s) of up to %d x %d cells",
        len(tiles),
        min(block_rows, fine.nlat),
        min(block_cols, fine.nlon),
    )
    n_region = n_missing = 0
    porosity = snakemake.params.porosity
    ranges = {m: RangeCount() for m in members}
    n_subset = np.zeros(len(subsets), dtype=np.int64)
    blocks = block_map(fine, coarse_grid)
    with netCDF4.Dataset(snakemake.input.coarse) as cnc:
        check_days(snakemake.input.coarse, file_days(cnc), period.days)
        coarse_sm = read_rows(cnc, "sm", slice(None))
    means = {m: BlockMeans.empty(blocks, ndays) for m in members}
    blend = mcfg["region_blend"] * blocks.cell_size  # fine cells
    pad = int(np.ceil(2 * blend)) + 1  # the Gaussian's reach (truncated at 2 SD)
    with netCDF4.Dataset(snakemake.input.predictors) as pred:
        check_days(snakemake.input.predictors, file_days(pred), period.days)
    task = PredictBlock(
        predictors=str(snakemake.input.predictors),
        static=str(snakemake.input.static),
        regions=str(snakemake.input.regions),
        names=tuple(names),
        members=tuple(members),
        ndays=ndays,
        nlat=fine.nlat,
        nlon=fine.nlon,
        blend_cells=blend,
        pad=pad,
        cache_bytes=cache,
    )
    with GridFileWriter(
        snakemake.output.members, fine, period.days, specs, attrs, snakemake.threads
    ) as out:
        progress = Progress(
            f"period {period.id}: predicting {len(members)} member(s)",
            fine.size * ndays,
            log.info,
            unit="cell-days",
        )
        items = [(t.rows, t.cols) for t in tiles]
        for (rows, cols), (result, source, subset, labels) in runner.map(task, items, models):
            n_subset += np.bincount(subset[subset >= 0].ravel(), minlength=len(subsets))
            for m in members:
                ranges[m].add(result[m], porosity)
                means[m].add(result[m], rows, cols)
            n_region += int((labels >= 0).sum()) * ndays
            n_missing += int(np.isnan(result[members[0]][:, labels >= 0]).sum())
            for m in members:
                out.write(f"sm_{m}", result[m], rows=rows, cols=cols)
            out.write("model_source", source, rows=rows, cols=cols)
            out.write("predictor_set", subset, rows=rows, cols=cols)
            progress.advance(labels.size * ndays)
        out.set_attrs(out_of_range=json.dumps({m: r.as_dict() for m, r in ranges.items()}))
    close_cached()
    # coarse value minus the block mean of the prediction (half the block predicted)
    residual = {m: coarse_sm.astype(np.float64) - means[m].mean(0.5) for m in members}
    write_residuals(snakemake.output.residual, coarse_grid, period, residual, cfg)
    log.info(
        "cell-days per predictor subset: %s",
        {s: int(n) for s, n in zip(subsets, n_subset, strict=True)},
    )
    for m, r in ranges.items():
        if r.below or r.above:
            log.warning(
                "member %s: %d cell-days below 0 and %d above porosity %.2f (min %.3f, "
                "max %.3f m3 m-3); clipped only in the product",
                m,
                r.below,
                r.above,
                porosity,
                r.low,
                r.high,
            )
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
