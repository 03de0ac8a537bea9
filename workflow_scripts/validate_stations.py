"""Rule validate_stations: the station scores on the evaluation days (Table 4 and per station).

Every product is scored against the in-situ daily values on the same station-days (those
with every product): the coarse product at the station's coarse cell, each member, the
member mean, the best member per period, BMA in-sample and BMA held-out. Only evaluation
days are used (``bma.eval_start/eval_end``, disjoint from the training days), so nothing
that trained the weights is scored.
"""

import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.rule_io import setup_logging
from smdownscale.validation import (
    ALL_NETWORKS,
    evaluation_pairs,
    per_station_table,
    station_products,
    station_table,
)


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    members = snakemake.config["members"]["use"]
    series = pd.read_parquet(snakemake.input.series)
    products = station_products(members)
    pairs = evaluation_pairs(series, list(products))
    n_eval = int((series.split == "eval").sum())
    if pairs.empty:
        raise ValueError(
            f"no evaluation station-day has every product ({n_eval} evaluation days in "
            f"{snakemake.input.series}): the validation needs evaluation days with station "
            "data; set bma.train_end before the run's end, or bma.eval_start/eval_end"
        )
    log.info(
        "%d of %d evaluation station-days have every product (%d stations); training days "
        "(%d) are never scored",
        len(pairs),
        n_eval,
        pairs.station.nunique(),
        int((series.split == "train").sum()),
    )
    table = station_table(series, products)
    for row in table[(table.network == ALL_NETWORKS) & (table.subset == "All")].itertuples():
        log.info("%-26s n %5d  R %.3f  RMSE %.4f  bias %+.4f", row.product, row.n, row.r,
                 row.rmse, row.bias)  # fmt: skip
    with atomic_path(snakemake.output.table) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(snakemake.output.stations) as tmp:
        per_station_table(series, products).to_csv(tmp, index=False, float_format="%.6g")


if __name__ == "__main__":
    main(snakemake)
