"""The gridded reference models the product is compared with (``evaluation.reference_models``).

One entry per model: what to call it, the variable and layer it stands for, its grid
spacing, and the reader that turns its raw files into daily m3 m-3 (time, lat descending,
lon ascending) over the run's region. A new reference is a reader in
:mod:`smdownscale.products` and one entry here (plus its raw layout and download source in
:mod:`smdownscale.download.sources`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ReferenceModel:
    """A reference model: ``read(paths, bbox)`` gives its daily values over ``bbox``."""

    key: str
    title: str
    variable: str
    res: float
    read: Callable[[Sequence[str | Path], Sequence[float]], Any]


def _read_era5_land(paths: Sequence[str | Path], bbox: Sequence[float]):
    from .products.era5_land import read_era5_land

    return read_era5_land(paths, "swvl1", bbox)


def _read_gldas_noah(paths: Sequence[str | Path], bbox: Sequence[float]):
    from .products.gldas import read_gldas

    return read_gldas(paths, bbox=bbox)


REFERENCE_MODELS: dict[str, ReferenceModel] = {
    "era5_land": ReferenceModel("era5_land", "ERA5-Land", "swvl1, 0-7 cm", 0.1, _read_era5_land),
    "gldas_noah": ReferenceModel(
        "gldas_noah", "GLDAS Noah", "SoilMoi0_10cm_inst / 100, 0-10 cm", 0.25, _read_gldas_noah
    ),
}
