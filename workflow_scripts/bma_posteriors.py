"""Rule bma_posteriors: emcee posteriors of every training station of a fold.

Fold ``all`` trains on every station taking part (the product's weights); fold ``f``
leaves out the stations of fold ``f`` (their held-out series). Only training-day pairs
with every member are used, and the pooled bias fit toward which few-pair stations are
shrunk is made of the fold's training stations alone.
"""

import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.bma import SamplerSettings
from smdownscale.bma_stations import (
    fold_training_pairs,
    posterior_table,
    read_station_table,
)
from smdownscale.progress import Progress
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    b = cfg["bma"]
    members = cfg["members"]["use"]
    fold = snakemake.wildcards.fold
    train, pairs = fold_training_pairs(
        pd.read_parquet(snakemake.input.pairs), read_station_table(snakemake.input.folds), fold
    )
    settings = SamplerSettings.from_config(b)
    log.info("fold %s: %d training stations, %d pairs", fold, len(train), len(pairs))
    progress = Progress(f"fold {fold}: MCMC", len(train), log.info, unit="stations")
    table = posterior_table(
        pairs,
        members,
        train,
        settings,
        b["shrinkage_pairs"],
        b["seed"],
        log=log,
        progress=progress,
    )
    if not table.empty:
        flagged = table[~table.converged]
        log.info(
            "fold %s: %d of %d chains pass the diagnostics; %d flagged and left out of the kriging",
            fold,
            len(table) - len(flagged),
            len(table),
            len(flagged),
        )
    else:
        log.warning("fold %s: no station takes part (see bma.min_pairs)", fold)
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)


if __name__ == "__main__":
    main(snakemake)
