"""The BMA weights on the simplex: centred log-ratio, softmax and the delta method.

Weights: centred log-ratio, softmax and the delta method
``clr(w) = log(w) - mean(log(w))`` after flooring the weights at ``weight_floor``
(default 1e-6) and re-closing them to sum 1, so that a weight at or near 0 gives a large
negative but finite value (log(1e-6) minus the mean log weight: -9.5 for (0, 1/3, 1/3,
1/3)); weights above the floor are unchanged. Kriging is
linear with weights summing to one, so the kriged clr components still sum to zero; softmax
maps them back. The SD of a back-transformed weight uses the first-order delta method,
``dw_k/dz_j = w_k (delta_kj - w_j)``, with the clr components' kriging errors treated as
independent: ``var(w_k) = w_k^2 [sum_j w_j^2 s_j^2 + (1 - 2 w_k) s_k^2]``, where ``s_j`` is
the kriging SD of clr component j. This ignores the (negative) correlation between clr
components, which sum to zero, and the curvature of softmax; it is a scale for the
uncertainty of the weight maps, not an exact posterior SD.
"""

from __future__ import annotations

import numpy as np

from .geometry import KrigingError

#: Default floor applied to weights before the log-ratio (dimensionless).
WEIGHT_FLOOR = 1e-6

#: Prefix of the weight columns in a station parameter table.
WEIGHT_PREFIX = "w_"


def clr(w: np.ndarray, floor: float = WEIGHT_FLOOR, axis: int = -1) -> np.ndarray:
    """Centred log-ratio of weights on the simplex.

    Args:
        w: weights, (n, K) by default (components along ``axis``); non-negative.
        floor: weights below ``floor`` are raised to it and every row is re-closed to sum 1
            before taking logs, so zeros give finite values (about ``log(floor)``).
        axis: the component axis.

    Returns:
        ``log(w) - mean(log(w))`` along ``axis`` (float64, same shape); rows sum to 0.
    """
    if not floor > 0:
        raise KrigingError(f"the weight floor must be positive, got {floor}")
    w = np.maximum(np.asarray(w, dtype=np.float64), floor)
    w = w / w.sum(axis=axis, keepdims=True)
    lw = np.log(w)
    return lw - lw.mean(axis=axis, keepdims=True)


def clr_inverse(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``: the inverse of :func:`clr` (up to the floor).

    Returns non-negative weights summing to 1 along ``axis``, in ``z``'s float dtype.
    """
    z = np.asarray(z)
    if not np.issubdtype(z.dtype, np.floating):
        z = z.astype(np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def weights_sd(w: np.ndarray, z_sd: np.ndarray, axis: int = -1) -> np.ndarray:
    """Delta-method SD of softmax weights from the SDs of their clr components.

    ``dw_k/dz_j = w_k (delta_kj - w_j)``; with the components' errors treated as independent,
    ``var(w_k) = sum_j (w_k (delta_kj - w_j))^2 s_j^2 = w_k^2 [S + (1 - 2 w_k) s_k^2]`` with
    ``S = sum_j w_j^2 s_j^2``. First order, correlations between clr components ignored (see
    the module docstring).

    Args:
        w: back-transformed weights (components along ``axis``).
        z_sd: kriging SDs of the clr components, same shape.
    """
    w = np.asarray(w)
    s2 = np.square(np.asarray(z_sd, dtype=w.dtype))
    w2 = w * w
    total = (w2 * s2).sum(axis=axis, keepdims=True)
    var = w2 * (total + (1.0 - 2.0 * w) * s2)
    return np.sqrt(np.maximum(var, 0.0))
