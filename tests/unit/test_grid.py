import numpy as np
import pytest

from smdownscale.blocks import Blocks, BlocksError
from smdownscale.grid import (
    GridError,
    LatLonGrid,
    aggregate,
    aggregate_blocked,
    block_cubic,
    block_mean,
    block_nearest,
    coarse_index_of_fine,
    global_grid,
    region_grids,
    snap_bbox,
)


def test_esa_cci_global_grid_matches_product():
    g = global_grid(0.25)
    assert g.shape == (720, 1440)
    assert g.lat[0] == 89.875 and g.lat[-1] == -89.875
    assert g.lon[0] == -179.875 and g.lon[-1] == 179.875


def test_region_snaps_outward_to_coarse_edges():
    coarse, fine = region_grids((110.1, 39.01, 112.9, 40.99), 0.25, 0.01)
    assert coarse.bbox == (110.0, 39.0, 113.0, 41.0)
    assert fine.bbox == coarse.bbox
    assert coarse.shape == (8, 12) and fine.shape == (200, 300)
    # each coarse cell holds a whole 25 x 25 block of fine cells
    idx = coarse_index_of_fine(fine, coarse)
    counts = np.bincount(idx.ravel())
    assert counts.size == coarse.size and (counts == 625).all()


def test_three_north_fine_grid_size():
    _, fine = region_grids((73.4, 33.5, 127.8, 50.2), 0.25, 0.01)
    assert fine.shape == (1675, 5475)  # 9.17 M cells, the paper's region-day


def test_snap_keeps_exact_edges():
    assert snap_bbox((110.0, 39.0, 113.0, 41.0), 0.25) == (110.0, 39.0, 113.0, 41.0)
    assert snap_bbox((-0.1, -0.1, 0.1, 0.1), 0.25) == (-0.25, -0.25, 0.25, 0.25)


@pytest.mark.parametrize(
    "bbox",
    [
        (113.0, 39.0, 110.0, 41.0),
        (110.0, 41.0, 113.0, 39.0),
        (110.0, 39.0, 110.0, 41.0),
        (190.0, 39.0, 200.0, 41.0),
    ],
)
def test_bbox_without_coarse_cell_is_a_clear_error(bbox):
    with pytest.raises(GridError, match=r"holds no coarse cell.*region\.bbox"):
        region_grids(bbox, 0.25, 0.01)


def test_fine_resolution_must_nest():
    with pytest.raises(GridError, match="grid.fine_res_deg"):
        region_grids((110, 39, 113, 41), 0.25, 0.03)


def test_cell_index_points_edges_and_outside():
    g = LatLonGrid(north=41, south=39, west=110, east=113, res=0.25)
    row, col = g.cell_index(
        np.array([40.99, 39.01, 41.0, 38.99, 40.0]), np.array([110.01, 112.99, 110.0, 111.0, 111.0])
    )
    assert list(row) == [0, 7, 0, -1, 4]  # 40.0 is an interior edge: belongs to the south row
    assert list(col) == [0, 11, 0, -1, 4]


def test_from_coords_round_trip():
    _, fine = region_grids((110, 39, 113, 41), 0.25, 0.01)
    assert LatLonGrid.from_coords(fine.lat, fine.lon) == fine


def test_block_mean_equals_hand_computed_mean():
    rng = np.random.default_rng(0)
    fine = rng.random((50, 75))
    fine[0:25, 0:25][:5, :] = np.nan  # 125 of 625 missing: 80 % valid
    out = block_mean(fine, 25, min_valid_fraction=0.5)
    assert out.shape == (2, 3)
    assert out[0, 0] == pytest.approx(np.nanmean(fine[:25, :25]))
    assert out[1, 2] == pytest.approx(fine[25:, 50:].mean())
    # below the minimum valid fraction the block is missing
    assert np.isnan(block_mean(fine, 25, min_valid_fraction=0.9)[0, 0])


def test_block_mean_keeps_leading_time_axis():
    cube = np.arange(2 * 4 * 4, dtype=float).reshape(2, 4, 4)
    out = block_mean(cube, 2)
    assert out.shape == (2, 2, 2)
    assert out[1, 0, 1] == pytest.approx(cube[1, 0:2, 2:4].mean())


def test_cubic_of_constant_and_of_linear_ramp():
    const = np.full((50, 50), 0.3)
    assert np.allclose(block_cubic(const, 25), 0.3)
    # cubic convolution reproduces a linear ramp at interior block centres
    y, x = np.mgrid[0:125, 0:125].astype(float)
    ramp = 0.001 * x + 0.002 * y
    out = block_cubic(ramp, 25)
    assert out[2, 2] == pytest.approx(block_mean(ramp, 25)[2, 2], abs=1e-9)


def test_nearest_takes_block_centre():
    fine = np.arange(50 * 50, dtype=float).reshape(50, 50)
    out = block_nearest(fine, 25)
    assert out[1, 1] == fine[37, 37]


def test_unknown_aggregation_method():
    with pytest.raises(GridError, match="unknown aggregation method 'median'"):
        aggregate(np.zeros((4, 4)), 2, "median")  # type: ignore[arg-type]


def _field_with_gaps(shape, seed=3):
    rng = np.random.default_rng(seed)
    field = rng.uniform(280, 320, shape)
    field[rng.random(shape) < 0.3] = np.nan
    field[..., 10:40, 5:30] = np.nan  # a large hole across a block boundary
    return field


@pytest.mark.parametrize("method", ["mean", "cubic", "nearest"])
@pytest.mark.parametrize("block_rows", [1, 5, 10, 15, 25, 45, 1000])
def test_blocked_aggregation_equals_whole_field(method, block_rows):
    factor = 5  # cubic halo = 10 fine rows: blocks of 5 are smaller than the halo
    field = _field_with_gaps((3, 60, 40))
    reads = []

    def read_rows(rows):
        reads.append(rows)
        return field[..., rows, :]

    out = aggregate_blocked(read_rows, Blocks.regular(factor, 60, 40), method, 0.5, block_rows)
    whole = aggregate(field, factor, method, 0.5)
    assert out.shape == whole.shape == (3, 12, 8)
    np.testing.assert_allclose(out, whole, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert np.isfinite(whole).any() and np.isnan(whole).any()
    # every read holds whole coarse rows, at most one block plus the halo on each side
    step = factor * max(1, block_rows // factor)
    halo = 2 * factor if method == "cubic" else 0
    for rows in reads:
        assert rows.start % factor == 0 and rows.stop % factor == 0
        assert rows.stop - rows.start <= step + 2 * halo


def test_blocked_cubic_without_halo_would_differ():
    # the check above is meaningful: cubic blocks aggregated alone differ at their seams
    field = _field_with_gaps((60, 40))
    parts = [aggregate(field[r : r + 10], 5, "cubic") for r in range(0, 60, 10)]
    naive = np.concatenate(parts, axis=0)
    whole = aggregate(field, 5, "cubic")
    assert np.nanmax(np.abs(naive - whole)) > 0.1


def test_blocked_aggregation_needs_whole_coarse_rows():
    with pytest.raises(BlocksError, match="does not tile"):
        aggregate_blocked(lambda rows: np.zeros((7, 10)), Blocks.regular(5, 7, 10))
