"""Regions: k-means clusters of the multi-year mean coarse soil moisture (METHOD.md section 4).

Rules:

* Features are the multi-year mean of the coarse soil moisture, optionally with other static
  fields (e.g. elevation), each standardised to zero mean and unit variance over the cells
  being clustered, so that no feature dominates by its units.
* A cell is clustered when its multi-year mean soil moisture is finite. A cell whose mean
  is missing gets label ``-1`` (no region, no model, no prediction). A missing *extra*
  feature at a clustered cell is filled with that feature's mean (0 after standardising), so
  a gap in a static layer does not remove a cell that has soil moisture.
* Labels are made stable and meaningful: clusters are renumbered in order of increasing mean
  soil moisture (0 = driest), so a fixed seed gives the same map, and a small perturbation of
  the input, which moves the centroids but not their order, does not permute the labels.
* ``k = 1`` switches clustering off: every clustered cell is region 0 (the paper's ablation).
* Fine cells inherit the label of the coarse cell holding them.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from .grid import LatLonGrid, coarse_index_of_fine

#: Label of cells that belong to no region (multi-year mean missing).
NO_REGION = -1

#: Restarts of k-means; the best (lowest inertia) of these is kept.
DEFAULT_N_INIT = 10


class RegionError(ValueError):
    """Clustering inputs that cannot be used, with a message saying what to change."""


def _standardise(column: np.ndarray) -> np.ndarray:
    """Z-score of a 1-D array; a constant column becomes zeros (it carries no information).

    "Constant" allows for rounding: a spread below 1e-9 of the column's magnitude is none.
    """
    if column.size == 0:
        return np.zeros(0, dtype=np.float64)
    mean = float(np.mean(column))
    sd = float(np.std(column))
    if not sd > 1e-9 * max(1.0, abs(mean)):
        return np.zeros_like(column, dtype=np.float64)
    return (column - mean) / sd


def region_features(
    sm_mean: np.ndarray, extra: dict[str, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Standardised clustering features of the cells that can be clustered.

    Args:
        sm_mean: (ny, nx) multi-year mean coarse soil moisture, NaN where missing.
        extra: optional static features, each (ny, nx); used in sorted-name order so that
            the column order does not depend on the dict's insertion order.

    Returns:
        ``(X, valid)``: ``X`` is (n_valid, 1 + len(extra)), column 0 the standardised soil
        moisture, then the standardised extra features; ``valid`` is the (ny, nx) boolean
        mask of clustered cells (finite ``sm_mean``), in row-major order matching ``X``'s
        rows. Extra-feature gaps at valid cells are filled with 0 (the feature's mean).
    """
    sm_mean = np.asarray(sm_mean, dtype=np.float64)
    if sm_mean.ndim != 2:
        raise RegionError(f"sm_mean must be a 2-D (lat, lon) field, got shape {sm_mean.shape}")
    valid = np.isfinite(sm_mean)
    columns = [_standardise(sm_mean[valid])]
    extra = extra or {}
    for name in sorted(extra):
        field = np.asarray(extra[name], dtype=np.float64)
        if field.shape != sm_mean.shape:
            raise RegionError(
                f"extra feature {name!r} has shape {field.shape}, expected {sm_mean.shape} "
                "(the coarse grid of the soil moisture mean)"
            )
        values = field[valid]
        ok = np.isfinite(values)
        z = np.zeros(values.shape, dtype=np.float64)
        if ok.any():
            z[ok] = _standardise(values[ok])
        columns.append(z)
    return np.column_stack(columns), valid


def _order_by_wetness(raw_labels: np.ndarray, sm_values: np.ndarray) -> np.ndarray:
    """Renumber labels 0..m-1 by increasing mean soil moisture (ties: old label order)."""
    present = np.unique(raw_labels)
    means = np.array([sm_values[raw_labels == lab].mean() for lab in present])
    order = present[np.argsort(means, kind="stable")]
    lookup = np.empty(int(raw_labels.max()) + 1, dtype=np.int64)
    lookup[order] = np.arange(order.size)
    return lookup[raw_labels]


def kmeans_regions(
    sm_mean: np.ndarray,
    k: int,
    seed: int,
    extra: dict[str, np.ndarray] | None = None,
    n_init: int = DEFAULT_N_INIT,
) -> np.ndarray:
    """(ny, nx) int16 region labels from k-means on the multi-year mean soil moisture.

    Uses scikit-learn's ``KMeans`` (``n_init >= 10`` restarts, ``random_state=seed``) on the
    features of :func:`region_features`. Labels are renumbered by increasing cluster-mean
    soil moisture (0 = driest); cells with a missing mean are ``-1``; ``k = 1`` gives one
    region (clustering off). Raises :class:`RegionError` when ``k < 1``, when no cell has a
    mean, when ``k`` exceeds the number of cells with a mean, or when there are fewer
    distinct feature vectors than ``k`` (k-means would return empty clusters).
    """
    if int(k) != k or k < 1:
        raise RegionError(f"the number of regions k must be a positive integer, got {k!r}")
    if n_init < DEFAULT_N_INIT:
        raise RegionError(f"n_init must be at least {DEFAULT_N_INIT}, got {n_init}")
    X, valid = region_features(sm_mean, extra)
    n_valid = int(valid.sum())
    if n_valid == 0:
        raise RegionError("no coarse cell has a multi-year mean soil moisture: nothing to cluster")
    if k > n_valid:
        raise RegionError(
            f"k={k} regions requested but only {n_valid} coarse cells have a multi-year mean "
            "soil moisture; lower the number of regions (config 'regions.k') or enlarge the bbox"
        )
    labels = np.full(valid.shape, NO_REGION, dtype=np.int16)
    if k == 1:
        labels[valid] = 0
        return labels
    n_distinct = np.unique(X, axis=0).shape[0]
    if n_distinct < k:
        raise RegionError(
            f"k={k} regions requested but the cells have only {n_distinct} distinct feature "
            "values; lower the number of regions (config 'regions.k')"
        )
    model = KMeans(n_clusters=k, n_init=n_init, random_state=seed)
    raw = model.fit_predict(X)
    sm_values = np.asarray(sm_mean, dtype=np.float64)[valid]
    labels[valid] = _order_by_wetness(raw, sm_values).astype(np.int16)
    return labels


def labels_from_index(labels_coarse: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Labels of fine cells from a fine -> flat-coarse-index map (``-1`` index: no region).

    This is the general form of :func:`fine_regions`, usable with any coarse grid whose
    fine -> coarse relation is an index map (METHOD.md section 1, e.g. EASE-Grid 2.0).
    """
    flat = np.asarray(labels_coarse).ravel()
    index = np.asarray(index)
    if index.size and int(index.max()) >= flat.size:
        raise RegionError(
            f"index map refers to coarse cell {int(index.max())} but the label map has "
            f"only {flat.size} cells"
        )
    out = np.full(index.shape, NO_REGION, dtype=np.int16)
    inside = index >= 0
    out[inside] = flat[index[inside]]
    return out


def fine_regions(labels_coarse: np.ndarray, fine: LatLonGrid, coarse: LatLonGrid) -> np.ndarray:
    """(nlat_f, nlon_f) int16 labels: each fine cell inherits its coarse cell's label."""
    labels_coarse = np.asarray(labels_coarse)
    if labels_coarse.shape != coarse.shape:
        raise RegionError(
            f"coarse labels have shape {labels_coarse.shape}, expected the coarse grid's "
            f"{coarse.shape}"
        )
    return labels_from_index(labels_coarse, coarse_index_of_fine(fine, coarse))
