"""Benchmark: harmonisation's pass 2 memory against the region's width (run by hand, not in CI).

Pass 2 of rule harmonise_predictors (gap filling, the gap flag and the compressed CF file,
:func:`smdownscale.harmonise.fill_and_flag` into :class:`smdownscale.netcdf.GridFileWriter`)
holds a block of every day of a period at a time. This script runs it, in a fresh process
per case, on scratch cubes of random predictors (40 % missing, gap-filled like LST and
albedo) for a strip of ``--rows`` fine rows and each width of ``--widths``, with the
blocks of the rule (``resources.chunk_rows`` x ``resources.chunk_cols``) and, for
comparison, blocks of whole rows (``--chunk-cols 0``: what the rule did before it had
column blocks). It prints per case the wall time, the CPU time and the peak RSS above the
imports, and per setting the growth exponent of the peak against the width (least
squares on log-log; 0 is flat, 1 linear). The Three-North region is 5475 columns wide.

    .venv/bin/python tests/benchmarks/bench_harmonise_blocks.py [--rows 256]
        [--widths 1024 4096 16384] [--days 16] [--chunk-cols 2048 0] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow_scripts"))

from smdownscale.grid import LatLonGrid  # noqa: E402
from smdownscale.harmonise import (  # noqa: E402
    DAILY_PREDICTORS,
    fill_and_flag,
    flag_attrs,
    scratch_cubes,
)
from smdownscale.netcdf import GridFileWriter, VarSpec, chunk_aligned_rows  # noqa: E402
from smdownscale.tiling import grid_blocks  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_case(rows: int, cols: int, days: int, chunk_rows: int, chunk_cols: int, threads: int):
    """Pass 2 on a (days, rows, cols) period; returns (wall s, cpu s, peak MiB above start)."""
    import datetime as dt

    base = peak_mib()
    grid = LatLonGrid(north=45.0, south=45.0 - rows * 0.01, west=80.0, east=80.0 + cols * 0.01,
                      res=0.01)  # fmt: skip
    day_list = [dt.date(2010, 4, 7) + dt.timedelta(days=i) for i in range(days)]
    block_cols = chunk_aligned_rows(chunk_cols) if chunk_cols else cols
    blocks = grid_blocks(rows, cols, chunk_aligned_rows(chunk_rows), block_cols, 11)
    regions = [(b.rows, b.cols) for b in blocks]
    rng = np.random.default_rng(0)
    specs = [VarSpec(n, ("time", "lat", "lon"), "f4", a) for n, a in DAILY_PREDICTORS.items()]
    specs.append(VarSpec("gap_flag", ("time", "lat", "lon"), "u1", flag_attrs(), fill_value=False))
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        out = Path(tmp) / "predictors.nc"
        with scratch_cubes(Path(tmp) / ".scratch", list(DAILY_PREDICTORS), days, regions) as cubes:
            for k, block in enumerate(blocks):  # pass 1's writes, a block of a day at a time
                for cube in cubes.values():
                    for i in range(days):
                        field = rng.uniform(0.1, 0.9, block.shape).astype(np.float32)
                        field[rng.random(block.shape) < 0.4] = np.nan
                        cube.write(i, k, field)
            t0, c0 = time.perf_counter(), time.process_time()
            with GridFileWriter(out, grid, day_list, specs, {}, threads) as w:
                fill_and_flag(
                    lambda name, k: cubes[name].read(k),
                    lambda name, k, cube: w.write(
                        name, cube, rows=blocks[k].rows, cols=blocks[k].cols
                    ),
                    len(blocks),
                    ["lst", "albedo"],
                    3,
                )
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, peak_mib() - base


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--widths", type=int, nargs="+", default=[1024, 4096, 16384])
    ap.add_argument("--days", type=int, default=16)
    ap.add_argument("--chunk-rows", type=int, default=256)
    ap.add_argument("--chunk-cols", type=int, nargs="+", default=[2048, 0],
                    help="resources.chunk_cols values to compare; 0: whole rows")  # fmt: skip
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    args = ap.parse_args()
    if args.case:
        rows, cols, days, crows, ccols, threads = json.loads(args.case)
        print(json.dumps(one_case(rows, cols, days, crows, ccols, threads)))
        return
    print(
        f"pass 2 of a {args.days}-day period, {args.rows} rows, blocks of "
        f"{args.chunk_rows} rows, {args.threads} threads (wall s, CPU s, peak MiB above imports)"
    )
    for chunk_cols in args.chunk_cols:
        label = f"chunk_cols {chunk_cols}" if chunk_cols else "whole rows"
        peaks = []
        for cols in args.widths:
            case = [args.rows, cols, args.days, args.chunk_rows, chunk_cols, args.threads]
            out = subprocess.run(
                [sys.executable, __file__, "--case", json.dumps(case)],
                check=True,
                capture_output=True,
                text=True,
            )
            wall, cpu, peak = json.loads(out.stdout.strip().splitlines()[-1])
            peaks.append(peak)
            print(f"{label:<16s} {cols:>7d} columns  {wall:7.2f} s  {cpu:7.2f} s  {peak:7.0f} MiB")
        if len(args.widths) > 1:
            slope = np.polyfit(np.log(args.widths), np.log(np.maximum(peaks, 1.0)), 1)[0]
            ratio = peaks[-1] / max(peaks[0], 1.0)
            print(f"{label:<16s} peak growth exponent {slope:.2f}, widest / narrowest {ratio:.2f}x")


if __name__ == "__main__":
    main()
