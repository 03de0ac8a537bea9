"""The RBF-kernel decision function ``sum_i a_i exp(-gamma |z - s_i|^2) + b``, fused.

One compiled pass per tile of :data:`TILE_ROWS` rows: for each support vector the exponent
of every row of the tile, its exponential and the weighted sum are computed in registers,
vectorised over the rows (no kernel matrix in memory, no reduction across vector lanes: each
row sums its support vectors in their stored order, in float64).

Exponent. In base 2 and augmented form, ``t = q_r + c_i + z_r . w_i`` with
``q_r = -gamma log2(e) |z_r|^2``, ``c_i = -gamma log2(e) |s_i|^2`` and
``w_i = 2 gamma log2(e) s_i``, the same expansion the matrix-product form used (its
cancellation costs ~1e-15 in ``t`` for standardised features).

Exponential. ``2^t = 2^k 2^f`` with ``k = round(t)`` and ``f = t - k`` in [-1/2, 1/2]: ``k``
is read from the bits of ``t + 1.5 2^52 + 1023`` (already biased: shifting its low bits to the
exponent field gives ``2^k``), ``2^f`` is its Taylor polynomial of degree 11 in ``f ln 2``
(relative truncation error below 1e-14; measured within 5e-16 of ``np.exp``). ``t`` is
clamped to -1020 first: a kernel value below 1e-307 is taken as 1e-307, which no sum of
dual coefficients can notice. The compiler may fuse a multiply and an add into one FMA
(``contract``), nothing else (no reassociation), so the rounding of ``k`` is kept exact.

The loop over features has the member's feature count as a compile-time constant (one
compilation per feature count, ~0.5 s), so the compiler unrolls it and vectorises over rows.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from .bitcast import bits_float, float_bits

#: Rows evaluated together (their transposed features stay in the L1 cache).
TILE_ROWS = 128
#: log2(e): the exponent is kept in base 2.
LOG2E = 1.4426950408889634
#: ``t + SHIFT`` rounds ``t`` to an integer ``k`` held in the low bits, biased by 1023.
SHIFT = 1.5 * 2.0**52 + 1023.0
#: Exponents are clamped here, well within the normal range of float64.
T_MIN = -1020.0
#: Taylor coefficients of ``2^f = exp(f ln 2)``, highest degree first.
_C = tuple(math.log(2.0) ** n / math.factorial(n) for n in range(11, -1, -1))


@intrinsic
def _prefer_wide_vectors(typingctx):  # pragma: no cover - compiled
    """Let the compiler vectorise the calling function with 512-bit vectors where the CPU
    has them (LLVM prefers 256-bit vectors on Intel cores with AVX-512; a function attribute
    overrides that). llvmlite validates attribute names against a fixed list, so the string
    attribute is added to its set directly (skipped if llvmlite's attributes are no longer a
    set: the kernel is then compiled with the default width, as correct and ~1.4x slower);
    a CPU without 512-bit vectors ignores it."""

    def codegen(context, builder, sig, args):
        attributes = builder.function.attributes
        if isinstance(attributes, set):
            set.add(attributes, '"prefer-vector-width"="512"')
        return context.get_dummy_value()

    return types.none(), codegen


@njit(inline="always", fastmath={"contract"})
def exp2(t):  # pragma: no cover - compiled
    """``2^t`` for ``t <= 1023`` (``t`` below -1020 is taken as -1020), float64."""
    t = max(t, T_MIN)
    kd = t + SHIFT
    scale = bits_float(float_bits(kd) << np.uint64(52))
    f = t - (kd - SHIFT)
    p = _C[0]
    p = p * f + _C[1]
    p = p * f + _C[2]
    p = p * f + _C[3]
    p = p * f + _C[4]
    p = p * f + _C[5]
    p = p * f + _C[6]
    p = p * f + _C[7]
    p = p * f + _C[8]
    p = p * f + _C[9]
    p = p * f + _C[10]
    p = p * f + _C[11]
    return p * scale


@functools.cache
def decision_kernel(p: int) -> Callable[..., None]:
    """The compiled ``kernel(Z, W, c, coef, neg_gamma2, intercept, out)`` for ``p`` features:
    ``out[r] = intercept + sum_i coef[i] 2^(q_r + c[i] + Z[r] . W[i])`` with
    ``q_r = neg_gamma2 |Z[r]|^2``; ``Z`` (n, p), ``W`` (m, p), ``c`` and ``coef`` (m,)."""

    @njit(nogil=True, boundscheck=False, fastmath={"contract"})
    def kernel(Z, W, c, coef, neg_gamma2, intercept, out):  # pragma: no cover - compiled
        _prefer_wide_vectors()
        n = Z.shape[0]
        m = W.shape[0]
        zt = np.empty((p, TILE_ROWS))
        q = np.empty(TILE_ROWS)
        acc = np.empty(TILE_ROWS)
        for r0 in range(0, n, TILE_ROWS):
            rows = min(TILE_ROWS, n - r0)
            for r in range(rows):
                s = 0.0
                for j in range(p):
                    z = Z[r0 + r, j]
                    zt[j, r] = z
                    s += z * z
                q[r] = neg_gamma2 * s
                acc[r] = 0.0
            for i in range(m):
                ci = c[i]
                ai = coef[i]
                for r in range(rows):
                    t = q[r] + ci
                    for j in range(p):
                        t += zt[j, r] * W[i, j]
                    acc[r] += ai * exp2(t)
            for r in range(rows):
                out[r0 + r] = acc[r] + intercept

    return kernel


def rbf_terms(S: np.ndarray, gamma: float) -> tuple[np.ndarray, np.ndarray, float]:
    """``W`` (m, p), ``c`` (m,) and ``neg_gamma2`` of support vectors ``S`` (m, p)."""
    S = np.asarray(S, dtype=np.float64)
    g2 = gamma * LOG2E
    W = np.ascontiguousarray(2.0 * g2 * S)
    c = -g2 * np.einsum("ij,ij->i", S, S)
    return W, c, -g2


def rbf_decision(
    Z: np.ndarray,
    W: np.ndarray,
    c: np.ndarray,
    coef: np.ndarray,
    neg_gamma2: float,
    intercept: float,
) -> np.ndarray:
    """The decision function (float64 (n,)) for rows ``Z`` (n, p) from :func:`rbf_terms`."""
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    out = np.empty(Z.shape[0], dtype=np.float64)
    if Z.shape[0]:
        decision_kernel(Z.shape[1])(Z, W, c, coef, neg_gamma2, intercept, out)
    return out
