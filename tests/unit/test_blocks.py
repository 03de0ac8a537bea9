"""The fine -> coarse index map (smdownscale.blocks) on blocks of unequal size, as an
EASE-Grid 2.0 coarse grid gives them, checked against brute force."""

import numpy as np
import pytest

from smdownscale.blocks import Blocks, BlocksError, as_blocks
from smdownscale.grid import aggregate, aggregate_blocked, block_mean, repeat_blocks
from smdownscale.metrics import block_correlation, block_edge_stats
from smdownscale.residual import spread, spread_at

ROW_SIZES = [3, 5, 4, 6, 2]  # fine rows per coarse row
COL_SIZES = [4, 3, 5, 4]


def irregular() -> Blocks:
    rows = np.repeat(np.arange(len(ROW_SIZES)), ROW_SIZES)
    cols = np.repeat(np.arange(len(COL_SIZES)), COL_SIZES)
    # centres of the blocks in fine-cell units (fine cell i's centre at i)
    rc = np.cumsum([0, *ROW_SIZES[:-1]]) + (np.array(ROW_SIZES) - 1) / 2
    cc = np.cumsum([0, *COL_SIZES[:-1]]) + (np.array(COL_SIZES) - 1) / 2
    return Blocks(rows, cols, rc, cc)


def field(seed=1, days=2):
    rng = np.random.default_rng(seed)
    b = irregular()
    f = rng.normal(size=(days, *b.fine_shape))
    f[rng.random(f.shape) < 0.2] = np.nan
    return f


def test_mean_and_repeat_match_brute_force():
    b, f = irregular(), field()
    flat = b.flat_index()
    mean = b.mean(f, 0.5)
    assert mean.shape == (2, 5, 4)
    for k in range(flat.max() + 1):
        i, j = divmod(k, 4)
        v = f[:, flat == k]
        ok = np.isfinite(v)
        want = np.where(ok.sum(1) >= 0.5 * v.shape[1], np.nansum(v, 1) / ok.sum(1), np.nan)
        np.testing.assert_allclose(mean[:, i, j], want, rtol=1e-12, equal_nan=True)
    assert b.sizes.sum() == f[0].size and b.sizes[3, 2] == 6 * 5
    rep = b.repeat(mean)
    np.testing.assert_array_equal(rep[:, flat == 7], np.repeat(mean[:, 1, 3][:, None], 20, 1))
    # the public functions take the index map where they took the factor
    np.testing.assert_array_equal(block_mean(f, b), mean)
    np.testing.assert_array_equal(repeat_blocks(mean, b), rep)


def test_regular_blocks_are_the_integer_factor():
    b = Blocks.regular(5, 20, 15)
    assert b.factor == 5 and irregular().factor is None and b.cell_size == 5.0
    f = np.random.default_rng(0).normal(size=(20, 15))
    np.testing.assert_allclose(b.mean(f), f.reshape(4, 5, 3, 5).mean(axis=(1, 3)))
    assert as_blocks(5, f.shape).factor == 5
    with pytest.raises(BlocksError, match="does not tile"):
        as_blocks(4, f.shape)
    with pytest.raises(BlocksError, match="fine grid"):
        as_blocks(irregular(), f.shape)


def test_malformed_maps_are_refused():
    with pytest.raises(BlocksError, match="step by 0 or 1"):
        Blocks([0, 0, 2, 2], [0], [0.5, 2.5, 3.0], [0.0])
    with pytest.raises(BlocksError, match="centres for"):
        Blocks([0, 0, 1, 1], [0], [0.5], [0.0])
    with pytest.raises(BlocksError, match="increase"):
        Blocks([0, 0, 1, 1], [0], [2.5, 0.5], [0.0])


def test_row_ranges_hold_whole_coarse_rows():
    b = irregular()
    for chunk in (1, 4, 8, 9, 100):
        parts = b.row_chunks(chunk)
        assert parts[0].start == 0 and parts[-1].stop == 20
        for p in parts:
            assert p.start in b.row_starts and (p.stop == 20 or p.stop in b.row_starts)
            c = b.coarse_rows(p)
            assert b.fine_rows(c) == p
            assert p.stop - p.start <= chunk or c.stop - c.start == 1
    assert b.coarse_rows(slice(3, 9)) == slice(1, 3)
    mean = b.mean(field(days=1))
    part = slice(8, 18)  # coarse rows 2 and 3 hold fine rows 8..17
    sub = b.repeat(mean[:, 2:4], part)
    np.testing.assert_array_equal(sub, b.repeat(mean)[:, part])


@pytest.mark.parametrize("method", ["mean", "cubic", "nearest"])
@pytest.mark.parametrize("chunk", [1, 6, 9, 100])
def test_blocked_aggregation_equals_whole_field(method, chunk):
    b, f = irregular(), field(3)
    out = aggregate_blocked(lambda rows: f[..., rows, :], b, method, 0.5, chunk)
    whole = aggregate(f, b, method, 0.5)
    assert whole.shape == (2, 5, 4) and np.isfinite(whole).any()
    np.testing.assert_allclose(out, whole, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_nearest_takes_the_cell_at_the_centre():
    b = irregular()
    r, c = b.nearest_index()
    assert r.tolist() == [1, 5, 10, 15, 19] and c.tolist() == [2, 5, 9, 14]


def test_spread_reproduces_a_linear_field_between_centres():
    b = irregular()
    # a field linear in the fine position, sampled at the coarse centres
    r = 0.3 * b.row_centres[:, None] - 0.2 * b.col_centres[None, :]
    out = spread(r, b, slice(0, 20), 16)
    fr, fc = np.meshgrid(np.arange(20.0), np.arange(16.0), indexing="ij")
    inside = (fr >= b.row_centres[0]) & (fr <= b.row_centres[-1])
    inside &= (fc >= b.col_centres[0]) & (fc <= b.col_centres[-1])
    np.testing.assert_allclose(out[inside], (0.3 * fr - 0.2 * fc)[inside], atol=1e-12)
    # beyond the outer centres the edge value holds; spread_at agrees cell by cell
    np.testing.assert_allclose(out[0, 0], r[0, 0])
    rows, cols = np.array([0, 7, 19]), np.array([15, 3, 8])
    np.testing.assert_allclose(spread_at(r, b, rows, cols), out[rows, cols])


def test_block_correlation_and_edges_match_brute_force():
    b = irregular()
    rng = np.random.default_rng(5)
    t = rng.normal(size=b.fine_shape)
    p = t + rng.normal(scale=0.7, size=t.shape)
    p[2, 3] = np.nan
    r, enough, *_ = block_correlation(p, t, b)
    flat = b.flat_index()
    for k in range(20):
        ok = (flat == k) & np.isfinite(p)
        want = np.corrcoef(p[ok], t[ok])[0, 1]
        assert r.ravel()[k] == pytest.approx(want, abs=1e-12)
    assert enough.all()
    e = block_edge_stats(t, b)
    dv, dh = np.abs(np.diff(t, axis=0)), np.abs(np.diff(t, axis=1))
    across_v = np.diff(b.rows) != 0
    across_h = np.diff(b.cols) != 0
    assert e.edge_n == across_v.sum() * 16 + across_h.sum() * 20
    assert e.edge_sum == pytest.approx(dv[across_v].sum() + dh[:, across_h].sum())
