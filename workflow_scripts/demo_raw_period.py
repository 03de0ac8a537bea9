"""Rule demo_raw_<period>: the demo world's raw product files for one period."""

import numpy as np
import pandas as pd
import xarray as xr

from smdownscale import rawlayout
from smdownscale.calendar import period_of
from smdownscale.config import run_grids
from smdownscale.demo import render
from smdownscale.demo.world import world_grids
from smdownscale.demo.write_esa_cci import write_esa_cci
from smdownscale.demo.write_imerg import write_imerg
from smdownscale.demo.write_modis import write_mcd43c3, write_mod11a1, write_mod13a2
from smdownscale.demo.write_smap import write_smap_l3
from smdownscale.grid import LatLonGrid
from smdownscale.rule_io import setup_logging


def pm_pass(
    sm: np.ndarray,
    flag: np.ndarray,
    rng: np.random.Generator,
    extra_gaps: float = 0.2,
    noise_sd: float = 0.01,
) -> tuple[np.ndarray, np.ndarray]:
    """The demo's evening (PM) retrievals: the morning's with independent noise and more
    gaps (a second overpass sees the same soil, with its own errors and swath gaps)."""
    pm = sm + rng.normal(0.0, noise_sd, sm.shape)
    pm[rng.random(sm.shape) < extra_gaps] = np.nan
    return pm.astype(np.float32), np.where(np.isfinite(pm), flag, 0)


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    period = snakemake.params.period
    coarse_region, region = run_grids(cfg)
    tiles = rawlayout.modis_tiles_for_bbox(region.bbox)
    version = cfg["esa_cci"]["version"]
    rng = np.random.default_rng([cfg["demo"]["seed"], 7, int(period.id.replace("-", ""))])
    days = period.days
    times = pd.DatetimeIndex(days)
    world_all = xr.open_dataset(snakemake.input.world)[["ndvi", "cloud"]]
    all_days = world_all.indexes["time"]
    world = xr.open_dataset(snakemake.input.world).sel(time=times).load()
    sat = xr.open_dataset(snakemake.input.coarse).sel(time=times).load()
    out = snakemake.output
    # products are rendered from the whole world (the region plus a margin)
    fine = LatLonGrid.from_coords(world["lat"].values, world["lon"].values)
    smap = cfg["grid"]["coarse_product"] == "smap_l3"
    if smap:  # the world's EASE2 window: the region's grown by one cell (demo_world)
        coarse = world_grids(coarse_region, region)[1]
    else:
        coarse = LatLonGrid.from_coords(sat["lat"].values, sat["lon"].values)

    for i, day in enumerate(days):
        sm, flag = sat["sm"].values[i], sat["flag"].values[i]
        if smap:
            write_smap_l3(out.smap_l3[i], day, coarse, (sm, flag), pm_pass(sm, flag, rng))
        else:
            write_esa_cci(out.esa_cci[i], day, sm, flag, version, grid=coarse)
        for k, (h, v) in enumerate(tiles):
            lst, qc = render.lst_tile(
                world["lst"].values[i], world["cloud"].values[i], fine, h, v, rng
            )
            write_mod11a1(out.mod11a1[i * len(tiles) + k], lst, qc, h, v, day)
        write_mcd43c3(
            out.mcd43c3[i],
            render.to_global_cmg(world["albedo_wsa"].values[i], fine, rng),
            render.to_global_cmg(world["albedo_bsa"].values[i], fine, rng),
            day,
        )
        precip, pgrid = render.to_imerg(world["precipitation"].values[i], fine)
        write_imerg(out.imerg[i], day, precip, grid=pgrid)
        log.info("%s written", day)

    # the composites this period writes (rules/common.smk: period_composites), each from the
    # world's days in it within the run
    for c, start in enumerate(snakemake.params.composites):
        days_in = [t for t in all_days if period_of(t.date(), 16).nominal_start == start]
        comp = world_all.sel(time=days_in)
        composite, reliability = render.ndvi_composite(comp["ndvi"].values, comp["cloud"].values)
        for k, (h, v) in enumerate(tiles):
            ndvi, rel, viq = render.ndvi_tile(composite, reliability, fine, h, v)
            write_mod13a2(out.mod13a2[c * len(tiles) + k], ndvi, rel, viq, h, v, start)
        log.info(
            "MOD13A2 composite %s: reliability good %.1f %%, cloudy %.1f %%",
            start,
            100 * (reliability == 0).mean(),
            100 * (reliability == 3).mean(),
        )


if __name__ == "__main__":
    main(snakemake)
