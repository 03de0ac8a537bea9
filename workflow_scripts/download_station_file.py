"""Rules station_file_<n>: a user-supplied station archive is missing; say how to get it.

ISMN archives need a login and a manual download; the paper's Chinese networks are not
public. These rules run only when a configured file is not there, and always fail with
the instructions (nothing is downloaded).
"""

from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    setup_logging(snakemake)
    raise FileNotFoundError(snakemake.params.explanation)


if __name__ == "__main__":
    main(snakemake)
