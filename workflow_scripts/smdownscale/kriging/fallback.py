"""Where the fields are not kriged: per-region values and the per-cell source codes."""

from __future__ import annotations

import numpy as np

from .geometry import KrigingError

#: Per-cell source codes (for quality flags).
SOURCE_KRIGED = 0
SOURCE_REGION = 1
SOURCE_ALL_STATIONS = 2


class RegionMeans:
    """Per-region station means and SDs of F fields (the fallback).

    Args:
        values: station values (n, F).
        regions: station region labels (n,) ints, or None (one region: all stations).

    :meth:`lookup` gives, for target labels, the region's station mean and SD; labels with
    no station (including -1, "no region") get the all-station mean and SD. A region with a
    single station takes the all-station SD; with one station in total the SD is NaN; with no
    stations everything is NaN.
    """

    def __init__(self, values: np.ndarray, regions: np.ndarray | None = None) -> None:
        v = np.asarray(values, dtype=np.float64)
        if v.ndim == 1:
            v = v[:, None]
        n, f = v.shape
        self.n_fields = f
        nan = np.full(f, np.nan)
        self.all_mean = v.mean(axis=0) if n else nan
        self.all_sd = v.std(axis=0, ddof=1) if n > 1 else nan
        if regions is None or n == 0:
            self.labels = np.zeros(0, dtype=np.int64)
            self.means = np.zeros((0, f))
            self.sds = np.zeros((0, f))
        else:
            reg = np.asarray(regions).astype(np.int64).ravel()
            if reg.size != n:
                raise KrigingError(f"{reg.size} station region labels for {n} stations")
            self.labels = np.unique(reg[reg >= 0])
            self.means = np.array([v[reg == lab].mean(axis=0) for lab in self.labels])
            self.sds = np.array(
                [
                    v[reg == lab].std(axis=0, ddof=1) if (reg == lab).sum() > 1 else self.all_sd
                    for lab in self.labels
                ]
            ).reshape(-1, f)
            self.means = self.means.reshape(-1, f)

    def index(self, labels: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
        """Row of each target in the table; ``len(labels)`` (= all stations) where unknown."""
        n_lab = self.labels.size
        if labels is None or n_lab == 0:
            return np.full(shape, n_lab, dtype=np.int64)
        lab = np.asarray(labels).astype(np.int64)
        if lab.shape != shape:
            raise KrigingError(f"target region labels have shape {lab.shape}, expected {shape}")
        pos = np.searchsorted(self.labels, lab)
        clipped = np.minimum(pos, n_lab - 1)
        return np.where(self.labels[clipped] == lab, clipped, n_lab)

    def lookup(
        self, labels: np.ndarray | None, shape: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean (F, *shape), sd (F, *shape), source (*shape) int8) for target labels."""
        idx = self.index(labels, shape)
        means = np.vstack([self.means, self.all_mean[None, :]])
        sds = np.vstack([self.sds, self.all_sd[None, :]])
        mean = np.moveaxis(means[idx], -1, 0)
        sd = np.moveaxis(sds[idx], -1, 0)
        source = np.where(idx < self.labels.size, SOURCE_REGION, SOURCE_ALL_STATIONS)
        return mean, sd, source.astype(np.int8)
