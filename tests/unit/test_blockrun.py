"""Blocks of a job's work through dask (smdownscale.blockrun)."""

import os
import threading
import time

import netCDF4
import numpy as np
import pytest

from smdownscale.blockrun import BlockRunner, BlockRunnerError, close_cached, open_cached


def scaled(item, factor):
    """A task: module level, so dask.distributed workers can unpickle it."""
    time.sleep(0.01 * (item % 3))  # finish out of order
    return np.full(3, item * factor["k"])


def failing(item, _):
    if item == 4:
        raise ValueError(f"block {item}: corrupt input")
    return item


@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_results_come_back_in_order_with_the_shared_object(scheduler):
    runner = BlockRunner(scheduler, in_flight=3)
    got = list(runner.map(scaled, range(10), {"k": 2.5}))
    assert [item for item, _ in got] == list(range(10))
    for item, value in got:
        np.testing.assert_array_equal(value, np.full(3, item * 2.5))


def test_no_more_than_in_flight_tasks_are_started_before_a_result_is_taken():
    started, running, peak = [], [0], [0]
    lock = threading.Lock()

    def task(item, _):
        with lock:
            started.append(item)
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return item

    runner = BlockRunner("threads", in_flight=2)
    results = runner.map(task, range(9), None)
    assert next(results) == (0, 0)
    assert len(started) == 2  # the generator holds at most one batch
    assert [i for i, _ in results] == list(range(1, 9))
    assert peak[0] == 2  # two ran side by side, never more


def test_a_failing_task_raises_its_own_error():
    with pytest.raises(ValueError, match="block 4: corrupt input"):
        list(BlockRunner("threads", in_flight=2).map(failing, range(8), None))


def test_settings_that_cannot_work_are_refused_with_the_key_named():
    with pytest.raises(BlockRunnerError, match="resources.dask.scheduler must be one of"):
        BlockRunner("processes")
    with pytest.raises(BlockRunnerError, match="blocks_in_flight must be >= 1"):
        BlockRunner("threads", in_flight=0)
    with pytest.raises(BlockRunnerError, match="only used with scheduler 'distributed'"):
        BlockRunner("threads", address="tcp://127.0.0.1:8786")
    runner = BlockRunner.from_config({"resources": {"dask": {"scheduler": "synchronous"}}})
    assert runner == BlockRunner("synchronous", None, 2)
    assert BlockRunner("threads", in_flight=2).task_threads(4) == 2
    assert BlockRunner("synchronous", in_flight=2).task_threads(4) == 4


def test_a_missing_scheduler_file_is_named(tmp_path):
    pytest.importorskip("distributed")
    missing = tmp_path / "scheduler.json"
    runner = BlockRunner("distributed", address=str(missing))
    with pytest.raises(BlockRunnerError, match="no scheduler file .*scheduler.json"):
        list(runner.map(scaled, range(2), {"k": 1}))


def test_a_local_distributed_cluster_gives_the_same_results_in_order():
    pytest.importorskip("distributed")
    runner = BlockRunner("distributed", in_flight=2)
    got = list(runner.map(scaled, range(7), {"k": 3.0}))
    assert [item for item, _ in got] == list(range(7))
    for item, value in got:
        np.testing.assert_array_equal(value, np.full(3, item * 3.0))


def test_open_datasets_are_shared_and_reopened_when_the_file_changes(tmp_path):
    path = tmp_path / "a.nc"

    def write(value):  # as the workflow replaces a file: written aside, then renamed
        tmp = tmp_path / "tmp.nc"
        with netCDF4.Dataset(tmp, "w") as nc:
            nc.createDimension("x", 2)
            nc.createVariable("v", "f4", ("x",))[:] = value
        os.replace(tmp, path)

    write(1.0)
    first = open_cached(path)
    assert open_cached(path) is first
    assert float(first["v"][0]) == 1.0
    write(2.0)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a later mtime for sure
    second = open_cached(path)
    assert second is not first and float(second["v"][0]) == 2.0
    close_cached()
    assert not second.isopen()
