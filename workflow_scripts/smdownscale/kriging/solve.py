"""Ordinary kriging of many fields that share stations and one normalised model.

Nugget
With ``nugget`` on, the nugget is treated as measurement error (gstools ``exact=False``):
it is added to the station-station covariance diagonal only, so the kriged mean smooths
through the stations instead of reproducing them, and the kriging variance is taken from
the total sill (nugget included, as gstools reports it: the variance of a new station's
value at that cell). Without a nugget the kriged mean reproduces each station's value at
its own location (to rounding) and the kriging variance there is 0.
"""

from __future__ import annotations

import math

import gstools as gs
import numpy as np
from scipy import linalg
from scipy.spatial.distance import cdist

from .geometry import DEFAULT_CHUNK, KrigingError, as_fields, check_points, xyz_km
from .variogram import standardise_fields

#: Jitter added to the normalised covariance diagonal when the system is singular or nearly
#: so (e.g. co-located stations without a nugget); tried in this order.
_JITTERS = (0.0, 1e-8, 1e-6)

#: Smallest accepted squared Cholesky pivot without jitter (the conditional variance of a
#: station given the previous ones, sill 1); below it the system counts as near-singular.
_MIN_PIVOT2 = 1e-9


class OrdinaryKriging:
    """Ordinary kriging of F fields that share the stations and one normalised model.

    The (n+1) x (n+1) ordinary-kriging system (with the Lagrange multiplier) is solved once
    through the Cholesky factor ``L`` of the normalised station covariance ``C``:
    ``C^-1 1``, ``C^-1 V`` and ``1' C^-1 1`` are precomputed. For a target with normalised
    covariances ``k`` to the stations, with ``t = 1' C^-1 k``:

    * mean (all fields) ``= k' C^-1 V + (1 - t) / (1' C^-1 1) * 1' C^-1 V`` (exactly
      ``k_aug' A^-1 [V; 0]`` of the augmented system, O(n F) per point);
    * normalised variance ``= 1 - |L^-1 k|^2 + (1 - t)^2 / (1' C^-1 1)`` (O(n^2) per point:
      one triangular solve for all fields); field f's variance is ``sill_f`` times it.

    Targets are processed in chunks of ``chunk_size`` points (memory ~3 x chunk x n float64).

    Args:
        lon, lat: station positions (degrees), (n,).
        values: station values (n, F) or (n,); finite.
        model: a gstools model with ``latlon=True``; only its shape matters (it is
            normalised to total sill 1, keeping its nugget fraction). Distances are chordal in
            units of ``model.geo_scale`` (km for ``gs.KM_SCALE``), as in gstools.
        sills: per-field sills (default: station sample variances, ddof=1).

    Raises:
        KrigingError: bad shapes, a model without ``latlon``, or a system that stays singular
            after adding a jitter of up to 1e-6 to the normalised diagonal. A near-singular
            system (a squared Cholesky pivot below 1e-9, e.g. co-located stations without a
            nugget) gets the smallest jitter that works, recorded in ``jitter`` (0 normally):
            co-located stations are then kriged as their mean.
    """

    def __init__(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        values: np.ndarray,
        model: gs.CovModel,
        sills: np.ndarray | None = None,
    ) -> None:
        if not model.latlon:
            raise KrigingError("the kriging model must be a lat/lon model (latlon=True)")
        lon, lat = check_points(lon, lat)
        self.n = lon.size
        if self.n < 1:
            raise KrigingError("ordinary kriging needs at least one station")
        v = as_fields(values, self.n)
        if not np.isfinite(v).all():
            raise KrigingError("station values must be finite")
        self.n_fields = v.shape[1]
        self.model = model
        self.radius = float(model.geo_scale)
        total = float(model.sill)
        if not total > 0:
            raise KrigingError("the model's sill must be positive")
        self.nugget_fraction = float(model.nugget) / total
        self._scale = 1.0 / total
        if sills is None:
            sills = standardise_fields(v)[1]
        self.sills = np.asarray(sills, dtype=np.float64).reshape(self.n_fields)
        self._xyz = xyz_km(lon, lat, self.radius)
        cov = self._cov(cdist(self._xyz, self._xyz))
        cov[np.diag_indices(self.n)] += self.nugget_fraction
        self.jitter = math.nan
        for jitter in _JITTERS:
            try:
                self._chol = linalg.cho_factor(
                    cov + jitter * np.eye(self.n), lower=True, check_finite=False
                )
            except linalg.LinAlgError:
                continue
            pivot2 = np.diag(self._chol[0]) ** 2
            if np.all(np.isfinite(pivot2)) and (jitter > 0 or pivot2.min() >= _MIN_PIVOT2):
                self.jitter = jitter
                break
        else:
            raise KrigingError(
                "the kriging system is singular (co-located stations without a nugget?)"
            )
        self._mean = v.mean(axis=0)
        ones = np.ones(self.n)
        self._c1 = linalg.cho_solve(self._chol, ones, check_finite=False)
        self._s11 = float(ones @ self._c1)
        self._P = linalg.cho_solve(self._chol, v - self._mean, check_finite=False)
        self._s1v = self._P.sum(axis=0)

    def _cov(self, d: np.ndarray) -> np.ndarray:
        """Normalised covariance (nugget excluded) at chordal distances ``d``."""
        return self.model.covariance(d) * self._scale

    def predict_normalised(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        chunk_size: int = DEFAULT_CHUNK,
        return_var: bool = True,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Kriged means (m, F) and the normalised kriging variance (m,) at the targets.

        The normalised variance is dimensionless (total sill 1); None when not requested.
        """
        lon, lat = check_points(lon, lat)
        m = lon.size
        mean = np.empty((m, self.n_fields))
        nvar = np.empty(m) if return_var else None
        for a in range(0, m, max(1, int(chunk_size))):
            b = min(m, a + int(chunk_size))
            k = self._cov(cdist(xyz_km(lon[a:b], lat[a:b], self.radius), self._xyz))
            t = k @ self._c1
            lag = (1.0 - t) / self._s11
            mean[a:b] = k @ self._P + lag[:, None] * self._s1v + self._mean
            if nvar is not None:
                u = linalg.solve_triangular(self._chol[0], k.T, lower=True, check_finite=False)
                q = np.einsum("ij,ij->j", u, u)
                nvar[a:b] = np.maximum(1.0 - q + (1.0 - t) * lag, 0.0)
        return mean, nvar

    def predict(
        self, lon: np.ndarray, lat: np.ndarray, chunk_size: int = DEFAULT_CHUNK
    ) -> tuple[np.ndarray, np.ndarray]:
        """Kriged means (m, F) and kriging SDs (m, F) in the fields' units."""
        mean, nvar = self.predict_normalised(lon, lat, chunk_size)
        assert nvar is not None
        return mean, np.sqrt(nvar[:, None] * self.sills[None, :])
