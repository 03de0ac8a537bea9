"""Rule download_era5_land: one month of ERA5-Land daily statistics over the region (CDS)."""

from smdownscale.download.jobs import ensure_era5_land, relpath_in
from smdownscale.download.plan import raw_dir
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    raw = raw_dir(cfg)
    ensure_era5_land(relpath_in(raw, snakemake.output[0]), cfg, raw, logger=log)


if __name__ == "__main__":
    main(snakemake)
