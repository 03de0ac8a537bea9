"""Benchmark: harmonisation steps for one day of a large region (run by hand, not in CI).

Builds synthetic MODIS tiles covering a region, then times and measures the peak memory of
the per-period MODIS index, its per-day application, gap filling of a period in row blocks,
and the fine -> coarse aggregation, for the Three-North region by default
(73.4-127.8 E, 33.5-50.2 N: 1675 x 5475 = 9.2 M fine cells).

    .venv/bin/python tests/benchmarks/bench_harmonise.py [--bbox W S E N] [--days 16]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow_scripts"))

from smdownscale.grid import aggregate, block_factor, region_grids  # noqa: E402
from smdownscale.harmonise import gapfill  # noqa: E402
from smdownscale.products.modis_sinusoidal import (  # noqa: E402
    TileGeoref,
    apply_index,
    build_index,
)
from smdownscale.rawlayout import modis_tiles_for_bbox  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    print(f"{label:<46s} {time.perf_counter() - t0:8.2f} s   peak RSS {peak_mib():8.0f} MiB")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bbox", nargs=4, type=float, default=[73.4, 33.5, 127.8, 50.2])
    ap.add_argument("--days", type=int, default=16)
    ap.add_argument("--chunk-rows", type=int, default=256)
    args = ap.parse_args()
    coarse, fine = region_grids(tuple(args.bbox), 0.25, 0.01)
    tiles = modis_tiles_for_bbox(fine.bbox)
    print(
        f"fine grid {fine.shape} = {fine.size / 1e6:.2f} M cells, {len(tiles)} MODIS tiles, "
        f"{args.days} days; baseline peak RSS {peak_mib():.0f} MiB"
    )
    rng = np.random.default_rng(0)
    georefs = [TileGeoref.nominal(h, v) for h, v in tiles]
    index = timed("build_index (once per period)", build_index, georefs, fine)
    values = [rng.uniform(280, 320, (1200, 1200)).astype(np.float32) for _ in georefs]
    lst = timed("apply_index (one day)", apply_index, index, values)
    print(f"  covered cells: {100 * np.isfinite(lst).mean():.1f} %")
    factor = block_factor(fine, coarse)
    timed("aggregate one day (block mean)", aggregate, lst, factor, "mean", 0.5)
    timed("aggregate one day (cubic)", aggregate, lst, factor, "cubic", 0.5)

    def gapfill_period():
        cube = np.where(rng.random((args.days, args.chunk_rows, fine.nlon)) < 0.4, np.nan, 300.0)
        n = 0
        for _ in range(0, fine.nlat, args.chunk_rows):
            _, filled = gapfill(cube, 3)
            n += int(filled.sum())
        return n

    timed(f"gap fill a period in {args.chunk_rows}-row blocks", gapfill_period)


if __name__ == "__main__":
    main()
