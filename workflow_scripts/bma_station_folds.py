"""Rule bma_station_folds: who takes part in the BMA, and the spatially grouped folds.

Pairs are counted on each station's observed days. A station takes part when it has at
least ``max(bma.min_pairs_floor, ceil(bma.min_pairs / interval))`` complete training-day
pairs, ``interval`` being its network's sampling interval in days (1 for daily networks,
5 or 10 for sparse ones), so sparse networks take part with the days they observe
(smdownscale.bma_stations.station_table). When no station takes part the rule stops and
says, per network, how many pairs there are against how many are needed, and what to
change. Every station with a complete pair gets a fold (1..k), so every station, taking
part or not, has a held-out BMA series computed from weights that never saw it.
"""

import numpy as np
import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.bma_stations import assign_folds, station_table
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    b = snakemake.config["bma"]
    pairs = pd.read_parquet(snakemake.input.pairs)
    table = station_table(pairs, b["min_pairs"], b["min_pairs_floor"])
    for network, grp in table.groupby("network", sort=True):
        log.info(
            "network %s: sampled every %g days, needs %d training pairs; %d of %d stations "
            "take part (training pairs %d-%d)",
            network,
            grp.interval_days.iloc[0],
            grp.min_pairs_required.iloc[0],
            int(grp.takes_part.sum()),
            len(grp),
            int(grp.n_train_pairs.min()),
            int(grp.n_train_pairs.max()),
        )
    table["fold"] = assign_folds(table.lat.to_numpy(), table.lon.to_numpy(), b["folds"], b["seed"])
    for row in table[~table.takes_part].itertuples():
        log.info("station %s/%s: %s: validated, does not train", row.network, row.station,
                 row.reason)  # fmt: skip
    log.info(
        "%d stations with pairs, %d take part in the BMA; stations per fold: %s",
        len(table),
        int(table.takes_part.sum()),
        np.bincount(table.fold, minlength=b["folds"] + 1)[1:].tolist(),
    )
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)


if __name__ == "__main__":
    main(snakemake)
