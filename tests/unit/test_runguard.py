"""The previous good outputs survive an interrupted rerun (issue 13, item 9)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from smdownscale import runguard


def make_run(tmp_path: Path) -> Path:
    run = tmp_path / "results" / "demo"
    for rel, text in {
        "product/sm_1km_2010-097.nc": "old product",
        "validation/table4.csv": "old table",
        "report.html": "old report",
        "raw/esa_cci/x.nc": "input",
        "logs/a.log": "log",
        "product/.sm_1km_2010-113.nc.part": "scratch",
        "fine/.predictors_2010-097.nc.scratch/lst.dat": "scratch cube",
    }.items():
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_text(text)
    return run


def test_guarded_files_leave_inputs_logs_and_scratch_alone(tmp_path):
    run = make_run(tmp_path)
    assert sorted(map(str, runguard.guarded_files(run))) == [
        "product/sm_1km_2010-097.nc",
        "report.html",
        "validation/table4.csv",
    ]


def test_an_interrupted_rerun_gets_its_deleted_outputs_back(tmp_path):
    run = make_run(tmp_path)
    warnings, notes = runguard.start(run)
    assert warnings == [] and "3 file(s) linked" in notes[-1]
    assert "removed 2 partial file(s)" in notes[0]
    assert not (run / "product/.sm_1km_2010-113.nc.part").exists()
    assert not (run / "fine/.predictors_2010-097.nc.scratch").exists()
    # the rerun: Snakemake deletes the outputs of the jobs it runs, one job finishes
    (run / "product/sm_1km_2010-097.nc").unlink()
    (run / "validation/table4.csv").unlink()
    (run / "validation/table4.csv").write_text("new table")  # a new file, not in place
    (run / "report.html").unlink()  # deleted, then the run is interrupted
    message = runguard.finish(run, success=False)
    assert "restored 2 output file(s)" in message
    assert (run / "product/sm_1km_2010-097.nc").read_text() == "old product"
    assert (run / "report.html").read_text() == "old report"
    assert (run / "validation/table4.csv").read_text() == "new table"  # the new one stays
    assert not (run / runguard.SNAPSHOT).exists()


def test_a_killed_run_is_repaired_by_the_next_start(tmp_path):
    run = make_run(tmp_path)
    runguard.start(run)
    (run / "product/sm_1km_2010-097.nc").unlink()  # then SIGKILL: no hook runs
    warnings, _ = runguard.start(run)
    assert len(warnings) == 1 and "a previous run was killed: restored 1" in warnings[0]
    assert (run / "product/sm_1km_2010-097.nc").read_text() == "old product"
    # the new snapshot holds the restored file
    assert (run / runguard.SNAPSHOT / "product/sm_1km_2010-097.nc").exists()


def test_a_successful_run_drops_the_snapshot_and_restores_nothing(tmp_path):
    run = make_run(tmp_path)
    runguard.start(run)
    (run / "report.html").unlink()  # a successful run may remove an output it no longer makes
    assert runguard.finish(run, success=True) is None
    assert not (run / "report.html").exists()
    assert not (run / runguard.SNAPSHOT).exists()


def test_the_snapshot_shares_the_files_instead_of_copying(tmp_path):
    run = make_run(tmp_path)
    runguard.start(run)
    original = run / "product/sm_1km_2010-097.nc"
    linked = run / runguard.SNAPSHOT / "product/sm_1km_2010-097.nc"
    assert original.stat().st_ino == linked.stat().st_ino


def test_a_missing_run_folder_is_no_error(tmp_path):
    warnings, notes = runguard.start(tmp_path / "nothing")
    assert warnings == [] and "0 file(s) linked" in notes[-1]
    assert runguard.finish(tmp_path / "nothing", success=False) is None


def test_stale_locks_of_a_dead_run_are_released_and_live_ones_kept(tmp_path):
    locks = tmp_path / runguard.LOCKS
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("x")
    (locks / "0.output.lock").write_text("y")
    # no owner record: cannot tell, the locks stay (Snakemake then says --unlock)
    assert runguard.release_stale_locks(tmp_path) is None
    runguard.claim(tmp_path)  # this process: alive
    assert runguard.release_stale_locks(tmp_path) is None
    assert len(list(locks.glob("*.lock"))) == 2
    dead = subprocess.Popen(["true"])
    dead.wait()
    runguard.claim(tmp_path, pid=dead.pid)
    message = runguard.release_stale_locks(tmp_path)
    assert "removed 2 stale Snakemake lock(s) left by a killed run" in message
    assert not list(locks.glob("*.lock")) and not (tmp_path / runguard.OWNER).exists()


def test_repair_after_kill_restores_only_when_no_run_holds_locks(tmp_path):
    run = make_run(tmp_path)
    runguard.start(run)
    (run / "report.html").unlink()
    locks = tmp_path / runguard.LOCKS
    locks.mkdir(parents=True)
    (locks / "0.output.lock").write_text("x")
    runguard.claim(tmp_path)  # a live run holds the directory
    assert runguard.repair_after_kill(tmp_path, run) == []
    assert not (run / "report.html").exists()
    (locks / "0.output.lock").unlink()
    assert "restored 1 output file(s)" in runguard.repair_after_kill(tmp_path, run)[0]
    assert (run / "report.html").read_text() == "old report"
