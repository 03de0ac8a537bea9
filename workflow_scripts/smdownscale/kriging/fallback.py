"""Where the fields are not kriged: one value per region, and the per-cell source codes.

When kriging is not supported (too few stations, no variogram, or a kriged map that does not
beat the pooled fit under station-held-out cross-validation), every cell takes its region's
values from a table the caller supplies: the region's pooled BMA fit
(:mod:`smdownscale.bma_pooled`), or the all-region pooled fit where its region has none.
Station parameters are never averaged into such a table: a station's bias terms hold its
point-scale representativeness error, which does not transfer to other cells.

Region borders follow coarse-cell edges, so per-region values would paint those edges into
the product; :func:`blend_across_regions` smooths them across borders with the Gaussian
weights the members' predictions use (``members.region_blend``), which keeps weights on the
simplex (a convex mix of points on it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .geometry import KrigingError

#: Per-cell source codes of the BMA parameters (``weights_source``; quality flags).
SOURCE_KRIGED = 0
SOURCE_POOLED = 1
SOURCE_POOLED_IDENTITY = 2
SOURCE_POOLED_ALL = 3
SOURCE_POOLED_ALL_IDENTITY = 4

#: CF ``flag_meanings`` of the source codes, in code order.
SOURCE_MEANINGS: dict[int, str] = {
    SOURCE_KRIGED: "kriged",
    SOURCE_POOLED: "region_pooled_fit",
    SOURCE_POOLED_IDENTITY: "region_pooled_weights_identity_bias",
    SOURCE_POOLED_ALL: "all_region_pooled_fit",
    SOURCE_POOLED_ALL_IDENTITY: "all_region_pooled_weights_identity_bias",
}


def pooled_source(own_region: bool, identity: bool) -> int:
    """Source code of a pooled row: the region's own fit or the all-region one, with bias
    terms at identity (a = 0, b = 1) or not."""
    if own_region:
        return SOURCE_POOLED_IDENTITY if identity else SOURCE_POOLED
    return SOURCE_POOLED_ALL_IDENTITY if identity else SOURCE_POOLED_ALL


@dataclass(frozen=True)
class RegionValues:
    """Field values and SDs per region, with a default row for cells of no listed region.

    Attributes:
        fields: field names (F).
        labels: (R,) region labels with their own row, ascending.
        values, sds: (R, F) per-region values and their SDs.
        sources: (R,) int8 source code of each row.
        default_values, default_sds: (F,) the row of every other label (including -1).
        default_source: source code of the default row.
    """

    fields: tuple[str, ...]
    labels: np.ndarray
    values: np.ndarray
    sds: np.ndarray
    sources: np.ndarray
    default_values: np.ndarray
    default_sds: np.ndarray
    default_source: int

    @classmethod
    def from_rows(
        cls,
        fields: Sequence[str],
        rows: Mapping[int, tuple[Mapping[str, float], Mapping[str, float], int]],
        default: int = -1,
    ) -> RegionValues:
        """From ``label -> (values by field, SDs by field, source)``; ``default`` is the key
        of the row every unlisted label takes (it must be present)."""
        if default not in rows:
            raise KrigingError(f"no default row (key {default}) among the regions {sorted(rows)}")
        fields = tuple(fields)
        own = sorted(k for k in rows if k != default)

        def table(keys: list[int], i: int) -> np.ndarray:
            return np.array(
                [[float(rows[k][i][f]) for f in fields] for k in keys], dtype=np.float64
            ).reshape(len(keys), len(fields))

        return cls(
            fields=fields,
            labels=np.asarray(own, dtype=np.int64),
            values=table(own, 0),
            sds=table(own, 1),
            sources=np.asarray([rows[k][2] for k in own], dtype=np.int8),
            default_values=table([default], 0)[0],
            default_sds=table([default], 1)[0],
            default_source=int(rows[default][2]),
        )

    def index(self, labels: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
        """Row of each target; ``len(labels)`` (the default row) where the label has none."""
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
        means = np.vstack([self.values, self.default_values[None, :]])
        sds = np.vstack([self.sds, self.default_sds[None, :]])
        source = np.append(self.sources, np.int8(self.default_source)).astype(np.int8)
        return np.moveaxis(means[idx], -1, 0), np.moveaxis(sds[idx], -1, 0), source[idx]


def blend_across_regions(values: np.ndarray, labels: np.ndarray, blend_cells: float) -> np.ndarray:
    """Per-region values (..., ny, nx) mixed across region borders.

    Each cell inside a region (label >= 0) takes sum_c w_c(cell) v_c, with w_c the region
    indicator smoothed by a Gaussian of SD ``blend_cells`` (truncated at 2 SD, edges
    repeated) and normalised over the regions' cells: the weights
    :func:`smdownscale.prediction.region_weights` gives the members (without its 1e-3
    cut), computed as the normalised convolution of the values. Cells outside every region
    keep their values; ``blend_cells = 0`` returns the values unchanged. Far from a border
    (beyond 2 SD) a cell keeps its region's value exactly.
    """
    values = np.asarray(values)
    labels = np.asarray(labels)
    if values.shape[-2:] != labels.shape:
        raise KrigingError(f"values of shape {values.shape} over labels of shape {labels.shape}")
    if blend_cells <= 0:
        return values
    inside = labels >= 0

    def smooth(a: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(a, blend_cells, mode="nearest", truncate=2.0)

    total = smooth(inside.astype(np.float64))
    flat = values.reshape(-1, *labels.shape).astype(np.float64)
    out = np.empty_like(flat)
    with np.errstate(invalid="ignore", divide="ignore"):
        for i, v in enumerate(flat):
            mixed = smooth(np.where(inside, v, 0.0)) / total
            out[i] = np.where(inside & (total > 0), mixed, v)
    return out.reshape(values.shape).astype(values.dtype, copy=False)
