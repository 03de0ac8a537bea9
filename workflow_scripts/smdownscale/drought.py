"""Drought regions and how the products follow them (issue 16, item 5).

As the paper does with TerraClimate: a cell is in a drought region when its PDSI is at or
below ``threshold`` (-2, moderate drought) in more than ``share`` (80 %) of the run's months
with a value. Over the fine cells whose centres fall in drought cells, the monthly means of
the product, the coarse product and (where configured) ERA5-Land form the regional series,
each correlated with the region's mean PDSI (Pearson R over the months all have a value;
with a run of a few months, R rests on few points and n says how many).

Pure functions; the rule streams daily files into monthly sums (:class:`MonthlyMeans`).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def drought_mask(pdsi: np.ndarray, threshold: float = -2.0, share: float = 0.8) -> np.ndarray:
    """(lat, lon) True where PDSI <= ``threshold`` in more than ``share`` of the months with
    a value (months, lat, lon input); False where no month has one."""
    p = np.asarray(pdsi, dtype=np.float64)
    have = np.isfinite(p).sum(axis=0)
    dry = (np.isfinite(p) & (p <= threshold)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (have > 0) & (dry / np.maximum(have, 1) > share)


class MonthlyMeans:
    """Running sums of daily regional values, by month (``YYYY-MM``) and series name."""

    def __init__(self) -> None:
        self.sums: dict[str, dict[str, list[float]]] = defaultdict(dict)

    def add(self, name: str, month: str, values: np.ndarray) -> None:
        """Add one day's values over the region (NaN ignored)."""
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        s = self.sums[name].setdefault(month, [0.0, 0])
        s[0] += float(v.sum())
        s[1] += int(v.size)

    def series(self, name: str, months: list[str]) -> np.ndarray:
        """The monthly means of ``name`` over ``months`` (NaN where nothing was added)."""
        out = []
        for m in months:
            s, n = self.sums.get(name, {}).get(m, (0.0, 0))
            out.append(s / n if n else np.nan)
        return np.asarray(out)


def correlation(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Pearson R of two series over the entries both have, and how many; NaN below 3."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    if n < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return np.nan, n
    return float(np.corrcoef(a[ok], b[ok])[0, 1]), n
