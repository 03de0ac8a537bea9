"""Pooled BMA per region and the choices held-out stations support (METHOD.md sections 7-8).

Why
    A station's bias terms ``a_k, b_k`` hold its point-scale representativeness error (a
    station in an irrigated field, on a ridge) as much as the members' bias. Spread to other
    cells without spatial support (the region mean of the station parameters, the old
    fallback), they carry one station's error to every cell of its region: measured on a
    synthetic world with irrigated patches, held-out BMA R fell from 0.53 (member mean) to
    0.11. Here every choice is made by what stations the fit never saw say instead.

The pooled fit (:func:`fit_pooled`)
    One BMA per region from all its training stations' pairs jointly (regions with fewer
    than ``min_region_stations`` training stations take the all-region fit, key -1): the
    least-squares bias terms of the pooled pairs, shrunk toward identity (``a = 0, b = 1``)
    by the fraction ``s`` (:func:`shrink_to_identity`; ``s = 1`` is weights-only BMA), then
    emcee draws of the weights and sigma with the same likelihood, priors, moves and
    diagnostics as the stations' (:func:`smdownscale.bma.sample_posterior`). A region whose
    chain fails the diagnostics keeps its posterior mode (EM) and is flagged.

The choices, by station-held-out cross-validation (:func:`cross_validate`)
    Over the training stations' spatial folds (leave-one-station-out when they span fewer
    than two folds), on training days only: for each held-out fold, every candidate is fitted
    on the other folds' stations and predicts the held-out stations' pairs; the pooled
    held-out errors decide, in this order:

    1. the shrinkage ``s`` from ``shrinkage_grid``: lowest RMSE (ties: the larger ``s``);
    2. the path: the kriged station parameters are used only when a variogram is available
       on the training stations AND kriging wins against the pooled fit;
    3. the ensemble: BMA (kriged or pooled) must win against the equal-weight member mean,
       else (``fallback_to_mean``) the product is the member mean.

    "Wins" (:func:`wins`): the more complex candidate's held-out MSE is lower, and the gain
    passes a one-sided paired t-test across the G held-out groups at ``min_gain_confidence``
    (:func:`paired_gain`: the gain and its standard error from its spread across the groups;
    the gain must exceed t(confidence, G - 1) standard errors: 2.35 with the four folds of a
    held-out fold's training stations at 0.95, 2.13 with five). With a handful of folds a
    small gain is noise, and the simpler candidate is the safer one where the gain is not
    clear; ``min_gain_confidence = 0.5`` takes any gain. Measured on the five skill worlds,
    the earlier one-standard-error rule let BMA into folds where it then lost to the member
    mean at the held-out stations' evaluation days (irrigated: held-out R 0.752 against the
    mean's 0.783); none of those gains passed the test.

    The gain must pass the test twice (:func:`gain_test`): with its standard error from
    its spread across the held-out folds, and across the stations (the network's
    independent units; one station's days share its errors, so they are one cluster), each
    with its own degrees of freedom. Four folds give an SE of 3 df that can be small by
    chance when a few stations carry the gain: on the irrigated skill world one fold's BMA
    gain had t 3.17 over folds but 0.97 over its 26 stations (the gain came from stations in
    wet patches), and that fold's BMA then lost to the member mean at its held-out stations
    (held-out R 0.778 against the mean's 0.798 over all folds).

    The candidates' weights in the cross-validation are posterior modes (EM of the same
    likelihood), not emcee draws: hundreds of fits per fold would otherwise cost minutes.
    The kriged candidate uses the station posteriors of the whole training set, whose bias
    terms were shrunk toward a pooled fit that saw the held-out fold's pairs (a small leak
    in kriging's favour, left because the choice still needs kriging to win).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import bma
from .bma_stations import (
    KEY,
    member_columns,
    parameter_columns,
    parameter_kriging,
    station_seed,
)
from .kriging import RegionValues, pooled_source

#: All-region key of the pooled fits.
ALL_REGIONS = -1

#: A kriging candidate: (training stations' keys, held-out stations with lon, lat, region)
#: -> parameter arrays (field -> (m,)) at the held-out stations, or None (no usable kriging).
KrigedAt = Callable[[pd.DataFrame, pd.DataFrame], dict[str, np.ndarray] | None]


@dataclass(frozen=True)
class PooledSettings:
    """The pooled fit and the choices (config ``bma``: ``shrinkage_grid``,
    ``pooled_min_stations``, ``fallback_to_mean``, ``min_gain_confidence``,
    ``dirichlet_alpha``)."""

    shrinkage_grid: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    min_region_stations: int = 3
    fallback_to_mean: bool = True
    min_gain_confidence: float = 0.95
    alpha: float = 1.0

    def __post_init__(self) -> None:
        grid = tuple(float(s) for s in self.shrinkage_grid)
        if not grid or any(not 0.0 <= s <= 1.0 for s in grid):
            raise bma.BMAError(f"shrinkage_grid must hold values in [0, 1], got {grid}")
        object.__setattr__(self, "shrinkage_grid", tuple(sorted(set(grid))))
        if self.min_region_stations < 1:
            raise bma.BMAError("pooled_min_stations must be >= 1")
        if not 0.5 <= self.min_gain_confidence < 1.0:
            raise bma.BMAError(
                f"min_gain_confidence must be in [0.5, 1), got {self.min_gain_confidence}"
            )

    @classmethod
    def from_config(cls, b: Mapping[str, Any]) -> PooledSettings:
        return cls(
            shrinkage_grid=tuple(b["shrinkage_grid"]),
            min_region_stations=b["pooled_min_stations"],
            fallback_to_mean=b["fallback_to_mean"],
            min_gain_confidence=b["min_gain_confidence"],
            alpha=b["dirichlet_alpha"],
        )


def shrink_to_identity(a: np.ndarray, b: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
    """Bias terms moved the fraction ``s`` of the way to identity: ``a (1 - s)``,
    ``b (1 - s) + s`` (``s = 0``: unchanged; ``s = 1``: ``a = 0, b = 1``)."""
    return (1.0 - s) * np.asarray(a), (1.0 - s) * np.asarray(b) + s


def region_groups(pairs: pd.DataFrame, min_stations: int) -> dict[int, pd.DataFrame]:
    """Pairs of every region with at least ``min_stations`` stations, plus key -1: all."""
    out = {ALL_REGIONS: pairs}
    for region, grp in pairs.groupby("region", sort=True):
        if grp[KEY].drop_duplicates().shape[0] >= min_stations:
            out[int(region)] = grp
    return out


@dataclass
class ModeFit:
    """A pooled fit's bias terms (shrunk) and posterior-mode weights and sigma."""

    a: np.ndarray
    b: np.ndarray
    w: np.ndarray
    sigma: float

    def mean(self, F: np.ndarray) -> np.ndarray:
        return (self.w * (self.a + self.b * F)).sum(axis=-1)


def mode_fits(
    y: np.ndarray, F: np.ndarray, grid: Sequence[float], alpha: float
) -> dict[float, ModeFit]:
    """One least-squares bias fit, then per shrinkage ``s`` the EM weights and sigma."""
    a0, b0, _ = bma.fit_bias(y, F)
    out = {}
    for s in grid:
        a, b = shrink_to_identity(a0, b0, s)
        w, sigma = bma.em_estimate(y, a + b * F, alpha)
        out[float(s)] = ModeFit(a, b, w, sigma)
    return out


def predict_by_region(fits: Mapping[int, ModeFit], region: np.ndarray, F: np.ndarray) -> np.ndarray:
    """BMA mean of each pair from its region's fit, or the all-region fit (key -1)."""
    out = np.empty(F.shape[0])
    region = np.asarray(region)
    own = np.isin(region, [k for k in fits if k != ALL_REGIONS])
    out[~own] = fits[ALL_REGIONS].mean(F[~own])
    for r in np.unique(region[own]):
        sel = region == r
        out[sel] = fits[int(r)].mean(F[sel])
    return out


def _scores(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    err = pred - y
    r = float(np.corrcoef(pred, y)[0, 1]) if y.size > 2 and np.std(pred) > 0 else math.nan
    return {
        "n": int(y.size),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "bias": float(np.mean(err)),
        "r": r,
    }


def paired_gain(
    simple: np.ndarray, complex_: np.ndarray, y: np.ndarray, groups: np.ndarray
) -> tuple[float, float]:
    """How much lower the held-out MSE of ``complex_`` is than that of ``simple`` (pooled
    over pairs), and the standard error of that gain from its spread across the held-out
    groups (pair-weighted; NaN with fewer than two groups)."""
    d = (simple - y) ** 2 - (complex_ - y) ** 2
    gain = float(d.mean())
    labels = np.unique(groups)
    if labels.size < 2:
        return gain, math.nan
    n = np.array([np.sum(groups == g) for g in labels], dtype=float)
    dg = np.array([d[groups == g].mean() for g in labels])
    w = n / n.sum()
    se = float(np.sqrt(np.sum(w**2 * (dg - gain) ** 2) * labels.size / (labels.size - 1)))
    return gain, se


def station_groups(pairs: pd.DataFrame) -> np.ndarray:
    """Each pair's station (network/station) as an integer label."""
    keys = pairs["network"].astype(str) + "/" + pairs["station"].astype(str)
    return pd.factorize(keys)[0]


def gain_test(
    simple: np.ndarray,
    complex_: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    stations: np.ndarray,
    confidence: float,
) -> tuple[bool, str]:
    """Whether ``complex_`` wins against ``simple`` (:func:`wins`) both across the held-out
    groups and across the stations, each with its own degrees of freedom, and the evidence
    in words. See the module docstring for why both."""
    gain, se_g = paired_gain(simple, complex_, y, groups)
    _, se_s = paired_gain(simple, complex_, y, stations)
    n_g, n_s = np.unique(groups).size, np.unique(stations).size
    won = wins(gain, se_g, n_g, confidence) and wins(gain, se_s, n_s, confidence)
    said = (
        f"over folds: {gain_evidence(gain, se_g, n_g, confidence)}; over stations: "
        f"standard error {se_s:.2e}, t {_t(gain, se_s):.2f}, needed t > "
        f"{required_t(n_s, confidence):.2f} ({max(n_s - 1, 0)} df)"
    )
    return won, said


def _t(gain: float, se: float) -> float:
    return gain / se if math.isfinite(se) and se > 0 else math.nan


def required_t(n_groups: int, confidence: float) -> float:
    """The t the gain must exceed: the one-sided ``confidence`` quantile of Student's t with
    ``n_groups - 1`` degrees of freedom (0 with fewer than two groups: no spread to test)."""
    if n_groups < 2 or confidence <= 0.5:
        return 0.0
    return float(stats.t.ppf(confidence, n_groups - 1))


def wins(gain: float, se: float, n_groups: int, confidence: float) -> bool:
    """The more complex candidate wins: its MSE gain is positive and passes the one-sided
    paired t-test (gain / se above :func:`required_t`)."""
    need = required_t(n_groups, confidence) * (se if math.isfinite(se) else 0.0)
    return gain > 0 and gain > need


def gain_evidence(gain: float, se: float, n_groups: int, confidence: float) -> str:
    """The test in words: gain, its SE, t and the t needed."""
    need = required_t(n_groups, confidence)
    return (
        f"MSE gain {gain:.2e}, standard error {se:.2e}, t {_t(gain, se):.2f}, needed t > "
        f"{need:.2f} (one-sided {confidence:.0%}, {max(n_groups - 1, 0)} df)"
    )


@dataclass
class Selection:
    """What the station-held-out cross-validation chose, and the evidence."""

    shrinkage: float
    path: str  # "kriged" or "pooled"
    ensemble: str  # "bma" or "mean"
    scores: pd.DataFrame  # candidate, shrinkage, n, rmse, bias, r
    reasons: list[str] = field(default_factory=list)
    n_stations: int = 0
    n_pairs: int = 0
    cv_groups: str = ""
    n_groups: int = 0
    kriged_share: float = math.nan
    #: held-out predictions of every candidate, in the order of the pairs given
    predictions: dict[str, np.ndarray] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the choices, the reasons and the candidates' held-out scores."""
        return json_safe(
            {
                "shrinkage": self.shrinkage,
                "identity_bias": self.shrinkage == 1.0,
                "path": self.path,
                "ensemble": self.ensemble,
                "reasons": list(self.reasons),
                "n_stations": self.n_stations,
                "n_pairs": self.n_pairs,
                "cv_groups": self.cv_groups,
                "n_groups": self.n_groups,
                "kriged_share": self.kriged_share,
                "scores": self.scores.to_dict(orient="records"),
            }
        )

    def score(self, candidate: str) -> float:
        """Held-out RMSE of a candidate (``pooled s=<s>``, ``kriged``, ``member mean``)."""
        row = self.scores[self.scores.candidate == candidate]
        return float(row.rmse.iloc[0]) if len(row) else math.nan


def json_safe(value: Any) -> Any:
    """JSON-ready: NaN and infinities -> None, numpy scalars -> Python, recursively."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def pooled_name(s: float) -> str:
    return f"pooled s={s:g}"


def cv_groups(pairs: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Held-out group of each pair: its station fold, or its station when the training
    stations span fewer than two folds (leave-one-station-out)."""
    if pairs["fold"].nunique() >= 2:
        return pairs["fold"].to_numpy(), "station folds"
    return station_groups(pairs), "single stations"


def pooled_predictions(
    pairs: pd.DataFrame, groups: np.ndarray, members: Sequence[str], settings: PooledSettings
) -> dict[float, np.ndarray]:
    """Held-out BMA means of every pair for every shrinkage of the grid: for each group, the
    regional fits (posterior modes) of the other groups' pairs predict the group's pairs."""
    cols = member_columns(members)
    grid = settings.shrinkage_grid
    F = pairs[cols].to_numpy(dtype=float)
    region = pairs["region"].to_numpy()
    pred = {s: np.full(len(pairs), np.nan) for s in grid}
    for g in np.unique(groups):
        held = groups == g
        fits_by_s: dict[float, dict[int, ModeFit]] = {s: {} for s in grid}
        for r, grp in region_groups(pairs[~held], settings.min_region_stations).items():
            fits = mode_fits(grp["y"].to_numpy(float), grp[cols].to_numpy(float), grid,
                             settings.alpha)  # fmt: skip
            for s in grid:
                fits_by_s[s][r] = fits[s]
        for s in grid:
            pred[s][held] = predict_by_region(fits_by_s[s], region[held], F[held])
    return pred


def kriged_predictions(
    pairs: pd.DataFrame,
    groups: np.ndarray,
    members: Sequence[str],
    kriged_at: KrigedAt,
    stations: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out BMA means from the kriging candidate, and where it could krige: for each
    group, ``kriged_at`` of the other groups' stations gives the group's stations their
    parameters (NaN where it returned None)."""
    F = pairs[member_columns(members)].to_numpy(dtype=float)
    pred = np.full(len(pairs), np.nan)
    kriged = np.zeros(len(pairs), dtype=bool)
    for g in np.unique(groups):
        held = groups == g
        sites = pairs.loc[held, KEY].drop_duplicates().merge(stations, on=KEY, how="left")
        params = kriged_at(pairs.loc[~held, KEY].drop_duplicates(), sites)
        if params is None:
            continue
        at = sites[KEY].copy()
        for name, v in params.items():
            at[name] = v
        rows = pairs.loc[held, KEY].merge(at, on=KEY, how="left")
        w, a, b = (
            np.stack([rows[f"{k}_{m}"].to_numpy() for m in members], axis=-1)
            for k in ("w", "a", "b")
        )
        pred[held] = (w * (a + b * F[held])).sum(axis=-1)
        kriged[held] = True
    return pred, kriged


def cross_validate(
    pairs: pd.DataFrame,
    members: Sequence[str],
    settings: PooledSettings,
    kriged_at: KrigedAt | None = None,
    stations: pd.DataFrame | None = None,
    no_kriging_reason: str = "no kriging candidate",
) -> Selection:
    """Choose shrinkage, path and ensemble by station-held-out cross-validation.

    Args:
        pairs: training-day pairs (every member finite) of the training stations: KEY,
            ``region``, ``fold``, ``y``, ``f_<m>``.
        members: member names (the order of ``f_<m>``).
        settings: the shrinkage grid, region minimum, whether BMA must beat the mean.
        kriged_at: the kriging candidate (None: kriging is not available on the training
            stations, ``no_kriging_reason`` says why).
        stations: KEY, ``lon``, ``lat``, ``region`` of the training stations (for
            ``kriged_at``).

    Returns:
        The :class:`Selection`. With fewer than two held-out groups nothing can be
        validated: identity bias terms, the pooled path and (``fallback_to_mean``) the
        member mean, with the reason.
    """
    cols = member_columns(members)
    grid = settings.shrinkage_grid
    n_st = int(pairs[KEY].drop_duplicates().shape[0])
    groups, kind = cv_groups(pairs) if len(pairs) else (np.zeros(0), "none")
    labels = np.unique(groups)
    base = {"n_stations": n_st, "n_pairs": int(len(pairs)), "cv_groups": kind}
    if labels.size < 2:
        why = (
            f"only {n_st} training station(s) in {labels.size} group(s): nothing to validate "
            "against, so bias terms stay at identity"
        )
        ens = "mean" if settings.fallback_to_mean else "bma"
        if ens == "mean":
            why += " and the product is the member mean"
        empty = pd.DataFrame(columns=["candidate", "shrinkage", "n", "rmse", "bias", "r"])
        return Selection(1.0, "pooled", ens, empty, [why], n_groups=int(labels.size), **base)

    y = pairs["y"].to_numpy(dtype=float)
    F = pairs[cols].to_numpy(dtype=float)
    stations_of = station_groups(pairs)

    def test(simple: np.ndarray, complex_: np.ndarray) -> tuple[bool, str]:
        return gain_test(simple, complex_, y, groups, stations_of, settings.min_gain_confidence)

    pred = pooled_predictions(pairs, groups, members, settings)
    rows = [{"candidate": pooled_name(s), "shrinkage": s, **_scores(pred[s], y)} for s in grid]
    rmse = {s: rows[i]["rmse"] for i, s in enumerate(grid)}
    best = min(rmse.values())
    s_star = max(s for s in grid if rmse[s] <= best * (1 + 1e-9))
    reasons = [
        f"bias terms of the pooled fits shrunk toward identity by s = {s_star:g}: the lowest "
        f"station-held-out RMSE on the training days ({rmse[s_star]:.4f}; by s: "
        f"{', '.join(f'{s:g}: {rmse[s]:.4f}' for s in grid)})"
    ]
    path, bma_pred = "pooled", pred[s_star]
    kriged_share = math.nan
    if kriged_at is None or stations is None:
        reasons.append(f"pooled fit, not kriging: {no_kriging_reason}")
    else:
        kpred, kriged = kriged_predictions(pairs, groups, members, kriged_at, stations)
        kpred = np.where(kriged, kpred, pred[s_star])
        kriged_share = float(kriged.mean())
        if kriged.any():
            rows.append({"candidate": "kriged", "shrinkage": math.nan, **_scores(kpred, y)})
            k_rmse = rows[-1]["rmse"]
            won, said = test(pred[s_star], kpred)
            evidence = (
                f"held-out RMSE {k_rmse:.4f} against the pooled fit's {rmse[s_star]:.4f}; " + said
            )
            if won:
                path, bma_pred = "kriged", kpred
                reasons.append(f"kriged station parameters: {evidence}")
            else:
                reasons.append(f"pooled fit, not kriging: kriging does not win ({evidence})")
        else:
            reasons.append("pooled fit, not kriging: no held-out fold could be kriged")
    predictions = {pooled_name(s): pred[s] for s in grid}
    if "kriged" in set(r["candidate"] for r in rows):
        predictions["kriged"] = kpred
    mean_pred = F.mean(axis=1)
    predictions["member mean"] = mean_pred
    predictions["BMA (chosen)"] = bma_pred
    rows.append({"candidate": "member mean", "shrinkage": math.nan, **_scores(mean_pred, y)})
    rows.append({"candidate": "BMA (chosen)", "shrinkage": math.nan, **_scores(bma_pred, y)})
    m_rmse, b_rmse = rows[-2]["rmse"], rows[-1]["rmse"]
    won, said = test(mean_pred, bma_pred)
    evidence = f"held-out RMSE {b_rmse:.4f} against the member mean's {m_rmse:.4f}; " + said
    ensemble = "bma"
    if won:
        reasons.append(f"BMA earns its place ({evidence})")
    elif settings.fallback_to_mean:
        ensemble = "mean"
        reasons.append(
            f"BMA does not beat the member mean ({evidence}): the product is the member mean"
        )
    else:
        reasons.append(
            f"BMA does not beat the member mean ({evidence}) but bma.fallback_to_mean is off: "
            "BMA is kept"
        )
    return Selection(
        s_star,
        path,
        ensemble,
        pd.DataFrame(rows),
        reasons,
        n_groups=int(labels.size),
        kriged_share=kriged_share,
        predictions=predictions,
        **base,
    )


# --------------------------------------------------------------------------- final fits
def pooled_columns(members: Sequence[str]) -> list[str]:
    """Columns of a pooled-fit table, in order."""
    cols = ["region", "n_stations", "n_pairs", "shrinkage", "own_region", "identity_bias",
            "source"]  # fmt: skip
    for name in ("w", "a", "b"):
        for m in members:
            cols += [f"{name}_{m}", f"{name}_{m}_q025", f"{name}_{m}_q975", f"{name}_{m}_sd"]
    cols += ["sigma", "sigma_q025", "sigma_q975", "log_sigma", "log_sigma_sd", "estimate"]
    cols += ["acceptance", "tau_max", "ess", "chain_tau_ratio", "converged", "diagnostics"]
    return cols


def fit_pooled(
    pairs: pd.DataFrame,
    members: Sequence[str],
    shrinkage: float,
    settings: PooledSettings,
    sampler: bma.SamplerSettings,
    seed: int,
    log=None,
) -> pd.DataFrame:
    """The pooled BMA of every region with enough training stations, and of all regions
    (region -1): bias terms shrunk by ``shrinkage``, emcee weights and sigma."""
    cols = member_columns(members)
    rows = []
    for region, grp in region_groups(pairs, settings.min_region_stations).items():
        y = grp["y"].to_numpy(float)
        F = grp[cols].to_numpy(float)
        a0, b0, se = bma.fit_bias(y, F)
        a, b = shrink_to_identity(a0, b0, shrinkage)
        mu = a + b * F
        post = bma.sample_posterior(y, mu, sampler, station_seed(seed, "pooled", str(region)))
        d = post.diagnostics
        summ = post.summary()
        w_mean, log_s = summ["w_mean"], np.log(post.sigma)
        sigma, log_sigma, estimate = summ["sigma_mean"], float(log_s.mean()), "posterior mean"
        if not d.converged:
            w_mean, sigma = bma.em_estimate(y, mu, settings.alpha)
            log_sigma = float(np.log(sigma))
            estimate = "posterior mode (chain flagged)"
        n_st = int(grp[KEY].drop_duplicates().shape[0])
        identity = shrinkage == 1.0
        row: dict[str, Any] = {
            "region": int(region),
            "n_stations": n_st,
            "n_pairs": int(len(grp)),
            "shrinkage": float(shrinkage),
            "own_region": region != ALL_REGIONS,
            "identity_bias": identity,
            "source": pooled_source(region != ALL_REGIONS, identity),
        }
        w_sd = post.w.std(axis=0)
        for j, m in enumerate(members):
            row[f"w_{m}"] = float(w_mean[j])
            row[f"w_{m}_q025"] = float(summ["w_q025"][j])
            row[f"w_{m}_q975"] = float(summ["w_q975"][j])
            row[f"w_{m}_sd"] = float(w_sd[j])
        for name, est, s in (("a", a, se[0]), ("b", b, se[1])):
            for j, m in enumerate(members):
                sd = (1.0 - shrinkage) * s[j] if np.isfinite(s[j]) else math.inf
                sd = 0.0 if shrinkage == 1.0 else sd
                row[f"{name}_{m}"] = float(est[j])
                row[f"{name}_{m}_q025"] = float(est[j] - 1.959964 * sd)
                row[f"{name}_{m}_q975"] = float(est[j] + 1.959964 * sd)
                row[f"{name}_{m}_sd"] = float(sd)
        row.update(
            sigma=float(sigma),
            sigma_q025=summ["sigma_q025"],
            sigma_q975=summ["sigma_q975"],
            log_sigma=log_sigma,
            log_sigma_sd=float(log_s.std()),
            estimate=estimate,
            **d.columns(),
        )
        rows.append(row)
        if log is not None:
            log.info(
                "pooled %s: %d stations, %d pairs, s = %g, w = %s, sigma = %.4f, %s%s",
                "all regions" if region == ALL_REGIONS else f"region {region}",
                n_st,
                len(grp),
                shrinkage,
                np.round(w_mean, 3).tolist(),
                sigma,
                estimate,
                "" if d.converged else " -- chain flagged: " + "; ".join(d.reasons),
            )
    return pd.DataFrame(rows, columns=pooled_columns(members))


def region_values(table: pd.DataFrame, members: Sequence[str]) -> RegionValues:
    """The pooled-fit table as per-region values of the BMA parameter fields."""
    fields = parameter_columns(members)
    rows = {}
    for r in table.itertuples(index=False):
        rec = r._asdict()
        values = {f: rec[f] for f in fields}
        sds = {f: rec[f"{f}_sd"] for f in fields}
        rows[int(rec["region"])] = (values, sds, int(rec["source"]))
    return RegionValues.from_rows(fields, rows, default=ALL_REGIONS)


def chosen_parameters(
    posteriors: pd.DataFrame,
    pooled: pd.DataFrame,
    selection: Mapping[str, Any],
    members: Sequence[str],
    kcfg: Mapping[str, Any],
):
    """The parameters a fold's choices say to use: the converged stations' parameters
    kriged (``selection["path"] == "kriged"``), else the pooled fits per region.

    Returns a :class:`smdownscale.kriging.ParameterKriging` whose per-region fallback is the
    pooled table; raises ``RuntimeError`` when kriging was chosen but cannot be rebuilt.
    """
    usable = posteriors[posteriors.converged.astype(bool)]
    refuse = None
    if selection["path"] != "kriged":
        why = [r for r in selection.get("reasons", []) if "kriging" in r or "kriged" in r]
        refuse = "; ".join(why) or "the pooled fit was chosen"
    pk = parameter_kriging(
        usable, members, kcfg, fallback=region_values(pooled, members), refuse=refuse
    )
    if selection["path"] == "kriged" and not pk.kriged:
        raise RuntimeError(f"the choice was kriging but the kriging failed: {pk.reason}")
    return pk
