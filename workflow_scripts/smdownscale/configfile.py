"""Config files read with the file and line of every problem, before Snakemake starts.

Snakemake loads ``--configfile`` files itself, before the workflow's code runs, and reports a
missing file with a traceback and a YAML syntax error without file or line. ``make run
CONFIG=<file>`` (and the Snakefile, for the default ``config/config.yaml``) read the files
here first::

    python -m smdownscale.configfile my_region.yaml [more.yaml ...]

checks that each file exists and parses (naming file, line and column otherwise), merges
them as Snakemake does (later files win, key by key) and validates the result
(:func:`smdownscale.config.prepare_config`); exit status 1 with one message on a problem.
With ``--run-name`` first it prints only the run's name (``make report`` writes the report
to ``results/<run>/report.html``).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .config import ConfigError, evaluation_problem, prepare_config

__all__ = ["ConfigError", "check_files", "load_file", "merge_configs"]


def load_file(path: str | Path) -> dict[str, Any]:
    """The mapping in one YAML config file, or ConfigError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        where = "is a folder" if path.is_dir() else "does not exist"
        raise ConfigError(
            f"config file {path} {where} (looked for it from {Path.cwd()}): give the path of "
            "a YAML file, e.g. a copy of config/config.yaml edited for your region"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        context = getattr(e, "context", None)
        detail = f"{problem} ({context})" if context else problem
        raise ConfigError(
            f"config file {path}{where}: not valid YAML: {detail}; fix that line (indent with "
            "spaces, not tabs; close brackets and quotes)"
        ) from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {path}: not a UTF-8 text file ({e.reason})") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"config file {path}: holds a {type(data).__name__}, not a mapping of keys "
            "(see config/config.yaml for the layout)"
        )
    return dict(data)


def merge_configs(*configs: Mapping[str, Any]) -> dict[str, Any]:
    """Later configs merged over earlier ones: mappings recursively, anything else replaced
    (lists too), as Snakemake merges several ``--configfile`` files."""
    out: dict[str, Any] = {}
    for cfg in configs:
        _merge_into(out, cfg)
    return out


def _merge_into(base: dict[str, Any], over: Mapping[str, Any]) -> None:
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge_into(base[key], value)
        else:
            base[key] = copy.deepcopy(dict(value) if isinstance(value, Mapping) else value)


def check_files(paths: Sequence[str | Path]) -> dict[str, Any]:
    """Load, merge and validate config files; the resolved configuration."""
    cfg = merge_configs(*(load_file(p) for p in paths))
    resolved = prepare_config(cfg)
    problem = evaluation_problem(resolved)
    if problem:
        raise ConfigError(problem)
    return resolved


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    run_name = argv[:1] == ["--run-name"]  # print the run's name only (make report)
    if run_name:
        argv = argv[1:]
    if not argv:
        print(
            "usage: python -m smdownscale.configfile [--run-name] CONFIG.yaml [MORE.yaml ...]",
            file=sys.stderr,
        )
        return 2
    try:
        cfg = check_files(argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if run_name:
        print(cfg["run"])
        return 0
    dates = cfg["dates"]
    print(f"config ok: run '{cfg['run']}' ({cfg['source']}), {dates['start']}..{dates['end']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
