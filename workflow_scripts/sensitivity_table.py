"""Rule sensitivity_table: every experiment's scores beside the main run's, as one table
(means over an experiment's repeats, with the lowest and highest repeat of the RMSEs; each
repeat's own scores stay in ``sensitivity/scores/<experiment>.csv``) and one figure."""

import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.rule_io import setup_logging
from smdownscale.sensitivity import figure, summarise


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    table = pd.concat([pd.read_csv(p) for p in snakemake.input], ignore_index=True)
    summary = summarise(table)
    log.info("sensitivity summary (%d experiments):\n%s", table["experiment"].nunique(),
             summary.to_string(index=False, float_format="%.4f"))  # fmt: skip
    with atomic_path(snakemake.output.table) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.5g")
    fig = figure(summary)
    with atomic_path(snakemake.output.figure) as tmp:
        fig.savefig(tmp, dpi=110, format="png")


if __name__ == "__main__":
    main(snakemake)
