"""Three-cornered hat error variances (smdownscale.tch; issue 17, item 4)."""

from __future__ import annotations

import numpy as np
import pytest

from smdownscale.tch import (
    PairSums,
    TCHError,
    design,
    error_variances,
    three_cornered_hat,
)


def products(sds, n_days, shape, rng, shared=None):
    """Products t + e_k with independent errors of SD ``sds[k]`` (per pixel: arrays
    broadcast to ``shape``) over a common truth; ``shared`` adds one error to all."""
    truth = 0.2 + 0.05 * rng.standard_normal((n_days, *shape))
    out = []
    for sd in sds:
        e = np.broadcast_to(sd, shape) * rng.standard_normal((n_days, *shape))
        out.append(truth + e + (0 if shared is None else shared))
    return np.stack(out)


def test_three_products_recover_their_known_error_sds():
    rng = np.random.default_rng(0)
    sds = (0.01, 0.02, 0.04)
    stack = products(sds, 4000, (3,), rng)
    sums = PairSums(3, (3,))
    sums.add(stack)
    res = three_cornered_hat(sums)
    for k, sd in enumerate(sds):
        np.testing.assert_allclose(res.sd[k], sd, rtol=0.08)
    assert not res.negative.any() and (res.n_days == 4000).all()


def test_five_products_per_pixel_least_squares_and_streaming_in_blocks():
    rng = np.random.default_rng(1)
    shape = (4, 5)
    sds = [np.full(shape, 0.01), np.full(shape, 0.02), np.linspace(0.005, 0.05, 20).reshape(shape),
           np.full(shape, 0.03), np.full(shape, 0.015)]  # fmt: skip
    stack = products(sds, 3000, shape, rng)
    stack[1, :100, 0, 0] = np.nan  # a product missing: those days drop at that pixel only
    whole = PairSums(5, shape)
    whole.add(stack)
    blocks = PairSums(5, shape)
    for d0 in range(0, 3000, 700):  # the same sums, one block of days at a time
        blocks.add(stack[:, d0 : d0 + 700])
    np.testing.assert_allclose(blocks.s2, whole.s2, rtol=1e-10)
    assert whole.n[0, 0] == 2900 and whole.n[1, 1] == 3000
    res = three_cornered_hat(blocks)
    for k in range(5):
        np.testing.assert_allclose(res.sd[k], sds[k], rtol=0.12, atol=0.0015)


def test_exact_for_three_products_and_known_difference_variances():
    # var(x1-x2) = 1 + 4, var(x1-x3) = 1 + 9, var(x2-x3) = 4 + 9: exactly 1, 4, 9
    v = np.array([5.0, 10.0, 13.0])[:, None]
    np.testing.assert_allclose(error_variances(v, 3)[:, 0], [1.0, 4.0, 9.0])
    assert design(4).shape == (6, 4) and (design(4).sum(axis=1) == 2).all()


def test_correlated_errors_give_too_low_or_negative_estimates_and_are_flagged():
    # two products share most of their error (as members trained on one target do): the
    # hat cannot see the shared part, so their SDs come out too low and a third too high
    rng = np.random.default_rng(2)
    n = 4000
    shared = 0.03 * rng.standard_normal((n, 1))
    stack = products((0.005, 0.005, 0.01), n, (1,), rng)
    stack[:2] += shared
    sums = PairSums(3, (1,))
    sums.add(stack)
    res = three_cornered_hat(sums)
    true_sd = np.sqrt(0.005**2 + 0.03**2)
    assert res.sd[0, 0] < 0.5 * true_sd and res.sd[1, 0] < 0.5 * true_sd
    assert res.sd[2, 0] > 2 * 0.01
    # two products whose errors oppose (one wet where the other is dry) beside a good one:
    # s_1^2 = var(u_1) - cov_12 - cov_13 + cov_23 < 0, so it is clipped to 0 and flagged
    stack2 = products((0.001, 0.005, 0.005), n, (1,), rng)
    opposed = 0.03 * rng.standard_normal((n, 1))
    stack2[1] += opposed
    stack2[2] -= opposed
    sums2 = PairSums(3, (1,))
    sums2.add(stack2)
    res2 = three_cornered_hat(sums2)
    assert res2.negative[0, 0] and res2.sd[0, 0] == 0.0
    assert not res2.negative[1:].any()


def test_too_few_products_or_days_say_so():
    with pytest.raises(TCHError, match="at least 3 products, got 2"):
        PairSums(2, (1,))
    sums = PairSums(3, (2,))
    with pytest.raises(TCHError, match="stack of shape"):
        sums.add(np.zeros((3, 5, 3)))
    sums.add(np.ones((3, 5, 2)) * np.arange(5)[None, :, None])
    res = three_cornered_hat(sums, min_days=10)
    assert np.isnan(res.sd).all() and (res.n_days == 5).all()
    with pytest.raises(TCHError, match="min_days must be >= 2"):
        three_cornered_hat(sums, min_days=1)
