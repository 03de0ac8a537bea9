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

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from workflow_run import CONFIG, command, differences, outputs

pytestmark = pytest.mark.workflow

SEED = 20261203


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
