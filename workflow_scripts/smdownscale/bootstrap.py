"""Station-block bootstrap intervals of station scores (issue 16, item 6).

Why
    Table 4's Fisher z interval of R treats every station-day as independent. Days of one
    station are not: a station that reads 0.05 wetter than its cell does so every day, and
    its days move together. With 30 stations and 400 station-days the honest sample size is
    nearer 30 than 400, and the Fisher interval is too narrow.

What
    Resample *stations* with replacement (G draws from the G stations, each drawn station
    bringing all its pairs), score the resampled pairs, repeat ``draws`` times (seeded), and
    take the percentile interval (``(1 - level) / 2`` and ``(1 + level) / 2``) of each score:
    R, RMSE, ubRMSE and bias. Every draw is computed from per-station sums (n, sums of p, y,
    p^2, y^2, p*y), so a draw costs one matrix product whatever the number of pairs.

    With one pair per station the station bootstrap is the ordinary pair bootstrap, whose
    interval of R agrees with the Fisher z interval for a bivariate normal sample (a unit test
    checks); with correlated days it widens as it should. Fewer than ``min_stations`` (3)
    stations give NaN: three stations cannot describe the spread of a network. Draws whose R
    is undefined (a constant resample) are left out of the R interval.

Pure functions of arrays; no files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Scores with a bootstrap interval, in column order.
BOOT_SCORES = ("r", "rmse", "ubrmse", "bias")
#: Table columns: <score>_boot_low, <score>_boot_high.
BOOT_COLUMNS = [f"{s}_boot_{e}" for s in BOOT_SCORES for e in ("low", "high")]


@dataclass(frozen=True)
class BootstrapSettings:
    """``draws`` resamples (seeded by ``seed``), interval ``level``, and the fewest stations
    an interval is given for."""

    draws: int = 1000
    seed: int = 0
    level: float = 0.95
    min_stations: int = 3

    def __post_init__(self) -> None:
        if self.draws < 10:
            raise ValueError(f"bootstrap draws must be >= 10, got {self.draws}")
        if not 0.5 <= self.level < 1.0:
            raise ValueError(f"bootstrap level must be in [0.5, 1), got {self.level}")


def station_sums(p: np.ndarray, y: np.ndarray, station: np.ndarray) -> np.ndarray:
    """(G, 6) per-station sums n, p, y, p^2, y^2, p*y over the pairs with both finite."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(p) & np.isfinite(y)
    codes, _ = pd.factorize(np.asarray(station)[ok])
    p, y = p[ok], y[ok]
    g = int(codes.max()) + 1 if codes.size else 0
    cols = (np.ones_like(p), p, y, p * p, y * y, p * y)
    return np.column_stack([np.bincount(codes, weights=c, minlength=g) for c in cols])


def scores_from_sums(s: np.ndarray) -> dict[str, np.ndarray]:
    """R, RMSE, ubRMSE and bias from summed statistics (..., 6) (as :func:`station_sums`)."""
    n, sp, sy, spp, syy, spy = (s[..., i] for i in range(6))
    with np.errstate(invalid="ignore", divide="ignore"):
        mp, my = sp / n, sy / n
        vp = np.maximum(spp / n - mp * mp, 0.0)
        vy = np.maximum(syy / n - my * my, 0.0)
        cov = spy / n - mp * my
        r = np.clip(cov / np.sqrt(vp * vy), -1.0, 1.0)
        r = np.where((vp > 0) & (vy > 0), r, np.nan)
        mse = (spp - 2 * spy + syy) / n
        bias = mp - my
        rmse = np.sqrt(np.maximum(mse, 0.0))
        ubrmse = np.sqrt(np.maximum(mse - bias * bias, 0.0))
    return {"r": r, "rmse": rmse, "ubrmse": ubrmse, "bias": bias}


def station_bootstrap(
    p: np.ndarray,
    y: np.ndarray,
    station: np.ndarray,
    settings: BootstrapSettings = BootstrapSettings(),
    rng: np.random.Generator | None = None,
) -> dict[str, float]:
    """Percentile intervals ``<score>_boot_low/high`` of R, RMSE, ubRMSE and bias of the
    product ``p`` against ``y``, resampling the stations ``station`` labels (one label per
    pair); NaN with fewer than ``settings.min_stations`` stations."""
    sums = station_sums(p, y, station)
    out = dict.fromkeys(BOOT_COLUMNS, np.nan)
    g = sums.shape[0]
    if g < settings.min_stations:
        return out
    rng = rng if rng is not None else np.random.default_rng(settings.seed)
    counts = rng.multinomial(g, np.full(g, 1.0 / g), size=settings.draws).astype(np.float64)
    boot = scores_from_sums(counts @ sums)
    q = [(1 - settings.level) / 2 * 100, (1 + settings.level) / 2 * 100]
    for name in BOOT_SCORES:
        v = boot[name]
        v = v[np.isfinite(v)]
        if v.size >= settings.draws // 2:
            out[f"{name}_boot_low"], out[f"{name}_boot_high"] = np.percentile(v, q)
    return out
