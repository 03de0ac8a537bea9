"""Rules download_catalogue(_srtm): which granules a provider holds (NASA CMR), with
their URLs, sizes and checksums: per year for MOD11A1, MOD13A2 and MCD43C3, and the region's
SRTM tiles."""

from smdownscale.download.jobs import make_catalogue
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    part = snakemake.wildcards.get("year", "tiles")
    for product, path in snakemake.output.items():
        make_catalogue(product, part, snakemake.config, path, logger=log)


if __name__ == "__main__":
    main(snakemake)
