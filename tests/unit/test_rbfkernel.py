import numpy as np
import pytest
from numba import njit
from sklearn.svm import SVR

from smdownscale.members.rbfkernel import TILE_ROWS, exp2, rbf_decision, rbf_terms


@njit
def _exp2_all(t):
    out = np.empty_like(t)
    for i in range(t.size):
        out[i] = exp2(t[i])
    return out


def test_exp2_is_accurate_over_the_whole_range_and_clamped_below():
    t = np.concatenate(
        [np.linspace(-1020.0, 1023.0, 200_001), np.linspace(-1.0, 1.0, 10_001), [0.0, -0.5, 0.5]]
    )
    got = _exp2_all(t)
    np.testing.assert_allclose(got, np.exp2(t), rtol=1e-14, atol=0)
    assert _exp2_all(np.array([1.0, 10.0, 0.0]))[2] == 1.0
    far = _exp2_all(np.array([-1021.0, -5000.0, -np.inf]))
    np.testing.assert_array_equal(far, np.exp2(-1020.0))  # taken as 2^-1020 (~9e-308)


def direct(Z, S, coef, gamma, intercept):
    d2 = ((Z[:, None, :] - S[None, :, :]) ** 2).sum(axis=2)
    return np.exp(-gamma * d2) @ coef + intercept


@pytest.mark.parametrize("p", [1, 3, 6])
@pytest.mark.parametrize("n", [0, 1, TILE_ROWS + 1, 3 * TILE_ROWS - 5])
def test_decision_matches_the_direct_formula(p, n):
    rng = np.random.default_rng(p * 100 + n)
    S = rng.normal(size=(70, p))
    coef = rng.normal(0.0, 3.0, 70)
    Z = rng.normal(size=(n, p)) * 1.5
    if n > 2:
        Z[1] = 40.0  # every exponent below the clamp: the decision is the intercept
    W, c, neg_gamma2 = rbf_terms(S, 0.3)
    got = rbf_decision(Z, W, c, coef, neg_gamma2, 0.12)
    assert got.shape == (n,) and got.dtype == np.float64
    np.testing.assert_allclose(got, direct(Z, S, coef, 0.3, 0.12), rtol=0, atol=1e-12)


def test_no_support_vectors_gives_the_intercept():
    W, c, g = rbf_terms(np.empty((0, 4)), 0.5)
    got = rbf_decision(np.ones((5, 4)), W, c, np.empty(0), g, 0.25)
    np.testing.assert_array_equal(got, 0.25)


def test_decision_agrees_with_libsvm_for_large_dual_coefficients():
    """Within 1e-11 m3 m-3 of libsvm's own decision (measured 5e-14; float32 missed 1e-5)."""
    rng = np.random.default_rng(4)
    Z = rng.normal(size=(900, 6))
    y = 0.25 + 0.05 * np.tanh(Z[:, 0] - Z[:, 1] * Z[:, 2]) + rng.normal(0, 0.02, 900)
    model = SVR(kernel="rbf", C=100.0, epsilon=0.001, gamma=0.5).fit(Z, y)
    assert np.abs(model.dual_coef_).sum() > 300  # large coefficients of both signs
    Q = rng.normal(size=(3000, 6)) * 1.3
    W, c, g = rbf_terms(model.support_vectors_, 0.5)
    got = rbf_decision(Q, W, c, model.dual_coef_[0], g, float(model.intercept_[0]))
    np.testing.assert_allclose(got, model.predict(Q), rtol=0, atol=1e-11)
