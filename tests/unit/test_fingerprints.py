"""Input content, not mtime alone, triggers reruns (issue 13, item 6)."""

from __future__ import annotations

import os
import shutil

from smdownscale import fingerprints


def test_a_copy_with_its_time_kept_is_caught_and_touched(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    bad = raw / "ESACCI-day.nc"
    bad.write_bytes(b"bad content")
    os.utime(bad, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    record = tmp_path / "fp.json"
    first = fingerprints.check([bad], record)
    assert first.hashed == 1 and first.changed == []
    # the same content again costs a stat, not a hash
    assert fingerprints.check([bad], record).hashed == 0
    # replaced by a good file whose (older) modification time is kept, as cp -a does
    good = tmp_path / "good.nc"
    good.write_bytes(b"good content")
    os.utime(good, ns=(900_000_000_000_000_000, 900_000_000_000_000_000))
    shutil.copy2(good, bad)
    assert bad.stat().st_mtime_ns == 900_000_000_000_000_000
    result = fingerprints.check([bad], record)
    assert result.changed == [bad]
    assert bad.stat().st_mtime_ns > 1_000_000_000_000_000_000  # now newer than any product
    warnings, error = fingerprints.describe(result)
    assert error is None and "its content changed although its modification time" in warnings[0]
    # and the record now holds the new content: nothing more to say
    assert fingerprints.check([bad], record).changed == []


def test_the_same_content_copied_again_is_not_a_change(tmp_path):
    f = tmp_path / "a.hdf"
    f.write_bytes(b"same")
    record = tmp_path / "fp.json"
    fingerprints.check([f], record)
    copy = tmp_path / "copy.hdf"
    shutil.copy2(f, copy)
    os.replace(copy, f)  # new inode, same bytes
    result = fingerprints.check([f], record)
    assert result.hashed == 1 and result.changed == []


def test_missing_files_are_ignored_and_dropped_from_the_record(tmp_path):
    f = tmp_path / "a"
    f.write_bytes(b"x")
    record = tmp_path / "fp.json"
    fingerprints.check([f, tmp_path / "missing"], record)
    assert list(__import__("json").loads(record.read_text())) == [str(f)]


def test_a_changed_input_whose_time_cannot_be_set_stops_the_run(tmp_path, monkeypatch):
    f = tmp_path / "a"
    f.write_bytes(b"one")
    record = tmp_path / "fp.json"
    fingerprints.check([f], record)
    t = f.stat().st_mtime_ns
    f.write_bytes(b"two")
    os.utime(f, ns=(t, t))

    def read_only(*args, **kwargs):  # a file on a read-only share, or someone else's
        raise PermissionError("read-only file system")

    monkeypatch.setattr(fingerprints.os, "utime", read_only)
    result = fingerprints.check([f], record)
    _, error = fingerprints.describe(result)
    assert result.untouchable == [f] and "cannot be updated (read-only)" in error
    assert str(f) in error
    monkeypatch.undo()
    # the old record stays, so the next check sees the change again (and can touch it now)
    assert fingerprints.check([f], record).changed == [f]


def test_files_under_walks_folders_and_skips_hidden_partials(tmp_path):
    (tmp_path / "d/sub").mkdir(parents=True)
    (tmp_path / "d/sub/x.hdf").write_bytes(b"1")
    (tmp_path / "d/.x.hdf.part").write_bytes(b"1")
    (tmp_path / "f.csv").write_bytes(b"1")
    found = fingerprints.files_under(tmp_path / "d", tmp_path / "f.csv", tmp_path / "none")
    assert found == [tmp_path / "d/sub/x.hdf", tmp_path / "f.csv"]


def test_a_big_first_check_shows_progress_and_a_small_one_stays_quiet(tmp_path):
    files = []
    for i in range(4):
        f = tmp_path / f"granule{i}.hdf"
        f.write_bytes(b"x" * 1000)
        files.append(f)
    lines = []
    fingerprints.check(files, tmp_path / "fp.json", emit=lines.append)
    assert lines == []  # 4 kB is far below the default threshold (1 GiB)
    for f in files:
        f.write_bytes(b"y" * 1000)  # changed: hashed again
    fingerprints.check(files, tmp_path / "fp.json", emit=lines.append, progress_from_bytes=4000)
    assert lines[0] == "fingerprinting 4 new or changed input file(s): 0 of 3.91 KiB"
    assert lines[-1].startswith(
        "fingerprinting 4 new or changed input file(s): 3.91 KiB of 3.91 KiB (100 %) in "
    )
