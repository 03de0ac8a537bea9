"""Benchmark: one day's harmonisation tasks, whole region against blocks (by hand).

Writes one day of raw files in the real products' layouts for a region (MOD11A1 tiles,
an MCD43C3 file cropped to the region as a download crops it, an IMERG file over the region
and its margin), then regrids the day in a fresh process per setting, once as one task for
the whole region and once in blocks of each ``--blocks`` ROWSxCOLS (the tasks of rule
harmonise_predictors, one after another; COLS 0: whole rows), and prints wall time and
peak RSS of each. The default is the Three-North region (1675 x 5475 fine cells, 12 MODIS
tiles).

    .venv/bin/python tests/benchmarks/bench_regrid_day.py [--bbox W S E N]
        [--blocks 256x0 256x2048]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow_scripts"))

from smdownscale import rawlayout  # noqa: E402
from smdownscale.demo.write_imerg import write_imerg  # noqa: E402
from smdownscale.demo.write_modis import write_mcd43c3, write_mod11a1  # noqa: E402
from smdownscale.download.crop import CROPS, CropInfo, write_crop  # noqa: E402
from smdownscale.grid import LatLonGrid, region_grids  # noqa: E402
from smdownscale.harmonise_days import (  # noqa: E402
    DayBlock,
    DayFiles,
    RegridDay,
    halo_cells,
)
from smdownscale.products.mcd43c3 import CMG_SHAPE  # noqa: E402
from smdownscale.tiling import grid_blocks  # noqa: E402

DAY = dt.date(2010, 4, 7)


def write_day(root: Path, fine: LatLonGrid) -> DayFiles:
    rng = np.random.default_rng(0)
    lst = []
    for h, v in rawlayout.modis_tiles_for_bbox(fine.bbox):
        values = rng.uniform(270, 320, (1200, 1200))
        qc = np.where(rng.random((1200, 1200)) < 0.3, 2, 0).astype(np.uint8)
        path = root / rawlayout.modis_tile("MOD11A1", DAY, h, v)
        lst.append(str(write_mod11a1(path, values, qc, h, v, DAY)))
    wsa = rng.uniform(0.1, 0.3, CMG_SHAPE)
    original = write_mcd43c3(root / "global" / rawlayout.mcd43c3(DAY), wsa, wsa * 0.9, DAY)
    crop = root / rawlayout.mcd43c3(DAY)
    crop.parent.mkdir(parents=True, exist_ok=True)
    w, s, e, n = fine.bbox  # cropped with a margin, as a download crops it
    info = CropInfo(original.name, original.stat().st_size, "0" * 64, "",
                    CROPS["mcd43c3"].variables, (w - 0.2, s - 0.2, e + 0.2, n + 0.2))  # fmt: skip
    write_crop("mcd43c3", original, crop, info)
    original.unlink()
    window = LatLonGrid(north=math.ceil(n) + 1, south=math.floor(s) - 1,
                        west=math.floor(w) - 1, east=math.ceil(e) + 1, res=0.1)  # fmt: skip
    rain = np.where(rng.random(window.shape) < 0.5, rng.gamma(0.8, 8.0, window.shape), 0.0)
    imerg = write_imerg(root / rawlayout.imerg(DAY), DAY, rain, grid=window)
    return DayFiles(DAY, tuple(lst), str(crop), str(imerg))


def peak_mib() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited through exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise OSError("no VmHWM in /proc/self/status")


def run_one(args: argparse.Namespace) -> None:
    """In a fresh process: regrid the day as the setting says, print a JSON line."""
    spec = json.loads(args.files)
    day = dt.date.fromisoformat(spec["day"])
    files = DayFiles(day, tuple(spec["lst"]), spec["albedo"], spec["imerg"])
    _, fine = region_grids(tuple(args.bbox), 0.25, 0.01)
    task = RegridDay(fine, "good", args.method)
    rows, cols = (int(n) for n in args.one.split("x"))
    if rows == 0:
        bands = grid_blocks(fine.nlat, fine.nlon, fine.nlat, fine.nlon, 0)
    else:
        bands = grid_blocks(fine.nlat, fine.nlon, rows, cols or fine.nlon, halo_cells(fine))
    base = peak_mib()
    t0 = time.perf_counter()
    valid = 0
    for band in bands:
        out = task(DayBlock(files, band))
        valid += int(np.isfinite(out["lst"]).sum())
        del out
    wall = time.perf_counter() - t0
    peak = peak_mib()
    print(json.dumps({"bands": len(bands), "wall_s": wall, "peak_mib": peak, "base_mib": base,
                      "valid": valid}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bbox", nargs=4, type=float, default=[73.4, 33.5, 127.8, 50.2])
    ap.add_argument("--blocks", nargs="+", default=["256x0", "256x2048"],
                    help="ROWSxCOLS of the blocks; COLS 0: whole rows")  # fmt: skip
    ap.add_argument("--method", default="conservative", choices=["bilinear", "conservative"])
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--files", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:
        run_one(args)
        return
    _, fine = region_grids(tuple(args.bbox), 0.25, 0.01)
    with tempfile.TemporaryDirectory(prefix="bench_regrid_") as tmp:
        t0 = time.perf_counter()
        files = write_day(Path(tmp), fine)
        took = time.perf_counter() - t0
        print(f"fine grid {fine.shape} = {fine.size / 1e6:.2f} M cells, {len(files.lst)} "
              f"MODIS tiles; one day's raw files written in {took:.0f} s")  # fmt: skip
        spec = json.dumps({**files.__dict__, "day": files.day.isoformat()})
        print(f"{'setting':<24}{'tasks':>7}{'wall s':>9}{'peak RSS MiB':>14}{'over import':>13}")
        values = None
        for setting in ["0x0", *args.blocks]:
            cmd = [sys.executable, __file__, "--one", setting, "--files", spec,
                   "--method", args.method, "--bbox", *map(str, args.bbox)]  # fmt: skip
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            rows, cols = setting.split("x")
            label = (
                "whole region"
                if rows == "0"
                else f"blocks of {rows} rows" + (f" x {cols}" if cols != "0" else "")
            )
            print(f"{label:<24}{r['bands']:>7}{r['wall_s']:>9.1f}{r['peak_mib']:>14.0f}"
                  f"{r['peak_mib'] - r['base_mib']:>13.0f}")  # fmt: skip
            if values is None:
                values = r["valid"]
            elif r["valid"] != values:
                raise SystemExit(f"{label}: {r['valid']} valid LST cells, whole region {values}")


if __name__ == "__main__":
    main()
