"""Station side of the BMA: station-member pairs, spatial folds, per-station posteriors.

Tables (pandas DataFrames) in and out; the rule scripts read and write them.

- **Pairs** (:func:`daily_station_values`, then the rule adds member values): one row per
  station-day with the station's daily in-situ soil moisture ``y`` (mean of its surface
  sensors on that day), its fine cell, its region, and every member's prediction ``f_<m>``
  at that cell and day. 5- and 10-day networks simply have fewer days.
- **Folds** (:func:`assign_folds`): stations are grouped in space (k-means on their
  coordinates in km, ``groups_per_fold x k`` groups), and whole groups are dealt to the k
  folds, largest first, each to the fold with the fewest stations so far. Nearby stations
  therefore share a fold, so a held-out station's neighbours are usually held out with it
  and its BMA value is not inflated by a twin station next door.
- **Who takes part** (:func:`station_table`): pairs are counted on a station's observed
  days, and the pairs a station needs depend on its network's sampling interval
  (:func:`network_intervals`, :func:`min_pairs_required`):
  ``max(floor, ceil(min_pairs / interval))``, so a 10-day network needs a tenth of a daily
  one's pairs (never fewer than ``floor``). When no station qualifies, the error says per
  network how many pairs there are against how many are needed (:func:`no_station_message`).
- **Posteriors** (:func:`posterior_table`): for every station taking part, the bias terms of
  :func:`smdownscale.bma.fit_bias`, shrunk toward the pooled fit of the training stations
  of its region, then the emcee posterior of the weights and sigma. Seeds are derived from
  the run seed and the station's name (stable across runs and folds).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from . import bma
from .kriging import KrigingSettings, ParameterKriging, RegionValues, xyz_km
from .progress import Progress

KEY = ["network", "station"]


def member_columns(members: Sequence[str]) -> list[str]:
    return [f"f_{m}" for m in members]


def daily_station_values(table: pd.DataFrame) -> pd.DataFrame:
    """One row per station-day: the mean of the station's accepted sensors that day.

    ``table`` is the harmonised station table (``stations.parquet``: network, station, lat,
    lon, time, sm, fine_row, fine_col, coarse_row, coarse_col, ...); the cell columns present
    are carried along. Rejected days (``sm`` NaN) are dropped.
    """
    ok = table[np.isfinite(table["sm"])]
    keys = [*KEY, "time"]
    cells = [c for c in ("fine_row", "fine_col", "coarse_row", "coarse_col") if c in table]
    first = {c: (c, "first") for c in ("lat", "lon", *cells)}
    out = (
        ok.groupby(keys, sort=True)
        .agg(**first, y=("sm", "mean"), n_sensors=("sm", "size"))
        .reset_index()
    )
    return out


def station_day_frame(
    sites: pd.DataFrame, days: Sequence[Any], values: Mapping[str, np.ndarray]
) -> pd.DataFrame:
    """One row per station-day of ``sites`` (rows: network, station) and ``days``, with
    each (days, sites) array of ``values`` as a column (days outer, sites inner)."""
    n = len(sites)
    return pd.DataFrame(
        {
            "network": np.tile(sites["network"].to_numpy(), len(days)),
            "station": np.tile(sites["station"].to_numpy(), len(days)),
            "time": np.repeat(pd.to_datetime(list(days)).to_numpy(), n),
            **{k: np.asarray(v).reshape(-1) for k, v in values.items()},
        }
    )


def split_days(time: pd.Series, train: tuple, evaluation: tuple) -> np.ndarray:
    """``"train"`` inside the weight-training window, ``"eval"`` inside the evaluation
    window (first and last day of each), ``"other"`` elsewhere (e.g. tuning years), which
    neither trains nor is scored."""
    t = pd.to_datetime(time)

    def within(window: tuple) -> np.ndarray:
        return ((t >= pd.Timestamp(window[0])) & (t <= pd.Timestamp(window[1]))).to_numpy()

    return np.where(within(train), "train", np.where(within(evaluation), "eval", "other"))


def station_seed(seed: int, network: str, station: str) -> int:
    """A per-station seed, stable across runs, folds and machines."""
    return (int(seed) * 1_000_003 + zlib.crc32(f"{network}/{station}".encode())) % (2**32)


def network_intervals(pairs: pd.DataFrame) -> dict[str, float]:
    """Sampling interval (days) of each network: the median over its stations of the median
    gap between a station's observed days (at least 1). ``pairs``: network, station, time."""
    t = pd.to_datetime(pairs["time"]).dt.normalize()
    days = pairs.assign(_day=t)[[*KEY, "_day"]].drop_duplicates().sort_values([*KEY, "_day"])
    gaps = days.groupby(KEY, sort=False)["_day"].diff().dt.days
    per_station = gaps.groupby([days["network"], days["station"]]).median()
    per_network = per_station.groupby(level=0).median()
    out = {}
    for network in pairs["network"].unique():
        v = per_network.get(network, np.nan)
        out[str(network)] = float(max(1.0, v)) if np.isfinite(v) else 1.0
    return out


def min_pairs_required(interval_days: float, min_pairs: int, floor: int) -> int:
    """Training pairs a station of a network sampled every ``interval_days`` needs:
    ``max(floor, ceil(min_pairs / interval_days))`` (``min_pairs``: a daily network's)."""
    if interval_days <= 0 or min_pairs < 1 or floor < 1:
        raise bma.BMAError(
            f"need interval_days > 0, min_pairs >= 1, floor >= 1; got {interval_days}, "
            f"{min_pairs}, {floor}"
        )
    return int(max(floor, math.ceil(min_pairs / interval_days - 1e-9)))


def no_station_message(table: pd.DataFrame, min_pairs: int, floor: int) -> str:
    """Why no station takes part: per network the pair counts against its threshold, and
    what to change. ``table``: the folds table (network, n_train_pairs, interval_days,
    min_pairs_required)."""
    lines = []
    for network, grp in table.groupby("network", sort=True):
        n = grp["n_train_pairs"]
        lines.append(
            f"  {network}: {len(grp)} stations sampled every {grp['interval_days'].iloc[0]:g} "
            f"days, training pairs {int(n.min())}-{int(n.max())} (median {n.median():g}) < "
            f"{int(grp['min_pairs_required'].iloc[0])} required"
        )
    return (
        "no station has enough training-day pairs to take part in the BMA (pairs with every "
        "member's prediction on the station's observed days within bma.train_start..train_end):\n"
        + "\n".join(lines)
        + f"\nthe requirement is max(bma.min_pairs_floor = {floor}, ceil(bma.min_pairs = "
        f"{min_pairs} / sampling interval)); lower bma.min_pairs or bma.min_pairs_floor, or "
        "move bma.train_end later so that more days train the weights"
    )


def station_table(pairs: pd.DataFrame, min_pairs: int, floor: int) -> pd.DataFrame:
    """Who takes part: one row per station with a complete pair (every member finite).

    ``pairs``: the station-member pairs (network, station, lat, lon, region, time, split,
    complete). Columns: network, station, lat, lon, region, n_train_pairs, n_eval_pairs
    (complete pairs on the station's observed days), interval_days (its network's),
    min_pairs_required (:func:`min_pairs_required`), takes_part, reason (why not; empty
    when it takes part). Raises :class:`smdownscale.bma.BMAError` with the per-network
    counts and what to change when no station takes part (:func:`no_station_message`).
    """
    intervals = network_intervals(pairs)
    ok = pairs[pairs["complete"].astype(bool)]
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
        raise bma.BMAError(
            "no station has a day with every member's prediction: check the stations' dates "
            "against the run's and the member predictions' gaps"
        )
    table["interval_days"] = table["network"].map(intervals).astype(float)
    table["min_pairs_required"] = [
        min_pairs_required(i, min_pairs, floor) for i in table["interval_days"]
    ]
    table["takes_part"] = table["n_train_pairs"] >= table["min_pairs_required"]
    table["reason"] = [
        "" if ok else f"too few training pairs ({n} < {need})"
        for ok, n, need in zip(
            table["takes_part"], table["n_train_pairs"], table["min_pairs_required"], strict=True
        )
    ]
    if not table["takes_part"].any():
        raise bma.BMAError(no_station_message(table, min_pairs, floor))
    return table


def assign_folds(
    lat: np.ndarray, lon: np.ndarray, k: int, seed: int, groups_per_fold: int = 3
) -> np.ndarray:
    """Fold number (1..k) of each station, spatially grouped (see the module docstring).

    Raises :class:`smdownscale.bma.BMAError` when there are fewer stations than folds.
    """
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    n = lat.size
    if k < 2:
        raise bma.BMAError(f"need at least 2 station folds, got {k}")
    if n < k:
        raise bma.BMAError(
            f"{n} stations take part in the BMA but bma.folds = {k}: lower bma.folds or "
            "bma.min_pairs, or add stations"
        )
    g = min(n, groups_per_fold * k)
    labels = KMeans(n_clusters=g, n_init=10, random_state=seed).fit_predict(xyz_km(lon, lat))
    sizes = np.bincount(labels, minlength=g)
    fold_of_group = np.empty(g, dtype=int)
    load = np.zeros(k, dtype=int)
    for grp in sorted(range(g), key=lambda j: (-sizes[j], j)):
        f = int(np.argmin(load))
        fold_of_group[grp] = f
        load[f] += sizes[grp]
    return fold_of_group[labels] + 1


def training_stations(folds: pd.DataFrame, fold: str | int) -> pd.DataFrame:
    """The stations whose posteriors fold ``fold`` fits, from the folds table (columns
    ``takes_part`` and ``fold``): every station taking part for ``"all"`` (the product's
    weights), else those taking part outside fold ``f`` (its held-out series)."""
    train = folds[folds.takes_part]
    if str(fold) != "all":
        train = train[train.fold != int(fold)]
    return train


def pooled_bias(
    pairs: pd.DataFrame, members: Sequence[str]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Least-squares bias terms of all given pairs per region, plus key -1: all regions."""
    cols = member_columns(members)
    out = {}
    for region, grp in [(-1, pairs), *pairs.groupby("region")]:
        if len(grp) >= 2:
            a, b, _ = bma.fit_bias(grp["y"].to_numpy(), grp[cols].to_numpy())
            out[int(region)] = (a, b)
    return out


def posterior_table(
    pairs: pd.DataFrame,
    members: Sequence[str],
    stations: pd.DataFrame,
    settings: bma.SamplerSettings,
    shrinkage_pairs: float,
    seed: int,
    log=None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Posterior summaries and diagnostics of every station in ``stations``.

    ``pairs``: training-day pairs (complete rows: ``y`` and every ``f_<m>`` finite) of the
    stations allowed to train (``stations``: network, station, lat, lon, region, n_pairs).
    The pooled bias fit uses exactly these pairs, so a held-out station influences nothing.
    ``progress`` (total: the stations) advances by one per station sampled.
    """
    cols = member_columns(members)
    pooled = pooled_bias(pairs, members)
    rows = []
    groups = dict(tuple(pairs.groupby(KEY, sort=False)))
    for st in stations.itertuples(index=False):
        grp = groups[(st.network, st.station)]
        y = grp["y"].to_numpy()
        F = grp[cols].to_numpy()
        a_s, b_s, se = bma.fit_bias(y, F)
        a_p, b_p = pooled.get(int(st.region), pooled[-1])
        a, b, lam = bma.shrink_bias(a_s, b_s, len(y), a_p, b_p, shrinkage_pairs)
        post = bma.sample_posterior(
            y, a + b * F, settings, station_seed(seed, st.network, st.station)
        )
        summ = post.summary()
        d = post.diagnostics
        row = {
            "network": st.network,
            "station": st.station,
            "lat": st.lat,
            "lon": st.lon,
            "region": int(st.region),
            "n_pairs": len(y),
            "shrink_lambda": lam,
        }
        for j, m in enumerate(members):
            row[f"w_{m}"] = summ["w_mean"][j]
            row[f"w_{m}_q025"] = summ["w_q025"][j]
            row[f"w_{m}_q975"] = summ["w_q975"][j]
        for name, est, s in (("a", a, se[0]), ("b", b, se[1])):
            for j, m in enumerate(members):
                half = 1.959964 * lam * s[j] if np.isfinite(s[j]) else np.inf
                row[f"{name}_{m}"] = est[j]
                row[f"{name}_{m}_q025"] = est[j] - half
                row[f"{name}_{m}_q975"] = est[j] + half
        row.update(
            sigma=summ["sigma_mean"],
            sigma_q025=summ["sigma_q025"],
            sigma_q975=summ["sigma_q975"],
            log_sigma=summ["log_sigma_mean"],
            **d.columns(),
        )
        rows.append(row)
        if log is not None:
            log.info(
                "%s/%s: %d pairs, w = %s, sigma = %.4f, acceptance %.2f, tau %.0f, ESS %.0f%s",
                st.network,
                st.station,
                len(y),
                np.round(summ["w_mean"], 3).tolist(),
                summ["sigma_mean"],
                d.acceptance,
                np.max(d.tau),
                d.ess,
                "" if d.converged else " -- FLAGGED: " + "; ".join(d.reasons),
            )
        if progress is not None:
            progress.advance()
    return pd.DataFrame(rows, columns=posterior_columns(members))


def posterior_columns(members: Sequence[str]) -> list[str]:
    """Columns of a posterior table, in order (an empty table keeps them too)."""
    cols = ["network", "station", "lat", "lon", "region", "n_pairs", "shrink_lambda"]
    for name in ("w", "a", "b"):
        for m in members:
            cols += [f"{name}_{m}", f"{name}_{m}_q025", f"{name}_{m}_q975"]
    cols += ["sigma", "sigma_q025", "sigma_q975", "log_sigma", "acceptance", "tau_max", "ess",
             "chain_tau_ratio", "converged", "diagnostics"]  # fmt: skip
    return cols


def fold_training_pairs(
    pairs: pd.DataFrame, folds: pd.DataFrame, fold: str | int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training stations of ``fold`` (:func:`training_stations`) and their complete
    training-day pairs, with each station's fold."""
    train = training_stations(folds, fold)
    pairs = pairs[pairs.complete & (pairs.split == "train")]
    return train, pairs.merge(train[[*KEY, "fold"]], on=KEY)


def read_station_table(path: str) -> pd.DataFrame:
    """A station CSV (folds, posteriors) with network and station names kept as text
    (all-digit station ids such as WMO numbers would otherwise become integers and lose
    leading zeros, and no longer match the Parquet tables)."""
    return pd.read_csv(path, dtype={"network": str, "station": str})


def parameter_columns(members: Sequence[str]) -> list[str]:
    """The station parameters kriged to the grid: weights, a, b, log sigma."""
    return [
        *(f"w_{m}" for m in members),
        *(f"a_{m}" for m in members),
        *(f"b_{m}" for m in members),
        "log_sigma",
    ]


def moments_from_parameters(
    params: dict[str, np.ndarray], f: np.ndarray, members: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """BMA mean and sd from parameter arrays (``w_<m>``, ``a_<m>``, ``b_<m>``,
    ``log_sigma``; each (...)) and member forecasts ``f`` (..., K)."""
    w = np.stack([params[f"w_{m}"] for m in members], axis=-1)
    a = np.stack([params[f"a_{m}"] for m in members], axis=-1)
    b = np.stack([params[f"b_{m}"] for m in members], axis=-1)
    return bma.bma_moments(w, a, b, np.exp(params["log_sigma"]), f)


def usable_stations(path: str) -> pd.DataFrame:
    """Stations of a posterior table whose chains passed the diagnostics."""
    table = read_station_table(path)
    return table[table.converged.astype(bool)]


def parameter_kriging(
    stations: pd.DataFrame,
    members: Sequence[str],
    kcfg: Mapping[str, Any],
    fallback: RegionValues | None = None,
    refuse: str | None = None,
) -> ParameterKriging:
    """The kriging of a posterior table's parameters (weights, a, b, log sigma); where they
    are not kriged (no usable variogram, or ``refuse``), ``fallback``'s per-region values."""
    return ParameterKriging(
        stations,
        stations.lon.to_numpy(),
        stations.lat.to_numpy(),
        KrigingSettings.from_mapping(kcfg),
        columns=parameter_columns(members),
        fallback=fallback,
        refuse=refuse,
    )


def kriged_candidate(
    posteriors: pd.DataFrame, members: Sequence[str], kcfg: Mapping[str, Any]
) -> Callable[[pd.DataFrame, pd.DataFrame], dict[str, np.ndarray] | None]:
    """The kriging candidate of the cross-validation: the converged ``posteriors`` of the
    given training stations kriged to the held-out stations (None when no variogram is
    usable on those training stations)."""
    usable = posteriors[posteriors.converged.astype(bool)]

    def at(train_keys: pd.DataFrame, held: pd.DataFrame) -> dict[str, np.ndarray] | None:
        train = usable.merge(train_keys[KEY], on=KEY)
        pk = parameter_kriging(train, members, kcfg)
        if not pk.kriged:
            return None
        fields = pk.at_points(held.lon.to_numpy(), held.lat.to_numpy())
        return {name: v[0] for name, v in fields.items()}

    return at
