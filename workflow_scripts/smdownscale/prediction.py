"""Daily member predictions on the fine grid: resolve each region's model, predict a block.

A region's model for a period is its own (fitted on its samples), the previous period's own
model, this period's all-region ("pooled") model, or none (METHOD.md section 5; the choice is
made at fitting, :func:`smdownscale.windows.model_source`). Cells of a region without a
model, and cell-days with a missing predictor, get no prediction (NaN): a documented skip,
counted and mapped in ``model_source``, never a value from imputed inputs.

Regions are k-means classes of coarse cells, so their borders run along coarse-cell edges,
and two regions' models differ there: predicting each cell from its own region's model
alone painted those edges into every member (mean difference across a region border 2.4-4.5
times that between neighbours inside a cell on the demo). Near a border a cell is instead
predicted by the regions' models blended with smooth weights (:func:`region_weights`: each
region's indicator smoothed by a Gaussian of ``blend_cells`` fine cells, normalised over
the regions), so a region's model holds inside it and hands over smoothly across a border.
A cell whose own region has no model stays missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

SOURCE_CODES: dict[str, int] = {"own": 0, "previous": 1, "pooled": 2, "none": 3}
NO_SOURCE = -1  # cells outside every region


class ModelResolutionError(ValueError):
    """A region's recorded model source cannot be served from the model files given."""


def resolve_models(
    records: Sequence[Mapping[str, Any]],
    bundle: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
) -> dict[int, tuple[str, Mapping[str, Any] | None]]:
    """Region -> (source, {member: fitted model} or None) from a period's fit records.

    ``bundle`` is the period's model file content (``regions``: region -> members,
    ``pooled``: members or None, ``predictors``); ``previous`` the previous period's, needed
    only for regions whose source is ``previous``.
    """
    out: dict[int, tuple[str, Mapping[str, Any] | None]] = {}
    for rec in records:
        c, src = int(rec["region"]), rec["source"]
        if src == "own":
            models = bundle["regions"][c]
        elif src == "pooled":
            models = bundle["pooled"]
        elif src == "previous":
            models = (previous or {}).get("regions", {}).get(c)
            if models is None:
                raise ModelResolutionError(
                    f"period {bundle.get('period')}, region {c}: the fit chose the previous "
                    "period's model, but the previous model file has none for this region "
                    "(fitted with another configuration? rerun fit_period for both periods)"
                )
            if previous["predictors"] != bundle["predictors"]:
                raise ModelResolutionError(
                    f"period {bundle.get('period')}: the previous period's models use "
                    f"predictors {previous['predictors']}, this period's {bundle['predictors']}"
                )
        elif src == "none":
            models = None
        else:
            raise ModelResolutionError(f"region {c}: unknown model source {src!r}")
        if models is None and src != "none":
            raise ModelResolutionError(f"region {c}: source {src} but no model was stored")
        out[c] = (src, models)
    return out


def use_threads(models: Mapping[int, tuple[str, Mapping[str, Any] | None]], n: int) -> int:
    """Give every fitted model of ``models`` (:func:`resolve_models`) ``n`` prediction
    threads (the job's, not the fit's); returns how many fitted models were set."""
    count = 0
    seen: set[int] = set()
    for _, members in models.values():
        for member in (members or {}).values():
            for fm in getattr(member, "models", [member]):
                if fm is not None and id(fm) not in seen:
                    seen.add(id(fm))
                    fm.n_jobs = max(1, int(n))
                    count += 1
    return count


def region_weights(
    labels: np.ndarray,
    regions: Sequence[int],
    blend_cells: float,
    rows: slice | tuple[slice, slice] | None = None,
) -> dict[int, np.ndarray]:
    """Smooth weights of each region over ``labels`` (ny, nx; -1 outside every region).

    Each region's indicator is smoothed by a Gaussian of SD ``blend_cells`` (truncated at 2
    SD) and divided by the smoothed indicator of all regions, so the weights of a cell sum to
    1; ``blend_cells = 0`` gives each cell its own region's indicator. With ``rows`` (a
    slice of rows, or a (rows, columns) pair of slices) the labels hold a halo around the
    block and only the block's cells are returned. Weights below
    1e-3 are set to 0 (and the rest renormalised), so a region's model predicts only near it.
    """
    labels = np.asarray(labels)
    inside = labels >= 0
    if blend_cells <= 0:
        w = {c: (labels == c).astype(np.float32) for c in regions}
    else:

        def smooth(a: np.ndarray) -> np.ndarray:
            return ndimage.gaussian_filter(a, blend_cells, mode="nearest", truncate=2.0)

        total = smooth(inside.astype(np.float64))
        with np.errstate(invalid="ignore", divide="ignore"):
            w = {c: np.where(inside, smooth((labels == c) * 1.0) / total, 0.0) for c in regions}
        for c in regions:
            w[c][w[c] < 1e-3] = 0.0
        norm = sum(w.values())
        with np.errstate(invalid="ignore", divide="ignore"):
            w = {
                c: np.where(norm > 0, v / np.where(norm > 0, norm, 1.0), 0.0) for c, v in w.items()
            }
        w = {c: v.astype(np.float32) for c, v in w.items()}
    if rows is not None:
        w = {c: v[rows] for c, v in w.items()}
    return w


def predict_block(
    X: np.ndarray,
    labels: np.ndarray,
    models: Mapping[int, tuple[str, Mapping[str, Any] | None]],
    members: Sequence[str],
    weights: Mapping[int, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Predict every member for a block of cells and days.

    ``X`` is (t, rows, cols, p) features, ``labels`` (rows, cols) region numbers (-1: none),
    ``weights`` the regions' blending weights on the same cells (:func:`region_weights`;
    None: each cell from its own region's model only). Returns ({member: (t, rows, cols)
    float32, NaN where no prediction}, source code map, (t, rows, cols) int8 index of the
    predictor subset of the cell's own region's model, -1 where none: see
    :mod:`.members.subsets`).
    """
    nt = X.shape[0]
    source = np.full(labels.shape, NO_SOURCE, dtype=np.int8)
    subset = np.full(X.shape[:3], -1, dtype=np.int8)
    total = {m: np.zeros(X.shape[:3], dtype=np.float64) for m in members}
    wsum = {m: np.zeros(X.shape[:3], dtype=np.float64) for m in members}
    served = np.zeros(labels.shape, dtype=bool)
    for c, (src, fitted) in models.items():
        own = labels == c
        source[own] = SOURCE_CODES[src]
        if fitted is None:
            continue
        served |= own
        if own.any():
            Xo = X[:, own, :].reshape(-1, X.shape[-1])
            subset[:, own] = fitted[members[0]].codes(Xo).reshape(nt, -1)
        w = own.astype(np.float32) if weights is None else weights[c]
        cells = (w > 0) & (labels >= 0)
        if not cells.any():
            continue
        Xc = X[:, cells, :].reshape(-1, X.shape[-1])
        wc = w[cells][None, :].astype(np.float64)
        for m in members:
            f = np.asarray(fitted[m].predict(Xc), dtype=np.float64).reshape(nt, -1)
            ok = np.isfinite(f)
            total[m][:, cells] += np.where(ok, f * wc, 0.0)
            wsum[m][:, cells] += np.where(ok, wc, 0.0)
    result = {}
    for m in members:
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where((wsum[m] > 0) & served[None], total[m] / wsum[m], np.nan)
        result[m] = r.astype(np.float32)
    return result, source, subset


@dataclass(frozen=True)
class PredictBlock:
    """The task of one block of a period (rows by columns, every day;
    :class:`smdownscale.blockrun.BlockRunner`): read its features and the regions around
    it, predict every member.

    Called as ``task((rows, cols), models)`` with ``models`` from :func:`resolve_models`;
    returns ``(members, source, subset, labels)`` of :func:`predict_block` and the block's
    region labels. The regions are read with ``pad`` cells around the block (the blending
    Gaussian's reach), so a block's weights are those of the whole region. Holds only file
    paths and sizes, so it runs in a dask worker as well as in the job's process; the files
    are opened through :func:`smdownscale.blockrun.open_cached`, with netCDF's chunk cache
    sized to ``cache_bytes`` a variable (:func:`smdownscale.netcdf.keep_block_chunks`).
    """

    predictors: str
    static: str
    regions: str
    names: tuple[str, ...]
    members: tuple[str, ...]
    ndays: int
    nlat: int
    nlon: int
    blend_cells: float
    pad: int
    cache_bytes: int

    def __call__(
        self,
        block: tuple[slice, slice],
        models: Mapping[int, tuple[str, Mapping[str, Any] | None]],
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        from .blockrun import FILE_LOCK, open_cached
        from .features import read_block
        from .netcdf import set_chunk_cache

        rows, cols = block
        hr = slice(max(0, rows.start - self.pad), min(self.nlat, rows.stop + self.pad))
        hc = slice(max(0, cols.start - self.pad), min(self.nlon, cols.stop + self.pad))
        with FILE_LOCK:
            set_chunk_cache(self.cache_bytes)  # for files this process opens first
            pred, stat, reg = (open_cached(p) for p in (self.predictors, self.static, self.regions))
            X = read_block(pred, stat, list(self.names), rows, self.ndays, self.nlon, cols)
            around = np.ma.filled(reg.variables["region"][hr, hc], -1)
        inner = (
            slice(rows.start - hr.start, rows.stop - hr.start),
            slice(cols.start - hc.start, cols.stop - hc.start),
        )
        labels = around[inner]
        weights = region_weights(around, list(models), self.blend_cells, inner)
        result, source, subset = predict_block(X, labels, models, list(self.members), weights)
        return result, source, subset, labels
