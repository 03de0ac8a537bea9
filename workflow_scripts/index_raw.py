"""Rule index_raw: the table of the raw files a period (or the static SRTM tiles) reads."""

from collections import Counter

from smdownscale.download.groups import present_paths
from smdownscale.download.plan import raw_dir
from smdownscale.fingerprints import recorded_sha256
from smdownscale.providerlayout import TITLES
from smdownscale.rawindex import index_rows, part_relpaths, write_index
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    part = snakemake.wildcards.part
    raw = raw_dir(snakemake.config)
    # a download group's marker stands for the files it lists as present, which may be
    # granules of other periods too (a shared composite): only the part's are indexed
    wanted = part_relpaths(snakemake.config, part)
    paths = {
        key: present_paths(snakemake.input[key], raw, wanted) for key in snakemake.input.keys()
    }
    # hashes of files unchanged since the parse's fingerprint check are taken from it
    rows = index_rows(paths, recorded_sha256(snakemake.params.fingerprints))
    write_index(snakemake.output[0], rows)
    counts = Counter(r.product for r in rows)
    log.info(
        "%s: %d of %d granule(s) indexed (%s), %.1f MB",
        part,
        len(rows),
        snakemake.params.needed,
        ", ".join(f"{TITLES[k]} {n}" for k, n in counts.items()),
        sum(r.size for r in rows) / 1e6,
    )
    if len(rows) < snakemake.params.needed:
        log.info(
            "%d granule(s) absent at the provider (its catalogue does not list them): "
            "the reading rules treat them as missing data",
            snakemake.params.needed - len(rows),
        )


if __name__ == "__main__":
    main(snakemake)
