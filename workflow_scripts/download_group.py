"""Rule download_group: every raw file of one product and one period (or the static SRTM
tiles) in place and verified, fetched where missing; writes the group's marker.

See smdownscale.download.groups (why groups) and smdownscale.download.jobs.ensure_file
(what is done per file: a file in place whose record matches costs one stat).
"""

from smdownscale.download.groups import fetch_group, write_marker
from smdownscale.download.jobs import ensure_file
from smdownscale.download.plan import raw_dir
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    rels = list(snakemake.params.files)
    catalogues = dict(zip(snakemake.params.catalogue_parts, snakemake.input, strict=True))
    result = fetch_group(
        rels,
        cfg,
        raw_dir(cfg),
        catalogues,
        ensure_file,
        logger=log,
        workers=cfg["download"]["connections_per_group"],
    )
    write_marker(snakemake.output[0], result)
    log.info(
        "%s %s: %d file(s) in place and verified, %d absent at the provider (%.1f MB)",
        snakemake.wildcards.key,
        snakemake.wildcards.part,
        len(result.present),
        len(result.absent),
        sum(r.size for r in result.present) / 1e6,
    )


if __name__ == "__main__":
    main(snakemake)
