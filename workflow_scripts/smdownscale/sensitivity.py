"""Sensitivity experiments and ablations (the Three-North paper's predictor and sample
removal, and its reply to reviewers): each experiment is the main run with one thing
changed, named by the ``experiment`` wildcard of the paths it writes
(``sensitivity/<experiment>/...``).

- ``without_<p>``: predictor ``p`` left out (of ``predictors.use`` and of the optional
  predictors); the tuned hyperparameters of the main run are kept.
- ``samples<pct>_r<k>``: ``pct`` % of the coarse cell-days (the training samples) removed
  at random, seeded by the repeat ``k`` and the day (:func:`removed_samples`).
- ``one_region``: clustering off (``regions.k = 1``).
- ``no_window``: the adaptive window off (``members.window_max_days`` and
  ``window_max_cells`` = 0: a region's own cells and days only; the fallbacks stay).

An experiment refits, re-predicts and re-corrects the members; what it does not change
(harmonised predictors, coarse aggregation, regions except ``one_region``, tuned
hyperparameters, stations) is read from the main run. The members of every experiment are
scored like the main run's: against the truth (demo) and at the stations on the evaluation
days (the members never see a station; the residual share uses the training days only).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import metrics
from .config import region_count

#: The name of the main run among the experiments of the sensitivity table.
MAIN = "main"


@dataclass(frozen=True)
class Experiment:
    """One change to the main run."""

    name: str
    kind: str  # "without", "samples", "one_region", "no_window"
    predictor: str | None = None
    fraction: float = 0.0  # of training samples removed
    repeat: int = 0

    def describe(self) -> str:
        if self.kind == "without":
            return f"without {self.predictor}"
        if self.kind == "samples":
            pct = round(100 * self.fraction)
            return f"{pct} % of training samples removed (repeat {self.repeat})"
        if self.kind == "one_region":
            return "clustering off (one region)"
        return "adaptive window off"

    @property
    def group(self) -> str:
        """The experiment's row in the summary: repeats of one removal share it."""
        return f"samples{round(100 * self.fraction):02d}" if self.kind == "samples" else self.name


def experiments(cfg: Mapping[str, Any]) -> dict[str, Experiment]:
    """The configured experiments (``sensitivity`` section), by name, in table order."""
    s = cfg["sensitivity"]
    names = list(cfg["predictors"]["use"])
    out: dict[str, Experiment] = {}
    leave = names if s["leave_out"] == "all" else list(s["leave_out"])
    unknown = [p for p in leave if p not in names]
    if unknown:
        raise ValueError(
            f"config key 'sensitivity.leave_out' names {unknown}, which are not in "
            f"'predictors.use' ({names}); leave them out of the list"
        )
    if len(names) > 1:
        for p in leave:
            out[f"without_{p}"] = Experiment(f"without_{p}", "without", predictor=p)
    for pct in s["sample_removal_percent"]:
        for k in range(s["repeats"]):
            name = f"samples{pct:02d}_r{k}"
            out[name] = Experiment(name, "samples", fraction=pct / 100.0, repeat=k)
    for a in s["ablations"]:
        if a == "one_region" and region_count(cfg) == 1:
            continue  # the main run has one region already (regions.min_cells)
        out[a] = Experiment(a, a)
    return out


def experiment_config(cfg: Mapping[str, Any], exp: Experiment | None) -> dict[str, Any]:
    """The config the experiment's rules run with (a copy; the main config without one)."""
    out = copy.deepcopy(dict(cfg))
    if exp is None:
        return out
    if exp.kind == "without":
        out["predictors"]["use"] = [p for p in out["predictors"]["use"] if p != exp.predictor]
        out["members"]["optional_predictors"] = [
            p for p in out["members"]["optional_predictors"] if p != exp.predictor
        ]
    elif exp.kind == "one_region":
        out["regions"]["k"] = 1
    elif exp.kind == "no_window":
        out["members"]["window_max_days"] = 0
        out["members"]["window_max_cells"] = 0
    return out


def changes_regions(exp: Experiment | None) -> bool:
    return exp is not None and exp.kind == "one_region"


def removed_samples(
    days: Sequence[dt.date], shape: tuple[int, int], exp: Experiment | None, seed: int
) -> np.ndarray:
    """Which coarse cell-days (days x ``shape``) a sample-removal experiment takes away
    (True): ``round(fraction x cells)`` cells of every day, drawn without replacement and
    seeded by ``seed``, the repeat, the fraction and the day, so every rule that loads a day
    removes the same cells. The fits then see less data and the adaptive window and the
    fallbacks answer as they would. Nothing for other experiments."""
    out = np.zeros((len(days), *shape), dtype=bool)
    if exp is None or exp.kind != "samples":
        return out
    n = shape[0] * shape[1]
    k = round(n * exp.fraction)
    for i, d in enumerate(days):
        rng = np.random.default_rng([seed, exp.repeat, round(1000 * exp.fraction), d.toordinal()])
        out[i].flat[rng.choice(n, size=k, replace=False)] = True
    return out


MEMBER_MEAN = "member mean"
#: Score columns of an experiment's table (truth_*: against the truth; stn_*: stations).
SCORES = ("truth_rmse", "truth_x_coarse", "truth_r", "stn_n", "stn_r", "stn_rmse", "stn_ubrmse")


def station_scores(pairs: pd.DataFrame, columns: list[str]) -> dict[str, dict[str, float]]:
    """Scores of each column of ``pairs`` against its ``y`` (the in-situ value), on the
    station-days where every column has a value (so the members are compared on the same
    days): column -> {stn_n, stn_r, stn_rmse, stn_ubrmse}."""
    ok = np.isfinite(pairs["y"].to_numpy())
    for c in columns:
        ok &= np.isfinite(pairs[c].to_numpy())
    out = {}
    for c in columns:
        s = metrics.score(pairs[c].to_numpy()[ok], pairs["y"].to_numpy()[ok])
        out[c] = {"stn_n": s.n, "stn_r": s.r, "stn_rmse": s.rmse, "stn_ubrmse": s.ubrmse}
    return out


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment group and member: the mean of each score over the group's
    repeats, and for RMSEs their lowest and highest repeat."""
    keys = ["group", "member"]
    order = {g: i for i, g in enumerate(dict.fromkeys(table["group"]))}
    agg = table.groupby(keys, sort=False)
    out = agg[[c for c in SCORES if c in table]].mean()
    out.insert(
        0, "description", agg["description"].first().str.replace(r" \(repeat \d+\)", "", regex=True)
    )
    out.insert(1, "repeats", agg.size())
    for c in ("truth_x_coarse", "stn_rmse"):
        if c in table:
            out[f"{c}_min"] = agg[c].min()
            out[f"{c}_max"] = agg[c].max()
    out = out.reset_index()
    return out.sort_values("group", key=lambda g: g.map(order), kind="stable").reset_index(
        drop=True
    )


def figure(summary: pd.DataFrame):
    """Per experiment group (x) and member (colour): RMSE against the truth over the coarse
    product's (when a truth exists) and RMSE at the stations, with the range over repeats."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("stn_rmse", "RMSE at stations (m3 m-3)")]
    if summary["truth_x_coarse"].notna().any():
        panels.insert(0, ("truth_x_coarse", "RMSE / coarse RMSE (truth)"))
    groups = list(dict.fromkeys(summary["group"]))
    members = list(dict.fromkeys(summary["member"]))
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(max(6, 0.7 * len(groups) + 2), 3.2 * len(panels)), squeeze=False
    )
    x = np.arange(len(groups))
    for ax, (col, label) in zip(axes[:, 0], panels, strict=True):
        for j, m in enumerate(members):
            sub = summary[summary["member"] == m].set_index("group").reindex(groups)
            off = (j - (len(members) - 1) / 2) * 0.12
            y = sub[col].to_numpy(dtype=float)
            lo, hi = sub[f"{col}_min"].to_numpy(float), sub[f"{col}_max"].to_numpy(float)
            ax.errorbar(x + off, y, yerr=[y - lo, hi - y], fmt="o", ms=4, capsize=2, label=m)
        if MAIN in groups:  # shade the main run's column, wherever it is
            i = groups.index(MAIN)
            ax.axvspan(i - 0.5, i + 0.5, color="0.9", zorder=0)
        ax.set_xticks(x, groups, rotation=35, ha="right")
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, ncol=len(members), fontsize=8, loc="upper center")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig
