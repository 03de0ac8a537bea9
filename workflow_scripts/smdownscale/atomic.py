"""Atomic file writing: a file appears under its name only once it is complete.

Writers write to a hidden partial name in the target folder (same file system, so the final
:func:`os.replace` is atomic) and rename it when done; on any error the partial file is
removed and an existing file at the target is left as it was. An interrupted job therefore
never leaves a file that looks finished.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def partial_name(path: Path) -> Path:
    """The hidden name a file is written under until it is complete.

    It is the same on every attempt, so a partial file left by a killed job is overwritten
    by the next one (Snakemake never runs two jobs for the same output at once).
    """
    return path.with_name(f".{path.name}.part")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
