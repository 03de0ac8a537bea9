"""A period's training samples, as rule fit_period draws them (and rules that must see the
same samples again, e.g. the importance analysis).

The samples are a deterministic function of the neighbour periods' coarse files, the
regions and the config (:mod:`.windows`), so any rule can rebuild exactly the samples a
period's members were fitted and scored on, without storing them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from .calendar import Period
from .features import coarse_cube
from .members.subsets import predictor_subsets
from .windows import SampleSelection, day_offsets, select_pooled, select_samples


def load_coarse_stack(paths: Sequence[str], names: Sequence[str]):
    """The neighbour periods' coarse files as one time stack: days, sm, features."""
    days, sms, feats = [], [], []
    for path in paths:
        with xr.open_dataset(path) as ds:
            sm, x = coarse_cube(ds, names)
            days += list(ds.indexes["time"].date)
        sms.append(sm)
        feats.append(x)
    return days, np.concatenate(sms), np.concatenate(feats)


def window_settings(mcfg: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """The adaptive window's settings from config ``members`` (samples needed, days, the
    predictors every sample must have)."""
    subsets = predictor_subsets(names, mcfg["optional_predictors"])
    return dict(
        min_samples=mcfg["min_samples_per_predictor"] * len(names),
        max_days=mcfg["window_max_days"],
        required=subsets[-1],
    )


def period_selections(
    days, sm, feats, labels: np.ndarray, period: Period, k: int, mcfg: Mapping[str, Any],
    names: Sequence[str],
) -> tuple[dict[int, SampleSelection], SampleSelection]:  # fmt: skip
    """Each region's own samples of ``period`` and the pooled (all-region) samples."""
    window = window_settings(mcfg, names)
    off = day_offsets(days, period)
    own = {
        c: select_samples(
            sm, feats, off, period.ndays, labels, c, max_cells=mcfg["window_max_cells"], **window
        )
        for c in range(k)
    }
    return own, select_pooled(sm, feats, off, period.ndays, labels, **window)
