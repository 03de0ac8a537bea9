"""Download groups (smdownscale.download.groups): one job per product and period that
fetches what its catalogue lists, keeps going past a failed file, and writes a marker."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from smdownscale.download.catalogue import Entry
from smdownscale.download.errors import AuthError, NotFoundError
from smdownscale.download.groups import (
    GroupResult,
    fetch_group,
    marker_path,
    present_paths,
    read_marker,
    refresh_markers,
    write_marker,
)
from smdownscale.download.manifest import Record
from smdownscale.download.sources import CATALOGUED

LOG = logging.getLogger("test")
TILE = "MOD11A1/2010/MOD11A1.A2010{doy:03d}.h26v05.061.hdf"
RELS = [TILE.format(doy=d) for d in (97, 98, 99)]


def _record(rel: str, size: int = 10, sha: str = "ab") -> Record:
    return Record(rel, "download", "u", size, sha, "", "t", 1, 0)


@pytest.fixture
def catalogue(tmp_path) -> Path:
    """A MOD11A1 2010 catalogue that lists days 097 and 099, not 098 (an outage)."""
    from smdownscale.download.catalogue import write_catalogue

    path = tmp_path / "catalogue" / "mod11a1" / "2010.json"
    entries = {r: Entry(Path(r).name, "https://x/" + Path(r).name, 10, None)
               for r in (RELS[0], RELS[2])}  # fmt: skip
    write_catalogue(path, CATALOGUED["mod11a1"], "2010", [], entries)
    return path


def test_a_group_fetches_what_its_catalogue_lists_and_marks_the_rest_absent(tmp_path, catalogue):
    asked = []

    def ensure(rel, cfg, raw, *, catalogue, logger):
        asked.append((rel, catalogue))
        return _record(rel)

    result = fetch_group(RELS, {}, tmp_path, {"2010": catalogue}, ensure, logger=LOG)
    assert [r for r, _ in asked] == [RELS[0], RELS[2]]
    assert all(c == str(catalogue) for _, c in asked)
    assert result.absent == [RELS[1]] and [r.path for r in result.present] == [RELS[0], RELS[2]]

    marker = write_marker(marker_path(tmp_path, "mod11a1", "2010-097"), result)
    assert marker == tmp_path / "fetched" / "mod11a1" / "2010-097.tsv"
    assert read_marker(marker) == {RELS[0]: "present", RELS[1]: "absent", RELS[2]: "present"}
    raw = tmp_path / "raw"
    other = "/archive/ESACCI-x.nc"
    assert present_paths([other, str(marker)], raw) == [
        other, str(raw / RELS[0]), str(raw / RELS[2])
    ]  # fmt: skip
    # a period that reads only some of the group's granules (a shared composite)
    assert present_paths([marker], raw, wanted={RELS[2], RELS[1]}) == [str(raw / RELS[2])]


def test_a_failed_file_fails_the_group_after_every_other_file_was_tried(tmp_path):
    rels = [f"esa_cci/2010/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-201004{d:02d}000000-fv08.1.nc"
            for d in (7, 8, 9)]  # fmt: skip
    asked = []

    def ensure(rel, cfg, raw, *, catalogue, logger):
        asked.append(rel)
        if rel == rels[1]:
            raise NotFoundError("HTTP 404")
        return _record(rel)

    with pytest.raises(Exception) as err:
        fetch_group(rels, {}, tmp_path, {}, ensure, logger=LOG)
    assert asked == rels  # the third file was fetched after the second failed
    msg = str(err.value)
    assert "1 of 3 file(s) could not be fetched" in msg and rels[1] in msg and "404" in msg
    assert "The 2 in place are kept" in msg


def test_a_group_runs_its_transfers_side_by_side_and_keeps_their_order(tmp_path):
    import threading
    import time

    rels = [f"IMERG/2010/3B-DAY.MS.MRG.3IMERG.201004{d:02d}-S000000-E235959.V07B.nc4"
            for d in range(1, 9)]  # fmt: skip
    lock, running, most = threading.Lock(), [0], [0]

    def ensure(rel, cfg, raw, *, catalogue, logger):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05 if rel != rels[0] else 0.2)  # the first file finishes last
        with lock:
            running[0] -= 1
        if rel == rels[3]:
            raise NotFoundError("HTTP 404")
        return _record(rel)

    with pytest.raises(Exception, match="1 of 8 file"):
        fetch_group(rels, {}, tmp_path, {}, ensure, logger=LOG, workers=3)
    assert most[0] == 3  # three at a time, never more
    most[0] = 0
    result = fetch_group(rels[4:], {}, tmp_path, {}, ensure, logger=LOG, workers=2)
    assert [r.path for r in result.present] == rels[4:] and most[0] == 2


def test_refused_credentials_stop_the_group_at_once(tmp_path, catalogue):
    asked = []

    def ensure(rel, cfg, raw, *, catalogue, logger):
        asked.append(rel)
        raise AuthError("the provider refused the credentials")

    with pytest.raises(AuthError):
        fetch_group(RELS, {}, tmp_path, {"2010": catalogue}, ensure, logger=LOG)
    assert asked == [RELS[0]]


def test_a_changed_file_rewrites_the_rows_of_the_markers_that_list_it(tmp_path):
    raw = tmp_path / "raw"
    for rel in RELS:
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        (raw / rel).write_bytes(b"x" * 10)
    first = write_marker(marker_path(tmp_path, "mod11a1", "2010-097"),
                         GroupResult([_record(RELS[0]), _record(RELS[1])], []))  # fmt: skip
    other = write_marker(marker_path(tmp_path, "mod11a1", "2010-113"),
                         GroupResult([_record(RELS[2])], []))  # fmt: skip
    untouched = other.read_text()
    (raw / RELS[1]).write_bytes(b"y" * 12)
    digests = {
        str(raw / RELS[0]): "ab",  # hashed (e.g. seen for the first time), unchanged
        str(raw / RELS[1]): "cd",  # changed
        str(tmp_path / "elsewhere" / "x.nc"): "ef",  # not under the raw folder
    }
    done = refresh_markers(tmp_path / "fetched", raw, digests)
    assert done == [first]
    lines = first.read_text().splitlines()
    assert lines[1] == f"{RELS[0]}\tpresent\t10\tab"  # the other row as it was
    assert lines[2] == f"{RELS[1]}\tpresent\t12\tcd"
    assert other.read_text() == untouched
    assert refresh_markers(tmp_path / "fetched", raw, digests) == []  # nothing left to do
    assert refresh_markers(tmp_path / "fetched", raw, {}) == []


def test_a_full_disk_stops_the_group_at_once(tmp_path):
    from smdownscale.atomic import DiskFullError

    asked = []

    def ensure(rel, cfg, raw, *, catalogue, logger):
        asked.append(rel)
        raise DiskFullError("no space left for it")

    rels = [f"IMERG/2010/3B-DAY.MS.MRG.3IMERG.201004{d:02d}-S000000-E235959.V07B.nc4"
            for d in (7, 8)]  # fmt: skip
    with pytest.raises(DiskFullError):
        fetch_group(rels, {}, tmp_path, {}, ensure, logger=LOG)
    assert asked == rels[:1]


def test_a_file_that_is_not_a_marker_is_refused(tmp_path):
    path = tmp_path / "fetched" / "imerg" / "2010-097.tsv"
    path.parent.mkdir(parents=True)
    path.write_text("product\tday\n")
    with pytest.raises(ValueError, match="is not a download marker"):
        read_marker(path)


def test_a_part_reads_the_granules_of_its_days_and_composites_and_the_static_tiles():
    from smdownscale.config import prepare_config
    from smdownscale.rawindex import part_relpaths

    cfg = prepare_config({
        "run": "part", "source": "real", "region": {"bbox": [110.0, 39.0, 111.25, 39.25]},
        "dates": {"start": "2010-04-07", "end": "2010-05-10", "period_days": 8},
        "bma": {"train_end": "2010-04-30"},
        "stations": {"csv": [{"stations": "st.csv", "values": "va.csv"}]},
    })  # fmt: skip
    second = part_relpaths(cfg, "2010-105")  # days 105-112, in the composite 097
    assert "MOD13A2/2010/MOD13A2.A2010097.h26v05.061.hdf" in second
    assert TILE.format(doy=105) in second and TILE.format(doy=104) not in second
    assert len(second) == 8 * 4 + 1  # ESA CCI, MOD11A1, MCD43C3, IMERG a day; a composite
    assert part_relpaths(cfg, "static") == {
        "SRTMGL3/N39E110.SRTMGL3.hgt.zip", "SRTMGL3/N39E111.SRTMGL3.hgt.zip"
    }  # fmt: skip
