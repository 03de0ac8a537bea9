"""The run's calendar: 16-day periods aligned with the MOD13A2 composites.

MOD13A2 composites start on day-of-year 1, 17, 33, ..., 353 of every year; the last one of a
year is short (13 days, 14 in leap years) because periods never cross 1 January. Periods
of another length (config ``calendar.period_days``) follow the same rule: they restart on
1 January. A period is named by its first day as ``YYYY-DDD`` (e.g. ``2010-097``), the
name used in every per-period file and Snakemake wildcard.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

PERIOD_ID = re.compile(r"^(\d{4})-(\d{3})$")


class CalendarError(ValueError):
    """A date range or period name that cannot be used."""


@dataclass(frozen=True, order=True)
class Period:
    """A run period: ``start``..``end`` inclusive, within one year, first day at a composite start.

    ``start``/``end`` may be clipped to the run's date range, so a period can be shorter than
    its nominal length at the run's edges; ``nominal_start`` keeps the composite it belongs to.
    """

    nominal_start: dt.date
    start: dt.date
    end: dt.date

    @property
    def id(self) -> str:
        return f"{self.nominal_start.year}-{self.nominal_start.timetuple().tm_yday:03d}"

    @property
    def days(self) -> list[dt.date]:
        n = (self.end - self.start).days + 1
        return [self.start + dt.timedelta(days=i) for i in range(n)]

    @property
    def ndays(self) -> int:
        return (self.end - self.start).days + 1

    def __str__(self) -> str:
        return self.id


def _year_starts(year: int, length: int) -> list[dt.date]:
    jan1 = dt.date(year, 1, 1)
    ndays = 366 if _is_leap(year) else 365
    return [jan1 + dt.timedelta(days=d) for d in range(0, ndays, length)]


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def composite_periods(year: int, length: int = 16) -> list[Period]:
    """All periods of one year (23 for 16 days; the last runs to 31 December)."""
    if length < 1 or length > 366:
        raise CalendarError(f"period length must be 1..366 days, got {length}")
    starts = _year_starts(year, length)
    dec31 = dt.date(year, 12, 31)
    ends = [s - dt.timedelta(days=1) for s in starts[1:]] + [dec31]
    return [Period(nominal_start=s, start=s, end=e) for s, e in zip(starts, ends, strict=True)]


def period_of(day: dt.date, length: int = 16) -> Period:
    """The full (unclipped) period holding ``day``."""
    doy = day.timetuple().tm_yday
    index = (doy - 1) // length
    return composite_periods(day.year, length)[index]


def composite_starts(days: list[dt.date]) -> list[dt.date]:
    """First days of the 16-day MOD13A2 composites holding ``days``, in date order."""
    return sorted({period_of(d, 16).nominal_start for d in days})


def periods_between(first: dt.date, last: dt.date, length: int = 16) -> list[Period]:
    """Periods touching ``first``..``last`` (inclusive), clipped to that range."""
    if last < first:
        raise CalendarError(f"the run ends ({last}) before it starts ({first})")
    out: list[Period] = []
    for year in range(first.year, last.year + 1):
        for p in composite_periods(year, length):
            if p.end < first or p.start > last:
                continue
            out.append(
                Period(
                    nominal_start=p.nominal_start, start=max(p.start, first), end=min(p.end, last)
                )
            )
    return out


def parse_period_id(period_id: str, first: dt.date, last: dt.date, length: int = 16) -> Period:
    """The run's period named ``period_id`` (``YYYY-DDD``), clipped to the run's range."""
    if not PERIOD_ID.match(period_id):
        raise CalendarError(f"period name {period_id!r} is not of the form YYYY-DDD")
    for p in periods_between(first, last, length):
        if p.id == period_id:
            return p
    raise CalendarError(
        f"period {period_id} is not a {length}-day period of the run {first}..{last}"
    )


def daterange(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    for i in range((last - first).days + 1):
        yield first + dt.timedelta(days=i)


def modis_date_code(day: dt.date) -> str:
    """MODIS/MCD43 file-name date ``AYYYYDDD``."""
    return f"A{day.year}{day.timetuple().tm_yday:03d}"
