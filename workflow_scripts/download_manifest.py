"""Rule download_manifest: one table of every raw file of the run (URL, size, checksums,
time), from the records the download jobs wrote."""

from smdownscale.atomic import write_text_atomic
from smdownscale.download.groups import present_paths
from smdownscale.download.jobs import relpath_in
from smdownscale.download.manifest import manifest_table
from smdownscale.download.plan import raw_dir
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    raw = raw_dir(snakemake.config)
    # a download group's marker stands for the files it lists as present
    rels = [relpath_in(raw, p) for p in present_paths(snakemake.input, raw)]
    table = manifest_table(raw, rels)
    write_text_atomic(snakemake.output[0], table)
    unrecorded = table.count("\tunrecorded\t")
    log.info("manifest of %d raw files (%d without a record: placed by hand)", len(rels),
             unrecorded)  # fmt: skip


if __name__ == "__main__":
    main(snakemake)
