"""Three-cornered hat (N-cornered hat) error variances of co-located products (issue 17).

The MCCA system estimates each product's random error without a reference: for products
``x_i = t + e_i`` on the same grid and days, with errors independent of each other,

    var(x_i - x_j) = s_i^2 + s_j^2      for every pair i < j,

whatever the (unknown) truth ``t``. Three products give three equations in three unknowns
(the classic three-cornered hat: ``s_1^2 = (v_12 + v_13 - v_23) / 2``); N > 3 products give
N(N-1)/2 equations, solved by least squares (the same N x pairs pseudo-inverse at every
pixel, so a whole block of pixels is one matrix product). Errors that are correlated
(members trained on the same coarse target share its errors) make the differences smaller
than the errors and the estimates too low, sometimes negative: a negative estimate is set
to 0 and flagged, never hidden.

Streaming: the pair sums (count, sum and sum of squares of every pairwise difference over
the days where *all* products have a value) are accumulated one block of days at a time
(:class:`PairSums`), so memory does not grow with the length of the series; the variances
are the unbiased sample variances of the differences (divisor n - 1).

Pure functions on numpy arrays; no files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np


class TCHError(ValueError):
    """Not enough products to solve for their error variances."""


def pairs_of(n_products: int) -> list[tuple[int, int]]:
    """The product pairs i < j, in the order of the pair sums."""
    if n_products < 3:
        raise TCHError(
            f"the three-cornered hat needs at least 3 products, got {n_products}: with two, "
            "var(x1 - x2) = s1^2 + s2^2 cannot be split between them"
        )
    return list(combinations(range(n_products), 2))


def design(n_products: int) -> np.ndarray:
    """(pairs, N) 0/1 matrix: row (i, j) selects s_i^2 + s_j^2."""
    pairs = pairs_of(n_products)
    a = np.zeros((len(pairs), n_products))
    for k, (i, j) in enumerate(pairs):
        a[k, i] = a[k, j] = 1.0
    return a


@dataclass
class PairSums:
    """Running sums of the pairwise differences of N products over pixel shape ``shape``."""

    n_products: int
    shape: tuple[int, ...]
    n: np.ndarray = field(init=False)
    s1: np.ndarray = field(init=False)
    s2: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        q = len(pairs_of(self.n_products))
        self.n = np.zeros(self.shape, dtype=np.int64)
        self.s1 = np.zeros((q, *self.shape))
        self.s2 = np.zeros((q, *self.shape))

    def add(self, stack: np.ndarray) -> None:
        """Add days: ``stack`` (N, days, *shape); a day counts at a pixel only where every
        product has a finite value there."""
        stack = np.asarray(stack, dtype=np.float64)
        if stack.shape[0] != self.n_products or stack.shape[2:] != self.shape:
            raise TCHError(
                f"stack of shape {stack.shape}, expected ({self.n_products}, days, "
                f"{', '.join(map(str, self.shape))})"
            )
        ok = np.isfinite(stack).all(axis=0)
        self.n += ok.sum(axis=0)
        for k, (i, j) in enumerate(pairs_of(self.n_products)):
            d = np.where(ok, stack[i] - stack[j], 0.0)
            self.s1[k] += d.sum(axis=0)
            self.s2[k] += (d * d).sum(axis=0)

    def difference_variances(self) -> np.ndarray:
        """(pairs, *shape) sample variances (divisor n - 1); NaN where n < 2."""
        n = self.n.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            v = (self.s2 - self.s1 * self.s1 / n) / (n - 1)
        return np.where(n >= 2, np.maximum(v, 0.0), np.nan)


def error_variances(diff_var: np.ndarray, n_products: int) -> np.ndarray:
    """(N, *shape) least-squares error variances from (pairs, *shape) difference variances
    (unclipped: negative where the errors are correlated)."""
    pinv = np.linalg.pinv(design(n_products))  # (N, pairs)
    q = diff_var.shape[0]
    flat = diff_var.reshape(q, -1)
    return (pinv @ flat).reshape(n_products, *diff_var.shape[1:])


@dataclass(frozen=True)
class TCHResult:
    """Error SDs (N, *shape) with negative variance estimates set to 0, the flags of those
    (N, *shape bool), and the days used per pixel."""

    sd: np.ndarray
    negative: np.ndarray
    n_days: np.ndarray


def three_cornered_hat(sums: PairSums, min_days: int = 10) -> TCHResult:
    """Each product's error SD from the accumulated pair sums; NaN where fewer than
    ``min_days`` days have every product."""
    if min_days < 2:
        raise TCHError(f"min_days must be >= 2, got {min_days}")
    var = error_variances(sums.difference_variances(), sums.n_products)
    enough = sums.n >= min_days
    negative = (var < 0) & enough
    sd = np.sqrt(np.clip(var, 0.0, None))
    sd = np.where(enough, sd, np.nan)
    return TCHResult(sd=sd, negative=negative, n_days=sums.n.copy())
