"""Benchmark: writing a compressed daily cube, HDF5's own filters against the parallel chunks.

Writes one float32 predictor cube (days x rows x columns; smooth fields plus 1 km noise and
cloud gaps, compressing like real predictors) in blocks of rows, as the blocked rules do,
three ways: netCDF4's own writes (the filters run in the writing thread: what every rule
did before), and :class:`smdownscale.netcdf.GridFileWriter` with 1 and with ``--threads``
threads compressing rows of chunks (:mod:`smdownscale.chunkwrite`). Prints seconds, MB/s
of raw data, CPU/wall and the file size of each, and checks the files decode identically.
Run by hand, not in CI:

    .venv/bin/python tests/benchmarks/bench_write.py [--days 16] [--rows 1675] [--cols 2000]
        [--threads 2] [--block-rows 256]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import netCDF4
import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow_scripts"))

from smdownscale.grid import LatLonGrid  # noqa: E402
from smdownscale.netcdf import GridFileWriter, VarSpec  # noqa: E402


def cube(days: int, rows: int, cols: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.normal(size=(rows, cols)), 20) * 40 + 300
    out = np.empty((days, rows, cols), np.float32)
    for d in range(days):
        out[d] = base + rng.normal(0, 1.5, (rows, cols)) + d * 0.2
        cloud = ndimage.gaussian_filter(rng.normal(size=(rows, cols)), 15) > 0.02
        out[d][cloud] = np.nan
    return out


def write_netcdf4(path: Path, grid: LatLonGrid, values: np.ndarray, block: int) -> None:
    """Every rule's old path: netCDF4 writes, the filters in the writing thread."""
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", values.shape[0])
        nc.createDimension("lat", grid.nlat)
        nc.createDimension("lon", grid.nlon)
        var = nc.createVariable("lst", "f4", ("time", "lat", "lon"), zlib=True, complevel=4,
                                shuffle=True, chunksizes=(values.shape[0], 128, 128),
                                fill_value=np.float32(-9999.0))  # fmt: skip
        var.set_auto_maskandscale(False)
        for r0 in range(0, grid.nlat, block):
            part = values[:, r0 : r0 + block]
            var[:, r0 : r0 + block, :] = np.where(np.isfinite(part), part, np.float32(-9999.0))


def write_grid_file(path: Path, grid: LatLonGrid, values: np.ndarray, block: int, threads: int):
    days = [dt.date(2010, 1, 1) + dt.timedelta(days=i) for i in range(values.shape[0])]
    spec = VarSpec("lst", ("time", "lat", "lon"), "f4", {"units": "K"})
    with GridFileWriter(path, grid, days, [spec], threads=threads) as w:
        for r0 in range(0, grid.nlat, block):
            rows = slice(r0, min(r0 + block, grid.nlat))
            w.write("lst", values[:, rows], rows=rows)


def timed(label: str, fn, *args) -> None:
    c0, t0 = time.process_time(), time.perf_counter()
    fn(*args)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    path = args[0]
    raw_mb = args[2].nbytes / 1e6
    print(f"{label:<34s} {wall:7.2f} s  {raw_mb / wall:7.1f} MB/s  CPU/wall {cpu / wall:4.2f}"
          f"  file {path.stat().st_size / 1e6:7.1f} MB", flush=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=16)
    ap.add_argument("--rows", type=int, default=1675)
    ap.add_argument("--cols", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--block-rows", type=int, default=256)
    args = ap.parse_args()
    grid = LatLonGrid(north=50.0, south=50.0 - args.rows * 0.01, west=73.0,
                      east=73.0 + args.cols * 0.01, res=0.01)  # fmt: skip
    values = cube(args.days, grid.nlat, grid.nlon)
    print(f"cube {values.shape}, {values.nbytes / 1e6:.0f} MB raw, blocks of "
          f"{args.block_rows} rows")  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        paths = [Path(d) / f"{k}.nc" for k in ("netcdf4", "one", "many")]
        timed("netCDF4 writes (filters in-thread)", write_netcdf4, paths[0], grid, values,
              args.block_rows)  # fmt: skip
        timed("GridFileWriter, 1 thread", write_grid_file, paths[1], grid, values,
              args.block_rows, 1)  # fmt: skip
        timed(f"GridFileWriter, {args.threads} threads", write_grid_file, paths[2], grid,
              values, args.block_rows, args.threads)  # fmt: skip
        decoded = []
        for p in paths:
            with netCDF4.Dataset(p) as nc:
                decoded.append(np.asarray(nc["lst"][:].filled(np.nan)))
        same = all(np.array_equal(decoded[0], x, equal_nan=True) for x in decoded[1:])
        print(f"decoded values identical: {same}")


if __name__ == "__main__":
    main()
