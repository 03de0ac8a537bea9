"""The interface every member shares: fitting on coarse samples, fast blocked prediction.

A member is a regression model fitted per (16-day period, region) on coarse cell-days
(features ``X``: predictors such as LST [K], NDVI, albedo, elevation [m], slope, precipitation
[mm/d]; target ``y``: soil moisture [m3 m-3]) and applied to every fine (1 km) cell-day.

Conventions (METHOD.md sections 5-6):

- Features are standardised, ``z = (x - mean) / sd``, with statistics computed on the full
  training ``X`` handed to :meth:`FittedMember.fit` (before any subsample) and stored beside
  the model. A constant feature gets ``sd = 1`` (it standardises to 0 instead of dividing by
  zero). Standardisation is done in float64 by one row-wise function,
  :func:`~.standardising.standardise`, for the fast and the reference path alike, so both
  paths hand identical inputs to the model.
- Features are clamped to the training range (``x_min``, ``x_max``, stored beside the model)
  before standardising. A member is fitted on coarse (0.25 deg) aggregates and applied to
  1 km cells, whose predictors spread wider (a 1 km LST is hotter than any 25 km mean): a
  linear member extrapolated there without bound (values of -0.8 and 13.7 m3 m-3 were seen),
  so extrapolation is stopped at its cause. Trees are unaffected (a value beyond the
  training range already falls in the same leaf as the range's end).
- Some members also model a standardised target (``scale_target``); their predictions are
  mapped back with the stored ``y_mean``/``y_sd``. All predictions are in m3 m-3.
- A row with any non-finite feature (NaN, or +-inf) predicts NaN; the model never sees a
  value made up for it (such rows are zero-filled only to keep the arrays rectangular, and
  their outputs are overwritten with NaN).
- ``predict`` is the fast path: rows are processed in blocks of ``block_rows`` written into a
  preallocated float32 output, so its working memory does not grow with ``len(X)``.
  ``predict_naive`` is the reference: the library's own ``predict`` on the whole standardised
  array. The two agree to 1e-5 m3 m-3 (the unit tests check this for every member).
- Fitting is deterministic given ``seed``: the training subsample, and every library seed.
  ``n_jobs`` (default 2) is set explicitly for fitting and prediction.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from threadpoolctl import threadpool_limits

from ..formats import MEMBER_FORMAT
from .standardising import standardise

#: Rows standardised and predicted at once by :meth:`FittedMember.predict`: about 12 MiB of
#: float64 features for six predictors, whatever the number of rows predicted.
BLOCK_ROWS = 1 << 18
#: Threads used for fitting and prediction unless told otherwise (the workflow's jobs get 2).
DEFAULT_N_JOBS = 2
#: Fewest rows handed to one thread at a time by the numpy/BLAS kernels.
THREAD_ROWS_MIN = 4096
#: Quantile bins of ``y`` used to stratify training subsamples.
STRATA = 10
#: Tag of the serialised form (see :mod:`smdownscale.formats`).
FORMAT = MEMBER_FORMAT
#: What to do with a member saved in another format.
REFIT = "refit it with this version (delete the period's models file and rerun the workflow)"


class MemberError(ValueError):
    """A member cannot be fitted, loaded or applied as asked (the message says why)."""


def feature_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (ddof 0) of ``X``; a zero sd is replaced by 1."""
    mean = X.mean(axis=0)
    sd = X.std(axis=0)
    sd[~(sd > 0)] = 1.0
    return mean, sd


def stratified_subsample(
    y: np.ndarray, cap: int | None, seed: int, strata: int = STRATA
) -> np.ndarray:
    """Sorted indices of at most ``cap`` samples, stratified by quantile bins of ``y``.

    ``y`` is cut into ``strata`` bins at its quantiles; each bin contributes in proportion to
    its size (largest-remainder rounding, so exactly ``cap`` samples are drawn), uniformly at
    random without replacement within the bin. Every index when ``cap`` is None or
    ``len(y) <= cap``. Deterministic given ``seed``.
    """
    n = y.size
    if cap is None or n <= cap:
        return np.arange(n)
    if cap < 1:
        raise MemberError(f"subsample cap must be at least 1, got {cap}")
    edges = np.quantile(y, np.linspace(0.0, 1.0, strata + 1)[1:-1])
    bins = np.searchsorted(edges, y, side="right")
    counts = np.bincount(bins, minlength=strata)
    quota = counts * (cap / n)
    take = np.floor(quota).astype(np.int64)
    short = cap - int(take.sum())
    if short > 0:  # largest fractional parts first; ties to the lower bin
        order = np.lexsort((np.arange(strata), -(quota - take)))
        take[order[:short]] += 1
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(np.flatnonzero(bins == b), size=int(take[b]), replace=False)
        for b in range(strata)
        if take[b] > 0
    ]
    return np.sort(np.concatenate(picks))


def _check_training(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise MemberError(f"need X (n, p) and y (n,), got X {X.shape} and y {y.shape}")
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise MemberError(f"need at least 2 samples and 1 feature, got X {X.shape}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise MemberError("training X and y must be finite (drop invalid cell-days first)")
    return X, y


class FittedMember:
    """A fitted member: the library model plus everything needed to apply it.

    Subclasses (one per member, registered in :data:`smdownscale.members.MEMBERS`) set the
    class attributes and implement :meth:`_fit_model`, :meth:`_predict_library` and
    :meth:`_predict_fast`; they may override :meth:`_prepare` to build run-time caches.

    Attributes:
        params: the hyperparameters used (the member's defaults updated with those given).
        x_mean, x_sd: feature standardisation statistics, float64 (p,).
        x_min, x_max: the training range of each feature, float64 (p,); features are
            clamped to it before standardising.
        y_mean, y_sd: target scaling (0 and 1 for members that model ``y`` itself).
        n_train: training samples handed to :meth:`fit` (before any subsample).
        model: the fitted library model (fitted on standardised features).
        meta: JSON-friendly facts about the fit: ``n_fit`` (samples actually used),
            ``max_samples`` (the subsample cap, or None), ``seed``, and member specifics
            (e.g. SVR's ``n_support``).
        n_jobs: threads used by :meth:`predict` and :meth:`predict_naive` (may be changed
            after loading).
    """

    name: ClassVar[str] = ""
    #: What the member is, in words (the long_name of its predictions).
    long_name: ClassVar[str] = ""
    #: Default hyperparameters (read-only); their keys are the names a tuning grid may set.
    defaults: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    #: The hyperparameter names a tuning grid may set (the keys of ``defaults``).
    param_names: ClassVar[tuple[str, ...]] = ()
    #: True when the member models the standardised target.
    scale_target: ClassVar[bool] = False
    #: True when the fit depends on the seed (for SVR: when its subsample cap applies).
    stochastic: ClassVar[bool] = True
    #: Training-set cap used when :meth:`fit` is given ``max_samples=None``.
    default_max_samples: ClassVar[int | None] = None
    #: True when the fast kernel is numpy/BLAS work that :meth:`predict` may split across
    #: ``n_jobs`` Python threads (BLAS limited to one thread each); False when the library
    #: runs its own threads.
    thread_rows: ClassVar[bool] = False

    def __init__(
        self,
        *,
        params: Mapping[str, Any],
        x_mean: np.ndarray,
        x_sd: np.ndarray,
        x_min: np.ndarray,
        x_max: np.ndarray,
        y_mean: float,
        y_sd: float,
        n_train: int,
        model: Any,
        meta: Mapping[str, Any],
        fast_state: Any = None,
        n_jobs: int = DEFAULT_N_JOBS,
    ) -> None:
        self.params = dict(params)
        self.x_mean = np.asarray(x_mean, dtype=np.float64)
        self.x_sd = np.asarray(x_sd, dtype=np.float64)
        self.x_min = np.asarray(x_min, dtype=np.float64)
        self.x_max = np.asarray(x_max, dtype=np.float64)
        self.y_mean = float(y_mean)
        self.y_sd = float(y_sd)
        self.n_train = int(n_train)
        self.model = model
        self.meta = dict(meta)
        self.fast_state = fast_state
        self.n_jobs = int(n_jobs)
        self._prepare()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.defaults = MappingProxyType(dict(cls.defaults))
        cls.param_names = tuple(cls.defaults)

    # ----------------------------------------------------------------- class-level API

    @classmethod
    def resolve_params(cls, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """The defaults updated with ``params``; an unknown name raises :class:`MemberError`."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(cls.defaults))
        if unknown:
            allowed = ", ".join(cls.defaults) or "none"
            raise MemberError(
                f"unknown hyperparameter(s) {', '.join(map(repr, unknown))} for member "
                f"'{cls.name}' (allowed: {allowed})"
            )
        return {**cls.defaults, **params}

    @classmethod
    def fit(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        params: Mapping[str, Any] | None = None,
        seed: int = 0,
        max_samples: int | None = None,
        n_jobs: int = DEFAULT_N_JOBS,
    ) -> FittedMember:
        """Fit on coarse samples ``X`` (n, p) and ``y`` (n,) [m3 m-3]; see :func:`fit_member`."""
        resolved = cls.resolve_params(params)
        X, y = _check_training(X, y)
        x_mean, x_sd = feature_stats(X)
        if cls.scale_target:
            y_mean, y_sd = float(y.mean()), float(y.std())
            y_sd = y_sd if y_sd > 0 else 1.0
        else:
            y_mean, y_sd = 0.0, 1.0
        cap = cls.default_max_samples if max_samples is None else int(max_samples)
        idx = stratified_subsample(y, cap, seed)
        Z = (X[idx] - x_mean) / x_sd
        t = (y[idx] - y_mean) / y_sd
        model, extra, fast_state = cls._fit_model(Z, t, resolved, int(seed), int(n_jobs))
        meta = {"n_fit": int(idx.size), "max_samples": cap, "seed": int(seed), **extra}
        return cls(
            params=resolved,
            x_mean=x_mean,
            x_sd=x_sd,
            x_min=X.min(axis=0),
            x_max=X.max(axis=0),
            y_mean=y_mean,
            y_sd=y_sd,
            n_train=X.shape[0],
            model=model,
            meta=meta,
            fast_state=fast_state,
            n_jobs=n_jobs,
        )

    # ----------------------------------------------------------------- hooks
    @classmethod
    def _fit_model(
        cls, Z: np.ndarray, t: np.ndarray, params: dict[str, Any], seed: int, n_jobs: int
    ) -> tuple[Any, dict[str, Any], Any]:
        """Fit the library model on standardised ``Z`` and (scaled) target ``t``.

        Returns the model, extra metadata, and any serialisable state the fast path needs
        (kept beside the model so loading does not recompute it).
        """
        raise NotImplementedError

    def _prepare(self) -> None:
        """Build run-time caches of the fast path (called after fitting and after loading)."""

    def _predict_library(self, Z: np.ndarray) -> np.ndarray:
        """The library's own ``predict`` on standardised features (scaled target units)."""
        raise NotImplementedError

    def _predict_fast(self, Z: np.ndarray) -> np.ndarray:
        """The fast kernel on a block of standardised features (scaled target units)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- prediction
    @property
    def n_features(self) -> int:
        return self.x_mean.size

    def _check_X(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise MemberError(
                f"member '{self.name}' was fitted on {self.n_features} features, "
                f"got an array of shape {X.shape}"
            )
        if not np.issubdtype(X.dtype, np.floating):
            X = X.astype(np.float64)
        return X

    def _standardise(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features clamped to the training range and standardised (see :func:`standardise`)."""
        return standardise(X, self.x_mean, self.x_sd, self.x_min, self.x_max)

    def predict(
        self, X: np.ndarray, *, block_rows: int = BLOCK_ROWS, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Fast prediction [m3 m-3] for every row of ``X`` (n, p): float32 (n,), NaN where a
        feature is not finite.

        Rows are processed in blocks of ``block_rows`` written into ``out`` (a float32 (n,)
        array, allocated when not given), so memory beyond ``X`` and ``out`` is bounded.
        """
        X = self._check_X(X)
        n = X.shape[0]
        if out is None:
            out = np.empty(n, dtype=np.float32)
        elif out.shape != (n,) or out.dtype != np.float32:
            raise MemberError(f"out must be float32 ({n},), got {out.dtype} {out.shape}")
        if n == 0:
            return out
        block_rows = max(1, int(block_rows))
        with self._fast_runner() as run:
            for r0 in range(0, n, block_rows):
                run(X[r0 : r0 + block_rows], out[r0 : r0 + block_rows])
        return out

    def _predict_rows(self, X: np.ndarray, out: np.ndarray) -> None:
        """Standardise rows ``X``, apply the fast kernel and write [m3 m-3] into ``out``."""
        Z, valid = self._standardise(X)
        res = self._predict_fast(Z)
        if self.scale_target:
            res = res * self.y_sd + self.y_mean
        out[:] = res
        out[~valid] = np.nan

    @contextlib.contextmanager
    def _fast_runner(self) -> Iterator[Any]:
        """Yield ``run(X, out)``: :meth:`_predict_rows` on a block of rows, split over
        ``n_jobs`` threads when the kernel may be (standardisation included)."""
        if not self.thread_rows or self.n_jobs <= 1:
            with threadpool_limits(max(1, self.n_jobs), user_api="blas"):
                yield self._predict_rows
            return
        with (
            threadpool_limits(1, user_api="blas"),
            ThreadPoolExecutor(self.n_jobs) as pool,
        ):

            def run(X: np.ndarray, out: np.ndarray) -> None:
                n = X.shape[0]
                # several pieces per thread: balanced even when another job slows one core
                step = max(THREAD_ROWS_MIN, -(-n // (4 * self.n_jobs)))

                def piece(a: int) -> None:
                    self._predict_rows(X[a : a + step], out[a : a + step])

                list(pool.map(piece, range(0, n, step)))

            yield run

    def predict_naive(self, X: np.ndarray) -> np.ndarray:
        """Reference prediction [m3 m-3]: the library's ``predict`` on the standardised ``X``
        in one call (float64, NaN where a feature is not finite), with ``n_jobs`` threads
        where the library has them (forests, XGBoost, BLAS)."""
        X = self._check_X(X)
        Z, valid = self._standardise(X)
        if X.shape[0] == 0:
            return np.empty(0)
        with threadpool_limits(max(1, self.n_jobs), user_api="blas"):
            res = np.asarray(self._predict_library(Z), dtype=np.float64).reshape(-1)
        res = res * self.y_sd + self.y_mean
        res[~valid] = np.nan
        return res

    # ----------------------------------------------------------------- serialisation
    def _state(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "x_mean": self.x_mean,
            "x_sd": self.x_sd,
            "x_min": self.x_min,
            "x_max": self.x_max,
            "y_mean": self.y_mean,
            "y_sd": self.y_sd,
            "n_train": self.n_train,
            "model": self.model,
            "meta": self.meta,
            "fast_state": self.fast_state,
            "n_jobs": self.n_jobs,
        }

    def __getstate__(self) -> dict[str, Any]:
        # pickling a member (e.g. inside a period's model bundle) stores the same state as
        # to_bytes; run-time caches are rebuilt on loading
        return {"format": FORMAT, "state": self._state()}

    def __setstate__(self, obj: dict[str, Any]) -> None:
        if obj.get("format") != FORMAT:
            raise MemberError(
                f"a member of format {obj.get('format')!r} cannot be loaded by this version "
                f"(format {FORMAT!r}): {REFIT}"
            )
        self.__init__(**obj["state"])

    def to_bytes(self) -> bytes:
        """Serialised member (pickle protocol 5; load with :meth:`from_bytes`).

        Pickle runs code on loading: load only files this workflow wrote.
        """
        return pickle.dumps(
            {"format": FORMAT, "member": self.name, "state": self._state()}, protocol=5
        )

    @staticmethod
    def from_bytes(data: bytes) -> FittedMember:
        """The member serialised by :meth:`to_bytes`, of its registered class."""
        from . import member_class

        obj = pickle.loads(data)  # noqa: S301 - the workflow's own files only
        if not isinstance(obj, dict) or "format" not in obj:
            raise MemberError(f"not a serialised member (format {FORMAT!r})")
        if obj["format"] != FORMAT:
            raise MemberError(
                f"a member of format {obj['format']!r} cannot be loaded by this version "
                f"(format {FORMAT!r}): {REFIT}"
            )
        return member_class(obj["member"])(**obj["state"])

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} '{self.name}' p={self.n_features} n_train={self.n_train} "
            f"params={self.params} meta={self.meta}>"
        )
