"""Benchmark: the members' fine-grid prediction, fast path against naive library predict.

Fits the four production members (rf, mlr, svr, xgb; add mlp with ``--members``) with
realistic settings on a synthetic coarse training set (default 20,000 cell-days, six
predictors with soil-moisture-like nonlinear relations), then predicts N fine cell-days
(default 1 M; 9.1 M is the Three-North region-day) and prints, per member and for the whole
step: seconds, cells/s, CPU/wall (threads actually used) and peak memory, for the fast
``predict`` and, side by side, the naive library ``predict`` of the same models, with the
ratio. Run by hand, not in CI:

    .venv/bin/python tests/benchmarks/bench_predict.py [--n 1000000] [--skip-naive]
        [--scale 4] [--layout iid|field] [--members rf,mlr,svr,xgb] [--n-jobs 2]

Memory is the step's working memory, with the input rows and the float32 outputs already
allocated and touched: the rise of the process's peak RSS (VmHWM, reset through
/proc/self/clear_refs; sampled with psutil where that is not possible) above its RSS before
the step, and the peak of numpy/Python allocations (tracemalloc). Timings are the fastest of
``--repeat`` runs (default 2; the naive SVR runs once), as other jobs may share the cores.
``--scale 4`` repeats the fast path at 4 N and prints both working memories (the blocked
path should stay within 1.5x). ``--layout field`` draws the fine rows as spatially smooth
fields in raster order (like real predictors, which helps tree traversal) instead of
independent rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage, special

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow_scripts"))

from smdownscale.members import fit_member, predict_members  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measuring import best_of, cpu_seconds, honest_malloc, rss_kib  # noqa: E402

FEATURES = ("lst_K", "ndvi", "albedo", "elevation_m", "slope_deg", "precip_mm_d")


# --------------------------------------------------------------------------- synthetic data
def coarse_samples(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic coarse cell-days: features (n, 6) as in :data:`FEATURES`, soil moisture (n,).

    Soil moisture [m3 m-3] falls with LST and albedo, rises with NDVI and (log) precipitation,
    with an LST x NDVI interaction and a wavy elevation effect, plus 0.02 noise, clipped to
    [0.02, 0.55].
    """
    rng = np.random.default_rng(seed)
    lst = rng.normal(300.0, 8.0, n)
    ndvi = rng.beta(2.0, 3.0, n)
    albedo = rng.uniform(0.1, 0.35, n)
    elev = rng.gamma(2.0, 700.0, n)
    slope = rng.gamma(1.5, 4.0, n)
    precip = rng.exponential(2.0, n) * (rng.random(n) < 0.4)
    X = np.column_stack([lst, ndvi, albedo, elev, slope, precip])
    sm = (
        0.25
        - 0.006 * (lst - 300.0)
        + 0.12 * ndvi**1.5
        - 0.4 * (albedo - 0.2)
        - 2e-5 * elev
        + 0.03 * np.log1p(precip)
        - 0.002 * slope
        + 0.05 * np.tanh((lst - 300.0) / 10.0) * ndvi
        + 0.02 * np.sin(elev / 500.0)
    )
    y = np.clip(sm + rng.normal(0.0, 0.02, n), 0.02, 0.55)
    return X, y


def fine_rows(n: int, X_train: np.ndarray, layout: str, seed: int) -> np.ndarray:
    """N fine cell-days (float32 (n, 6)) with the training features' marginal distributions.

    ``iid``: independent rows. ``field``: each feature is a smooth Gaussian random field on a
    raster of about n cells (coarse noise upsampled 25x plus fine noise), mapped through the
    training feature's empirical quantile function, rows in raster order.
    """
    rng = np.random.default_rng(seed)
    p = X_train.shape[1]
    out = np.empty((n, p), dtype=np.float32)
    probs = np.linspace(0.0, 1.0, X_train.shape[0])
    if layout == "iid":
        for j in range(p):
            out[:, j] = np.interp(rng.random(n), probs, np.sort(X_train[:, j]))
        return out
    ncol = int(np.ceil(np.sqrt(n * 3.27)))  # the Three-North raster's aspect ratio
    nrow = int(np.ceil(n / ncol))
    for j in range(p):
        coarse = rng.normal(size=(nrow // 25 + 2, ncol // 25 + 2))
        field = ndimage.zoom(coarse, 25, order=1)[:nrow, :ncol].ravel()[:n]
        field = 0.9 * field + 0.44 * rng.normal(size=n)
        out[:, j] = np.interp(special.ndtr(field), probs, np.sort(X_train[:, j]))
    return out


# --------------------------------------------------------------------------- the benchmark
def fit_all(names: list[str], X: np.ndarray, y: np.ndarray, args: argparse.Namespace) -> list:
    params: dict[str, dict[str, Any]] = {
        "rf": {"n_estimators": 100},
        "xgb": {"n_estimators": 300, "max_depth": 6, "learning_rate": 0.05},
        "svr": {"C": args.svr_c, "epsilon": args.svr_epsilon},
    }
    members = []
    for name in names:
        t0 = time.perf_counter()
        cap = args.svr_cap if name == "svr" else None
        m = fit_member(name, X, y, params.get(name), seed=0, max_samples=cap, n_jobs=args.n_jobs)
        print(f"fit {name:4s} {time.perf_counter() - t0:7.2f} s  {m.params}  {m.meta}")
        members.append(m)
    return members


def run(
    members: list, X: np.ndarray, naive: bool, repeat: int
) -> dict[str, dict[str, dict[str, float]]]:
    n = X.shape[0]
    out = np.zeros((len(members), n), dtype=np.float32)
    out.fill(1.0)  # touch the output pages: measured memory is the working memory only
    res: dict[str, dict[str, dict[str, float]]] = {}
    for i, m in enumerate(members):
        res[m.name] = {"fast": best_of(repeat, lambda m=m, i=i: m.predict(X, out=out[i]))[0]}
        print(f"  {m.name:4s} fast  {res[m.name]['fast']['s']:8.2f} s", flush=True)
    res["all"] = {"fast": best_of(repeat, lambda: predict_members(members, X, out=out))[0]}
    if naive:
        for i, m in enumerate(members):
            res[m.name]["naive"], ref = best_of(
                repeat if m.name != "svr" else 1, lambda m=m: m.predict_naive(X)
            )
            diff = np.abs(ref - out[i])
            print(
                f"  {m.name:4s} naive {res[m.name]['naive']['s']:8.2f} s   "
                f"max |fast - naive| = {np.nanmax(diff):.2e} m3 m-3",
                flush=True,
            )
            del ref, diff
        res["all"]["naive"] = {
            "s": sum(res[m.name]["naive"]["s"] for m in members),
            "cpu": float("nan"),
            "mib": max(res[m.name]["naive"]["mib"] for m in members),
            "traced": max(res[m.name]["naive"]["traced"] for m in members),
            "process_mib": max(res[m.name]["naive"]["process_mib"] for m in members),
        }
    return res


def report(res: dict[str, dict[str, dict[str, float]]], n: int, title: str) -> None:
    print(f"\n{title}: N = {n:,} rows")
    print(
        f"{'member':7s} {'path':6s} {'s':>8s} {'cells/s':>12s} {'cpu/wall':>8s} "
        f"{'RSS MiB':>8s} {'numpy MiB':>9s} {'naive/fast':>10s}"
    )
    for name, paths in res.items():
        for path in ("naive", "fast"):
            if path not in paths:
                continue
            r = paths[path]
            ratio = ""
            if path == "fast" and "naive" in paths:
                ratio = f"{paths['naive']['s'] / r['s']:10.1f}x"
            print(
                f"{name:7s} {path:6s} {r['s']:8.2f} {n / r['s']:12,.0f} {r['cpu']:8.2f} "
                f"{r['mib']:8.1f} {r['traced']:9.1f} {ratio}"
            )
    fast_peak = max(p["fast"]["process_mib"] for p in res.values())
    print(f"process peak RSS during the fast steps (models, rows, outputs): {fast_peak:,.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="fine rows predicted")
    ap.add_argument("--train", type=int, default=20_000, help="coarse training samples")
    ap.add_argument("--members", default="rf,mlr,svr,xgb")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--svr-cap", type=int, default=2000)
    ap.add_argument("--svr-c", type=float, default=1.0)
    ap.add_argument("--svr-epsilon", type=float, default=0.002)
    ap.add_argument("--layout", choices=("iid", "field"), default="iid")
    ap.add_argument("--skip-naive", action="store_true", help="time the fast path only")
    ap.add_argument("--scale", type=int, default=0, help="also run the fast path at scale x N")
    ap.add_argument("--repeat", type=int, default=2, help="runs per timing (the fastest kept)")
    args = ap.parse_args()
    honest_malloc()
    cpu_all0, cpu_own0 = cpu_seconds()
    wall0 = time.perf_counter()
    print(
        f"cpus {os.cpu_count()}, load average {os.getloadavg()}, "
        f"baseline RSS {rss_kib() / 1024:.0f} MiB"
    )
    X, y = coarse_samples(args.train, seed=0)
    members = fit_all(args.members.split(","), X, y, args)
    Xf = fine_rows(args.n, X, args.layout, seed=1)
    print(f"fine rows {Xf.shape} float32 ({Xf.nbytes / 2**20:.0f} MiB), layout {args.layout}")
    res = run(members, Xf, naive=not args.skip_naive, repeat=args.repeat)
    report(res, args.n, "results")
    if args.scale:
        del Xf
        Xs = fine_rows(args.scale * args.n, X, args.layout, seed=2)
        res_s = run(members, Xs, naive=False, repeat=args.repeat)
        report(res_s, Xs.shape[0], f"fast path at {args.scale} x N")
        print("\nworking memory at N -> scaled N, fast path (RSS rise; numpy traced):")
        for name in res_s:
            a, b = res[name]["fast"], res_s[name]["fast"]
            ratio = b["traced"] / a["traced"] if a["traced"] > 0 else float("nan")
            print(
                f"  {name:5s} RSS {a['mib']:7.1f} -> {b['mib']:7.1f} MiB; "
                f"numpy {a['traced']:7.1f} -> {b['traced']:7.1f} MiB ({ratio:.2f}x)"
            )
    cpu_all1, cpu_own1 = cpu_seconds()
    others = (cpu_all1 - cpu_all0) - (cpu_own1 - cpu_own0)
    print(
        f"\nother processes used {others:.0f} CPU-s during the run "
        f"({others / (time.perf_counter() - wall0):.2f} cores on average); "
        f"load average at end {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
