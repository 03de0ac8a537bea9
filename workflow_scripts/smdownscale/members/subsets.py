"""One member fitted on several predictor subsets: a cell-day is predicted by the richest
model whose predictors it has (METHOD.md section 2).

LST is missing under clouds on about half of all cell-days, albedo where the BRDF inversion
failed. Filling them in time and predicting as if they were observed spreads the fill's
error into every member: on the demo world the members' RMSE on gap-filled cell-days was
0.07-0.12 m3 m-3 against 0.034-0.044 on observed ones, twice the coarse product's. Instead
each member is also fitted without the *optional* (gappy) predictors, on every coarse
cell-day that has the remaining ones (cloudy days included, so the model without LST learns
the cloudy, wet conditions it will serve), and a cell-day missing LST is predicted by the
model fitted without it.

Subsets (:func:`predictor_subsets`): every subset of the optional predictors is dropped in
turn, fewest dropped first (for optional ``[lst, albedo]``: all predictors, without lst,
without albedo, without both). A subset with fewer training samples than it needs is not
fitted; its cell-days fall to the next subset whose predictors they have.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .base import BLOCK_ROWS, FittedMember, MemberError

#: Code of a cell-day no subset model could predict (a required predictor missing).
NO_SUBSET = -1


def predictor_subsets(names: Sequence[str], optional: Sequence[str]) -> list[tuple[int, ...]]:
    """Column indices of each predictor subset, richest first (see the module docstring).

    ``optional`` names that are not among ``names`` are ignored. The first subset is always
    every column; the last keeps only the required (non-optional) ones, or, when every
    predictor is optional, the smallest non-empty subsets.
    """
    names = list(names)
    opt = [n for n in optional if n in names]
    out: list[tuple[int, ...]] = []
    for k in range(len(opt) + 1):
        for dropped in itertools.combinations(opt, k):
            cols = tuple(i for i, n in enumerate(names) if n not in dropped)
            if cols:
                out.append(cols)
    if not out:
        raise MemberError("no predictors: at least one is needed to predict")
    return out


def subset_label(names: Sequence[str], cols: Sequence[int]) -> str:
    """``all`` or ``without_<a>_<b>``: a subset named by what it drops."""
    dropped = [n for i, n in enumerate(names) if i not in cols]
    return "all" if not dropped else "without_" + "_".join(dropped)


def assign_subsets(X: np.ndarray, subsets: Sequence[Sequence[int]]) -> np.ndarray:
    """int8 (n,): index of the richest subset whose columns are all finite in each row of
    ``X`` (n, p), or :data:`NO_SUBSET`."""
    finite = np.isfinite(X)
    code = np.full(X.shape[0], NO_SUBSET, dtype=np.int8)
    todo = np.ones(X.shape[0], dtype=bool)
    for i, cols in enumerate(subsets):
        rows = todo & finite[:, list(cols)].all(axis=1)
        code[rows] = i
        todo &= ~rows
    return code


@dataclass
class SubsetMember:
    """One member's models on predictor subsets; ``models[i]`` serves ``subsets[i]`` (None
    where that subset was not fitted). Predicts like a :class:`FittedMember`."""

    name: str
    subsets: list[tuple[int, ...]]
    models: list[FittedMember | None]
    n_features: int

    @property
    def fitted_subsets(self) -> list[tuple[int, ...]]:
        return [s for s, m in zip(self.subsets, self.models, strict=True) if m is not None]

    def codes(self, X: np.ndarray) -> np.ndarray:
        """Which model predicts each row (index into ``subsets``; -1: none)."""
        X = np.asarray(X)
        avail = [s for s, m in zip(self.subsets, self.models, strict=True) if m is not None]
        local = assign_subsets(X, avail)
        index = np.array([self.subsets.index(s) for s in avail] + [NO_SUBSET], dtype=np.int8)
        return index[local]  # NO_SUBSET (-1) picks the appended -1

    def predict(
        self, X: np.ndarray, *, block_rows: int = BLOCK_ROWS, out: np.ndarray | None = None
    ) -> np.ndarray:
        """float32 (n,) [m3 m-3]: each row from the richest fitted model it has every
        predictor of; NaN where none."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise MemberError(
                f"member '{self.name}' was fitted on {self.n_features} features, "
                f"got an array of shape {X.shape}"
            )
        n = X.shape[0]
        if out is None:
            out = np.empty(n, dtype=np.float32)
        out[:] = np.nan
        code = self.codes(X)
        for i, model in enumerate(self.models):
            rows = np.flatnonzero(code == i)
            if model is None or rows.size == 0:
                continue
            cols = list(self.subsets[i])
            out[rows] = model.predict(X[np.ix_(rows, cols)], block_rows=block_rows)
        return out


def fit_subsets(
    fit: Callable[[np.ndarray, np.ndarray], FittedMember],
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    subsets: Sequence[Sequence[int]],
    min_samples_per_predictor: int,
) -> tuple[SubsetMember, dict[str, int]]:
    """Fit ``fit(X_subset, y)`` on each subset's complete rows of ``X`` (NaN allowed in the
    optional columns). A subset with fewer than ``min_samples_per_predictor`` x its size
    complete rows is skipped. Returns the member and the samples each subset was fitted on
    (0 where skipped), keyed by subset index."""
    X = np.asarray(X, dtype=np.float64)
    finite = np.isfinite(X)
    models: list[FittedMember | None] = []
    counts: dict[str, int] = {}
    for i, cols in enumerate(subsets):
        rows = finite[:, list(cols)].all(axis=1)
        n = int(rows.sum())
        if n < max(2, min_samples_per_predictor * len(cols)):
            models.append(None)
            counts[str(i)] = 0
            continue
        models.append(fit(X[np.ix_(rows, list(cols))], y[rows]))
        counts[str(i)] = n
    if all(m is None for m in models):
        raise MemberError(
            f"member '{name}': no predictor subset has enough complete samples "
            f"({min_samples_per_predictor} per predictor)"
        )
    return SubsetMember(name, [tuple(s) for s in subsets], models, X.shape[1]), counts
