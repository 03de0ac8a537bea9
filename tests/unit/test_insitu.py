"""In-situ-trained ensembles: folds over sites, the coarse feature, cross-validation."""

import numpy as np
import pandas as pd
import pytest

from smdownscale.insitu import (
    COARSE_FEATURE,
    NO_TEXTURE,
    coarse_feature,
    cross_validate,
    ensemble_mean_spread,
    feature_names,
    read_textures,
    texture_folds,
)
from smdownscale.members import fit_member
from smdownscale.residual import fill_from_neighbours, spread


def sites(n, texture=None, network="N"):
    out = pd.DataFrame({"network": network, "station": [f"s{i:02d}" for i in range(n)]})
    if texture is not None:
        out["texture"] = texture
    return out


def test_a_large_class_holds_out_each_site_once_in_groups_of_equal_count():
    folds = texture_folds(sites(25), n_folds=10, min_class_sites=10, seed=1)
    assert (folds.groupby("station").size() == 1).all() and len(folds) == 25
    sizes = folds.groupby("fold").size()
    assert sizes.index.tolist() == list(range(10)) and set(sizes) == {2, 3}
    assert set(folds.texture) == {NO_TEXTURE}
    again = texture_folds(sites(25), n_folds=10, min_class_sites=10, seed=1)
    assert again.equals(folds)  # seeded
    assert not texture_folds(sites(25), 10, 10, seed=2).equals(folds)


def test_each_class_validates_in_every_fold_and_a_small_class_half_its_sites():
    big = sites(20, "loam")
    small = sites(6, "clay", network="M")
    folds = texture_folds(pd.concat([big, small]), n_folds=10, min_class_sites=10, seed=0)
    loam, clay = folds[folds.texture == "loam"], folds[folds.texture == "clay"]
    assert (loam.groupby("fold").size() == 2).all()  # 20 sites, 10 folds
    assert (clay.groupby("fold").size() == 3).all()  # half of 6 in every fold
    assert (clay.groupby("station").size() == 5).all()  # alternating: every site held out
    assert folds.fold.nunique() == 10


def test_texture_table_needs_its_columns_and_fills_missing_sites():
    s = sites(3)
    table = pd.DataFrame({"network": ["N"], "station": ["s01"], "texture": ["sand"]})
    assert read_textures(table, s).texture.tolist() == [NO_TEXTURE, "sand", NO_TEXTURE]
    with pytest.raises(ValueError, match=r"lacks \['texture'\]"):
        read_textures(table.drop(columns="texture"), s)


def test_coarse_feature_interpolates_like_the_residual_spread_and_fills_gaps():
    rng = np.random.default_rng(0)
    c = rng.uniform(0.1, 0.3, (2, 3, 4))
    grid = coarse_feature(c, 5, slice(0, 15), 20)
    assert np.allclose(grid, spread(c, 5, slice(0, 15), 20))
    r, k = np.array([0, 7, 14]), np.array([3, 10, 19])
    assert np.allclose(coarse_feature(c, 5, r, k), grid[:, r, k])
    gap = c.copy()
    gap[0, 1, 1] = np.nan
    filled = fill_from_neighbours(gap)
    near = np.delete(c[0, :3, :3].ravel(), 4)
    assert filled[0, 1, 1] == pytest.approx(near.mean())
    alone = np.full((3, 3), np.nan)
    alone[0, 0] = 0.2
    assert np.isnan(fill_from_neighbours(alone)[2, 2])  # no neighbour with a value
    assert np.isnan(coarse_feature(alone, 5, slice(0, 15), 15)[-1, -1])


def test_mean_and_spread_of_members():
    mean, sd = ensemble_mean_spread(np.array([[0.1, 0.2, np.nan], [0.3, 0.2, 0.1]]))
    assert np.allclose(mean[:2], [0.2, 0.2]) and np.allclose(sd[:2], [0.1, 0.0])
    assert np.isnan(mean[2]) and np.isnan(sd[2])


def station_days(n_sites=12, n_days=40, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_sites):
        for d in range(n_days):
            x1, coarse = rng.normal(), rng.uniform(0.1, 0.3)
            rows.append({"network": "N", "station": f"s{i:02d}", "site_id": float(i),
                         "time": pd.Timestamp("2010-04-01") + pd.Timedelta(days=d),
                         "split": "train" if d < 30 else "eval", "x1": x1,
                         COARSE_FEATURE: coarse, "y": coarse + 0.02 * x1})  # fmt: skip
    return pd.DataFrame(rows)


def test_cross_validation_never_trains_on_the_sites_it_scores_and_covers_every_station():
    samples = station_days()
    folds = texture_folds(samples[["network", "station"]].drop_duplicates(), 4, 10, seed=0)
    seen = []

    class Recorder:
        def __init__(self, X):
            seen.append(set(X[:, 0]))  # site ids the model was fitted on

        def predict(self, X):
            return np.where(np.isin(X[:, 0], list(seen[-1])), np.nan, X[:, 2])

    held, scores = cross_validate(samples, folds, ["site_id", "x1", COARSE_FEATURE], ["a"],
                                  lambda m, X, y: Recorder(X))  # fmt: skip
    assert np.isfinite(held["insitu"]).all()  # no held-out site was a training site
    assert len(held) == len(samples) and held.station.nunique() == 12
    assert all(len(s) == 9 for s in seen)  # 12 sites, 4 folds: 3 held out each time


def test_cross_validation_recovers_a_known_linear_relation():
    samples = station_days()
    folds = texture_folds(samples[["network", "station"]].drop_duplicates(), 4, 10, seed=0)
    features = ["x1", COARSE_FEATURE]
    held, scores = cross_validate(samples, folds, features, ["mlr"],
                                  lambda m, X, y: fit_member(m, X, y, {}, 0))  # fmt: skip
    merged = samples.merge(held, on=["network", "station", "time"])
    err = (merged["insitu"] - merged["y"]).abs()  # MLR clamps features to the training range
    assert err.median() < 1e-5 and err.max() < 0.005
    ens = scores[scores.member == "ensemble"]
    assert len(ens) == 4 and (ens.r > 0.999).all() and (ens.ubrmse < 1e-3).all()
    assert feature_names(["lst", "ndvi"]) == ["lst", "ndvi", COARSE_FEATURE]
