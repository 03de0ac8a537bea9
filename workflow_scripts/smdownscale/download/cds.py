"""ERA5-Land from the Copernicus Climate Data Store through ``cdsapi`` (``~/.cdsapirc``).

One request per month over the run's region (the CDS queues requests; a month of daily
means of one variable over the Three-North region is a few MB). The file is retrieved to a
partial name, checked to open as NetCDF holding the configured variables, then renamed.
``cdsapi`` is imported only here, when an ERA5-Land file is actually fetched.
"""

from __future__ import annotations

import calendar
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from .errors import AuthError, DownloadError
from .transfer import Expected, verify_file

CDS_HELP = (
    "ERA5-Land comes from the Copernicus Climate Data Store: register at "
    "https://cds.climate.copernicus.eu, accept the ERA5-Land licence on the dataset's page, "
    "and put your personal access token in ~/.cdsapirc as two lines: "
    "'url: https://cds.climate.copernicus.eu/api' and 'key: <your token>' "
    "(or set CDSAPI_URL and CDSAPI_KEY)."
)
CDSAPI_MISSING = (
    "downloading ERA5-Land needs the Python package 'cdsapi', which is not installed: "
    "install it (pip install cdsapi) or drop era5_land from download.references. "
)


def import_cdsapi() -> Any:
    """The ``cdsapi`` module, or a DownloadError saying how to get it."""
    try:
        import cdsapi
    except ImportError:
        raise DownloadError(CDSAPI_MISSING + CDS_HELP) from None
    return cdsapi


def era5_land_request(
    settings: Mapping[str, Any], year: int, month: int, bbox: Sequence[float]
) -> dict[str, Any]:
    """The CDS request of one month of daily statistics over ``bbox`` (west, south, east,
    north), widened by a 0.1 deg cell onto the 0.1 deg lattice."""
    west, south, east, north = bbox

    def out(x: float, up: bool) -> float:  # widened by a cell, outward to the 0.1 deg lattice
        x10 = round((x + (0.1 if up else -0.1)) * 10, 6)
        return (math.ceil(x10) if up else math.floor(x10)) / 10

    ndays = calendar.monthrange(year, month)[1]
    return {
        "variable": list(settings["variables"]),
        "year": f"{year}",
        "month": f"{month:02d}",
        "day": [f"{d:02d}" for d in range(1, ndays + 1)],
        "daily_statistic": settings["statistic"],
        "time_zone": "utc+00:00",
        "frequency": "1_hourly",
        "area": [out(north, True), out(west, False), out(south, False), out(east, True)],
    }


def retrieve_era5_land(
    target: str | Path,
    dataset: str,
    request: Mapping[str, Any],
    check: Any,
    client: Any = None,
) -> dict[str, str]:
    """Retrieve one request to ``target`` atomically; returns its digests (sha256).

    ``client`` is a ``cdsapi.Client`` (made from ``~/.cdsapirc`` when None). An
    authentication failure raises :class:`AuthError` with :data:`CDS_HELP`.
    """
    target = Path(target)
    if client is None:
        cdsapi = import_cdsapi()
        try:
            client = cdsapi.Client(quiet=True, progress=False)
        except Exception as exc:  # no ~/.cdsapirc, or an incomplete one
            raise AuthError(
                f"cannot set up the CDS client ({type(exc).__name__}). {CDS_HELP}"
            ) from None
    with atomic_path(target) as part:
        part.unlink(missing_ok=True)  # the CDS cannot resume a transfer
        try:
            client.retrieve(dataset, dict(request), str(part))
        except Exception as exc:
            text = str(exc)
            key = os.environ.get("CDSAPI_KEY", "")
            if key:
                text = text.replace(key, "***")
            if any(
                w in text.lower()
                for w in ("401", "403", "unauthori", "forbidden", "licence", "license")
            ):
                raise AuthError(f"the CDS refused the request: {text[:300]}. {CDS_HELP}") from None
            raise DownloadError(f"the CDS request for {target.name} failed: {text[:500]}") from None
        digests = verify_file(part, target, Expected(), check)
    return digests
