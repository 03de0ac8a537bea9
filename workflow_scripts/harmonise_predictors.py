"""Rule harmonise_predictors: a period's raw predictors -> daily cubes on the fine grid.

The region is cut into blocks of ``resources.chunk_rows`` rows by ``resources.chunk_cols``
columns (whole output chunks where they are larger than one;
:func:`smdownscale.tiling.grid_blocks`, taken so that each output chunk is complete
before the blocks move on to other columns). Pass 1
regrids each block of each MOD13A2 composite and of each day's files into uncompressed
scratch cubes beside the output, a dask task each (:mod:`smdownscale.harmonise_days`
through :class:`smdownscale.blockrun.BlockRunner`, ``resources.dask``), block by block;
pass 2 (:func:`smdownscale.harmonise.fill_and_flag`) gap-fills the configured predictors,
computes the gap flag and writes the compressed CF file a block (every day) at a time.
Memory is a few blocks', whatever the region's size.
"""

from pathlib import Path

import numpy as np

from smdownscale.blockrun import BlockRunner
from smdownscale.config import run_grids
from smdownscale.harmonise import (
    DAILY_PREDICTORS,
    composites_of_days,
    fill_and_flag,
    flag_attrs,
    scratch_cubes,
)
from smdownscale.harmonise_days import (
    CompositeBlock,
    DayBlock,
    DayFiles,
    RegridComposite,
    RegridDay,
    halo_cells,
)
from smdownscale.netcdf import CHUNK_CELLS, GridFileWriter, VarSpec, chunk_nested
from smdownscale.progress import Progress
from smdownscale.rawindex import files_by_day, read_index
from smdownscale.rawlayout import modis_tiles_for_bbox
from smdownscale.rule_io import provenance, setup_logging
from smdownscale.tiling import grid_blocks

#: The products of the raw index that harmonisation reads (the coarse target is aggregated).
READ = ("mod11a1", "mod13a2", "mcd43c3", "imerg")


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    period = snakemake.params.period
    _, fine = run_grids(cfg)
    pcfg, gcfg = cfg["predictors"], cfg["gapfill"]
    days = period.days
    ntiles = len(modis_tiles_for_bbox(fine.bbox))
    composites, composite_of = composites_of_days(days)
    # the period's files as index_raw recorded them; granules the provider does not have
    # (outages; real runs list only those that exist) are missing data: their cells stay
    # NaN, flagged and gap-filled like clouds
    index = read_index(snakemake.input.index)
    lst_files = files_by_day(index, "mod11a1", days)
    ndvi_files = files_by_day(index, "mod13a2", composites)
    albedo_files = files_by_day(index, "mcd43c3", days)
    imerg_files = files_by_day(index, "imerg", days)
    lacking = [str(d) for d, files in imerg_files.items() if len(files) != 1]
    if lacking:
        raise ValueError(f"expected one IMERG file a day; the index has not for {lacking}")
    for name, files, per in (
        ("MOD11A1", lst_files, ntiles),
        ("MOD13A2", ndvi_files, ntiles),
        ("MCD43C3", albedo_files, 1),
    ):
        for day, paths in files.items():
            if len(paths) < per:
                log.warning(
                    "%s %s: %d of %d granule(s) absent at the provider: missing data",
                    name,
                    day,
                    per - len(paths),
                    per,
                )
    fill = list(gcfg["predictors"]) if gcfg["enabled"] else []
    log.info(
        "period %s: %d days, %d MOD13A2 composite(s), %d MODIS tiles, fine grid %s; gap fill %s",
        period.id,
        len(days),
        len(composites),
        ntiles,
        fine.shape,
        ", ".join(fill) or "off",
    )

    runner = BlockRunner.from_config(cfg)
    log.info("regridding through %s", runner.describe())

    specs = [VarSpec(n, ("time", "lat", "lon"), "f4", a) for n, a in DAILY_PREDICTORS.items()]
    specs.append(VarSpec("gap_flag", ("time", "lat", "lon"), "u1", flag_attrs(), fill_value=False))
    attrs = provenance(
        cfg,
        f"fine-grid predictors, period {period.id}",
        [r.path for r in index if r.product in READ] + [str(snakemake.input.index)],
    )
    out_path = Path(snakemake.output[0])
    scratch = out_path.with_name(f".{out_path.name}.scratch")
    res = cfg["resources"]
    block_rows, block_cols = (
        chunk_nested(res["chunk_rows"]),
        chunk_nested(res["chunk_cols"]),
    )
    blocks = grid_blocks(
        fine.nlat, fine.nlon, block_rows, block_cols, halo_cells(fine), chunk_rows=CHUNK_CELLS
    )
    log.info(
        "regridding in %d block(s) of up to %d x %d cells",
        len(blocks),
        min(block_rows, fine.nlat),
        min(block_cols, fine.nlon),
    )
    regions = [(b.rows, b.cols) for b in blocks]
    with scratch_cubes(scratch, list(DAILY_PREDICTORS), len(days), regions) as cubes:
        # pass 1: each block of each composite and of each day (tasks, block by block, so
        # that a block's MODIS index serves all its days) into the scratch cubes
        days_of = {
            k: [i for i, c in enumerate(composite_of) if c == k] for k in range(len(composites))
        }
        regrid_composite = RegridComposite(fine, pcfg["ndvi_qc"])
        composite_paths = [tuple(map(str, ndvi_files[c])) for c in composites]
        items = [CompositeBlock(paths, block) for block in blocks for paths in composite_paths]
        ndvi_valid = np.zeros(len(composites))
        for n, (_, ndvi) in enumerate(runner.map(regrid_composite, items)):
            b, k = divmod(n, len(composites))
            ndvi_valid[k] += np.isfinite(ndvi).sum()
            for i in days_of[k]:
                cubes["ndvi"].write(i, b, ndvi)
            del ndvi
        for k, composite in enumerate(composites):
            log.info(
                "MOD13A2 %s: %.1f %% of fine cells have NDVI",
                composite,
                100 * ndvi_valid[k] / fine.size,
            )
        regrid = Progress(
            f"period {period.id}, pass 1 (read and regrid)",
            len(days) * len(blocks),
            log.info,
            unit="day-blocks",
        )
        day_files = [
            DayFiles(
                day,
                tuple(map(str, lst_files[day])),
                str(albedo_files[day][0]) if albedo_files[day] else None,
                str(imerg_files[day][0]),
            )
            for day in days
        ]
        regrid_day = RegridDay(fine, pcfg["lst_qc"], pcfg["precipitation_method"])
        items = [DayBlock(files, block) for block in blocks for files in day_files]
        valid = {name: np.zeros(len(days)) for name in ("lst", "albedo", "precipitation")}
        for n, (_, fields) in enumerate(runner.map(regrid_day, items)):
            b, i = divmod(n, len(days))
            for name, field in fields.items():
                cubes[name].write(i, b, field)
                valid[name][i] += np.isfinite(field).sum()
            regrid.advance()
        for i, day in enumerate(days):
            log.info(
                "%s: valid fraction lst %.2f, albedo %.2f, precipitation %.2f",
                day,
                *(valid[name][i] / fine.size for name in ("lst", "albedo", "precipitation")),
            )

        # pass 2: a block of every day at a time -> gap fill, gap flag, compressed file
        fill_write = Progress(
            f"period {period.id}, pass 2 (gap fill and write)", fine.size, log.info, unit="cells"
        )

        def write_block(name, b, cube):
            out.write(name, cube, rows=blocks[b].rows, cols=blocks[b].cols)
            if name == "gap_flag":  # a block's last write
                fill_write.advance(blocks[b].shape[0] * blocks[b].shape[1])

        with GridFileWriter(out_path, fine, days, specs, attrs, snakemake.threads) as out:
            counts = fill_and_flag(
                lambda name, b: cubes[name].read(b),
                write_block,
                len(blocks),
                fill,
                gcfg["max_days"],
            )
    ncells = fine.size * len(days)
    for name in fill:
        n = counts[name]
        log.info("gap filling %s: %d cell-days filled (%.1f %%)", name, n, 100 * n / ncells)


if __name__ == "__main__":
    main(snakemake)
