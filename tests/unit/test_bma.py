"""BMA at stations: bias terms, the emcee posterior, diagnostics, the mode, the moments."""

import numpy as np
import pytest
from scipy.stats import norm

from smdownscale import bma


def em_bma(y, mu, iters=5000, tol=1e-12):
    """Raftery et al. (2005) EM for the BMA weights and common sigma (ensembleBMA's method),
    written here independently of the module as a check of its posterior mode."""
    n, K = mu.shape
    w = np.full(K, 1.0 / K)
    s2 = np.mean((y - mu.mean(axis=1)) ** 2)
    ll_old = -np.inf
    for _ in range(iters):
        dens = w * norm.pdf(y[:, None], loc=mu, scale=np.sqrt(s2))
        tot = dens.sum(axis=1, keepdims=True)
        z = dens / tot
        w = z.mean(axis=0)
        s2 = float((z * (y[:, None] - mu) ** 2).sum() / n)
        ll = float(np.log(tot).sum())
        if ll - ll_old < tol:
            break
        ll_old = ll
    return w, np.sqrt(s2)


def synthetic_station(n, seed, good=1, noise=0.005):
    """Truth, and four members: member `good` is truth + small noise; the others biased
    (offset and slope) and noisy, beyond what a linear correction can repair."""
    rng = np.random.default_rng(seed)
    t = 0.2 + 0.08 * np.sin(np.arange(n) / 9.0) + 0.03 * rng.standard_normal(n)
    F = np.empty((n, 4))
    for k in range(4):
        if k == good:
            F[:, k] = t + noise * rng.standard_normal(n)
        else:
            F[:, k] = 0.05 + 0.7 * t + 0.04 * rng.standard_normal(n)
    y = t + 0.004 * rng.standard_normal(n)
    return y, F


def test_fit_bias_recovers_linear_relations_and_degenerate_member():
    rng = np.random.default_rng(0)
    f = rng.uniform(0.05, 0.4, 500)
    y = 0.03 + 0.8 * f
    F = np.column_stack([f, (y - 0.01) / 1.2, np.full(500, 0.2)])
    a, b, se = bma.fit_bias(y, F)
    np.testing.assert_allclose([a[0], b[0]], [0.03, 0.8], atol=1e-12)
    np.testing.assert_allclose([a[1], b[1]], [0.01, 1.2], atol=1e-12)
    # constant member: offset only, slope not identified
    assert b[2] == 1.0 and a[2] == pytest.approx(np.mean(y) - 0.2)
    assert np.isinf(se[1, 2]) and np.all(se[:, :2] < 1e-10)


def test_shrinkage_moves_toward_pooled_with_few_pairs():
    a, b = np.array([0.1]), np.array([2.0])
    ap, bp = np.array([0.0]), np.array([1.0])
    a1, b1, lam1 = bma.shrink_bias(a, b, 10, ap, bp, n0=30)
    assert lam1 == 0.25 and a1[0] == pytest.approx(0.025) and b1[0] == pytest.approx(1.25)
    a2, _, lam2 = bma.shrink_bias(a, b, 3000, ap, bp, n0=30)
    assert lam2 > 0.99 and a2[0] == pytest.approx(0.1, abs=1e-3)
    assert bma.shrink_bias(a, b, 10, ap, bp, n0=0)[2] == 1.0
    with pytest.raises(bma.BMAError, match="n0"):
        bma.shrink_bias(a, b, 10, ap, bp, n0=-1)


def test_posterior_favours_the_true_member_and_interval_excludes_the_others():
    y, F = synthetic_station(400, seed=1, good=1)
    a, b, _ = bma.fit_bias(y, F)
    mu = a + b * F
    s = bma.SamplerSettings(walkers=24, steps=1500, burn_in=500, thin=2, min_ess=200)
    post = bma.sample_posterior(y, mu, s, seed=3)
    summ = post.summary()
    others = np.delete(summ["w_mean"], 1)
    assert summ["w_mean"][1] > 0.8
    assert summ["w_q025"][1] > others.max()
    assert summ["w_q025"][1] <= summ["w_mean"][1] <= summ["w_q975"][1]
    assert np.allclose(post.w.sum(axis=1), 1.0) and (post.w >= 0).all()
    d = post.diagnostics
    assert d.converged, d.reasons
    assert 0.15 < d.acceptance < 0.85 and d.ess > 200 and d.tau.shape == (4,)
    # sigma near the true member's error (noise 0.005 and 0.004 in quadrature)
    assert 0.004 < summ["sigma_mean"] < 0.009


def test_sampling_is_deterministic_given_seed():
    y, F = synthetic_station(120, seed=2)
    s = bma.SamplerSettings(walkers=12, steps=300, burn_in=100, thin=1, min_ess=10)
    p1 = bma.sample_posterior(y, F, s, seed=5)
    p2 = bma.sample_posterior(y, F, s, seed=5)
    p3 = bma.sample_posterior(y, F, s, seed=6)
    np.testing.assert_array_equal(p1.w, p2.w)
    assert not np.array_equal(p1.w, p3.w)


def test_posterior_mode_agrees_with_em_on_a_large_sample():
    rng = np.random.default_rng(7)
    n = 3000
    # a genuine mixture: each day one of three forecasts is right
    truth_w = np.array([0.5, 0.3, 0.2])
    mu = rng.uniform(0.05, 0.45, (n, 3))
    pick = rng.choice(3, size=n, p=truth_w)
    y = mu[np.arange(n), pick] + 0.02 * rng.standard_normal(n)
    w_em, s_em = em_bma(y, mu)
    w_map, s_map = bma.map_estimate(y, mu, alpha=1.0, sigma_scale=10.0)
    np.testing.assert_allclose(w_map, w_em, atol=2e-3)
    assert s_map == pytest.approx(s_em, rel=2e-3)
    np.testing.assert_allclose(w_em, truth_w, atol=0.04)
    # and the sampled posterior concentrates there
    s = bma.SamplerSettings(walkers=12, steps=400, burn_in=150, thin=2, min_ess=50)
    post = bma.sample_posterior(y, mu, s, seed=1)
    np.testing.assert_allclose(post.w.mean(axis=0), w_em, atol=0.02)


def test_chain_too_short_is_flagged_not_used():
    y, F = synthetic_station(100, seed=4)
    s = bma.SamplerSettings(walkers=8, steps=60, burn_in=10, thin=1, min_chain_tau=50)
    d = bma.sample_posterior(y, F, s, seed=0).diagnostics
    assert not d.converged
    assert any("tau" in r or "effective" in r for r in d.reasons)


def test_settings_reject_burn_in_past_the_chain():
    with pytest.raises(bma.BMAError, match="burn_in"):
        bma.SamplerSettings(steps=100, burn_in=100)


def test_bma_mean_stays_within_members_without_bias_terms():
    rng = np.random.default_rng(0)
    f = rng.uniform(0.0, 0.5, (1000, 4))
    w = rng.dirichlet(np.ones(4), 1000)
    zero, one = np.zeros(4), np.ones(4)
    mean, sd = bma.bma_moments(w, zero, one, np.full(1000, 0.01), f)
    assert (mean >= f.min(axis=1) - 1e-12).all() and (mean <= f.max(axis=1) + 1e-12).all()
    assert (sd >= 0.01).all()


@pytest.mark.parametrize("a, direction", [(0.1, 1), (-0.1, -1)])
def test_bma_mean_leaves_the_range_only_through_bias_terms(a, direction):
    f = np.array([[0.20, 0.22, 0.25, 0.21]])
    w = np.full((1, 4), 0.25)
    mean, sd = bma.bma_moments(w, np.full(4, a), np.ones(4), np.array([0.0]), f)
    if direction > 0:
        assert mean[0] > f.max()
    else:
        assert mean[0] < f.min()
    # slope alone can do it too: b = 2 doubles every forecast
    mean_b, _ = bma.bma_moments(w, np.zeros(4), np.full(4, 2.0), np.array([0.0]), f)
    assert mean_b[0] > f.max()
    # the variance is the weighted spread of the corrected forecasts plus sigma^2
    g = a + f[0]
    np.testing.assert_allclose(sd[0] ** 2, np.mean((g - g.mean()) ** 2))


def test_clip_and_alternatives():
    m, low, high = bma.clip_physical(np.array([-0.01, 0.3, 0.7]), 0.6)
    np.testing.assert_array_equal(m, [0.0, 0.3, 0.6])
    assert low.tolist() == [True, False, False] and high.tolist() == [False, False, True]
    mean, sd = bma.equal_weight(np.array([[0.1, 0.3]]))
    assert mean[0] == pytest.approx(0.2) and sd[0] == pytest.approx(0.1)
    assert bma.best_member({"rf": 0.03, "svr": 0.02, "xgb": 0.02}, ["rf", "xgb", "svr"]) == "xgb"
    with pytest.raises(bma.BMAError, match="no held-out RMSE"):
        bma.best_member({"rf": np.nan}, ["rf"])


def test_best_member_table_and_chosen_member_block():
    import pandas as pd

    scores = pd.DataFrame(
        {
            "period": ["p1"] * 4 + ["p2"] * 2,
            "region": [0, 0, 1, 1, 0, 0],
            "member": ["rf", "xgb", "rf", "xgb", "rf", "xgb"],
            "rmse": [0.03, 0.02, 0.01, 0.05, np.nan, 0.04],
        }
    )
    best = bma.best_member_table(scores, ["rf", "xgb"])
    assert best.to_dict("records") == [
        {"period": "p1", "region": 0, "member": "xgb", "rmse": 0.02},
        {"period": "p1", "region": 1, "member": "rf", "rmse": 0.01},
        {"period": "p2", "region": 0, "member": "xgb", "rmse": 0.04},
    ]
    f = np.stack([np.full((2, 2, 3), 0.1), np.full((2, 2, 3), 0.3)], axis=-1)  # rf, xgb
    labels = np.array([[0, 0, 1], [1, -1, 2]])
    mean, sd = bma.chosen_member(f, labels, {0: (1, 0.02), 1: (0, 0.01)})
    np.testing.assert_allclose(mean[0], [[0.3, 0.3, 0.1], [0.1, np.nan, np.nan]])
    np.testing.assert_allclose(sd[1], [[0.02, 0.02, 0.01], [0.01, np.nan, np.nan]])
