"""Support-vector-regression member: epsilon-SVR with an RBF kernel (scikit-learn/libsvm).

Training: SVR costs grow with the square of the samples, so the training set is capped by a
stratified subsample (quantile bins of ``y``; cap ``max_samples``, default 3000), and both
the cap and the samples actually used are recorded in ``meta`` with the support-vector count.
The target is modelled in m3 m-3 (not scaled), so ``epsilon`` (the half-width of the
insensitive tube) is in m3 m-3; features are standardised. ``gamma`` may be a number,
``"scale"`` (1 / (p var(Z)), scikit-learn's rule, resolved at fitting and kept in ``meta``)
or ``"auto"`` (1 / p).

Fast inference: the decision function ``sum_i a_i exp(-gamma |z - s_i|^2) + b`` is computed
for sub-blocks of rows as one matrix product of augmented vectors,
``[2 gamma z, -gamma |z|^2, 1] . [s, 1, -gamma |s|^2]`` (= ``-gamma |z - s|^2``), an in-place
``exp`` and a matrix-vector product with the dual coefficients, in a reused buffer of about
:data:`SUB_BLOCK_ELEMENTS` entries, on ``n_jobs`` threads (BLAS single-threaded in each).
It is float64: float32 was measured 2x faster (1.3 vs 2.5 s per million rows for 1754 support
vectors, one core) but its error reached 4.7e-5 m3 m-3 for C = 30 (cancellation in the
exponent and in sums of large dual coefficients of both signs), beyond the 1e-5 budget;
float64 agrees with libsvm to ~1e-13. libsvm itself took 37 s per million rows for the same
model. Where the float32 error comes from was measured on 200,000 rows (1862 / 1901 support
vectors at C = 1 / 30): all float32, 2.0e-5 / 4.7e-4 m3 m-3; float64 exponent and dual sum
with only the exp in float32, 4.0e-6 / 1.1e-4. So the rounding of the kernel values
themselves, summed with dual coefficients of up to C and both signs, breaks the budget; no
float32 variant passes at C = 1. Sub-blocks of 2^14 to 2^19 entries run within 10 % of each
other (the exp is 60 % of the time, the exponent's matrix product 30 %).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.svm import SVR

from .base import FittedMember, MemberError

#: Kernel entries (rows x support vectors) evaluated per sub-block: 4 MiB of float64.
SUB_BLOCK_ELEMENTS = 1 << 19


def resolve_gamma(gamma: float | str, Z: np.ndarray) -> float:
    """The RBF ``gamma`` for standardised training features ``Z`` (n, p)."""
    if gamma == "scale":
        var = float(Z.var())
        return 1.0 / (Z.shape[1] * var) if var > 0 else 1.0
    if gamma == "auto":
        return 1.0 / Z.shape[1]
    if isinstance(gamma, str) or not float(gamma) > 0:
        raise MemberError(f"SVR gamma must be 'scale', 'auto' or a positive number, got {gamma!r}")
    return float(gamma)


class SupportVectorMember(FittedMember):
    """Epsilon-SVR, RBF kernel, training set capped by a stratified subsample."""

    name = "svr"
    long_name = "support-vector regression (RBF kernel)"
    defaults = {"C": 1.0, "epsilon": 0.01, "gamma": "scale"}
    default_max_samples = 3000
    stochastic = True  # through the subsample, when the cap applies
    thread_rows = True

    @classmethod
    def _fit_model(
        cls, Z: np.ndarray, t: np.ndarray, params: dict[str, Any], seed: int, n_jobs: int
    ) -> tuple[Any, dict[str, Any], Any]:
        gamma = resolve_gamma(params["gamma"], Z)
        model = SVR(
            kernel="rbf", C=float(params["C"]), epsilon=float(params["epsilon"]), gamma=gamma
        ).fit(Z, t)
        extra = {"n_support": int(model.support_vectors_.shape[0]), "gamma": gamma}
        return model, extra, None

    def _prepare(self) -> None:
        S = np.asarray(self.model.support_vectors_, dtype=np.float64)
        gamma = float(self.meta["gamma"])
        self._gamma = gamma
        # (p + 2, n_sv): rows s, 1, -gamma |s|^2
        self._Sa = np.ascontiguousarray(
            np.vstack([S.T, np.ones(S.shape[0]), -gamma * np.einsum("ij,ij->i", S, S)])
        )
        self._coef = np.ascontiguousarray(self.model.dual_coef_[0], dtype=np.float64)
        self._intercept = float(self.model.intercept_[0])
        self._sub_rows = int(np.clip(SUB_BLOCK_ELEMENTS // max(1, S.shape[0]), 16, 8192))

    def _predict_library(self, Z: np.ndarray) -> np.ndarray:
        return self.model.predict(Z)

    def _predict_fast(self, Z: np.ndarray) -> np.ndarray:
        n, p = Z.shape
        res = np.empty(n, dtype=np.float64)
        if self._coef.size == 0:  # no support vectors: the model is its intercept
            res.fill(self._intercept)
            return res
        sub = min(self._sub_rows, n)
        xa = np.empty((sub, p + 2), dtype=np.float64)
        xa[:, p + 1] = 1.0
        kern = np.empty((sub, self._coef.size), dtype=np.float64)
        for r0 in range(0, n, sub):
            m = min(sub, n - r0)
            zb = Z[r0 : r0 + m]
            np.multiply(zb, 2.0 * self._gamma, out=xa[:m, :p])
            xa[:m, p] = np.einsum("ij,ij->i", zb, zb)
            xa[:m, p] *= -self._gamma
            k = kern[:m]
            np.matmul(xa[:m], self._Sa, out=k)
            np.exp(k, out=k)
            np.matmul(k, self._coef, out=res[r0 : r0 + m])
        res += self._intercept
        return res
