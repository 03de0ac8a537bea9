"""Rule insitu_fit: the in-situ-trained members, their cross-validation and held-out series.

Each member is fitted on the stations' training days (``split == "train"``: the BMA
weight-training window, so the evaluation days stay unseen) with the predictors at the
station and the coarse product as features, on predictor subsets as the coarse-trained
members are (a day without LST is served by the model fitted without it; a day without a
coarse value near the station, by the model fitted without the coarse product). Cross-validation
over sites as paper 003 (:func:`smdownscale.insitu.texture_folds`: 10 folds grouped by site
and stratified by soil texture class) gives every station a held-out series, which Table 4
scores beside the coarse-trained products; the final models are fitted on every station
(issue 17, item 3).
"""

import pickle

import numpy as np
import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.insitu import (
    COARSE_FEATURE,
    cross_validate,
    feature_names,
    read_textures,
    texture_folds,
)
from smdownscale.members import fit_member
from smdownscale.members.subsets import fit_subsets, predictor_subsets
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    icfg, mcfg = cfg["insitu"], cfg["members"]
    members = icfg["members"] or mcfg["use"]
    features = feature_names(cfg["predictors"]["use"])
    optional = [*mcfg["optional_predictors"], COARSE_FEATURE]  # coarse gaps too
    subsets = predictor_subsets(features, optional)
    samples = pd.read_parquet(snakemake.input.samples)

    def cap(name):  # the config's SVR cap, as for the coarse-trained members
        return mcfg["svr_max_samples"] if name == "svr" else None

    def fit(name, X, y):
        member, _ = fit_subsets(
            lambda Xs, ys: fit_member(name, Xs, ys, {}, icfg["seed"], max_samples=cap(name),
                                      n_jobs=snakemake.threads),
            name, X, y, subsets, mcfg["min_samples_per_predictor"],
        )  # fmt: skip
        return member

    sites = samples[["network", "station"]].drop_duplicates()
    if "texture" in snakemake.input.keys():
        sites = read_textures(pd.read_csv(snakemake.input.texture), sites)
    folds = texture_folds(sites, icfg["folds"], icfg["min_class_sites"], icfg["seed"])
    log.info(
        "%d sites in %d texture class(es), %d folds; %d station-days (%d training)",
        len(sites), folds.texture.nunique(), folds.fold.nunique(), len(samples),
        int((samples.split == "train").sum()),
    )  # fmt: skip
    heldout, scores = cross_validate(samples, folds, features, members, fit)
    summary = scores.groupby("member").agg(
        n=("n", "sum"), r=("r", "mean"), ubrmse=("ubrmse", "mean")
    )
    for name, row in summary.iterrows():
        log.info("cross-validation %-8s R %.3f  ubRMSE %.4f (mean over folds)", name, row.r,
                 row.ubrmse)  # fmt: skip
    train = (samples.split == "train").to_numpy()
    X, y = samples[features].to_numpy(dtype=np.float64), samples["y"].to_numpy(dtype=np.float64)
    models = {m: fit(m, X[train], y[train]) for m in members}
    bundle = {"features": features, "members": members, "models": models}
    with atomic_path(snakemake.output.models) as tmp, open(tmp, "wb") as f:
        pickle.dump(bundle, f, protocol=pickle.HIGHEST_PROTOCOL)
    with atomic_path(snakemake.output.heldout) as tmp:
        heldout.to_parquet(tmp, index=False)
    with atomic_path(snakemake.output.folds) as tmp:
        folds.to_csv(tmp, index=False)
    with atomic_path(snakemake.output.scores) as tmp:
        scores.to_csv(tmp, index=False, float_format="%.6g")


if __name__ == "__main__":
    main(snakemake)
