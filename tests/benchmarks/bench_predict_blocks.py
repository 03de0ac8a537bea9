"""Benchmark: member prediction's memory against the region's width (run by hand, not in CI).

Writes a synthetic period for a strip of ``--rows`` fine rows and each width of
``--widths`` (four daily predictors, elevation, two regions side by side), then, in a fresh
process per case, predicts four stand-in members (a constant each: the members' own
compute is not what grows) through :class:`smdownscale.prediction.PredictBlock` and writes
them with :class:`smdownscale.netcdf.GridFileWriter`, as rule predict_period does:

- ``blocks`` (now): blocks of ``resources.chunk_rows`` rows by as many columns as
  ``members.chunk_cells`` allows, nested with the chunks (:func:`smdownscale.tiling.grid_blocks`),
  netCDF's cache sized to a block's chunks;
- ``rows`` (before): blocks of whole coarse rows (25 fine rows, the cell-day cap binding)
  across the region, the cache sized to a row of chunks (what predict_period did before).

Prints per case the wall time and the peak RSS above the start, and per mode the growth
exponent of the peak against the width (0: flat, 1: linear).

    .venv/bin/python tests/benchmarks/bench_predict_blocks.py [--rows 512]
        [--widths 2048 8192] [--days 16]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow_scripts"))

from smdownscale.blockrun import close_cached  # noqa: E402
from smdownscale.grid import LatLonGrid  # noqa: E402
from smdownscale.netcdf import (  # noqa: E402
    CHUNK_CELLS,
    GridFileWriter,
    VarSpec,
    chunk_nested,
    keep_block_chunks,
    keep_one_chunk_row,
    set_chunk_cache,
)
from smdownscale.prediction import PredictBlock  # noqa: E402
from smdownscale.tiling import grid_blocks  # noqa: E402

NAMES = ("lst", "ndvi", "albedo", "precipitation", "elevation")
MEMBERS = ("rf", "mlr", "svr", "xgb")
CHUNK_CELLS_CAP = 1_000_000  # members.chunk_cells default
COARSE_ROWS = 25  # fine rows of a 0.25 deg cell


class Const:
    """A stand-in fitted member: a constant, NaN where a feature is missing."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(X).all(axis=1), self.value, np.nan).astype("f4")

    def codes(self, X: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(X).all(axis=1), 0, -1).astype("i1")


def grid_of(rows: int, cols: int) -> LatLonGrid:
    return LatLonGrid(north=50.0, south=50.0 - rows / 100, west=70.0, east=70.0 + cols / 100,
                      res=0.01)  # fmt: skip


def days_of(n: int) -> list[dt.date]:
    return [dt.date(2010, 4, 7) + dt.timedelta(days=i) for i in range(n)]


def write_inputs(folder: Path, rows: int, cols: int, ndays: int) -> None:
    grid, days = grid_of(rows, cols), days_of(ndays)
    rng = np.random.default_rng(0)
    daily = [VarSpec(n, ("time", "lat", "lon"), "f4", {}) for n in NAMES[:4]]
    with GridFileWriter(folder / "predictors.nc", grid, days, daily, {}, 2) as w:
        for r0 in range(0, rows, CHUNK_CELLS):
            r = slice(r0, min(r0 + CHUNK_CELLS, rows))
            for spec in daily:  # smooth fields with a few gaps, as cheap to compress as real
                base = np.linspace(0.1, 0.9, cols, dtype=np.float32)[None, None, :]
                cube = np.broadcast_to(base, (ndays, r.stop - r.start, cols)).copy()
                cube[rng.random(cube.shape) < 0.02] = np.nan
                w.write(spec.name, cube, rows=r)
    with GridFileWriter(folder / "static.nc", grid, None,
                        [VarSpec("elevation", ("lat", "lon"), "f4", {})]) as w:  # fmt: skip
        w.write("elevation", np.full((rows, cols), 1200.0, np.float32))
    region = np.zeros((rows, cols), np.int16)
    region[:, cols // 2 :] = 1
    spec = VarSpec("region", ("lat", "lon"), "i2", {}, fill_value=-1)
    with GridFileWriter(folder / "regions.nc", grid, None, [spec]) as w:
        w.write("region", region)


def one_case(folder: Path, rows: int, cols: int, ndays: int, mode: str) -> tuple[float, float]:
    """Predict and write a period; returns (wall s, peak MiB above the start)."""
    base = peak_mib()
    t0 = time.perf_counter()
    if mode == "blocks":
        brows = chunk_nested(256)
        bcols = chunk_nested(max(1, CHUNK_CELLS_CAP // (min(brows, rows) * ndays)))
        blocks = grid_blocks(rows, cols, brows, bcols, 0, chunk_rows=CHUNK_CELLS)
        items = [(b.rows, b.cols) for b in blocks]
        cache = keep_block_chunks(brows, bcols, ndays)
        set_chunk_cache(cache)
    else:  # before: whole coarse rows across the region
        items = [
            (slice(r0, min(r0 + COARSE_ROWS, rows)), slice(0, cols))
            for r0 in range(0, rows, COARSE_ROWS)
        ]
        cache = keep_one_chunk_row(cols, ndays)
    task = PredictBlock(str(folder / "predictors.nc"), str(folder / "static.nc"),
                        str(folder / "regions.nc"), NAMES, MEMBERS, ndays, rows, cols,
                        blend_cells=12.5, pad=26, cache_bytes=cache)  # fmt: skip
    models = {c: ("own", {m: Const(0.1 * (c + 1)) for m in MEMBERS}) for c in (0, 1)}
    specs = [VarSpec(f"sm_{m}", ("time", "lat", "lon"), "f4", {}) for m in MEMBERS]
    specs.append(VarSpec("predictor_set", ("time", "lat", "lon"), "i1", {}, fill_value=-1))
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        out = Path(tmp) / "members.nc"
        with GridFileWriter(out, grid_of(rows, cols), days_of(ndays), specs, {}, 2) as w:
            for r, c in items:
                result, _, subset, _ = task((r, c), models)
                for m in MEMBERS:
                    w.write(f"sm_{m}", result[m], rows=r, cols=c)
                w.write("predictor_set", subset, rows=r, cols=c)
    close_cached()
    return time.perf_counter() - t0, peak_mib() - base


def peak_mib() -> float:
    """This process's peak RSS (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise OSError("no VmHWM in /proc/self/status")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=512)
    ap.add_argument("--widths", type=int, nargs="+", default=[2048, 8192])
    ap.add_argument("--days", type=int, default=16)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        folder, cols, mode = json.loads(args.case)
        print(json.dumps(one_case(Path(folder), args.rows, cols, args.days, mode)))
        return
    print(f"{args.days}-day period, {args.rows} rows, 4 members (wall s, peak MiB above start)")
    peaks: dict[str, list[float]] = {"blocks": [], "rows": []}
    with tempfile.TemporaryDirectory(prefix="bench_predict_", dir="/tmp") as tmp:
        for cols in args.widths:
            folder = Path(tmp) / str(cols)
            folder.mkdir()
            write_inputs(folder, args.rows, cols, args.days)
            for mode in peaks:
                cmd = [sys.executable, __file__, "--rows", str(args.rows), "--days",
                       str(args.days), "--case", json.dumps([str(folder), cols, mode])]  # fmt: skip
                out = subprocess.run(cmd, check=True, capture_output=True, text=True)
                wall, peak = json.loads(out.stdout.strip().splitlines()[-1])
                peaks[mode].append(peak)
                print(f"{mode:<7s} {cols:>7d} columns  {wall:7.2f} s  {peak:7.0f} MiB")
    if len(args.widths) > 1:
        for mode, p in peaks.items():
            slope = np.polyfit(np.log(args.widths), np.log(np.maximum(p, 1.0)), 1)[0]
            print(f"{mode:<7s} peak growth exponent {slope:.2f}, widest / narrowest "
                  f"{p[-1] / max(p[0], 1.0):.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
