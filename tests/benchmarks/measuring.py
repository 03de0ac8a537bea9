"""Measuring helpers shared by the benchmark scripts: wall and CPU time, peak memory.

Memory is the rise of the process's peak RSS (VmHWM, reset through /proc/self/clear_refs;
sampled with psutil where that is not possible) and the peak of numpy/Python allocations
(tracemalloc). :func:`honest_malloc` makes glibc return freed memory, so peaks show
working memory rather than what an earlier step left in the allocator.
"""

from __future__ import annotations

import ctypes
import os
import resource
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import psutil


def cpu_seconds() -> tuple[float, float]:
    """(CPU seconds all processes have used, CPU seconds this process has used)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    ticks = os.sysconf("SC_CLK_TCK")
    busy = sum(int(v) for v in fields[:3]) + sum(int(v) for v in fields[5:8])
    t = os.times()
    return busy / ticks, t.user + t.system


def honest_malloc() -> None:
    """Make glibc return freed blocks to the system, so RSS peaks show working memory.

    By default glibc raises its mmap threshold after large frees and keeps freed heap, so a
    step reusing memory freed by an earlier step would look free.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 17)  # M_MMAP_THRESHOLD: fixed 128 KiB (no dynamic raise)
        libc.mallopt(-1, 1 << 17)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def rss_kib() -> int:
    return psutil.Process().memory_info().rss // 1024


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(fn: Callable[[], Any], trace: bool = True) -> tuple[dict[str, float], Any]:
    """Figures of one call ``fn()``, and its result: wall seconds ``s``, ``cpu`` (CPU time /
    wall: the threads actually used), ``mib`` (rise of peak RSS: all allocations, but freed
    memory the allocator kept is not seen) and ``traced`` (peak of Python and numpy
    allocations by tracemalloc: exact for arrays, blind to libraries' C++ allocations), MiB."""
    before = rss_kib()
    sampled = [before]
    stop = threading.Event()
    exact = _reset_peak()
    sampler = None
    if not exact:  # fall back to sampling RSS every 5 ms

        def sample() -> None:
            while not stop.is_set():
                sampled.append(rss_kib())
                stop.wait(0.005)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    if trace:
        tracemalloc.start()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    value = fn()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else float("nan")
    if trace:
        tracemalloc.stop()
    stop.set()
    if sampler is not None:
        sampler.join()
    peak = _peak_kib() if exact else max(sampled)
    stats = {
        "s": wall,
        "cpu": cpu / wall if wall > 0 else 0.0,
        "mib": (peak - before) / 1024,
        "traced": traced,
        "process_mib": peak / 1024,
    }
    return stats, value


def best_of(k: int, fn: Callable[[], Any]) -> tuple[dict[str, float], Any]:
    """:func:`measure` ``k`` times; the fastest run's figures (other jobs share this machine)
    and the largest memory figures."""
    runs = [measure(fn) for _ in range(max(1, k))]
    stats = dict(min(runs, key=lambda r: r[0]["s"])[0])
    stats["mib"] = max(r[0]["mib"] for r in runs)
    stats["traced"] = max(r[0]["traced"] for r in runs)
    stats["process_mib"] = max(r[0]["process_mib"] for r in runs)
    return stats, runs[-1][1]
