"""Rule demo_world: simulate the synthetic world and its observations (truth kept aside)."""

import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.calendar import daterange
from smdownscale.config import run_dates, run_grids
from smdownscale.demo.observe import coarse_product, station_observations, station_sites
from smdownscale.demo.world import WorldParams, simulate_world, world_grids
from smdownscale.netcdf import write_dataset
from smdownscale.rule_io import provenance, setup_logging

#: Period-mean coarse NDVI below which the demo's coarse product sets the advisory
#: barren-ground flag (the world's sparsest cells; the value is kept, as in ESA CCI v08).
BARREN_NDVI = 0.2


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    dcfg = cfg["demo"]
    coarse, fine = run_grids(cfg)
    start, end = run_dates(cfg)
    days = list(daterange(start, end))
    seed = dcfg["seed"]
    # The world extends one coarse cell beyond the region on every side, as real products
    # extend beyond any region: edge cells then have neighbours for interpolation.
    world_fine, world_coarse = world_grids(coarse, fine)
    log.info(
        "simulating the demo world: grid %s (region %s plus one %s cell), %d days, seed %d",
        world_fine.shape,
        fine.shape,
        type(coarse).__name__,
        len(days),
        seed,
    )
    patches = dcfg["wet_patches"]
    params = WorldParams(
        spinup_days=dcfg["spinup_days"],
        wet_patch_share=patches["share"],
        wet_patch_size_km=patches["size_km"],
        wet_patch_target=patches["target"],
        wet_patch_boost=patches["boost"],
    )
    world = simulate_world(world_fine, days, seed, params)
    log.info(
        "sm_true: mean %.3f, sd %.3f m3 m-3; cloud fraction %.2f",
        float(world["sm_true"].mean()),
        float(world["sm_true"].std()),
        float(world["cloud"].mean()),
    )

    sat = coarse_product(
        world["sm_true"],
        world_fine,
        world_coarse,
        seed,
        noise_sd=dcfg["coarse_noise_sd"],
        bias_amplitude=dcfg["coarse_bias_amplitude"],
        gap_fraction=dcfg["coarse_gap_fraction"],
        lst=world["lst"],
        ndvi=world["ndvi"],
        barren_ndvi=BARREN_NDVI,
    )
    flags = sat["flag"].values
    has_value = sat["sm"].notnull().values
    log.info(
        "coarse flags on retrievals with a value: low weight (16) %d, barren ground (64) %d",
        int((has_value & (flags & 16 > 0)).sum()),
        int((has_value & (flags & 64 > 0)).sum()),
    )
    log.info("coarse product: %.1f %% of cell-days missing", 100 * float(sat["sm"].isnull().mean()))
    networks = dcfg["networks"]
    rows, cols = world_fine.subgrid(fine)
    sites = station_sites(
        fine,
        networks,
        seed,
        n_outside=dcfg["stations_outside_region"],
        elevation=world["elevation"].isel(lat=rows, lon=cols),
    )
    obs = station_observations(
        world["sm_true"], sites, networks, seed, start, end, porosity=world["porosity"]
    )
    log.info(
        "%d stations (%d outside the region), %d observations",
        len(sites),
        int((~sites["inside"]).sum()),
        len(obs),
    )
    in_region = world["wet_patch"].isel(lat=rows, lon=cols).values.astype(bool)
    r, c = fine.cell_index(sites["lat"].to_numpy(), sites["lon"].to_numpy())
    ok = r >= 0
    log.info(
        "wet patches: %.3f of the region's fine cells (share %.3f, size %.1f km, target %s, "
        "boost %.3f); %d of %d stations in the region sit in one",
        float(in_region.mean()),
        patches["share"],
        patches["size_km"],
        patches["target"],
        patches["boost"],
        int(in_region[r[ok], c[ok]].sum()),
        int(ok.sum()),
    )

    attrs = provenance(cfg, "demo world: true daily 1 km fields (for scoring only)")
    world = world.assign_attrs(attrs)
    world["cloud"] = world["cloud"].astype("u1")
    write_dataset(world, snakemake.output.world, world_fine)
    write_dataset(
        sat.assign_attrs(provenance(cfg, "demo world: coarse product")),
        snakemake.output.coarse,
        world_coarse,
    )
    with atomic_path(snakemake.output.sites) as tmp:
        sites.to_csv(tmp, index=False)
    with atomic_path(snakemake.output.observations) as tmp:
        pd.DataFrame(obs).to_parquet(tmp, index=False)


if __name__ == "__main__":
    main(snakemake)
