"""Downloads by group: one job fetches every raw file of one product and one period (or
the static SRTM tiles) and writes a marker that lists them.

Why groups: Snakemake spends a few milliseconds on every job of a DAG. With one job per
granule, the Three-North plan made before any download held 77,615 download jobs and took
166 s to build. One job per product and period gives about 2,000. The files are not the
job's declared outputs (which granules the provider holds is known only from its
catalogue, at run time); the marker is. A failed file fails the group's job, but the
files fetched before it stay in place with their records, so the rerun only verifies them
(one ``stat`` each) and fetches the rest.

A marker is a TSV in the run's folder, ``<run>/fetched/<product>/<part>.tsv``: one row per
granule of the group, ``present`` (path relative to the raw folder, size, SHA-256) or
``absent`` (the provider's catalogue does not list it). The rules read the files a marker
lists (:func:`present_paths`).
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import DiskFullError, write_text_atomic
from .catalogue import load_catalogue
from .errors import AuthError, DownloadError, OfflineError
from .manifest import Record
from .plan import catalogue_part
from .sources import CATALOGUED, product_of

MARKER_DIR = "fetched"
COLUMNS = ["path", "status", "size", "sha256"]
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
#: Failures named in a failed group's message (the log names them all).
SHOWN = 5


def marker_path(run_dir: str | Path, key: str, part: str) -> Path:
    """Where the marker of product ``key``'s group ``part`` (a period id, or ``static``) is."""
    return Path(run_dir) / MARKER_DIR / key / f"{part}.tsv"


@dataclass(frozen=True)
class GroupResult:
    present: list[Record]
    absent: list[str]


def fetch_group(
    rels: Sequence[str],
    cfg: Mapping[str, Any],
    raw: str | Path,
    catalogues: Mapping[str, str | Path],
    ensure: Callable[..., Record],
    *,
    logger: logging.Logger,
    workers: int = 1,
) -> GroupResult:
    """Make sure every raw file ``rels`` names is in place and verified (``ensure``: see
    :func:`smdownscale.download.jobs.ensure_file`), ``workers`` at a time, skipping the
    granules a catalogue (``catalogues``: catalogue part -> file) does not list.

    Every file is tried; failures are raised together at the end as one
    :class:`DownloadError` naming them. Refused credentials, offline mode and a full disk
    stop at once (the files not yet started are not tried): every other file would fail
    the same way.
    """
    absent: list[str] = []
    todo: list[tuple[str, str | None]] = []
    listed: dict[str, Mapping[str, Any]] = {}
    for rel in rels:
        key = product_of(rel).key
        catalogue = None
        if key in CATALOGUED:
            catalogue = str(catalogues[catalogue_part(key, rel)])
            if catalogue not in listed:
                listed[catalogue] = load_catalogue(catalogue)
            if rel not in listed[catalogue]:
                absent.append(rel)
                continue
        todo.append((rel, catalogue))

    def one(item: tuple[str, str | None]) -> Record:
        rel, catalogue = item
        return ensure(rel, cfg, raw, catalogue=catalogue, logger=logger)

    present: list[Record] = []
    failed: list[tuple[str, Exception]] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(one, item) for item in todo]
        try:
            for (rel, _), future in zip(todo, futures, strict=True):
                try:
                    present.append(future.result())
                except OSError as exc:
                    if isinstance(exc, DiskFullError) or exc.errno in _DISK_FULL:
                        raise  # a full disk fails every other file too
                    logger.error("%s: %s", rel, exc)
                    failed.append((rel, exc))
                except (AuthError, OfflineError):
                    raise
                except DownloadError as exc:
                    logger.error("%s: %s", rel, exc)
                    failed.append((rel, exc))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    if absent:
        shown = ", ".join(absent[:SHOWN]) + (" ..." if len(absent) > SHOWN else "")
        logger.info(
            "%d granule(s) do not exist at the provider (its catalogue does not list them); "
            "the readers treat them as missing data: %s",
            len(absent),
            shown,
        )
    if failed:
        named = "\n".join(f"  {rel}: {exc}" for rel, exc in failed[:SHOWN])
        more = f"\n  ... and {len(failed) - SHOWN} more (the log names them)" * (
            len(failed) > SHOWN
        )
        raise DownloadError(
            f"{len(failed)} of {len(rels)} file(s) could not be fetched:\n{named}{more}\n"
            f"The {len(present)} in place are kept and verified; run again to fetch the rest."
        )
    return GroupResult(present=present, absent=absent)


def marker_text(result: GroupResult) -> str:
    rows = ["\t".join(COLUMNS)]
    rows += [f"{r.path}\tpresent\t{r.size}\t{r.sha256}" for r in result.present]
    rows += [f"{rel}\tabsent\t\t" for rel in result.absent]
    return "\n".join(rows) + "\n"


def write_marker(path: str | Path, result: GroupResult) -> Path:
    return write_text_atomic(path, marker_text(result))


def read_marker(path: str | Path) -> dict[str, str]:
    """Raw path (relative to the raw folder) -> ``present`` or ``absent``."""
    lines = Path(path).read_text().splitlines()
    if not lines or lines[0].split("\t") != COLUMNS:
        raise ValueError(f"{path} is not a download marker (its header is not {COLUMNS})")
    return {
        fields[0]: fields[1] for fields in (line.split("\t") for line in lines[1:]) if fields[0]
    }


def is_marker(path: str | Path) -> bool:
    p = Path(path)
    return p.suffix == ".tsv" and p.parent.parent.name == MARKER_DIR


def present_paths(
    paths: Iterable[str | Path], raw: str | Path, wanted: Collection[str] | None = None
) -> list[str]:
    """``paths`` with every marker replaced by the files it lists as present (as paths
    under ``raw``; only those in ``wanted``, raw paths relative to ``raw``, when given: a
    group can fetch granules of several periods); other paths are kept as they are, in
    order."""
    out: list[str] = []
    for p in paths:
        if is_marker(p):
            out += [
                str(Path(raw) / rel)
                for rel, s in read_marker(p).items()
                if s == "present" and (wanted is None or rel in wanted)
            ]
        else:
            out.append(str(p))
    return out


def refresh_markers(
    fetched_dir: str | Path, raw: str | Path, digests: Mapping[str, str]
) -> list[Path]:
    """Rewrite, in the markers under ``fetched_dir``, the rows of files whose SHA-256 is
    not the one ``digests`` (path -> SHA-256 of the files just hashed) gives, with their
    size and hash now; returns the markers rewritten.

    The rules take downloaded files through their group's marker, so the marker must
    change for what was made from a changed file to be remade: Snakemake compares a small
    input's checksum, not only its time. A file replaced after its download, before any
    check saw it, counts too.
    """
    root = os.path.normpath(raw)
    by_rel = {}
    for path, sha in digests.items():
        rel = os.path.relpath(os.path.normpath(path), root)
        if not rel.startswith(".."):  # not under the raw folder: an archive or station file
            by_rel[Path(rel).as_posix()] = (path, sha)
    refreshed = []
    for m in sorted(Path(fetched_dir).glob("*/*.tsv")) if by_rel else []:
        lines = m.read_text().splitlines()
        new = list(lines)
        for i, line in enumerate(lines[1:], start=1):
            fields = line.split("\t")
            hit = by_rel.get(fields[0])
            if hit is not None and fields[1] == "present" and fields[3] != hit[1]:
                new[i] = f"{fields[0]}\tpresent\t{os.path.getsize(hit[0])}\t{hit[1]}"
        if new != lines:
            write_text_atomic(m, "\n".join(new) + "\n")
            refreshed.append(m)
    return refreshed
