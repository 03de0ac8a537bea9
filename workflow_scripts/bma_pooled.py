"""Rule bma_pooled: a fold's pooled BMA per region and the choices its stations support.

For fold ``all`` (the product) or ``f`` (the held-out series of fold f's stations), with the
fold's training stations only and their training-day pairs: station-held-out
cross-validation over their spatial folds chooses the shrinkage of the bias terms toward
identity, kriged station parameters or the pooled fit, and BMA or the member mean
(smdownscale.bma_pooled); then the pooled BMA of every region (emcee) is fitted with the
chosen shrinkage. Writes the pooled fits (CSV) and the choices with their evidence (JSON).
"""

import json

import pandas as pd

from smdownscale.atomic import atomic_path, write_text_atomic
from smdownscale.bma import SamplerSettings
from smdownscale.bma_pooled import PooledSettings, cross_validate, fit_pooled, json_safe
from smdownscale.bma_stations import (
    KEY,
    fold_training_pairs,
    kriged_candidate,
    parameter_kriging,
    read_station_table,
)
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
    if pairs.empty:
        raise ValueError(
            f"fold {fold}: no station outside this fold takes part in the BMA, so nothing "
            "can be fitted for its stations; lower bma.folds, or let more stations take part "
            "(bma.min_pairs, bma.min_pairs_floor)"
        )
    settings = PooledSettings.from_config(b)
    posteriors = read_station_table(snakemake.input.posteriors)
    usable = posteriors[posteriors.converged.astype(bool)]
    full = parameter_kriging(usable, members, b["kriging"])
    log.info(
        "fold %s: %d training stations (%d with a converged chain), %d pairs; variogram of "
        "the station parameters: %s",
        fold,
        len(train),
        len(usable),
        len(pairs),
        json.dumps(full.fit.attrs(), default=str),
    )
    kriged_at, why = None, "no usable variogram"
    if full.kriged:
        kriged_at = kriged_candidate(posteriors, members, b["kriging"])
    else:
        why = f"no usable variogram on the {len(usable)} converged stations"
        log.info("fold %s: no usable variogram: %s", fold, full.reason)
    sel = cross_validate(
        pairs,
        members,
        settings,
        kriged_at=kriged_at,
        stations=train[[*KEY, "lon", "lat", "region"]],
        no_kriging_reason=why,
    )
    for line in sel.reasons:
        log.info("fold %s: %s", fold, line)
    for row in sel.scores.itertuples():
        log.info(
            "fold %s: held-out %-14s n %5d  RMSE %.4f  bias %+.4f  R %.3f",
            fold,
            row.candidate,
            row.n,
            row.rmse,
            row.bias,
            row.r,
        )
    table = fit_pooled(
        pairs,
        members,
        sel.shrinkage,
        settings,
        SamplerSettings.from_config(b),
        b["seed"],
        log=log,
    )
    with atomic_path(snakemake.output.pooled) as tmp:
        table.to_csv(tmp, index=False)
    out = json_safe({"fold": fold, **sel.to_dict(), "variogram": full.fit.attrs()})
    write_text_atomic(snakemake.output.selection, json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main(snakemake)
