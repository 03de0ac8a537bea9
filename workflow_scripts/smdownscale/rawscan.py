"""The file names under a folder tree, listed recursively and cached by folder.

The Snakefile resolves provider archives on every parse (:mod:`smdownscale.rawindex`), so the
listing must be cheap on trees of many thousand files: each folder's entries are kept in a
JSON cache with the folder's modification time, and a folder whose time is unchanged is not
listed again (adding, removing or renaming a file changes its folder's time; rewriting a
file in place does not, but that does not change names). Hidden names (``.part`` downloads,
``.snakemake``) are skipped; folder links are followed, each real folder once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .atomic import write_text_atomic


def _load(cache_path: Path | None) -> dict[str, dict]:
    if cache_path is None:
        return {}
    try:
        return json.loads(cache_path.read_text())
    except (OSError, ValueError):
        return {}


def _list(folder: str) -> tuple[list[str], list[str]]:
    files, dirs = [], []
    try:
        with os.scandir(folder) as entries:
            for e in entries:
                if e.name.startswith("."):
                    continue
                try:
                    if e.is_dir():
                        dirs.append(e.name)
                    elif e.is_file():
                        files.append(e.name)
                except OSError:  # a broken link or an entry that vanished meanwhile
                    continue
    except OSError:
        return [], []
    return sorted(files), sorted(dirs)


def list_files(
    root: str | Path, cache_path: str | Path | None = None, write: bool = True
) -> tuple[list[str], int]:
    """(relative paths of the regular files under ``root``, folders listed afresh).

    With ``cache_path`` the folders are cached there (per root, beside other roots); the
    cache is rewritten only when ``write`` and something changed. A missing root lists none.
    """
    root = str(root)
    cache = Path(cache_path) if cache_path is not None else None
    everything = _load(cache)
    old = everything.get(root, {})
    new: dict[str, dict] = {}
    out: list[str] = []
    listed = 0
    seen: set[tuple[int, int]] = set()
    stack = [""]
    while stack:
        rel = stack.pop()
        folder = os.path.join(root, rel) if rel else root
        try:
            st = os.stat(folder)  # before listing: a change during the listing shows next time
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen:  # a link back up the tree, or a second link
            continue
        seen.add((st.st_dev, st.st_ino))
        rec = old.get(rel)
        if rec is None or rec.get("mtime") != st.st_mtime_ns:
            files, dirs = _list(folder)
            rec = {"mtime": st.st_mtime_ns, "files": files, "dirs": dirs}
            listed += 1
        new[rel] = rec
        out += [os.path.join(rel, f) if rel else f for f in rec["files"]]
        stack += [os.path.join(rel, d) if rel else d for d in reversed(rec["dirs"])]
    if cache is not None and write and new != old:
        everything[root] = new
        write_text_atomic(cache, json.dumps(everything, separators=(",", ":")))
    return sorted(out), listed
