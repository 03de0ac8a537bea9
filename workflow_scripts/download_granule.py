"""Rules download_<product>: fetch raw files into the raw layout, verified and recorded.

One file per job, but for GLDAS Noah, whose job fetches the eight 3-hourly files of a day.

A file already in place is verified without any network (and kept); in offline mode a
missing file is an error naming it. See smdownscale.download.jobs.ensure_file.
"""

from smdownscale.download.jobs import ensure_file, relpath_in
from smdownscale.download.plan import raw_dir
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    raw = raw_dir(cfg)
    catalogue = snakemake.input.get("catalogue")
    for path in snakemake.output:
        ensure_file(relpath_in(raw, path), cfg, raw, catalogue=catalogue, logger=log)


if __name__ == "__main__":
    main(snakemake)
