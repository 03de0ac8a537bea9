"""Benchmark: how each stage's time and memory grow with the region (issue 15, item 5).

Runs the workflow on the tiny CI world (tests/workflow/tiny.yaml: 1 x 0.5 deg, 24 days, two
periods) scaled to 1x, 4x and 16x its area (the bbox grows about its south-west corner, the
station networks with the area), up to the daily 1 km product, each in its own folder, and
reads the Snakemake benchmark files of the stages: harmonise (harmonise_predictors), fit
(fit_period), predict (predict_period), BMA (bma_posteriors, bma_pooled, bma_weights) and
write (bma_product). Per stage and scale it prints the wall time and CPU time summed over
the stage's jobs, the largest peak RSS of one job, and the growth exponent of each against
the number of fine cells (least squares on log-log; 1 is linear), over all scales and
between the two largest (where a job's fixed cost, about 5 s of start-up, weighs least).
Then the Three-North configuration's dry run (job count, the time to build the DAG and
the dry run's peak RSS), before the download catalogues, after them (catalogues of the
real sizes written by tests/benchmarks/catalogues.py; one download job per product and
period), with the raw files in place (empty files) without and with the download markers
(``--three-north-only`` runs only these), and an estimate of the paper
run's CPU-hours and disk from the per-cell-day costs of the largest scale. Run by hand, not
in CI (minutes for the default scales; ``--scales 4 16 64`` reaches 5x the demo's area and
shows the growth):

    .venv/bin/python tests/benchmarks/bench_scale.py [--scales 1 4 16] [--cores 2]
        [--work /tmp/bench_scale] [--keep] [--three-north-only]
        [--dask threads|synchronous|distributed] [--blocks-in-flight N]

``--dask`` runs every scale with that ``resources.dask.scheduler`` (harmonisation and
prediction tasks; smdownscale/blockrun.py), so schedulers can be compared stage by stage.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow_scripts"))

from smdownscale.calendar import composite_starts  # noqa: E402
from smdownscale.config import prepare_config, run_dates, run_grids, run_periods  # noqa: E402
from smdownscale.download.groups import GroupResult, marker_path, write_marker  # noqa: E402
from smdownscale.download.manifest import Record  # noqa: E402
from smdownscale.download.plan import available_files, raw_dir  # noqa: E402
from smdownscale.providerlayout import (  # noqa: E402
    period_granules,
    project_relpath,
    static_granules,
)
from smdownscale.rawlayout import modis_tiles_for_bbox, srtm_tiles_for_bbox  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalogues import job_counts, write_catalogues  # noqa: E402

SNAKEMAKE = Path(sys.executable).with_name("snakemake")
GNU_TIME = Path("/usr/bin/time")  # -v: the dry run's peak RSS
TINY = REPO / "tests" / "workflow" / "tiny.yaml"
STAGES = {
    "harmonise": ["harmonise_predictors"],
    "fit": ["fit_period"],
    "predict": ["predict_period"],
    "bma": ["bma_posteriors", "bma_pooled", "bma_weights"],
    "write": ["bma_product"],
}


def scaled_config(scale: int, dask: dict | None = None) -> dict:
    """tiny.yaml with its bbox grown ``scale`` times in area (sides x sqrt(scale)) and its
    station networks grown with it; only what the product needs (no reference, drought or
    three-cornered hat)."""
    cfg = yaml.safe_load(TINY.read_text())
    w, s, e, n = cfg["region"]["bbox"]
    k = math.sqrt(scale)
    cfg["region"]["bbox"] = [w, s, round(w + (e - w) * k, 2), round(s + (n - s) * k, 2)]
    cfg["region"]["name"] = f"bench_scale {scale}x the tiny world"
    cfg["run"] = f"scale{scale}"
    for net in cfg["demo"]["networks"]:
        net["n_stations"] = int(round(net["n_stations"] * scale))
    cfg["uncertainty"] = {"tch": False}
    cfg["evaluation"] = {"reference_models": False, "drought": False}
    # tiny.yaml's small blocks of columns exercise the blocking in CI; the scales measure
    # the defaults (at 16x, harmonisation in blocks of 16 x 32 cells took 4x as long)
    cfg["resources"].pop("chunk_cols", None)
    cfg["members"].pop("chunk_cells", None)
    if dask:
        cfg.setdefault("resources", {})["dask"] = dict(dask)
    return cfg


def run_scale(
    scale: int, work: Path, cores: int, dask: dict | None = None
) -> tuple[dict, pd.DataFrame, int]:
    """Run one scale to its products; (config, stage table, output bytes)."""
    folder = work / f"scale{scale}"
    folder.mkdir(parents=True, exist_ok=True)
    cfg_path = folder / "config.yaml"
    raw = scaled_config(scale, dask)
    cfg_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    cfg = prepare_config(raw)
    periods = run_periods(cfg)
    targets = [f"results/{cfg['run']}/product/sm_1km_{p.id}.nc" for p in periods]
    cmd = [str(SNAKEMAKE), *targets, "-s", str(REPO / "Snakefile"), "--directory",
           str(folder), "--configfile", str(cfg_path), "--cores", str(cores)]  # fmt: skip
    t0 = time.monotonic()
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    if res.returncode != 0:
        sys.exit(f"scale {scale}: the run failed:\n{res.stderr[-4000:]}")
    run_dir = folder / "results" / cfg["run"]
    rows = []
    for stage, rules in STAGES.items():
        tables = []
        for rule in rules:
            path = run_dir / "benchmarks"
            files = list((path / rule).glob("*.tsv")) + list(path.glob(f"{rule}.tsv"))
            tables += [pd.read_csv(f, sep="\t") for f in files]
        if not tables:
            continue
        b = pd.concat(tables)
        rows.append({"stage": stage, "jobs": len(b), "wall_s": b["s"].sum(),
                     "cpu_s": b["cpu_time"].sum(), "peak_rss_mb": b["max_rss"].max()})  # fmt: skip
    out_bytes = sum(
        f.stat().st_size
        for sub in ("fine", "coarse", "members", "product")
        for f in (run_dir / sub).rglob("*.nc")
    )
    print(f"scale {scale:>2}x: {len(targets)} periods, whole run {wall:.0f} s", flush=True)
    return cfg, pd.DataFrame(rows), out_bytes


def exponent(cells: list[int], values: list[float]) -> float:
    """Slope of log(value) on log(cells)."""
    x, y = np.log(np.asarray(cells, float)), np.log(np.maximum(np.asarray(values, float), 1e-9))
    return float(np.polyfit(x, y, 1)[0])


def dry_run(folder: Path, configfile: Path) -> dict[str, float]:
    """Jobs, seconds and peak RSS (MB, -1 without /usr/bin/time) of ``snakemake -n --quiet
    rules`` in ``folder``: parsing and building the whole DAG."""
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(folder),
           "--configfile", str(configfile), "-n", "--quiet", "rules"]  # fmt: skip
    if GNU_TIME.is_file():
        cmd = [str(GNU_TIME), "-v", *cmd]
    t0 = time.monotonic()
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - t0
    if res.returncode != 0:
        sys.exit(f"the dry run in {folder} failed:\n{res.stderr[-4000:]}")
    rss = [line.split(":")[-1] for line in res.stderr.splitlines() if "Maximum resident" in line]
    return {"jobs": job_counts(res.stdout).get("total", -1), "seconds": seconds,
            "rss_mb": int(rss[0]) / 1024 if rss else -1.0}  # fmt: skip


STATES = {
    "before": "before catalogues",
    "after": "after catalogues, nothing downloaded",
    "in_place": "raw files placed by hand, no download marker",
    "downloaded": "raw files and download markers in place (a later run)",
}


def three_north_dry_run(work: Path, state: str = "before") -> dict[str, float]:
    """The Three-North configuration's dry run (jobs, seconds, peak RSS MB) in one of the
    :data:`STATES`: before the download catalogues (none in its raw folder); after them
    (catalogues of the real sizes written first by tests/benchmarks/catalogues.py;
    ``catalogue_s`` is the time to write them); with an empty file for every raw file the
    catalogues list (as if placed by hand: the rules read the 85,794 files); or with the
    download groups' markers too (as after the workflow's own downloads: the rules read
    the markers)."""
    folder = work / "three_north"
    folder.mkdir(parents=True, exist_ok=True)
    configfile = REPO / "config" / "three_north.yaml"
    cfg = prepare_config(yaml.safe_load(configfile.read_text()))
    raw = folder / raw_dir(cfg)
    for sub in ("catalogue", "fetched"):
        shutil.rmtree(raw / sub, ignore_errors=True)
        shutil.rmtree(folder / "results" / cfg["run"] / sub, ignore_errors=True)
    written = 0.0
    if state != "before":
        t0 = time.monotonic()
        write_catalogues(cfg, raw)
        written = time.monotonic() - t0
    if state in ("in_place", "downloaded"):
        for rels in available_files(cfg, raw).files.values():
            for rel in rels:
                (raw / rel).parent.mkdir(parents=True, exist_ok=True)
                (raw / rel).touch()
    if state == "downloaded":
        write_group_markers(cfg, folder / "results" / cfg["run"])
    return {**dry_run(folder, configfile), "catalogue_s": written}


def write_group_markers(cfg: dict, run: Path) -> None:
    """The markers the download groups of a finished download write (every granule
    present; a composite in the group of the period holding its first day in the run)."""
    periods = run_periods(cfg)
    _, fine = run_grids(cfg)
    tiles = modis_tiles_for_bbox(fine.bbox)
    period_of = {d: p.id for p in periods for d in p.days}
    start = periods[0].start
    version, crid = str(cfg["esa_cci"]["version"]), str(cfg["smap"]["crid"])
    groups: dict[tuple[str, str], dict[str, None]] = {}
    for p in periods:
        granules = period_granules(p.days, composite_starts(p.days), tiles,
                                   cfg["grid"]["coarse_product"])  # fmt: skip
        for key, gs in granules.items():
            for g in gs:
                rel = project_relpath(g, version, crid)
                groups.setdefault((key, period_of[max(g.day, start)]), {})[rel] = None
    for key, gs in static_granules(srtm_tiles_for_bbox(fine.bbox)).items():
        groups[(key, "static")] = {project_relpath(g, version, crid): None for g in gs}
    for (key, part), rels in groups.items():
        records = [Record(rel, "download", "", 0, "", "", "", 0, 0) for rel in rels]
        write_marker(marker_path(run, key, part), GroupResult(records, []))


def print_three_north(work: Path) -> None:
    for state, what in STATES.items():
        r = three_north_dry_run(work, state)
        wrote = f" (catalogues written in {r['catalogue_s']:.1f} s)" if state == "after" else ""
        print(
            f"Three-North dry run ({what}): {r['jobs']:,} jobs, DAG built in "
            f"{r['seconds']:.1f} s, peak RSS {r['rss_mb']:,.0f} MB{wrote}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench_scale"))
    ap.add_argument("--keep", action="store_true", help="keep the runs' folders")
    ap.add_argument(
        "--dask",
        choices=["threads", "synchronous", "distributed"],
        help="resources.dask.scheduler of the runs (default: the config's)",
    )
    ap.add_argument("--blocks-in-flight", type=int,
                    help="resources.dask.blocks_in_flight of the runs")  # fmt: skip
    ap.add_argument("--three-north-only", action="store_true",
                    help="only the Three-North dry runs, before and after catalogues")  # fmt: skip
    args = ap.parse_args()
    if args.three_north_only:
        print_three_north(args.work)
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
        return

    results, cells, cell_days, sizes = {}, {}, {}, {}
    for scale in args.scales:
        dask = {k: v for k, v in (("scheduler", args.dask),
                                  ("blocks_in_flight", args.blocks_in_flight)) if v}  # fmt: skip
        cfg, table, nbytes = run_scale(scale, args.work, args.cores, dask)
        _, fine = run_grids(cfg)
        start, end = run_dates(cfg)
        cells[scale] = fine.nlat * fine.nlon
        cell_days[scale] = cells[scale] * ((end - start).days + 1)
        results[scale], sizes[scale] = table.set_index("stage"), nbytes

    print("\nper stage: wall s / CPU s / peak RSS MB of one job (jobs)")
    print(f"{'stage':<10}" + "".join(f"{f'{s}x ({cells[s]:,} cells)':>34}" for s in args.scales)
          + f"{'exponent wall / CPU / RSS':>30}{'the same, last two scales':>30}")  # fmt: skip
    for stage in STAGES:
        line, walls, cpus, rss = f"{stage:<10}", [], [], []
        for s in args.scales:
            r = results[s].loc[stage] if stage in results[s].index else None
            if r is None:
                line += f"{'-':>34}"
                continue
            walls.append(r.wall_s)
            cpus.append(r.cpu_s)
            rss.append(r.peak_rss_mb)
            line += f"{f'{r.wall_s:.1f} / {r.cpu_s:.1f} / {r.peak_rss_mb:.0f} ({int(r.jobs)})':>34}"
        if len(walls) == len(args.scales) > 1:
            cs = [cells[s] for s in args.scales]
            growth = [exponent(cs, v) for v in (walls, cpus, rss)]
            last = [exponent(cs[-2:], v[-2:]) for v in (walls, cpus, rss)]
            line += f"{' / '.join(f'{g:.2f}' for g in growth):>30}"
            line += f"{' / '.join(f'{g:.2f}' for g in last):>30}"
        print(line)
    big = args.scales[-1]
    print(f"\npeak RSS at {big}x over {args.scales[0]}x per stage: " + ", ".join(
        f"{st} {results[big].loc[st].peak_rss_mb / results[args.scales[0]].loc[st].peak_rss_mb:.2f}"
        for st in STAGES if st in results[big].index and st in results[args.scales[0]].index
    ))  # fmt: skip

    print()
    print_three_north(args.work)
    tn = prepare_config(yaml.safe_load((REPO / "config" / "three_north.yaml").read_text()))
    _, tfine = run_grids(tn)
    t0, t1 = run_dates(tn)
    tn_cell_days = tfine.nlat * tfine.nlon * ((t1 - t0).days + 1)
    cpu = sum(results[big]["cpu_s"]) / cell_days[big]
    print(f"paper run estimate from the {big}x costs ({tn_cell_days:.3g} fine cell-days): "
          f"{cpu * tn_cell_days / 3600:,.0f} CPU-hours for these stages "
          f"({cpu * 1e6:.2f} CPU s per million cell-days), "
          f"{sizes[big] / cell_days[big] * tn_cell_days / 1e12:.1f} TB of fine predictors, "
          "members and products (NetCDF, compressed)")  # fmt: skip
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
