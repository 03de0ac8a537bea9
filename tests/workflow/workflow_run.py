"""Running this repository's workflow on the tiny world from the workflow tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def snakemake(work: Path, configfile: Path | tuple[Path, ...], *args: str, timeout: int = 300):
    """Run the workflow in ``work`` with ``configfile``; the completed process."""
    return subprocess.run(
        command(work, configfile, *args), capture_output=True, text=True, timeout=timeout
    )
