"""Support-vector-regression member: epsilon-SVR with an RBF kernel (scikit-learn/libsvm).

Training: SVR costs grow with the square of the samples, so the training set is capped by a
stratified subsample (quantile bins of ``y``; cap ``max_samples``, default 3000), and both
the cap and the samples actually used are recorded in ``meta`` with the support-vector count.
The target is modelled in m3 m-3 (not scaled), so ``epsilon`` (the half-width of the
insensitive tube) is in m3 m-3; features are standardised. ``gamma`` may be a number,
``"scale"`` (1 / (p var(Z)), scikit-learn's rule, resolved at fitting and kept in ``meta``)
or ``"auto"`` (1 / p).

Fast inference: the decision function ``sum_i a_i exp(-gamma |z - s_i|^2) + b`` is computed
by one compiled pass (:mod:`.rbfkernel`): exponent, exponential and weighted sum for a tile
of rows at a time, in registers, float64 throughout, on ``n_jobs`` threads. It agrees with
libsvm to ~1e-13 m3 m-3 (3e-12 at C = 30). Measured on this machine (Xeon, AVX-512; 1862
support vectors, 1 M rows, one core): 1.4 s, against 2.5 s for the earlier float64 form
(a matrix product of augmented vectors, ``np.exp`` in place and a matrix-vector product, in
sub-blocks: the exp was 60 % of the time, the exponent's matrix product 30 %) and 37 s for
libsvm. float32 was measured 2x faster than that earlier form but its error reached 4.7e-5
m3 m-3 for C = 30 (cancellation in the exponent and in sums of large dual coefficients of
both signs), beyond the 1e-5 budget: on 200,000 rows (1862 / 1901 support vectors at C = 1 /
30), all float32 gave 2.0e-5 / 4.7e-4 m3 m-3, and float64 exponent and dual sum with only
the exp in float32 4.0e-6 / 1.1e-4. So the rounding of the kernel values themselves, summed
with dual coefficients of up to C and both signs, breaks the budget; no float32 variant
passes at C = 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.svm import SVR

from .base import FittedMember, MemberError
from .rbfkernel import rbf_decision, rbf_terms


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
        self._terms = rbf_terms(self.model.support_vectors_, float(self.meta["gamma"]))
        self._coef = np.ascontiguousarray(self.model.dual_coef_[0], dtype=np.float64)
        self._intercept = float(self.model.intercept_[0])

    def _predict_library(self, Z: np.ndarray) -> np.ndarray:
        return self.model.predict(Z)

    def _predict_fast(self, Z: np.ndarray) -> np.ndarray:
        W, c, neg_gamma2 = self._terms
        return rbf_decision(Z, W, c, self._coef, neg_gamma2, self._intercept)
