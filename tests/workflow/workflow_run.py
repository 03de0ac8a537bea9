"""Running this repository's workflow on the tiny world from the workflow tests, and
comparing the outputs of two runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import xarray as xr

REPO = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("tiny.yaml")
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def command(work: Path, configfile: Path, *args: str) -> list[str]:
    """The README's run command for ``configfile``, in the folder ``work``."""
    return [
        str(SNAKEMAKE),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(configfile),
        *args,
    ]


def snakemake(work: Path, configfile: Path, *args: str, timeout: int = 300, env=None):
    """Run the workflow in ``work`` with ``configfile``; the completed process."""
    return subprocess.run(
        command(work, configfile, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


#: Not compared: run bookkeeping (logs, timings, the input fingerprints with their inodes,
#: the snapshot of a run in progress) and the HTML report (it embeds creation times).
SKIP_PARTS = {"logs", "benchmarks", ".previous"}
SKIP_NAMES = {"input_fingerprints.json", "report.html"}
#: Attributes that record when or how long, not what.
TIME_ATTRS = {"history", "date_created", "date_modified"}
TIME_KEYS = {"created", "elapsed_s", "seconds", "wall_time_s", "timestamp"}


def outputs(run: Path, skip: tuple[str, ...] = ()) -> list[Path]:
    """The files of a run folder that :func:`differences` compares (and none under the
    top-level folders ``skip``)."""
    return sorted(
        p.relative_to(run)
        for p in run.rglob("*")
        if p.is_file()
        and not SKIP_PARTS & set(p.relative_to(run).parts)
        and p.name not in SKIP_NAMES
        and p.relative_to(run).parts[0] not in skip
    )


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in TIME_KEYS}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def differences(ref: Path, other: Path, skip: tuple[str, ...] = ()) -> list[str]:
    """What differs between two run folders (empty when they are the same), leaving out
    the top-level folders ``skip``."""
    a, b = outputs(ref, skip), outputs(other, skip)
    out = [f"only in the reference: {p}" for p in sorted(set(a) - set(b))]
    out += [f"only in the other run: {p}" for p in sorted(set(b) - set(a))]
    for rel in sorted(set(a) & set(b)):
        x, y = ref / rel, other / rel
        if rel.suffix == ".nc":
            with xr.open_dataset(x) as dx, xr.open_dataset(y) as dy:
                for d in (dx, dy):
                    for k in TIME_ATTRS:
                        d.attrs.pop(k, None)
                if not dx.identical(dy):
                    out.append(f"{rel}: variables or attributes differ")
        elif rel.suffix == ".parquet":
            if not pd.read_parquet(x).equals(pd.read_parquet(y)):
                out.append(f"{rel}: tables differ")
        elif rel.suffix == ".json":
            if _strip(json.loads(x.read_text())) != _strip(json.loads(y.read_text())):
                out.append(f"{rel}: JSON differs")
        elif x.read_bytes() != y.read_bytes():
            out.append(f"{rel}: bytes differ")
    return out
