"""Counting member predictions outside the physical range [0, porosity] (METHOD.md section 6).

Members are not clipped (the BMA's bias terms act on their raw values, and the product is
clipped and flagged at the end); a member that leaves the physical range is counted per
member and period so the report shows it, rather than having it disappear in a clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RangeCount:
    """Running counts of finite values below 0 and above the porosity, and the extremes."""

    n: int = 0
    below: int = 0
    above: int = 0
    low: float = float("inf")
    high: float = float("-inf")

    def add(self, values: np.ndarray, porosity: float) -> None:
        v = np.asarray(values)
        v = v[np.isfinite(v)]
        if v.size == 0:
            return
        self.n += int(v.size)
        self.below += int((v < 0).sum())
        self.above += int((v > porosity).sum())
        self.low = min(self.low, float(v.min()))
        self.high = max(self.high, float(v.max()))

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-ready counts; the extremes are None when nothing was counted."""
        return {
            "n": self.n,
            "below_zero": self.below,
            "above_porosity": self.above,
            "min": self.low if self.n else None,
            "max": self.high if self.n else None,
        }
