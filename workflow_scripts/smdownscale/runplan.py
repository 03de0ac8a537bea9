"""How long a run will take: the measured per-cell costs scaled to a configuration.

``config/measured_costs.yaml`` holds wall seconds per unit of work of each stage, measured
from the Snakemake benchmark files of a finished run (:func:`measure`). :func:`estimate`
scales them to a configuration's size (fine and coarse cell-days, periods, stations and
folds) and divides by the cores: an estimate of the order of magnitude, not a promise
(I/O, cluster queues and the size of the station networks change it)::

    python -m smdownscale.runplan my_region.yaml            # the estimate
    python -m smdownscale.runplan --measure results/demo     # a finished run's own costs
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .config import run_grids, run_periods

COSTS = Path(__file__).resolve().parents[2] / "config" / "measured_costs.yaml"
#: Stations assumed when the configuration cannot tell (real runs before harmonisation).
ASSUMED_STATIONS = 30


@dataclass(frozen=True)
class Workload:
    fine_cell_days: int
    coarse_cell_days: int
    periods: int
    stations: int
    stations_known: bool
    folds: int


def workload(cfg: Mapping[str, Any]) -> Workload:
    coarse, fine = run_grids(cfg)
    periods = run_periods(cfg)
    days = sum(len(p.days) for p in periods)
    if cfg["source"] == "demo":
        stations, known = sum(n["n_stations"] for n in cfg["demo"]["networks"]), True
    else:
        stations, known = ASSUMED_STATIONS, False
    return Workload(
        fine_cell_days=fine.shape[0] * fine.shape[1] * days,
        coarse_cell_days=coarse.shape[0] * coarse.shape[1] * days,
        periods=len(periods),
        stations=stations,
        stations_known=known,
        folds=int(cfg["bma"]["folds"]) + 1,
    )


def load_costs(path: str | Path = COSTS) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


def estimate(w: Workload, costs: Mapping[str, Any]) -> dict[str, float]:
    """Wall seconds per stage on one job slot."""
    out: dict[str, float] = {}
    for stage, c in costs["per_fine_cell_day"].items():
        out[stage] = c * w.fine_cell_days
    for stage, c in costs["per_coarse_cell_day"].items():
        out[stage] = c * w.coarse_cell_days
    for stage, c in costs["per_station_fold"].items():
        out[stage] = c * w.stations * w.folds
    out["other (per period)"] = costs["per_period"]["other"] * w.periods
    out["other (once)"] = costs["fixed"]["other"]
    return out


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def report(w: Workload, stages: Mapping[str, float], cores: int) -> str:
    total = sum(stages.values())
    lines = [
        f"work: {w.fine_cell_days:,} fine cell-days, {w.coarse_cell_days:,} coarse cell-days, "
        f"{w.periods} periods, {w.stations} stations"
        + ("" if w.stations_known else f" (assumed: {ASSUMED_STATIONS}; scales the BMA stage)")
        + f" x {w.folds} BMA folds",
    ]
    lines += [f"  {k:<22} {_duration(v):>8}" for k, v in stages.items()]
    lines.append(
        f"estimated run time: {_duration(total)} of job time, about {_duration(total / cores)} "
        f"on {cores} cores (downloads not included)"
    )
    return "\n".join(lines)


def measure(run_dir: str | Path) -> pd.DataFrame:
    """Mean wall seconds per job of every benchmarked rule of a finished run."""
    rows = []
    for f in sorted(Path(run_dir, "benchmarks").rglob("*.tsv")):
        rule = f.parent.name if f.parent.name != "benchmarks" else f.stem
        t = pd.read_csv(f, sep="\t")
        rows.append({"rule": rule, "s": float(t["s"].iloc[-1])})
    if not rows:
        raise FileNotFoundError(f"no benchmark files under {run_dir}/benchmarks")
    return pd.DataFrame(rows).groupby("rule")["s"].agg(["count", "mean", "sum"])


def main(argv: Sequence[str] | None = None) -> int:
    from .config import ConfigError
    from .configfile import check_files

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("configfile", nargs="*", help="config file(s), merged as Snakemake does")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--measure", metavar="RUN_DIR", help="print a finished run's costs")
    args = ap.parse_args(argv)
    if args.measure:
        print(measure(args.measure).to_string())
        return 0
    try:
        cfg = check_files(args.configfile or ["config/config.yaml"])
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    w = workload(cfg)
    print(report(w, estimate(w, load_costs()), args.cores))
    return 0


if __name__ == "__main__":
    sys.exit(main())
