"""The benchmark's catalogues (tests/benchmarks/catalogues.py) are those a real run's
catalogue jobs would write; a dry run of a small real configuration lists one download job
per product and period (and one for the SRTM tiles), before the catalogues and after them
(issue 15, item 5)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from smdownscale.config import prepare_config
from smdownscale.download.catalogue import load_catalogue
from smdownscale.download.groups import GroupResult, marker_path, write_marker
from smdownscale.download.manifest import Record
from smdownscale.download.plan import (
    available_files,
    catalogue_candidates,
    catalogue_parts,
    required_files,
    to_fetch,
)
from smdownscale.download.sources import CATALOGUED

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "benchmarks"))

from catalogues import job_counts, planned_downloads, write_catalogues  # noqa: E402

# one MODIS tile (h26v05), two SRTM tiles, three days in one 16-day composite
SMALL = {
    "run": "dagcat",
    "source": "real",
    "region": {"bbox": [110.0, 39.0, 111.25, 39.25]},
    "dates": {"start": "2010-04-07", "end": "2010-04-09"},
    "bma": {"train_end": "2010-04-07"},
    "stations": {"csv": [{"stations": "st.csv", "values": "va.csv"}]},
}


def test_catalogues_list_the_regions_granules_of_their_year_in_the_workflows_format(tmp_path):
    cfg = prepare_config(SMALL)
    raw = tmp_path / "raw"
    paths = write_catalogues(cfg, raw)
    parts = catalogue_parts(required_files(cfg, raw))
    assert sorted(parts) == [("mcd43c3", "2010"), ("mod11a1", "2010"), ("mod13a2", "2010"),
                             ("srtm", "tiles")]  # fmt: skip
    assert sorted(p.relative_to(raw).as_posix() for p in paths) == [
        "catalogue/mcd43c3/2010.json", "catalogue/mod11a1/2010.json",
        "catalogue/mod13a2/2010.json", "catalogue/srtm/tiles.json",
    ]  # fmt: skip
    for key, part in parts:
        product = CATALOGUED[key]
        entries = load_catalogue(raw / f"catalogue/{key}/{part}.json")
        # what make_catalogue keeps of CMR's answer: the whole year, the region's tiles
        assert list(entries) == sorted(catalogue_candidates(cfg, key, part))
        for rel, e in entries.items():
            m = product.provider_name.fullmatch(e.name)
            assert m and product.to_relpath(m) == rel
            assert e.url.startswith("https://") and e.url.endswith("/" + e.name)
            assert 0.6 <= e.size / product.nominal_bytes() <= 1.4
            assert e.parsed_checksum().algorithm == "md5" and len(e.parsed_checksum().value) == 32
    assert len(load_catalogue(raw / "catalogue/mod11a1/2010.json")) == 365  # h26v05 only
    assert len(load_catalogue(raw / "catalogue/mod13a2/2010.json")) == 23

    av = available_files(cfg, raw)
    assert av.missing_catalogues == [] and not any(av.absent.values())
    assert to_fetch(cfg, raw) == required_files(cfg, raw)  # every granule, nothing absent
    assert all(av.sizes[r] for k in CATALOGUED for r in av.files[k])  # sizes known

    gone = "SRTMGL3/N39E111.SRTMGL3.hgt.zip"  # as over open sea
    write_catalogues(cfg, raw, absent={gone})
    av = available_files(cfg, raw)
    assert av.absent["srtm"] == [gone] and av.files["srtm"] == ["SRTMGL3/N39E110.SRTMGL3.hgt.zip"]


def _dry_run(work: Path) -> dict[str, int]:
    exe = Path(sys.executable).with_name("snakemake")
    cmd = [str(exe), "-s", str(REPO / "Snakefile"), "--directory", str(work), "--configfile",
           str(work / "small.yaml"), "-n", "--quiet", "rules"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    return job_counts(res.stdout)


def test_dry_run_has_one_download_job_per_product_and_period(tmp_path):
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(SMALL))
    (tmp_path / "st.csv").write_text("network,station\n")
    (tmp_path / "va.csv").write_text("network,station,time,sm\n")
    before = _dry_run(tmp_path)
    assert before["download_catalogue"] == 1 and before["download_catalogue_srtm"] == 1
    # ESA CCI, MOD11A1, MOD13A2, MCD43C3 and IMERG of the one period; the SRTM tiles
    assert before["download_group"] == 6
    assert not any(k.startswith("download_") and k not in (
        "download_catalogue", "download_catalogue_srtm", "download_group", "download_manifest"
    ) for k in before)  # fmt: skip

    cfg = prepare_config(SMALL)
    write_catalogues(cfg, tmp_path / "results" / "dagcat" / "raw")
    after = _dry_run(tmp_path)
    assert "download_catalogue" not in after and "download_catalogue_srtm" not in after
    assert after["download_group"] == 6  # the same jobs: the DAG no longer waits on them
    assert after["total"] == before["total"] - 2


def test_a_period_group_fetches_its_own_granules_and_composites_once(tmp_path):
    """Two periods share a MOD13A2 composite: the earlier period's group fetches it, and
    the later period's index reads it through that group's marker."""
    cfg = {**SMALL, "dates": {"start": "2010-04-07", "end": "2010-05-10", "period_days": 8},
           "bma": {"train_end": "2010-04-30"}}  # fmt: skip
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "st.csv").write_text("network,station\n")
    (tmp_path / "va.csv").write_text("network,station,time,sm\n")
    exe = Path(sys.executable).with_name("snakemake")
    cmd = [str(exe), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(tmp_path / "small.yaml"), "-n"]  # fmt: skip

    def groups(*targets: str) -> list[str]:
        res = subprocess.run([*cmd, *targets], capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-3000:]
        return planned_downloads(res.stdout)

    # periods of 8 days from day 097: 097, 105, 113, 121, 129; composites 097, 113, 129
    every = groups("download_manifest")
    assert [g for g in every if g.startswith("mod13a2/")] == [
        "mod13a2/2010-097.tsv", "mod13a2/2010-113.tsv", "mod13a2/2010-129.tsv"
    ]  # fmt: skip
    assert len(every) == 4 * 5 + 3 + 1  # four daily products x 5 periods, composites, SRTM
    # the second period reads the composite 097 through the first period's group
    assert groups("results/dagcat/raw_index/2010-105.tsv") == [
        "esa_cci/2010-105.tsv", "imerg/2010-105.tsv", "mcd43c3/2010-105.tsv",
        "mod11a1/2010-105.tsv", "mod13a2/2010-097.tsv",
    ]  # fmt: skip


def test_a_marker_that_no_longer_matches_its_group_is_remade(tmp_path):
    """Markers of a finished download, then one more day inside the same period: the
    groups of the daily products must fetch it (their markers no longer list every
    granule); the composite's and the SRTM tiles' groups stay as they are."""
    cfg = prepare_config(SMALL)
    raw = tmp_path / "results" / "dagcat" / "raw"
    run = tmp_path / "results" / "dagcat"
    (tmp_path / "st.csv").write_text("network,station\n")
    (tmp_path / "va.csv").write_text("network,station,time,sm\n")
    for key, rels in required_files(cfg).items():
        for rel in rels:
            (raw / rel).parent.mkdir(parents=True, exist_ok=True)
            (raw / rel).touch()
        part = "static" if key == "srtm" else "2010-097"
        records = [Record(rel, "download", "", 0, "", "", "", 0, 0) for rel in rels]
        write_marker(marker_path(run, key, part), GroupResult(records, []))
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(SMALL))
    exe = Path(sys.executable).with_name("snakemake")
    cmd = [str(exe), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(tmp_path / "small.yaml"), "-n"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert planned_downloads(res.stdout) == [] and "no longer matches" not in res.stdout

    longer = {**SMALL, "dates": {"start": "2010-04-07", "end": "2010-04-10"}}
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(longer))
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert planned_downloads(res.stdout) == [
        "esa_cci/2010-097.tsv", "imerg/2010-097.tsv", "mcd43c3/2010-097.tsv",
        "mod11a1/2010-097.tsv",
    ]  # fmt: skip
    assert (res.stdout + res.stderr).count("no longer matches its download group") == 4
    assert (run / "fetched" / "mod13a2" / "2010-097.tsv").is_file()


@pytest.mark.parametrize("quiet", [True, False])
def test_job_counts_reads_the_first_job_stats_table(quiet):
    head = "" if quiet else "rule a:\n    output: x\n\n"
    table = (
        "Job stats:\njob      count\n-----  -------\n"
        "foo          3\nall          1\ntotal        4\n"
    )
    assert job_counts(head + table + "\n" + table.replace("3", "9")) == {
        "foo": 3, "all": 1, "total": 4
    }  # fmt: skip
