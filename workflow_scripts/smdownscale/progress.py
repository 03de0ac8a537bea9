"""Progress lines for the long rules' logs: items done of total, rate, time left.

A long job (a period's harmonisation, a period's prediction, a fold's MCMC, a download)
otherwise says nothing between its first and last line, and a user cannot tell a slow job
from a stuck one. :class:`Progress` counts what is done and writes one line at a modest
cadence, whichever comes first: every ``step`` of the total (10 % by default) or every
``interval_s`` seconds (30 s), plus a first line with the total and a last line with the
time taken::

    harmonise 2010-097, pass 1 (regrid): 0 of 16 days
    harmonise 2010-097, pass 1 (regrid): 2 of 16 days (12 %), 0.41 days/s, about 34 s left
    ...
    harmonise 2010-097, pass 1 (regrid): 16 of 16 days (100 %) in 39 s, 0.41 days/s

The rate is the mean since the start, so the time left assumes the rest goes as fast as
what is done. The clock is a parameter (tests pass a fake one); the output is any callable
taking one string, usually a logger's ``info``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

__all__ = ["Progress", "format_bytes", "format_count", "format_duration"]

T = TypeVar("T")


def format_duration(seconds: float) -> str:
    """``seconds`` for a reader: "45 s", "3 min 20 s", "2 h 05 min"."""
    if not math.isfinite(seconds):
        return "unknown"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        m, s = divmod(s, 60)
        return f"{m} min {s:02d} s"
    h, rest = divmod(s, 3600)
    return f"{h} h {rest // 60:02d} min"


def format_count(n: float) -> str:
    """A count with thousands separators ("1,234,567")."""
    return f"{n:,.0f}"


def format_bytes(n: float) -> str:
    """A byte count in binary units ("512 B", "3.4 MiB", "1.20 GiB")."""
    if n < 1024:
        return f"{n:.0f} B"
    for unit, scale in (("KiB", 2**10), ("MiB", 2**20), ("GiB", 2**30), ("TiB", 2**40)):
        if n < 1024 * scale or unit == "TiB":
            value = n / scale
            return f"{value:.2f} {unit}" if value < 10 else f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def _format_rate(per_second: float, unit: str, fmt: Callable[[float], str]) -> str:
    """A rate in the time unit that keeps it readable: per second, minute or hour."""
    if fmt is format_bytes:
        return f"{format_bytes(per_second)}/s"
    for scale, name in ((1.0, "s"), (60.0, "min"), (3600.0, "h")):
        r = per_second * scale
        if r >= 1 or name == "h":
            digits = 2 if r < 10 else 1 if r < 100 else 0
            return f"{r:,.{digits}f} {unit}/{name}"
    raise AssertionError("unreachable")


class Progress:
    """Counts work done and logs how far it is, at a modest cadence.

    ``what`` names the work ("predict 2010-097"); ``total`` is the amount to do (None when
    unknown: no percentage and no time left); ``unit`` names what is counted ("days",
    "cell-days", "stations"; "bytes" formats the counts as sizes). ``emit`` receives each
    line. A line is written when the work reaches the next multiple of ``step`` of the
    total, or when ``interval_s`` seconds passed since the last line, and when the work is
    complete (:meth:`advance` reaching the total, or :meth:`finish`). ``start=True`` writes
    a first line with the total at once; ``end=False`` leaves the last line to the caller
    (who has more to say when the work is done).
    """

    def __init__(
        self,
        what: str,
        total: int | float | None,
        emit: Callable[[str], object],
        *,
        unit: str = "items",
        step: float = 0.1,
        interval_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        start: bool = True,
        end: bool = True,
    ) -> None:
        if total is not None and total < 0:
            raise ValueError(f"total must be non-negative, got {total}")
        if not 0 < step <= 1:
            raise ValueError(f"step must be in (0, 1], got {step}")
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        self.what = what
        self.total = total
        self.unit = unit
        self.step = step
        self.interval_s = interval_s
        self._emit = emit
        self._clock = clock
        self._fmt: Callable[[float], str] = format_bytes if unit == "bytes" else format_count
        self.done: float = 0
        self.lines = 0  # lines written
        self._t0 = clock()
        self._last = self._t0
        self._next_step = 1  # the next multiple of step to report
        self._finished = False
        self._end = end
        if start:
            self._write(self._head())

    # ------------------------------------------------------------------ counting

    def advance(self, n: int | float = 1) -> None:
        """``n`` more units done; writes a line when one is due."""
        if self._finished:
            return
        self.done += n
        now = self._clock()
        if self.total is not None and self.done >= self.total:
            self.finish()
            return
        due_time = now - self._last >= self.interval_s
        due_step = False
        if self.total:
            reached = math.floor(self.done / self.total / self.step + 1e-9)  # steps reached
            if reached >= self._next_step:
                due_step = True
                self._next_step = reached + 1
        if due_time or due_step:
            self._last = now
            self._write(self.line(now))

    def finish(self) -> None:
        """The work is complete (or stopped early): write the last line, once."""
        if self._finished:
            return
        self._finished = True
        if self._end:
            self._write(self.line(self._clock(), final=True))

    def iterate(
        self, items: Iterable[T], weight: Callable[[T], float] | None = None
    ) -> Iterator[T]:
        """Yield ``items``, counting each (or its ``weight``) as done once the caller has
        processed it (that is, when the next item is asked for); finishes at the end."""
        for item in items:
            yield item
            self.advance(1 if weight is None else weight(item))
        self.finish()

    # ------------------------------------------------------------------ lines

    @property
    def elapsed_s(self) -> float:
        return self._clock() - self._t0

    def _head(self) -> str:
        if self.total is None:
            return f"{self.what}: started"
        return f"{self.what}: 0 of {self._fmt(self.total)} {self._unit_word()}".rstrip()

    def _unit_word(self) -> str:
        return "" if self.unit == "bytes" else self.unit

    def line(self, now: float | None = None, final: bool = False) -> str:
        """The progress line at clock time ``now`` (default: the clock's current time)."""
        now = self._clock() if now is None else now
        elapsed = max(now - self._t0, 0.0)
        unit = self._unit_word()
        if self.total is None:
            text = f"{self.what}: {self._fmt(self.done)} {unit}".rstrip()
        else:
            text = f"{self.what}: {self._fmt(self.done)} of {self._fmt(self.total)} {unit}"
            text = text.rstrip()
            if self.total > 0:
                text += f" ({math.floor(100 * self.done / self.total)} %)"
        rate = self.done / elapsed if elapsed > 0 else math.nan
        rate_text = (
            _format_rate(rate, unit or "items", self._fmt)
            if math.isfinite(rate) and self.done > 0
            else None
        )
        if final:
            text += f" in {format_duration(elapsed)}"
            return f"{text}, {rate_text}" if rate_text else text
        parts = [text]
        if rate_text:
            parts.append(rate_text)
            if self.total is not None:
                parts.append(f"about {format_duration((self.total - self.done) / rate)} left")
        return ", ".join(parts)

    def _write(self, text: str) -> None:
        self.lines += 1
        self._emit(text)
