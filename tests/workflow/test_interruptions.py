"""Kill and resume (issue 13): interrupted runs end with the outputs of an uninterrupted one,
and an interrupted rerun never loses the previous good products.

The tiny world runs from scratch in a fresh folder and is stopped at seeded random moments,
alternately with SIGINT (Ctrl-C, sent to the whole process group as a terminal does) and
SIGKILL (the run and all its jobs die at once, as on a node failure), each time resumed
with the same command; the finished outputs must equal the shared uninterrupted run's
(variables and attributes, provenance timestamps aside). Then a forced rerun of the late
stages is interrupted the same way: after every interruption each product file must be
there, whole (the previous one or the new one), and the resumed rerun again ends equal.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from workflow_run import CONFIG, command

pytestmark = pytest.mark.workflow

SEED = 20261203
#: Raw files the demo writes are compared by content (netCDF variables and attributes, HDF4
#: data sets and metadata, zip members), as they embed their write times.
#: Not compared: run bookkeeping (logs, timings, the input fingerprints with their inodes,
#: the snapshot of a run in progress) and the HTML report (it embeds creation times).
SKIP_PARTS = {"logs", "benchmarks", ".previous"}
SKIP_NAMES = {"input_fingerprints.json", "report.html"}
#: Attributes that record when or how long, not what.
TIME_ATTRS = {"history", "date_created", "date_modified", "ProductionTime"}
TIME_KEYS = {"created", "elapsed_s", "seconds", "wall_time_s", "timestamp"}


def outputs(run: Path) -> list[Path]:
    return sorted(
        p.relative_to(run)
        for p in run.rglob("*")
        if p.is_file()
        and not SKIP_PARTS & set(p.relative_to(run).parts)
        and p.name not in SKIP_NAMES
    )


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in TIME_KEYS}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _hdf4_content(path: Path) -> dict:
    """Every SDS (values and attributes) and global attribute of an HDF4 file, with the
    production times (write times) masked."""
    from pyhdf.SD import SD, SDC

    sd = SD(str(path), SDC.READ)
    try:
        out = {"attrs": {}}
        for k, v in sd.attributes().items():
            if isinstance(v, str):
                v = re.sub(r"(PRODUCTION|PROCESSING)DATETIME.*?END_OBJECT", "", v, flags=re.S)
                v = re.sub(r"\.\d{13}\.hdf", ".<production>.hdf", v)
            out["attrs"][k] = v
        for name in sd.datasets():
            ds = sd.select(name)
            out[name] = (ds.get().tobytes(), ds.attributes())
            ds.endaccess()
        return out
    finally:
        sd.end()


def _zip_content(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:  # member contents; member times are write times
        return {n: z.read(n) for n in sorted(z.namelist())}


def _same_netcdf(x: Path, y: Path) -> bool:
    with xr.open_dataset(x) as dx, xr.open_dataset(y) as dy:
        for d in (dx, dy):
            for k in TIME_ATTRS:
                d.attrs.pop(k, None)
        return dx.identical(dy)


def differences(ref: Path, other: Path) -> list[str]:
    """What differs between two run folders (empty when they are the same)."""
    a, b = outputs(ref), outputs(other)
    out = [f"only in the reference: {p}" for p in sorted(set(a) - set(b))]
    out += [f"only in the other run: {p}" for p in sorted(set(b) - set(a))]
    for rel in sorted(set(a) & set(b)):
        x, y = ref / rel, other / rel
        if rel.suffix in (".nc", ".nc4"):
            if not _same_netcdf(x, y):
                out.append(f"{rel}: variables or attributes differ")
        elif rel.suffix == ".hdf":
            if _hdf4_content(x) != _hdf4_content(y):
                out.append(f"{rel}: HDF4 data or attributes differ")
        elif rel.suffix == ".zip":
            if _zip_content(x) != _zip_content(y):
                out.append(f"{rel}: zip members differ")
        elif rel.parts[0] == "raw_index":  # the raw files' hashes carry their write times
            tx, ty = (pd.read_csv(f, sep="\t").drop(columns="sha256") for f in (x, y))
            if not tx.equals(ty):
                out.append(f"{rel}: index rows differ")
        elif rel.suffix == ".parquet":
            if not pd.read_parquet(x).equals(pd.read_parquet(y)):
                out.append(f"{rel}: tables differ")
        elif rel.suffix == ".json":
            if _strip(json.loads(x.read_text())) != _strip(json.loads(y.read_text())):
                out.append(f"{rel}: JSON differs")
        elif x.read_bytes() != y.read_bytes():
            out.append(f"{rel}: bytes differ")
    return out


def start(work: Path, *args: str) -> subprocess.Popen:
    cmd = command(work, CONFIG, "--profile", str(Path(CONFIG).parents[2] / "profiles/default"))
    return subprocess.Popen(
        [*cmd, "--cores", "2", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        # a shell without job control starts background jobs with SIGINT ignored, and
        # Python then keeps ignoring it: restore the default, as a terminal has it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def interrupt(proc: subprocess.Popen, sig: int, after_s: float) -> bool:
    """Send ``sig`` to the run's process group after ``after_s``; False if it ended first."""
    deadline = time.monotonic() + after_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        time.sleep(0.2)
    os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    proc.stderr.close()
    return True


def finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=1800)
    assert proc.returncode == 0, err[-4000:]


def interrupted_run(work: Path, plan: list[tuple[int, float]], *args: str) -> list[bool]:
    """Start, interrupt per ``plan`` ((signal, seconds) each), resume; which ones hit."""
    hits = []
    for sig, after in plan:
        proc = start(work, *args)
        hits.append(interrupt(proc, sig, after))
        args = ()  # a resume is the plain command again
    finish(start(work))
    return hits


def plan(seconds: float, n: int, rng: random.Random) -> list[tuple[int, float]]:
    sigs = [signal.SIGINT, signal.SIGKILL] * n
    # short delays: each resume has less left to do, and every point should land in a run
    return [(sigs[i], rng.uniform(0.03, 0.15) * seconds) for i in range(n)]


def test_runs_interrupted_at_random_points_end_as_an_uninterrupted_run(tiny_run, tmp_path):
    ref, seconds = tiny_run
    rng = random.Random(SEED)
    work = tmp_path / "wf"
    work.mkdir()
    # six seeded points: each resume goes on from where the last one stopped
    hits = interrupted_run(work, plan(seconds, 6, rng))
    assert sum(hits) >= 4, f"too few interruptions landed inside a run: {hits}"
    run = work / "results" / "tiny"
    assert not list(run.rglob(".*.part")) and not (run / ".previous").exists()
    assert differences(ref, run) == []


def test_an_interrupted_rerun_keeps_the_previous_products(tiny_run, tmp_path):
    ref, seconds = tiny_run
    rng = random.Random(SEED + 1)
    work = tmp_path / "wf"
    subprocess.run(["cp", "-a", str(ref.parents[1]), str(work)], check=True)
    subprocess.run(["cp", "-a", str(ref.parents[1] / ".snakemake"), str(work)], check=False)
    run = work / "results" / "tiny"
    kept = [p for p in outputs(run) if p.parts[0] in ("product", "validation", "bma")]
    assert kept
    rerun = ("--forcerun", "bma_weights")  # everything from the weights on runs again
    for sig, after in plan(seconds * 0.5, 3, rng):
        proc = start(work, *rerun)
        interrupt(proc, sig, after)
        if sig == signal.SIGKILL:  # no hook ran: the next start repairs, as a resume does
            proc = start(work, "-n")
            finish(proc)
        missing = [str(p) for p in kept if not (run / p).is_file()]
        assert missing == [], f"lost after {signal.Signals(sig).name}: {missing[:5]}"
        for p in kept:
            if p.suffix == ".nc":
                with xr.open_dataset(run / p) as ds:  # whole: it opens and reads
                    assert np.isfinite(ds[list(ds.data_vars)[0]].values.astype(float)).any()
    finish(start(work))
    assert differences(ref, run) == []
