"""Rule bma_station_folds: who takes part in the BMA, and the spatially grouped folds.

A station takes part when it has at least ``bma.min_pairs`` complete training-day pairs.
Every station with a complete pair gets a fold (1..k), so every station, taking part or
not, has a held-out BMA series computed from weights that never saw it.
"""

import numpy as np
import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.bma_stations import KEY, assign_folds
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    b = snakemake.config["bma"]
    pairs = pd.read_parquet(snakemake.input.pairs)
    ok = pairs[pairs.complete]
    table = (
        ok.groupby(KEY, sort=True)
        .agg(
            lat=("lat", "first"),
            lon=("lon", "first"),
            region=("region", "first"),
            n_train_pairs=("split", lambda s: int((s == "train").sum())),
            n_eval_pairs=("split", lambda s: int((s == "eval").sum())),
        )
        .reset_index()
    )
    if table.empty:
        raise ValueError(
            f"no station has a day with every member's prediction ({snakemake.input.pairs}): "
            "check the stations' dates against the run's and the member predictions' gaps"
        )
    table["takes_part"] = table.n_train_pairs >= b["min_pairs"]
    table["fold"] = assign_folds(table.lat.to_numpy(), table.lon.to_numpy(), b["folds"], b["seed"])
    for row in table[~table.takes_part].itertuples():
        log.info(
            "station %s/%s: %d training pairs < bma.min_pairs = %d: validated, does not train",
            row.network,
            row.station,
            row.n_train_pairs,
            b["min_pairs"],
        )
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
