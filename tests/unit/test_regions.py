import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from smdownscale.grid import LatLonGrid
from smdownscale.regions import (
    NO_REGION,
    RegionError,
    fine_regions,
    kmeans_regions,
    labels_from_index,
    region_features,
)


def three_cluster_field(noise: float = 0.005, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A 12 x 18 field of three vertical bands, wet (west), dry (middle), medium (east)."""
    truth = np.repeat(np.array([2, 0, 1]), 6)[None, :].repeat(12, axis=0)
    level = np.array([0.08, 0.20, 0.35])[truth]
    rng = np.random.default_rng(seed)
    return level + rng.normal(0.0, noise, truth.shape), truth


def test_three_clusters_recovered_and_ordered_driest_first():
    sm, truth = three_cluster_field()
    labels = kmeans_regions(sm, k=3, seed=0)
    assert labels.dtype == np.int16
    assert adjusted_rand_score(truth.ravel(), labels.ravel()) == pytest.approx(1.0)
    # 0 = driest: label numbering equals the truth's dry -> wet numbering
    np.testing.assert_array_equal(labels, truth)
    means = [sm[labels == lab].mean() for lab in range(3)]
    assert means == sorted(means)


def test_fixed_seed_gives_identical_map():
    sm, _ = three_cluster_field(noise=0.05)  # noisy enough that clusters are not trivial
    a = kmeans_regions(sm, k=4, seed=7)
    b = kmeans_regions(sm, k=4, seed=7)
    np.testing.assert_array_equal(a, b)


def test_small_perturbation_does_not_permute_labels():
    sm, truth = three_cluster_field()
    perturbed = sm + np.random.default_rng(99).normal(0.0, 0.002, sm.shape)
    for seed in (0, 1, 2):
        np.testing.assert_array_equal(kmeans_regions(perturbed, k=3, seed=seed), truth)


def test_k1_is_one_region_and_missing_cells_are_minus_one():
    sm, _ = three_cluster_field()
    sm[0, :4] = np.nan
    one = kmeans_regions(sm, k=1, seed=0)
    assert set(np.unique(one)) == {NO_REGION, 0}
    assert (one[0, :4] == NO_REGION).all()
    assert (one[np.isfinite(sm)] == 0).all()
    three = kmeans_regions(sm, k=3, seed=0)
    assert (three[0, :4] == NO_REGION).all()
    assert set(np.unique(three[np.isfinite(sm)])) == {0, 1, 2}


def test_k_larger_than_valid_cells_is_a_clear_error():
    sm = np.full((3, 3), np.nan)
    sm[1, 1:] = [0.1, 0.2]
    with pytest.raises(RegionError, match="k=3 regions requested but only 2 coarse cells"):
        kmeans_regions(sm, k=3, seed=0)
    with pytest.raises(RegionError, match="positive integer"):
        kmeans_regions(sm, k=0, seed=0)
    with pytest.raises(RegionError, match="nothing to cluster"):
        kmeans_regions(np.full((2, 2), np.nan), k=1, seed=0)


def test_fewer_distinct_values_than_k_is_an_error():
    sm = np.full((4, 4), 0.2)
    sm[:2] = 0.1
    with pytest.raises(RegionError, match="only 2 distinct feature values"):
        kmeans_regions(sm, k=3, seed=0)


def test_region_features_standardised_and_extra_features_used():
    sm = np.full((6, 6), 0.2)
    sm[0, 0] = np.nan
    elev = np.zeros((6, 6))
    elev[:, 3:] = 1500.0
    elev[5, 5] = np.nan  # gap in a static layer: cell kept, filled with the mean
    X, valid = region_features(sm, {"elev": elev})
    assert X.shape == (35, 2) and valid.sum() == 35 and not valid[0, 0]
    assert np.allclose(X[:, 0], 0.0)  # constant feature -> zeros
    col = X[:, 1]
    assert col[-1] == 0.0
    assert np.mean(col[:-1]) == pytest.approx(0.0) and np.std(col[:-1]) == pytest.approx(1.0)
    # soil moisture is uniform: the two regions follow elevation
    labels = kmeans_regions(sm, k=2, seed=0, extra={"elev": elev})
    assert len(np.unique(labels[:, :3][valid[:, :3]])) == 1
    assert len(np.unique(labels[:5, 3:])) == 1
    assert labels[1, 0] != labels[1, 4]
    with pytest.raises(RegionError, match="extra feature 'elev' has shape"):
        region_features(sm, {"elev": elev[:5]})


def test_fine_cells_inherit_coarse_label():
    coarse = LatLonGrid(north=41.0, south=40.0, west=110.0, east=110.75, res=0.25)
    fine = LatLonGrid(north=41.0, south=40.0, west=110.0, east=110.75, res=0.05)
    labels = np.arange(12, dtype=np.int16).reshape(4, 3) - 1  # includes one -1
    out = fine_regions(labels, fine, coarse)
    assert out.shape == (20, 15) and out.dtype == np.int16
    for r in range(4):
        for c in range(3):
            assert (out[5 * r : 5 * r + 5, 5 * c : 5 * c + 5] == labels[r, c]).all()
    with pytest.raises(RegionError, match="coarse labels have shape"):
        fine_regions(labels[:3], fine, coarse)


def test_labels_from_index_map_with_outside_cells():
    labels = np.array([[0, 1], [2, -1]], dtype=np.int16)
    index = np.array([[0, 3, -1], [2, 1, 1]])
    np.testing.assert_array_equal(labels_from_index(labels, index), [[0, -1, -1], [2, 1, 1]])
