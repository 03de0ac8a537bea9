"""Rule harmonise_predictors: a period's raw predictors -> daily cubes on the fine grid.

Pass 1 regrids each day's files into uncompressed scratch cubes beside the output; pass 2
(:func:`smdownscale.harmonise.fill_and_flag`) gap-fills the configured predictors, computes
the gap flag and writes the compressed CF file a block of rows (every day) at a time.
"""

from pathlib import Path

import numpy as np

from smdownscale.config import run_grids
from smdownscale.harmonise import (
    DAILY_PREDICTORS,
    check_days,
    composites_of_days,
    datetime64_days,
    fill_and_flag,
    flag_attrs,
    scratch_cubes,
)
from smdownscale.netcdf import GridFileWriter, VarSpec, chunk_aligned_rows
from smdownscale.products.imerg import imerg_to_grid, read_imerg
from smdownscale.products.mcd43c3 import albedo_to_grid, read_mcd43c3_albedo
from smdownscale.products.modis_sinusoidal import (
    apply_index,
    build_index,
    read_mod11a1_lst,
    read_mod13a2_ndvi,
)
from smdownscale.progress import Progress
from smdownscale.rawindex import files_by_day, read_index
from smdownscale.rawlayout import modis_tiles_for_bbox
from smdownscale.rule_io import provenance, setup_logging


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

    tile_index = None

    def modis_to_fine(tiles):
        nonlocal tile_index
        if not tiles:
            return np.full(fine.shape, np.nan, dtype=np.float32)
        if tile_index is None or [t.georef for t in tiles] != list(tile_index.tiles):
            tile_index = build_index([t.georef for t in tiles], fine)
        return apply_index(tile_index, [t.values for t in tiles])

    def read_composite(k):
        paths = ndvi_files[composites[k]]
        ndvi = modis_to_fine([read_mod13a2_ndvi(p, qc=pcfg["ndvi_qc"]) for p in paths])
        log.info(
            "MOD13A2 %s: %.1f %% of fine cells have NDVI",
            composites[k],
            100 * np.isfinite(ndvi).mean(),
        )
        return ndvi

    specs = [VarSpec(n, ("time", "lat", "lon"), "f4", a) for n, a in DAILY_PREDICTORS.items()]
    specs.append(VarSpec("gap_flag", ("time", "lat", "lon"), "u1", flag_attrs(), fill_value=False))
    attrs = provenance(
        cfg, f"fine-grid predictors, period {period.id}", [str(p) for p in snakemake.input]
    )
    out_path = Path(snakemake.output[0])
    shape = (len(days), *fine.shape)
    scratch = out_path.with_name(f".{out_path.name}.scratch")
    with scratch_cubes(scratch, list(DAILY_PREDICTORS), shape) as cubes:
        # pass 1: one day at a time into the scratch cubes
        ndvi, ndvi_k = None, -1
        regrid = Progress(
            f"period {period.id}, pass 1 (read and regrid)", len(days), log.info, unit="days"
        )
        for i, day in enumerate(days):
            if composite_of[i] != ndvi_k:
                ndvi_k = composite_of[i]
                ndvi = read_composite(ndvi_k)
            paths = lst_files[day]
            lst = modis_to_fine([read_mod11a1_lst(p, qc=pcfg["lst_qc"]) for p in paths])
            if albedo_files[day]:
                albedo = albedo_to_grid(
                    read_mcd43c3_albedo(albedo_files[day][0], bbox=fine.bbox), fine
                )
            else:
                albedo = np.full(fine.shape, np.nan, dtype=np.float32)
            rain = read_imerg(imerg_files[day][0], bbox=fine.bbox)
            check_days(imerg_files[day][0], datetime64_days(rain["time"].values), [day])
            precip = imerg_to_grid(rain, fine, method=pcfg["precipitation_method"])
            fields = {"lst": lst, "ndvi": ndvi, "albedo": albedo, "precipitation": precip}
            for name, field in fields.items():
                cubes[name].write_day(i, field)
            log.info(
                "%s: valid fraction lst %.2f, albedo %.2f, precipitation %.2f",
                day,
                np.isfinite(lst).mean(),
                np.isfinite(albedo).mean(),
                np.isfinite(precip).mean(),
            )
            regrid.advance()

        # pass 2: blocks of rows of every day -> gap fill, gap flag, compressed file
        fill_write = Progress(
            f"period {period.id}, pass 2 (gap fill and write)", fine.nlat, log.info, unit="rows"
        )

        def write_block(name, rows, cube):
            out.write(name, cube, rows=rows)
            if name == "gap_flag":  # a block's last write
                fill_write.advance(rows.stop - rows.start)

        with GridFileWriter(out_path, fine, days, specs, attrs, snakemake.threads) as out:
            counts = fill_and_flag(
                lambda name, rows: cubes[name].read_rows(rows),
                write_block,
                fine.nlat,
                fill,
                gcfg["max_days"],
                chunk_aligned_rows(cfg["resources"]["chunk_rows"]),
            )
    ncells = fine.size * len(days)
    for name in fill:
        n = counts[name]
        log.info("gap filling %s: %d cell-days filled (%.1f %%)", name, n, 100 * n / ncells)


if __name__ == "__main__":
    main(snakemake)
