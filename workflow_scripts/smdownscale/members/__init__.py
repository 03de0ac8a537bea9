"""Regression members fitted per (period, region) on coarse samples and applied at 1 km.

Public API::

    MEMBERS                      # name -> member class ("rf", "mlr", "svr", "xgb", "mlp")
    fit_member(name, X, y, params, seed, max_samples=None, n_jobs=2) -> FittedMember
    member.predict(X)            # fast path, float32 (n,), blocked, NaN rows -> NaN
    member.predict_naive(X)      # reference: the library's predict on standardised X
    member.to_bytes() / FittedMember.from_bytes(data); save_member / load_member (files)
    predict_members(members, X)  # several members over the same rows, float32 (m, n)
    load_models(path)            # a pickled period bundle of members (format errors name it)

Each member class exposes ``defaults`` (read-only mapping) and ``param_names`` (the names a
tuning grid may set). Adding a member is one module defining a :class:`FittedMember`
subclass plus one line in :data:`MEMBERS`. See :mod:`.base` for the conventions.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from .base import BLOCK_ROWS, DEFAULT_N_JOBS, FittedMember, MemberError
from .mlp import MLPMember
from .mlr import LinearMember
from .rf import RandomForestMember
from .svr import SupportVectorMember
from .xgb import XGBoostMember

#: Registered members by name.
MEMBERS: dict[str, type[FittedMember]] = {
    "rf": RandomForestMember,
    "mlr": LinearMember,
    "svr": SupportVectorMember,
    "xgb": XGBoostMember,
    "mlp": MLPMember,
}

__all__ = [
    "BLOCK_ROWS",
    "MEMBERS",
    "FittedMember",
    "MemberError",
    "fit_member",
    "load_member",
    "load_models",
    "member_class",
    "predict_members",
    "save_member",
]


def member_class(name: str) -> type[FittedMember]:
    """The registered class of member ``name``; an unknown name raises :class:`MemberError`."""
    try:
        return MEMBERS[name]
    except KeyError:
        raise MemberError(
            f"unknown member {name!r} (known: {', '.join(sorted(MEMBERS))})"
        ) from None


def fit_member(
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    params: Mapping[str, Any] | None,
    seed: int,
    max_samples: int | None = None,
    n_jobs: int = DEFAULT_N_JOBS,
) -> FittedMember:
    """Fit member ``name`` on coarse samples.

    Args:
        name: a key of :data:`MEMBERS`.
        X: features (n, p), finite (e.g. LST [K], NDVI, albedo, elevation [m], slope,
            precipitation [mm/d]); standardised internally with statistics kept in the member.
        y: soil moisture (n,) [m3 m-3], finite.
        params: hyperparameters overriding the member's ``defaults`` (None or {} keeps them);
            an unknown name raises :class:`MemberError` naming it.
        seed: seed of every random step (training subsample, library seeds).
        max_samples: cap on the training samples (stratified subsample by quantile bins of
            ``y``); None means the member's default (3000 for SVR, no cap otherwise).
        n_jobs: threads for fitting and prediction.
    """
    return member_class(name).fit(X, y, params, seed, max_samples, n_jobs)


def save_member(member: FittedMember, path: str | Path) -> Path:
    """Write ``member.to_bytes()`` to ``path`` atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(member.to_bytes())
    return path


def load_member(path: str | Path) -> FittedMember:
    """The member written by :func:`save_member` (only load files this workflow wrote)."""
    return FittedMember.from_bytes(Path(path).read_bytes())


def load_models(path: str | Path) -> Any:
    """A pickled object holding members (a period's model bundle), written by this workflow.

    A member saved by an incompatible version raises :class:`MemberError` naming ``path``.
    """
    try:
        with open(path, "rb") as f:
            return pickle.load(f)  # noqa: S301 - the workflow's own files only
    except MemberError as err:
        raise MemberError(f"{path}: {err}") from None


def predict_members(
    members: Sequence[FittedMember],
    X: np.ndarray,
    *,
    block_rows: int = BLOCK_ROWS,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Fast predictions of several members for the same rows: float32 (len(members), n).

    Each member predicts in its own row blocks into its row of ``out``; memory beyond ``X``
    and ``out`` stays bounded.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise MemberError(f"X must be (n, p), got shape {X.shape}")
    n = X.shape[0]
    if out is None:
        out = np.empty((len(members), n), dtype=np.float32)
    if out.shape != (len(members), n) or out.dtype != np.float32:
        raise MemberError(f"out must be float32 ({len(members)}, {n}), got {out.dtype} {out.shape}")
    for i, member in enumerate(members):
        member.predict(X, block_rows=block_rows, out=out[i])
    return out
