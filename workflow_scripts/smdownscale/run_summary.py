"""The lines a successful run ends with: where the product, the report and the validation
table are (the ``onsuccess`` hook of ``rules/common.smk``).

After a run of hundreds of jobs the last screen is Snakemake's job list; a user should not
have to know the results layout to find what the run made. Only what exists is named (a
run of part of the DAG, ``make run TARGET=...``, may have made no product yet), and the
report, which Snakemake builds in a separate call, comes with the command that builds it.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Sequence
from pathlib import Path

#: Relative to the run folder: the daily 1 km product files, the validation table (the
#: paper's Table 4: every product against the stations on the evaluation days), the
#: headline figures for machines, the report.
PRODUCT_DIR = "product"
VALIDATION_TABLE = "validation/table4_stations.csv"
SUMMARY_JSON = "validation/summary.json"
REPORT = "report.html"


def report_commands(
    run_dir: str, snakefile: Path, workdir: Path, configfiles: Sequence[str]
) -> list[str]:
    """Commands that build the report of this run: ``make report`` when the workflow runs
    from its own folder, and the plain Snakemake call with this run's Snakefile, folder and
    config files."""
    report = f"{run_dir}/{REPORT}"
    cfg = (
        [f"--configfile {' '.join(shlex.quote(str(c)) for c in configfiles)}"]
        if configfiles
        else []
    )
    in_repo = Path(snakefile).resolve() == (Path(workdir) / "Snakefile").resolve()
    out = []
    if in_repo:
        make = "make report" + (
            f" CONFIG={shlex.quote(' '.join(str(c) for c in configfiles))}" if configfiles else ""
        )
        out.append(make)
        where = []
    else:
        where = [f"-s {shlex.quote(str(snakefile))}", f"--directory {shlex.quote(str(workdir))}"]
    out.append(" ".join(["snakemake", *where, *cfg, f"--report {shlex.quote(report)}"]))
    return out


def summary(
    run_dir: str | Path,
    periods: Sequence[str],
    commands: Sequence[str],
    started: dt.datetime | None = None,
) -> str:
    """The run's closing lines. ``run_dir`` is relative to the working folder (as printed);
    ``periods`` are the ids of the run's periods; ``commands`` build the report;
    ``started`` is when this run began (a report older than that is from an earlier run).
    """
    run_dir = Path(run_dir)

    def earlier(path: Path) -> bool:
        return started is not None and dt.datetime.fromtimestamp(path.stat().st_mtime) < started

    def note(paths: Sequence[Path]) -> str:
        """A file this run did not remake (a run of part of the DAG) is said to be older."""
        return " (from an earlier run)" if any(earlier(p) for p in paths) else ""

    lines = [f"run '{run_dir.name}' done; where its results are:"]
    products = [run_dir / PRODUCT_DIR / f"sm_1km_{p}.nc" for p in periods]
    made = [p for p in products if p.is_file()]
    if made:
        span = made[0].name if len(made) == 1 else f"{made[0].name} .. {made[-1].name}"
        lines.append(
            f"  product (daily 1 km soil moisture, CF NetCDF): {run_dir / PRODUCT_DIR}/ "
            f"({len(made)} of {len(products)} period file(s): {span}){note(made)}"
        )
    else:
        lines.append(f"  product: not made by this run (it goes to {run_dir / PRODUCT_DIR}/)")
    for rel, what in (
        (VALIDATION_TABLE, "validation table (Table 4: products against stations)"),
        (SUMMARY_JSON, "headline figures (JSON)"),
    ):
        if (run_dir / rel).is_file():
            lines.append(f"  {what}: {run_dir / rel}{note([run_dir / rel])}")
    report = run_dir / REPORT
    build = " or ".join(f"`{c}`" for c in commands)
    if not report.is_file():
        lines.append(f"  report: not built yet; build it with {build}")
    elif earlier(report):
        lines.append(f"  report: {report} is from an earlier run; rebuild it with {build}")
    else:
        lines.append(f"  report: {report}")
    return "\n".join(lines)
