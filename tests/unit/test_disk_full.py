"""A full disk gives one message naming the file and the space, and no partial file
(issue 13, item 10)."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from smdownscale import atomic
from smdownscale.atomic import DiskFullError, atomic_path, disk_full_error
from smdownscale.grid import LatLonGrid
from smdownscale.netcdf import write_dataset


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (needs root and mount); skipped with the reason elsewhere."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill ({res.stderr.strip() or 'not root'})")
    yield mnt
    subprocess.run(
        ["umount", "-l", str(mnt)], check=False
    )  # lazy: a failed writer may hold a handle


def big_dataset(grid: LatLonGrid) -> xr.Dataset:
    rng = np.random.default_rng(0)  # noise does not compress: about 4 MB
    data = rng.random((16, *grid.shape)).astype(np.float32)
    times = np.arange("2010-04-07", "2010-04-23", dtype="datetime64[D]").astype("datetime64[ns]")
    return xr.Dataset({"sm": (("time", "lat", "lon"), data)}, coords={"time": times})


def test_a_netcdf_product_on_a_full_disk(small_disk):
    grid = LatLonGrid(west=110.0, south=39.0, east=112.0, north=41.0, res=0.01)
    target = small_disk / "product" / "sm_1km_2010-097.nc"
    with pytest.raises(DiskFullError) as info:
        write_dataset(big_dataset(grid), target, grid)
    message = str(info.value)
    assert f"no space left on the disk holding {target}" in message
    assert "MiB is free there" in message and "the partial file was removed" in message
    assert "Free space on that disk" in message
    assert list(small_disk.rglob("*.nc*")) == []  # nothing partial, nothing finished


def test_plain_enospc_is_named_with_the_previous_size(tmp_path):
    target = tmp_path / "table.csv"
    target.write_bytes(b"x" * 3 * 2**20)  # the previous version: 3 MiB
    with pytest.raises(DiskFullError, match=r"needs about 3.0 MiB \(the size of its previous"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"y" * 100)
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_bytes() == b"x" * 3 * 2**20  # the previous file is untouched
    assert not atomic.partial_name(target).exists()


def test_a_vague_library_error_is_a_full_disk_only_when_space_is_low(tmp_path, monkeypatch):
    target = tmp_path / "a.nc"
    err = RuntimeError("NetCDF: HDF error")
    assert disk_full_error(err, target, atomic.partial_name(target)) is None  # plenty free

    class Usage:
        free = 10 * 2**20

    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda p: Usage)
    full = disk_full_error(err, target, atomic.partial_name(target))
    assert isinstance(full, DiskFullError) and "10.0 MiB is free" in str(full)
    # other errors pass through atomic_path unchanged, and leave no partial file either
    with pytest.raises(ValueError, match="a bug"):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise ValueError("a bug")
    assert not os.path.exists(atomic.partial_name(target))


def test_a_rule_script_logs_one_line_for_a_full_disk(tmp_path, monkeypatch):
    import logging
    import sys

    from smdownscale import rule_io

    class Snakemake:
        log = [str(tmp_path / "rule.log")]
        rule = "bma_product"

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))  # restored after the test
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    rule_io.setup_logging(Snakemake())
    exc = DiskFullError(errno.ENOSPC, f"no space left on the disk holding {tmp_path}/x.nc: ...")
    sys.excepthook(DiskFullError, exc, None)
    for h in root.handlers:
        h.flush()
    text = Path(Snakemake.log[0]).read_text()
    assert "ERROR bma_product: no space left on the disk holding" in text
    assert "Traceback" not in text
