"""Daily member predictions on the fine grid: resolve each region's model, predict a block.

A region's model for a period is its own (fitted on its samples), the previous period's own
model, this period's all-region ("pooled") model, or none (METHOD.md section 5; the choice is
made at fitting, :func:`smdownscale.windows.model_source`). Cells of a region without a
model, and cell-days with a missing predictor, get no prediction (NaN): a documented skip,
counted and mapped in ``model_source``, never a value from imputed inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

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


def predict_block(
    X: np.ndarray,
    labels: np.ndarray,
    models: Mapping[int, tuple[str, Mapping[str, Any] | None]],
    members: Sequence[str],
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Predict every member for a block of cells and days.

    ``X`` is (t, rows, cols, p) features, ``labels`` (rows, cols) region numbers (-1: none).
    Returns ({member: (t, rows, cols) float32, NaN where no prediction}, source code map,
    (t, rows, cols) int8 index of the predictor subset that predicted each cell-day, -1
    where none: see :mod:`.members.subsets`).
    """
    nt = X.shape[0]
    result = {m: np.full(X.shape[:3], np.nan, dtype=np.float32) for m in members}
    source = np.full(labels.shape, NO_SOURCE, dtype=np.int8)
    subset = np.full(X.shape[:3], -1, dtype=np.int8)
    for c, (src, fitted) in models.items():
        cells = labels == c
        source[cells] = SOURCE_CODES[src]
        if fitted is None or not cells.any():
            continue
        Xc = X[:, cells, :].reshape(-1, X.shape[-1])
        subset[:, cells] = fitted[members[0]].codes(Xc).reshape(nt, -1)
        for m in members:
            result[m][:, cells] = np.asarray(fitted[m].predict(Xc)).reshape(nt, -1)
    return result, source, subset
