"""Partial residual correction: the share, the smooth spreading, and no block edges."""

import numpy as np
import pytest

from smdownscale.blocks import Blocks
from smdownscale.grid import block_mean, repeat_blocks
from smdownscale.residual import (
    BlockMeans,
    bridge_gaps,
    coarse_residual,
    correct,
    estimate_share,
    spread,
    spread_at,
)


def test_residual_is_coarse_minus_block_mean():
    fine = np.arange(2 * 4 * 6, dtype=float).reshape(2, 4, 6)
    coarse = np.array([[[10.0, 20.0, np.nan], [30.0, 40.0, 50.0]]] * 2)
    r = coarse_residual(fine, coarse, 2)
    np.testing.assert_allclose(r[~np.isnan(r)], (coarse - block_mean(fine, 2, 0.5))[~np.isnan(r)])
    assert np.isnan(r[:, 0, 2]).all()


def test_spread_reproduces_a_plane_and_holds_the_edges():
    """Bilinear between cell centres: exact for a plane inside, constant beyond the centres."""
    factor = 5
    cy, cx = 3, 4
    yy, xx = np.meshgrid(np.arange(cy), np.arange(cx), indexing="ij")
    r = 0.02 * yy - 0.01 * xx  # a plane on the coarse centres
    fine = spread(r, factor, slice(0, cy * factor), cx * factor)
    fy = (np.arange(cy * factor) + 0.5) / factor - 0.5  # fine centres in coarse index units
    fx = (np.arange(cx * factor) + 0.5) / factor - 0.5
    expect = 0.02 * np.clip(fy, 0, cy - 1)[:, None] - 0.01 * np.clip(fx, 0, cx - 1)[None, :]
    np.testing.assert_allclose(fine, expect, atol=1e-12)
    # any block of rows gives the same rows as the whole
    np.testing.assert_allclose(spread(r, factor, slice(4, 9), cx * factor), fine[4:9])
    # and single cells (stations) get the values of the whole field, days leading
    rows, cols = np.array([0, 7, 14, 3]), np.array([0, 19, 2, 11])
    np.testing.assert_allclose(spread_at(r, factor, rows, cols), fine[rows, cols], atol=1e-12)
    stack = np.stack([r, 2 * r])
    np.testing.assert_allclose(spread_at(stack, factor, rows, cols)[1], 2 * fine[rows, cols])


def test_spreading_paints_no_block_edges():
    """A block-constant correction jumps at every coarse edge; the spread one does not."""
    rng = np.random.default_rng(0)
    factor = 10
    r = rng.normal(0, 0.03, (6, 6))
    smooth = spread(r, factor, slice(0, 60), 60)
    blocky = repeat_blocks(r, factor)

    def jump_ratio(f):
        d = np.abs(np.diff(f, axis=1))
        at_edge = (np.arange(1, f.shape[1]) % factor) == 0
        with np.errstate(divide="ignore"):
            return d[:, at_edge].mean() / d[:, ~at_edge].mean()

    assert jump_ratio(smooth) < 1.5  # bilinear: the same slope across an edge as inside
    assert jump_ratio(blocky) > 100


def test_bridge_gaps_fills_one_cell_gaps_from_neighbours_and_zero_beyond():
    r = np.full((5, 5), np.nan)
    r[0, 0] = 0.04
    r[0, 1] = 0.02
    out = bridge_gaps(r)
    assert out[1, 0] == pytest.approx(0.03) and out[0, 2] == pytest.approx(0.02)
    assert out[4, 4] == 0.0 and out[0, 0] == 0.04


def test_correct_with_share_one_matches_block_means_of_a_smooth_residual():
    """On a residual that is a plane the bilinear spread is exact inside, so a share of 1
    gives block means equal to the coarse value in the interior blocks."""
    factor = 4
    rng = np.random.default_rng(2)
    fine = rng.uniform(0.1, 0.3, (1, 16, 16))
    yy, xx = np.meshgrid(np.arange(4), np.arange(4), indexing="ij")
    coarse = (block_mean(fine, factor, 0.5) + 0.01 * yy + 0.02 * xx)[None][0]
    r = coarse_residual(fine, coarse, factor)
    out = correct(fine, r, 1.0, factor, slice(0, 16))
    means = block_mean(out, factor, 0.5)
    np.testing.assert_allclose(means[:, 1:3, 1:3], coarse[:, 1:3, 1:3], atol=1e-6)
    half = correct(fine, r, 0.5, factor, slice(0, 16))
    np.testing.assert_allclose(half - fine, 0.5 * (out - fine), atol=1e-6)
    assert correct(fine, r, 0.0, factor, slice(0, 16)).dtype == np.float32


def _stations(n_st=30, n_days=60, seed=0, coarse_noise=0.03, member_err=0.03):
    """Station-days of a world where the best share is known.

    T: true block mean; C = T + e_c; B = T + e_b. The best B + s (C - B) has
    s* = var(e_b) / (var(e_b) + var(e_c)) for independent errors."""
    rng = np.random.default_rng(seed)
    n = n_st * n_days
    t = rng.uniform(0.1, 0.3, n)
    c = t + rng.normal(0, coarse_noise, n)
    b = t + rng.normal(0, member_err, n)
    sid = np.repeat(np.arange(n_st), n_days)
    y = t + rng.normal(0, 0.03, n_st)[sid] + rng.normal(0, 0.02, n)  # sensor bias, noise
    return y, c, b, sid


@pytest.mark.parametrize(("coarse_noise", "member_err"), [(0.03, 0.03), (0.01, 0.03), (0.04, 0.02)])
def test_estimated_share_is_the_variance_ratio(coarse_noise, member_err):
    y, c, b, sid = _stations(coarse_noise=coarse_noise, member_err=member_err)
    best = member_err**2 / (member_err**2 + coarse_noise**2)
    e = estimate_share(y, b, c - b, sid)
    assert e.method == "stations" and e.n_stations == 30
    assert abs(e.share - best) < 0.08
    assert e.ci_low < best < e.ci_high


def test_share_with_correlated_errors_is_still_the_best_one():
    """Members trained on the coarse product share part of its error: the slope still gives
    the share that minimises the error of B + s (C - B)."""
    rng = np.random.default_rng(5)
    n = 3000
    t = rng.uniform(0.1, 0.3, n)
    shared = rng.normal(0, 0.02, n)
    c = t + shared + rng.normal(0, 0.02, n)
    b = t + 0.8 * shared + rng.normal(0, 0.03, n)
    sid = np.arange(n) % 40
    y = t + rng.normal(0, 0.03, n)
    e = estimate_share(y, b, c - b, sid)
    grid = np.linspace(0, 1, 101)
    mse = [np.mean((b + s * (c - b) - t) ** 2) for s in grid]
    assert abs(e.share - grid[int(np.argmin(mse))]) < 0.06


def test_too_few_station_days_take_the_default_and_say_why():
    y, c, b, sid = _stations(n_st=3, n_days=5)
    e = estimate_share(y, b, c - b, sid, default=0.4)
    assert e.method == "default" and e.share == 0.4
    assert "15 station-days at 3 stations" in e.reason
    c[:] = np.nan
    assert estimate_share(y, b, c - b, sid).n_pairs == 0


def test_share_is_clipped_to_the_unit_interval():
    rng = np.random.default_rng(1)
    n = 2000
    t = rng.uniform(0.1, 0.3, n)
    b = t + rng.normal(0, 0.03, n)
    c = t + rng.normal(0, 0.03, n)
    y = b + 1.5 * (c - b)  # stations say: take 1.5 times the residual
    e = estimate_share(y, b, c - b, np.arange(n) % 20)
    assert e.slope == pytest.approx(1.5) and e.share == 1.0


def test_share_for_the_spread_residual_is_the_best_share_at_fine_cells():
    """The correction applied at a fine cell is the residual interpolated between coarse
    centres, where the coarse product's cell noise partly cancels and the member's smooth
    error stays: the share estimated at stations on that regressor is the one that
    minimises the fine-cell error, and it is higher than the share for a cell's own
    residual."""
    rng = np.random.default_rng(11)
    factor, cy, cx, days = 5, 12, 12, 60
    fy, fx = np.meshgrid(np.arange(cy * factor), np.arange(cx * factor), indexing="ij")
    truth = np.stack([0.25 + 0.05 * np.sin(fy / 9 + d) * np.cos(fx / 7 - d) for d in range(days)])
    # member error: large-scale, a different tilt every day
    tilt = rng.normal(0, 0.03, (days, 2, 1, 1))
    member = truth + tilt[:, 0] * (fy / fy.max() - 0.5) + tilt[:, 1] * (fx / fx.max() - 0.5)
    coarse = block_mean(truth, factor, 0.5) + rng.normal(0, 0.02, (days, cy, cx))
    r = coarse_residual(member, coarse, factor)
    s = spread(r, factor, slice(0, cy * factor), cx * factor)
    grid = np.linspace(0, 1, 101)
    best = grid[int(np.argmin([np.mean((member + g * s - truth) ** 2) for g in grid]))]
    rows, cols = rng.integers(0, cy * factor, 40), rng.integers(0, cx * factor, 40)
    y = truth[:, rows, cols] + rng.normal(0, 0.02, 40) + rng.normal(0, 0.01, (days, 40))
    sid = np.broadcast_to(np.arange(40), (days, 40))
    e = estimate_share(
        y.ravel(),
        member[:, rows, cols].ravel(),
        spread_at(r, factor, rows, cols).ravel(),
        sid.ravel(),
    )
    assert abs(e.share - best) < 0.08
    block = block_mean(member, factor, 0.5)[:, rows // factor, cols // factor]
    c = coarse[:, rows // factor, cols // factor]
    cell = estimate_share(y.ravel(), block.ravel(), (c - block).ravel(), sid.ravel())
    assert cell.share < e.share - 0.1


@pytest.mark.parametrize("regular", [True, False])
def test_block_means_gathered_in_pieces_equal_the_whole_fields(regular):
    """predict_period gathers each member's block sums from blocks of rows and columns that
    cut coarse cells: the means are those of the whole field, missing cells and the
    half-covered rule included, for a regular factor and an uneven index map (SMAP)."""
    from smdownscale.tiling import grid_blocks

    rng = np.random.default_rng(8)
    if regular:
        blocks = Blocks.regular(5, 30, 40)
    else:  # uneven coarse cells, as the EASE-Grid map gives
        rows = np.repeat(np.arange(5), [7, 5, 6, 8, 4])
        cols = np.repeat(np.arange(6), [6, 7, 8, 5, 7, 7])
        blocks = Blocks(rows, cols, np.arange(5) * 6.0 + 3, np.arange(6) * 6.6 + 3)
    fine = rng.random((3, *blocks.fine_shape))
    fine[rng.random(fine.shape) < 0.45] = np.nan
    fine[:, :7, :6] = np.nan  # one coarse cell without a value
    means = BlockMeans.empty(blocks, 3)
    for b in grid_blocks(*blocks.fine_shape, 8, 16, 0, chunk_rows=16):
        means.add(fine[:, b.rows, b.cols], b.rows, b.cols)
    expected = blocks.mean(fine, 0.5)
    got = means.mean(0.5)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert np.isnan(expected).any() and np.isfinite(expected).any()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        means.add(fine[:, :3, :3], slice(0, 3), slice(0, 4))
