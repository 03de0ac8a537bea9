"""Atomic file writing: a file appears under its name only once it is complete.

Writers write to a hidden partial name in the target folder (same file system, so the final
:func:`os.replace` is atomic) and rename it when done; on any error the partial file is
removed and an existing file at the target is left as it was. An interrupted job therefore
never leaves a file that looks finished.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

#: Free space below which a library's vague write error ("NetCDF: HDF error",
#: "SDwritedata failure") is taken for a full disk.
LOW_SPACE_BYTES = 64 * 2**20
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_VAGUE_WRITE_ERRORS = ("hdf error", "sdwritedata", "sdendaccess", "sdend", "no space left")


class DiskFullError(OSError):
    """A write stopped because the file system is full: one message, no partial file."""


def _size(path: Path) -> int:
    """Bytes a file holds on disk (a sparse partial file's size would overstate it)."""
    try:
        st = path.stat()
    except OSError:
        return 0
    return min(st.st_size, st.st_blocks * 512)


def _mib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def disk_full_error(exc: BaseException, path: Path, partial: Path) -> DiskFullError | None:
    """A :class:`DiskFullError` naming ``path`` if ``exc`` means the disk is full, else None.

    ``OSError`` with ENOSPC/EDQUOT always does; the vague errors of netCDF/HDF5 and HDF4
    writers do when less than :data:`LOW_SPACE_BYTES` (or less than the partial file) is
    free. The space needed is estimated from the previous version of the file, if any,
    else from what had been written.
    """
    if isinstance(exc, DiskFullError):
        return exc
    text = str(exc).lower()
    is_full = isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS
    written = _size(partial)
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    if not is_full and any(v in text for v in _VAGUE_WRITE_ERRORS) and free is not None:
        is_full = free < max(LOW_SPACE_BYTES, written)
    if not is_full:
        return None
    previous = _size(path)
    needed = (
        f"about {_mib(previous)} (the size of its previous version)"
        if previous > written
        else f"more than the {_mib(written)} written before the disk filled"
    )
    free_text = "unknown" if free is None else _mib(free)
    return DiskFullError(
        errno.ENOSPC,
        f"no space left on the disk holding {path}: writing it needs {needed}, and "
        f"{free_text} is free there; the partial file was removed. Free space on that disk "
        "(or point the run's results or paths.raw at a larger one) and run again",
    )


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
    except Exception as exc:
        full = disk_full_error(exc, path, tmp)
        tmp.unlink(missing_ok=True)
        if full is not None and full is not exc:
            raise full from exc
        raise
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
