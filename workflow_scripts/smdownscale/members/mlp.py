"""Multilayer-perceptron member (optional fifth, paper 002): scikit-learn ``MLPRegressor``.

Trained with Adam and early stopping (10 % of the samples held out for validation) on
standardised features and a standardised target (mapped back with the stored mean and sd).
The fast path is the same float64 forward pass as the library (matrix products, activation),
on row blocks split over ``n_jobs`` threads; it agrees with ``MLPRegressor.predict`` to
~1e-15.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.neural_network import MLPRegressor

from .base import FittedMember, MemberError


def _activate(name: str, a: np.ndarray) -> np.ndarray:
    """Apply hidden-layer activation ``name`` to ``a`` in place (scikit-learn's definitions)."""
    if name == "relu":
        np.maximum(a, 0.0, out=a)
    elif name == "tanh":
        np.tanh(a, out=a)
    elif name == "logistic":
        np.negative(a, out=a)
        np.exp(a, out=a)
        a += 1.0
        np.reciprocal(a, out=a)
    elif name != "identity":
        raise MemberError(f"unsupported MLP activation {name!r}")
    return a


class MLPMember(FittedMember):
    """Feed-forward neural network with early stopping."""

    name = "mlp"
    long_name = "multilayer perceptron"
    defaults = {
        "hidden_layer_sizes": (64, 32),
        "activation": "relu",
        "alpha": 1e-4,
        "learning_rate_init": 1e-3,
        "batch_size": "auto",
        "max_iter": 500,
        "n_iter_no_change": 10,
    }
    scale_target = True
    thread_rows = True

    @classmethod
    def _fit_model(
        cls, Z: np.ndarray, t: np.ndarray, params: dict[str, Any], seed: int, n_jobs: int
    ) -> tuple[Any, dict[str, Any], Any]:
        kw = dict(params, hidden_layer_sizes=tuple(params["hidden_layer_sizes"]))
        model = MLPRegressor(
            **kw, solver="adam", early_stopping=True, validation_fraction=0.1, random_state=seed
        ).fit(Z, t)
        return model, {"n_iter": int(model.n_iter_)}, None

    def _prepare(self) -> None:
        self._weights = [np.ascontiguousarray(w) for w in self.model.coefs_]
        self._biases = [np.asarray(b) for b in self.model.intercepts_]
        self._activation = self.model.activation
        if self.model.out_activation_ != "identity":
            raise MemberError(f"unexpected MLP output activation {self.model.out_activation_}")

    def _predict_library(self, Z: np.ndarray) -> np.ndarray:
        return self.model.predict(Z)

    def _predict_fast(self, Z: np.ndarray) -> np.ndarray:
        a = Z
        last = len(self._weights) - 1
        for i, (w, b) in enumerate(zip(self._weights, self._biases, strict=True)):
            a = a @ w
            a += b
            if i < last:
                _activate(self._activation, a)
        return a[:, 0]
