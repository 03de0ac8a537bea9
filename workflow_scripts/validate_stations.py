"""Rule validate_stations: the station scores on the evaluation days (Table 4 and per station).

Every product is scored against the in-situ daily values on the same station-days (those
with every product): the coarse product at the station's coarse cell, each member, the
member mean, the best member per period, BMA in-sample, BMA held-out and the product held-out
(BMA or the member mean, as each fold's cross-validation chose), and with insitu.enabled
the in-situ-trained ensemble held out by its own cross-validation over sites. Only
evaluation days are used (``bma.eval_start/eval_end``, disjoint from the training days), so
nothing that trained the weights is scored. The caption text saying how the held-out values
were made (kriged or pooled, who took part) is written beside the table for the report.
"""

import json

import pandas as pd

from smdownscale.atomic import atomic_path, write_text_atomic
from smdownscale.bma_report import heldout_sentence, participation_sentence
from smdownscale.bootstrap import BootstrapSettings
from smdownscale.rule_io import setup_logging
from smdownscale.validation import (
    ALL_NETWORKS,
    INSITU_PRODUCT,
    evaluation_pairs,
    per_station_table,
    station_products,
    station_table,
    time_table,
)


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    members = snakemake.config["members"]["use"]
    series = pd.read_parquet(snakemake.input.series)
    products = station_products(members)
    if "insitu" in snakemake.input.keys():
        held = pd.read_parquet(snakemake.input.insitu)[["network", "station", "time", "insitu"]]
        series = series.merge(held, on=["network", "station", "time"], how="left")
        products.update(INSITU_PRODUCT)
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
    ev = snakemake.config["evaluation"]
    boot = BootstrapSettings(
        draws=ev["bootstrap_draws"], seed=ev["bootstrap_seed"], level=ev["bootstrap_level"]
    )
    table = station_table(series, products, boot)
    for row in table[(table.network == ALL_NETWORKS) & (table.subset == "All")].itertuples():
        log.info("%-26s n %5d  R %.3f  RMSE %.4f  bias %+.4f", row.product, row.n, row.r,
                 row.rmse, row.bias)  # fmt: skip
    with atomic_path(snakemake.output.table) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    by_time = time_table(series, products, boot)
    with atomic_path(snakemake.output.by_time) as tmp:
        by_time.to_csv(tmp, index=False, float_format="%.6g")
    log.info("scores per month and season: %s", ", ".join(by_time["when"].unique()))
    with atomic_path(snakemake.output.stations) as tmp:
        per_station_table(series, products).to_csv(tmp, index=False, float_format="%.6g")
    with open(snakemake.input.selection) as fh:
        selection = json.load(fh)
    ens = snakemake.config["bma"]["ensemble"]
    used = selection["ensemble"] if ens == "bma" else ens
    product = {"bma": "BMA", "mean": "the member mean", "best": "the best member"}.get(used, used)
    with open(snakemake.input.subcell) as fh:
        subcell = json.load(fh)
    detail = subcell["all"]["applied"] and used == "mean"
    folds_on = sum(f["applied"] for f in subcell["folds"].values())
    caption = (
        f"**What ran.** {heldout_sentence(pd.read_csv(snakemake.input.paths))} The gridded "
        f"product's sm is {product}"
        + (" (BMA did not beat the member mean under station-held-out CV)" if used != ens
           else "")
        + (" plus the sub-cell detail calibrated at the stations" if detail else "")
        + f"; the sub-cell detail correction {'is' if detail else 'is not'} applied "
        f"({subcell['all']['reason']}; held out: used in {folds_on} of "
        f"{len(subcell['folds'])} folds, bma/subcell_fit.csv)."
        + f" **Stations training the BMA.** "
        f"{participation_sentence(pd.read_csv(snakemake.input.participation))}"
    )  # fmt: skip
    write_text_atomic(snakemake.output.caption, caption + "\n")
    log.info("caption: %s", caption)


if __name__ == "__main__":
    main(snakemake)
