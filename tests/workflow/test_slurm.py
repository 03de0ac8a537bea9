"""The tiny world through profiles/slurm on a real SLURM cluster (issue 15).

``slurm_cluster.sh`` installs SLURM and munge (Debian packages) when they are missing and
starts a single-node cluster on localhost (slurmctld, slurmd and munged, all their files
in one temporary folder); the tiny world then runs with ``--profile profiles/slurm``, as a
user runs it on a cluster (through ``slurm_snakemake.py``: the same Snakemake, checking its
jobs' states every 2 s instead of backing off to minutes as for a busy cluster). It must
end with the outputs of the shared local run (provenance timestamps aside; the demo's raw
files, written by local rules in both runs, are left out), and every job of a non-local
rule must have run inside a SLURM job that SLURM records as completed (``sacct
--completion``: the test cluster has no accounting database, its job completion log serves
sacct). The cluster is stopped and its folder deleted afterwards. Skipped, with the
reason, where SLURM cannot be had (not root, no apt-get, no package source) or the
executor plugin is not installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from workflow_run import CONFIG, REPO, command, differences

pytestmark = pytest.mark.workflow

CLUSTER = Path(__file__).with_name("slurm_cluster.sh")
#: snakemake with the executor's status checks every 2 s at most (see the module)
SNAKEMAKE = Path(__file__).with_name("slurm_snakemake.py")
#: Rules of the tiny run that run beside the main Snakemake process, never as SLURM jobs:
#: the demo writers, the small tables and the target.
LOCAL = {
    "all",
    "demo_world",
    "demo_raw_static",
    "demo_raw_2010_097",
    "demo_raw_2010_113",
    "demo_raw_era5_land",
    "demo_raw_gldas_noah",
    "demo_raw_terraclimate",
    "index_raw",
    "member_scores",
    "bma_station_folds",
    "validation_summary",
}
#: Grouped rules: each group of a period (or fold) is one SLURM job.
GROUPS = {
    "harmonise": ("harmonise_predictors", "aggregate_period"),
    "product": ("bma_product", "heterogeneity_period"),
    "bma": ("bma_posteriors", "bma_pooled"),
}


@pytest.fixture(scope="module")
def slurm_env():
    """The environment of a running single-node cluster (SLURM_CONF set); stopped after."""
    pytest.importorskip(
        "snakemake_executor_plugin_slurm", reason="snakemake-executor-plugin-slurm missing"
    )
    installed = subprocess.run([CLUSTER, "install"], capture_output=True, text=True)
    if installed.returncode == 3:
        pytest.skip(f"no SLURM here: {installed.stderr.strip().splitlines()[-1]}")
    assert installed.returncode == 0, installed.stderr
    # a short path: munge's socket lives in it (sockets' paths are limited to 107 bytes)
    folder = Path(tempfile.mkdtemp(prefix="slurm-"))
    started = subprocess.run([CLUSTER, "start", folder], capture_output=True, text=True)
    if started.returncode == 3:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"no SLURM here: {started.stderr.strip().splitlines()[-1]}")
    try:
        assert started.returncode == 0, started.stderr
        # the script prints `export NAME=value` lines: SLURM_CONF, and PATH with its srun
        env = dict(os.environ)
        for line in started.stdout.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = value.replace("$PATH", os.environ["PATH"])
        yield env
    finally:
        subprocess.run([CLUSTER, "stop", folder], check=True)
    # nothing left: no folder, no daemon started with a file in it
    assert not folder.exists()
    if shutil.which("pgrep"):
        assert subprocess.run(["pgrep", "-f", str(folder)], capture_output=True).returncode == 1


def job_counts(stderr: str) -> Counter:
    """The run's job stats table (rule -> jobs), as Snakemake prints it at the start."""
    table = stderr.split("Job stats:", 1)[1].split("total", 1)[0]
    return Counter({m[1]: int(m[2]) for m in re.finditer(r"(?m)^(\w+)\s+(\d+)$", table)})


def slurm_jobs(work: Path) -> dict[str, list[str]]:
    """SLURM job id -> the rules its Snakemake ran, from the jobs' own logs (kept with
    --slurm-keep-successful-logs: .snakemake/slurm_logs/<rule or group>/<wildcards>/<id>.log)."""
    out = {}
    for log in (work / ".snakemake" / "slurm_logs").rglob("*.log"):
        out[log.stem] = re.findall(r"(?m)^\s*rule (\w+):$", log.read_text())
    return out


def completed(env: dict) -> dict[str, tuple[str, str, str]]:
    """SLURM job id -> (name, state, exit code) of every finished job, from sacct."""
    res = subprocess.run(
        ["sacct", "--completion", "--parsable2", "--noheader", "--starttime=1970-01-01"]
        + ["--format=JobID,JobName,State,ExitCode"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    rows = [line.split("|") for line in res.stdout.splitlines() if line.strip()]
    return {r[0]: tuple(r[1:]) for r in rows}


def test_tiny_world_on_slurm_equals_the_local_run(slurm_env, tiny_run, tmp_path):
    work = tmp_path / "slurm-run"
    t0 = time.monotonic()
    args = command(
        work,
        CONFIG,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        # the test cluster has no accounting database: job states come from squeue
        "--slurm-status-command",
        "squeue",
        # a small DAG on an idle cluster: look at the jobs every 2 s (slurm_snakemake.py
        # keeps the executor from backing off to longer waits)
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
    )
    res = subprocess.run(
        [sys.executable, str(SNAKEMAKE), *args[1:]],
        capture_output=True,
        text=True,
        timeout=1800,
        env=slurm_env,
    )
    seconds = time.monotonic() - t0
    if res.returncode != 0:
        logs = "\n".join(p.read_text()[-2000:] for p in work.rglob("*.log"))
        pytest.fail(f"snakemake on SLURM failed:\n{res.stderr[-6000:]}\n{logs[-8000:]}")

    # every job of a non-local rule ran inside a SLURM job, once; no local rule did
    jobs = slurm_jobs(work)
    ran = Counter(rule for rules in jobs.values() for rule in rules)
    expected = Counter({r: n for r, n in job_counts(res.stderr).items() if r not in LOCAL})
    assert ran == expected
    # and SLURM itself records each of those jobs as completed
    records = completed(slurm_env)
    assert set(jobs) <= set(records)
    failed = {j: records[j] for j in jobs if records[j][1:] != ("COMPLETED", "0:0")}
    assert not failed
    # a group of a period (or fold) is one job
    merged = sum((len(rules) - 1) * expected[rules[0]] for rules in GROUPS.values())
    assert len(jobs) == sum(expected.values()) - merged
    for rules in GROUPS.values():
        assert sum(sorted(r) == sorted(rules) for r in jobs.values()) == expected[rules[0]]

    # the same outputs as the local run; the demo's raw files are left out: local rules
    # wrote them in both runs, stamped with the time they were made (production times in
    # the HDF and NetCDF metadata, zip entry times), as the providers' files are
    assert differences(tiny_run[0], work / "results" / "tiny", skip=("raw",)) == []
    print(
        f"\nSLURM tiny run: {seconds:.0f} s wall, {len(jobs)} SLURM jobs for "
        f"{sum(expected.values())} jobs of cluster rules (local run {tiny_run[1]:.0f} s)"
    )
