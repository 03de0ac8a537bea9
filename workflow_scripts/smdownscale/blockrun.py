"""A job's blocks of work through dask: threads on a workstation, a cluster for big regions.

The rules that hold the fine grid work through pieces of it: harmonisation a block of rows
and columns of one day at a time, member prediction a block of rows and columns (every day
of the period) at a time. Each piece is
a task: a function of its block that opens its inputs, computes and returns arrays. A
:class:`BlockRunner` runs the tasks through dask and hands their results back **in block
order** to the job, which writes them; at most ``in_flight`` tasks are computed or waiting
to be written at any time, so memory is bounded by the block, not by the region.

Schedulers (``resources.dask.scheduler``):

* ``threads`` (default): dask's threaded scheduler in the job's process, ``in_flight``
  blocks at once. Reading one block overlaps computing another; the members' compiled
  predict and zlib release the GIL.
* ``synchronous``: one block after another in the job's thread (debugging, profiling).
* ``distributed``: a ``dask.distributed`` cluster: the one at ``resources.dask.address``
  (``tcp://host:8786``, or the path of a scheduler file, e.g. written by a dask-jobqueue
  SLURMCluster or ``dask scheduler --scheduler-file``), or without an address a local
  cluster of ``in_flight`` worker processes. Tasks run in the workers, which read their
  blocks' inputs from the (shared) file system themselves; large objects every task needs
  (the fitted models) are sent to each worker once. The job's own process gathers the
  results in order and writes them.

netCDF-C, HDF5 and HDF4 (under netCDF4, h5py and pyhdf) are not thread-safe, and netCDF4
releases the GIL in its C calls: every read in a task holds :data:`FILE_LOCK`; the job
writes between batches, when no task of its process runs. Open datasets are cached per
process (:func:`open_cached`), so a chunk that several blocks read is decompressed once,
as when the job kept its files open.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import dask
import netCDF4

#: Held around every netCDF4 / h5py / pyhdf call of the tasks of a job (module docstring).
FILE_LOCK = threading.RLock()

SCHEDULERS = ("threads", "synchronous", "distributed")

T = TypeVar("T")
R = TypeVar("R")


class BlockRunnerError(ValueError):
    """A dask setting that cannot be used, naming it and what to do."""


@dataclass(frozen=True)
class BlockRunner:
    """Runs a job's block tasks through dask (module docstring)."""

    scheduler: str = "threads"
    address: str | None = None
    in_flight: int = 2

    def __post_init__(self) -> None:
        if self.scheduler not in SCHEDULERS:
            raise BlockRunnerError(
                f"resources.dask.scheduler must be one of {list(SCHEDULERS)}, "
                f"got {self.scheduler!r}"
            )
        if self.in_flight < 1:
            raise BlockRunnerError(
                f"resources.dask.blocks_in_flight must be >= 1, got {self.in_flight}"
            )
        if self.address and self.scheduler != "distributed":
            raise BlockRunnerError(
                f"resources.dask.address ({self.address}) is only used with scheduler "
                f"'distributed', not {self.scheduler!r}: set one or remove the other"
            )

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> BlockRunner:
        d = cfg.get("resources", {}).get("dask", {})
        return cls(
            scheduler=str(d.get("scheduler", "threads")),
            address=d.get("address") or None,
            in_flight=int(d.get("blocks_in_flight", 2)),
        )

    def describe(self) -> str:
        if self.scheduler == "distributed":
            where = self.address or f"a local cluster of {self.in_flight} worker processes"
            return f"dask.distributed ({where}), {self.in_flight} block(s) in flight"
        return f"dask {self.scheduler} scheduler, {self.in_flight} block(s) in flight"

    def task_threads(self, threads: int) -> int:
        """Threads each task may use inside itself so that the tasks running at once in
        this process share the job's ``threads`` (1 task at a time when synchronous)."""
        if self.scheduler == "threads":
            return max(1, threads // self.in_flight)
        return max(1, threads)

    def map(self, fn: Callable[..., R], items: Iterable[T], *shared: Any) -> Iterator[tuple[T, R]]:
        """``(item, fn(item, *shared))`` for every item, in the items' order.

        ``shared`` are passed to every task unchanged (threads) or sent to every worker
        once (distributed). An exception in a task is raised here, after the tasks already
        submitted have ended; results not yet yielded are dropped."""
        if self.scheduler == "distributed":
            yield from self._map_distributed(fn, items, shared)
            return
        batch: list[T] = []
        for item in items:
            batch.append(item)
            if len(batch) == self.in_flight:
                yield from self._compute_batch(fn, batch, shared)
                batch = []
        if batch:
            yield from self._compute_batch(fn, batch, shared)

    def _compute_batch(
        self, fn: Callable[..., R], batch: list[T], shared: tuple[Any, ...]
    ) -> Iterator[tuple[T, R]]:
        task = dask.delayed(fn, pure=False, traverse=False)
        tasks = [task(item, *shared) for item in batch]
        results = dask.compute(*tasks, scheduler=self.scheduler, num_workers=self.in_flight)
        yield from zip(batch, results, strict=True)

    def _map_distributed(
        self, fn: Callable[..., R], items: Iterable[T], shared: tuple[Any, ...]
    ) -> Iterator[tuple[T, R]]:
        client, cluster = self._client()
        try:
            remote = [client.scatter([s], broadcast=True, hash=False)[0] for s in shared]
            pending: deque = deque()
            for item in items:
                pending.append((item, client.submit(fn, item, *remote, pure=False)))
                if len(pending) >= self.in_flight:
                    first, future = pending.popleft()
                    yield first, future.result()
            while pending:
                first, future = pending.popleft()
                yield first, future.result()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    def _client(self):
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - distributed is in the lock
            raise BlockRunnerError(
                "resources.dask.scheduler is 'distributed' but the dask.distributed package "
                "is not installed: install the environment's pinned 'distributed'"
            ) from exc
        if not self.address:
            cluster = LocalCluster(
                n_workers=self.in_flight,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            return Client(cluster), cluster
        if self.address.endswith(".json") or Path(self.address).is_file():
            if not Path(self.address).is_file():
                raise BlockRunnerError(
                    f"resources.dask.address: no scheduler file {self.address} (start the "
                    "cluster first, or give its tcp:// address)"
                )
            return Client(scheduler_file=self.address, timeout="60s"), None
        return Client(self.address, timeout="60s"), None


# ------------------------------------------------------------------------- open datasets

_OPEN: OrderedDict[tuple[str, float], netCDF4.Dataset] = OrderedDict()
MAX_OPEN = 16


def open_cached(path: str | Path) -> netCDF4.Dataset:
    """A netCDF4 dataset open for reading, shared by the tasks of this process (the last
    :data:`MAX_OPEN` kept open; a file rewritten since is opened again). Call with
    :data:`FILE_LOCK` held."""
    p = Path(path)
    key = (str(p.resolve()), p.stat().st_mtime)
    nc = _OPEN.get(key)
    if nc is None:
        nc = netCDF4.Dataset(str(p))
        _OPEN[key] = nc
        while len(_OPEN) > MAX_OPEN:
            _, old = _OPEN.popitem(last=False)
            old.close()
    _OPEN.move_to_end(key)
    return nc


def close_cached() -> None:
    """Close every dataset :func:`open_cached` holds in this process (at a job's end)."""
    with FILE_LOCK:
        while _OPEN:
            _, nc = _OPEN.popitem()
            nc.close()
