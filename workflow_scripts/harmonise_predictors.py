"""Rule harmonise_predictors: a period's raw predictors -> daily cubes on the fine grid."""

import numpy as np

from smdownscale.config import run_grids
from smdownscale.harmonise import DAILY_PREDICTORS, GAP_BITS, flag_attrs, gap_flag, gapfill
from smdownscale.netcdf import GridFileWriter, VarSpec
from smdownscale.products.imerg import imerg_to_grid, read_imerg
from smdownscale.products.mcd43c3 import albedo_to_grid, read_mcd43c3_albedo
from smdownscale.products.modis_sinusoidal import (
    apply_index,
    build_index,
    read_mod11a1_lst,
    read_mod13a2_ndvi,
)
from smdownscale.rule_io import provenance, setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    period = snakemake.params.period
    _, fine = run_grids(cfg)
    pcfg, gcfg = cfg["predictors"], cfg["gapfill"]
    days = period.days
    ntiles = len(snakemake.input.mod13a2)
    lst_files = list(snakemake.input.mod11a1)
    if len(lst_files) != ntiles * len(days):
        raise ValueError(f"expected {ntiles} MOD11A1 tiles for each of {len(days)} days")
    log.info(
        "period %s: %d days, %d MODIS tiles, fine grid %s", period.id, len(days), ntiles, fine.shape
    )

    ndvi_tiles = [read_mod13a2_ndvi(p, qc=pcfg["ndvi_qc"]) for p in snakemake.input.mod13a2]
    index = build_index([t.georef for t in ndvi_tiles], fine)
    ndvi = apply_index(index, [t.values for t in ndvi_tiles])
    log.info("MOD13A2: %.1f %% of fine cells have NDVI", 100 * (ndvi == ndvi).mean())

    specs = [VarSpec(n, ("time", "lat", "lon"), "f4", a) for n, a in DAILY_PREDICTORS.items()]
    specs.append(VarSpec("gap_flag", ("time", "lat", "lon"), "u1", flag_attrs(), fill_value=255))
    attrs = provenance(
        cfg, f"fine-grid predictors, period {period.id}", [str(p) for p in snakemake.input]
    )
    with GridFileWriter(snakemake.output[0], fine, days, specs, attrs) as out:
        for i, day in enumerate(days):
            tiles = [
                read_mod11a1_lst(p, qc=pcfg["lst_qc"])
                for p in lst_files[i * ntiles : (i + 1) * ntiles]
            ]
            if [t.georef for t in tiles] != list(index.tiles):
                index = build_index([t.georef for t in tiles], fine)
            lst = apply_index(index, [t.values for t in tiles])
            albedo = albedo_to_grid(
                read_mcd43c3_albedo(snakemake.input.mcd43c3[i], bbox=fine.bbox), fine
            )
            precip = imerg_to_grid(
                read_imerg(snakemake.input.imerg[i], bbox=fine.bbox),
                fine,
                method=pcfg["precipitation_method"],
            )
            for name, field in (
                ("lst", lst),
                ("ndvi", ndvi),
                ("albedo", albedo),
                ("precipitation", precip),
            ):
                out.write(name, field, time_index=i)
            log.info(
                "%s: valid fraction lst %.2f, albedo %.2f, precipitation %.2f",
                day,
                (lst == lst).mean(),
                (albedo == albedo).mean(),
                (precip == precip).mean(),
            )

        # second pass, in blocks of rows: gap filling (optional) and the gap flag
        step = cfg["resources"]["chunk_rows"]
        counts = dict.fromkeys(GAP_BITS, 0)
        for r0 in range(0, fine.nlat, step):
            rows = slice(r0, min(r0 + step, fine.nlat))
            filled = {}
            for name in GAP_BITS:
                cube = out.read(name, rows)
                if gcfg["enabled"]:
                    cube, filled[name] = gapfill(cube, gcfg["max_days"])
                    out.write(name, cube, rows=rows)
                    counts[name] += int(filled[name].sum())
                else:
                    filled[name] = np.zeros(cube.shape, dtype=bool)
            out.write("gap_flag", gap_flag(filled), rows=rows)
    ncells = fine.size * len(days)
    for name, n in counts.items():
        log.info("gap filling %s: %d cell-days filled (%.1f %%)", name, n, 100 * n / ncells)


if __name__ == "__main__":
    main(snakemake)
