"""Keep the previous good outputs of a run until a rerun has replaced them.

Snakemake deletes a job's existing outputs before the job starts, and an interrupted job's
partial outputs after it stops, so a rerun stopped half way (Ctrl-C, a failed job, a kill)
would lose the products of the last good run. The workflow's hooks (``rules/common.smk``)
guard against that with hard links, which cost no space and no copying:

* on start (:func:`start`): files a killed run could not restore are restored first
  (:func:`restore_missing`); the hidden work files of killed jobs (``.<name>.part`` of
  :mod:`.atomic`, scratch cubes ``.<name>.scratch``) are removed; then every output file of
  the run folder is linked into ``<run>/.previous/`` (:func:`snapshot`);
* on success: the snapshot is dropped (:func:`drop`);
* on error or interruption: every file the rerun deleted and did not remake is linked back
  from the snapshot, and the snapshot is dropped.

A run killed with SIGKILL also leaves Snakemake's directory locks behind, and the next run
would refuse to start until ``--unlock``. The start hook records which process holds the
locks (:func:`claim`); the next parse of the Snakefile removes them when that process is
gone from this machine (:func:`release_stale_locks`), and leaves them (Snakemake then says
what to do) when it cannot tell.

A restored file is the previous run's own, with its modification time: a resumed run
remakes it for the same reasons as before (Snakemake's incomplete markers, newer inputs,
changed params or code). Writers never modify an output in place (Snakemake removes it
first, and :mod:`.atomic` writes a new file and renames it), so the linked copy keeps the
old content. ``raw/`` (the inputs), ``logs/`` and ``benchmarks/`` are not guarded.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

#: The snapshot folder inside a run folder.
SNAPSHOT = ".previous"
#: Top-level folders of a run that are not guarded (inputs, logs, timings, the snapshot).
UNGUARDED = frozenset({"raw", "logs", "benchmarks", SNAPSHOT})


#: Endings of the hidden work files of running jobs: :mod:`.atomic`'s partial files and
#: harmonise_predictors' scratch cubes (a folder), ``.<output name><ending>``.
SCRATCH_ENDINGS = (".part", ".scratch")


def _is_scratch(path: Path) -> bool:
    return any(part.startswith(".") and part.endswith(SCRATCH_ENDINGS) for part in path.parts)


def guarded_files(run_dir: str | Path) -> Iterator[Path]:
    """Every regular output file under ``run_dir`` (relative paths), scratch files aside."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return
    for top in sorted(run_dir.iterdir()):
        if top.name in UNGUARDED:
            continue
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            if not path.is_symlink() and not _is_scratch(path):
                yield path.relative_to(run_dir)


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links: copy (same content, more space)
        shutil.copy2(src, dst)


def remove_scratch(run_dir: str | Path) -> list[Path]:
    """Delete the hidden work files and folders killed jobs left; returns them."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = sorted(
        p
        for p in run_dir.rglob(".*")
        if p.name.endswith(SCRATCH_ENDINGS) and SNAPSHOT not in p.relative_to(run_dir).parts
    )
    removed = []
    for p in found:
        if any(q in p.parents for q in removed):
            continue  # inside a scratch folder already removed
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def snapshot(run_dir: str | Path) -> int:
    """Link every guarded file into ``run_dir/.previous`` (replacing an old snapshot)."""
    run_dir = Path(run_dir)
    drop(run_dir)
    n = 0
    for rel in guarded_files(run_dir):
        _link(run_dir / rel, run_dir / SNAPSHOT / rel)
        n += 1
    return n


def restore_missing(run_dir: str | Path) -> list[Path]:
    """Link back every snapshot file that is missing from the run folder; returns them."""
    run_dir = Path(run_dir)
    snap = run_dir / SNAPSHOT
    if not snap.is_dir():
        return []
    restored = []
    for path in sorted(p for p in snap.rglob("*") if p.is_file()):
        rel = path.relative_to(snap)
        if not (run_dir / rel).exists():
            _link(path, run_dir / rel)
            restored.append(rel)
    return restored


def drop(run_dir: str | Path) -> None:
    """Remove the snapshot folder, if any."""
    shutil.rmtree(Path(run_dir) / SNAPSHOT, ignore_errors=True)


def restored_message(restored: list[Path], why: str) -> str | None:
    """One warning line about restored files, or None when nothing was restored."""
    if not restored:
        return None
    shown = ", ".join(str(p) for p in restored[:5])
    more = f" and {len(restored) - 5} more" if len(restored) > 5 else ""
    return (
        f"{why}: restored {len(restored)} output file(s) of the previous run that the rerun "
        f"had deleted and not remade ({shown}{more}); rerun the workflow to bring them up to date"
    )


def start(run_dir: str | Path) -> tuple[list[str], list[str]]:
    """The start hook: restore what a killed run lost, clear scratch, take a snapshot.

    Returns (warnings, notes) to log; the caller owns the logger."""
    warnings, notes = [], []
    restored = restored_message(restore_missing(run_dir), "a previous run was killed")
    if restored:
        warnings.append(restored)
    scratch = remove_scratch(run_dir)
    if scratch:
        notes.append(f"removed {len(scratch)} partial file(s) left by killed jobs")
    n = snapshot(run_dir)
    notes.append(f"the previous outputs stay until this run replaces them ({n} file(s) linked)")
    return warnings, notes


def finish(run_dir: str | Path, success: bool) -> str | None:
    """The success / error hook: drop the snapshot, restoring lost files first on error.

    Returns the warning to log when files were restored."""
    message = (
        None if success else restored_message(restore_missing(run_dir), "the run did not complete")
    )
    drop(run_dir)
    return message


#: Where the start hook records the process that holds Snakemake's locks.
OWNER = Path(".snakemake") / "smdownscale_owner.json"
LOCKS = Path(".snakemake") / "locks"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def claim(workdir: str | Path, pid: int | None = None) -> None:
    """Record that process ``pid`` (this one) holds the locks of ``workdir``."""
    owner = Path(workdir) / OWNER
    owner.parent.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid or os.getpid(), "host": socket.gethostname(), "boot": _boot_id()}
    owner.write_text(json.dumps(record))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def release_stale_locks(workdir: str | Path) -> str | None:
    """Remove the locks of a killed run; the message to log, or None if none were removed.

    Only when the recorded owner ran on this machine since its last boot and is gone
    (after a reboot every earlier process is gone too); otherwise the locks stay.
    """
    workdir = Path(workdir)
    locks = sorted((workdir / LOCKS).glob("*.lock")) if (workdir / LOCKS).is_dir() else []
    if not locks:
        return None
    try:
        record = json.loads((workdir / OWNER).read_text())
    except (OSError, ValueError):
        return None
    if record.get("host") != socket.gethostname():
        return None
    pid = int(record.get("pid", 0))
    if pid <= 0:
        return None  # no owner recorded: cannot tell
    rebooted = record.get("boot") and record.get("boot") != _boot_id()
    if not rebooted and _alive(pid):
        return None
    for lock in locks:
        lock.unlink(missing_ok=True)
    (workdir / OWNER).unlink(missing_ok=True)
    return (
        f"removed {len(locks)} stale Snakemake lock(s) left by a killed run (process "
        f"{record.get('pid')} on {record.get('host')} is gone); resuming"
    )


def repair_after_kill(workdir: str | Path, run_dir: str | Path) -> list[str]:
    """At parse time: release a killed run's locks, then restore what it lost.

    Files are restored only when no lock remains (no other run is active here), so a dry
    run beside a running workflow changes nothing. Returns the warnings to log.
    """
    messages = []
    released = release_stale_locks(workdir)
    if released:
        messages.append(released)
    lockdir = Path(workdir) / LOCKS
    if lockdir.is_dir() and any(lockdir.glob("*.lock")):
        return messages
    restored = restored_message(restore_missing(run_dir), "a previous run was killed")
    if restored:
        messages.append(restored)
    return messages
