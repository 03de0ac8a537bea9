import math

import numpy as np
import pytest
from scipy import ndimage, stats

from smdownscale import grid
from smdownscale.grid import repeat_blocks
from smdownscale.metrics import (
    UNDEFINED_CONSTANT,
    BlockEdges,
    DailyHeterogeneity,
    Scores,
    block_correlation,
    block_edge_ratio,
    block_edge_stats,
    coefficient_of_variation,
    fisher_ci,
    heterogeneity_by_day,
    mid_mask,
    morans_i,
    paired_finite,
    pearson,
    percentile_range_masks,
    range_labels,
    score,
    within_cell_correlation,
)

Z975 = 1.959963984540054  # standard normal 97.5 % quantile


# ---------------------------------------------------------------------------------------------
# Paired scores: hand-computed cases
# ---------------------------------------------------------------------------------------------


def test_score_hand_computed():
    r = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([2.0, 3.0, 5.0, 6.0])
    # d = p - r = [1, 1, 2, 2]
    s = score(p, r)
    assert s.n == 4
    assert s.bias == pytest.approx(1.5, abs=1e-15)
    assert s.rmse == pytest.approx(math.sqrt(10.0 / 4.0), abs=1e-15)
    assert s.mae == pytest.approx(1.5, abs=1e-15)
    # ubRMSE = sqrt(2.5 - 1.5**2) = 0.5 = population SD of d
    assert s.ubrmse == pytest.approx(0.5, abs=1e-15)
    # centred r: [-1.5, -0.5, 0.5, 1.5] (SS 5), centred p: [-2, -1, 1, 2] (SS 10), cross 7
    r_hand = 7.0 / math.sqrt(50.0)
    assert s.r == pytest.approx(r_hand, abs=1e-15)
    # t = R sqrt(df / (1 - R^2)) with 1 - R^2 = 1/50, df = 2 -> t = 70 / sqrt(50)
    assert s.p_value == pytest.approx(2 * stats.t.sf(70 / math.sqrt(50.0), 2), rel=1e-12)
    # Fisher z with n - 3 = 1
    z = 0.5 * math.log((1 + r_hand) / (1 - r_hand))
    assert s.r_ci_low == pytest.approx(math.tanh(z - Z975), abs=1e-14)
    assert s.r_ci_high == pytest.approx(math.tanh(z + Z975), abs=1e-14)
    assert s.ci_level == pytest.approx(0.95)


def test_bias_sign_convention():
    r = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([2.0, 3.0, 5.0, 6.0])
    assert score(p, r).bias == pytest.approx(1.5)  # product wetter than reference: positive
    assert score(r, p).bias == pytest.approx(-1.5)
    assert score(r, p).rmse == score(p, r).rmse


def test_ubrmse_identity_and_pure_offset():
    rng = np.random.default_rng(3)
    r = rng.uniform(0.05, 0.45, 200)
    p = r + 0.03 + rng.normal(0, 0.02, 200)
    s = score(p, r)
    assert s.ubrmse**2 + s.bias**2 == pytest.approx(s.rmse**2, rel=1e-12)
    # a pure offset: RMSE == |bias|, ubRMSE exactly 0 (never NaN from a negative root)
    s0 = score(r + 0.1, r)
    assert s0.rmse == pytest.approx(0.1, rel=1e-12)
    assert s0.bias == pytest.approx(0.1, rel=1e-12)
    assert s0.ubrmse >= 0.0
    assert s0.ubrmse == pytest.approx(0.0, abs=1e-15)


def test_perfect_correlations():
    r = np.array([0.1, 0.2, 0.4, 0.3, 0.25])
    s = score(r, r)
    assert s.r == 1.0
    assert s.p_value == 0.0
    assert (s.r_ci_low, s.r_ci_high) == (1.0, 1.0)
    assert (s.rmse, s.mae, s.bias, s.ubrmse) == (0.0, 0.0, 0.0, 0.0)
    s = score(1.0 - r, r)
    assert s.r == -1.0
    assert s.p_value == 0.0


def test_nan_pairs_dropped():
    r = np.array([1.0, 2.0, np.nan, 3.0, 4.0, 5.0])
    p = np.array([2.0, 3.0, 9.0, 5.0, 6.0, np.nan])
    s = score(p, r)
    ref = score(np.array([2.0, 3.0, 5.0, 6.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert s == ref
    assert s.n == 4
    pp, rr = paired_finite(p, r)
    np.testing.assert_array_equal(pp, [2.0, 3.0, 5.0, 6.0])
    np.testing.assert_array_equal(rr, [1.0, 2.0, 3.0, 4.0])
    # infinities are not valid values either
    assert score(np.array([1.0, np.inf, 2.0]), np.array([1.0, 2.0, 3.0])).n == 2


def test_multidimensional_inputs_are_flattened():
    rng = np.random.default_rng(4)
    r = rng.random((3, 4, 5))
    p = r + rng.normal(0, 0.1, r.shape)
    assert score(p, r) == score(p.ravel(), r.ravel())
    with pytest.raises(ValueError, match="shapes differ"):
        score(p[0], r)


def test_constant_series_has_undefined_r_but_errors():
    r = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    p = np.full(5, 0.3)
    s = score(p, r)
    assert s.n == 5
    assert math.isnan(s.r) and math.isnan(s.p_value)
    assert math.isnan(s.r_ci_low) and math.isnan(s.r_ci_high)
    assert s.bias == pytest.approx(0.0, abs=1e-15)
    assert s.mae == pytest.approx(0.12)  # (0.2 + 0.1 + 0 + 0.1 + 0.2) / 5
    assert s.rmse == pytest.approx(math.sqrt(0.1 / 5))
    assert math.isnan(score(r, p).r)  # constant reference too


def test_small_n():
    s0 = score(np.array([np.nan, 1.0]), np.array([1.0, np.nan]))
    assert s0.n == 0
    assert all(math.isnan(v) for k, v in s0.as_dict().items() if k not in ("n", "ci_level"))
    s1 = score(np.array([0.3]), np.array([0.1]))
    assert s1.n == 1 and math.isnan(s1.r)
    assert s1.rmse == pytest.approx(0.2) and s1.bias == pytest.approx(0.2)
    assert s1.ubrmse == 0.0
    s2 = score(np.array([0.3, 0.1]), np.array([0.1, 0.2]))
    assert s2.r == pytest.approx(-1.0) and s2.p_value == 1.0  # as scipy: two points, p = 1
    assert math.isnan(s2.r_ci_low) and math.isnan(s2.r_ci_high)
    s3 = score(np.array([0.3, 0.1, 0.2]), np.array([0.1, 0.2, 0.25]))
    assert math.isfinite(s3.r) and math.isnan(s3.r_ci_low)  # CI undefined for n <= 3


def test_as_dict_plain_types():
    d = score(np.array([2.0, 3.0, 5.0, 6.0]), np.array([1.0, 2.0, 3.0, 4.0])).as_dict()
    assert set(d) == {
        "n",
        "r",
        "p_value",
        "r_ci_low",
        "r_ci_high",
        "rmse",
        "mae",
        "bias",
        "ubrmse",
        "ci_level",
    }
    assert type(d["n"]) is int
    assert all(type(v) is float for k, v in d.items() if k != "n")
    with pytest.raises(AttributeError):
        Scores(1, *([0.0] * 8)).n = 2  # frozen


# ---------------------------------------------------------------------------------------------
# Correlation: p-value against scipy, CI against the direct formula
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 5, 30, 400])
def test_pearson_against_scipy(n):
    rng = np.random.default_rng(n)
    x = rng.normal(size=n)
    y = 0.3 * x + rng.normal(size=n)
    rv, pv = pearson(y, x)
    ref = stats.pearsonr(y, x)
    assert rv == pytest.approx(ref.statistic, abs=1e-13)
    assert pv == pytest.approx(ref.pvalue, rel=1e-10, abs=1e-300)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.01])
def test_fisher_ci_direct_formula(alpha):
    rng = np.random.default_rng(7)
    x = rng.normal(size=30)
    y = 0.5 * x + rng.normal(size=30)
    s = score(y, x, alpha=alpha)
    z = 0.5 * math.log((1 + s.r) / (1 - s.r))
    q = stats.norm.ppf(1 - alpha / 2)
    se = 1 / math.sqrt(30 - 3)
    assert s.r_ci_low == pytest.approx(math.tanh(z - q * se), abs=1e-14)
    assert s.r_ci_high == pytest.approx(math.tanh(z + q * se), abs=1e-14)
    assert s.r_ci_low < s.r < s.r_ci_high
    assert s.ci_level == pytest.approx(1 - alpha)
    assert all(math.isnan(v) for v in fisher_ci(s.r, 3))
    assert all(math.isnan(v) for v in fisher_ci(math.nan, 30))


def test_alpha_validated():
    with pytest.raises(ValueError, match="alpha"):
        score(np.ones(3), np.ones(3), alpha=1.5)


# ---------------------------------------------------------------------------------------------
# Agreement with pytesmo, the field's reference toolbox
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_pytesmo(seed):
    pytesmo_metrics = pytest.importorskip("pytesmo.metrics")
    rng = np.random.default_rng(seed)
    n = 500
    r = rng.uniform(0.05, 0.45, n)
    p = 0.8 * r + 0.05 + rng.normal(0, 0.04, n)
    r[rng.choice(n, 40, replace=False)] = np.nan
    p[rng.choice(n, 40, replace=False)] = np.nan
    s = score(p, r)
    ok = np.isfinite(p) & np.isfinite(r)
    x, y = np.ascontiguousarray(p[ok]), np.ascontiguousarray(r[ok])
    assert s.n == x.size
    assert s.bias == pytest.approx(pytesmo_metrics.bias(x, y), abs=1e-10)  # mean(x) - mean(y)
    assert s.rmse == pytest.approx(pytesmo_metrics.rmsd(x, y), abs=1e-10)
    assert s.mae == pytest.approx(pytesmo_metrics.aad(x, y), abs=1e-10)
    assert s.ubrmse == pytest.approx(pytesmo_metrics.ubrmsd(x, y), abs=1e-10)
    rv, lo, hi = pytesmo_metrics.with_analytical_ci(pytesmo_metrics.pearson_r, x, y)
    assert s.r == pytest.approx(rv, abs=1e-10)
    assert s.r_ci_low == pytest.approx(lo, abs=1e-10)
    assert s.r_ci_high == pytest.approx(hi, abs=1e-10)
    assert s.p_value == pytest.approx(stats.pearsonr(x, y).pvalue, rel=1e-10, abs=1e-300)


# ---------------------------------------------------------------------------------------------
# Mid subset
# ---------------------------------------------------------------------------------------------


def test_mid_mask_uses_reference_percentiles_inclusive():
    r = np.arange(1.0, 22.0)  # 21 values: P15 = 4, P85 = 18 exactly (linear interpolation)
    m = mid_mask(r)
    np.testing.assert_array_equal(m, (r >= 4) & (r <= 18))  # both bounds inclusive
    assert m.sum() == 15
    # the product's own percentiles would pick other pairs; the mask ignores the product
    p = np.random.default_rng(0).permutation(r) * 0.01
    assert not np.array_equal(mid_mask(p), m)
    np.testing.assert_array_equal(mid_mask(r, p=p), m)
    s = score(p[m], r[m])
    assert s.n == 15


def test_mid_mask_population_is_the_scored_pairs():
    r = np.arange(1.0, 22.0)
    p = np.where(r >= 18, np.nan, 0.2)
    # population: r = 1..17 -> P15 = 1 + 0.15 * 16 = 3.4, P85 = 1 + 0.85 * 16 = 14.6
    m = mid_mask(r, p=p)
    np.testing.assert_array_equal(m, (r >= 4) & (r <= 14))
    # without p the population is all finite reference values
    np.testing.assert_array_equal(mid_mask(r), (r >= 4) & (r <= 18))


def test_mid_mask_nan_and_bounds():
    r = np.array([np.nan, 1.0, 2.0, 3.0, np.nan, 4.0, 5.0])
    m = mid_mask(r, 25, 75)  # finite 1..5: P25 = 2, P75 = 4
    np.testing.assert_array_equal(m, [False, False, True, True, False, True, False])
    assert mid_mask(np.full(4, np.nan)).sum() == 0
    assert mid_mask(r, 0, 100).sum() == 5
    with pytest.raises(ValueError):
        mid_mask(r, 90, 10)


# ---------------------------------------------------------------------------------------------
# Heterogeneity
# ---------------------------------------------------------------------------------------------


def test_coefficient_of_variation():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    # mean 2.5, population SD sqrt(1.25)
    assert coefficient_of_variation(x) == pytest.approx(math.sqrt(1.25) / 2.5, abs=1e-15)
    assert coefficient_of_variation(x, ddof=1) == pytest.approx(
        math.sqrt(5.0 / 3.0) / 2.5, abs=1e-15
    )
    assert coefficient_of_variation(x) == pytest.approx(stats.variation(x.ravel()))
    xn = np.array([[1.0, np.nan], [3.0, 4.0]])
    assert coefficient_of_variation(xn) == pytest.approx(np.std([1, 3, 4]) / np.mean([1, 3, 4]))
    m = np.array([[True, True], [False, False]])
    assert coefficient_of_variation(x, m) == pytest.approx(0.5 / 1.5)
    assert math.isnan(coefficient_of_variation(np.zeros((2, 2))))  # mean 0
    assert math.isnan(coefficient_of_variation(np.full((2, 2), np.nan)))


def morans_i_brute(x: np.ndarray) -> float:
    """Moran's I with an explicit rook weight matrix over the finite cells."""
    idx = [(i, j) for i in range(x.shape[0]) for j in range(x.shape[1]) if np.isfinite(x[i, j])]
    pos = {c: k for k, c in enumerate(idx)}
    v = np.array([x[c] for c in idx])
    z = v - v.mean()
    w = np.zeros((len(idx), len(idx)))
    for (i, j), k in pos.items():
        for nb in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
            if nb in pos:
                w[k, pos[nb]] = 1.0
    return len(idx) / w.sum() * float(z @ w @ z) / float(z @ z)


def test_morans_i_checkerboard_is_minus_one():
    board = (np.indices((8, 8)).sum(axis=0) % 2).astype(float) * 0.2 + 0.1
    assert morans_i(board) == pytest.approx(-1.0, abs=1e-14)
    assert morans_i(np.indices((6, 10)).sum(axis=0) % 2 * 1.0) == pytest.approx(-1.0, abs=1e-14)


def test_morans_i_ramp_near_one():
    i, j = np.indices((50, 50)).astype(float)
    assert morans_i(i + j) > 0.97
    assert morans_i(i) == pytest.approx(48.0 / 49.0, abs=1e-12)  # 1 - 1/(n-1) for rows
    assert 0.95 < morans_i(np.sin(i / 15.0) + np.cos(j / 12.0)) < 1.0


def test_morans_i_known_small_cases():
    # 1 x 4 ramp: z = [-1.5, -0.5, 0.5, 1.5], links .75 - .25 + .75 = 1.25 (x2 directions),
    # W = 6, sum z^2 = 5 -> I = 4/6 * 2.5/5 = 1/3
    assert morans_i(np.array([[1.0, 2.0, 3.0, 4.0]])) == pytest.approx(1.0 / 3.0, abs=1e-15)
    # 2 x 3 with a NaN: valid 1, 2, 3, 4, 5 (mean 3), 5 undirected links with
    # products 2, 0, 2, 0, -1 -> I = 5/10 * 6/10 = 0.3
    x = np.array([[1.0, 2.0, np.nan], [3.0, 4.0, 5.0]])
    assert morans_i(x) == pytest.approx(0.3, abs=1e-15)
    # a mask removes the cell and its links just as a NaN does
    y = np.array([[1.0, 2.0, 1e6], [3.0, 4.0, 5.0]])
    assert morans_i(y, np.isfinite(x)) == pytest.approx(0.3, abs=1e-15)


def test_morans_i_nan_handling_matches_brute_force():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(9, 13)).cumsum(axis=1)
    x[rng.random(x.shape) < 0.25] = np.nan
    assert morans_i(x) == pytest.approx(morans_i_brute(x), abs=1e-12)
    # island (a valid cell with no valid neighbour) counts in N and the denominator
    isl = np.array([[1.0, 2.0, np.nan, 7.0], [3.0, 4.0, np.nan, np.nan]])
    assert morans_i(isl) == pytest.approx(morans_i_brute(isl), abs=1e-14)


def test_morans_i_undefined():
    assert math.isnan(morans_i(np.array([[1.0, np.nan], [np.nan, 2.0]])))  # no links
    assert math.isnan(morans_i(np.full((3, 3), 0.25)))  # constant
    assert math.isnan(morans_i(np.full((3, 3), np.nan)))
    with pytest.raises(ValueError, match="2-D"):
        morans_i(np.zeros((2, 2, 2)))


def test_percentile_range_masks_partition():
    x = np.arange(1.0, 21.0).reshape(4, 5)  # P15 = 3.85, P85 = 17.15
    x[0, 0] = np.nan  # now 2..20: P15 = 2 + .15*18 = 4.7, P85 = 2 + .85*18 = 17.3
    masks = percentile_range_masks(x)
    assert tuple(masks) == range_labels() == ("0-15", "15-85", "85-100")
    np.testing.assert_array_equal(masks["0-15"], x < 4.7)
    np.testing.assert_array_equal(masks["15-85"], (x >= 5) & (x <= 17))
    np.testing.assert_array_equal(masks["85-100"], x > 17.3)
    total = masks["0-15"].astype(int) + masks["15-85"] + masks["85-100"]
    np.testing.assert_array_equal(total, np.isfinite(x).astype(int))
    assert tuple(percentile_range_masks(x, 10, 90)) == ("0-10", "10-90", "90-100")


class LazyStack:
    """A stack that records how it is read (stands in for a lazy xarray/netCDF variable)."""

    def __init__(self, data: np.ndarray):
        self._data = data
        self.keys: list[object] = []

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    def __getitem__(self, key):
        self.keys.append(key)
        return self._data[key]


def test_heterogeneity_by_day():
    i, j = np.indices((10, 10)).astype(float)
    board = (i + j) % 2 + 1.0
    ramp = i + j + 1.0
    stack = np.stack([board, ramp, np.full((10, 10), np.nan)])
    lazy = LazyStack(stack)
    h = heterogeneity_by_day(lazy)
    assert lazy.keys == [0, 1, 2]  # one day at a time, never the whole stack
    assert isinstance(h, DailyHeterogeneity)
    assert h.labels == ("all", "0-15", "15-85", "85-100")
    assert h.morans_i["all"][0] == pytest.approx(-1.0, abs=1e-14)
    assert h.morans_i["all"][1] == pytest.approx(morans_i(ramp))
    assert h.cv["all"][1] == pytest.approx(coefficient_of_variation(ramp))
    assert np.isnan(h.morans_i["all"][2]) and np.isnan(h.cv["all"][2])
    for k, m in percentile_range_masks(ramp).items():
        assert h.cv[k][1] == pytest.approx(coefficient_of_variation(ramp, m), nan_ok=True)
        assert h.morans_i[k][1] == pytest.approx(morans_i(ramp, m), nan_ok=True)
    region = np.zeros((10, 10), dtype=bool)
    region[:5] = True
    hr = heterogeneity_by_day(stack, mask=region, ranges=False)
    assert hr.labels == ("all",)
    assert hr.morans_i["all"][1] == pytest.approx(morans_i(ramp, region))
    assert set(h.as_dict()) == {"cv", "morans_i"}


# ---------------------------------------------------------------------------------------------
# Within-coarse-cell spatial correlation
# ---------------------------------------------------------------------------------------------


def truth_stack(nt: int = 3, ny: int = 10, nx: int = 15, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.05, 0.45, (nt, ny, nx))


def block_mean(x: np.ndarray, f: int) -> np.ndarray:
    """The coarse product repeated over its block (block means, float32 like a product)."""
    return repeat_blocks(grid.block_mean(x, f, 1.0).astype(np.float32), f)


def test_within_cell_truth_with_itself_is_exactly_one():
    t = truth_stack()
    res = within_cell_correlation(t, t, 5)
    assert res.mean == 1.0
    assert res.n_blocks == 3 * 2 * 3
    assert res.n_defined == res.n_blocks
    assert res.n_undefined == res.n_insufficient == 0
    np.testing.assert_array_equal(res.per_day, 1.0)
    assert res.describe() == "1.000"


def test_within_cell_block_constant_is_undefined():
    t = truth_stack()
    c = block_mean(t, 5)
    res = within_cell_correlation(c, t, 5)
    assert math.isnan(res.mean)
    assert res.n_defined == 0
    assert res.n_undefined == res.n_blocks == res.n_product_constant == 18
    assert res.n_truth_constant == 0
    assert res.constant_product
    assert res.describe() == UNDEFINED_CONSTANT
    assert np.isnan(res.per_day).all()
    d = res.as_dict()
    assert d["text"] == UNDEFINED_CONSTANT and math.isnan(d["mean"])


def test_within_cell_linear_relation_per_block():
    f = 5
    t = truth_stack(nt=2, ny=10, nx=10)
    # a different positive affine map of the truth in every block -> R = 1 everywhere
    gain = np.repeat(np.repeat(np.array([[0.5, 2.0], [1.5, 3.0]]), f, 0), f, 1)
    off = np.repeat(np.repeat(np.array([[0.1, -0.2], [0.0, 0.3]]), f, 0), f, 1)
    res = within_cell_correlation(off + gain * t, t, f)
    assert res.mean == pytest.approx(1.0, abs=1e-12)
    assert res.n_defined == 8
    # negative gain in half the blocks -> -1 there, mean exactly 0 by hand
    res2 = within_cell_correlation(np.where(gain > 1.6, -1.0, 1.0) * gain * t, t, f)
    r, *_ = block_correlation(np.where(gain > 1.6, -1.0, 1.0) * gain * t[0], t[0], f)
    np.testing.assert_allclose(r, [[1.0, -1.0], [1.0, -1.0]], atol=1e-12)
    assert res2.mean == pytest.approx(0.0, abs=1e-12)


def test_block_correlation_matches_per_block_corrcoef_with_nans():
    rng = np.random.default_rng(5)
    f = 6
    t = rng.random((12, 18))
    p = 0.5 * t + rng.normal(0, 0.2, t.shape)
    p[rng.random(p.shape) < 0.2] = np.nan
    t[rng.random(t.shape) < 0.1] = np.nan
    r, enough, pc, tc = block_correlation(p, t, f)
    assert r.shape == (2, 3) and enough.all() and not pc.any() and not tc.any()
    for bi in range(2):
        for bj in range(3):
            pb = p[bi * f : (bi + 1) * f, bj * f : (bj + 1) * f].ravel()
            tb = t[bi * f : (bi + 1) * f, bj * f : (bj + 1) * f].ravel()
            ok = np.isfinite(pb) & np.isfinite(tb)
            assert r[bi, bj] == pytest.approx(np.corrcoef(pb[ok], tb[ok])[0, 1], abs=1e-12)


def test_within_cell_counts_gaps_and_constant_truth():
    f = 5
    t = truth_stack(nt=2, ny=10, nx=10, seed=2)
    p = t + np.random.default_rng(9).normal(0, 0.05, t.shape)
    p[0, :5, :5] = np.nan  # day 0 block (0, 0): no pairs
    p[1, 5:, 5:] = np.nan
    p[1, 9, 9] = 0.2
    p[1, 8, 9] = 0.3  # day 1 block (1, 1): only 2 pairs < min_pairs
    t[1, :5, 5:] = 0.25  # day 1 block (0, 1): constant truth
    res = within_cell_correlation(p, t, f)
    assert res.n_blocks == 8
    assert res.n_insufficient == 2
    assert res.n_undefined == 1 and res.n_truth_constant == 1 and res.n_product_constant == 0
    assert res.n_defined == 5
    assert not res.constant_product
    r0, *_ = block_correlation(p[0], t[0], f)
    r1, *_ = block_correlation(p[1], t[1], f)
    both = np.concatenate([r0[np.isfinite(r0)], r1[np.isfinite(r1)]])
    assert both.size == 5
    assert res.mean == pytest.approx(both.mean(), abs=1e-14)
    assert res.per_day[0] == pytest.approx(np.nanmean(r0), abs=1e-14)
    assert 0.5 < res.mean < 1.0


def test_within_cell_reads_day_by_day_and_validates():
    t = truth_stack()
    lp, lt = LazyStack(t), LazyStack(t.copy())
    res = within_cell_correlation(lp, lt, 5)
    assert lp.keys == lt.keys == [0, 1, 2]
    assert res.mean == 1.0
    one = within_cell_correlation(t[0], t[0], 5)  # a single 2-D day
    assert one.n_blocks == 6 and one.mean == 1.0
    with pytest.raises(ValueError, match="does not tile"):
        within_cell_correlation(t, t, 4)
    with pytest.raises(ValueError, match="shapes differ"):
        within_cell_correlation(t, t[:, :5], 5)
    with pytest.raises(ValueError, match="min_pairs"):
        within_cell_correlation(t, t, 5, min_pairs=1)


# ---------------------------------------------------------------------------------------------
# Block-edge ratio
# ---------------------------------------------------------------------------------------------


def test_edge_ratio_by_hand():
    # factor 2: columns 0-1 and 2-3 are blocks. East-west pairs per row: (0,1) inside |1|,
    # (1,3) across |2|, (3,4) inside |1|; north-south pairs (rows 0-1, one block) inside |0|.
    a = np.array([[0.0, 1.0, 3.0, 4.0], [0.0, 1.0, 3.0, 4.0]])
    e = block_edge_stats(a, 2)
    assert (e.edge_n, e.inside_n) == (2, 4 + 4)
    assert e.edge_sum == pytest.approx(4.0) and e.inside_sum == pytest.approx(4.0)
    assert e.ratio == pytest.approx((4.0 / 2) / (4.0 / 8))  # 4
    assert block_edge_ratio(a, 2) == pytest.approx(4.0)


def test_edge_ratio_north_south_edges_count_too():
    # rows 0-1 and 2-3 are blocks: only the north-south pair (1, 2) straddles an edge
    a = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0], [6.0, 6.0]])
    e = block_edge_stats(a, 2)
    # inside: east-west 4 pairs of 0, north-south (0,1) and (2,3) twice each = 4 x 1
    assert (e.edge_n, e.inside_n) == (2, 8)
    assert e.ratio == pytest.approx((8.0 / 2) / (4.0 / 8))


def test_edge_ratio_block_constant_field_is_large():
    rng = np.random.default_rng(3)
    coarse = rng.uniform(0.1, 0.4, (5, 4, 4))
    blocky = repeat_blocks(coarse, 10)
    assert block_edge_ratio(blocky, 10) == math.inf  # no difference inside any block
    noisy = blocky + rng.normal(0.0, 0.001, blocky.shape)
    assert 20.0 < block_edge_ratio(noisy, 10) < math.inf


def test_edge_ratio_smooth_fields_are_near_one():
    i, j = np.meshgrid(np.arange(40), np.arange(40), indexing="ij")
    ramp = 0.1 + 0.002 * i + 0.003 * j  # square: as many edge pairs per direction as inside
    assert block_edge_ratio(ramp, 8) == pytest.approx(1.0, rel=1e-9)
    rng = np.random.default_rng(4)
    smooth = ndimage.gaussian_filter(rng.standard_normal((3, 120, 90)), sigma=(0, 6, 6))
    assert block_edge_ratio(smooth, 10) == pytest.approx(1.0, abs=0.1)
    # the same field with a block pattern added is not
    stepped = smooth + 0.5 * smooth.std() * repeat_blocks(rng.standard_normal((3, 12, 9)), 10)
    assert block_edge_ratio(stepped, 10) > 2.0


def test_edge_ratio_skips_missing_pairs_and_pools_days():
    a = np.array([[0.0, 1.0, 3.0, 4.0], [0.0, 1.0, 3.0, 4.0]])
    b = a.copy()
    b[0, 2] = np.nan  # removes (1,3) and (3,4) east-west in row 0, and the column-2 vertical
    stack = np.stack([a, b])
    e = block_edge_stats(stack, 2)
    assert e == block_edge_stats(a, 2) + block_edge_stats(b, 2)
    eb = block_edge_stats(b, 2)
    assert (eb.edge_n, eb.inside_n) == (1, 3 + 3)
    assert BlockEdges().ratio != BlockEdges().ratio  # NaN without pairs
    assert math.isnan(block_edge_ratio(np.full((4, 4), 0.2), 2))  # constant: 0 / 0
    with pytest.raises(ValueError, match="factor"):
        block_edge_ratio(a, 0)
