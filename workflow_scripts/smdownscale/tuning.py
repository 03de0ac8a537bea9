"""Hyperparameter tuning of the regression members by k-fold cross-validation (METHOD.md 5).

"Tuned once by k-fold cross-validation (default 10-fold, RMSE) on the tuning years, over
grids in config, then fixed for the production run." Rules:

* The members tuned are the production members (:mod:`smdownscale.members`): each fold fits
  ``fit_member(name, X_train, y_train, params, seed)`` with ``params`` the member's
  ``defaults`` overridden by the grid point, and scores the member's fast ``predict`` on the
  test fold. So the tuned model is exactly the model later fitted (its fixed settings,
  feature standardisation on training-fold statistics, target scaling, SVR's training cap).
  Grid parameter names are the member's ``param_names``; an unknown name raises
  :class:`TuningError` naming member and parameter.
* Cross-validation is GROUPED by coarse cell when ``groups`` is given (``GroupKFold``):
  all days of one cell fall in the same fold. Neighbouring days of one cell are nearly
  identical (static predictors equal, soil moisture autocorrelated), so ordinary KFold would
  test on near-copies of training samples and overstate skill, favouring parameters that
  memorise cells. With ``groups=None`` a shuffled plain ``KFold`` is used.
* The score of a grid point is the mean over folds of the fold RMSE; the table also holds
  its standard deviation (ddof=1). The best point is the lowest mean RMSE, the first in
  grid order on ties. An empty grid scores the member's defaults.
* ``max_samples`` caps the tuning samples by a deterministic random subsample (``seed``);
  ``svr_max_samples`` is the SVR member's own training cap per fold (None: its default).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, KFold, ParameterGrid

from .members import MEMBERS, MemberError, fit_member


class TuningError(ValueError):
    """Tuning inputs that cannot be used, with a message naming the member and parameter."""


def _check_name(name: str) -> None:
    if name not in MEMBERS:
        raise TuningError(f"unknown member {name!r}; choose one of {', '.join(MEMBERS)}")


def check_params(name: str, params: dict[str, Any]) -> None:
    """Raise :class:`TuningError` naming the member and parameter for an unknown parameter."""
    _check_name(name)
    known = MEMBERS[name].param_names
    for key in params:
        if key not in known:
            raise TuningError(
                f"member {name!r} has no hyperparameter {key!r}; its parameters are: "
                f"{', '.join(known) or 'none'}"
            )


def subsample_indices(n: int, max_samples: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a deterministic random subsample of ``max_samples`` (all if None)."""
    if max_samples is None or max_samples >= n:
        return np.arange(n)
    if max_samples < 1:
        raise TuningError(f"max_samples must be >= 1, got {max_samples}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_samples, replace=False))


def cv_splits(
    n: int, groups: np.ndarray | None, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs: GroupKFold over ``groups``, else shuffled KFold.

    With groups, every group (coarse cell) lies wholly in one test fold, so no cell has days
    in both the training and the test set of a fold.
    """
    if folds < 2:
        raise TuningError(f"cross-validation needs at least 2 folds, got {folds}")
    dummy = np.zeros((n, 1))
    if groups is None:
        if folds > n:
            raise TuningError(f"{folds}-fold cross-validation needs >= {folds} samples, got {n}")
        return list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(dummy))
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise TuningError(f"groups must give one group per sample ({n}), got {groups.shape}")
    n_groups = np.unique(groups).size
    if folds > n_groups:
        raise TuningError(
            f"{folds}-fold grouped cross-validation needs >= {folds} coarse cells, got "
            f"{n_groups}; lower the number of folds or tune on more cells"
        )
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(dummy, groups=groups))


@dataclass(frozen=True, eq=False)
class TuningResult:
    """Outcome of :func:`tune`; ``table`` has one row per grid point (see :func:`tune`)."""

    name: str
    best_params: dict[str, Any]
    best_rmse: float
    best_rmse_sd: float
    table: pd.DataFrame
    folds: int
    n_samples: int
    grouped: bool
    seconds: float = field(default=0.0)


def _check_data(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise TuningError(f"X must be (n, p) and y (n,), got {X.shape} and {y.shape}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise TuningError("X and y must be finite: select valid samples before tuning")
    if groups is not None and np.shape(groups) != y.shape:
        raise TuningError(f"groups must be (n,) = {y.shape}, got {np.shape(groups)}")
    return X, y


def _check_grid(name: str, grid: dict[str, list[Any]]) -> None:
    check_params(name, grid)
    for key, values in grid.items():
        if not isinstance(values, list | tuple) or len(values) == 0:
            raise TuningError(
                f"grid of member {name!r}: parameter {key!r} needs a non-empty list of values, "
                f"got {values!r}"
            )


def tune(
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    grid: dict[str, list[Any]],
    folds: int = 10,
    seed: int = 0,
    max_samples: int | None = None,
    groups: np.ndarray | None = None,
    n_jobs: int = 2,
    svr_max_samples: int | None = None,
) -> TuningResult:
    """Grid search of member ``name`` by (grouped) k-fold cross-validated RMSE.

    Args:
        name: a registered member (:data:`smdownscale.members.MEMBERS`).
        X, y: finite samples (n, p) and (n,).
        grid: parameter name -> list of values (the member's ``param_names``); ``{}`` scores
            the defaults. An unknown name raises :class:`TuningError` naming member and
            parameter.
        folds: number of folds (default 10).
        seed: seeds the subsample, the fold assignment and every member fit.
        max_samples: deterministic random subsample of the tuning set (None: all samples).
        groups: (n,) coarse-cell id per sample (e.g. ``windows.cell_groups``) for
            GroupKFold; None for plain shuffled KFold.
        n_jobs: threads of each member fit and prediction.
        svr_max_samples: the SVR member's training cap in each fold (None: the member's
            default); ignored by the other members.

    Returns:
        :class:`TuningResult`; ``table`` columns are the grid's parameters (sorted), then
        ``mean_rmse``, ``sd_rmse`` (over folds) and ``rank`` (1 = best), in grid order.
    """
    start = time.perf_counter()
    _check_name(name)
    _check_grid(name, grid)
    X, y = _check_data(X, y, groups)
    idx = subsample_indices(y.size, max_samples, seed)
    X, y = X[idx], y[idx]
    g = None if groups is None else np.asarray(groups)[idx]
    splits = cv_splits(y.size, g, folds, seed)
    cap = svr_max_samples if name == "svr" else None

    rows: list[dict[str, Any]] = []
    for point in ParameterGrid(grid):
        rmse = np.empty(len(splits), dtype=np.float64)
        for k, (train, test) in enumerate(splits):
            try:
                member = fit_member(
                    name, X[train], y[train], point, seed, max_samples=cap, n_jobs=n_jobs
                )
            except (MemberError, ValueError) as exc:
                raise TuningError(f"member {name!r} failed to fit with {point}: {exc}") from exc
            err = member.predict(X[test]).astype(np.float64) - y[test]
            rmse[k] = np.sqrt(np.mean(err * err))
        rows.append({**point, "mean_rmse": float(rmse.mean()), "sd_rmse": float(rmse.std(ddof=1))})

    table = pd.DataFrame(rows, columns=[*sorted(grid), "mean_rmse", "sd_rmse"])
    table["rank"] = table["mean_rmse"].rank(method="first").astype(int)
    best = int(np.argmin(table["mean_rmse"].to_numpy()))
    best_params = {k: rows[best][k] for k in sorted(grid)}
    return TuningResult(
        name=name,
        best_params=best_params,
        best_rmse=float(rows[best]["mean_rmse"]),
        best_rmse_sd=float(rows[best]["sd_rmse"]),
        table=table,
        folds=folds,
        n_samples=int(y.size),
        grouped=groups is not None,
        seconds=time.perf_counter() - start,
    )
