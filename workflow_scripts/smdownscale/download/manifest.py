"""The manifest: one record per raw file (where it came from, its size, checksums, when).

A record is a small JSON file beside the raw tree, ``<raw>/manifest/<relpath>.json``,
written atomically by the job that fetched (or verified) the file; one file per record
means parallel jobs never write the same file. :func:`manifest_table` gathers them into
``<raw>/manifest.tsv``. A record also makes the next check of a present file cheap: the
file is trusted as verified while its size and modification time are those recorded.
Records never hold credentials (URLs are redacted).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..atomic import write_text_atomic

MANIFEST_DIR = "manifest"
COLUMNS = [
    "path", "source", "url", "size", "sha256", "provider_checksum", "fetched", "requests",
    "original_size", "original_sha256", "crop",
]  # fmt: skip


@dataclass(frozen=True)
class Record:
    """How one raw file came to be: ``source`` is ``download`` (fetched from ``url``),
    ``present`` (found in place and verified, no network) or ``user`` (user-supplied).

    ``size`` and ``sha256`` are those of the file in place; for a file cropped on arrival
    (:mod:`smdownscale.download.crop`), ``original_size`` and ``original_sha256`` are the
    provider's file's (``provider_checksum`` too) and ``crop`` says what was kept; for any
    other file they are 0 and "".
    """

    path: str
    source: str
    url: str
    size: int
    sha256: str
    provider_checksum: str
    fetched: str
    requests: int
    mtime_ns: int
    original_size: int = 0
    original_sha256: str = ""
    crop: str = ""

    def matches(self, file: Path) -> bool:
        """Whether ``file`` is still the file recorded (same size and modification time)."""
        try:
            st = file.stat()
        except FileNotFoundError:
            return False
        return st.st_size == self.size and st.st_mtime_ns == self.mtime_ns


def record_path(raw_dir: str | Path, relpath: str) -> Path:
    return Path(raw_dir) / MANIFEST_DIR / f"{relpath}.json"


def now_utc() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"


def make_record(
    raw_dir: str | Path,
    file: Path,
    *,
    source: str,
    url: str = "",
    sha256: str,
    provider_checksum: str = "",
    requests: int = 0,
    original_size: int = 0,
    original_sha256: str = "",
    crop: str = "",
) -> Record:
    st = file.stat()
    return Record(
        path=Path(file).resolve().relative_to(Path(raw_dir).resolve()).as_posix(),
        source=source,
        url=url,
        size=st.st_size,
        sha256=sha256,
        provider_checksum=provider_checksum,
        fetched=now_utc(),
        requests=requests,
        mtime_ns=st.st_mtime_ns,
        original_size=original_size,
        original_sha256=original_sha256,
        crop=crop,
    )


def write_record(raw_dir: str | Path, record: Record) -> Path:
    return write_text_atomic(
        record_path(raw_dir, record.path), json.dumps(asdict(record), indent=1) + "\n"
    )


def read_record(raw_dir: str | Path, relpath: str) -> Record | None:
    """The record of a raw file, or None when there is none (or it cannot be read)."""
    path = record_path(raw_dir, relpath)
    try:
        return Record(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def manifest_table(raw_dir: str | Path, relpaths: Iterable[str]) -> str:
    """Tab-separated manifest of the given raw files (files without a record say so)."""
    lines = ["\t".join(COLUMNS)]
    for rel in relpaths:
        rec = read_record(raw_dir, rel)
        if rec is None:
            lines.append("\t".join([rel, "unrecorded", *[""] * (len(COLUMNS) - 2)]))
            continue
        row = asdict(rec)
        lines.append("\t".join(str(row[c]) for c in COLUMNS))
    return "\n".join(lines) + "\n"
