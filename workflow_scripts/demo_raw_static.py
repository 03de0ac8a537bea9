"""Rule demo_raw_static: the demo world's SRTM tiles and in-situ station archives."""

import numpy as np
import pandas as pd
import xarray as xr

from smdownscale import rawlayout
from smdownscale.config import run_grids
from smdownscale.demo import render
from smdownscale.demo.write_csv_stations import write_csv_stations
from smdownscale.demo.write_ismn import write_ismn_archive
from smdownscale.demo.write_srtm import write_srtm_tile
from smdownscale.grid import LatLonGrid
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    _, region = run_grids(cfg)
    rng = np.random.default_rng([cfg["demo"]["seed"], 11])
    with xr.open_dataset(snakemake.input.world) as world:
        elevation = world["elevation"].values
        fine = LatLonGrid.from_coords(world["lat"].values, world["lon"].values)
    for path, (lat_s, lon_w) in zip(
        snakemake.output.srtm, rawlayout.srtm_tiles_for_bbox(region.bbox), strict=True
    ):
        write_srtm_tile(path, lat_s, lon_w, render.srtm_tile(elevation, fine, lat_s, lon_w, rng))
    log.info("%d SRTM tiles written", len(snakemake.output.srtm))

    sites = pd.read_csv(snakemake.input.sites)
    # stations placed beyond the simulated world have no terrain there; their header
    # elevation (metadata only) is the world's mean
    sites["elevation"] = sites["elevation"].fillna(float(np.nanmean(elevation)))
    obs = pd.read_parquet(snakemake.input.observations)
    formats = {n["name"]: n for n in cfg["demo"]["networks"]}
    ismn_nets = [n for n, spec in formats.items() if spec["format"] == "ismn"]
    write_ismn_archive(
        snakemake.output.ismn,
        sites[sites["network"].isin(ismn_nets)],
        obs[obs["network"].isin(ismn_nets)],
    )
    log.info(
        "ISMN archive: networks %s, %d observations",
        ismn_nets,
        int(obs["network"].isin(ismn_nets).sum()),
    )
    csv_paths = iter(snakemake.output.csv)
    for name, spec in formats.items():
        if spec["format"] != "csv":
            continue
        st = sites[sites["network"] == name].assign(units=spec["units"])
        write_csv_stations(next(csv_paths), next(csv_paths), st, obs[obs["network"] == name])
        log.info("CSV network %s (%s): %d stations", name, spec["units"], len(st))


if __name__ == "__main__":
    main(snakemake)
