"""Feature standardisation of prediction rows: one compiled pass, the same bits as numpy.

``z = (clip(x, lo, hi) - mean) / sd`` in float64, a row valid when all its features are
finite before clamping and after standardising, invalid rows zero-filled. The numpy form of
the same (``np.clip``, then ``(X - mean) / sd``, then ``np.isfinite`` twice) took ~0.1 s per
million rows of six features on one core, in six passes over memory and five temporaries;
this kernel does it in one pass and its result is bit-identical (the same IEEE operations in
the same order, no fast-math), so the fast and the reference paths still hand identical
inputs to the models. It is compiled once per process for each input dtype (~0.3 s).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, boundscheck=False)
def _standardise_into(X, mean, sd, lo, hi, Z, valid):  # pragma: no cover - compiled
    n, p = X.shape
    for i in range(n):
        ok = True
        for j in range(p):
            x = np.float64(X[i, j])
            ok &= np.isfinite(x)  # before clamping, which would make +-inf finite
            z = (min(max(x, lo[j]), hi[j]) - mean[j]) / sd[j]
            ok &= np.isfinite(z)
            Z[i, j] = z
        valid[i] = ok
        if not ok:
            for j in range(p):
                Z[i, j] = 0.0


def standardise(
    X: np.ndarray,
    mean: np.ndarray,
    sd: np.ndarray,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Standardised float64 copy of ``X`` (n, p) and the mask of rows with all-finite features.

    With ``lo``/``hi`` (p,) the features are first clamped to ``[lo, hi]`` (the training
    range). Invalid rows are zero-filled in the copy (their predictions are discarded
    afterwards). The operation is row-wise, so standardising a block of rows gives exactly
    the rows of standardising the whole array.
    """
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    p = X.shape[1]
    lo = np.full(p, -np.inf) if lo is None else np.asarray(lo, dtype=np.float64)
    hi = np.full(p, np.inf) if hi is None else np.asarray(hi, dtype=np.float64)
    Z = np.empty(X.shape, dtype=np.float64)
    valid = np.empty(X.shape[0], dtype=np.bool_)
    mean = np.asarray(mean, dtype=np.float64)
    sd = np.asarray(sd, dtype=np.float64)
    _standardise_into(X, mean, sd, lo, hi, Z, valid)
    return Z, valid
