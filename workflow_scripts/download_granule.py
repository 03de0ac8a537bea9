"""Rules download_<product>: fetch one raw file into the raw layout, verified and recorded.

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
    ensure_file(relpath_in(raw, snakemake.output[0]), cfg, raw, catalogue=catalogue, logger=log)


if __name__ == "__main__":
    main(snakemake)
