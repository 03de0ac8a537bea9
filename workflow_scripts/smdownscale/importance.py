"""Permutation importance of each predictor for a fitted member (issue 16, item 3).

How much worse does a member predict held-out samples when one predictor's values are
shuffled among them (breaking its link to the target, keeping its distribution)? The
increase of RMSE over the unshuffled RMSE, averaged over ``repeats`` seeded shuffles, is
the predictor's importance; its SD over the shuffles says how stable that is. A predictor
the member ignores scores 0 (up to the shuffles' noise); importance is model-agnostic, so
every member (trees, regressions, kernels, networks) is scored the same way. Missing
values move with the shuffled column, so the member's predictor subsets keep working.

Pure: a ``predict(X) -> y`` callable and arrays in, a table out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd


def _rmse(pred: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(pred) & np.isfinite(y)
    return float(np.sqrt(np.mean((pred[ok] - y[ok]) ** 2))) if ok.any() else np.nan


def permutation_importance(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    repeats: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """Per predictor: ``rmse_base``, ``rmse_increase`` (mean over the shuffles) and
    ``rmse_increase_sd``, on the samples (X (n, p), y (n,)); n and the names alongside."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(names) or X.shape[0] != y.size:
        raise ValueError(f"X {X.shape} and y {y.shape} do not match {len(names)} predictors")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    rng = np.random.default_rng(seed)
    base = _rmse(np.asarray(predict(X), dtype=np.float64), y)
    rows = []
    for j, name in enumerate(names):
        gains = []
        for _ in range(repeats):
            Xp = X.copy()
            Xp[:, j] = X[rng.permutation(X.shape[0]), j]
            gains.append(_rmse(np.asarray(predict(Xp), dtype=np.float64), y) - base)
        sd = float(np.std(gains, ddof=1)) if repeats > 1 else np.nan
        rows.append({"predictor": name, "n": int(y.size), "rmse_base": base,
                     "rmse_increase": float(np.mean(gains)), "rmse_increase_sd": sd})  # fmt: skip
    return pd.DataFrame(rows)


def xgb_contributions(member, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TreeSHAP contributions of an XGBoost member (XGBoost's own ``pred_contribs``), in
    m3 m-3, on the rows its richest (all-predictor) model serves.

    ``member``: a fitted xgb member, or a :class:`~.members.subsets.SubsetMember` of xgb
    models. Returns (rows (m,) indices into X, contributions (m, p + 1): one column per
    predictor, then the bias); a row's contributions sum to the member's prediction there.
    Contributions of standardised features are those of the features themselves (a
    per-feature affine map), scaled back by the target's SD; the target's mean joins the
    bias.
    """
    import xgboost

    from .members.subsets import SubsetMember

    X = np.asarray(X, dtype=np.float64)
    if getattr(member, "name", "") != "xgb":
        raise ValueError("TreeSHAP contributions need an XGBoost member (xgb)")
    if isinstance(member, SubsetMember):
        rows = np.flatnonzero(member.codes(X) == 0)
        model = member.models[0]
    else:
        rows = np.flatnonzero(np.isfinite(X).all(axis=1))
        model = member
    if model is None or rows.size == 0:  # no all-predictor model (too few samples), or rows
        return np.zeros(0, dtype=np.int64), np.zeros((0, X.shape[1] + 1))
    Z = (X[rows] - model.x_mean) / model.x_sd
    contrib = model.model.get_booster().predict(xgboost.DMatrix(Z), pred_contribs=True)
    contrib = contrib.astype(np.float64) * model.y_sd
    contrib[:, -1] += model.y_mean
    return rows, contrib
