"""Benchmark: kriging every BMA parameter field with its SD onto the 9.1 M-cell fine grid.

Simulates N stations (default 300) spread uniformly over the Three-North bbox and 13
parameter fields at them (4 weights, 4 a, 4 b, log sigma: independent gstools exponential
random fields with ``--range`` km length scale, the weights through softmax), then:

1. fits the pooled variogram and factorises the kriging system (:class:`ParameterKriging`);
2. produces every field's mean and SD on the fine grid (default 1671 x 5441 at 0.01 deg,
   9.1 M cells) in row blocks, as a rule script writing NetCDF block by block would: helper
   grid every ``--factor``-th cell, bilinear interpolation, direct kriging near stations
   (``--refine`` helper spacings); the blocks are checked (weights >= 0, summing to 1) and
   then dropped;
3. measures the interpolation error against direct kriging of ``--check`` random fine cells
   plus every station's own cell (values kept during the pass).

It prints wall seconds, CPU/wall, the rise of peak RSS during the grid pass (VmHWM reset
through /proc/self/clear_refs; sampled with psutil where that is not possible), the peak of
numpy allocations (tracemalloc) and the error figures. Target: step 1 + 2 <= 60 s on 2 cores
with memory bounded by the block size. Run by hand, not in CI:

    .venv/bin/python tests/benchmarks/bench_kriging.py [--stations 300] [--nlat 1671]
        [--nlon 5441] [--factor 10] [--refine 2] [--rows 64] [--check 200000]
        [--family exponential] [--range 400] [--dtype float32] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import gstools as gs
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow_scripts"))

from smdownscale.grid import LatLonGrid  # noqa: E402
from smdownscale.kriging import (  # noqa: E402
    KrigingSettings,
    ParameterKriging,
    clr_inverse,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measuring import honest_malloc, measure, rss_kib  # noqa: E402

MEMBERS = ("rf", "mlr", "svr", "xgb")


# --------------------------------------------------------------------------- synthetic data
def three_north_grid(nlat: int, nlon: int, res: float) -> LatLonGrid:
    """A grid with the Three-North region's NW corner (73.5 E, 50.25 N), nlat x nlon cells."""
    north, west = 50.25, 73.5
    return LatLonGrid(
        north=north,
        south=round(north - nlat * res, 10),
        west=west,
        east=round(west + nlon * res, 10),
        res=res,
    )


def station_table(
    grid: LatLonGrid, n: int, range_km: float, seed: int
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """N stations uniform over the grid and their 13 simulated parameter columns."""
    rng = np.random.default_rng(seed)
    lat = rng.uniform(grid.south, grid.north, n)
    lon = rng.uniform(grid.west, grid.east, n)
    model = gs.Exponential(latlon=True, geo_scale=gs.KM_SCALE, var=1.0, len_scale=range_km)
    z = np.array([gs.SRF(model, seed=seed * 100 + i)((lat, lon)) for i in range(13)]).T
    w = clr_inverse(0.8 * z[:, :4])
    table: dict[str, np.ndarray] = {}
    for k, m in enumerate(MEMBERS):
        table[f"w_{m}"] = w[:, k]
    for k, m in enumerate(MEMBERS):
        table[f"a_{m}"] = 0.02 * z[:, 4 + k]
    for k, m in enumerate(MEMBERS):
        table[f"b_{m}"] = 1.0 + 0.1 * z[:, 8 + k]
    table["log_sigma"] = -3.0 + 0.3 * z[:, 12]
    return table, lon, lat


# --------------------------------------------------------------------------- the benchmark
def grid_pass(
    params: ParameterKriging,
    grid: LatLonGrid,
    args: argparse.Namespace,
    check_rows: np.ndarray,
    check_cols: np.ndarray,
) -> dict[str, Any]:
    """Every block of every field (mean and SD), keeping only the values at the check cells."""
    kg = params.on_grid(grid, factor=args.factor, dtype=np.dtype(args.dtype))
    order = np.argsort(check_rows, kind="stable")
    rows, cols = check_rows[order], check_cols[order]
    kept = {name: (np.empty(rows.size), np.empty(rows.size)) for name in params.fields}
    weights = [n for n in params.fields if n.startswith("w_")]
    worst_sum, min_w, cells = 0.0, np.inf, 0
    for r0, r1 in kg.row_blocks(args.rows):
        blk = kg.block(r0, r1)
        a, b = np.searchsorted(rows, [r0, r1])
        for name, (mean, sd) in blk.items():
            kept[name][0][a:b] = mean[rows[a:b] - r0, cols[a:b]]
            kept[name][1][a:b] = sd[rows[a:b] - r0, cols[a:b]]
        total = sum(blk[n][0].astype(np.float64) for n in weights)
        worst_sum = max(worst_sum, float(np.abs(total - 1.0).max()))
        min_w = min(min_w, min(float(blk[n][0].min()) for n in weights))
        cells += blk[weights[0]][0].size
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    kept = {k: (m[inverse], s[inverse]) for k, (m, s) in kept.items()}
    return {
        "kept": kept,
        "worst_sum": worst_sum,
        "min_w": min_w,
        "cells": cells,
        "helper": kg.helper_shape,
        "refined": kg.n_refined,
    }


def errors(
    params: ParameterKriging,
    kept: dict[str, tuple[np.ndarray, np.ndarray]],
    direct: dict[str, tuple[np.ndarray, np.ndarray]],
    sel: np.ndarray,
) -> dict[str, tuple[float, float, float, float]]:
    """Per group: (max, RMS) |error| of mean and of SD; weights in weight units, the other
    fields relative to the field's station SD (so a/b/log sigma are comparable)."""
    groups: dict[str, list[np.ndarray]] = {"w": [], "w_sd": [], "lin": [], "lin_sd": []}
    for i, name in enumerate(params.fields):
        em = np.abs(kept[name][0][sel] - direct[name][0][sel])
        es = np.abs(kept[name][1][sel] - direct[name][1][sel])
        if name.startswith("w_"):
            groups["w"].append(em)
            groups["w_sd"].append(es)
        else:
            scale = params.station_values[:, i].std(ddof=1)
            groups["lin"].append(em / scale)
            groups["lin_sd"].append(es / scale)
    out = {}
    for key in ("w", "lin"):
        m = np.concatenate(groups[key])
        s = np.concatenate(groups[key + "_sd"])
        out[key] = (
            float(m.max()),
            float(np.sqrt(np.mean(m**2))),
            float(s.max()),
            float(np.sqrt(np.mean(s**2))),
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=300)
    ap.add_argument("--nlat", type=int, default=1671)
    ap.add_argument("--nlon", type=int, default=5441)
    ap.add_argument("--res", type=float, default=0.01)
    ap.add_argument("--factor", type=int, default=10, help="helper grid: every n-th fine cell")
    ap.add_argument("--refine", type=float, default=2.0, help="direct kriging near stations")
    ap.add_argument("--rows", type=int, default=64, help="fine rows per block")
    ap.add_argument("--check", type=int, default=200_000, help="random cells checked directly")
    ap.add_argument("--family", default="exponential")
    ap.add_argument("--nugget", action="store_true")
    ap.add_argument("--range", type=float, default=400.0, help="simulated length scale, km")
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    honest_malloc()
    print(
        f"cpus {os.cpu_count()}, load average {os.getloadavg()}, "
        f"baseline RSS {rss_kib() / 1024:.0f} MiB"
    )
    grid = three_north_grid(args.nlat, args.nlon, args.res)
    table, lon, lat = station_table(grid, args.stations, args.range, args.seed)
    print(
        f"grid {grid.shape} = {grid.size:,} cells, bbox {grid.bbox}; {args.stations} stations, "
        f"{len(table)} fields; helper factor {args.factor}, refine {args.refine}, "
        f"{args.rows} rows per block, {args.dtype}"
    )
    settings = KrigingSettings(
        family=args.family, nugget=args.nugget, helper_factor=args.factor, refine_radius=args.refine
    )
    rng = np.random.default_rng(args.seed + 1)
    srow, scol = grid.cell_index(lat, lon)
    check_rows = np.concatenate([rng.integers(0, grid.nlat, args.check), srow[srow >= 0]])
    check_cols = np.concatenate([rng.integers(0, grid.nlon, args.check), scol[srow >= 0]])

    fit_stats, params = measure(lambda: ParameterKriging(table, lon, lat, settings), trace=False)
    fit = params.fit
    print(
        f"\n1. fit + factorise: {fit_stats['s']:.2f} s; ok={fit.ok} {fit.reason or ''} "
        f"len_scale {fit.len_scale_km:.1f} km, nugget fraction {fit.nugget_fraction:.3f}, "
        f"R2 {fit.r2:.3f}, {fit.n_fields_pooled} fields pooled"
    )
    pass_stats, res = measure(lambda: grid_pass(params, grid, args, check_rows, check_cols))
    total = fit_stats["s"] + pass_stats["s"]
    print(
        f"2. grid pass: {pass_stats['s']:.2f} s wall, CPU/wall {pass_stats['cpu']:.2f}, "
        f"{res['cells'] / pass_stats['s'] / 1e6:.2f} M cells/s (x {len(table)} fields, mean+SD); "
        f"helper grid {res['helper']}, {res['refined']:,} cells kriged directly near stations"
    )
    print(
        f"   peak RSS rise {pass_stats['mib']:.0f} MiB, numpy peak {pass_stats['traced']:.0f} MiB,"
        f" process peak {pass_stats['process_mib']:.0f} MiB"
    )
    print(f"   weights: min {res['min_w']:.3g}, max |sum - 1| {res['worst_sum']:.2e} at any cell")
    print(f"   TOTAL fit + grid: {total:.2f} s (target <= 60 s)")

    clat, clon = grid.lat[check_rows], grid.lon[check_cols]
    t0 = time.perf_counter()
    direct = params.at_points(clon, clat)
    dt = time.perf_counter() - t0
    print(
        f"\n3. direct kriging of {clat.size:,} check cells: {dt:.2f} s "
        f"(every fine cell directly would take ~{dt * grid.size / clat.size:.0f} s)"
    )
    random_sel = np.arange(clat.size) < args.check
    for label, sel in (
        ("random cells", random_sel),
        ("station cells", ~random_sel),
        ("all checked", np.ones(clat.size, bool)),
    ):
        e = errors(params, res["kept"], direct, sel)
        print(
            f"   {label:14s} weights: mean max {e['w'][0]:.1e} RMS {e['w'][1]:.1e}, "
            f"SD max {e['w'][2]:.1e} RMS {e['w'][3]:.1e} (weight units)"
        )
        print(
            f"   {'':14s} a, b, log sigma (/ station SD): mean max {e['lin'][0]:.2%} "
            f"RMS {e['lin'][1]:.3%}, SD max {e['lin'][2]:.2%} RMS {e['lin'][3]:.3%}"
        )
    print(f"load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
