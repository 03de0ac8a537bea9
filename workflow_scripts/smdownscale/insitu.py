"""In-situ-trained ensembles: members fitted on station observations (issue 17, item 3).

The US system of paper 003 (METHOD.md section 11) trains its members on the stations
themselves rather than on coarse cells: each sample is one station-day, its target the
station's daily soil moisture, its features the 1 km predictors at the station's fine cell
plus the coarse product at the station. The members' mean is the product and their spread
(standard deviation across members) its uncertainty.

The coarse product enters as it would on the grid, so that what the models learn at
stations is what they meet at every fine cell: the coarse values interpolated bilinearly
between coarse-cell centres (:func:`coarse_feature`; no block edges in the product), a coarse
cell without a value on a day taking the mean of its neighbours that have one; where none
has one the cell-day lacks the feature and is predicted by the members fitted without it
(the coarse product is one more optional predictor of the subsets).

Cross-validation as in the paper (:func:`texture_folds`): sites grouped by soil texture
class; a class with at least ``min_class_sites`` sites is split into ``n_folds`` groups of
near-equal count, one group of each class validating per fold; a smaller class puts half of
its sites into validation of every fold (the paper samples that half at random per fold;
here the two halves alternate, so that every site is held out and the held-out series cover
every station). Without a texture table every site is one class. A site's held-out value is
the mean over the folds that held it out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from . import metrics
from .blocks import Blocks
from .residual import fill_from_neighbours, spread, spread_at

#: The feature name of the coarse product at the fine cell.
COARSE_FEATURE = "coarse_sm"
#: The texture class of a site without one (and of every site without a texture table).
NO_TEXTURE = "undefined"


def feature_names(predictors: Sequence[str]) -> list[str]:
    """The in-situ members' features: the configured predictors, then the coarse product."""
    return [*predictors, COARSE_FEATURE]


def coarse_feature(
    coarse: np.ndarray,
    factor: int | Blocks,
    rows: slice | np.ndarray,
    cols: np.ndarray | int,
) -> np.ndarray:
    """The coarse product as a fine-cell feature (module docstring): (..., len(rows), ncols)
    for a slice of fine rows and ``cols`` = the number of fine columns, or (..., n) at fine
    cells ``(rows[i], cols[i])``; NaN where an interpolation neighbour has no value."""
    filled = fill_from_neighbours(coarse)
    if isinstance(rows, slice):
        return spread(filled, factor, rows, int(cols))
    return spread_at(filled, factor, np.asarray(rows), np.asarray(cols))


def texture_folds(
    sites: pd.DataFrame, n_folds: int = 10, min_class_sites: int = 10, seed: int = 0
) -> pd.DataFrame:
    """Validation membership of each site per fold: (network, station, texture, fold), one
    row per fold that holds the site out (module docstring). ``sites`` has ``network``,
    ``station`` and optionally ``texture`` (missing: :data:`NO_TEXTURE`). Seeded."""
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    s = sites[["network", "station"]].drop_duplicates().copy()
    if "texture" in sites:
        tex = sites.drop_duplicates(["network", "station"]).set_index(["network", "station"])
        s["texture"] = tex.loc[list(zip(s.network, s.station, strict=True)), "texture"].to_numpy()
    else:
        s["texture"] = NO_TEXTURE
    s["texture"] = s["texture"].fillna(NO_TEXTURE).astype(str)
    if len(s) < 2:
        raise ValueError(f"cross-validation over sites needs at least 2 sites, got {len(s)}")
    rng = np.random.default_rng(seed)
    rows = []
    for texture, grp in s.sort_values(["texture", "network", "station"]).groupby("texture"):
        order = grp.iloc[rng.permutation(len(grp))]
        keys = list(zip(order.network, order.station, strict=True))
        if len(keys) >= min_class_sites:
            for i, (net, sta) in enumerate(keys):
                rows.append((net, sta, texture, i * n_folds // len(keys)))
        else:  # half the class validates in every fold, the halves alternating
            for fold in range(n_folds):
                for i, (net, sta) in enumerate(keys):
                    if (i + fold) % 2 == 0 or len(keys) == 1:
                        rows.append((net, sta, texture, fold))
    return pd.DataFrame(rows, columns=["network", "station", "texture", "fold"])


def ensemble_mean_spread(preds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Members' mean and spread (standard deviation across members, ddof 0) of (m, ...)
    predictions; NaN wherever a member has none (the product is the whole ensemble's)."""
    p = np.asarray(preds, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        mean = p.mean(axis=0)
        sd = p.std(axis=0)
    return mean.astype(np.float32), sd.astype(np.float32)


Fit = Callable[[str, np.ndarray, np.ndarray], object]


def cross_validate(
    samples: pd.DataFrame,
    folds: pd.DataFrame,
    features: Sequence[str],
    members: Sequence[str],
    fit: Fit,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Held-out predictions at every station and each fold's scores.

    ``samples``: one row per station-day (``network``, ``station``, ``time``, ``split``,
    ``y``, the ``features``); models are fitted on the training days (``split == "train"``)
    of the sites a fold does not hold out, by ``fit(member, X, y)`` returning an object with
    ``predict(X)`` (NaN rows allowed), and predict every day of the held-out sites. Returns
    (per station-day ``f_<member>`` and ``insitu`` = the members' mean, averaged over the
    folds that held the site out; per fold, member and ensemble: n, R and ubRMSE on the
    held-out sites' evaluation days)."""
    key = ["network", "station"]
    X_all = samples[list(features)].to_numpy(dtype=np.float64)
    y_all = samples["y"].to_numpy(dtype=np.float64)
    site = pd.MultiIndex.from_frame(samples[key])
    cols = [f"f_{m}" for m in members]
    pieces, scores = [], []
    for fold, held in folds.groupby("fold"):
        out_sites = pd.MultiIndex.from_frame(held[key])
        is_out = site.isin(out_sites)
        train = ~is_out & (samples["split"] == "train").to_numpy() & np.isfinite(y_all)
        if not train.any() or not is_out.any():
            continue
        preds = np.stack(
            [np.asarray(fit(m, X_all[train], y_all[train]).predict(X_all[is_out])) for m in members]
        )
        mean, _ = ensemble_mean_spread(preds)
        part = samples.loc[is_out, [*key, "time"]].copy()
        for c, p in zip(cols, preds, strict=True):
            part[c] = p
        part["insitu"] = mean
        pieces.append(part)
        ev = (samples.loc[is_out, "split"] == "eval").to_numpy()
        for name, values in [*zip(members, preds, strict=True), ("ensemble", mean)]:
            sc = metrics.score(values[ev], y_all[is_out][ev])
            scores.append({"fold": fold, "member": name, "n": sc.n, "r": sc.r, "ubrmse": sc.ubrmse})
    if not pieces:
        raise ValueError("no fold had both training sites and held-out sites with data")
    held = pd.concat(pieces).groupby([*key, "time"], as_index=False)[[*cols, "insitu"]].mean()
    return held, pd.DataFrame(scores)


def read_textures(table: pd.DataFrame, sites: pd.DataFrame) -> pd.DataFrame:
    """``sites`` with a ``texture`` column from a table (network, station, texture); sites
    the table lacks get :data:`NO_TEXTURE`; a table without those columns is an error."""
    missing = {"network", "station", "texture"} - set(table.columns)
    if missing:
        raise ValueError(
            f"the soil texture table needs the columns network, station, texture; it lacks "
            f"{sorted(missing)}"
        )
    out = sites.merge(table[["network", "station", "texture"]], on=["network", "station"],
                      how="left")  # fmt: skip
    out["texture"] = out["texture"].fillna(NO_TEXTURE).astype(str)
    return out
