"""The tiny world's uninterrupted run, shared by every workflow test module."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from workflow_run import CONFIG, snakemake


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> tuple[Path, float]:
    """(results/tiny of a complete run, its wall time in seconds)."""
    work = tmp_path_factory.mktemp("wf")
    t0 = time.monotonic()
    res = snakemake(
        work, CONFIG, "--cores", "2", "--rerun-incomplete", "--quiet", "rules", timeout=900
    )
    seconds = time.monotonic() - t0
    if res.returncode != 0:
        logs = "\n".join(p.read_text()[-3000:] for p in (work / "results").rglob("*.log"))
        pytest.fail(f"snakemake failed:\n{res.stderr[-5000:]}\n{logs}")
    return work / "results" / "tiny", seconds


@pytest.fixture(scope="session")
def run_dir(tiny_run) -> Path:
    return tiny_run[0]
