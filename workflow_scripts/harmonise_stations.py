"""Rule harmonise_stations: station archives -> one daily table on the run's grids."""

from smdownscale.atomic import atomic_path
from smdownscale.rule_io import setup_logging
from smdownscale.station_inputs import csv_layouts, harmonise_station_files


def main(snakemake) -> None:
    setup_logging(snakemake)
    inputs = snakemake.input
    result = harmonise_station_files(
        snakemake.config,
        list(inputs.ismn),
        list(zip(inputs.csv_stations, inputs.csv_values, strict=True)),
        csv_layouts(snakemake.config),
    )
    with atomic_path(snakemake.output.table) as tmp:
        result.table.to_parquet(tmp, index=False)
    with atomic_path(snakemake.output.dropped) as tmp:
        result.outside.to_csv(tmp, index=False)
    with atomic_path(snakemake.output.checks) as tmp:
        result.checks.to_csv(tmp, index=False)


if __name__ == "__main__":
    main(snakemake)
