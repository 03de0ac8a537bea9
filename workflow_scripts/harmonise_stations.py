"""Rule harmonise_stations: station archives -> one daily table on the run's grids."""

import tempfile

import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.config import run_dates, run_grids
from smdownscale.harmonise import locate_stations
from smdownscale.products.csv_stations import read_csv_stations
from smdownscale.products.ismn import read_ismn
from smdownscale.products.stations import finalize_station_table, select_surface_sensors
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    scfg = cfg["stations"]
    coarse, fine = run_grids(cfg)
    pieces = []
    for path in snakemake.input.ismn:
        with tempfile.TemporaryDirectory() as meta:
            pieces.append(
                read_ismn(
                    path,
                    max_depth_m=scfg["max_depth_m"],
                    accept_flags=scfg["accept_flags"],
                    meta_dir=meta,
                )
            )
        log.info("ISMN %s: %d station-days", path, len(pieces[-1]))
    for spath, vpath in zip(snakemake.input.csv_stations, snakemake.input.csv_values, strict=True):
        pieces.append(read_csv_stations(spath, vpath, accept_flags=scfg["accept_flags"]))
        log.info("CSV %s: %d station-days", spath, len(pieces[-1]))
    table, deep = select_surface_sensors(finalize_station_table(pieces), scfg["max_depth_m"])
    for row in deep.itertuples():
        log.warning(
            "sensor %s/%s/%s at %.2f-%.2f m is deeper than stations.max_depth_m = %.2f m: dropped",
            row.network,
            row.station,
            row.sensor,
            row.depth_from,
            row.depth_to,
            scfg["max_depth_m"],
        )

    start, end = run_dates(cfg)
    in_time = table["time"].between(pd.Timestamp(start), pd.Timestamp(end))
    log.info(
        "%d of %d station-days fall in the run's dates %s..%s",
        int(in_time.sum()),
        len(table),
        start,
        end,
    )
    inside, outside = locate_stations(table.loc[in_time], fine, coarse)
    for row in outside.itertuples():
        log.warning(
            "station %s/%s at (%.4f N, %.4f E) is outside the region %s: dropped",
            row.network,
            row.station,
            row.lat,
            row.lon,
            fine.bbox,
        )
    log.info(
        "%d stations outside the region dropped; %d stations, %d station-days kept",
        len(outside),
        inside[["network", "station"]].drop_duplicates().shape[0],
        len(inside),
    )
    if inside.empty:
        raise ValueError(
            f"no station observation lies inside the region {fine.bbox} within {start}..{end}: "
            "check 'stations' in the config (archives, max_depth_m, accept_flags) and the dates"
        )
    with atomic_path(snakemake.output.table) as tmp:
        inside.to_parquet(tmp, index=False)
    with atomic_path(snakemake.output.dropped) as tmp:
        outside.to_csv(tmp, index=False)


if __name__ == "__main__":
    main(snakemake)
