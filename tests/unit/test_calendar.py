import datetime as dt

import pytest

from smdownscale.calendar import (
    CalendarError,
    composite_periods,
    parse_period_id,
    period_of,
    periods_between,
)


def test_mod13a2_composite_starts():
    periods = composite_periods(2010)
    starts = [p.nominal_start.timetuple().tm_yday for p in periods]
    assert starts == list(range(1, 366, 16))  # 1, 17, ..., 353
    assert len(periods) == 23
    assert periods[-1].ndays == 13  # 353..365
    assert sum(p.ndays for p in periods) == 365


def test_leap_year_last_period_is_14_days():
    periods = composite_periods(2012)
    assert periods[-1].start == dt.date(2012, 12, 18)  # doy 353 in a leap year
    assert periods[-1].ndays == 14
    assert sum(p.ndays for p in periods) == 366


def test_periods_are_clipped_to_the_run_and_named_by_composite():
    ps = periods_between(dt.date(2010, 4, 10), dt.date(2010, 5, 1))
    assert [p.id for p in ps] == ["2010-097", "2010-113"]
    assert ps[0].start == dt.date(2010, 4, 10) and ps[0].nominal_start == dt.date(2010, 4, 7)
    assert ps[-1].end == dt.date(2010, 5, 1)


def test_periods_do_not_cross_new_year():
    ps = periods_between(dt.date(2010, 12, 20), dt.date(2011, 1, 5))
    assert [p.id for p in ps] == ["2010-353", "2011-001"]


def test_demo_run_has_eight_full_periods():
    ps = periods_between(dt.date(2010, 4, 7), dt.date(2010, 8, 12))
    assert len(ps) == 8 and all(p.ndays == 16 for p in ps)


def test_period_of_and_parse():
    assert period_of(dt.date(2010, 4, 22)).id == "2010-097"
    p = parse_period_id("2010-113", dt.date(2010, 4, 7), dt.date(2010, 8, 12))
    assert p.days[0] == dt.date(2010, 4, 23)
    with pytest.raises(CalendarError, match="not a 16-day period"):
        parse_period_id("2010-100", dt.date(2010, 4, 7), dt.date(2010, 8, 12))
    with pytest.raises(CalendarError, match="ends .* before it starts"):
        periods_between(dt.date(2010, 5, 1), dt.date(2010, 4, 1))


def test_composite_starts_for_other_period_lengths():
    from smdownscale.calendar import composite_starts

    p8 = periods_between(dt.date(2010, 4, 7), dt.date(2010, 4, 30), length=8)
    # 8-day periods: doy 97-104 lies in the composite starting doy 97
    assert composite_starts(p8[0].days) == [dt.date(2010, 4, 7)]
    p32 = periods_between(dt.date(2010, 1, 1), dt.date(2010, 2, 28), length=32)
    # a 32-day period spans two composites (doy 1 and 17)
    assert composite_starts(p32[0].days) == [dt.date(2010, 1, 1), dt.date(2010, 1, 17)]
