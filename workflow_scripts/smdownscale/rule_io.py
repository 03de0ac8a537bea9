"""Helpers for the thin rule scripts: logging to the rule's log file, provenance attributes."""

from __future__ import annotations

import datetime as dt
import logging
import platform
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import __version__
from .atomic import DiskFullError
from .config import digest

_FMT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(snakemake: Any, name: str | None = None) -> logging.Logger:
    """Log to the rule's ``log:`` file (and stderr); uncaught errors are logged before exit."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if getattr(snakemake, "log", None):
        Path(snakemake.log[0]).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(snakemake.log[0], mode="w"))
    logging.basicConfig(level=logging.INFO, format=_FMT, handlers=handlers, force=True)
    logger = logging.getLogger(name or getattr(snakemake, "rule", "smdownscale"))

    def excepthook(exc_type, exc, tb):  # noqa: ANN001
        if isinstance(exc, DiskFullError):  # one message says it all: no traceback
            logger.error("%s", exc.strerror or exc)
            return
        logger.error("%s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb))

    sys.excepthook = excepthook
    return logger


def code_version() -> str:
    """Package version plus the git commit of the workflow, when it is a git checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return f"{__version__}+{commit}"


def provenance(cfg: Mapping[str, Any], title: str, inputs: list[str] | None = None) -> dict:
    """Global attributes every product file carries."""
    attrs = {
        "title": title,
        "institution": "smdownscale workflow",
        "source": f"smdownscale {code_version()}; run '{cfg['run']}' (source: {cfg['source']})",
        "history": f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ} created by smdownscale",
        "config_digest": digest(cfg),
        "region": str(cfg["region"]["name"]),
        "python": platform.python_version(),
    }
    if inputs:
        names = sorted({Path(p).name for p in inputs})
        attrs["input_files"] = ", ".join(names[:50]) + (" ..." if len(names) > 50 else "")
        attrs["input_file_count"] = len(names)
    return attrs


def rule_config(snakemake: Any) -> tuple[dict[str, Any], Any]:
    """The config a rule runs with and its sensitivity experiment: the main config and
    ``None``, or, for a rule given ``params.experiment`` (rules/sensitivity.smk), that
    experiment's config (:func:`smdownscale.sensitivity.experiment_config`)."""
    from .sensitivity import experiment_config, experiments

    name = getattr(snakemake.params, "experiment", None)
    if not name:
        return snakemake.config, None
    known = experiments(snakemake.config)
    if name not in known:
        raise ValueError(
            f"sensitivity experiment {name!r} is not configured (config section "
            f"'sensitivity'); configured: {sorted(known)}"
        )
    exp = known[name]
    return experiment_config(snakemake.config, exp), exp
