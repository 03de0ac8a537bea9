"""Running this repository's workflow on the tiny world from the workflow tests, and
comparing the outputs of two runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import xarray as xr

REPO = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("tiny.yaml")
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def command(work: Path, configfile: Path | tuple[Path, ...], *args: str) -> list[str]:
    """The README's run command for ``configfile`` (or several, merged in order), in the
    folder ``work``."""
    files = configfile if isinstance(configfile, tuple) else (configfile,)
    return [
        str(SNAKEMAKE),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        *map(str, files),
        *args,
    ]


def snakemake(
    work: Path, configfile: Path | tuple[Path, ...], *args: str, timeout: int = 300, env=None
):
    """Run the workflow in ``work`` with ``configfile``; the completed process."""
    return subprocess.run(
        command(work, configfile, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def complete_run(work: Path, configfile: Path | tuple[Path, ...], timeout: int = 900) -> None:
    """Run every rule in ``work`` with ``configfile``; fail the test with the stderr and
    the jobs' log tails when the run fails."""
    import pytest

    res = snakemake(
        work, configfile, "--cores", "2", "--rerun-incomplete", "--quiet", "rules",
        timeout=timeout,
    )  # fmt: skip
    if res.returncode != 0:
        logs = "\n".join(p.read_text()[-3000:] for p in (work / "results").rglob("*.log"))
        pytest.fail(f"snakemake failed:\n{res.stderr[-5000:]}\n{logs}")


#: Raw files the demo writes are compared by content (netCDF variables and attributes, HDF4
#: data sets and metadata, zip members), as they embed their write times.
#: Not compared: run bookkeeping (logs, timings, the input fingerprints with their inodes,
#: the snapshot of a run in progress) and the HTML report (it embeds creation times).
SKIP_PARTS = {"logs", "benchmarks", ".previous"}
SKIP_NAMES = {"input_fingerprints.json", "report.html"}
#: Attributes that record when or how long, not what.
TIME_ATTRS = {"history", "date_created", "date_modified", "ProductionTime"}
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


def differences(ref: Path, other: Path, skip: tuple[str, ...] = ()) -> list[str]:
    """What differs between two run folders (empty when they are the same), leaving out
    the top-level folders ``skip``."""
    a, b = outputs(ref, skip), outputs(other, skip)
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
