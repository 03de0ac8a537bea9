"""Input content, not modification time alone, decides whether products are remade.

Snakemake reruns a job when an input is newer than its outputs. A raw file replaced by one
with other content but an older or kept modification time (``cp -a``, ``rsync -a``, a
restored backup) would leave products made from the old content in place. On every parse of
the main process the workflow calls :func:`check`: each input file's stat key (size,
modification time, inode, change time) is compared with the record of the last check, a
file whose key changed is hashed (SHA-256) again, and a file whose content changed is given
the current time as modification time, so that Snakemake remakes everything made from it.
A file seen for the first time is hashed once and recorded; later checks cost one ``stat``
per file. The record is a JSON file (path -> stat key and hash) written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import write_text_atomic
from .progress import Progress

_CHUNK = 1 << 20
#: Hashing at least this much shows progress lines (a first check of a real archive).
PROGRESS_FROM_BYTES = 1 << 30


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def stat_key(path: str | Path) -> list[int]:
    """What changes when a file is rewritten or replaced, even with its mtime kept."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


@dataclass
class CheckResult:
    changed: list[Path] = field(default_factory=list)  # content changed: mtime set to now
    untouchable: list[Path] = field(default_factory=list)  # changed, but mtime not settable
    hashed: int = 0  # files hashed in this check (new or with a changed stat key)
    hashed_bytes: int = 0
    digests: dict[str, str] = field(default_factory=dict)  # path -> SHA-256 of those files


def _load(record_path: Path) -> dict[str, dict]:
    try:
        return json.loads(record_path.read_text())
    except (OSError, ValueError):
        return {}  # no record yet, or an unreadable one: start afresh (files get hashed)


def check(
    paths: Iterable[str | Path],
    record_path: str | Path,
    emit: Callable[[str], object] | None = None,
    progress_from_bytes: int = PROGRESS_FROM_BYTES,
) -> CheckResult:
    """Compare ``paths`` with the record; touch the files whose content changed.

    Missing paths are ignored (a job will make them, or the workflow will say they are
    missing); the record keeps only the paths given. When at least ``progress_from_bytes``
    are to be hashed, ``emit`` receives progress lines (:class:`.progress.Progress`).
    """
    record_path = Path(record_path)
    old = _load(record_path)
    new: dict[str, dict] = {}
    result = CheckResult()
    todo = []  # (path, stat key, old record) of the files to hash
    for p in sorted({str(Path(p)) for p in paths}):
        if not os.path.isfile(p):
            continue
        key = stat_key(p)
        rec = old.get(p)
        if rec and rec.get("stat") == key:
            new[p] = rec
        else:
            todo.append((p, key, rec))
    total = sum(key[0] for _, key, _ in todo)
    progress = None
    if emit is not None and total >= progress_from_bytes:
        progress = Progress(
            f"fingerprinting {len(todo)} new or changed input file(s)", total, emit, unit="bytes"
        )
    for p, key, rec in todo:
        digest = sha256_file(p)
        result.digests[p] = digest
        result.hashed += 1
        result.hashed_bytes += key[0]
        if progress is not None:
            progress.advance(key[0])
        if rec and rec.get("sha256") != digest:
            try:
                os.utime(p)  # now: newer than every product made from the old content
            except OSError:  # read-only: keep the old record, so the next check says it again
                result.untouchable.append(Path(p))
                new[p] = rec
                continue
            result.changed.append(Path(p))
            key = stat_key(p)
        new[p] = {"stat": key, "sha256": digest}
    if new != old:
        write_text_atomic(record_path, json.dumps(new, indent=0, sort_keys=True))
    return result


def recorded_sha256(record_path: str | Path) -> Callable[[str | Path], str]:
    """``sha256(path)`` that takes a file's hash from the record of the last :func:`check`
    when its stat key is unchanged, and hashes it otherwise (the record is not written)."""
    record = _load(Path(record_path))

    def sha256(path: str | Path) -> str:
        rec = record.get(str(Path(path)))
        if rec and rec.get("stat") == stat_key(path) and rec.get("sha256"):
            return str(rec["sha256"])
        return sha256_file(path)

    return sha256


def files_under(*paths: str | Path) -> list[Path]:
    """The regular files of files and folders (hidden partial downloads aside)."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out += (p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return sorted(out)


def describe(result: CheckResult) -> tuple[list[str], str | None]:
    """(warnings, error) for the workflow to log or raise."""
    warnings = [
        f"{p}: its content changed although its modification time did not say so (a copy "
        "with the time kept, e.g. cp -a or rsync -a); its modification time is now the "
        "current time, so every product made from it will be remade"
        for p in result.changed
    ]
    error = None
    if result.untouchable:
        names = ", ".join(map(str, result.untouchable[:5]))
        error = (
            f"the content of {len(result.untouchable)} input file(s) changed although their "
            f"modification time did not ({names}), and their time cannot be updated "
            "(read-only): products made from the old content would stay; touch the files "
            "(or copy them without keeping the time) and run again"
        )
    return warnings, error
