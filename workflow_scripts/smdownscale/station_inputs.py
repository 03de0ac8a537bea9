"""A run's station files -> the daily station table on its grids (rule ``harmonise_stations``).

Reads every ISMN archive and CSV network (each CSV network as its ``stations.csv`` item
describes it, :func:`csv_layouts`) with the run's ``stations`` settings, keeps the
station-days within the run's dates, locates them on the fine and coarse grids and splits off
the stations outside the region (WARNING each). Alongside, per source file and network, the
counts of :mod:`.products.station_tally` plus what the run keeps: ``stations_kept``,
``station_days_kept`` and ``stations_outside_region`` (``stations/station_checks.csv``).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .config import run_dates, run_grids
from .harmonise import locate_stations
from .products.csv_layout import CsvLayout
from .products.csv_stations import read_csv_stations
from .products.ismn import read_ismn
from .products.station_tally import StationTally
from .products.stations import finalize_station_table

log = logging.getLogger(__name__)


@dataclass
class StationInputs:
    """``table``: station-days inside the region with cell indices; ``outside``: the stations
    outside (network, station, lat, lon); ``checks``: the per-network counts."""

    table: pd.DataFrame
    outside: pd.DataFrame
    checks: pd.DataFrame


def harmonise_station_files(
    cfg: Mapping[str, Any],
    ismn: Sequence[str | Path],
    csv_pairs: Sequence[tuple[str | Path, str | Path]],
    layouts: Sequence[CsvLayout] | None = None,
) -> StationInputs:
    """The run's station table; ValueError when no observation lies inside region and dates.

    ``layouts``: one per CSV pair (None: every pair in the project's format).
    """
    scfg = cfg["stations"]
    layouts = [CsvLayout()] * len(csv_pairs) if layouts is None else list(layouts)
    if len(layouts) != len(csv_pairs):
        raise ValueError(f"{len(csv_pairs)} CSV network(s) but {len(layouts)} layout(s)")
    tally = StationTally()
    pieces = []
    for path in ismn:
        with tempfile.TemporaryDirectory() as meta:
            pieces.append(
                read_ismn(
                    path,
                    max_depth_m=scfg["max_depth_m"],
                    accept_flags=scfg["accept_flags"],
                    meta_dir=meta,
                    tally=tally,
                )
            )
        log.info("ISMN %s: %d station-days", path, len(pieces[-1]))
    for (spath, vpath), layout in zip(csv_pairs, layouts, strict=True):
        pieces.append(
            read_csv_stations(
                spath,
                vpath,
                accept_flags=scfg["accept_flags"],
                max_depth_m=scfg["max_depth_m"],
                tally=tally,
                layout=layout,
            )
        )
        log.info("CSV %s: %d station-days", spath, len(pieces[-1]))
    table = finalize_station_table(pieces)
    inside, outside = _locate(cfg, table)
    return StationInputs(inside, outside, _checks(tally, inside, outside))


def csv_layouts(cfg: Mapping[str, Any]) -> list[CsvLayout] | None:
    """The layouts of a real run's CSV networks (``stations.csv``, in order); None for the
    demo, whose CSV network is written in the project's format."""
    if cfg["source"] == "demo":
        return None
    return [
        CsvLayout.from_config(item, f"stations.csv[{i}]")
        for i, item in enumerate(cfg["stations"]["csv"])
    ]


def _locate(cfg: Mapping[str, Any], table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    coarse, fine = run_grids(cfg)
    start, end = run_dates(cfg)
    in_time = table["time"].between(pd.Timestamp(start), pd.Timestamp(end))
    log.info(
        "%d of %d station-days fall in the run's dates %s..%s",
        int(in_time.sum()),
        len(table),
        start,
        end,
    )
    inside, outside = locate_stations(table.loc[in_time], fine, coarse)
    for row in outside.itertuples():
        log.warning(
            "station %s/%s at (%.4f N, %.4f E) is outside the region %s: dropped",
            row.network,
            row.station,
            row.lat,
            row.lon,
            fine.bbox,
        )
    log.info(
        "%d stations outside the region dropped; %d stations, %d station-days kept",
        len(outside),
        inside[["network", "station"]].drop_duplicates().shape[0],
        len(inside),
    )
    if inside.empty:
        raise ValueError(
            f"no station observation lies inside the region {fine.bbox} within {start}..{end}: "
            "check 'stations' in the config (archives, max_depth_m, accept_flags) and the dates"
        )
    return inside, outside


def _checks(tally: StationTally, inside: pd.DataFrame, outside: pd.DataFrame) -> pd.DataFrame:
    """The tally's rows plus, per network, the stations and station-days the run keeps."""
    kept = pd.concat(
        [
            inside.groupby("network").agg(
                stations_kept=("station", "nunique"), station_days_kept=("time", "size")
            ),
            outside.groupby("network").agg(stations_outside_region=("station", "nunique")),
        ],
        axis=1,
    )
    checks = tally.frame().join(kept, on="network")
    counts = ["stations_kept", "station_days_kept", "stations_outside_region"]
    checks[counts] = checks[counts].fillna(0).astype("int64")
    return checks
