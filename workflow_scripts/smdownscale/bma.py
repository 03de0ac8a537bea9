"""Bayesian model averaging of the members at in-situ stations (METHOD.md sections 7 and 9).

For one station with daily in-situ soil moisture ``y_t`` and the K members' fine-cell
predictions ``f_kt`` on the same days, the BMA predictive density (Raftery et al. 2005) is

    p(y_t) = sum_k w_k N(y_t; a_k + b_k f_kt, sigma^2),

with weights ``w`` on the simplex, per-member bias terms ``a_k, b_k`` and a common spread
``sigma`` [m3 m-3].

Choices made here (the method leaves them open):

- **Bias terms are plug-in estimates, not sampled.** ``a_k, b_k`` come from the least-squares
  fit ``y ~ a_k + b_k f_k`` of each member separately (:func:`fit_bias`), shrunk toward the
  region's pooled fit with weight ``n / (n + n0)`` (:func:`shrink_bias`; ``n0`` pairs is the
  prior strength, config ``bma.shrinkage_pairs``). This is Raftery's two-stage procedure with
  an empirical-Bayes shrinkage; sampling 3K + 1 parameters jointly was rejected because
  stations with tens of pairs do not identify them, and the mixture is invariant to
  relabelling members whose corrected forecasts coincide, which stalls the sampler. Their
  95 % intervals are the normal intervals of the least-squares estimates, scaled by the
  shrinkage factor.
- **Sampled: the weights and sigma.** emcee's affine-invariant ensemble sampler runs over
  unconstrained coordinates ``theta = (u_1 .. u_{K-1}, log sigma)``, with ``w`` the softmax
  of ``(u, 0)`` (the additive log-ratio transform). The prior is Dirichlet(alpha) on ``w``
  and half-normal(``sigma_scale``) on ``sigma``; in theta coordinates the Jacobians add
  ``sum_k log w_k`` and ``log sigma``, so the log prior is
  ``sum_k alpha_k log w_k - sigma^2 / (2 sigma_scale^2) + log sigma`` (up to a constant).
- **Moves**: differential-evolution proposals (80 % ``DEMove``, 20 % ``DESnookerMove``)
  instead of emcee's default stretch move: on 4-member posteriors they were measured to
  halve the autocorrelation time (tau ~40 -> ~20 steps), so a chain of a given length
  passes the diagnostics with fewer steps.
- **Diagnostics** (:class:`Diagnostics`): the mean acceptance fraction, the integrated
  autocorrelation time ``tau`` of every coordinate (emcee's estimator, after burn-in), the
  effective sample size ``walkers x kept steps / max tau``, and whether the kept chain is
  at least ``min_chain_tau`` times ``max tau`` long. A station whose chain fails any of
  them is flagged (``converged = False``) and left out of the kriging by the caller.
- The posterior **mode** (:func:`map_estimate`) is computed in the natural (w, sigma)
  space, where with ``alpha = 1`` and a wide sigma prior it is the maximum-likelihood
  estimate that Raftery's EM algorithm finds (the unit tests check this with an independent
  EM implementation).

The BMA mean ``sum_k w_k (a_k + b_k f_k)`` and variance
``sum_k w_k (a_k + b_k f_k - mean)^2 + sigma^2`` (:func:`bma_moments`) can leave the range of
the members only through ``a_k, b_k``: with ``a = 0, b = 1`` the mean is a convex
combination of the member values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import emcee
import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import logsumexp

_LOG_2PI = float(np.log(2.0 * np.pi))


class BMAError(ValueError):
    """BMA cannot be computed as asked (the message says why)."""


# --------------------------------------------------------------------------- bias terms
def fit_bias(y: np.ndarray, F: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares ``y ~ a_k + b_k f_k`` for each member column of ``F`` (n, K).

    Returns ``a`` (K,), ``b`` (K,) and their standard errors ``se`` (2, K) (rows: a, b).
    A member that is constant over the pairs cannot identify a slope: it gets ``b = 1`` and
    ``a = mean(y - f)`` (a pure offset correction), with infinite slope standard error.
    """
    y = np.asarray(y, dtype=np.float64)
    F = np.asarray(F, dtype=np.float64)
    if F.ndim != 2 or y.shape != (F.shape[0],):
        raise BMAError(f"need y (n,) and F (n, K), got {y.shape} and {F.shape}")
    n, K = F.shape
    if n < 2:
        raise BMAError(f"need at least 2 station-member pairs for the bias fit, got {n}")
    fm = F.mean(axis=0)
    ym = y.mean()
    sxx = ((F - fm) ** 2).sum(axis=0)
    sxy = ((F - fm) * (y - ym)[:, None]).sum(axis=0)
    ok = sxx > 1e-12 * max(1.0, float(np.abs(F).max()) ** 2) * n
    b = np.where(ok, sxy / np.where(ok, sxx, 1.0), 1.0)
    a = ym - b * fm
    resid = y[:, None] - (a + b * F)
    dof = max(n - 2, 1)
    s2 = (resid**2).sum(axis=0) / dof
    se_b = np.where(ok, np.sqrt(s2 / np.where(ok, sxx, 1.0)), np.inf)
    se_a = np.where(ok, np.sqrt(s2 * (1.0 / n + fm**2 / np.where(ok, sxx, 1.0))), np.sqrt(s2 / n))
    return a, b, np.vstack([se_a, se_b])


def shrink_bias(
    a: np.ndarray,
    b: np.ndarray,
    n: int,
    a_pool: np.ndarray,
    b_pool: np.ndarray,
    n0: float,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Station estimates shrunk toward pooled ones: ``lam x station + (1 - lam) x pooled``.

    ``lam = n / (n + n0)``: ``n0`` is the number of pairs at which station and pooled values
    count equally (``n0 = 0``: no shrinkage). Returns the shrunk ``a``, ``b`` and ``lam``.
    """
    if n0 < 0:
        raise BMAError(f"shrinkage strength n0 must be >= 0, got {n0}")
    lam = n / (n + n0) if n + n0 > 0 else 1.0
    return lam * a + (1 - lam) * a_pool, lam * b + (1 - lam) * b_pool, float(lam)


# --------------------------------------------------------------------------- the posterior
def _weights_from_theta(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-weights (W, K) and log sigma (W,) from walkers' theta (W, K)."""
    u = np.concatenate([theta[:, :-1], np.zeros((theta.shape[0], 1))], axis=1)
    logw = u - logsumexp(u, axis=1, keepdims=True)
    return logw, theta[:, -1]


def _loglik_sq(sq: np.ndarray, logw: np.ndarray, log_sigma: np.ndarray) -> np.ndarray:
    """Mixture log-likelihood from squared errors ``sq = (y - mu)^2`` (n, K), for W sets."""
    inv2 = np.exp(-2.0 * log_sigma)
    comp = sq[None, :, :] * (-0.5 * inv2)[:, None, None]
    comp += logw[:, None, :]
    top = comp.max(axis=2)
    comp -= top[:, :, None]
    np.exp(comp, out=comp)
    ll = top + np.log(comp.sum(axis=2))
    return ll.sum(axis=1) - sq.shape[0] * (log_sigma + 0.5 * _LOG_2PI)


def _log_posterior_sq(
    theta: np.ndarray, sq: np.ndarray, alpha: np.ndarray, sigma_scale: float
) -> np.ndarray:
    theta = np.atleast_2d(theta)
    logw, log_sigma = _weights_from_theta(theta)
    out = _loglik_sq(sq, logw, log_sigma)
    out += (alpha[None, :] * logw).sum(axis=1)  # Dirichlet x additive-log-ratio Jacobian
    out += -0.5 * np.exp(2 * log_sigma) / sigma_scale**2 + log_sigma  # half-normal x Jacobian
    out[~np.isfinite(out)] = -np.inf
    return out


@dataclass(frozen=True)
class SamplerSettings:
    """emcee settings and the convergence thresholds (config section ``bma``)."""

    walkers: int = 32
    steps: int = 3000
    burn_in: int = 1000
    thin: int = 5
    alpha: float = 1.0
    sigma_scale: float = 0.1
    min_acceptance: float = 0.15
    max_acceptance: float = 0.85
    min_chain_tau: float = 30.0
    min_ess: float = 400.0

    @classmethod
    def from_config(cls, b: Mapping[str, Any]) -> SamplerSettings:
        """Settings from the config section ``bma``."""
        return cls(
            walkers=b["walkers"],
            steps=b["steps"],
            burn_in=b["burn_in"],
            thin=b["thin"],
            alpha=b["dirichlet_alpha"],
            sigma_scale=b["sigma_prior_scale"],
            min_acceptance=b["min_acceptance"],
            max_acceptance=b["max_acceptance"],
            min_chain_tau=b["min_chain_tau"],
            min_ess=b["min_ess"],
        )

    def __post_init__(self) -> None:
        if self.burn_in >= self.steps:
            raise BMAError(f"burn_in ({self.burn_in}) must be below steps ({self.steps})")
        if self.thin < 1 or self.walkers < 2:
            raise BMAError("thin must be >= 1 and walkers >= 2")


@dataclass
class Diagnostics:
    """Convergence facts of one chain and the verdict."""

    acceptance: float
    tau: np.ndarray
    ess: float
    chain_tau_ratio: float
    converged: bool
    reasons: list[str] = field(default_factory=list)

    def columns(self) -> dict[str, float | bool | str]:
        """The diagnostics as the columns of a posterior table row."""
        return {
            "acceptance": self.acceptance,
            "tau_max": float(np.max(self.tau)),
            "ess": self.ess,
            "chain_tau_ratio": self.chain_tau_ratio,
            "converged": self.converged,
            "diagnostics": "; ".join(self.reasons),
        }


@dataclass
class Posterior:
    """Posterior draws (after burn-in and thinning) of one station and their diagnostics."""

    w: np.ndarray  # (S, K)
    sigma: np.ndarray  # (S,)
    diagnostics: Diagnostics

    def summary(self) -> dict[str, np.ndarray | float]:
        """Posterior means and 2.5 / 97.5 % quantiles of ``w`` (K,) and ``sigma``."""
        return {
            "w_mean": self.w.mean(axis=0),
            "w_q025": np.quantile(self.w, 0.025, axis=0),
            "w_q975": np.quantile(self.w, 0.975, axis=0),
            "sigma_mean": float(self.sigma.mean()),
            "sigma_q025": float(np.quantile(self.sigma, 0.025)),
            "sigma_q975": float(np.quantile(self.sigma, 0.975)),
            "log_sigma_mean": float(np.log(self.sigma).mean()),
        }


def diagnose(sampler: emcee.EnsembleSampler, s: SamplerSettings) -> Diagnostics:
    """Acceptance, autocorrelation times, effective sample size and the verdict."""
    acc = float(np.mean(sampler.acceptance_fraction))
    tau = np.asarray(sampler.get_autocorr_time(discard=s.burn_in, quiet=True), dtype=float)
    kept = s.steps - s.burn_in
    tau_max = float(np.nanmax(tau)) if np.isfinite(tau).any() else np.inf
    ess = s.walkers * kept / tau_max if tau_max > 0 else 0.0
    ratio = kept / tau_max if tau_max > 0 else np.inf
    reasons = []
    if not s.min_acceptance <= acc <= s.max_acceptance:
        reasons.append(f"acceptance {acc:.2f} outside [{s.min_acceptance}, {s.max_acceptance}]")
    if not np.isfinite(tau).all():
        reasons.append("autocorrelation time not estimable")
    if ratio < s.min_chain_tau:
        reasons.append(f"kept chain only {ratio:.0f} x tau (need {s.min_chain_tau:g})")
    if ess < s.min_ess:
        reasons.append(f"effective sample size {ess:.0f} < {s.min_ess:g}")
    return Diagnostics(acc, tau, float(ess), float(ratio), not reasons, reasons)


def initial_sigma(y: np.ndarray, mu: np.ndarray) -> float:
    """Starting sigma: RMSE of the equal-weight mean of the corrected forecasts (floored)."""
    return float(max(np.sqrt(np.mean((y - mu.mean(axis=1)) ** 2)), 1e-3))


def sample_posterior(
    y: np.ndarray, mu: np.ndarray, settings: SamplerSettings, seed: int
) -> Posterior:
    """emcee draws of ``w`` and ``sigma`` for pairs ``y`` (n,) and corrected forecasts ``mu``.

    Walkers start near equal weights and :func:`initial_sigma`; deterministic given ``seed``.
    """
    y = np.asarray(y, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    n, K = mu.shape
    if K < 2:
        raise BMAError("BMA needs at least two members")
    if n < 2 or y.shape != (n,):
        raise BMAError(f"need y (n,) and mu (n, K) with n >= 2, got {y.shape}, {mu.shape}")
    rng = np.random.default_rng(seed)
    ndim = K
    p0 = np.empty((settings.walkers, ndim))
    p0[:, :-1] = 0.1 * rng.standard_normal((settings.walkers, K - 1))
    p0[:, -1] = np.log(initial_sigma(y, mu)) + 0.1 * rng.standard_normal(settings.walkers)
    alpha = np.full(K, float(settings.alpha))
    sampler = emcee.EnsembleSampler(
        settings.walkers,
        ndim,
        _log_posterior_sq,
        args=((y[:, None] - mu) ** 2, alpha, float(settings.sigma_scale)),
        vectorize=True,
        moves=[(emcee.moves.DEMove(), 0.8), (emcee.moves.DESnookerMove(), 0.2)],
    )
    state = emcee.State(p0, random_state=np.random.RandomState(seed).get_state())
    sampler.run_mcmc(state, settings.steps, progress=False)
    chain = sampler.get_chain(discard=settings.burn_in, thin=settings.thin, flat=True)
    logw, log_sigma = _weights_from_theta(chain)
    return Posterior(np.exp(logw), np.exp(log_sigma), diagnose(sampler, settings))


def map_estimate(
    y: np.ndarray, mu: np.ndarray, alpha: float = 1.0, sigma_scale: float = 0.1
) -> tuple[np.ndarray, float]:
    """Posterior mode of ``(w, sigma)`` in the natural space (no Jacobian terms).

    Maximises ``log L + sum_k (alpha - 1) log w_k - sigma^2 / (2 sigma_scale^2)`` over
    unconstrained coordinates from equal weights. With ``alpha = 1`` and a wide sigma prior
    this is the maximum-likelihood estimate of Raftery's EM algorithm.
    """
    y = np.asarray(y, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    K = mu.shape[1]

    sq = (y[:, None] - mu) ** 2

    def neg(theta: np.ndarray) -> float:
        logw, log_sigma = _weights_from_theta(theta[None, :])
        val = _loglik_sq(sq, logw, log_sigma)[0]
        val += (alpha - 1.0) * logw.sum() - 0.5 * np.exp(2 * log_sigma[0]) / sigma_scale**2
        return -val if np.isfinite(val) else np.inf

    x0 = np.zeros(K)
    x0[-1] = np.log(initial_sigma(y, mu))
    res = optimize.minimize(
        neg,
        x0,
        method="Nelder-Mead",
        options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 20000, "maxfev": 40000},
    )
    logw, log_sigma = _weights_from_theta(res.x[None, :])
    return np.exp(logw[0]), float(np.exp(log_sigma[0]))


def em_estimate(
    y: np.ndarray,
    mu: np.ndarray,
    alpha: float = 1.0,
    tol: float = 1e-10,
    max_iter: int = 2000,
) -> tuple[np.ndarray, float]:
    """Posterior mode of ``(w, sigma)`` by Raftery's EM algorithm (fast; no sampling).

    The same mixture likelihood as :func:`sample_posterior`, with the mode of the
    Dirichlet(alpha) prior on ``w`` (``alpha >= 1``; the M-step adds ``alpha - 1`` to each
    member's responsibility) and no prior on sigma (its half-normal prior is wide at the
    scales of soil moisture errors). For choices that need many fits (the station-held-out
    cross-validation of :mod:`smdownscale.bma_pooled`); the final fits are sampled.
    """
    y = np.asarray(y, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    n, K = mu.shape
    if n < 1 or y.shape != (n,):
        raise BMAError(f"need y (n,) and mu (n, K) with n >= 1, got {y.shape}, {mu.shape}")
    sq = (y[:, None] - mu) ** 2
    w = np.full(K, 1.0 / K)
    s2 = max(float(np.mean((y - mu.mean(axis=1)) ** 2)), 1e-8)
    extra = max(float(alpha) - 1.0, 0.0)
    prev = -np.inf
    for _ in range(max_iter):
        logc = np.log(np.maximum(w, 1e-300))[None, :] - 0.5 * sq / s2
        top = logc.max(axis=1, keepdims=True)
        z = np.exp(logc - top)
        tot = z.sum(axis=1, keepdims=True)
        ll = float((top[:, 0] + np.log(tot[:, 0])).sum() - 0.5 * n * np.log(2 * np.pi * s2))
        z /= tot
        w = (z.sum(axis=0) + extra) / (n + K * extra)
        s2 = max(float((z * sq).sum() / n), 1e-10)
        if ll - prev < tol * max(1.0, abs(ll)):
            break
        prev = ll
    return w, float(np.sqrt(s2))


# --------------------------------------------------------------------------- the BMA moments
def bma_moments(
    w: np.ndarray, a: np.ndarray, b: np.ndarray, sigma: np.ndarray, f: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """BMA mean and predictive standard deviation.

    ``f`` (..., K) member forecasts; ``w``, ``a``, ``b`` (..., K) and ``sigma`` (...)
    broadcast against it. Mean ``sum_k w_k (a_k + b_k f_k)``; variance
    ``sum_k w_k (a_k + b_k f_k - mean)^2 + sigma^2``. Any non-finite input gives NaN.
    """
    g = a + b * f
    mean = (w * g).sum(axis=-1)
    var = (w * (g - mean[..., None]) ** 2).sum(axis=-1) + sigma**2
    return mean, np.sqrt(var)


def clip_physical(mean: np.ndarray, porosity: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``mean`` clipped to [0, porosity], with the masks of cells clipped low and high."""
    low = mean < 0
    high = mean > porosity
    return np.clip(mean, 0.0, porosity), low, high


# --------------------------------------------------------------------------- alternatives
def equal_weight(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Member average and the between-member standard deviation (ddof 0), over the last axis."""
    return f.mean(axis=-1), f.std(axis=-1)


def best_member(scores: dict[str, float], members: Sequence[str]) -> str:
    """The member with the lowest held-out RMSE among ``members`` (ties: the first listed)."""
    known = [m for m in members if m in scores and np.isfinite(scores[m])]
    if not known:
        raise BMAError(f"no held-out RMSE for any of the members {list(members)}")
    return min(known, key=lambda m: (scores[m], list(members).index(m)))


def best_member_table(scores: pd.DataFrame, members: Sequence[str]) -> pd.DataFrame:
    """Per (period, region), the member with the lowest held-out RMSE and that RMSE.

    ``scores``: the run's ``member_heldout_scores.csv`` table (period, region, member,
    rmse, ...). Returns a DataFrame with columns period, region, member, rmse.
    """
    rows = []
    for (period, region), grp in scores.groupby(["period", "region"], sort=True):
        table = dict(zip(grp["member"], grp["rmse"].astype(float), strict=True))
        try:
            m = best_member(table, members)
        except BMAError:
            continue
        rows.append({"period": period, "region": int(region), "member": m, "rmse": table[m]})
    return pd.DataFrame(rows, columns=["period", "region", "member", "rmse"])


def chosen_member(
    f: np.ndarray, labels: np.ndarray, choice: Mapping[int, tuple[int, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """The ``best`` or single-member ensemble of a block.

    ``f`` (days, rows, cols, K) member forecasts; ``labels`` (rows, cols) region per cell;
    ``choice`` region -> (member index, held-out RMSE). Each region's cells take that
    member's value, with its RMSE as ``sd``; cells of a region without a choice (or outside
    every region) are NaN.
    """
    mean = np.full(f.shape[:3], np.nan, dtype=np.float32)
    sd = np.full(f.shape[:3], np.nan, dtype=np.float32)
    for region, (j, rmse) in choice.items():
        cells = labels == region
        mean[:, cells] = f[:, cells, j]
        sd[:, cells] = rmse
    return mean, sd
